//! The named tests: their parameters, their kernel `psi` in a form the pairwise
//! engine evaluates fast, their diagonal convention, `psi(1)`, and their Sobolev
//! weights `v_k^2` (closed forms, or quadrature for the projected-ecdf tests).

use super::kernels::{AngularTable, PoissonKernel, SoftmaxKernel};
use super::projected::{self, Projected, ProjectedKernel};
use super::statistic::{FastPow, StatisticKernel};
use crate::error::{Result, invalid};
use crate::kernel::{GegenbauerSeries, LnHarmonicDimensions};
use crate::zonal::{Tabulated, ZonalSeries};
use statrs::function::gamma::ln_gamma;
use std::f64::consts::PI;

/// A test of uniformity and its parameter.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Family {
    Rayleigh,
    Bingham,
    Ajne,
    GineGn,
    GineFn,
    Riesz(f64),
    Pcvm,
    Pad,
    Prt(f64),
    Poisson(f64),
    Softmax(f64),
    /// `v_k^2` for `k = 1, 2, ...`, and a name.
    Sobolev(Vec<f64>, String),
    /// A kernel's weights `w_k` (`k >= 1`), bound to its dimension.
    Kernel(usize, Vec<f64>, String),
}

/// The most Sobolev weights a finite Sobolev test may have.
pub(super) const MAX_WEIGHTS: usize = crate::kernel::MAX_TERMS;

impl Family {
    pub fn name(&self) -> String {
        match self {
            Family::Rayleigh => "Rayleigh".into(),
            Family::Bingham => "Bingham".into(),
            Family::Ajne => "Ajne".into(),
            Family::GineGn => "Gine Gn".into(),
            Family::GineFn => "Gine Fn".into(),
            Family::Riesz(s) if *s == 1.0 => "Bakshaev".into(),
            Family::Riesz(s) => format!("Riesz s={s}"),
            Family::Pcvm => "PCvM".into(),
            Family::Pad => "PAD".into(),
            Family::Prt(t) => format!("PRt t={t}"),
            Family::Poisson(r) => format!("Poisson rho={r}"),
            Family::Softmax(k) => format!("Softmax kappa={k}"),
            Family::Sobolev(_, name) | Family::Kernel(_, _, name) => name.clone(),
        }
    }

    /// The dimension a kernel-based test is bound to.
    pub fn dim(&self) -> Option<usize> {
        match self {
            Family::Kernel(d, _, _) => Some(*d),
            _ => None,
        }
    }

    /// Checked Sobolev weights `v_k^2`, `k = 1..`.
    pub fn checked_weights(w: &[f64]) -> Result<Vec<f64>> {
        if w.is_empty() || w.len() > MAX_WEIGHTS {
            return Err(invalid(
                "vk2",
                format!("{} weights", w.len()),
                &format!("between 1 and {MAX_WEIGHTS} weights v_1^2, v_2^2, ..."),
            ));
        }
        if let Some((k, v)) = w
            .iter()
            .enumerate()
            .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
        {
            return Err(invalid(
                "vk2",
                format!("v_{}^2 = {v}", k + 1),
                "finite, non-negative weights",
            ));
        }
        if w.iter().all(|&v| v == 0.0) {
            return Err(invalid("vk2", "all zero", "at least one positive weight"));
        }
        Ok(w.to_vec())
    }

