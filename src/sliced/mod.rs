//! Sliced regularizers (SIGReg, SUSReg) and their integrated, deterministic twins.
//!
//! A sliced regularizer draws `M` random unit directions `a_m`, projects the batch
//! onto each, and averages the 1-D Epps–Pulley statistic of the projections against
//! a target characteristic function. Averaging over uniformly random directions
//! exactly — the twin — gives a deterministic kernel discrepancy computed by the
//! pairwise engine.
//!
//! The folder: `epps_pulley` (the grid and the 1-D statistic), `directions` (the
//! `(seed, step)` stream or fixed directions), `statistic` (one call's projections,
//! statistic and gradient), `objective` (the one sliced objective [`Sliced`],
//! whose tests `sigreg` and `susreg` define), and `integrated` (the twins).

mod directions;
mod epps_pulley;
mod integrated;
mod objective;
mod sigreg;
mod statistic;
mod susreg;

pub use directions::directions;
pub use epps_pulley::EppsPulleyGrid;
pub use integrated::{SigregIntegrated, SusregIntegrated};
pub use objective::{Projection, Sliced};
pub use sigreg::{Gaussian, Sigreg};
pub use susreg::{GAUSSIAN_TARGET_ABOVE, SphereMarginal, Susreg};

pub(crate) use directions::Directions;

/// The most slices a sliced regularizer accepts.
pub const MAX_SLICES: usize = 1 << 20;
