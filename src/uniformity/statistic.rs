//! Evaluation of a test statistic `(1/n) sum_{i,j} psi(x_i . x_j)` (diagonal
//! included or not) on unit rows: one pass of the pairwise engine, or the first two
//! moments of the sample when `psi` has degree at most 2.

use super::kernels::{AngularTable, PoissonKernel, SoftmaxKernel};
use crate::engine::{PairRequest, RowSet, pair_sums};
use crate::real::Real;
use crate::table::{Accuracy, Table};
use crate::zonal::{Tabulated, ZonalFunction, ZonalSeries};
use ndarray::{Array2, ArrayView2};
use std::f64::consts::PI;
use std::ops::Range;

/// A test's kernel, in the form that evaluates fastest.
#[derive(Debug)]
pub(super) enum StatisticKernel {
    /// `psi = v1 N(d,1) P_1 + v2 N(d,2) P_2`: from the sample mean and second moment.
    Moments {
        v1: f64,
        v2: f64,
    },
    /// A finite Gegenbauer series (Sobolev weights, kernels).
    Series(Tabulated<ZonalSeries>),
    Poisson(Tabulated<PoissonKernel>),
    Softmax(Tabulated<SoftmaxKernel>),
    /// A kernel tabulated in a half-angle variable.
    Angular(AngularTable),
    /// Giné's `G_n`: `1/2 - g sin(theta)`.
    GineGn {
        g: f64,
    },
    /// Bakshaev: `tau - |x - y|`.
    Bakshaev {
        tau: f64,
    },
    /// `tau - |x - y|^s`, with `|x - y|^s = (2 (1 - c))^{s/2}`.
    Riesz {
        tau: f64,
        pow: FastPow,
    },
    /// PAD on the circle, `1 - 2 ln(2 pi) + (theta ln theta + (2 pi - theta) ln(2 pi - theta))/pi`.
    PadCircle,
}

impl StatisticKernel {
    /// `(1/n) sum psi(x_i . x_j)` over ordered pairs of the unit rows `x`, with or
    /// without the pairs `(i, i)`. The diagonal adds `n psi(1)` exactly: the Gram
    /// diagonal is 1 only to rounding, and kernels with a kink at `c = 1` would
    /// turn that rounding into errors of `1e-8` per point.
    pub fn mean<F: Real>(&self, x: ArrayView2<F>, diagonal: bool, psi1: f64) -> f64 {
        if let StatisticKernel::Moments { v1, v2 } = self {
            return moments(x, *v1, *v2);
        }
        self.share(x, None, diagonal, psi1)
    }

    /// The part of [`mean`](Self::mean) of the rows `local`:
    /// `(1/n) sum_{i in local} sum_j psi(x_i . x_j)`, the parts of disjoint ranges
    /// covering the rows summing to the mean; `O(|local| n d)` for every profile
    /// (the degree-2 moments too, as the pairs `v1 d c + v2 (d+2)/2 (d c^2 - 1)`,
    /// diagonal included as in [`moments`]).
    pub fn mean_share<F: Real>(
        &self,
        x: ArrayView2<F>,
        local: Range<usize>,
        diagonal: bool,
        psi1: f64,
    ) -> f64 {
        self.share(x, Some(local), diagonal, psi1)
    }

    /// The mean through the pairwise engine, or its part of the rows `local`.
    fn share<F: Real>(
        &self,
        x: ArrayView2<F>,
        local: Option<Range<usize>>,
        diagonal: bool,
        psi1: f64,
    ) -> f64 {
        let n = x.nrows() as f64;
        let rows = local.as_ref().map_or(x.nrows(), |r| r.len()) as f64;
        let diagonal_total = if diagonal { rows * psi1 } else { 0.0 };
        let off_diagonal = match self {
            StatisticKernel::Moments { v1, v2 } => {
                let d = x.ncols() as f64;
                let (a, b) = (v1 * d, v2 * (d + 2.0) / 2.0);
                let psi = move |c: f64| a * c + b * (d * c * c - 1.0);
                // The moment formulas include the diagonal, whatever the test's flag.
                let off = pair_total(x, local, scalar(psi));
                return (off + rows * psi(1.0)) / n;
            }
            StatisticKernel::Series(p) => pair_total(x, local, |c, v| p.eval_batch(c, v, None)),
            StatisticKernel::Poisson(p) => pair_total(x, local, |c, v| p.eval_batch(c, v, None)),
            StatisticKernel::Softmax(p) => pair_total(x, local, |c, v| p.eval_batch(c, v, None)),
            StatisticKernel::Angular(t) => pair_total(x, local, |c, v| t.eval_batch(c, v)),
            StatisticKernel::GineGn { g } => pair_total(
                x,
                local,
                scalar(|c| 0.5 - g * ((1.0 - c) * (1.0 + c)).max(0.0).sqrt()),
            ),
            StatisticKernel::Bakshaev { tau } => pair_total(
                x,
                local,
                scalar(|c| tau - (2.0 * (1.0 - c)).max(0.0).sqrt()),
            ),
            StatisticKernel::Riesz { tau, pow } => {
                pair_total(x, local, scalar(|c| tau - pow.eval(2.0 * (1.0 - c))))
            }
            StatisticKernel::PadCircle => pair_total(x, local, scalar(pad_circle)),
        };
        (off_diagonal + diagonal_total) / n
    }
}

