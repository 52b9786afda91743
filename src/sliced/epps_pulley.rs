//! The Epps–Pulley statistic of 1-D samples against a target characteristic
//! function, on LeJEPA's trapezoid grid, with its closed-form gradient.

use crate::error::{Result, invalid};

/// The integration grid: knots `t_k = k T/(K - 1)`, `k = 0..K-1`, and weights
/// `omega_k = c_k (T/(K-1)) exp(-t_k^2/2)` with `c_k = 1` at both ends and 2 inside
/// (the trapezoid rule on `[0, T]`, doubled because the integrand is even).
///
/// ```
/// use unisphere::EppsPulleyGrid;
/// let g = EppsPulleyGrid::default(); // T = 3, K = 17, as LeJEPA
/// assert_eq!(g.knots().len(), 17);
/// assert!((g.knots()[16] - 3.0).abs() < 1e-15);
/// assert!(EppsPulleyGrid::new(3.0, 16).is_err()); // K must be odd
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EppsPulleyGrid {
    t_max: f64,
    knots: Vec<f64>,
    weights: Vec<f64>,
}

/// `exp(-t^2/2)`, the characteristic function of `N(0, 1)`: SIGReg's target, the
/// weight function of the grid, and SUSReg's target above 256 dimensions.
pub(crate) fn standard_normal_cf(t: f64) -> f64 {
    (-0.5 * t * t).exp()
}

impl Default for EppsPulleyGrid {
    fn default() -> Self {
        EppsPulleyGrid::new(3.0, 17).expect("the default grid is valid")
    }
}

impl EppsPulleyGrid {
    /// The grid with `knots` points on `[0, t_max]`; `knots` odd, `3 <= knots <= 1025`,
    /// `t_max` finite with `0 < t_max <= 1000`.
    pub fn new(t_max: f64, knots: usize) -> Result<Self> {
        if !(t_max.is_finite() && t_max > 0.0 && t_max <= 1000.0) {
            return Err(invalid(
                "t_max",
                t_max,
                "a finite integration limit 0 < T <= 1000 (LeJEPA: 3)",
            ));
        }
        if knots < 3 || knots.is_multiple_of(2) || knots > 1025 {
            return Err(invalid(
                "knots",
                knots,
                "an odd number of knots between 3 and 1025 (LeJEPA: 17)",
            ));
        }
        let dt = t_max / (knots - 1) as f64;
        let knots_v: Vec<f64> = (0..knots).map(|k| k as f64 * dt).collect();
        let weights = knots_v
            .iter()
            .enumerate()
            .map(|(k, t)| {
                let c = if k == 0 || k == knots - 1 { 1.0 } else { 2.0 };
                c * dt * standard_normal_cf(*t)
            })
            .collect();
        Ok(EppsPulleyGrid {
            t_max,
            knots: knots_v,
            weights,
        })
    }

    /// The upper integration limit `T`.
    pub fn t_max(&self) -> f64 {
        self.t_max
    }

    /// The knots `t_k`.
    pub fn knots(&self) -> &[f64] {
        &self.knots
    }

    /// The weights `omega_k`.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The Gaussian target `exp(-t_k^2/2)` at every knot.
    pub(crate) fn gaussian_target(&self) -> Vec<f64> {
        self.knots.iter().map(|&t| standard_normal_cf(t)).collect()
    }

    /// The knot spacing `T/(K - 1)`.
    pub(crate) fn spacing(&self) -> f64 {
        self.knots[1]
    }

    /// `EP` of the sample `u` against the target values `psi[k] = psi(t_k)`, and, if
    /// `grad` is given, `dEP/du_n` written into it:
    /// `EP = N sum_k omega_k [(C_k - psi_k)^2 + S_k^2]`,
    /// `dEP/du_n = 2 sum_k omega_k t_k [S_k cos(t_k u_n) - (C_k - psi_k) sin(t_k u_n)]`.
    ///
    /// The knots are equally spaced, so `exp(i t_k u) = exp(i dt u)^k`: one `sin_cos`
    /// per sample and a complex recurrence over the knots.
    pub(crate) fn statistic(
        &self,
        u: impl Iterator<Item = f64> + Clone,
        n: usize,
        psi: &[f64],
        grad: Option<&mut [f64]>,
    ) -> f64 {
        let kk = self.knots.len();
        let mut cos_sum = vec![0.0f64; kk];
        let mut sin_sum = vec![0.0f64; kk];
        self.add_sums(u.clone(), &mut cos_sum, &mut sin_sum);
        self.statistic_of_sums(&cos_sum, &sin_sum, n, psi, u, grad)
    }

