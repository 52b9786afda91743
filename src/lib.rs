//! # unisphere
//!
//! Uniformity regularizers on the unit hypersphere for self-supervised learning.
//! An encoder trained only to make two views of an input agree collapses unless its
//! embeddings are pushed to spread over the sphere. This crate computes that push:
//! the paper's deterministic objectives (MMD, KSD and KDE-KL with zonal heat and
//! bandlimited kernels), LeJEPA's SIGReg and SPHERE-JEPA's SUSReg, which project on
//! random directions, and their integrated twins, which average the directions out
//! exactly. Every objective takes an `N x d` batch (`f32` or `f64`, in `ndarray`)
//! and returns its loss and its exact, analytic gradient, through one tiled,
//! multithreaded pairwise engine in `O(N d)` memory. Tests of uniformity with
//! p-values, sharded evaluation across processes, and adapters for candle, burn and
//! PyTorch come with it.
//!
//! ## Quick start
//!
//! ```
//! use unisphere::{Mmd, Regularizer, ndarray::Array2};
//!
//! let (n, d) = (256, 32);
//! let mut z = Array2::from_shape_fn((n, d), |(i, j)| if j == 0 { 4.0 } else { ((i * 31 + j * 17) % 13) as f32 / 6.0 - 1.0 });
//! let mut reg = Mmd::heat(d)?;                    // the paper's heat kernel, t = 5/d
//! let mut grad = Array2::<f32>::zeros((n, d));    // allocated once
//! let first = reg.loss(z.view())?;                // a clustered start
//! for _ in 0..10 {
//!     grad.fill(0.0);                             // the task loss's gradient goes here
//!     let loss = reg.loss_and_grad_into(z.view(), grad.view_mut(), 1.0)?;
//!     assert!(loss <= 1.0);                       // paper scale: collapse = 1
//!     z.scaled_add(-100.0, &grad);                // a plain gradient step
//! }
//! assert!(reg.loss(z.view())? < first);
//! # Ok::<(), unisphere::Error>(())
//! ```
//!
//! ## Objectives
//!
//! All implement [`Regularizer`] for `f32` and `f64` rows.
//!
//! - [`Mmd`]: the squared maximum mean discrepancy to the uniform distribution,
//!   [`Mmd::heat`] for the paper's setting;
//! - [`Ksd`]: the kernel Stein discrepancy to the uniform distribution,
//!   [`Ksd::heat`];
//! - [`KdeKl`]: the leave-one-out kernel-density estimate of the KL divergence to
//!   the uniform distribution, [`KdeKl::heat`] (`d >= 19`; [`KdeKl::raw`] below);
//! - [`Sigreg`]: LeJEPA's sliced test of the raw embeddings against `N(0, I)`,
//!   [`Sigreg::lejepa`](sliced::Sliced::lejepa);
//! - [`Susreg`]: SPHERE-JEPA's sliced test of the unit rows against the uniform
//!   marginal, [`Susreg::sphere_jepa`](sliced::Sliced::sphere_jepa);
//! - [`SigregIntegrated`], [`SusregIntegrated`]: their exact expectations over
//!   random directions, deterministic.
//!
//! The kernels are [`Kernel`]s ([`kernel`]); tests of uniformity are in
//! [`uniformity`], sharded evaluation in [`shard`], device plans in [`plan`], and
//! gradient-variance measurements in [`diagnostics`].
//!
//! ## Guides
//!
//! - [`guide::choosing`]: choosing a regularizer, its loss scale and its weight;
//! - [`guide::training_loops`]: gradient buffers, checkpoints, threads and errors;
//! - [`guide::frameworks`]: candle, burn and PyTorch;
//! - [`guide::distributed`]: the shard protocol, MPI and data-parallel gradients;
//! - [`guide::numerics`]: accuracy guarantees and determinism;
//! - [`guide::uniformity`]: tests of uniformity and their sphunif names.
//!
//! ## Cargo features
//!
//! | feature | adds |
//! |---|---|
//! | `candle` | [`unisphere::candle`](candle/index.html): a regularizer as a node of candle's autograd graph, for tensors on any device |
//! | `burn` | [`unisphere::burn`](burn/index.html): a regularizer as a term of burn's autodiff graph, computed on the host or on the tensor's device |
//! | `burn-cpu` | burn's CPU backend, autodiff and optimizers, for the crate's burn tests, doctests and examples |
//! | `mpi` | `unisphere::mpi`: sharded evaluation over MPI (needs an MPI library and libclang) |
//!
//! No feature is on by default. The repository's `docs/` folder has the
//! measurements behind the guides, each beside the command that reproduces it:
//! `docs/benchmarks.md` (speed against a GEMM floor, the FMA peak and PyTorch
//! implementations; gradient variance), `docs/ssl_study.md` (the regularizers in
//! self-supervised training) and `docs/particle_flow.md`.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub use ndarray;

/// The README's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(feature = "burn")]
pub mod burn;
#[cfg(feature = "candle")]
pub mod candle;
pub mod diagnostics;
mod engine;
mod error;
pub mod guide;
mod kdekl;
pub mod kernel;
mod ksd;
mod mmd;
#[cfg(feature = "mpi")]
pub mod mpi;
mod numerics;
pub mod plan;

mod real;
mod regularizer;
mod rows;
pub mod shard;
pub mod sliced;
pub mod special;
mod spectral;
mod table;
pub mod uniformity;
mod workspace;
mod zonal;

pub use error::{Error, Result};
pub use kdekl::KdeKl;
pub use kernel::{Kernel, KernelKind};
pub use ksd::Ksd;
pub use mmd::Mmd;
pub use real::Real;
pub use regularizer::{Regularizer, Scale};
pub use sliced::{EppsPulleyGrid, Sigreg, SigregIntegrated, Susreg, SusregIntegrated};

// Every objective can move to another thread (`Regularizer: Send`) and be shared
// between threads by reference: checked at compile time.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Mmd>();
    send_sync::<Ksd>();
    send_sync::<KdeKl>();
    send_sync::<Sigreg>();
    send_sync::<Susreg>();
    send_sync::<SigregIntegrated>();
    send_sync::<SusregIntegrated>();
    send_sync::<Kernel>();
    const fn send<T: Send>() {}
    send::<Box<dyn Regularizer<f32>>>();
    send::<Box<dyn Regularizer<f64>>>();
};
