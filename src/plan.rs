//! What a device backend computes for one call of an objective, as data: the seam
//! between the objectives and the code that runs them on an accelerator.
//!
//! The host path ([`Regularizer`](crate::Regularizer)) evaluates every objective
//! in this crate's engine. A backend that computes where the tensors live instead
//! (burn's `unisphere::burn::device`, the Python package's torch path) needs, per
//! call, only what the objective reduces to: a table of its pair function and a
//! few constants, or a sliced call's directions. [`Planned::plan`] gives that
//! [`Plan`], and a backend implements the four kinds of plan once, not one
//! computation per objective. The tables are the host path's own (the exact kernel
//! tabulated in `f64`), so both paths evaluate the same function.
//!
//! ```
//! use unisphere::{Kernel, Mmd};
//! use unisphere::plan::{Plan, Planned};
//! let mut mmd = Mmd::new(Kernel::heat(16, 5.0 / 16.0)?);
//! let norms = vec![1.0; 100]; // the rows' norms (the plan of MMD needs only N)
//! let Plan::Zonal(p) = mmd.plan(16, &norms, true)? else { unreachable!() };
//! // loss = factor * mean_{i,j} (f(x_i . x_j) + offset); collapse gives 1:
//! let (f1, _) = p.table.evaluate(1.0);
//! assert!((p.factor * (f1 + p.offset) - 1.0).abs() < 1e-12);
//! assert_eq!(mmd.required_dim(), Some(16));
//! # Ok::<(), unisphere::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::table::{NC, Table};
use std::sync::Arc;

/// A piecewise-polynomial table of a function's value and slope on `[lo, hi]`, as
/// the host path evaluates it: `2^k` equal intervals, and on each a polynomial of
/// degree [`PlanTable::DEGREE`] in the local coordinate `t = 2 (x - a)/h - 1` of
/// the interval `[a, a + h]`, for the value and for the slope (the host sums each
/// as its even and odd parts, `E(t^2) + t O(t^2)`, by Horner's rule in `t^2`; a
/// device may sum it by Horner's rule in `t`, which differs in rounding only).
/// Arguments outside `[lo, hi]` are clamped into it.
#[derive(Debug, Clone)]
pub struct PlanTable(Arc<Table>);

impl PlanTable {
    /// The polynomials' degree (their coefficients number one more).
    pub const DEGREE: usize = NC - 1;

    /// The table of `what`'s pair function, or the error for a function no table
    /// met the accuracy for (the host path evaluates it exactly instead).
    pub(crate) fn required(table: Option<&Arc<Table>>, what: &str) -> Result<Self> {
        table
            .map(|t| PlanTable(t.clone()))
            .ok_or_else(|| Error::NotRepresentable {
                what: format!(
                    "{what}'s pair function has no table for a device backend; use the host path"
                ),
            })
    }

    /// The range `(lo, hi)`.
    pub fn range(&self) -> (f64, f64) {
        self.0.range()
    }

    /// The number of intervals (a power of two).
    pub fn intervals(&self) -> usize {
        self.0.intervals()
    }

    /// The coefficients of the value's (or, with `slope`, the slope's) polynomial
    /// of every interval, row-major `intervals x (DEGREE + 1)`, lowest degree first.
    pub fn coefficients(&self, slope: bool) -> Vec<f64> {
        self.0.coefficients(slope)
    }

    /// `(value, slope)` at `x`, as the host path evaluates them.
    pub fn evaluate(&self, x: f64) -> (f64, f64) {
        self.0.value_and_slope(x)
    }

    /// A hash of the range and every coefficient: equal tables have equal
    /// fingerprints, so a backend can keep one upload per table.
    pub fn fingerprint(&self) -> u64 {
        self.0.fingerprint()
    }
}

/// What one call of an objective computes, by kind. Rows are `z_i` (`N x d`);
/// `x_i = z_i / |z_i|` are the unit rows and `c_ij = x_i . x_j` their cosines.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Plan {
    /// MMD, KSD and SUSReg's twin: a zonal mean of the unit rows.
    Zonal(ZonalPlan),
    /// KDE-KL: leave-one-out log-densities of the unit rows.
    LogDensity(LogDensityPlan),
    /// SIGReg's twin: a radial function of the raw rows' distances.
    Radial(RadialPlan),
    /// SIGReg and SUSReg: one call's directions and Epps–Pulley test.
    Sliced(SlicedPlan),
}

/// `loss = factor * mean_{i,j} (f(c_ij) + offset)` over all ordered pairs, the
/// diagonal included, with `f` the table's value in `c` on `[-1, 1]`.
///
/// The gradient with respect to the unit rows is
/// `g_i = factor * 2/N^2 sum_{j != i} f'(c_ij) x_j` (the pair `(i, i)` is radial and
/// left out), carried to the raw rows by `(I - x_i x_i^T) g_i / |z_i|`.
#[derive(Debug, Clone)]
pub struct ZonalPlan {
    /// `(f, f')` in the cosine.
    pub table: PlanTable,
    /// Added to every pair's value (in `f64`, into the table's constant
    /// coefficients before any rounding), so that sums in lower precision do not
    /// cancel.
    pub offset: f64,
    /// The loss's factor.
    pub factor: f64,
}

