//! Upper tail probabilities of `sum_j lambda_j chi^2_{h_j}` (independent, `lambda_j > 0`)
//! by numerical inversion of the characteristic function (Imhof's integral,
//! discretised as in Davies' method with explicit error bounds).
//!
//! With `phi(u) = prod_j (1 - 2 i lambda_j u)^{-h_j/2}` and a step `Delta`,
//! `P(Q > y) ~= 1/2 + sum_{k >= 0} Im[phi(u_k) e^{-i u_k y}] / (pi (k + 1/2))`,
//! `u_k = (k + 1/2) Delta`. The discretisation adds the alternating aliases
//! `P(Q > y + 2 pi/Delta)` and `P(Q < y - 2 pi/Delta)`: `Delta` is chosen so that a
//! Chernoff bound makes the first below [`EPS`] and the second impossible. The sum
//! stops where the bound `|phi(U)| (Delta/U + 1/k_U) / pi` on the rest is below [`EPS`]
//! (`k_U` is the local decay exponent of `|phi|`, which only grows with `u`).
//! A single chi-square (one distinct weight) uses the regularised incomplete gamma function.

use crate::error::{Error, Result};
use statrs::function::gamma::gamma_ur;
use std::f64::consts::PI;

/// Bound on each of the two error terms (aliasing and truncation).
const EPS: f64 = 1e-11;
/// The most terms the series may use.
const MAX_STEPS: usize = 50_000_000;

/// `P(sum_j lambda_j chi^2_{h_j} > y)` for `terms = [(lambda_j, h_j)]`.
pub(super) fn upper_tail(terms: &[(f64, f64)], y: f64) -> Result<f64> {
    let terms: Vec<(f64, f64)> = terms
        .iter()
        .copied()
        .filter(|&(l, h)| l > 0.0 && h > 0.0)
        .collect();
    if terms.is_empty() {
        return Ok(if y < 0.0 { 1.0 } else { 0.0 });
    }
    if y <= 0.0 {
        return Ok(1.0);
    }
    let lmax = terms.iter().fold(0.0f64, |m, t| m.max(t.0));
    let lmin = terms.iter().fold(f64::INFINITY, |m, t| m.min(t.0));
    if lmax - lmin <= 1e-15 * lmax {
        let h: f64 = terms.iter().map(|t| t.1).sum();
        return Ok(gamma_ur(0.5 * h, 0.5 * y / lmax));
    }
    let mean: f64 = terms.iter().map(|(l, h)| l * h).sum();
    let sd = terms
        .iter()
        .map(|(l, h)| 2.0 * l * l * h)
        .sum::<f64>()
        .sqrt();

    // Period T = 2 pi / Delta >= y, with P(Q > y + T) <= EPS.
    let mut period = y.max(mean + 10.0 * sd - y).max(sd);
    let mut guard = 0;
    while ln_chernoff(&terms, lmax, mean, y + period) > EPS.ln() {
        period *= 1.5;
        guard += 1;
        if guard > 400 {
            return Err(not_converged());
        }
    }
    let delta = 2.0 * PI / period;

    let mut sum = 0.0f64;
    let mut comp = 0.0f64;
    for k in 0..MAX_STEPS {
        let kh = k as f64 + 0.5;
        let u = kh * delta;
        let (mut ln_mod, mut phase, mut decay) = (0.0f64, -u * y, 0.0f64);
        for &(l, h) in &terms {
            let a = 2.0 * l * u;
            let a2 = a * a;
            ln_mod -= 0.25 * h * a2.ln_1p();
            phase += 0.5 * h * a.atan();
            decay += 0.5 * h * a2 / (1.0 + a2);
        }
        let modulus = ln_mod.exp();
        // Kahan summation of the series.
        let term = modulus * phase.sin() / (PI * kh) - comp;
        let t = sum + term;
        comp = (t - sum) - term;
        sum = t;
        if decay > 0.0 && modulus * (delta / u + 1.0 / decay) / PI < EPS {
            return Ok((0.5 + sum).clamp(0.0, 1.0));
        }
    }
    Err(not_converged())
}

fn not_converged() -> Error {
    Error::TruncationLimit {
        cap: MAX_STEPS,
        hint: "the characteristic-function series of the asymptotic distribution does not \
               converge fast enough; use Monte Carlo p-values"
            .into(),
    }
}

/// `ln` of the Chernoff bound `min_s e^{-s x} E e^{s Q}` on `P(Q > x)` (`x > mean`).
fn ln_chernoff(terms: &[(f64, f64)], lmax: f64, mean: f64, x: f64) -> f64 {
    if x <= mean {
        return 0.0;
    }
    // The minimiser solves sum h lambda / (1 - 2 lambda s) = x on (0, 1/(2 lmax)).
    let (mut lo, mut hi) = (0.0f64, 0.5 / lmax);
    for _ in 0..200 {
        let s = 0.5 * (lo + hi);
        let m: f64 = terms.iter().map(|(l, h)| h * l / (1.0 - 2.0 * l * s)).sum();
        if m < x {
            lo = s;
        } else {
            hi = s;
        }
    }
    let s = lo;
    -s * x
        - terms
            .iter()
            .map(|(l, h)| 0.5 * h * (-2.0 * l * s).ln_1p())
            .sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_exponentials_have_a_closed_form() {
        // chi^2_2 scaled by lambda is exponential with mean 2 lambda.
        let (l1, l2) = (1.0f64, 0.3f64);
        for &y in &[0.01, 0.5, 2.0, 7.0, 25.0, 40.0] {
            let want = (l1 * (-y / (2.0 * l1)).exp() - l2 * (-y / (2.0 * l2)).exp()) / (l1 - l2);
            let got = upper_tail(&[(l1, 2.0), (l2, 2.0)], y).unwrap();
            assert!((got - want).abs() < 1e-10, "y = {y}: {got} vs {want}");
        }
    }

    #[test]
    fn split_equal_weights_agree_with_the_gamma_function() {
        // 0.7 chi^2_5 written as 0.7 chi^2_2 + 0.7 chi^2_3 + a negligible third term.
        for &y in &[0.1, 1.0, 3.5, 10.0, 30.0] {
            let want = gamma_ur(2.5, y / 1.4);
            let got = upper_tail(&[(0.7, 2.0), (0.7 * (1.0 + 1e-9), 3.0)], y).unwrap();
            assert!((got - want).abs() < 1e-9, "y = {y}: {got} vs {want}");
        }
    }
}
