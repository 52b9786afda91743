//! The user guides: how to choose a regularizer, use it in a training loop, in a
//! framework and across machines, what accuracy to expect, and how to test
//! uniformity.
//!
//! - [`choosing`]: the objectives, their paper defaults and loss scales, and the
//!   weight `lambda`;
//! - [`training_loops`]: gradient buffers, checkpoints, trait objects, threads and
//!   errors;
//! - [`frameworks`]: candle, burn (host and device paths) and the Python package;
//! - [`distributed`]: the shard protocol, MPI, and gradients under data-parallel
//!   training;
//! - [`numerics`]: accuracy guarantees, `f32` input, what the tests check, and
//!   determinism;
//! - [`uniformity`]: tests of uniformity with p-values, and their names in the R
//!   package sphunif.
//!
//! Every Rust code block in the guides is a doctest: `cargo test --doc` runs it.

#[doc = include_str!("choosing.md")]
pub mod choosing {}

#[doc = include_str!("training_loops.md")]
pub mod training_loops {}

#[doc = include_str!("frameworks.md")]
pub mod frameworks {}

#[doc = include_str!("distributed.md")]
pub mod distributed {}

#[doc = include_str!("numerics.md")]
pub mod numerics {}

#[doc = include_str!("uniformity.md")]
pub mod uniformity {}