/// `loss = factor/N sum_i (ln S_i + shift)` with `S_i = sum_{j != i} exp(v(h_ij))`,
/// `h_ij = sqrt((1 + c_ij)/2)` (the half-angle coordinate, on `[0, 1]`) and
/// `v = ln phi + offset` the table's value; the table's slope is `phi'/phi` in `c`.
/// Each `ln S_i` is a log-sum-exp over its row, so nothing underflows.
///
/// The gradient with respect to the unit rows is
/// `g_i = factor/N sum_{j != i} (phi'/phi)(c_ij) (exp(v_ij - ln S_i) + exp(v_ij - ln S_j)) x_j`,
/// carried to the raw rows as for [`ZonalPlan`].
#[derive(Debug, Clone)]
pub struct LogDensityPlan {
    /// `(ln phi, phi'/phi)` in the half-angle coordinate.
    pub table: PlanTable,
    /// Added to `ln phi` (as [`ZonalPlan::offset`]): it centres the log-densities.
    pub offset: f64,
    /// Added to every `ln S_i` (in `f64`).
    pub shift: f64,
    /// The loss's factor.
    pub factor: f64,
}

/// `loss = 1/N sum_{i,j} (h(s_ij) + offset - delta_i - delta_j)` over all ordered
/// pairs of the raw rows, `s_ij = |z_i - z_j|^2 = |z_i|^2 + |z_j|^2 - 2 z_i . z_j`
/// (clamped at 0), `h` the table's value in `s`.
///
/// The gradient with respect to the raw rows (no chain rule) is
/// `g_i = (4/N) (sum_j h'(s_ij)) z_i - (4/N) sum_j h'(s_ij) z_j + radial_i z_i`.
#[derive(Debug, Clone)]
pub struct RadialPlan {
    /// `(h, h')` in the squared distance.
    pub table: PlanTable,
    /// Added to every pair's value (as [`ZonalPlan::offset`]).
    pub offset: f64,
    /// Per row, subtracted from its pairs' values.
    pub delta: Vec<f64>,
    /// Per row, with the gradient: the factor of `z_i` in its gradient's row term
    /// (empty without the gradient).
    pub radial: Vec<f64>,
}

/// The mean over the call's directions `a_m` (`M x d`) of the Epps–Pulley
/// statistic of the projections `u_nm = scale * y_n . a_m`, `y_n` the unit rows
/// (`on_sphere`) or the raw rows: with `D_k = sum_n (cos(t_k u_n) - target_k)` and
/// `S_k = sum_n sin(t_k u_n)`, a direction's statistic is
/// `(1/N) sum_k w_k (D_k^2 + S_k^2)`.
///
/// Its derivative is `dEP/du_n = (2/N) sum_k w_k t_k (S_k cos(t_k u_n) - D_k sin(t_k u_n))`,
/// and the gradient with respect to `y` is `(scale/M) sum_m dEP_m/du_nm a_m`
/// (carried to the raw rows as for [`ZonalPlan`] where `on_sphere`).
#[derive(Debug, Clone)]
pub struct SlicedPlan {
    /// `M x d` unit directions, row-major, in `f64` (rounded to `f32` they are the
    /// host path's directions for `f32` rows).
    pub directions: Vec<f64>,
    /// The number of directions `M`.
    pub slices: usize,
    /// Whether the rows are normalised before they are projected.
    pub on_sphere: bool,
    /// The projections' scale.
    pub scale: f64,
    /// The knots `t_k` of the Epps–Pulley grid.
    pub knots: Vec<f64>,
    /// Their weights `w_k`.
    pub weights: Vec<f64>,
    /// The target characteristic function at the knots.
    pub target: Vec<f64>,
}

/// An objective a device backend computes from its [`Plan`]: every objective of
/// this crate.
pub trait Planned {
    /// The width the rows must have, where the objective fixes one (its kernel's);
    /// by default none.
    fn required_dim(&self) -> Option<usize> {
        None
    }

    /// Whether the rows are normalised onto the sphere (a zero row is an error).
    fn on_sphere(&self) -> bool;

    /// The plan of the next call on `N = norms.len()` rows of width `d`, with
    /// `norms` their norms `|z_i|` (finite, and nonzero where [`Planned::on_sphere`]);
    /// with `gradient`, what the gradient needs too. Sliced objectives draw the
    /// call's directions here and advance their step, as a host call does.
    ///
    /// An error where the objective cannot be planned: a width other than
    /// [`Planned::required_dim`], fewer than 2 rows, a scale not defined at this
    /// `d`, or a pair function no table met the accuracy for (the host path then
    /// evaluates it exactly, pair by pair).
    fn plan(&mut self, d: usize, norms: &[f64], gradient: bool) -> Result<Plan>;
}
