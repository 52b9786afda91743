//! Normalised Gegenbauer polynomials `P_l(d; c)` (with `P_l(1) = 1`), series of
//! them evaluated by Clenshaw's recurrence, and the dimensions `N(d, l)` of the
//! spaces of degree-`l` spherical harmonics, in log space.

use crate::numerics::{gegenbauer_values, recurrence};

/// `P_l(d; c)` by the forward recurrence; `d >= 2` (for `d = 2` this is `cos(l acos c)`).
///
/// ```
/// use unisphere::kernel::gegenbauer;
/// // d = 3: Legendre P_2(c) = (3c^2 - 1)/2.
/// assert!((gegenbauer(2, 3.0, 0.5) - (3.0 * 0.25 - 1.0) / 2.0).abs() < 1e-15);
/// ```
pub fn gegenbauer(l: usize, d: f64, c: f64) -> f64 {
    let mut value = 1.0;
    gegenbauer_values(d, c, l + 1, |_, p| value = p);
    value
}

/// `ln N(d, l)` for `l = 0, 1, 2, ...`, where `N(d, l)` is the dimension of the
/// degree-`l` spherical harmonics on `S^{d-1}`:
/// `N(d, l) = (2l + d - 2)/(l + d - 2) * binom(l + d - 2, l)`.
///
/// Formed as a compensated running sum of `ln(1 + (d-2)/k)`, which stays accurate
/// (and finite) where `N(d, l)` itself overflows `f64` (d = 512, l = 40 is ~1e70).
#[derive(Debug, Clone)]
pub struct LnHarmonicDimensions {
    d: f64,
    l: usize,
    sum: f64,
    comp: f64,
}

impl LnHarmonicDimensions {
    /// The sequence for dimension `d >= 2`, starting at degree 0.
    pub fn new(d: usize) -> Self {
        LnHarmonicDimensions {
            d: d as f64,
            l: 0,
            sum: 0.0,
            comp: 0.0,
        }
    }
}

impl Iterator for LnHarmonicDimensions {
    type Item = f64;
    fn next(&mut self) -> Option<f64> {
        let l = self.l;
        self.l += 1;
        if l == 0 {
            return Some(0.0);
        }
        let (lf, d) = (l as f64, self.d);
        if d == 2.0 {
            return Some(std::f64::consts::LN_2);
        }
        // ln binom(l + d - 2, l) = sum_{k=1}^{l} ln(1 + (d - 2)/k), Kahan-summed.
        let term = ((d - 2.0) / lf).ln_1p() - self.comp;
        let t = self.sum + term;
        self.comp = (t - self.sum) - term;
        self.sum = t;
        Some(((2.0 * lf + d - 2.0) / (lf + d - 2.0)).ln() + self.sum)
    }
}

/// A finite series `sum_l a_l P_l(d; c)` of normalised Gegenbauer polynomials.
#[derive(Debug, Clone, PartialEq)]
pub struct GegenbauerSeries {
    dim: f64,
    coeffs: Vec<f64>,
}

impl GegenbauerSeries {
    /// A series in dimension `dim` (`>= 2`) with coefficients `a_0, a_1, ...`.
    pub fn new(dim: f64, coeffs: Vec<f64>) -> Self {
        debug_assert!(dim >= 2.0);
        let mut coeffs = coeffs;
        while coeffs.len() > 1 && coeffs.last() == Some(&0.0) {
            coeffs.pop();
        }
        if coeffs.is_empty() {
            coeffs.push(0.0);
        }
        GegenbauerSeries { dim, coeffs }
    }

    /// The dimension `d` of the polynomials.
    pub fn dim(&self) -> f64 {
        self.dim
    }

    /// The coefficients `a_l`.
    pub fn coeffs(&self) -> &[f64] {
        &self.coeffs
    }

    /// The highest degree with a coefficient.
    pub fn degree(&self) -> usize {
        self.coeffs.len() - 1
    }

    /// Value at `c` by Clenshaw's recurrence (backward, stable on `[-1, 1]`).
    #[inline]
    pub fn eval(&self, c: f64) -> f64 {
        let a = &self.coeffs;
        let n = a.len();
        if n == 1 {
            return a[0];
        }
        // b_k = a_k + alpha_k c b_{k+1} - beta_{k+1} b_{k+2}, k = n-1 .. 1
        let d = self.dim;
        let (mut b1, mut b2) = (0.0f64, 0.0f64); // b_{k+1}, b_{k+2}
        let mut beta_next = 0.0; // beta_{k+1}
        for k in (1..n).rev() {
            let (alpha, beta) = recurrence(d, k as f64);
            let b = a[k] + alpha * c * b1 - beta_next * b2;
            b2 = b1;
            b1 = b;
            beta_next = beta;
        }
        // S = a_0 + c b_1 - beta_1 b_2
        a[0] + c * b1 - beta_next * b2
    }

