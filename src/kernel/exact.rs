//! Exact evaluation of a kernel's Gegenbauer series in high-precision fixed point.
//!
//! In high dimension the series `sum_l a_l P_l(d; c)` cancels: at `d = 2048`,
//! `t = 2/d` its terms are of order one while `phi(0)` is `6e-112`, so double
//! precision leaves no correct digit. Here the coefficients are formed, and
//! Clenshaw's recurrence is run, on integers scaled by `2^P` (num-bigint), with `P`
//! chosen so that every value the kernel takes (for a heat kernel, down to its
//! minimum `phi(-1)`; for any kernel, every value above `2^-1100`) is resolved to
//! better than `2^-60` relative. Every rounding is counted, and each result carries
//! its error bound.

use crate::error::{Error, Result};
use num_bigint::{BigInt, BigUint};
use num_traits::{Signed, ToPrimitive, Zero};

/// The most terms an exact series may hold.
const MAX_EXACT_TERMS: usize = 400_000;

/// Fractional bits that resolve every value above `2^-1100` (below `1e-290`,
/// values are reported in the log domain, which needs more only for heat kernels).
const BASE_BITS: u64 = 1100;

/// Fractional bits a heat series starts from; more are added until its smallest
/// value, `phi(-1)`, is resolved (every other value is larger).
const HEAT_START_BITS: u64 = 256;

/// Relative accuracy the exact evaluation aims at.
const TARGET_LOG2_REL: f64 = -60.0;

/// `x = m 2^e` exactly, for a finite `x` (`m = 0` for zero).
pub(crate) fn dyadic(x: f64) -> (i64, i64) {
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let frac = (bits & ((1u64 << 52) - 1)) as i64;
    let (m, e) = if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1i64 << 52), exp - 1075)
    };
    (if x.is_sign_negative() { -m } else { m }, e)
}

/// `m 2^k` in `f64`, with gradual underflow and saturation instead of an
/// intermediate overflow.
fn ldexp(m: f64, k: i64) -> f64 {
    let mut v = m;
    let mut k = k.clamp(-4000, 4000);
    while k > 1000 {
        v *= 2f64.powi(1000);
        k -= 1000;
    }
    while k < -1000 {
        v *= 2f64.powi(-1000);
        k += 1000;
    }
    v * 2f64.powi(k as i32)
}

/// A large magnitude as `f 2^k`, `f` its leading 64 bits rounded to `f64`.
fn split(m: &BigUint) -> (f64, i64) {
    let b = m.bits();
    if b <= 64 {
        return (m.to_f64().unwrap_or(0.0), 0);
    }
    let top = (m >> (b - 64)).to_f64().unwrap_or(0.0);
    (top, (b - 64) as i64)
}

/// A value as `sign * f * 2^k` with its relative error bound: the result of an
/// exact evaluation, in an exponent range beyond `f64`'s (an extended-range value).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Extended {
    /// `f` with its sign; zero for a value that is zero within the bound.
    pub mantissa: f64,
    /// The binary exponent `k`.
    pub exp2: i64,
    /// The relative error bound (`inf` where the value is not resolved).
    pub rel_err: f64,
}

impl Extended {
    /// A double-precision value with its relative error bound.
    pub fn from_f64(v: f64, rel_err: f64) -> Extended {
        Extended {
            mantissa: v,
            exp2: 0,
            rel_err,
        }
    }
    /// The value in `f64` (zero where it underflows).
    pub fn to_f64(self) -> f64 {
        ldexp(self.mantissa, self.exp2)
    }
    /// `-1`, `0` or `1`.
    pub fn sign(self) -> f64 {
        if self.mantissa == 0.0 {
            0.0
        } else {
            self.mantissa.signum()
        }
    }
    /// `ln |value|` (`-inf` for zero).
    pub fn ln_abs(self) -> f64 {
        self.mantissa.abs().ln() + self.exp2 as f64 * std::f64::consts::LN_2
    }
    /// `self / other` (both resolved and `other` non-zero).
    pub fn ratio(self, other: Extended) -> Extended {
        Extended {
            mantissa: self.mantissa / other.mantissa,
            exp2: self.exp2 - other.exp2,
            rel_err: self.rel_err + other.rel_err,
        }
    }
    fn scaled(self, by: f64) -> Extended {
        Extended {
            mantissa: self.mantissa * by,
            ..self
        }
    }
}

