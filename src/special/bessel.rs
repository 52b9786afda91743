//! `Omega_d(r) = Gamma(nu + 1) (2/r)^nu J_nu(r)`, `nu = d/2 - 1`: the power series
//! of `0F1`, Hankel's large-argument expansion, Debye's expansions and the
//! downward three-term recurrence between them.

use super::debye::{DEBYE_MIN_NU, Mono, Osc};
use super::gamma::ln_gamma_scaled;
use super::{MAX_TERMS, TOL, unscale};
use std::f64::consts::{FRAC_1_SQRT_2, FRAC_PI_4, PI};

/// Power series of `0F1(; b; -z)`.
fn series(b: f64, z: f64) -> f64 {
    let mut t = 1.0;
    let mut s = 1.0;
    let mut k = 0.0;
    for _ in 0..MAX_TERMS {
        k += 1.0;
        t *= -z / ((b + k - 1.0) * k);
        s += t;
        if t.abs() <= TOL * s.abs() {
            break;
        }
    }
    s
}

/// Power series of `0F1(; b; -z)` and `0F1(; b + 1; -z)` in one pass.
fn series_pair(b: f64, z: f64) -> (f64, f64) {
    let mut t = 1.0;
    let (mut s0, mut s1) = (1.0, 1.0);
    let mut k = 0.0;
    for _ in 0..MAX_TERMS {
        k += 1.0;
        t *= -z / ((b + k - 1.0) * k);
        s0 += t;
        // (b)_k / (b + 1)_k = b / (b + k)
        s1 += t * b / (b + k);
        if t.abs() <= TOL * s0.abs().min(s1.abs()) {
            break;
        }
    }
    (s0, s1)
}

/// Whether the power series is used at order `nu` (`z <= 2 (nu + 1)`).
fn series_ok(nu: f64, z: f64) -> bool {
    z <= 2.0 * (nu + 1.0)
}

/// Whether Hankel's expansion converges to full precision at order `nu`: its
/// terms then grow by at most `e^{nu^2 / (2r)} <= e^2` before they decay, and
/// they decay to below `1e-17` (for half-integer `nu` the expansion is a
/// finite sum, exact for any `r > 0`).
fn hankel_ok(nu: f64, r: f64) -> bool {
    r >= 0.25 * nu * nu && (r >= 25.0 || (nu - 0.5).fract() == 0.0)
}

/// `Omega` at order `nu` from Hankel's large-argument expansion of `J_nu(r)`.
fn hankel(nu: f64, r: f64) -> f64 {
    let mu = 4.0 * nu * nu;
    let inv8r = 0.125 / r;
    let (mut p, mut q, mut t) = (1.0, 0.0, 1.0);
    for k in 1..MAX_TERMS {
        let kf = k as f64;
        let odd = 2.0 * kf - 1.0;
        t *= (mu - odd * odd) * inv8r / kf;
        match k % 4 {
            1 => q += t,
            2 => p -= t,
            3 => q -= t,
            _ => p += t,
        }
        if t.abs() <= TOL {
            break;
        }
    }
    // chi = r - phi with phi = (2 nu + 1) pi / 4, reduced exactly mod 2 pi.
    let m = (2.0 * nu + 1.0).rem_euclid(8.0);
    let (sin_phi, cos_phi) = if m.fract() == 0.0 {
        const S: f64 = FRAC_1_SQRT_2;
        const TABLE: [(f64, f64); 8] = [
            (0.0, 1.0),
            (S, S),
            (1.0, 0.0),
            (S, -S),
            (0.0, -1.0),
            (-S, -S),
            (-1.0, 0.0),
            (-S, S),
        ];
        // `m` is an integer in 0..8 here.
        TABLE[(m as usize) & 7]
    } else {
        (m * FRAC_PI_4).sin_cos()
    };
    let (sin_r, cos_r) = r.sin_cos();
    let cos_chi = cos_r * cos_phi + sin_r * sin_phi;
    let sin_chi = sin_r * cos_phi - cos_r * sin_phi;
    let ln_amp = ln_gamma_scaled(nu, r) + 0.5 * (2.0 / (PI * r)).ln();
    unscale(p * cos_chi - q * sin_chi, ln_amp)
}

/// `Omega` at order `nu` (`d = 2 nu + 2`) for `r >= 0` finite, `nu > -1` finite.
pub(super) fn omega_nu(nu: f64, r: f64) -> f64 {
    let z = 0.25 * r * r;
    if series_ok(nu, z) {
        return series(nu + 1.0, z);
    }
    if hankel_ok(nu, r) {
        return hankel(nu, r);
    }
    if nu >= DEBYE_MIN_NU {
        if r < nu {
            let m = Mono::new(nu, r);
            if m.ok() {
                return m.ln_omega().exp();
            }
        } else {
            let o = Osc::new(nu, r);
            if o.ok() {
                return o.omega();
            }
        }
    }
    recurrence_pair(nu, r).0
}