    /// The statistic's kernel in dimension `d`, whether the diagonal is included,
    /// and `psi(1)`.
    pub fn statistic_kernel(&self, d: usize) -> Result<(StatisticKernel, bool, f64)> {
        let df = d as f64;
        Ok(match self {
            Family::Rayleigh => (StatisticKernel::Moments { v1: 1.0, v2: 0.0 }, true, df),
            Family::Bingham => (
                StatisticKernel::Moments { v1: 0.0, v2: 1.0 },
                true,
                (df + 2.0) * (df - 1.0) / 2.0,
            ),
            Family::Sobolev(w, _) | Family::Kernel(_, w, _) => {
                (series_kernel(w, d), true, self.finite_mean(d)?)
            }
            Family::Ajne | Family::Prt(_) => {
                let t = if let Family::Prt(t) = self { *t } else { 0.5 };
                let k = ProjectedKernel::new(Projected::Rothman(t), d)?;
                let psi0 = k.psi0;
                (
                    StatisticKernel::Angular(AngularTable::rothman(k)),
                    true,
                    psi0,
                )
            }
            Family::Pcvm => {
                let k = ProjectedKernel::new(Projected::Cvm, d)?;
                (
                    StatisticKernel::Angular(AngularTable::smooth_in_u(k)),
                    true,
                    1.0 / 6.0,
                )
            }
            Family::Pad if d == 2 => (StatisticKernel::PadCircle, true, 1.0),
            Family::Pad => {
                let k = ProjectedKernel::new(Projected::AndersonDarling, d)?;
                (
                    StatisticKernel::Angular(AngularTable::smooth_in_u(k)),
                    true,
                    1.0,
                )
            }
            Family::GineGn => (StatisticKernel::GineGn { g: gine_factor(df) }, true, 0.5),
            Family::GineFn => (
                StatisticKernel::Angular(AngularTable::gine_fn(gine_factor(df))),
                true,
                1.5,
            ),
            Family::Riesz(s) => {
                let tau = riesz_mean(df, *s);
                let profile = if *s == 1.0 {
                    StatisticKernel::Bakshaev { tau }
                } else {
                    StatisticKernel::Riesz {
                        tau,
                        pow: FastPow::new(0.5 * s),
                    }
                };
                (profile, true, tau)
            }
            Family::Poisson(rho) => poisson_kernel(df, *rho),
            Family::Softmax(kappa) => {
                let b0 = softmax_ln_weight(df, *kappa, 0).exp();
                let p = SoftmaxKernel { kappa: *kappa, b0 };
                (
                    StatisticKernel::Softmax(Tabulated::for_f64(p)),
                    false,
                    1.0 - b0,
                )
            }
        })
    }

    /// `sum_k v_k^2 N(d, k)` of a finite Sobolev test.
    fn finite_mean(&self, d: usize) -> Result<f64> {
        let w = self.finite_weights().unwrap_or_default();
        let total: f64 = w
            .iter()
            .zip(LnHarmonicDimensions::new(d).skip(1))
            .map(|(v, ln_n)| v * ln_n.exp())
            .sum();
        if total.is_finite() {
            Ok(total)
        } else {
            Err(invalid(
                "vk2",
                format!("{} weights in d = {d}", w.len()),
                "weights whose kernel sum_k v_k^2 N(d, k) is finite (drop high degrees)",
            ))
        }
    }

    /// The weights of a finite Sobolev test (Rayleigh, Bingham, Sobolev, kernels).
    pub fn finite_weights(&self) -> Option<Vec<f64>> {
        match self {
            Family::Rayleigh => Some(vec![1.0]),
            Family::Bingham => Some(vec![0.0, 1.0]),
            Family::Sobolev(w, _) | Family::Kernel(_, w, _) => Some(w.clone()),
            _ => None,
        }
    }

