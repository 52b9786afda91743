//! The integrated twins of SIGReg and SUSReg: the exact expectation of the sliced
//! statistic over uniformly random directions, deterministic, through the engine.
//!
//! With `E_a cos(t a.v) = Omega_d(t |v|)` for `a` uniform on the sphere,
//! `E_a[EP] = N sum_k omega_k [ mean_{i,j} Omega_d(t_k r_ij) - 2 psi_k mean_i Omega_d(t_k |z_i|) + psi_k^2 ]`,
//! `r_ij = |z_i - z_j|`. Derivatives use `Omega_d'(r) = -(r/d) Omega_{d+2}(r)`.
//!
//! SUSReg's twin is zonal in the unit rows (`susreg`); SIGReg's is radial in the
//! raw rows' distances (`sigreg`). Both are made of the grid sums [`OmegaSums`].

mod sigreg;
mod susreg;

pub use sigreg::SigregIntegrated;
pub use susreg::SusregIntegrated;

use super::EppsPulleyGrid;
use crate::special::omega;
use crate::table::{Accuracy, Table};
use crate::zonal::TABLE_TOLERANCE;
use std::sync::Arc;

/// The grid sums both twins are made of, at a distance `r`:
/// `(sum_k omega_k Omega_d(t_k r), sum_k omega_k t_k^2 Omega_{d+2}(t_k r))`.
#[derive(Debug, Clone)]
struct OmegaSums {
    d: f64,
    knots: Vec<f64>,
    weights: Vec<f64>,
}

impl OmegaSums {
    fn new(d: usize, grid: &EppsPulleyGrid) -> Self {
        OmegaSums {
            d: d as f64,
            knots: grid.knots().to_vec(),
            weights: grid.weights().to_vec(),
        }
    }

    fn at(&self, r: f64) -> (f64, f64) {
        let (mut v, mut s) = (0.0, 0.0);
        for (t, w) in self.knots.iter().zip(&self.weights) {
            v += w * omega(self.d, t * r);
            s += w * t * t * omega(self.d + 2.0, t * r);
        }
        (v, s)
    }
}

/// A table on `[0, hi]` kept across calls, `hi` the power of two at or above the
/// range a call needs, so that a table depends only on that range and the
/// dimension, and is rebuilt only when either changes (a build that met no
/// tolerance is kept too, as `None`, and not retried every call).
#[derive(Debug, Clone, Default)]
struct RangeTable(Option<(usize, f64, Option<Arc<Table>>)>);

impl RangeTable {
    /// The table of `f` for dimension `d` covering `[0, max]`.
    fn covering(
        &mut self,
        d: usize,
        max: f64,
        f: impl Fn(f64) -> (f64, f64),
    ) -> Option<Arc<Table>> {
        let hi = 2f64.powi(max.max(f64::MIN_POSITIVE).log2().ceil() as i32);
        if !matches!(&self.0, Some((td, th, _)) if *td == d && *th == hi) {
            let table = Table::build(0.0, hi, Accuracy::Global(TABLE_TOLERANCE), f);
            self.0 = Some((d, hi, table.map(Arc::new)));
        }
        self.0.as_ref().and_then(|(_, _, t)| t.clone())
    }
}