/// `(Omega(nu), Omega(nu + 1))` for `r >= 0` finite, `nu > -1` finite.
pub(super) fn omega_pair(nu: f64, r: f64) -> (f64, f64) {
    let z = 0.25 * r * r;
    if series_ok(nu, z) {
        return series_pair(nu + 1.0, z);
    }
    if hankel_ok(nu + 1.0, r) {
        return (hankel(nu, r), hankel(nu + 1.0, r));
    }
    if nu >= DEBYE_MIN_NU {
        if r < nu {
            let m0 = Mono::new(nu, r);
            if m0.ok() {
                let m1 = Mono::new(nu + 1.0, r);
                return (m0.ln_omega().exp(), m1.ln_omega().exp());
            }
        } else {
            let o1 = Osc::new(nu + 1.0, r);
            if o1.ok() {
                return (Osc::new(nu, r).omega(), o1.omega());
            }
        }
    }
    recurrence_pair(nu, r)
}

/// `(Omega(nu), Omega(nu + 1))` by the downward recurrence
/// `Omega(k - 1) = Omega(k) - z / (k (k + 1)) Omega(k + 1)`, started at the
/// lowest order `nu + m` (`m >= 1`) where the power series or one of Debye's
/// expansions is accurate.
fn recurrence_pair(nu: f64, r: f64) -> (f64, f64) {
    let z = 0.25 * r * r;
    // |J_nu| <= 1: if even Gamma(nu + 1) (2/r)^nu underflows, so does Omega.
    if nu >= DEBYE_MIN_NU {
        let bound = ln_gamma_scaled(nu, r) + (2.0 * (nu + 1.0) / r).ln().max(0.0);
        if bound < -750.0 {
            return (0.0, 0.0);
        }
    }
    // Start values Omega(nu + m) = lo e^l, Omega(nu + m + 1) = hi e^l.
    let (m, mut lo, mut hi, mut l) = recurrence_start(nu, r, z);
    let steps = m as usize;
    let mut k = nu + m;
    for _ in 0..steps {
        let next = lo - z / (k * (k + 1.0)) * hi;
        hi = lo;
        lo = next;
        k -= 1.0;
        if lo.abs() > 1e250 {
            lo *= 1e-250;
            hi *= 1e-250;
            l += 250.0 * std::f64::consts::LN_10;
        }
    }
    (unscale(lo, l), unscale(hi, l))
}

/// Start of [`recurrence_pair`]: `(m, v0, v1, l)` with `Omega(nu + m) = v0 e^l`
/// and `Omega(nu + m + 1) = v1 e^l`.
fn recurrence_start(nu: f64, r: f64, z: f64) -> (f64, f64, f64, f64) {
    // Small orders and large r: Debye's oscillatory expansion at order >= 10.
    let osc_m = (DEBYE_MIN_NU - nu).ceil().max(1.0);
    if nu + osc_m + 1.0 < r {
        let o1 = Osc::new(nu + osc_m + 1.0, r);
        if o1.ok() {
            return (osc_m, Osc::new(nu + osc_m, r).omega(), o1.omega(), 0.0);
        }
    }
    // Otherwise the lowest order where the series applies, or the lowest one
    // (from an estimate from above, r + 7.2 r^(1/3) + 6) where Debye's
    // monotone expansion applies. Two Debye evaluations cost about as much as
    // SERIES_BIAS recurrence steps, so the series start is preferred up to that.
    const SERIES_BIAS: f64 = 60.0;
    let m_series = (0.5 * z - 1.0 - nu).ceil().max(1.0);
    let guess = (r + 7.2 * r.cbrt() + 6.0).max(DEBYE_MIN_NU);
    let mut m_mono = (guess - nu).ceil().max(1.0);
    while m_mono + SERIES_BIAS < m_series && !Mono::new(nu + m_mono, r).ok() {
        m_mono += 4.0;
    }
    if m_series <= m_mono + SERIES_BIAS {
        let (v0, v1) = series_pair(nu + m_series + 1.0, z);
        (m_series, v0, v1, 0.0)
    } else {
        let l0 = Mono::new(nu + m_mono, r).ln_omega();
        let l1 = Mono::new(nu + m_mono + 1.0, r).ln_omega();
        (m_mono, 1.0, (l1 - l0).exp(), l0)
    }
}
