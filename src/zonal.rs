//! Zonal V-statistics `mean_{i,j} f(x_i . x_j)` of normalised rows, with their
//! gradient chained back to the raw rows. MMD, KSD and SUSReg's twin use this.

use crate::error::Result;
use crate::pairwise::{PairRequest, pair_sums};
use crate::real::Real;
use crate::rows::{SphereRows, check_input};
use ndarray::{Array2, ArrayView2};

/// A function of the cosine `c`, with its derivative.
pub(crate) trait ZonalFunction: Sync {
    /// `(f(c), f'(c))` for `c` in `[-1, 1]`.
    fn value_and_slope(&self, c: f64) -> (f64, f64);
    /// `f(c)` alone.
    fn value(&self, c: f64) -> f64 {
        self.value_and_slope(c).0
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
    let sums = if gradient {
        pair_sums(
            rows.x.view(),
            &|_, _, g: f64| f.value_and_slope(g.clamp(-1.0, 1.0)),
            req,
        )
    } else {
        pair_sums(
            rows.x.view(),
            &|_, _, g: f64| (f.value(g.clamp(-1.0, 1.0)), 0.0),
            req,
        )
    };
    let mean = sums.total / (n * n);
    let grad = match (sums.grad, grad_factor) {
        (Some(g), Some(factor)) => Some(rows.chain(&g, factor * 2.0 / (n * n))?),
        _ => None,
    };
    Ok((mean, grad))
}
