//! Fast evaluators of the tests' kernels as functions of the cosine `c`: smooth
//! kernels (Poisson, softmax) as zonal profiles for the engine's tables, and kernels
//! with a kink at `c = 1` (or at a cut-off angle) tabulated in a half-angle variable
//! in which they are smooth.

use super::projected::ProjectedKernel;
use crate::table::{Accuracy, Table};
use crate::zonal::ZonalFunction;
use std::f64::consts::PI;

/// Relative accuracy of the half-angle tables.
const TOLERANCE: f64 = 1e-13;

/// The Poisson kernel `((1 - rho)/sqrt(1 - 2 rho c + rho^2))^d - b0`.
#[derive(Debug, Clone)]
pub(super) struct PoissonKernel {
    pub d: f64,
    pub rho: f64,
    pub b0: f64,
}

impl ZonalFunction for PoissonKernel {
    fn value_and_slope(&self, c: f64) -> (f64, f64) {
        let q = 1.0 - 2.0 * self.rho * c + self.rho * self.rho;
        let f = (0.5 * self.d * (2.0 * (1.0 - self.rho).ln() - q.ln())).exp();
        (f - self.b0, self.d * self.rho / q * f)
    }
}

/// The softmax kernel `exp(kappa (c - 1)) - b0`.
#[derive(Debug, Clone)]
pub(super) struct SoftmaxKernel {
    pub kappa: f64,
    pub b0: f64,
}

impl ZonalFunction for SoftmaxKernel {
    fn value_and_slope(&self, c: f64) -> (f64, f64) {
        let e = (self.kappa * (c - 1.0)).exp();
        (e - self.b0, self.kappa * e)
    }
}

/// The variable a kernel is tabulated in, from `u = sin(theta/2) = sqrt((1 - c)/2)`.
#[derive(Debug, Clone, Copy)]
enum Var {
    /// `u` itself, on `[0, 1]`.
    U,
    /// `v = sqrt(u_t - u)` on `[0, sqrt(u_t)]`; the kernel is `beyond` for `u >= u_t`.
    V { u_t: f64, beyond: f64 },
}

/// A kernel with a kink at `c = 1` (an odd power of `theta`), tabulated in a
/// half-angle variable where it is smooth, with an exact fallback.
pub(super) struct AngularTable {
    var: Var,
    table: Option<Table>,
    exact: Box<dyn Fn(f64) -> f64 + Send + Sync>,
}

impl std::fmt::Debug for AngularTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AngularTable")
            .field("var", &self.var)
            .field("tabulated", &self.table.is_some())
            .finish()
    }
}

impl AngularTable {
    fn build(
        var: Var,
        value_and_slope: impl Fn(f64) -> (f64, f64) + Send + Sync + 'static,
    ) -> Self {
        let hi = match var {
            Var::U => 1.0,
            Var::V { u_t, .. } => u_t.sqrt(),
        };
        let table = Table::build(0.0, hi, Accuracy::Global(TOLERANCE), &value_and_slope);
        AngularTable {
            var,
            table,
            exact: Box::new(move |x| value_and_slope(x).0),
        }
    }

    /// A projected-ecdf kernel that is smooth in `u` (PCvM, PAD).
    pub fn smooth_in_u(k: ProjectedKernel) -> Self {
        AngularTable::build(Var::U, move |u| (k.psi(u), -k.j(u) / PI))
    }

    /// A Rothman kernel (also Ajne's): smooth in `sqrt(u_t - u)`, constant beyond `u_t`.
    pub fn rothman(k: ProjectedKernel) -> Self {
        let (u_t, beyond) = k.cutoff().unwrap_or((1.0, 0.0));
        AngularTable::build(Var::V { u_t, beyond }, move |v| {
            (k.psi(u_t - v * v), k.rothman_slope_v(v))
        })
    }

    /// Giné's `F_n` kernel `3/2 - 2 theta/pi - g sin(theta)`, smooth in `sqrt(1 - u)`.
    pub fn gine_fn(g: f64) -> Self {
        AngularTable::build(
            Var::V {
                u_t: 1.0,
                beyond: 0.0,
            },
            move |v| {
                let u = 1.0 - v * v;
                let root = ((1.0 - u) * (1.0 + u)).sqrt();
                let value = 1.5 - 4.0 / PI * u.asin() - 2.0 * g * u * root;
                // dpsi/dv = -2 v dpsi/du, with v / sqrt(1 - u^2) = 1 / sqrt(1 + u).
                let slope = 2.0 / (1.0 + u).sqrt() * (4.0 / PI + 2.0 * g * (1.0 - 2.0 * u * u));
                (value, slope)
            },
        )
    }

    /// The kernel at every cosine `c_j`, written into `v_j`; `c` is used as scratch.
    pub fn eval_batch(&self, c: &mut [f64], v: &mut [f64]) {
        // Map each cosine to the table variable; -1 marks `u >= u_t` (constant part).
        for x in c.iter_mut() {
            let u = (0.5 * (1.0 - *x)).clamp(0.0, 1.0).sqrt();
            *x = match self.var {
                Var::U => u,
                Var::V { u_t, .. } if u < u_t => (u_t - u).sqrt(),
                Var::V { .. } => -1.0,
            };
        }
        match &self.table {
            Some(t) => t.eval_batch(c, v, None),
            None => {
                for (vj, &x) in v.iter_mut().zip(c.iter()) {
                    *vj = (self.exact)(x.max(0.0));
                }
            }
        }
        if let Var::V { beyond, .. } = self.var {
            for (vj, &x) in v.iter_mut().zip(c.iter()) {
                if x < 0.0 {
                    *vj = beyond;
                }
            }
        }
    }
}