/// A positive number `m 2^e`, the mantissa rounded down to a set number of bits.
#[derive(Debug, Clone)]
struct Float {
    m: BigUint,
    e: i64,
}

impl Float {
    fn one() -> Float {
        Float {
            m: BigUint::from(1u32),
            e: 0,
        }
    }

    /// `x >= 0` exactly.
    fn from_f64(x: f64) -> Float {
        let (m, e) = dyadic(x);
        Float {
            m: BigUint::from(m.unsigned_abs()),
            e,
        }
    }

    fn rounded(mut self, bits: u64) -> Float {
        let b = self.m.bits();
        if b > bits {
            self.m >>= b - bits;
            self.e += (b - bits) as i64;
        }
        self
    }

    fn mul(&self, other: &Float, bits: u64) -> Float {
        Float {
            m: &self.m * &other.m,
            e: self.e + other.e,
        }
        .rounded(bits)
    }

    /// `self * p / q`.
    fn mul_ratio(&self, p: u128, q: u128, bits: u64) -> Float {
        Float {
            m: ((&self.m * p) << 64u32) / q,
            e: self.e - 64,
        }
        .rounded(bits)
    }

    fn pow(&self, mut n: u64, bits: u64) -> Float {
        let mut base = self.clone();
        let mut acc = Float::one();
        while n > 0 {
            if n & 1 == 1 {
                acc = acc.mul(&base, bits);
            }
            base = base.mul(&base, bits);
            n >>= 1;
        }
        acc
    }

    /// `log2` of the value (`-inf` for zero).
    fn log2(&self) -> f64 {
        let (f, k) = split(&self.m);
        f.log2() + (k + self.e) as f64
    }

    /// `floor(value * 2^shift)`.
    fn fixed(&self, shift: i64) -> BigUint {
        let s = self.e + shift;
        if s >= 0 {
            &self.m << (s as u64)
        } else {
            &self.m >> ((-s) as u64)
        }
    }
}

/// `exp(-t)` for a finite `t > 0`, to `bits` bits: Taylor series of `exp(-t/2^s)`
/// in fixed point, then `s` squarings.
fn exp_neg(t: f64, bits: u64) -> Float {
    let (tm, te) = dyadic(t);
    let s = ((t.log2() + 8.0).ceil()).max(0.0) as u64;
    let frac = bits + s + 64;
    let shift = te - s as i64 + frac as i64;
    let y = if shift >= 0 {
        BigInt::from(tm) << (shift as u64)
    } else {
        BigInt::from(tm) >> ((-shift) as u64)
    };
    let mut term = BigInt::from(1) << frac;
    let mut sum = term.clone();
    let mut k = 1u64;
    loop {
        term = -((&term * &y) >> frac) / k;
        if term.is_zero() {
            break;
        }
        sum += &term;
        k += 1;
    }
    let mut r = Float {
        m: sum.magnitude().clone(),
        e: -(frac as i64),
    };
    for _ in 0..s {
        r = r.mul(&r, bits + s + 32);
    }
    r.rounded(bits)
}

/// `N(d, l + 1) / N(d, l)` as a ratio of integers.
fn dimension_ratio(d: u128, l: u128) -> (u128, u128) {
    match (d, l) {
        (2, 0) => (2, 1),
        (2, _) => (1, 1),
        _ => ((2 * l + d) * (l + d - 2), (2 * l + d - 2) * (l + 1)),
    }
}

/// What the exact coefficients `u_l` (proportional to `a_l`) are built from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExactSource {
    /// `u_l = N(d, l) exp(-t l (l + d - 2))`, the infinite heat series.
    Heat(f64),
    /// `u_l = w_l N(d, l)` for caller-given weights.
    Weights(Vec<f64>),
    /// `u_l = a_l` as given (already in the Gegenbauer basis).
    Coefficients(Vec<f64>),
}

