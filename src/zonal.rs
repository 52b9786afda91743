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
    /// `Some([a, b, c])` when `f(x) = a + b x + c x^2` exactly: then the V-statistic
    /// needs only the mean and second moment of the rows ([`zonal_mean`] uses them
    /// when that is cheaper than the pairs).
    fn quadratic(&self) -> Option<[f64; 3]> {
        None
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
    fn quadratic(&self) -> Option<[f64; 3]> {
        // P_0 = 1, P_1 = c, P_2 = (d c^2 - 1)/(d - 1)
        let a = self.value.coeffs();
        let d = self.value.dim();
        let get = |l: usize| a.get(l).copied().unwrap_or(0.0);
        (a.len() <= 3).then(|| [get(0) - get(2) / (d - 1.0), get(1), get(2) * d / (d - 1.0)])
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
    /// Tabulated to [`TABLE_TOLERANCE`] of the profile's largest magnitude.
    pub fn new(exact: Z) -> Self {
        let table = Table::build(-1.0, 1.0, Accuracy::Global(TABLE_TOLERANCE), |c| {
            exact.value_and_slope(c)
        });
        Tabulated { exact, table }
    }

    /// `exact` with a table built elsewhere (or none).
    pub fn from_table(exact: Z, table: Option<Table>) -> Self {
        Tabulated { exact, table }
    }

    /// Whether a table was built (otherwise every pair evaluates `exact`).
    #[cfg(test)]
    pub fn has_table(&self) -> bool {
        self.table.is_some()
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
    fn quadratic(&self) -> Option<[f64; 3]> {
        self.exact.quadratic()
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
    check_input(&z, 2, dim)?;
    let rows = SphereRows::new(&z)?;
    if let Some(q) = f.quadratic()
        && rows.len() > rows.x.ncols()
    {
        return quadratic_mean(&rows, q, grad_factor);
    }
    pairwise_mean(&rows, f, grad_factor)
}

/// [`zonal_mean`] through the pairwise engine: `O(N^2 d)`.
fn pairwise_mean<F: Real, Z: ZonalFunction>(
    rows: &SphereRows<F>,
    f: &Z,
    grad_factor: Option<f64>,
) -> Result<(f64, Option<Array2<F>>)> {
    let gradient = grad_factor.is_some();
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

/// [`zonal_mean`] for `f(c) = a + b c + c2 c^2` from the moments of the rows, in
/// `O(N d^2)`: with `m = mean x` and `S = X^T X / N`,
/// `mean f(c_ij) = a + b |m|^2 + c2 |S|_F^2` and its gradient on row `i` is
/// `(2/N) (b m + 2 c2 S x_i)`.
fn quadratic_mean<F: Real>(
    rows: &SphereRows<F>,
    [a, b, c2]: [f64; 3],
    grad_factor: Option<f64>,
) -> Result<(f64, Option<Array2<F>>)> {
    let x = rows.x.mapv(|v| v.to_f64());
    let n = rows.len() as f64;
    let m = x.sum_axis(ndarray::Axis(0)) / n;
    let s = x.t().dot(&x) / n;
    let mean = a + b * m.dot(&m) + c2 * s.iter().map(|v| v * v).sum::<f64>();
    let Some(factor) = grad_factor else {
        return Ok((mean, None));
    };
    // G = b m + 2 c2 S x_i per row; chain() applies the factor 2/N and the projection.
    let mut g = x.dot(&s) * (2.0 * c2);
    g += &(&m * b);
    let g = g.mapv(F::from_f64);
    Ok((mean, Some(rows.chain(&g, factor * 2.0 / n)?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Kernel;

    #[test]
    fn moment_path_equals_the_pairwise_path() {
        for d in [2usize, 3, 17] {
            let n = 40;
            let z =
                Array2::from_shape_fn((n, d), |(i, j)| ((i * 31 + j * 17) % 23) as f64 / 7.0 - 1.4);
            let rows = SphereRows::new(&z.view()).unwrap();
            for l in [1usize, 2] {
                let k = Kernel::bandlimited(d, l).unwrap();
                let f = SeriesProfile::new(k.series().clone());
                let q = f.quadratic().unwrap();
                let (v1, g1) = quadratic_mean(&rows, q, Some(1.5)).unwrap();
                let (v2, g2) = pairwise_mean(&rows, &f, Some(1.5)).unwrap();
                assert!((v1 - v2).abs() < 1e-14, "d={d} L={l}: {v1} vs {v2}");
                let diff = (&g1.unwrap() - &g2.unwrap())
                    .mapv(f64::abs)
                    .fold(0.0f64, |m, &v| m.max(v));
                assert!(diff < 1e-14, "d={d} L={l}: {diff:e}");
            }
            let heat = SeriesProfile::new(Kernel::heat(d, 0.3).unwrap().series().clone());
            assert!(heat.quadratic().is_none());
        }
    }
}
