//! Special functions for uniformity regularizers on the unit sphere `S^{d-1}`.
//!
//! * [`omega`] / [`omega_and_derivative`]: the characteristic function of one
//!   coordinate of a uniform point on `S^{d-1}`,
//!   `Omega_d(r) = 0F1(; d/2; -r^2/4) = Gamma(d/2) (2/r)^{d/2-1} J_{d/2-1}(r)`,
//!   and its derivative `d/dr Omega_d(r) = -(r/d) Omega_{d+2}(r)`.
//! * [`hyp1f1_half`] / [`hyp1f1_half_and_derivative`]: Kummer's function
//!   `1F1(1/2; d/2; -x)` (the Laplace transform `E[exp(-x u_1^2)]` of the
//!   squared coordinate) and its derivative
//!   `d/dx 1F1(1/2; d/2; -x) = -(1/d) 1F1(3/2; d/2 + 1; -x)`.
//!
//! Everything is computed in `f64` (statrs only for `ln Gamma` of small
//! arguments), with a
//! relative accuracy of about `1e-13` against 50-digit references for integer
//! `d` in `2..=4096` (see `tests/special.rs`), except where the true value is
//! itself the result of cancellation (next to a zero of the Bessel function),
//! where the absolute error stays below `1e-15`.
//!
//! Methods for `Omega_d(r)`, with `nu = d/2 - 1` and `z = r^2/4`:
//! * `z <= 2 (nu + 1) = d` (that is `r^2 <= 4d`): the power series of `0F1`,
//!   whose alternating terms cancel by at most a factor of about `e^4`;
//! * `r >= nu^2/4` and `r >= 25` or `nu` half-integer: Hankel's expansion
//!   for large argument (a finite sum, hence exact, for half-integer `nu`),
//!   with the phase
//!   `r - (2 nu + 1) pi/4` reduced exactly;
//! * `nu >= 10` away from the turning point `r = nu`: Debye's uniform
//!   expansions (20 terms) in both the monotone (`r < nu`) and the oscillatory
//!   (`r > nu`) regions, used only where the asymptotic parameter
//!   `nu (alpha - tanh alpha)` resp. `nu (tan beta - beta)` is at least 18,
//!   which keeps the truncation error below `1e-15`;
//! * otherwise (the turning-point band and small orders with moderate `r`):
//!   the three-term recurrence
//!   `Omega(nu - 1) = Omega(nu) - z / (nu (nu + 1)) Omega(nu + 1)`
//!   run downwards (the stable direction for `J`) from the lowest order
//!   `nu + m` where one of the methods above is accurate; `m` is at most a few
//!   dozen steps for `d <= 4096`. Orders where the value underflows anyway
//!   return `0` right away.
//!
//! Large orders are handled in log space, so `(2/r)^nu` never overflows.
//!
//! Methods for `1F1(a; b; -x)` with `a` in `{1/2, 3/2}`, `b = d/2` (`+1`):
//! the alternating power series for `x <= 0.75 b` (cancellation at most a
//! factor `(1 + y)^a / (1 - y)^a <= 19`), the asymptotic expansion for large
//! `x` (`x >= max(b, 45)`, where its smallest term is below `1e-17`) and in
//! between Kummer's transformation `e^{-x} 1F1(b - a; b; x)`, a positive-term
//! series summed with exact power-of-two splitting of `e^{-x}`.
//!
//! Files: `gamma.rs` (Stirling's series, `ln Gamma` and Gamma ratios without
//! cancellation), `bessel.rs` (`Omega_d` by series, Hankel's expansion and the
//! recurrence), `debye.rs` (Debye's uniform expansions) and `hypergeometric.rs`
//! (Kummer's function).

mod bessel;
mod debye;
mod gamma;
pub(crate) mod hypergeometric;

use bessel::{omega_nu, omega_pair};
use hypergeometric::kummer;

/// Stop a series once a term is below this fraction of the sum.
const TOL: f64 = 1e-17;

/// Upper bound on the number of terms of any series (never reached on the
/// documented domain; it only guarantees termination on arbitrary input).
const MAX_TERMS: usize = 1_000_000;

/// `v * exp(l)` without spurious overflow when `|v|` is huge and `l` very negative.
fn unscale(v: f64, l: f64) -> f64 {
    if l == 0.0 || v == 0.0 {
        v
    } else {
        v.signum() * (l + v.abs().ln()).exp()
    }
}

