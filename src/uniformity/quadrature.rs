//! Quadrature helpers of the uniformity tests: Gauss–Legendre rules, a rule graded
//! towards `pi/2` for integrands with a boundary layer there, and piecewise
//! Chebyshev interpolants that can be integrated exactly.

use crate::numerics::{chebyshev_coeffs, chebyshev_points, chebyshev_sum};
use std::f64::consts::FRAC_PI_2;

pub(super) use crate::numerics::gauss_legendre;

/// `integral_0^b f(phi) dphi` for `0 <= b <= pi/2`, where `f` may vary on the scale
/// `layer` near `pi/2`: Gauss–Legendre on panels `[pi/2 - delta_i, pi/2 - delta_{i+1}]`
/// with `delta` shrinking geometrically (by 4) down to `layer`.
pub(super) fn graded_integral(
    rule: &[(f64, f64)],
    b: f64,
    layer: f64,
    f: impl Fn(f64) -> f64,
) -> f64 {
    let layer = layer.max(1e-9);
    let mut total = 0.0;
    let mut delta = FRAC_PI_2;
    loop {
        let next = if delta / 4.0 < layer {
            0.0
        } else {
            delta / 4.0
        };
        let (lo, hi) = (FRAC_PI_2 - delta, (FRAC_PI_2 - next).min(b));
        if hi > lo {
            let (mid, half) = (0.5 * (lo + hi), 0.5 * (hi - lo));
            total += half * rule.iter().map(|(x, w)| w * f(mid + half * x)).sum::<f64>();
        }
        if next == 0.0 || FRAC_PI_2 - next >= b {
            return total;
        }
        delta = next;
    }
}

/// Number of Chebyshev points per panel of [`ChebyshevPieces`].
const POINTS: usize = 33;

/// A piecewise Chebyshev interpolant of `j` on `[0, 1]` together with its exact
/// running integral `integral_0^s j`.
#[derive(Debug, Clone)]
pub(super) struct ChebyshevPieces {
    /// Panel boundaries `0 = b_0 < b_1 < ... < b_P = 1`.
    breaks: Vec<f64>,
    /// Chebyshev coefficients of `j` on each panel.
    coeffs: Vec<[f64; POINTS]>,
    /// Chebyshev coefficients of the antiderivative on each panel (in the local variable).
    integral: Vec<[f64; POINTS + 1]>,
    /// `integral_0^{b_p} j` at the start of each panel.
    start: Vec<f64>,
}

impl ChebyshevPieces {
    /// Interpolates `j` on `1, 2, 4, ..., 256` equal panels until the trailing
    /// coefficients are below `1e-14` of `max |j|`. If that fails (a weak singularity
    /// such as `s^2 ln s` at 0), panels `[2^{-k-1}, 2^{-k}]`, `k < 48`, each split
    /// into `1, 2, 4, 8` equal parts, all converged but the first, `[0, 2^{-48}]`.
    /// `None` if neither works.
    pub fn new(j: impl Fn(f64) -> f64) -> Option<Self> {
        for panels in (0..=8).map(|e| 1usize << e) {
            let breaks: Vec<f64> = (0..=panels).map(|p| p as f64 / panels as f64).collect();
            if let Some(pieces) = Self::try_build(&j, breaks, 0) {
                return Some(pieces);
            }
        }
        for split in [1usize, 2, 4, 8] {
            let mut breaks = vec![0.0];
            for k in (0..48).rev() {
                let (a, b) = (0.5f64.powi(k + 1), 0.5f64.powi(k));
                breaks.extend((0..split).map(|i| a + (b - a) * (i + 1) as f64 / split as f64));
            }
            if let Some(pieces) = Self::try_build(&j, breaks, 1) {
                return Some(pieces);
            }
        }
        None
    }

    /// Interpolates on the given panels; the first `unchecked` panels are exempt from
    /// the convergence test.
    fn try_build(j: &impl Fn(f64) -> f64, breaks: Vec<f64>, unchecked: usize) -> Option<Self> {
        let nodes = chebyshev_points::<POINTS>();
        let mut coeffs = Vec::with_capacity(breaks.len() - 1);
        let (mut scale, mut tail) = (0.0f64, 0.0f64);
        for (p, w) in breaks.windows(2).enumerate() {
            let (a, h) = (w[0], w[1] - w[0]);
            let values = nodes.map(|x| j(a + 0.5 * h * (x + 1.0)));
            if values.iter().any(|v| !v.is_finite()) {
                return None;
            }
            scale = values.iter().fold(scale, |m, v| m.max(v.abs()));
            let c = chebyshev_coeffs(&values);
            if p >= unchecked {
                tail = tail.max(c[POINTS - 1].abs()).max(c[POINTS - 2].abs());
            }
            coeffs.push(c);
        }
        (tail <= 1e-14 * scale).then(|| Self::with_integrals(breaks, coeffs))
    }