    /// `ln v_k^2` for `k = 1..=k_max` (`-inf` for a zero weight).
    pub fn ln_weights(&self, d: usize, k_max: usize) -> Vec<f64> {
        let df = d as f64;
        let ks = 1..=k_max;
        match self {
            Family::Ajne => projected::ln_weights(Projected::Rothman(0.5), d, k_max),
            Family::Prt(t) => projected::ln_weights(Projected::Rothman(*t), d, k_max),
            Family::Pcvm => projected::ln_weights(Projected::Cvm, d, k_max),
            Family::Pad => projected::ln_weights(Projected::AndersonDarling, d, k_max),
            Family::GineGn => ks.map(|k| gine_ln_weight(df, k)).collect(),
            Family::GineFn => {
                let ajne = projected::ln_weights(Projected::Rothman(0.5), d, k_max);
                ajne.iter()
                    .zip(ks)
                    .map(|(a, k)| {
                        let g = gine_ln_weight(df, k);
                        // One of the two is zero: Ajne has odd degrees, Gn even ones.
                        (4f64.ln() + a).max(g)
                    })
                    .collect()
            }
            Family::Riesz(s) => {
                // v_k^2 = 2^{d+s-2} Gamma(d/2) Gamma((d-1+s)/2) Gamma(k - s/2)
                //         / (sqrt(pi) Gamma(d - 1 + s/2 + k) |Gamma(-s/2)|)
                let s = *s;
                let ln_abs_gamma = ln_gamma(1.0 - 0.5 * s) - (0.5 * s).ln();
                let base = (df + s - 2.0) * 2f64.ln()
                    + ln_gamma(0.5 * df)
                    + ln_gamma(0.5 * (df - 1.0 + s))
                    - 0.5 * PI.ln()
                    - ln_abs_gamma;
                ks.map(|k| {
                    let kf = k as f64;
                    base + ln_gamma(kf - 0.5 * s) - ln_gamma(df - 1.0 + 0.5 * s + kf)
                })
                .collect()
            }
            Family::Poisson(rho) => {
                let ln_b0 = (df - 1.0) * (1.0 - rho).ln() - rho.ln_1p();
                ks.map(|k| ln_b0 + k as f64 * rho.ln()).collect()
            }
            Family::Softmax(kappa) => ks.map(|k| softmax_ln_weight(df, *kappa, k)).collect(),
            Family::Rayleigh | Family::Bingham | Family::Sobolev(..) | Family::Kernel(..) => {
                let w = self.finite_weights().unwrap_or_default();
                ks.map(|k| w.get(k - 1).map_or(f64::NEG_INFINITY, |v| v.ln()))
                    .collect()
            }
        }
    }
}

/// Giné's `G_n` factor: `psi = 1/2 - g sin(theta)`, `g = (d-1)/4 (Gamma((d-1)/2)/Gamma(d/2))^2`.
fn gine_factor(d: f64) -> f64 {
    0.25 * (d - 1.0) * (2.0 * (ln_gamma(0.5 * (d - 1.0)) - ln_gamma(0.5 * d))).exp()
}

/// `ln v_k^2` of Giné's `G_n`: zero for odd `k`; for `k = 2m`,
/// `v^2 = (d-1)(2m-1) / (8 pi (2m+d-1)) (Gamma((d-1)/2) Gamma(m-1/2) / Gamma(m+(d-1)/2))^2`.
fn gine_ln_weight(d: f64, k: usize) -> f64 {
    if k % 2 == 1 {
        return f64::NEG_INFINITY;
    }
    let m = (k / 2) as f64;
    ((d - 1.0) * (2.0 * m - 1.0)).ln() - (8.0 * PI * (2.0 * m + d - 1.0)).ln()
        + 2.0 * (ln_gamma(0.5 * (d - 1.0)) + ln_gamma(m - 0.5) - ln_gamma(m + 0.5 * (d - 1.0)))
}

/// `E |x - y|^s` for independent uniform points:
/// `2^{s+d-2} B((d-1+s)/2, (d-1)/2) / B(1/2, (d-1)/2)`.
fn riesz_mean(d: f64, s: f64) -> f64 {
    ((s + d - 2.0) * 2f64.ln() + ln_gamma(0.5 * (d - 1.0 + s)) + ln_gamma(0.5 * (d - 1.0))
        - ln_gamma(d - 1.0 + 0.5 * s)
        - projected::ln_beta_marginal(d))
    .exp()
}

