//! Upper tail probabilities of the centred sum `Q - E Q`, `Q = sum_j lambda_j chi^2_{h_j}`
//! (independent, `lambda_j > 0`), by numerical inversion of the characteristic
//! function (Imhof's integral, discretised as in Davies' method, with explicit
//! error bounds).
//!
//! With `phi(u) = E e^{i u (Q - E Q)}` and a step `Delta`,
//! `P(Q - E Q > y) ~= 1/2 + sum_{k >= 0} Im[phi(u_k) e^{-i u_k y}] / (pi (k + 1/2))`,
//! `u_k = (k + 1/2) Delta`. The discretisation adds the alternating aliases
//! `P(Q - E Q > y + T)` and `P(Q - E Q < y - T)`, `T = 2 pi/Delta`: `T` is chosen so
//! that Chernoff bounds make both below [`EPS`]. The sum stops where the bound
//! `|phi(U)| (Delta/U + 1/k_U) / pi` on the rest is below [`EPS`] (`k_U` is the local
//! decay exponent of `|phi|`, which only grows with `u`). Working with the centred
//! variable keeps full precision when the spread is tiny next to the mean (high `d`).
//! A single chi-square (one distinct weight) uses the regularised incomplete gamma function.

use crate::error::{Error, Result};
use statrs::function::gamma::gamma_ur;
use std::f64::consts::PI;

/// Bound on each of the two error terms (aliasing and truncation).
const EPS: f64 = 1e-11;
/// Upper tail probabilities with a Chernoff bound below `e^{-745}` (under the
/// smallest subnormal `f64`) are 0.
const LN_NEGLIGIBLE: f64 = -745.0;
/// The most terms the series may use.
const MAX_STEPS: usize = 50_000_000;