    fn with_integrals(breaks: Vec<f64>, coeffs: Vec<[f64; POINTS]>) -> Self {
        let mut integral = Vec::with_capacity(coeffs.len());
        let mut start = Vec::with_capacity(coeffs.len());
        let mut running = 0.0;
        for (c, w) in coeffs.iter().zip(breaks.windows(2)) {
            // Antiderivative of sum c_m T_m(y): C_1 = c_0 - c_2/2, C_m = (c_{m-1} - c_{m+1})/(2m).
            let at = |m: usize| if m < POINTS { c[m] } else { 0.0 };
            let mut big: [f64; POINTS + 1] = std::array::from_fn(|m| match m {
                0 => 0.0,
                1 => at(0) - 0.5 * at(2),
                _ => (at(m - 1) - at(m + 1)) / (2.0 * m as f64),
            });
            // Fix the constant so that the antiderivative vanishes at y = -1.
            big[0] = -chebyshev_sum(&big, -1.0);
            start.push(running);
            running += 0.5 * (w[1] - w[0]) * chebyshev_sum(&big, 1.0);
            integral.push(big);
        }
        ChebyshevPieces {
            breaks,
            coeffs,
            integral,
            start,
        }
    }

    /// The panel holding `s`, its half width, and the local coordinate in `[-1, 1]`.
    fn locate(&self, s: f64) -> (usize, f64, f64) {
        let s = s.clamp(0.0, 1.0);
        let p = self
            .breaks
            .partition_point(|&b| b <= s)
            .saturating_sub(1)
            .min(self.coeffs.len() - 1);
        let (a, b) = (self.breaks[p], self.breaks[p + 1]);
        let half = 0.5 * (b - a);
        (p, half, ((s - a) / half - 1.0).clamp(-1.0, 1.0))
    }

    /// `j(s)`.
    pub fn value(&self, s: f64) -> f64 {
        let (p, _, y) = self.locate(s);
        chebyshev_sum(&self.coeffs[p], y)
    }

    /// `integral_0^s j`.
    pub fn integral(&self, s: f64) -> f64 {
        let (p, half, y) = self.locate(s);
        self.start[p] + half * chebyshev_sum(&self.integral[p], y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn pieces_integrate_exactly() {
        let p = ChebyshevPieces::new(|s| (3.0 * s).cos() / (1.0 + s)).unwrap();
        let rule = gauss_legendre(40);
        for &s in &[0.0, 0.1, 0.37, 0.5, 0.99, 1.0] {
            let want: f64 = rule
                .iter()
                .map(|(x, w)| {
                    let t = 0.5 * s * (x + 1.0);
                    0.5 * s * w * (3.0 * t).cos() / (1.0 + t)
                })
                .sum();
            assert!((p.integral(s) - want).abs() < 1e-14, "s = {s}");
            assert!((p.value(s) - (3.0 * s).cos() / (1.0 + s)).abs() < 1e-14);
        }
    }

    #[test]
    fn pieces_handle_a_logarithmic_term_at_zero() {
        // j = 1 + s^2 ln s, integral = s + s^3 ln(s)/3 - s^3/9.
        let p = ChebyshevPieces::new(|s: f64| 1.0 + if s > 0.0 { s * s * s.ln() } else { 0.0 })
            .unwrap();
        for &s in &[1e-9f64, 1e-3, 0.3, 1.0] {
            let want = s + s * s * s * s.ln() / 3.0 - s * s * s / 9.0;
            assert!((p.integral(s) - want).abs() < 1e-14, "s = {s}");
        }
    }

    #[test]
    fn graded_rule_resolves_a_boundary_layer() {
        let rule = gauss_legendre(24);
        // integral_0^{pi/2} cos^2 / (cos^2 + u^2 sin^2) = pi / (2 (1 + u)).
        for &u in &[1e-6, 1e-3, 0.1, 0.9] {
            let got = graded_integral(&rule, FRAC_PI_2, u, |p: f64| {
                let c = p.cos();
                c * c / (c * c + u * u * p.sin().powi(2))
            });
            assert!(
                (got - PI / (2.0 * (1.0 + u))).abs() < 1e-13,
                "u = {u}: {got}"
            );
        }
    }
}