    /// Adds `sum_n cos(t_k u_n)` into `cos_sum[k]` and `sum_n sin(t_k u_n)` into
    /// `sin_sum[k]`: the characteristic-function sums of the sample `u`.
    pub(crate) fn add_sums(
        &self,
        u: impl Iterator<Item = f64>,
        cos_sum: &mut [f64],
        sin_sum: &mut [f64],
    ) {
        let kk = self.knots.len();
        let dt = self.spacing();
        for un in u {
            let (s1, c1) = (dt * un).sin_cos();
            let (mut c, mut s) = (1.0f64, 0.0f64);
            cos_sum[0] += 1.0;
            for k in 1..kk {
                let cn = c * c1 - s * s1;
                s = s * c1 + c * s1;
                c = cn;
                cos_sum[k] += c;
                sin_sum[k] += s;
            }
        }
    }

    /// [`statistic`](Self::statistic) of a sample of `n` points from its sums
    /// ([`add_sums`](Self::add_sums)); `dEP/du` of the points `u` (any of the `n`,
    /// e.g. one rank's) written into `grad` if given.
    pub(crate) fn statistic_of_sums(
        &self,
        cos_sum: &[f64],
        sin_sum: &[f64],
        n: usize,
        psi: &[f64],
        u: impl Iterator<Item = f64>,
        grad: Option<&mut [f64]>,
    ) -> f64 {
        let kk = self.knots.len();
        let dt = self.spacing();
        let nf = n as f64;
        let mut ep = 0.0;
        // gamma_k = 2 omega_k t_k (S_k + i (C_k - psi_k)); dEP/du_n = Re sum_k gamma_k e^{i t_k u_n}
        let mut gamma_re = vec![0.0f64; kk];
        let mut gamma_im = vec![0.0f64; kk];
        for k in 0..kk {
            let ck = cos_sum[k] / nf - psi[k];
            let sk = sin_sum[k] / nf;
            ep += self.weights[k] * (ck * ck + sk * sk);
            gamma_re[k] = 2.0 * self.weights[k] * self.knots[k] * sk;
            gamma_im[k] = 2.0 * self.weights[k] * self.knots[k] * ck;
        }
        if let Some(g) = grad {
            for (gn, un) in g.iter_mut().zip(u) {
                let (s1, c1) = (dt * un).sin_cos();
                // Horner in z = e^{i dt u}: sum_k gamma_k z^k
                let (mut re, mut im) = (gamma_re[kk - 1], gamma_im[kk - 1]);
                for k in (0..kk - 1).rev() {
                    let r = re * c1 - im * s1 + gamma_re[k];
                    im = re * s1 + im * c1 + gamma_im[k];
                    re = r;
                }
                *gn = re;
            }
        }
        nf * ep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_trapezoid_times_gaussian() {
        let g = EppsPulleyGrid::default();
        let dt = 3.0 / 16.0;
        assert!((g.weights()[0] - dt).abs() < 1e-16);
        assert!((g.weights()[5] - 2.0 * dt * (-0.5 * (5.0 * dt) * (5.0 * dt)).exp()).abs() < 1e-16);
        assert!((g.weights()[16] - dt * (-4.5f64).exp()).abs() < 1e-16);
    }

    #[test]
    fn statistic_and_gradient_match_direct_formulas() {
        let g = EppsPulleyGrid::new(2.5, 9).unwrap();
        let u = [0.3, -1.2, 2.2, 0.05, -0.7];
        let psi: Vec<f64> = g.knots().iter().map(|t| (-0.5 * t * t).exp()).collect();
        let mut grad = [0.0; 5];
        let ep = g.statistic(u.iter().copied(), 5, &psi, Some(&mut grad));
        let direct = |u: &[f64]| {
            let n = u.len() as f64;
            n * g
                .knots()
                .iter()
                .zip(g.weights())
                .zip(&psi)
                .map(|((t, w), p)| {
                    let c = u.iter().map(|x| (t * x).cos()).sum::<f64>() / n - p;
                    let s = u.iter().map(|x| (t * x).sin()).sum::<f64>() / n;
                    w * (c * c + s * s)
                })
                .sum::<f64>()
        };
        assert!((ep - direct(&u)).abs() < 1e-14);
        for n in 0..5 {
            let mut up = u;
            let mut um = u;
            up[n] += 1e-6;
            um[n] -= 1e-6;
            let fd = (direct(&up) - direct(&um)) / 2e-6;
            assert!((grad[n] - fd).abs() < 1e-8, "{n}: {} vs {fd}", grad[n]);
        }
    }
}