/// The exact series of `phi`, `phi'` and `phi''`, as integers scaled by `2^P`.
#[derive(Debug, Clone)]
pub(crate) struct ExactSeries {
    d: u64,
    /// `B_l = floor(u_l 2^(P - K))`, `K` the exponent of the largest `u_l`, for
    /// `phi = sum B_l P_l(d) / sum B_l`.
    value: Vec<BigInt>,
    /// `B_l l (l + d - 2)` at index `l - 1`: `phi' (d - 1) sum B_l` in dimension `d + 2`.
    slope: Vec<BigInt>,
    /// `B_l l (l + d - 2) (l - 1)(l + d - 1)` at index `l - 2`: `phi'' (d - 1)(d + 1) sum B_l`.
    curvature: Vec<BigInt>,
    /// `sum B_l`.
    norm: Extended,
    /// Absolute error bounds of the three series (integer units), from the
    /// coefficients' rounding and the recurrence's.
    err: [f64; 3],
}

impl ExactSeries {
    /// The exact series for `source` in dimension `d`. Heat kernels get as many
    /// bits as their smallest value `phi(-1)` needs; other kernels resolve every
    /// value above `2^-1100`.
    pub fn new(d: usize, source: &ExactSource) -> Result<ExactSeries> {
        let mut bits = match source {
            ExactSource::Heat(_) => HEAT_START_BITS,
            _ => BASE_BITS,
        };
        loop {
            let series = ExactSeries::with_bits(d, source, bits)?;
            let ExactSource::Heat(_) = source else {
                return Ok(series);
            };
            // The heat kernel is positive and increasing in c: its smallest value
            // and slope are at c = -1. Raise the precision until both are resolved.
            let worst = [0, 1]
                .map(|order| series.eval(order, -1.0))
                .iter()
                .map(|w| w.rel_err.log2())
                .fold(f64::NEG_INFINITY, f64::max);
            if worst <= TARGET_LOG2_REL {
                return Ok(series);
            }
            let more = if worst.is_finite() {
                (worst - TARGET_LOG2_REL + 32.0) as u64
            } else {
                bits
            };
            bits += more;
            if bits > 64 * MAX_EXACT_TERMS as u64 {
                return Err(Error::TruncationLimit {
                    cap: MAX_EXACT_TERMS,
                    hint: format!("the exact series in d = {d} needs more than {bits} bits"),
                });
            }
        }
    }

    fn with_bits(d: usize, source: &ExactSource, frac: u64) -> Result<ExactSeries> {
        let terms = coefficients(d, source, frac + 64)?;
        let top = terms
            .iter()
            .map(Float::log2)
            .fold(f64::NEG_INFINITY, f64::max)
            .ceil() as i64;
        let shift = frac as i64 - top;
        let mut value: Vec<BigInt> = terms.iter().map(|u| u.fixed(shift).into()).collect();
        while value.len() > 1 && value.last().is_some_and(Zero::is_zero) {
            value.pop();
        }
        let n = value.len();
        let du = d as u128;
        let lambda = |l: usize| l as u128 * (l as u128 + du - 2);
        let slope: Vec<BigInt> = (1..n).map(|l| &value[l] * lambda(l)).collect();
        let curvature: Vec<BigInt> = (2..n)
            .map(|l| &value[l] * lambda(l) * ((l as u128 - 1) * (l as u128 + du - 1)))
            .collect();
        let norm_sum: BigInt = value.iter().sum();
        let norm = extended_of(&norm_sum, 0.0);
        // Each coefficient is floored (one unit, times its multiplier for the
        // derivatives); the recurrence adds at most 4 (n + 1)^2 units.
        let recurrence = 4.0 * (n as f64 + 1.0).powi(2);
        let multipliers = |k: usize| -> f64 {
            (k..n)
                .map(|l| {
                    let lf = l as f64;
                    let m1 = lf * (lf + d as f64 - 2.0);
                    if k == 1 {
                        m1
                    } else {
                        m1 * (lf - 1.0) * (lf + d as f64 - 1.0)
                    }
                })
                .sum()
        };
        let err = [
            recurrence + n as f64,
            recurrence + multipliers(1),
            recurrence + multipliers(2),
        ];
        Ok(ExactSeries {
            d: d as u64,
            value,
            slope,
            curvature,
            norm,
            err,
        })
    }