/// `sum_{i != j} psi(g_ij)` over ordered pairs through the pairwise engine (with
/// `local`, over `i` in those rows only); `batch(c, v)` writes `psi(c_j)` into `v_j`
/// (and may overwrite `c` as scratch).
fn pair_total<F: Real>(
    x: ArrayView2<F>,
    local: Option<Range<usize>>,
    batch: impl Fn(&mut [f64], &mut [f64]) + Sync,
) -> f64 {
    let req = PairRequest {
        diagonal: false,
        ..Default::default()
    };
    let term =
        |_: usize, _: usize, g: &mut [f64], v: &mut [f64], _: Option<&mut [f64]>| batch(g, v);
    let set = local.map_or(RowSet::All, RowSet::Local);
    pair_sums(x, set, &term, req, None).total
}

/// A batch evaluator from a scalar kernel (the cosines clamped to `[-1, 1]`).
fn scalar(psi: impl Fn(f64) -> f64 + Sync) -> impl Fn(&mut [f64], &mut [f64]) + Sync {
    move |c, v| {
        for (vj, cj) in v.iter_mut().zip(c.iter()) {
            *vj = psi(cj.clamp(-1.0, 1.0));
        }
    }
}

/// `v1 d |sum x|^2 / n + v2 (d + 2)/(2 n) (d |X^T X|_F^2 - n^2)`, the degree-1 and
/// degree-2 Sobolev statistics (Rayleigh, Bingham) in `O(n d min(n, d))`: the
/// Frobenius norm from `X^T X` (`d x d`) or, when `n < d`, the Gram matrix `X X^T`
/// (`n x n`), which has the same one.
fn moments<F: Real>(x: ArrayView2<F>, v1: f64, v2: f64) -> f64 {
    let (n, d) = x.dim();
    let x64: Array2<f64> = x.mapv(|v| v.to_f64());
    let (nf, df) = (n as f64, d as f64);
    let mut stat = 0.0;
    if v1 != 0.0 {
        let s = x64.sum_axis(ndarray::Axis(0));
        stat += v1 * df * s.dot(&s) / nf;
    }
    if v2 != 0.0 {
        let m = if n < d {
            x64.dot(&x64.t())
        } else {
            x64.t().dot(&x64)
        };
        let frob: f64 = m.iter().map(|v| v * v).sum();
        stat += v2 * (df + 2.0) / (2.0 * nf) * (df * frob - nf * nf);
    }
    stat
}

/// The PAD kernel on the circle.
fn pad_circle(c: f64) -> f64 {
    let th = c.acos();
    let xlx = |x: f64| if x > 0.0 { x * x.ln() } else { 0.0 };
    1.0 - 2.0 * (2.0 * PI).ln() + (xlx(th) + xlx(2.0 * PI - th)) / PI
}

/// `x^a` for `0 <= x <= 4`, `0 < a < 1`, from the binary exponent and mantissa:
/// `x = m 2^e` gives `2^{a e}` (a lookup) times `m^a` on `[1, 2)` (a checked table).
#[derive(Debug)]
pub(super) struct FastPow {
    a: f64,
    /// `2^{a e}` for `e = E_MIN ..= 2`, indexed by `e - E_MIN`.
    scale: Vec<f64>,
    mantissa: Option<Table>,
}

/// The smallest binary exponent of a normal `f64`.
const E_MIN: i32 = -1022;

impl FastPow {
    pub fn new(a: f64) -> Self {
        let scale = (E_MIN..=2).map(|e| (a * e as f64).exp2()).collect();
        let mantissa = Table::build(1.0, 2.0, Accuracy::Global(1e-14), |m: f64| {
            (m.powf(a), a * m.powf(a - 1.0))
        });
        FastPow { a, scale, mantissa }
    }

    #[inline(always)]
    fn eval(&self, x: f64) -> f64 {
        if x < f64::MIN_POSITIVE {
            return if x > 0.0 { x.powf(self.a) } else { 0.0 };
        }
        let bits = x.to_bits();
        let e = ((bits >> 52) & 0x7ff) as i32 - 1023;
        let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
        match (&self.mantissa, self.scale.get((e - E_MIN) as usize)) {
            (Some(t), Some(s)) => s * t.value(m),
            _ => x.powf(self.a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_match_the_pair_sum_whichever_side_is_smaller() {
        // (1/n) sum_{i,j} [v1 d c_ij + v2 (d + 2)/2 (d c_ij^2 - 1)], for n < d and n > d.
        for (n, d) in [(3, 40), (40, 3), (5, 5)] {
            let mut x = Array2::from_shape_fn((n, d), |(i, j)| ((i * 7 + j * 3) % 11) as f64 - 4.5);
            for mut row in x.rows_mut() {
                let r = row.dot(&row).sqrt();
                row /= r;
            }
            let (v1, v2, df) = (0.3, 0.7, d as f64);
            let g = x.dot(&x.t());
            let want: f64 = g
                .iter()
                .map(|c| v1 * df * c + v2 * (df + 2.0) / 2.0 * (df * c * c - 1.0))
                .sum::<f64>()
                / n as f64;
            let got = moments(x.view(), v1, v2);
            assert!(
                (got - want).abs() < 1e-12 * want.abs().max(1.0),
                "{n} x {d}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn fast_power_matches_powf() {
        for &a in &[0.05, 0.25, 0.5, 0.75, 0.99] {
            let p = FastPow::new(a);
            assert!(p.mantissa.is_some());
            for &x in &[
                0.0, 1e-310, 1e-300, 3e-17, 1e-3, 0.37, 1.0, 1.999, 2.0, 3.5, 4.0,
            ] {
                let (got, want) = (p.eval(x), f64::powf(x, a));
                // Relative accuracy except near the underflow, where 2^{a e} rounds.
                assert!(
                    (got - want).abs() <= 1e-14 * want + 1e-200,
                    "{a} {x}: {got} vs {want}"
                );
            }
        }
    }
}
