//! Kummer's confluent hypergeometric function `1F1(a; b; -x)` for `x >= 0`: the
//! alternating power series, the large-`x` asymptotic expansion, and Kummer's
//! transformation between them.

use super::gamma::gamma_ratio_half;
use super::{MAX_TERMS, TOL};

/// The most terms [`hyp1f1_kummer`] sums (about a second of work).
const KUMMER_MAX_TERMS: f64 = 1e9;

/// `1F1(a; b; -x)` for `a` in `{1/2, 3/2}`, `b > 0`, `x > 0` finite.
fn kummer_neg(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.75 * b {
        // Alternating power series; the terms cancel by at most
        // ((1 + x/b) / (1 - x/b))^a <= 7^1.5.
        let (mut t, mut s, mut k) = (1.0, 1.0, 0.0);
        for _ in 0..MAX_TERMS {
            k += 1.0;
            t *= -(a + k - 1.0) * x / ((b + k - 1.0) * k);
            s += t;
            if t.abs() <= TOL * s.abs() {
                break;
            }
        }
        s
    } else if x >= b.max(45.0) {
        // Asymptotic expansion Gamma(b)/Gamma(b-a) x^-a sum (a)_k (a-b+1)_k / (k! x^k);
        // the exponentially small companion is below 1e-17 relative here.
        let (mut t, mut s, mut k) = (1.0, 1.0, 0.0);
        for _ in 0..MAX_TERMS {
            k += 1.0;
            t *= (a + k - 1.0) * (a - b + k) / (k * x);
            s += t;
            if t.abs() <= TOL * s.abs() {
                break;
            }
        }
        if a > 1.0 {
            (b - 1.5) * gamma_ratio_half(b) * s / (x * x.sqrt())
        } else {
            gamma_ratio_half(b) * s / x.sqrt()
        }
    } else {
        hyp1f1_kummer(a, b, x)
    }
}

/// `1F1(a; b; y)` for `y > 0` (positive terms; saturates to `+inf`).
fn kummer_pos(a: f64, b: f64, y: f64) -> f64 {
    let (mut t, mut s, mut k) = (1.0, 1.0, 0.0);
    for _ in 0..MAX_TERMS {
        k += 1.0;
        t *= (a + k - 1.0) * y / ((b + k - 1.0) * k);
        s += t;
        if t <= TOL * s || s.is_infinite() {
            break;
        }
    }
    s
}

/// `1F1(a; b; -x)` with the special values documented on `hyp1f1_half`.
pub(super) fn kummer(a: f64, b: f64, x: f64) -> f64 {
    if x == 0.0 || b.is_infinite() {
        1.0
    } else if x.is_infinite() {
        if x > 0.0 { 0.0 } else { f64::INFINITY }
    } else if x < 0.0 {
        kummer_pos(a, b, -x)
    } else {
        kummer_neg(a, b, x)
    }
}

/// `1F1(a; b; -x)` for finite `x >= 0` and `0 < a <= b`, by Kummer's transformation
/// `e^{-x} 1F1(b - a; b; x)`: positive terms, so no cancellation for any `a`, `b`
/// (also for `1F1(1/2 + l; d/2 + l; -x)` at any degree `l`), at a cost of about
/// `x` terms. The factor `e^{-x}` is applied as `n = 2^j` exact pieces
/// `e^{-x/n}`, `x/n <= 512`, whenever the partial sum grows large, and the rest at
/// the end, so neither the sum nor `e^{-x}` under- or overflows.
///
/// Its terms peak near `k = x` and fall below `1e-17` of the sum well before
/// `k = 2x + 10^4`, which bounds the loop; `NaN` where that bound exceeds
/// [`KUMMER_MAX_TERMS`] (`x > 5e8`).
pub(crate) fn hyp1f1_kummer(a: f64, b: f64, x: f64) -> f64 {
    let max_terms = 2.0 * x + 1e4;
    if max_terms > KUMMER_MAX_TERMS {
        return f64::NAN;
    }
    let mut n = 1_u32;
    while x / f64::from(n) > 512.0 && n < 1 << 30 {
        n *= 2;
    }
    let f = (-x / f64::from(n)).exp();
    let mut rest = n;
    let c = b - a;
    let (mut t, mut s, mut k) = (1.0, 1.0, 0.0);
    for _ in 0..max_terms as usize {
        k += 1.0;
        t *= (c + k - 1.0) * x / ((b + k - 1.0) * k);
        s += t;
        if s > 1e250 && rest > 0 {
            s *= f;
            t *= f;
            rest -= 1;
        }
        if t <= TOL * s {
            break;
        }
    }
    for _ in 0..rest {
        s *= f;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The alternating power series of `1F1(a; b; -x)`, accurate for small `x`.
    fn power_series(a: f64, b: f64, x: f64) -> f64 {
        let (mut t, mut s) = (1.0, 1.0);
        for k in 0..200 {
            let k = f64::from(k);
            t *= -(a + k) * x / ((b + k) * (k + 1.0));
            s += t;
        }
        s
    }

    #[test]
    fn kummer_transformation_matches_the_power_series_at_shifted_parameters() {
        for d in [2.0, 3.0, 17.0, 256.0] {
            for l in [0.0, 1.0, 7.0, 40.0] {
                let (a, b) = (0.5 + l, 0.5 * d + l);
                for x in [0.0, 1e-3, 0.1, 0.5, 1.0] {
                    let (got, want) = (hyp1f1_kummer(a, b, x), power_series(a, b, x));
                    assert!(
                        (got / want - 1.0).abs() < 1e-14,
                        "{d} {l} {x}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn kummer_transformation_sums_past_a_million_terms() {
        // mpmath, 30 digits: 1F1(1/2; 2500000; -2000000) = 0.745355970415307462566...
        let got = hyp1f1_kummer(0.5, 2.5e6, 2e6);
        assert!((got / 0.745_355_970_415_307_5 - 1.0).abs() < 1e-12, "{got}");
    }

    #[test]
    fn kummer_transformation_stays_accurate_for_large_arguments() {
        // mpmath, 40 digits: 1F1(1/2; 32768; -131072) = 0.44721031998310034524629...
        let got = hyp1f1_kummer(0.5, 32768.0, 131072.0);
        assert!(
            (got / 0.447_210_319_983_100_35 - 1.0).abs() < 1e-13,
            "{got}"
        );
    }
}
