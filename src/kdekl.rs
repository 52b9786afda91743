//! The leave-one-out kernel-density estimate of the KL divergence to the uniform
//! distribution on the sphere.

use crate::error::{Error, Result, invalid};
use crate::kernel::{Kernel, KernelKind};
use crate::pairwise::{PairRequest, pair_sums};
use crate::real::Real;
use crate::regularizer::{Objective, Scale};
use crate::rows::{SphereRows, check_input};
use crate::table::{Accuracy, Table};
use ndarray::{Array2, ArrayView2};

/// The KDE-KL objective with a positive zonal kernel `phi`:
/// `A = mean_i ln q_i`, `q_i = 1/(N-1) sum_{j != i} phi(c_ij)` (leave one out).
///
/// - raw scale: `A + ln Z`, the KL estimate of the KDE to the uniform distribution
///   (0 for a perfectly uniform sample in the limit, `ln Z` at collapse);
/// - paper scale (default): `(A - ln|S^{d-1}|) / (-ln|S^{d-1}|)`, collapse = 1;
///   defined only for `d >= 19` (below, `ln|S^{d-1}| > 0` flips the sign): use
///   [`Scale::Raw`] there.
///
/// The gradient takes two passes of the pairwise engine (row sums `q_i`, then the
/// weights `W_ij = phi'(c_ij)(1/q_i + 1/q_j)/(N(N-1))`); no `N x N` matrix is held.
/// A heat kernel is re-expanded to machine precision (tail `< 1e-16` of `Z`), since
/// the KDE needs small kernel values to full relative accuracy.
///
/// ```
/// use unisphere::{KdeKl, Kernel, Regularizer, Scale, ndarray::Array2};
/// let d = 32;
/// let mut kl = KdeKl::new(Kernel::heat(d, 2.0 / d as f64)?)?;
/// let collapsed = Array2::<f64>::ones((8, d));
/// assert!((kl.loss(collapsed.view())? - 1.0).abs() < 1e-12);
/// assert!(KdeKl::new(Kernel::bandlimited(d, 2)?).is_err()); // can be negative
/// # Ok::<(), unisphere::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct KdeKl {
    kernel: Kernel,
    /// `(phi, phi')` tabulated to `1e-12` relative wherever the series itself is that
    /// accurate (its rounding bound elsewhere); `None` if that fails.
    table: Option<Table>,
    scale: Scale,
}

/// Relative accuracy of the KL's kernel table.
const KL_TABLE_TOLERANCE: f64 = 1e-12;

/// Grid on which a custom kernel's positivity is checked.
const POSITIVITY_GRID: usize = 4096;

impl KdeKl {
    /// KDE-KL with `kernel`, on the paper scale. The kernel must be positive:
    /// heat kernels are; bandlimited kernels are refused; custom kernels are
    /// checked on a fine grid of `[-1, 1]`.
    pub fn new(kernel: Kernel) -> Result<Self> {
        let kernel = match kernel.kind() {
            KernelKind::Heat { t } => Kernel::heat_with_tolerance(kernel.dim(), t, 1e-16)?,
            KernelKind::Bandlimited { degree } => {
                return Err(invalid(
                    "kernel",
                    format!("bandlimited L = {degree}"),
                    "a positive kernel: KL needs a positive kernel (heat)",
                ));
            }
            _ => {
                let min = (0..=POSITIVITY_GRID)
                    .map(|i| kernel.eval(-1.0 + 2.0 * i as f64 / POSITIVITY_GRID as f64))
                    .fold(f64::INFINITY, f64::min);
                if min <= 0.0 {
                    return Err(invalid(
                        "kernel",
                        format!("custom kernel with min phi = {min:e}"),
                        "a positive kernel: KL needs a positive kernel (heat)",
                    ));
                }
                kernel
            }
        };
        let (phi, slope) = (kernel.series(), kernel.slope_series());
        let floor = |c: f64| (phi.rounding_bound(c), slope.rounding_bound(c));
        let accuracy = Accuracy::Local {
            rel: KL_TABLE_TOLERANCE,
            floor: &floor,
        };
        let table = Table::build(-1.0, 1.0, accuracy, |c| (phi.eval(c), slope.eval(c)));
        Ok(KdeKl {
            kernel,
            table,
            scale: Scale::Paper,
        })
    }

    /// The same objective on another scale.
    pub fn with_scale(mut self, scale: Scale) -> Self {
        self.scale = scale;
        self
    }