/// `ln v_k^2` of the softmax kernel `e^{kappa (c - 1)}`:
/// `e^{-kappa} Gamma(d/2) (kappa/2)^k sum_m (kappa/2)^{2m} / (m! Gamma(m + k + d/2))`
/// (the Gegenbauer coefficients of `e^{kappa c}`, a Bessel-function series).
fn softmax_ln_weight(d: f64, kappa: f64, k: usize) -> f64 {
    let h = (0.5 * kappa).ln();
    let nu = k as f64 + 0.5 * d;
    let mut terms = Vec::new();
    let mut peak = f64::NEG_INFINITY;
    for m in 0.. {
        let mf = m as f64;
        let t = 2.0 * mf * h - ln_gamma(mf + 1.0) - ln_gamma(mf + nu);
        terms.push(t);
        peak = peak.max(t);
        // Past the peak the terms decrease geometrically.
        if t < peak - 40.0 {
            break;
        }
    }
    let sum: f64 = terms.iter().map(|t| (t - peak).exp()).sum();
    -kappa + ln_gamma(0.5 * d) + k as f64 * h + peak + sum.ln()
}

/// A finite Sobolev or kernel test's statistic kernel from its weights `w`
/// (degrees 1, 2, ...): from the moments up to degree 2, else its tabulated series.
fn series_kernel(w: &[f64], d: usize) -> StatisticKernel {
    if w.len() <= 2 {
        let v = |k: usize| w.get(k).copied().unwrap_or(0.0);
        return StatisticKernel::Moments { v1: v(0), v2: v(1) };
    }
    let coeffs = std::iter::once(0.0)
        .chain(
            w.iter()
                .zip(LnHarmonicDimensions::new(d).skip(1))
                .map(|(v, ln_n)| v * ln_n.exp()),
        )
        .collect();
    let series = ZonalSeries::new(GegenbauerSeries::new(d as f64, coeffs));
    StatisticKernel::Series(Tabulated::for_f64(series))
}

/// The Poisson test's kernel (its constant term removed), no diagonal, `psi(1)`.
fn poisson_kernel(df: f64, rho: f64) -> (StatisticKernel, bool, f64) {
    let b0 = (df - 1.0) * (1.0 - rho).ln() - rho.ln_1p();
    let p = PoissonKernel {
        d: df,
        rho,
        b0: b0.exp(),
    };
    (
        StatisticKernel::Poisson(Tabulated::for_f64(p)),
        false,
        1.0 - b0.exp(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 12 Sobolev weights against sphunif's `weights_dfs_Sobolev`
    /// (tests/data/uniformity_reference.json). sphunif integrates the PCvM and PAD
    /// weights with 320 Gauss–Legendre nodes for d >= 4 (PCvM) or d = 2, d >= 4 (PAD).
    #[test]
    fn weights_agree_with_sphunif() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/uniformity_reference.json"
        ))
        .unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut worst = 0.0f64;
        for case in json["weights"].as_array().unwrap() {
            let d = case["d"].as_u64().unwrap() as usize;
            let param = case["param"][0].as_f64().unwrap_or(f64::NAN);
            let family = match case["test"].as_str().unwrap() {
                "ajne" => Family::Ajne,
                "gine_gn" => Family::GineGn,
                "gine_fn" => Family::GineFn,
                "bakshaev" => Family::Riesz(1.0),
                "riesz" => Family::Riesz(param),
                "pcvm" => Family::Pcvm,
                "pad" => Family::Pad,
                "prt" => Family::Prt(param),
                "poisson" => Family::Poisson(param),
                "softmax" => Family::Softmax(param),
                other => panic!("unknown test {other}"),
            };
            let want: Vec<f64> = case["vk2"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let got = family.ln_weights(d, want.len());
            let top = want.iter().fold(0.0f64, |m, v| m.max(*v));
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                let err = (g.exp() - w).abs() / top;
                worst = worst.max(err);
                assert!(
                    err < 1e-9,
                    "{} d = {d} k = {}: {} vs {w}",
                    family.name(),
                    k + 1,
                    g.exp()
                );
            }
        }
        eprintln!("worst relative weight discrepancy: {worst:e}");
    }
}
