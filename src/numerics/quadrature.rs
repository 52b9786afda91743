//! Gauss–Legendre quadrature, and means of functions of one coordinate of a
//! uniform point on the sphere (`integral f rho_d`).

/// Gauss–Legendre nodes and weights on `[-1, 1]` (Newton on the Legendre recurrence).
pub(crate) fn gauss_legendre(n: usize) -> Vec<(f64, f64)> {
    (0..n)
        .map(|i| {
            let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
            let mut dp = 1.0;
            for _ in 0..100 {
                let (mut p0, mut p1) = (1.0, x);
                for k in 2..=n {
                    let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
                    p0 = p1;
                    p1 = p2;
                }
                dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
                let dx = p1 / dp;
                x -= dx;
                if dx.abs() < 1e-15 {
                    break;
                }
            }
            (x, 2.0 / ((1.0 - x * x) * dp * dp))
        })
        .collect()
}

/// Nodes `c_q` and weights `w_q` with `sum_q w_q f(c_q) ~= integral f rho_d` for smooth
/// `f`, where `rho_d(c) ∝ (1 - c^2)^{(d-3)/2}` is the density of one coordinate of a
/// uniform point on `S^{d-1}`. Gauss–Legendre in the angle `c = cos theta` (weight
/// `sin^{d-2} theta`), on the window around `pi/2` that holds all but `e^{-70}` of it.
pub(crate) fn uniform_marginal_rule(d: usize, nodes: usize) -> Vec<(f64, f64)> {
    let half_pi = std::f64::consts::FRAC_PI_2;
    let width = if d <= 64 {
        half_pi
    } else {
        (12.0 / (d as f64 - 2.0).sqrt()).min(half_pi)
    };
    let mut rule: Vec<(f64, f64)> = gauss_legendre(nodes)
        .into_iter()
        .map(|(x, w)| {
            let theta = half_pi + width * x;
            (theta.cos(), w * ((d as f64 - 2.0) * theta.sin().ln()).exp())
        })
        .collect();
    let total: f64 = rule.iter().map(|(_, w)| w).sum();
    for (_, w) in rule.iter_mut() {
        *w /= total;
    }
    rule
}