    /// The kernel (for heat, the machine-precision expansion actually used).
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// `(offset, factor)` with `loss = (A + offset) * factor`.
    fn affine(&self) -> Result<(f64, f64)> {
        let d = self.kernel.dim();
        match self.scale {
            Scale::Raw => Ok((self.kernel.ln_z(), 1.0)),
            Scale::Paper => {
                if d < 19 {
                    return Err(invalid(
                        "scale",
                        format!("Scale::Paper with d = {d}"),
                        "d >= 19 for the paper scale (ln|S^{d-1}| > 0 below); use Scale::Raw",
                    ));
                }
                let ln_s = ln_sphere_area(d);
                Ok((-ln_s, -1.0 / ln_s))
            }
        }
    }
}

impl Objective for KdeKl {
    fn label(&self) -> String {
        format!("KDE-KL[{}]", crate::kernel::describe(&self.kernel))
    }

    fn evaluate<F: Real>(
        &mut self,
        z: ArrayView2<F>,
        gradient: bool,
    ) -> Result<(f64, Option<Array2<F>>)> {
        let (offset, factor) = self.affine()?;
        check_input(&z, 2, Some(self.kernel.dim()))?;
        let rows = SphereRows::new(&z)?;
        let n = rows.len();
        let kernel = &self.kernel;
        let table = self.table.as_ref();
        // (phi, phi') at every cosine of a tile row, from the table or the series.
        let eval = |g: &[f64], v: &mut [f64], s: Option<&mut [f64]>| match table {
            Some(t) => t.eval_batch(g, v, s),
            None => {
                for (j, &c) in g.iter().enumerate() {
                    v[j] = kernel.eval(c);
                }
                if let Some(s) = s {
                    for (j, &c) in g.iter().enumerate() {
                        s[j] = kernel.eval_d1(c);
                    }
                }
            }
        };
        // Pass 1: leave-one-out densities. Series values a rounding error below zero
        // (the true kernel is positive) count as zero.
        let req = PairRequest {
            row_values: true,
            ..Default::default()
        };
        let densities =
            |_: usize, _: usize, g: &mut [f64], v: &mut [f64], _: Option<&mut [f64]>| {
                eval(g, v, None);
                for x in v.iter_mut() {
                    *x = x.max(0.0);
                }
            };
        let sums = pair_sums(rows.x.view(), &densities, req);
        let nm1 = (n - 1) as f64;
        let mut a = 0.0;
        for (i, s) in sums.row_values.iter().enumerate() {
            if s.is_nan() || *s <= 0.0 {
                return Err(Error::NotRepresentable {
                    what: format!(
                        "the leave-one-out density of row {i} underflows (its neighbours are too far for this kernel); use a larger t"
                    ),
                });
            }
            a += (s / nm1).ln();
        }
        let a = a / n as f64;
        let loss = (a + offset) * factor;
        if !gradient {
            return Ok((loss, None));
        }
        // Pass 2: W_ij = phi'(c_ij) (1/q_i + 1/q_j) / (N (N - 1)).
        let inv_q: Vec<f64> = sums.row_values.iter().map(|s| nm1 / s).collect();
        let req = PairRequest {
            gradient: true,
            ..Default::default()
        };
        let weights = |i: usize, j0: usize, g: &mut [f64], v: &mut [f64], w: Option<&mut [f64]>| {
            if let Some(w) = w {
                eval(g, v, Some(&mut *w));
                for (b, x) in w.iter_mut().enumerate() {
                    *x *= inv_q[i] + inv_q[j0 + b];
                }
            }
        };
        let sums = pair_sums(rows.x.view(), &weights, req);
        let g = sums.grad.expect("gradient requested");
        let grad = rows.chain(&g, factor / (n as f64 * nm1))?;
        Ok((loss, Some(grad)))
    }
}

/// `ln |S^{d-1}| = ln 2 + (d/2) ln pi - ln Gamma(d/2)`.
pub(crate) fn ln_sphere_area(d: usize) -> f64 {
    let h = d as f64 / 2.0;
    std::f64::consts::LN_2 + h * std::f64::consts::PI.ln() - statrs::function::gamma::ln_gamma(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_kernels_are_tabulated_to_relative_accuracy() {
        for d in [24usize, 256, 1024] {
            let kl = KdeKl::new(Kernel::heat(d, 2.0 / d as f64).unwrap()).unwrap();
            let table = kl.table.as_ref().expect("table built");
            for i in 0..=1000 {
                let c = -1.0 + 0.002 * i as f64;
                let (v, s) = table.value_and_slope(c);
                let (pv, ps) = (kl.kernel.eval(c), kl.kernel.eval_d1(c));
                let (fv, fs) = (
                    kl.kernel.series().rounding_bound(c),
                    kl.kernel.slope_series().rounding_bound(c),
                );
                assert!(
                    (v - pv).abs() <= 1e-12 * pv.abs() + fv,
                    "d={d} c={c}: {v:e} vs {pv:e}"
                );
                assert!(
                    (s - ps).abs() <= 1e-12 * ps.abs() + fs,
                    "d={d} c={c}: {s:e} vs {ps:e}"
                );
            }
        }
    }
}
