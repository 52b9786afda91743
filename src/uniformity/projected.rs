//! The projected-ecdf statistics (PCvM, PAD, PRt; Ajne is PRt at `t = 1/2`):
//! their kernels to near machine precision and their Sobolev weights.
//!
//! For a measure `W` on `[0, 1]` the statistic is
//! `n integral_gamma integral (F_{n,gamma}(x) - F_d(x))^2 dW(F_d(x)) dsigma(gamma)`, with
//! `F_{n,gamma}` the ecdf of `gamma . x_i` and `F_d` the cdf of one coordinate of a
//! uniform point. It is the V-statistic `(1/n) sum_{i,j} psi(x_i . x_j)` with
//! `psi(theta) = integral (G_x(theta) - F_d(x)^2) dW(F_d(x))`, where
//! `G_x(theta) = P(gamma . a <= x, gamma . b <= x)` for unit `a, b` at angle `theta`.
//!
//! Writing `u = sin(theta/2)`, the derivative of `G_x` in `theta` is
//! `-(1/2 pi) (1 - x^2/cos^2(theta/2))_+^{(d-2)/2}` (the 2-D projection of a uniform
//! point has `P(r > m) = (1 - m^2)^{(d-2)/2}`), hence
//! `psi(u) = psi(0) - (1/pi) integral_0^u J(sqrt(1 - s^2)) ds`, with
//! `J(c) = integral_{-1}^{1} (1 - y^2)^{(d-2)/2} w(c y) dy` and `w = dW(F_d)/dx`;
//! `psi(0) = integral F_d (1 - F_d) dW`. For PRt (`W` a point mass at `t`) the
//! inner integral is explicit, for PCvM (`w = rho_d`) and PAD (`w = rho_d/(F_d (1 - F_d))`)
//! it is a one-dimensional quadrature.
//!
//! The Sobolev weights follow from the expansion of the centred cap indicator:
//! `1{c <= x} - F_d(x) = sum_k alpha_k(x) N(d, k) P_k(c)` with
//! `alpha_k(x) = -(1 - x^2)^{(d-1)/2} P_{k-1}(d + 2; x) / ((d - 1) B(1/2, (d-1)/2))`
//! (Rodrigues' formula), so `v_k^2 = integral alpha_k(x)^2 dW(F_d(x))`: a positive
//! integrand, so every weight keeps its relative accuracy.

use super::quadrature::{ChebyshevPieces, gauss_legendre, graded_integral};
use crate::error::{Error, Result};
use crate::numerics::{gegenbauer_values, ln_beta_half, uniform_marginal_rule};
use statrs::function::beta::beta_reg;
use std::f64::consts::{FRAC_PI_2, PI};

/// `ln B(1/2, (d-1)/2)`, the normaliser of `rho_d`.
pub(super) fn ln_beta_marginal(d: f64) -> f64 {
    ln_beta_half(0.5 * (d - 1.0))
}

/// `P(X > x)` for one coordinate `X` of a uniform point on `S^{d-1}`.
pub(super) fn upper_tail(d: f64, x: f64) -> f64 {
    upper_tail_with(d, x, (1.0 - x) * (1.0 + x))
}

/// [`upper_tail`] given `1 - x^2` as well (accurate where `x` rounds to `+-1`).
fn upper_tail_with(d: f64, x: f64, one_minus_x2: f64) -> f64 {
    let a = 0.5 * (d - 1.0);
    let ax = x.abs().min(1.0);
    let s = if ax < 0.5 {
        0.5 - 0.5 * beta_reg(0.5, a, ax * ax)
    } else {
        0.5 * beta_reg(a, 0.5, one_minus_x2.clamp(0.0, 1.0))
    };
    if x >= 0.0 { s } else { 1.0 - s }
}

