//! Chebyshev interpolation on `[-1, 1]`: the points of the first kind, the
//! coefficients of the interpolant through values there, its evaluation, and its
//! monomial coefficients.

use std::f64::consts::PI;

/// The `N` Chebyshev points of the first kind, `x_k = cos(pi (k + 1/2) / N)`.
pub(crate) fn chebyshev_points<const N: usize>() -> [f64; N] {
    std::array::from_fn(|k| (PI * (k as f64 + 0.5) / N as f64).cos())
}

/// The coefficients `c_m` of the interpolant `sum_m c_m T_m(x)` through `values`
/// given at [`chebyshev_points`]: `c_m = (2 - [m = 0])/N sum_k v_k cos(pi m (k + 1/2)/N)`.
pub(crate) fn chebyshev_coeffs<const N: usize>(values: &[f64; N]) -> [f64; N] {
    std::array::from_fn(|m| {
        let s: f64 = values
            .iter()
            .enumerate()
            .map(|(k, v)| v * (PI * m as f64 * (k as f64 + 0.5) / N as f64).cos())
            .sum();
        s * if m == 0 { 1.0 } else { 2.0 } / N as f64
    })
}

/// The monomial coefficients `a_i` (lowest degree first) of `sum_j c_j T_j(x) =
/// sum_i a_i x^i`, from `T_{j+1} = 2x T_j - T_{j-1}` carried as coefficient arrays.
pub(crate) fn monomial_coeffs<const N: usize>(cheb: &[f64; N]) -> [f64; N] {
    let mut out = [0.0; N];
    // T_{j-2} and T_{j-1}; T_0 = 1 and T_1 = x are set directly.
    let mut prev = [0.0; N];
    let mut cur = [0.0; N];
    for (j, &cj) in cheb.iter().enumerate() {
        let next: [f64; N] = match j {
            0 => std::array::from_fn(|i| if i == 0 { 1.0 } else { 0.0 }),
            1 => std::array::from_fn(|i| if i == 1 { 1.0 } else { 0.0 }),
            _ => std::array::from_fn(|i| {
                let up = if i > 0 { 2.0 * cur[i - 1] } else { 0.0 };
                up - prev[i]
            }),
        };
        for (o, t) in out.iter_mut().zip(&next) {
            *o += cj * t;
        }
        prev = cur;
        cur = next;
    }
    out
}

/// `sum_m c_m T_m(y)` by Clenshaw's recurrence.
pub(crate) fn chebyshev_sum(c: &[f64], y: f64) -> f64 {
    let (mut b1, mut b2) = (0.0, 0.0);
    for &cm in c[1..].iter().rev() {
        let b = cm + 2.0 * y * b1 - b2;
        b2 = b1;
        b1 = b;
    }
    c[0] + y * b1 - b2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolant_reproduces_a_polynomial() {
        let x = chebyshev_points::<8>();
        let f = |t: f64| 1.0 - 2.0 * t + 0.5 * t.powi(5);
        let c = chebyshev_coeffs(&x.map(f));
        for y in [-1.0, -0.3, 0.0, 0.7, 1.0] {
            assert!((chebyshev_sum(&c, y) - f(y)).abs() < 1e-14, "y = {y}");
        }
        assert!(c[6].abs() < 1e-15 && c[7].abs() < 1e-15);
        // The conversion multiplies the coefficients' rounding (~1e-15 here) by the
        // monomial coefficients of T_7, up to 2^6 = 64 in size.
        let a = monomial_coeffs(&c);
        let want = [1.0, -2.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0];
        for (i, (got, want)) in a.iter().zip(want).enumerate() {
            assert!(
                (got - want).abs() < 64.0 * 2e-15,
                "x^{i}: {got} against {want}"
            );
        }
    }
}
