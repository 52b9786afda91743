//! # unisphere
//!
//! Uniformity regularizers on the unit hypersphere for self-supervised learning.
//!
//! Sliced regularizers (SIGReg, SUSReg) project embeddings onto random directions
//! and run a 1-D test, which puts projection noise into every gradient. Integrating
//! the directions out gives a deterministic kernel discrepancy. This crate provides,
//! behind one [`Regularizer`] trait:
//!
//! - zonal kernels on `S^{d-1}` built from Gegenbauer series ([`Kernel`]): heat,
//!   bandlimited and custom spectral filters, any `d >= 2`;
//! - the deterministic objectives [`Mmd`], [`Ksd`] and [`KdeKl`], each with its exact,
//!   analytic gradient;
//! - the sliced baselines [`Sigreg`] (LeJEPA) and [`Susreg`] (SPHERE-JEPA) and their
//!   integrated, deterministic twins [`SigregIntegrated`] and [`SusregIntegrated`];
//! - one tiled, symmetric, multithreaded pairwise engine that does the `O(N^2)`
//!   work for every objective in `O(N d)` memory.
//!
//! ```
//! use unisphere::{Kernel, Mmd, Regularizer, ndarray::Array2};
//! let d = 16;
//! let z = Array2::from_shape_fn((64, d), |(i, j)| ((i * 31 + j * 17) % 13) as f32 - 6.0);
//! let mut reg = Mmd::new(Kernel::heat(d, 5.0 / d as f64)?);
//! let (loss, grad) = reg.loss_and_grad(z.view())?;
//! assert!(loss > 0.0 && loss < 1.0);
//! assert_eq!(grad.dim(), (64, d));
//! # Ok::<(), unisphere::Error>(())
//! ```

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