/// The quantile `x_t <= 0` of `F_d` at `t <= 1/2` (bisection to the last bit).
fn quantile(d: f64, t: f64) -> f64 {
    let (mut lo, mut hi) = (-1.0f64, 0.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        // F_d(mid) = P(X > -mid).
        if upper_tail(d, -mid) < t {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Gauss–Legendre nodes per panel of the angular integrals.
const RULE: usize = 64;

/// `integral_0^b f(phi) dphi` (`b <= pi/2`) for an integrand carrying the factor
/// `cos^{d-1} phi` (or one decaying as fast): in high `d` on the window
/// `[0, sqrt(160/(d-1))]` beyond which that factor is below `e^{-80}`; otherwise
/// graded towards `pi/2` at the scale `layer`.
fn angular_integral(
    rule: &[(f64, f64)],
    d: f64,
    b: f64,
    layer: f64,
    f: impl Fn(f64) -> f64,
) -> f64 {
    let window = (160.0 / (d - 1.0)).sqrt();
    if window < 1.5 {
        let hi = b.min(window);
        let (mid, half) = (0.5 * hi, 0.5 * hi);
        rule.iter().map(|(x, w)| half * w * f(mid + half * x)).sum()
    } else {
        graded_integral(rule, b, layer, f)
    }
}

/// Which projected-ecdf statistic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Projected {
    /// Cramér–von Mises: `dW(F) = dF`.
    Cvm,
    /// Anderson–Darling: `dW(F) = dF / (F (1 - F))`.
    AndersonDarling,
    /// Rothman: `W` a point mass at `t` (equivalently `1 - t`).
    Rothman(f64),
}

/// A projected-ecdf kernel: `psi` as a function of `u = sin(theta/2) = sqrt((1 - c)/2)`,
/// with its derivative in `u`, and `psi(0)`.
pub(super) struct ProjectedKernel {
    d: f64,
    /// `psi(u = 0)`, the diagonal value.
    pub psi0: f64,
    shape: Shape,
}

enum Shape {
    /// `-(1/pi) integral_0^u j` with `j` interpolated (PCvM, PAD).
    Interpolated(ChebyshevPieces),
    /// PRt: `x_t`, `u_t = sqrt(1 - x_t^2)`, and a Gauss–Legendre rule.
    Rothman {
        x_t: f64,
        u_t: f64,
        t: f64,
        rule: Vec<(f64, f64)>,
    },
}

impl ProjectedKernel {
    /// Builds the kernel in dimension `d >= 2` (PAD needs `d >= 3`; in `d = 2` it
    /// has a logarithmic singularity and the caller uses its closed form).
    pub fn new(kind: Projected, d: usize) -> Result<Self> {
        let df = d as f64;
        match kind {
            Projected::Rothman(t) => {
                let t = t.min(1.0 - t);
                let x_t = quantile(df, t);
                Ok(ProjectedKernel {
                    d: df,
                    psi0: t * (1.0 - t),
                    shape: Shape::Rothman {
                        x_t,
                        u_t: ((1.0 - x_t) * (1.0 + x_t)).sqrt(),
                        t,
                        rule: gauss_legendre(RULE),
                    },
                })
            }
            Projected::Cvm | Projected::AndersonDarling => {
                let ln_b = ln_beta_marginal(df);
                let pad = kind == Projected::AndersonDarling;
                // w(x), given x and 1 - x^2.
                let w = move |x: f64, omx2: f64| {
                    let rho = ((0.5 * (df - 3.0)) * omx2.ln() - ln_b).exp();
                    if pad {
                        rho / (upper_tail_with(df, x, omx2) * upper_tail_with(df, -x, omx2))
                    } else {
                        rho
                    }
                };
                let rule = gauss_legendre(RULE);
                let j = |s: f64| {
                    let c = ((1.0 - s) * (1.0 + s)).sqrt();
                    2.0 * angular_integral(&rule, df, FRAC_PI_2, s, |phi: f64| {
                        let (sn, cs) = phi.sin_cos();
                        // 1 - c^2 sin^2 = cos^2 + s^2 sin^2, without cancellation.
                        let omx2 = cs * cs + s * s * sn * sn;
                        cs.powf(df - 1.0) * w(c * sn, omx2)
                    })
                };
                let pieces = ChebyshevPieces::new(j).ok_or_else(|| Error::TruncationLimit {
                    cap: 256 * 33,
                    hint: format!(
                        "the {kind:?} kernel in d = {d} cannot be interpolated; use Monte Carlo p-values"
                    ),
                })?;
                Ok(ProjectedKernel {
                    d: df,
                    psi0: if pad { 1.0 } else { 1.0 / 6.0 },
                    shape: Shape::Interpolated(pieces),
                })
            }
        }
    }

    /// For PRt, `(u_t, psi beyond u_t)`: the kernel is constant `-t^2` for `u >= u_t`.
    pub fn cutoff(&self) -> Option<(f64, f64)> {
        match &self.shape {
            Shape::Rothman { u_t, t, .. } => Some((*u_t, -t * t)),
            Shape::Interpolated(_) => None,
        }
    }

    /// `-pi dpsi/du` at `u`.
    pub fn j(&self, u: f64) -> f64 {
        match &self.shape {
            Shape::Interpolated(p) => p.value(u),
            Shape::Rothman { u_t, .. } => {
                if u >= *u_t {
                    return 0.0;
                }
                // ((u_t^2 - u^2)/(1 - u^2))^{(d-2)/2} / sqrt(1 - u^2), as a ratio so that
                // neither power underflows in high d.
                let one = (1.0 - u) * (1.0 + u);
                let ratio = (u_t - u) * (u_t + u) / one;
                ratio.powf(0.5 * (self.d - 2.0)) / one.sqrt()
            }
        }
    }

    /// For PRt, `dpsi/dv` at `v = sqrt(u_t - u)`: `(2 v/pi) j(u)`, written so that it
    /// stays finite as `v -> 0` when `u_t = 1` (`t = 1/2`, Ajne).
    pub fn rothman_slope_v(&self, v: f64) -> f64 {
        let Some((u_t, _)) = self.cutoff() else {
            return 0.0;
        };
        let u = u_t - v * v;
        // 1 - u, exactly.
        let omu = (1.0 - u_t) + v * v;
        let (q, ratio) = if omu > 0.0 {
            (v / omu.sqrt(), v * v * (u_t + u) / (omu * (1.0 + u)))
        } else {
            (1.0, 1.0)
        };
        2.0 / PI * q * ratio.powf(0.5 * (self.d - 2.0)) / (1.0 + u).sqrt()
    }

    /// `psi(u)`.
    pub fn psi(&self, u: f64) -> f64 {
        match &self.shape {
            Shape::Interpolated(p) => self.psi0 - p.integral(u) / PI,
            Shape::Rothman { x_t, u_t, rule, .. } => {
                // s = u_t sin(phi): j ds = (u_t cos phi)^{d-1} / (1 - u_t^2 sin^2 phi)^{(d-1)/2} dphi.
                let b = (u.min(*u_t) / u_t).min(1.0).asin();
                let e = self.d - 1.0;
                let integral = angular_integral(rule, self.d, b, x_t.abs(), |phi: f64| {
                    let (sn, cs) = phi.sin_cos();
                    let den = cs * cs + x_t * x_t * sn * sn;
                    (u_t * cs / den.sqrt()).powf(e)
                });
                self.psi0 - integral / PI
            }
        }
    }
}

/// `ln v_k^2` for `k = 1..=k_max`.
pub(super) fn ln_weights(kind: Projected, d: usize, k_max: usize) -> Vec<f64> {
    let df = d as f64;
    let ln_b = ln_beta_marginal(df);
    let ln_const = -2.0 * (df - 1.0).ln() - 2.0 * ln_b;
    match kind {
        Projected::Rothman(t) => {
            let x = quantile(df, t.min(1.0 - t));
            let base = ln_const + (df - 1.0) * ((1.0 - x) * (1.0 + x)).ln();
            let mut out = Vec::with_capacity(k_max);
            gegenbauer_values(df + 2.0, x, k_max, |_, p| {
                out.push(base + 2.0 * p.abs().ln())
            });
            out
        }
        Projected::Cvm | Projected::AndersonDarling => {
            // (1 - x^2)^{d-1} rho_d = rho_{3d-2} B_{3d-2} / B_d.
            let m = 3 * d - 2;
            let base = ln_const + ln_beta_marginal(m as f64) - ln_b;
            let nodes = if m <= 64 {
                2 * k_max + 3 * d + 60
            } else {
                k_max + 200
            };
            let mut acc = vec![0.0f64; k_max];
            for (c, w) in uniform_marginal_rule(m, nodes) {
                let g = if kind == Projected::AndersonDarling {
                    w / (upper_tail(df, c) * upper_tail(df, -c))
                } else {
                    w
                };
                gegenbauer_values(df + 2.0, c, k_max, |j, p| acc[j] += g * p * p);
            }
            acc.into_iter().map(|a| base + a.ln()).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_forms_in_low_dimension() {
        // PCvM, d = 3: 1/6 - u/4. PAD, d = 3: 1 - 2 ln(1 + u). Ajne: 1/4 - asin(u)/pi.
        let cvm = ProjectedKernel::new(Projected::Cvm, 3).unwrap();
        let pad = ProjectedKernel::new(Projected::AndersonDarling, 3).unwrap();
        let ajne = ProjectedKernel::new(Projected::Rothman(0.5), 5).unwrap();
        // PCvM, d = 2: 1/6 - theta/(2 pi) + theta^2/(4 pi^2).
        let cvm2 = ProjectedKernel::new(Projected::Cvm, 2).unwrap();
        for &u in &[0.0, 1e-4, 0.2, 0.5, 0.9, 1.0] {
            assert!(
                (cvm.psi(u) - (1.0 / 6.0 - u / 4.0)).abs() < 1e-13,
                "u = {u}"
            );
            assert!(
                (pad.psi(u) - (1.0 - 2.0 * (1.0 + u).ln())).abs() < 1e-12,
                "u = {u}"
            );
            assert!(
                (ajne.psi(u) - (0.25 - u.asin() / PI)).abs() < 1e-13,
                "u = {u}"
            );
            let th = 2.0 * u.asin();
            let want = 1.0 / 6.0 - th / (2.0 * PI) + th * th / (4.0 * PI * PI);
            assert!((cvm2.psi(u) - want).abs() < 1e-13, "u = {u}");
        }
    }

    #[test]
    fn rothman_kernel_reaches_minus_t_squared_at_the_cutoff() {
        for &d in &[2, 3, 4, 9, 64] {
            let k = ProjectedKernel::new(Projected::Rothman(0.2), d).unwrap();
            let (u_t, beyond) = k.cutoff().unwrap();
            assert!(
                (k.psi(u_t) - beyond).abs() < 1e-13,
                "d = {d}: {}",
                k.psi(u_t)
            );
        }
    }

    #[test]
    fn weights_match_closed_forms_in_d3() {
        let k = 40;
        let cvm = ln_weights(Projected::Cvm, 3, k);
        let pad = ln_weights(Projected::AndersonDarling, 3, k);
        for (i, (a, b)) in cvm.iter().zip(&pad).enumerate() {
            let kf = (i + 1) as f64;
            let want_cvm = 1.0 / (16.0 * (kf - 0.5) * (kf + 0.5) * (kf + 1.5));
            let want_pad = 1.0 / (kf * (kf + 1.0) * (2.0 * kf + 1.0));
            assert!((a.exp() / want_cvm - 1.0).abs() < 1e-12, "k = {kf}");
            assert!((b.exp() / want_pad - 1.0).abs() < 1e-11, "k = {kf}");
        }
    }
}
