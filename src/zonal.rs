//! Zonal V-statistics `mean_{i,j} f(x_i . x_j)` of normalised rows, with their
//! gradient chained back to the raw rows. MMD, KSD and SUSReg's twin use this.

use crate::error::Result;
use crate::kernel::GegenbauerSeries;
use crate::pairwise::{PairRequest, pair_sums};
use crate::real::Real;
use crate::rows::{SphereRows, check_input};
use crate::table::{Accuracy, Table};
use ndarray::{Array2, ArrayView2};

/// A function of the cosine `c`, with its derivative.
pub(crate) trait ZonalFunction: Sync {
    /// `(f(c), f'(c))` for `c` in `[-1, 1]`.
    fn value_and_slope(&self, c: f64) -> (f64, f64);
    /// `f(c)` alone.
    fn value(&self, c: f64) -> f64 {
        self.value_and_slope(c).0
    }
    /// `f` (and `f'`, if asked) at every `c` (each clamped to `[-1, 1]`).
    fn eval_batch(&self, c: &[f64], values: &mut [f64], slopes: Option<&mut [f64]>) {
        match slopes {
            Some(slopes) => {
                for ((v, s), &x) in values.iter_mut().zip(slopes.iter_mut()).zip(c) {
                    (*v, *s) = self.value_and_slope(x.clamp(-1.0, 1.0));
                }
            }
            None => {
                for (v, &x) in values.iter_mut().zip(c) {
                    *v = self.value(x.clamp(-1.0, 1.0));
                }
            }
        }
    }
}

/// A Gegenbauer series and its derivative, as a zonal function.
#[derive(Debug, Clone)]
pub(crate) struct SeriesProfile {
    pub value: GegenbauerSeries,
    pub slope: GegenbauerSeries,
}

impl SeriesProfile {
    pub fn new(value: GegenbauerSeries) -> Self {
        let slope = value.derivative();
        SeriesProfile { value, slope }
    }
}

impl ZonalFunction for SeriesProfile {
    #[inline]
    fn value_and_slope(&self, c: f64) -> (f64, f64) {
        (self.value.eval(c), self.slope.eval(c))
    }
    #[inline]
    fn value(&self, c: f64) -> f64 {
        self.value.eval(c)
    }
}

/// Relative accuracy to which zonal profiles are tabulated for the engine.
pub(crate) const TABLE_TOLERANCE: f64 = 1e-13;

/// A zonal function with a checked piecewise-polynomial table of it on `[-1, 1]`
/// (when one meets [`TABLE_TOLERANCE`]); evaluation falls back to the function.
#[derive(Debug, Clone)]
pub(crate) struct Tabulated<Z> {
    pub exact: Z,
    table: Option<Table>,
}

impl<Z: ZonalFunction> Tabulated<Z> {
    pub fn new(exact: Z) -> Self {
        let table = Table::build(-1.0, 1.0, Accuracy::Global(TABLE_TOLERANCE), |c| {
            exact.value_and_slope(c)
        });
        Tabulated { exact, table }
    }
}

impl<Z: ZonalFunction> ZonalFunction for Tabulated<Z> {
    #[inline(always)]
    fn value_and_slope(&self, c: f64) -> (f64, f64) {
        match &self.table {
            Some(t) => t.value_and_slope(c),
            None => self.exact.value_and_slope(c),
        }
    }
    #[inline(always)]
    fn value(&self, c: f64) -> f64 {
        match &self.table {
            Some(t) => t.value(c),
            None => self.exact.value(c),
        }
    }
    fn eval_batch(&self, c: &[f64], values: &mut [f64], slopes: Option<&mut [f64]>) {
        match &self.table {
            Some(t) => t.eval_batch(c, values, slopes),
            None => self.exact.eval_batch(c, values, slopes),
        }
    }
}

/// The mean of `f(c_ij)` over all ordered pairs (diagonal included) of the
/// normalised rows of `z`, and, if `grad_factor` is given, that factor times the
/// mean's gradient with respect to `z`.
pub(crate) fn zonal_mean<F: Real, Z: ZonalFunction>(
    z: ArrayView2<F>,
    dim: Option<usize>,
    f: &Z,
    grad_factor: Option<f64>,
) -> Result<(f64, Option<Array2<F>>)> {
    let gradient = grad_factor.is_some();
    check_input(&z, 2, dim)?;
    let rows = SphereRows::new(&z)?;
    let n = rows.len() as f64;
    let req = PairRequest {
        diagonal: true,
        gradient,
        ..Default::default()
    };
    let term = |_: usize, _: usize, g: &mut [f64], v: &mut [f64], w: Option<&mut [f64]>| {
        f.eval_batch(g, v, w)
    };
    let sums = pair_sums(rows.x.view(), &term, req);
    let mean = sums.total / (n * n);
    let grad = match (sums.grad, grad_factor) {
        (Some(g), Some(factor)) => Some(rows.chain(&g, factor * 2.0 / (n * n))?),
        _ => None,
    };
    Ok((mean, grad))
}
