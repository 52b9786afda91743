//! Zonal V-statistics `mean_{i,j} f(x_i . x_j)` of normalised rows, with their
//! gradient chained back to the raw rows. MMD, KSD and SUSReg's twin use this.

use crate::engine::{PairRequest, PairRows, PairTerm, RowSet, pair_sums};
use crate::error::Result;
use crate::kernel::GegenbauerSeries;
use crate::real::Real;
use crate::regularizer::GradientSink;
use crate::rows::SphereRows;
use crate::table::{Accuracy, SingleTable, Table};
use crate::workspace::{Buffers, MomentBuffers, Workspace, zeroed};
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, linalg::general_mat_mul};
use std::ops::Range;
use std::sync::Arc;

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
    /// `f` (and `f'`, if asked) at every `c` of `f32` rows, in `f32` where the
    /// function has a polynomial for it ([`SingleTable`]); `false`, writing
    /// nothing, where it has not.
    fn eval_batch_f32(&self, _c: &[f32], _values: &mut [f64], _slopes: Option<&mut [f32]>) -> bool {
        false
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
pub(crate) struct ZonalSeries {
    pub value: GegenbauerSeries,
    pub slope: GegenbauerSeries,
}

impl ZonalSeries {
    pub fn new(value: GegenbauerSeries) -> Self {
        let slope = value.derivative();
        ZonalSeries { value, slope }
    }
}

impl ZonalFunction for ZonalSeries {
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
/// (when one meets [`TABLE_TOLERANCE`]) and, for `f32` rows, a polynomial in `f32`
/// (when one meets [`SingleTable`]'s tolerance); evaluation falls back to the
/// function.
#[derive(Debug, Clone)]
pub(crate) struct Tabulated<Z> {
    pub exact: Z,
    table: Option<Arc<Table>>,
    single: Option<Arc<SingleTable>>,
}

impl<Z: ZonalFunction> Tabulated<Z> {
    /// Tabulated to [`TABLE_TOLERANCE`] of the profile's largest magnitude, with an
    /// `f32` polynomial where one is accurate enough.
    pub fn new(exact: Z) -> Self {
        let single = SingleTable::build(|c| exact.value_and_slope(c));
        Tabulated {
            single: single.map(Arc::new),
            ..Tabulated::for_f64(exact)
        }
    }

    /// Tabulated for `f64` evaluation only (callers that never pass `f32` rows):
    /// no `f32` polynomial.
    pub fn for_f64(exact: Z) -> Self {
        let table = Table::build(-1.0, 1.0, Accuracy::Global(TABLE_TOLERANCE), |c| {
            exact.value_and_slope(c)
        });
        Tabulated::from_table(exact, table)
    }

    /// `exact` with a table built elsewhere (or none), and no `f32` polynomial.
    pub fn from_table(exact: Z, table: Option<Table>) -> Self {
        Tabulated {
            exact,
            table: table.map(Arc::new),
            single: None,
        }
    }

    /// The table, if one was built.
    pub fn table(&self) -> Option<&Arc<Table>> {
        self.table.as_ref()
    }

    /// Whether a table was built (otherwise every pair evaluates `exact`).
    #[cfg(test)]
    pub fn has_table(&self) -> bool {
        self.table.is_some()
    }

    /// Whether an `f32` polynomial was built (otherwise `f32` rows take the table).
    #[cfg(test)]
    pub fn has_single(&self) -> bool {
        self.single.is_some()
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
    fn eval_batch_f32(&self, c: &[f32], values: &mut [f64], slopes: Option<&mut [f32]>) -> bool {
        self.single
            .as_ref()
            .is_some_and(|t| t.eval_batch(c, values, slopes))
    }
    fn quadratic(&self) -> Option<[f64; 3]> {
        self.exact.quadratic()
    }
}

/// The mean of `f(c_ij)` over all ordered pairs (diagonal included) of the
/// normalised rows of `z` (checked: finite, at least 2 rows); when the sink wants it, `grad_factor` times the mean's
/// gradient with respect to `z` goes to the sink. Rows and gradient are computed in
/// the workspace's buffers.
pub(crate) fn zonal_mean<F: Real, Z: ZonalFunction, S: GradientSink<F>>(
    z: ArrayView2<F>,
    f: &Z,
    grad_factor: f64,
    sink: &mut S,
    ws: &mut Workspace,
) -> Result<f64> {
    let (n, d) = z.dim();
    ws.with(|b: &mut Buffers<F>| {
        let rows = SphereRows::new(&z, &mut b.rows, &mut b.norms)?;
        let mut grad = if S::WANTED {
            Some(zeroed(&mut b.grad, n, d)?)
        } else {
            None
        };
        let nf = n as f64;
        let (mean, per_row) = match f.quadratic().filter(|_| n > d) {
            Some(q) => (
                quadratic_mean(&rows, q, grad.as_mut(), &mut b.moments)?,
                2.0 / nf,
            ),
            None => {
                let pairs = PairRows::with_columns(rows.x, &mut b.columns);
                (pairwise_mean(pairs, f, grad.as_mut()), 2.0 / (nf * nf))
            }
        };
        if let Some(mut g) = grad {
            rows.chain(&mut g, grad_factor * per_row);
            sink.add(g.view())?;
        }
        Ok(mean)
    })
}

/// A shard's part of [`zonal_mean`] over the gathered rows `all` (checked): the sum over the
/// rows `local` and every row `j` of `f(c_ij) / N^2` (the parts of all shards sum to
/// the mean), and `grad_factor` times the gradient of the whole mean with respect
/// to the rows `local`, through the engine's rectangular pass (`O(N_r N d)`).
pub(crate) fn zonal_share<F: Real, Z: ZonalFunction>(
    all: ArrayView2<F>,
    local: Range<usize>,
    f: &Z,
    grad_factor: f64,
) -> Result<(f64, Array2<F>)> {
    let (n, d) = all.dim();
    let (mut x, mut norms) = (Vec::new(), Vec::new());
    let rows = SphereRows::new(&all, &mut x, &mut norms)?;
    let mut grad = Array2::<F>::zeros((local.len(), d));
    let req = PairRequest {
        diagonal: true,
        ..Default::default()
    };
    let sums = pair_sums(
        rows.x,
        RowSet::Local(local.clone()),
        &ZonalTerm(f),
        req,
        Some(grad.view_mut()),
    );
    let nn = (n as f64) * (n as f64);
    rows.restrict(local)
        .chain(&mut grad.view_mut(), grad_factor * 2.0 / nn);
    Ok((sums.total / nn, grad))
}

/// [`zonal_mean`] through the pairwise engine, in `O(N^2 d)`: the mean, and
/// `sum_j f'(c_ij) x_j` added into `grad` if given.
fn pairwise_mean<G: Real, Z: ZonalFunction>(
    rows: PairRows<'_, G>,
    f: &Z,
    grad: Option<&mut ArrayViewMut2<G>>,
) -> f64 {
    let n = rows.x.nrows() as f64;
    let req = PairRequest {
        diagonal: true,
        ..Default::default()
    };
    let term = ZonalTerm(f);
    let sums = pair_sums(rows, RowSet::All, &term, req, grad.map(|g| g.view_mut()));
    sums.total / (n * n)
}

/// A zonal function as the engine's pair term: values `f(c_ij)`, weights
/// `f'(c_ij)` except on the pair `(i, i)`, whose weight is 0. That pair adds
/// `f'(1) x_i` to row `i`: radial, so the chain rule removes it; left in, its
/// rounding (`f'(1)` is the largest weight, and in `f32` its rounding can exceed a
/// small tangent gradient) is all that would remain.
struct ZonalTerm<'a, Z>(&'a Z);

/// Sets row `i`'s weight on the pair `(i, i)` to zero, if that pair is among the
/// columns `j0 ..` of `w`.
fn zero_own_weight<W: Default>(i: usize, j0: usize, w: Option<&mut [W]>) {
    if let Some(wi) = w.and_then(|w| i.checked_sub(j0).and_then(|k| w.get_mut(k))) {
        *wi = W::default();
    }
}

impl<Z: ZonalFunction> PairTerm for ZonalTerm<'_, Z> {
    fn row(&self, i: usize, j0: usize, g: &mut [f64], v: &mut [f64], mut w: Option<&mut [f64]>) {
        self.0.eval_batch(g, v, w.as_deref_mut());
        zero_own_weight(i, j0, w);
    }

    fn row_f32(
        &self,
        i: usize,
        j0: usize,
        g: &[f32],
        v: &mut [f64],
        mut w: Option<&mut [f32]>,
    ) -> bool {
        let taken = self.0.eval_batch_f32(g, v, w.as_deref_mut());
        if taken {
            zero_own_weight(i, j0, w);
        }
        taken
    }
}

/// [`zonal_mean`] for `f(c) = a + b c + c2 c^2` from the moments of the rows, in
/// `O(N d^2)`: with `m = mean x` and `S = X^T X / N`,
/// `mean f(c_ij) = a + b |m|^2 + c2 |S|_F^2`; its gradient on row `i` is
/// `(2/N) (b m + 2 c2 S x_i)`, of which `b m + 2 c2 S x_i` is written into `grad`
/// if given. `work` holds the `f64` rows, `S` and that gradient.
fn quadratic_mean<G: Real>(
    rows: &SphereRows<G>,
    [a, b, c2]: [f64; 3],
    grad: Option<&mut ArrayViewMut2<G>>,
    work: &mut MomentBuffers,
) -> Result<f64> {
    let (n, d) = rows.x.dim();
    let mut x = zeroed(&mut work.rows, n, d)?;
    x.zip_mut_with(&rows.x, |w, v| *w = v.to_f64());
    let nf = n as f64;
    let m = x.sum_axis(Axis(0)) / nf;
    let mut s = zeroed(&mut work.second_moment, d, d)?;
    general_mat_mul(1.0, &x.t(), &x, 0.0, &mut s);
    s.mapv_inplace(|v| v / nf);
    let mean = a + b * m.dot(&m) + c2 * s.iter().map(|v| v * v).sum::<f64>();
    let Some(grad) = grad else {
        return Ok(mean);
    };
    // G = b m + 2 c2 S x_i per row; chain() applies the factor 2/N and the projection.
    let mut g = zeroed(&mut work.gradient, n, d)?;
    general_mat_mul(1.0, &x, &s, 0.0, &mut g);
    g *= 2.0 * c2;
    g += &(&m * b);
    grad.zip_mut_with(&g, |o, v| *o = G::from_f64(*v));
    Ok(mean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Kernel;
    use ndarray::Array2;

    #[test]
    fn moment_path_equals_the_pairwise_path() {
        for d in [2usize, 3, 17] {
            let n = 40;
            let z =
                Array2::from_shape_fn((n, d), |(i, j)| ((i * 31 + j * 17) % 23) as f64 / 7.0 - 1.4);
            let (mut x, mut norms) = (Vec::new(), Vec::new());
            let rows = SphereRows::<f64>::new(&z.view(), &mut x, &mut norms).unwrap();
            for l in [1usize, 2] {
                let k = Kernel::bandlimited(d, l).unwrap();
                let f = ZonalSeries::new(k.series().clone());
                let q = f.quadratic().unwrap();
                let (mut g1, mut g2) = (Array2::zeros((n, d)), Array2::zeros((n, d)));
                let mut work = MomentBuffers::default();
                let v1 = quadratic_mean(&rows, q, Some(&mut g1.view_mut()), &mut work).unwrap();
                let v2 = pairwise_mean(rows.x.into(), &f, Some(&mut g2.view_mut()));
                assert!((v1 - v2).abs() < 1e-14, "d={d} L={l}: {v1} vs {v2}");
                let nf = n as f64;
                rows.chain(&mut g1.view_mut(), 1.5 * 2.0 / nf);
                rows.chain(&mut g2.view_mut(), 1.5 * 2.0 / (nf * nf));
                let diff = (&g1 - &g2).mapv(f64::abs).fold(0.0f64, |m, &v| m.max(v));
                assert!(diff < 1e-14, "d={d} L={l}: {diff:e}");
            }
            let heat = ZonalSeries::new(Kernel::heat(d, 0.3).unwrap().series().clone());
            assert!(heat.quadratic().is_none());
        }
    }

    #[test]
    fn smooth_kernels_get_an_f32_polynomial() {
        let heat = |d: usize, td: f64| Kernel::heat(d, td / d as f64).unwrap();
        for (k, want) in [
            (heat(3, 5.0), true),
            (heat(256, 5.0), true),
            (heat(1024, 5.0), true),
            (heat(2048, 5.0), true),
            (heat(4096, 5.0), false),
            (heat(256, 20.0), true),
            (heat(256, 0.5), false),
            (Kernel::bandlimited(64, 12).unwrap(), true),
            (Kernel::bandlimited(3, 12).unwrap(), false),
            (Kernel::bandlimited(3, 20).unwrap(), false),
            (heat(3, 0.5), true),
            (heat(16, 1.0), true),
        ] {
            let f = Tabulated::new(ZonalSeries::new(k.series().clone()));
            assert_eq!(f.has_single(), want, "d = {}, {:?}", k.dim(), k.kind());
        }
    }
}