    /// `phi`, `phi'` or `phi''` (`order` 0, 1, 2) at `c` in `[-1, 1]`.
    pub fn eval(&self, order: usize, c: f64) -> Extended {
        let (coeffs, dim, divisor) = match order {
            0 => (&self.value, self.d, 1.0),
            1 => (&self.slope, self.d + 2, (self.d - 1) as f64),
            _ => (
                &self.curvature,
                self.d + 4,
                ((self.d - 1) * (self.d + 1)) as f64,
            ),
        };
        let sum = clenshaw(coeffs, dim, c);
        extended_of(&sum, self.err[order.min(2)])
            .ratio(self.norm)
            .scaled(1.0 / divisor)
    }
}

/// A big integer as a [`Extended`] value with the given absolute error bound.
fn extended_of(v: &BigInt, abs_err: f64) -> Extended {
    let (f, k) = split(v.magnitude());
    let (err_f, err_k) = (abs_err, 0i64);
    let rel_err = if v.is_zero() {
        f64::INFINITY
    } else {
        // abs_err / |v|, formed apart from f64's range.
        ldexp(err_f / f, err_k - k)
    };
    let resolved = rel_err < 0.5;
    Extended {
        mantissa: if resolved {
            if v.is_negative() { -f } else { f }
        } else {
            0.0
        },
        exp2: k,
        rel_err,
    }
}

/// The coefficients `u_l` of `source`, to `bits` bits, up to where the rest is
/// below `2^-bits` of the largest.
fn coefficients(d: usize, source: &ExactSource, bits: u64) -> Result<Vec<Float>> {
    let du = d as u128;
    match source {
        ExactSource::Coefficients(a) => Ok(a.iter().map(|&v| Float::from_f64(v)).collect()),
        ExactSource::Weights(w) => {
            let mut dims = Float::one();
            let mut out = Vec::with_capacity(w.len());
            for (l, &wl) in w.iter().enumerate() {
                out.push(dims.mul(&Float::from_f64(wl), bits));
                let (p, q) = dimension_ratio(du, l as u128);
                dims = dims.mul_ratio(p, q, bits);
            }
            Ok(out)
        }
        ExactSource::Heat(t) => {
            // u_{l+1} = u_l N(d, l+1)/N(d, l) g^(2l + d - 1), g = exp(-t).
            let g = exp_neg(*t, bits + 32);
            let h = g.mul(&g, bits + 32);
            let mut power = g.pow(d as u64 - 1, bits + 32);
            let mut u = Float::one();
            let mut out = Vec::new();
            let mut peak = f64::NEG_INFINITY;
            let mut last = f64::NEG_INFINITY;
            for l in 0..MAX_EXACT_TERMS {
                let lg = u.log2();
                peak = peak.max(lg);
                // Log-concave terms: past the peak and below 2^-bits of it, the
                // rest of the series is negligible even summed.
                if lg < peak - bits as f64 - 32.0 && lg < last {
                    return Ok(out);
                }
                last = lg;
                out.push(u.clone());
                let (p, q) = dimension_ratio(du, l as u128);
                u = u.mul_ratio(p, q, bits).mul(&power, bits);
                power = power.mul(&h, bits + 32);
            }
            Err(Error::TruncationLimit {
                cap: MAX_EXACT_TERMS,
                hint: format!("the heat kernel with t = {t:e} in d = {d} is too narrow"),
            })
        }
    }
}