/// `P(Q - E Q > y)` for `Q = sum_j lambda_j chi^2_{h_j}`, `terms = [(lambda_j, h_j)]`.
pub(super) fn upper_tail_centred(terms: &[(f64, f64)], y: f64) -> Result<f64> {
    let terms: Vec<(f64, f64)> = terms
        .iter()
        .copied()
        .filter(|&(l, h)| l > 0.0 && h > 0.0)
        .collect();
    if terms.is_empty() {
        return Ok(if y < 0.0 { 1.0 } else { 0.0 });
    }
    let mean: f64 = terms.iter().map(|(l, h)| l * h).sum();
    if y <= -mean {
        return Ok(1.0);
    }
    let lmax = terms.iter().fold(0.0f64, |m, t| m.max(t.0));
    let lmin = terms.iter().fold(f64::INFINITY, |m, t| m.min(t.0));
    if lmax - lmin <= 1e-15 * lmax {
        let h: f64 = terms.iter().map(|t| t.1).sum();
        return Ok(gamma_ur(0.5 * h, 0.5 * (y + mean) / lmax));
    }
    // Far out in the tail (a huge statistic), the Chernoff bound already says the
    // probability is below f64's range: no series (whose period would grow with y).
    if ln_upper_chernoff(&terms, lmax, y) < LN_NEGLIGIBLE {
        return Ok(0.0);
    }
    let sd = terms
        .iter()
        .map(|(l, h)| 2.0 * l * l * h)
        .sum::<f64>()
        .sqrt();

    // Period T with both aliases below EPS.
    let mut period = 20.0 * sd + y.abs();
    let mut guard = 0;
    while ln_upper_chernoff(&terms, lmax, y + period) > EPS.ln()
        || ln_lower_chernoff(&terms, y - period) > EPS.ln()
    {
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
            phase += 0.5 * h * atan_minus_identity(a);
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

/// `atan(a) - a`, without cancellation for small `a`.
fn atan_minus_identity(a: f64) -> f64 {
    if a.abs() < 1e-2 {
        let a2 = a * a;
        a * a2 * (-1.0 / 3.0 + a2 * (0.2 + a2 * (-1.0 / 7.0 + a2 * (1.0 / 9.0))))
    } else {
        a.atan() - a
    }
}

/// `ln(1 + x) - x`, without cancellation for small `x`.
fn ln1p_minus_identity(x: f64) -> f64 {
    if x.abs() < 1e-2 {
        x * x * (-0.5 + x * (1.0 / 3.0 + x * (-0.25 + x * (0.2 + x * (-1.0 / 6.0)))))
    } else {
        x.ln_1p() - x
    }
}

/// `ln` of the Chernoff bound on `P(Q - E Q > z)`, `z > 0`:
/// `min_s -s z - sum (h/2) (ln(1 - 2 lambda s) + 2 lambda s)`, `0 < s < 1/(2 lmax)`.
fn ln_upper_chernoff(terms: &[(f64, f64)], lmax: f64, z: f64) -> f64 {
    if z <= 0.0 {
        return 0.0;
    }
    let f = |s: f64| {
        -s * z
            - terms
                .iter()
                .map(|(l, h)| 0.5 * h * ln1p_minus_identity(-2.0 * l * s))
                .sum::<f64>()
    };
    // The minimiser solves sum h lambda (1/(1 - 2 lambda s) - 1) = z.
    let (mut lo, mut hi) = (0.0f64, 0.5 / lmax);
    for _ in 0..200 {
        let s = 0.5 * (lo + hi);
        let m: f64 = terms
            .iter()
            .map(|(l, h)| h * l * 2.0 * l * s / (1.0 - 2.0 * l * s))
            .sum();
        if m < z {
            lo = s;
        } else {
            hi = s;
        }
    }
    f(lo)
}

/// `ln` of the Chernoff bound on `P(Q - E Q < z)`, `z < 0`:
/// `min_s s z - sum (h/2) (ln(1 + 2 lambda s) - 2 lambda s)`, `s > 0`.
fn ln_lower_chernoff(terms: &[(f64, f64)], z: f64) -> f64 {
    if z >= 0.0 {
        return 0.0;
    }
    let mean: f64 = terms.iter().map(|(l, h)| l * h).sum();
    if z <= -mean {
        return f64::NEG_INFINITY;
    }
    let f = |s: f64| {
        s * z
            - terms
                .iter()
                .map(|(l, h)| 0.5 * h * ln1p_minus_identity(2.0 * l * s))
                .sum::<f64>()
    };
    // The minimiser solves sum h lambda (1 - 1/(1 + 2 lambda s)) = -z; bracket it.
    let g = |s: f64| {
        terms
            .iter()
            .map(|(l, h)| h * l * 2.0 * l * s / (1.0 + 2.0 * l * s))
            .sum::<f64>()
    };
    let mut hi = 1.0 / terms.iter().fold(0.0f64, |m, t| m.max(t.0));
    while g(hi) < -z && hi < 1e300 {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let s = 0.5 * (lo + hi);
        if g(s) < -z {
            lo = s;
        } else {
            hi = s;
        }
    }
    f(lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_exponentials_have_a_closed_form() {
        // chi^2_2 scaled by lambda is exponential with mean 2 lambda.
        let (l1, l2) = (1.0f64, 0.3f64);
        let mean = 2.0 * (l1 + l2);
        for &y in &[0.01, 0.5, 2.0, 7.0, 25.0, 40.0] {
            let want = (l1 * (-y / (2.0 * l1)).exp() - l2 * (-y / (2.0 * l2)).exp()) / (l1 - l2);
            let got = upper_tail_centred(&[(l1, 2.0), (l2, 2.0)], y - mean).unwrap();
            assert!((got - want).abs() < 1e-10, "y = {y}: {got} vs {want}");
        }
    }

    #[test]
    fn split_equal_weights_agree_with_the_gamma_function() {
        // 0.7 chi^2_5 written as 0.7 chi^2_2 + 0.7 (1 + 1e-9) chi^2_3.
        let mean = 0.7 * 2.0 + 0.7 * (1.0 + 1e-9) * 3.0;
        for &y in &[0.1, 1.0, 3.5, 10.0, 30.0] {
            let want = gamma_ur(2.5, y / 1.4);
            let got =
                upper_tail_centred(&[(0.7, 2.0), (0.7 * (1.0 + 1e-9), 3.0)], y - mean).unwrap();
            assert!((got - want).abs() < 1e-9, "y = {y}: {got} vs {want}");
        }
    }

    #[test]
    fn a_huge_statistic_has_probability_zero_at_once() {
        let terms = [(1.0, 3.0), (0.5, 2.0)];
        for y in [1e5, 1e300, f64::MAX] {
            assert_eq!(upper_tail_centred(&terms, y).unwrap(), 0.0);
        }
    }

    #[test]
    fn a_nearly_gaussian_sum_with_a_tiny_spread() {
        // Many tiny weights with huge degrees of freedom: Q - E Q is normal with
        // variance sum 2 lambda^2 h = 2e-36 (high-dimensional Poisson test).
        let terms = [(1e-37, 5e36), (2e-37, 2.5e36)];
        let sd = (2.0f64 * (1e-74 * 5e36 + 4e-74 * 2.5e36)).sqrt();
        for &z in &[-2.0, -0.5, 0.0, 1.0, 3.0] {
            let got = upper_tail_centred(&terms, z * sd).unwrap();
            let want = 0.5 * statrs::function::erf::erfc(z / std::f64::consts::SQRT_2);
            assert!((got - want).abs() < 1e-6, "z = {z}: {got} vs {want}");
        }
    }
}
