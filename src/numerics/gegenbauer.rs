//! The three-term recurrence of the normalised Gegenbauer polynomials
//! `P_l(d; c)` (`P_l(1) = 1`), valid for every `d >= 2`.

/// The coefficients `(alpha_l, beta_l)` of
/// `P_{l+1} = alpha_l c P_l - beta_l P_{l-1}` in dimension `d`, for `l >= 1`:
/// `alpha_l = (2l + d - 2)/(l + d - 2)`, `beta_l = l/(l + d - 2)`.
#[inline(always)]
pub(crate) fn recurrence(d: f64, l: f64) -> (f64, f64) {
    let den = l + d - 2.0;
    ((2.0 * l + d - 2.0) / den, l / den)
}

/// Calls `f(l, P_l(d; c))` for `l = 0..count`, by the forward recurrence.
pub(crate) fn gegenbauer_values(d: f64, c: f64, count: usize, mut f: impl FnMut(usize, f64)) {
    let (mut prev, mut cur) = (1.0f64, c);
    for l in 0..count {
        if l == 0 {
            f(0, 1.0);
            continue;
        }
        f(l, cur);
        let (alpha, beta) = recurrence(d, l as f64);
        let next = alpha * c * cur - beta * prev;
        prev = cur;
        cur = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_degrees_match_closed_forms() {
        // d = 3: Legendre; d = 2: Chebyshev, cos(l theta).
        let mut legendre = Vec::new();
        gegenbauer_values(3.0, 0.3, 4, |_, p| legendre.push(p));
        let want = [
            1.0,
            0.3,
            (3.0 * 0.09 - 1.0) / 2.0,
            (5.0 * 0.027 - 3.0 * 0.3) / 2.0,
        ];
        for (a, b) in legendre.iter().zip(want) {
            assert!((a - b).abs() < 1e-15);
        }
        let theta = 0.3f64.acos();
        gegenbauer_values(2.0, 0.3, 12, |l, p| {
            assert!((p - (l as f64 * theta).cos()).abs() < 1e-14, "l = {l}");
        });
    }
}