    /// `sum_l |a_l P_l(d; c)|`, the scale of the rounding error of
    /// [`GegenbauerSeries::eval`] at `c`.
    pub fn abs_sum(&self, c: f64) -> f64 {
        let mut sum = 0.0;
        gegenbauer_values(self.dim, c, self.coeffs.len(), |l, p| {
            sum += self.coeffs[l].abs() * p.abs()
        });
        sum
    }

    /// An estimate of the rounding error of [`GegenbauerSeries::eval`] at `c`:
    /// `8 (L + 2) eps sum_l |a_l P_l(d; c)|`. Where the true value is smaller than
    /// this (an alternating series that cancels), only this absolute accuracy holds.
    pub fn rounding_bound(&self, c: f64) -> f64 {
        8.0 * (self.coeffs.len() + 1) as f64 * f64::EPSILON * self.abs_sum(c)
    }

    /// The derivative series: `d/dc P_l(d; c) = lambda_l/(d - 1) P_{l-1}(d + 2; c)`,
    /// with `lambda_l = l (l + d - 2)`.
    pub fn derivative(&self) -> GegenbauerSeries {
        let d = self.dim;
        let coeffs: Vec<f64> = self
            .coeffs
            .iter()
            .enumerate()
            .skip(1)
            .map(|(l, &a)| {
                let lf = l as f64;
                a * lf * (lf + d - 2.0) / (d - 1.0)
            })
            .collect();
        GegenbauerSeries::new(d + 2.0, coeffs)
    }

    /// The series with each coefficient multiplied by `f(l)`.
    pub fn map_coeffs(&self, f: impl Fn(usize, f64) -> f64) -> GegenbauerSeries {
        GegenbauerSeries::new(
            self.dim,
            self.coeffs
                .iter()
                .enumerate()
                .map(|(l, &a)| f(l, a))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circle_is_chebyshev() {
        for l in 0..12 {
            for &c in &[-1.0, -0.3, 0.0, 0.7, 1.0] {
                let want = (l as f64 * f64::acos(c)).cos();
                assert!((gegenbauer(l, 2.0, c) - want).abs() < 1e-13, "l={l} c={c}");
            }
        }
    }

    #[test]
    fn clenshaw_matches_direct_sum() {
        for &d in &[2.0, 3.0, 7.0, 300.0] {
            let coeffs: Vec<f64> = (0..20).map(|l| 1.0 / (1.0 + l as f64)).collect();
            let s = GegenbauerSeries::new(d, coeffs.clone());
            for &c in &[-1.0, -0.5, 0.1, 0.9, 1.0] {
                let direct: f64 = coeffs
                    .iter()
                    .enumerate()
                    .map(|(l, a)| a * gegenbauer(l, d, c))
                    .sum();
                assert!((s.eval(c) - direct).abs() < 1e-13, "d={d} c={c}");
            }
        }
    }

    #[test]
    fn derivative_matches_finite_difference() {
        for &d in &[2.0, 3.0, 10.0] {
            let s = GegenbauerSeries::new(d, vec![0.3, 0.2, 0.5, -0.1, 0.05]);
            let ds = s.derivative();
            for &c in &[-0.9, -0.2, 0.4, 0.8] {
                let h = 1e-6;
                let fd = (s.eval(c + h) - s.eval(c - h)) / (2.0 * h);
                assert!((ds.eval(c) - fd).abs() < 1e-8, "d={d} c={c}");
            }
        }
    }

    #[test]
    fn harmonic_dimensions() {
        let dims =
            |d: usize, n: usize| LnHarmonicDimensions::new(d).take(n + 1).collect::<Vec<_>>();
        let l2 = dims(2, 5);
        assert!(l2[1..].iter().all(|v| (v - 2f64.ln()).abs() < 1e-15));
        let l3 = dims(3, 5);
        for (l, v) in l3.iter().enumerate() {
            assert!((v.exp() - (2 * l + 1) as f64).abs() < 1e-12);
        }
        // d = 5, l = 3: (6+3)/(3+3) * binom(6, 3) = 1.5 * 20 = 30
        assert!((dims(5, 3)[3].exp() - 30.0).abs() < 1e-12);
        // No overflow where N(d, l) exceeds f64.
        assert!(dims(4096, 400)[400].is_finite());
    }
}