/// `Omega_d(r) = 0F1(; d/2; -r^2/4)`, the characteristic function
/// `E[cos(r u_1)]` of one coordinate `u_1` of a uniform point on `S^{d-1}`.
///
/// Equals `Gamma(d/2) (2/r)^{d/2-1} J_{d/2-1}(r)`; `J_0(r)` for `d = 2`,
/// `sin(r)/r` for `d = 3`, `Omega_d(0) = 1`, and it is even in `r`.
///
/// Designed for `d >= 2` (integer or not) and any finite `r`: the relative
/// error is about `1e-13` except next to the zeros of the Bessel function,
/// where the absolute error stays below `1e-15`; values below about `1e-300`
/// may underflow to zero. The result is always finite for finite input.
///
/// Special values: `NaN` if `d` or `r` is NaN or `d <= 0`; `0` for infinite
/// `r` (the limit); `1` for `d = +inf` and finite `r`.
///
/// # Examples
///
/// ```
/// use unisphere::special::omega;
/// let r = 2.5_f64;
/// assert!((omega(3.0, r) - r.sin() / r).abs() < 1e-15);
/// assert_eq!(omega(512.0, 0.0), 1.0);
/// assert!(omega(4096.0, 1e6).abs() < 1e-300);
/// ```
pub fn omega(d: f64, r: f64) -> f64 {
    if d.is_nan() || r.is_nan() || d <= 0.0 {
        return f64::NAN;
    }
    if r.is_infinite() {
        return 0.0;
    }
    if d.is_infinite() {
        return 1.0;
    }
    omega_nu(0.5 * d - 1.0, r.abs())
}

/// `Omega_d(r)` together with its derivative in `r`,
/// `d/dr Omega_d(r) = -(r/d) Omega_{d+2}(r)`.
///
/// Same domain, accuracy and special values as [`omega`] (the derivative is
/// `0` where the value is `0` or `1` by those rules).
///
/// # Examples
///
/// ```
/// use unisphere::special::omega_and_derivative;
/// let r = 1.7_f64;
/// let (v, dv) = omega_and_derivative(3.0, r);
/// assert!((v - r.sin() / r).abs() < 1e-15);
/// assert!((dv - (r * r.cos() - r.sin()) / (r * r)).abs() < 1e-15);
/// ```
pub fn omega_and_derivative(d: f64, r: f64) -> (f64, f64) {
    if d.is_nan() || r.is_nan() || d <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    if r.is_infinite() {
        return (0.0, 0.0);
    }
    if d.is_infinite() {
        return (1.0, 0.0);
    }
    let (v0, v1) = omega_pair(0.5 * d - 1.0, r.abs());
    (v0, -(r / d) * v1)
}

/// Kummer's function `1F1(1/2; d/2; -x) = E[exp(-x u_1^2)]` for a uniform
/// point `u` on `S^{d-1}`: positive and decreasing in `x`.
///
/// Designed for `d >= 2` and `0 <= x <= 4d` (relative error about `1e-14`);
/// any `x >= 0` works, with a cost growing like `d` for `0.75 d/2 < x < d/2`
/// (`NaN` there when `x > 5e8`, which would take over `1e9` terms).
///
/// Special values: `NaN` if `d` or `x` is NaN or `d <= 0`; `0` for `x = +inf`; `1` for `x = 0` or
/// `d = +inf`. Negative `x` is outside the intended domain: it is summed by
/// the (positive) power series, which saturates to `+inf` on overflow.
///
/// # Examples
///
/// ```
/// use unisphere::special::hyp1f1_half;
/// // 1F1(1/2; 3/2; -x) = sqrt(pi) erf(sqrt x) / (2 sqrt x); at x = 1:
/// assert!((hyp1f1_half(3.0, 1.0) - 0.746_824_132_812_427_0).abs() < 1e-15);
/// assert!((hyp1f1_half(256.0, 512.0) - 0.4464).abs() < 1e-4);
/// ```
pub fn hyp1f1_half(d: f64, x: f64) -> f64 {
    if d.is_nan() || x.is_nan() || d <= 0.0 {
        return f64::NAN;
    }
    kummer(0.5, 0.5 * d, x)
}

/// `1F1(1/2; d/2; -x)` and its derivative in `x`,
/// `d/dx 1F1(1/2; d/2; -x) = -(1/d) 1F1(3/2; d/2 + 1; -x)`.
///
/// Same domain, accuracy and special values as [`hyp1f1_half`] (the
/// derivative is `-1/d` at `x = 0`, `0` for `x = +inf` or `d = +inf`).
///
/// # Examples
///
/// ```
/// use unisphere::special::hyp1f1_half_and_derivative;
/// // d = 2: 1F1(1/2; 1; -x) = e^{-x/2} I_0(x/2), derivative -1/2 at x = 0.
/// let (v, dv) = hyp1f1_half_and_derivative(2.0, 0.0);
/// assert_eq!((v, dv), (1.0, -0.5));
/// let (v, dv) = hyp1f1_half_and_derivative(64.0, 10.0);
/// assert!(v > 0.0 && v < 1.0 && dv < 0.0);
/// ```
pub fn hyp1f1_half_and_derivative(d: f64, x: f64) -> (f64, f64) {
    if d.is_nan() || x.is_nan() || d <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    let b = 0.5 * d;
    let deriv = if b.is_infinite() {
        0.0
    } else {
        -kummer(1.5, b + 1.0, x) / d
    };
    (kummer(0.5, b, x), deriv)
}