/// `sum_k B_k P_k(dim; c)` by Clenshaw's recurrence on integers:
/// `b_k = B_k + alpha_k c b_{k+1} - beta_{k+1} b_{k+2}`, with
/// `alpha_k = (2k + dim - 2)/(k + dim - 2)`, `beta_k = k/(k + dim - 2)`.
/// Each step floors three times (one unit each).
fn clenshaw(b: &[BigInt], dim: u64, c: f64) -> BigInt {
    let n = b.len();
    if n == 0 {
        return BigInt::zero();
    }
    if n == 1 {
        return b[0].clone();
    }
    let (cm, ce) = dyadic(c.clamp(-1.0, 1.0));
    // c = cm 2^ce with ce <= 0 for |c| <= 1 (or cm = 0).
    let cshift = (-ce).max(0) as usize;
    let dim = dim as i64;
    let (mut b1, mut b2) = (BigInt::zero(), BigInt::zero());
    let (mut t, mut u) = (BigInt::zero(), BigInt::zero());
    for k in (1..n).rev() {
        let k = k as i64;
        // b2 <- B_k + alpha_k c b1 - beta_{k+1} b2, then swap: (b1, b2) <- (b2, b1).
        // (Single-limb multipliers and divisors keep every step linear in the size.)
        t.clone_from(&b1);
        t *= cm;
        t *= 2 * k + dim - 2;
        t >>= cshift;
        t /= k + dim - 2;
        u.clone_from(&b2);
        u *= k + 1;
        u /= k + dim - 1;
        b2.clone_from(&b[k as usize]);
        b2 += &t;
        b2 -= &u;
        std::mem::swap(&mut b1, &mut b2);
    }
    t.clone_from(&b1);
    t *= cm;
    t >>= cshift;
    &b[0] + t - b2 / (dim - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gegenbauer_sum(a: &[f64], d: f64, c: f64) -> f64 {
        let (mut prev, mut cur) = (1.0, c);
        let mut s = a[0] + if a.len() > 1 { a[1] * c } else { 0.0 };
        for (l, al) in a.iter().enumerate().skip(2) {
            let lf = (l - 1) as f64;
            let next = ((2.0 * lf + d - 2.0) * c * cur - lf * prev) / (lf + d - 2.0);
            prev = cur;
            cur = next;
            s += al * cur;
        }
        s
    }

    #[test]
    fn dyadic_is_exact() {
        for x in [1.0, -0.3, 1e-310, 0.0, 2.5e100, -1.0] {
            let (m, e) = dyadic(x);
            assert_eq!(m as f64 * 2f64.powi(e.clamp(-1074, 1023) as i32), x);
        }
    }

    #[test]
    fn exp_neg_is_accurate() {
        for t in [1e-6, 0.01, 0.5, 3.0, 40.0] {
            let v = exp_neg(t, 200);
            let (f, k) = split(&v.m);
            let got = ldexp(f, k + v.e);
            assert!(((got - (-t).exp()) / (-t).exp()).abs() < 4e-16, "t={t}");
        }
    }

    #[test]
    fn small_series_agree_with_double_evaluation() {
        for d in [2usize, 3, 7, 40] {
            let a = [0.4, 0.3, 0.2, 0.1];
            let s = ExactSeries::new(d, &ExactSource::Coefficients(a.to_vec())).unwrap();
            for c in [-1.0, -0.4, 0.0, 0.3, 1.0] {
                let want = gegenbauer_sum(&a, d as f64, c);
                let got = s.eval(0, c).to_f64();
                assert!((got - want).abs() < 1e-15, "d={d} c={c}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn derivatives_follow_from_the_value() {
        let s = ExactSeries::new(5, &ExactSource::Heat(0.3)).unwrap();
        for c in [-0.8, -0.1, 0.5] {
            let h = 1e-5;
            let fd = (s.eval(0, c + h).to_f64() - s.eval(0, c - h).to_f64()) / (2.0 * h);
            let d1 = s.eval(1, c).to_f64();
            assert!((fd - d1).abs() < 1e-8 * d1.abs(), "c={c}: {fd} vs {d1}");
            let fd2 = (s.eval(1, c + h).to_f64() - s.eval(1, c - h).to_f64()) / (2.0 * h);
            let d2 = s.eval(2, c).to_f64();
            assert!(
                (fd2 - d2).abs() < 1e-7 * d2.abs().max(1.0),
                "c={c}: {fd2} vs {d2}"
            );
        }
        assert!((s.eval(0, 1.0).to_f64() - 1.0).abs() < 1e-15);
    }
}
