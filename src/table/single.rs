//! A profile on all of `[-1, 1]` as one polynomial in the cosine, for the pairs of
//! `f32` rows: where a profile is smooth enough (the heat kernel at the usual
//! `t = 5/d` up to `d = 2048`, a bandlimited kernel of low degree), its value and
//! slope are Horner chains in the cosine itself, with no interval to look up and no
//! round trip of the cosines or the weights through rows of `f64` in memory.
//!
//! The slope, which becomes an `f32` weight, is an `f32` chain with `f32`
//! coefficients, eight pairs to an AVX2 register (four to a NEON one). The value,
//! which is summed into the loss, is an `f64` chain: coefficients rounded to `f32`
//! would shift every value the same way, and the loss is a mean over many pairs
//! that can be much smaller than the values themselves. Both are Chebyshev
//! interpolants on [`FIT_POINTS`] points, in monomials, each truncated to the
//! fewest coefficients (from where its Chebyshev tail falls below a fraction of the
//! largest magnitude on) that meet its checks:
//! - each chain's terms add up to at most [`CONDITIONING`] times its largest
//!   magnitude (a monomial form whose terms cancel more than that turns small
//!   errors of its coefficients into large ones of its values; bandlimited kernels
//!   of high degree at small `d` fail it);
//! - evaluated as the engine evaluates them, at 1025 evenly spaced points and 512
//!   Chebyshev points (dense towards the ends), value and slope are within
//!   [`VALUE_TOLERANCE`] (`2^-30`) and [`TOLERANCE`] (eight `f32` roundings) of
//!   the profile, relative to the size of the polynomial's terms there: the
//!   magnitude itself wherever the terms do not cancel, so that small weights keep
//!   their relative accuracy even where the profile's largest magnitude is a
//!   thousand times larger.
//!
//! The checks sample the error; they do not bound it between their points. A
//! profile that fails them gets no polynomial, and its `f32` rows take the `f64`
//! table.

use crate::numerics::{chebyshev_coeffs, chebyshev_points, monomial_coeffs};
use std::f64::consts::PI;

/// Points of the Chebyshev fit: the highest degree it can resolve, plus one.
const FIT_POINTS: usize = 48;
/// The most coefficients per chain (degree `MAX_COEFFS - 1`).
pub(crate) const MAX_COEFFS: usize = 40;
/// Where the search for the slope's degree starts: its Chebyshev tail below this
/// fraction of its largest magnitude.
const TRUNCATION: f64 = 1.0 / (1u64 << 26) as f64;
/// Where the search for the value's degree starts, likewise.
const VALUE_TRUNCATION: f64 = 1.0 / (1u64 << 32) as f64;
/// The largest error of the slope, relative to the size of its terms: eight
/// roundings of `f32`.
pub(crate) const TOLERANCE: f64 = 1.0 / (1u64 << 21) as f64;
/// The largest error of the value, relative to the size of its terms.
pub(crate) const VALUE_TOLERANCE: f64 = 1.0 / (1u64 << 30) as f64;
/// The most a chain's terms may add up to, against its largest magnitude (heat
/// kernels at large `d`, whose terms all have one sign, are at 1).
const CONDITIONING: f64 = 8.0;
/// The absolute part of the checks' scale, relative to the largest magnitude: one
/// `f32` rounding of it (a profile's zeros, and the rounding of a fit of an exact
/// polynomial, are measured against it).
const FLOOR: f64 = 1.0 / (1u64 << 24) as f64;
/// Intervals between the evenly spaced points at which the evaluated polynomials
/// are checked (and twice the number of Chebyshev points checked besides).
const CHECKS: usize = 1024;

/// A profile's value and slope as polynomials in `c` on `[-1, 1]`.
#[derive(Debug, Clone)]
pub(crate) struct SingleTable {
    /// The value's coefficients, lowest degree first.
    value: Vec<f64>,
    /// The slope's coefficients, lowest degree first. The shorter chain is padded
    /// with zeros at the top, so that both have the same length.
    slope: Vec<f32>,
}

/// One chain's fit: Chebyshev coefficients, the largest magnitude, and the error
/// allowed relative to the size of its terms.
struct Chain {
    cheb: [f64; FIT_POINTS],
    scale: f64,
    tolerance: f64,
}

impl Chain {
    /// The first `len` coefficients of the fit, in monomials.
    fn monomials(&self, len: usize) -> Vec<f64> {
        let kept = std::array::from_fn(|k| if k < len { self.cheb[k] } else { 0.0 });
        monomial_coeffs::<FIT_POINTS>(&kept)[..len].to_vec()
    }

    /// The fewest coefficients, from where the tail falls below `truncation` of
    /// the largest magnitude on, whose `coeffs` are conditioned (their magnitudes
    /// add up to at most [`CONDITIONING`] times the largest magnitude) and, as
    /// `eval` evaluates them, [`Chain::close`] to the exact `(c, value)` of every
    /// check.
    fn shortest<T: Copy + Into<f64>>(
        &self,
        truncation: f64,
        checks: &[(f32, f64)],
        coeffs: impl Fn(Vec<f64>) -> Vec<T>,
        eval: impl Fn(&[T], f32) -> f64,
    ) -> Option<Vec<T>> {
        let tail = |from: usize| self.cheb[from..].iter().map(|x| x.abs()).sum::<f64>();
        let first = (1..=MAX_COEFFS).find(|&len| tail(len) <= truncation * self.scale)?;
        (first..=MAX_COEFFS)
            .map(|len| coeffs(self.monomials(len)))
            .find(|a| {
                terms(a, 1.0) <= CONDITIONING * self.scale
                    && checks.iter().all(|&(c, exact)| {
                        self.close(eval(a, c), exact, terms(a, f64::from(c).abs()))
                    })
            })
    }

    /// Whether `got` is within the tolerance of `exact`, relative to the size
    /// `terms` of the polynomial's terms there plus one `f32` rounding of the
    /// largest magnitude.
    fn close(&self, got: f64, exact: f64, terms: f64) -> bool {
        (got - exact).abs() <= self.tolerance * (terms + FLOOR * self.scale)
    }
}

/// `sum_k |a_k| x^k`.
fn terms<T: Copy + Into<f64>>(a: &[T], x: f64) -> f64 {
    a.iter().rev().fold(0.0, |acc, &a| acc * x + a.into().abs())
}

/// Horner's rule with fused steps, highest coefficient first.
#[inline(always)]
fn horner<T: Copy>(a: &[T], x: T, fma: impl Fn(T, T, T) -> T) -> T {
    let m = a.len();
    a[..m - 1]
        .iter()
        .rev()
        .fold(a[m - 1], |acc, &c| fma(acc, x, c))
}

impl SingleTable {
    /// The polynomials of `f: c -> (value, slope)` on `[-1, 1]`, or `None` if `f` is
    /// not finite there or no fit of up to [`MAX_COEFFS`] coefficients meets the
    /// checks.
    pub fn build(f: impl Fn(f64) -> (f64, f64)) -> Option<SingleTable> {
        let nodes = chebyshev_points::<FIT_POINTS>().map(&f);
        // Evenly spaced points, and Chebyshev points (denser towards the ends).
        let even = (0..=CHECKS).map(|k| 2.0 * k as f64 / CHECKS as f64 - 1.0);
        let ends = (0..CHECKS / 2).map(|k| (PI * (k as f64 + 0.5) / (CHECKS / 2) as f64).cos());
        let checks: Vec<(f32, f64, f64)> = even
            .chain(ends)
            .map(|c| {
                let c = c as f32;
                let (v, s) = f(f64::from(c));
                (c, v, s)
            })
            .collect();
        let finite = |(v, s): (f64, f64)| v.is_finite() && s.is_finite();
        if !(nodes.iter().all(|&p| finite(p)) && checks.iter().all(|&(_, v, s)| finite((v, s)))) {
            return None;
        }
        let chain = |of: fn((f64, f64)) -> f64, tolerance: f64| {
            let seen = nodes
                .iter()
                .copied()
                .chain(checks.iter().map(|&(_, v, s)| (v, s)));
            Chain {
                cheb: chebyshev_coeffs(&nodes.map(of)),
                scale: seen.map(|p| of(p).abs()).fold(0.0, f64::max),
                tolerance,
            }
        };
        let exact = |of: fn((f64, f64)) -> f64| -> Vec<(f32, f64)> {
            checks.iter().map(|&(c, v, s)| (c, of((v, s)))).collect()
        };
        let (value, slope) = (chain(|p| p.0, VALUE_TOLERANCE), chain(|p| p.1, TOLERANCE));
        let value = value.shortest(
            VALUE_TRUNCATION,
            &exact(|p| p.0),
            |a| a,
            |a, c| horner(a, f64::from(c), f64::mul_add),
        )?;
        let mut slope = slope.shortest(
            TRUNCATION,
            &exact(|p| p.1),
            |a| a.iter().map(|&a| a as f32).collect(),
            |a, c| f64::from(horner(a, c, f32::mul_add)),
        )?;
        let mut value = value;
        let len = value.len().max(slope.len());
        value.resize(len, 0.0);
        slope.resize(len, 0.0);
        Some(SingleTable { value, slope })
    }

    /// Coefficients per chain.
    #[cfg(test)]
    pub fn coefficients(&self) -> usize {
        self.value.len()
    }

    /// The value and slope at `c` (clamped into `[-1, 1]`): the operations every
    /// path performs, in this order.
    #[inline(always)]
    pub fn value_and_slope(&self, c: f32) -> (f64, f32) {
        let x = c.clamp(-1.0, 1.0);
        (
            horner(&self.value, f64::from(x), f64::mul_add),
            horner(&self.slope, x, f32::mul_add),
        )
    }

    /// Values (and slopes, if asked) at every `c`, bit for bit
    /// [`SingleTable::value_and_slope`]'s, in vector registers: on x86-64 with AVX2
    /// and FMA (detected at run time) and on aarch64. Returns `false`, writing
    /// nothing, elsewhere: callers then take their `f64` path, which is faster than
    /// fused multiply-adds done in software.
    pub fn eval_batch(&self, c: &[f32], values: &mut [f64], slopes: Option<&mut [f32]>) -> bool {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            unsafe {
                match slopes {
                    Some(_) => self.eval_batch_avx2_fma::<true>(c, values, slopes),
                    None => self.eval_batch_avx2_fma::<false>(c, values, None),
                }
            };
            return true;
        }
        #[cfg(target_arch = "aarch64")]
        {
            match slopes {
                Some(_) => self.eval_batch_neon::<true>(c, values, slopes),
                None => self.eval_batch_neon::<false>(c, values, None),
            }
            return true;
        }
        #[allow(unreachable_code)]
        false
    }

    /// What the vector paths' unchecked accesses rely on: both chains hold the
    /// same, non-zero number of coefficients, and the outputs hold a value (and
    /// a slope, if asked) per point.
    #[inline(always)]
    fn check_lengths(&self, c: &[f32], values: &[f64], slopes: Option<&[f32]>) {
        let (m, n) = (self.value.len(), c.len());
        assert!(
            m > 0 && self.slope.len() == m,
            "a table has two chains of equal length"
        );
        assert!(values.len() >= n && slopes.is_none_or(|s| s.len() >= n));
    }

    /// The points past the last full chunk, one at a time.
    #[inline(always)]
    fn tail(&self, c: &[f32], values: &mut [f64], mut slopes: Option<&mut [f32]>, from: usize) {
        for j in from..c.len() {
            let (v, s) = self.value_and_slope(c[j]);
            values[j] = v;
            if let Some(out) = slopes.as_deref_mut() {
                out[j] = s;
            }
        }
    }

    /// [`SingleTable::eval_batch`] on AVX2 + FMA: chunks of two registers of eight
    /// points (per register, its two halves' values in `f64` and, with `SLOPES`,
    /// its slopes in `f32`: six chains in flight), then the rest one at a time.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn eval_batch_avx2_fma<const SLOPES: bool>(
        &self,
        c: &[f32],
        values: &mut [f64],
        mut slopes: Option<&mut [f32]>,
    ) {
        use std::arch::x86_64::*;
        const GROUPS: usize = 2;
        const CHUNK: usize = 8 * GROUPS;
        self.check_lengths(c, values, slopes.as_deref());
        let m = self.value.len();
        let (one, minus_one) = (_mm256_set1_ps(1.0), _mm256_set1_ps(-1.0));
        let full = c.len() - c.len() % CHUNK;
        for start in (0..full).step_by(CHUNK) {
            // SAFETY (every access below): `start + CHUNK <= full <= c.len()`,
            // `values` and `slopes` hold at least `c.len()` entries, and `k < m`
            // indexes both chains' `m` coefficients (`check_lengths`).
            unsafe {
                // clamp(c, -1, 1), NaN kept: max/min return their second operand
                // when either is NaN, as `f32::clamp` keeps a NaN.
                let x: [__m256; GROUPS] = std::array::from_fn(|g| {
                    let v = _mm256_loadu_ps(c.as_ptr().add(start + 8 * g));
                    _mm256_min_ps(one, _mm256_max_ps(minus_one, v))
                });
                let low: [__m256d; GROUPS] =
                    std::array::from_fn(|g| _mm256_cvtps_pd(_mm256_castps256_ps128(x[g])));
                let high: [__m256d; GROUPS] =
                    std::array::from_fn(|g| _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(x[g])));
                let coeff = |k: usize| {
                    (
                        _mm256_broadcast_sd(self.value.get_unchecked(k)),
                        _mm256_broadcast_ss(self.slope.get_unchecked(k)),
                    )
                };
                let (v0, s0) = coeff(m - 1);
                let (mut vl, mut vh, mut s) = ([v0; GROUPS], [v0; GROUPS], [s0; GROUPS]);
                for k in (0..m - 1).rev() {
                    let (vk, sk) = coeff(k);
                    for g in 0..GROUPS {
                        vl[g] = _mm256_fmadd_pd(vl[g], low[g], vk);
                        vh[g] = _mm256_fmadd_pd(vh[g], high[g], vk);
                        if SLOPES {
                            s[g] = _mm256_fmadd_ps(s[g], x[g], sk);
                        }
                    }
                }
                for g in 0..GROUPS {
                    let at = start + 8 * g;
                    _mm256_storeu_pd(values.as_mut_ptr().add(at), vl[g]);
                    _mm256_storeu_pd(values.as_mut_ptr().add(at + 4), vh[g]);
                    if let Some(sl) = slopes.as_deref_mut() {
                        _mm256_storeu_ps(sl.as_mut_ptr().add(at), s[g]);
                    }
                }
            }
        }
        self.tail(c, values, slopes, full);
    }

    /// [`SingleTable::eval_batch`] on NEON: chunks of four registers of four
    /// points (per register, its halves' values in `f64` and, with `SLOPES`, its
    /// slopes in `f32`), then the rest one at a time.
    #[cfg(target_arch = "aarch64")]
    fn eval_batch_neon<const SLOPES: bool>(
        &self,
        c: &[f32],
        values: &mut [f64],
        mut slopes: Option<&mut [f32]>,
    ) {
        use std::arch::aarch64::*;
        const GROUPS: usize = 4;
        const CHUNK: usize = 4 * GROUPS;
        self.check_lengths(c, values, slopes.as_deref());
        let m = self.value.len();
        let full = c.len() - c.len() % CHUNK;
        for start in (0..full).step_by(CHUNK) {
            // SAFETY (every access below): NEON is part of aarch64;
            // `start + CHUNK <= full <= c.len()`, `values` and `slopes` hold at
            // least `c.len()` entries, and `k < m` indexes both chains' `m`
            // coefficients (`check_lengths`).
            unsafe {
                // vmaxq/vminq return NaN when either operand is NaN.
                let x: [float32x4_t; GROUPS] = std::array::from_fn(|g| {
                    let v = vld1q_f32(c.as_ptr().add(start + 4 * g));
                    vminq_f32(vdupq_n_f32(1.0), vmaxq_f32(vdupq_n_f32(-1.0), v))
                });
                let low: [float64x2_t; GROUPS] =
                    std::array::from_fn(|g| vcvt_f64_f32(vget_low_f32(x[g])));
                let high: [float64x2_t; GROUPS] = std::array::from_fn(|g| vcvt_high_f64_f32(x[g]));
                let coeff = |k: usize| {
                    (
                        vdupq_n_f64(*self.value.get_unchecked(k)),
                        vdupq_n_f32(*self.slope.get_unchecked(k)),
                    )
                };
                let (v0, s0) = coeff(m - 1);
                let (mut vl, mut vh, mut s) = ([v0; GROUPS], [v0; GROUPS], [s0; GROUPS]);
                for k in (0..m - 1).rev() {
                    let (vk, sk) = coeff(k);
                    for g in 0..GROUPS {
                        vl[g] = vfmaq_f64(vk, vl[g], low[g]);
                        vh[g] = vfmaq_f64(vk, vh[g], high[g]);
                        if SLOPES {
                            s[g] = vfmaq_f32(sk, s[g], x[g]);
                        }
                    }
                }
                for g in 0..GROUPS {
                    let at = start + 4 * g;
                    vst1q_f64(values.as_mut_ptr().add(at), vl[g]);
                    vst1q_f64(values.as_mut_ptr().add(at + 2), vh[g]);
                    if let Some(sl) = slopes.as_deref_mut() {
                        vst1q_f32(sl.as_mut_ptr().add(at), s[g]);
                    }
                }
            }
        }
        self.tail(c, values, slopes, full);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `exp(a c)` and its slope.
    fn exponential(a: f64) -> impl Fn(f64) -> (f64, f64) {
        move |c: f64| ((a * c).exp(), a * (a * c).exp())
    }

    #[test]
    fn smooth_profiles_meet_the_tolerance_between_the_checked_points() {
        for a in [0.0, 0.5, 3.0, -4.0, 12.0] {
            let f = exponential(a);
            let t = SingleTable::build(&f).expect("a table");
            assert!(t.coefficients() <= MAX_COEFFS);
            let (sv, ss) = (a.abs().exp(), (a * a.abs().exp()).abs());
            for k in 0..=10_000 {
                let c = (-1.0 + 2.0 * k as f64 / 10_000.0) as f32;
                let (v, s) = f(f64::from(c));
                let (tv, ts) = t.value_and_slope(c);
                let x = f64::from(c).abs();
                let (ev, es) = ((tv - v).abs(), (f64::from(ts) - s).abs());
                assert!(
                    ev <= VALUE_TOLERANCE * (terms(&t.value, x) + FLOOR * sv),
                    "a = {a}"
                );
                assert!(
                    es <= TOLERANCE * (terms(&t.slope, x) + FLOOR * ss),
                    "a = {a}, c = {c}"
                );
                // Where every term is positive, that is relative to the profile.
                if a >= 0.0 && c >= 0.0 {
                    assert!(
                        ev <= VALUE_TOLERANCE * v && es <= TOLERANCE * s,
                        "a = {a}, c = {c}"
                    );
                }
            }
        }
    }

    #[test]
    fn low_degree_polynomials_need_few_coefficients() {
        let t = SingleTable::build(|c| (1.0 + 2.0 * c - c * c * c, 2.0 - 3.0 * c * c)).unwrap();
        assert_eq!(t.coefficients(), 4);
        let (v, s) = t.value_and_slope(0.5);
        assert!(
            (v - 1.875).abs() < 1e-14 && (s - 1.25).abs() < 1e-6,
            "{v} {s}"
        );
    }

    #[test]
    fn ill_conditioned_monomial_forms_get_no_table() {
        // T_20: at most 1 in size, with monomial coefficients up to 2^19.
        let t20 = |c: f64| {
            let (mut prev, mut cur, mut dprev, mut dcur) = (1.0, c, 0.0, 1.0);
            for _ in 1..20 {
                let next = 2.0 * c * cur - prev;
                let dnext = 2.0 * cur + 2.0 * c * dcur - dprev;
                (prev, cur, dprev, dcur) = (cur, next, dcur, dnext);
            }
            (cur, dcur)
        };
        assert!(SingleTable::build(t20).is_none());
    }

    #[test]
    fn sharp_or_broken_profiles_get_no_table() {
        assert!(SingleTable::build(exponential(40.0)).is_none());
        assert!(SingleTable::build(|c| (1.0 / (1.001 - c), 1.0 / (1.001 - c).powi(2))).is_none());
        assert!(SingleTable::build(|c| (c.ln(), 1.0 / c)).is_none());
    }

    #[test]
    fn vector_evaluation_is_bit_identical_to_the_scalar_one() {
        // The value chain the longer one (the slope's padded), then the slope's.
        let value_longer = SingleTable::build(exponential(2.5)).unwrap();
        let slope_longer = SingleTable::build(|c| (1.0 + 0.5 * c, (2.5 * c).exp())).unwrap();
        let specials = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
            0.0,
            1.5,
            -7.0,
        ];
        for t in [value_longer, slope_longer] {
            for n in [0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 64, 100] {
                let c: Vec<f32> = (0..n)
                    .map(|j| match j % 11 {
                        10 => specials[(j / 11) % specials.len()],
                        _ => ((j as f32) * 0.377).sin(),
                    })
                    .collect();
                let (mut v, mut s) = (vec![0.0; n], vec![0.0f32; n]);
                let mut v_alone = vec![0.0; n];
                if !t.eval_batch(&c, &mut v, Some(&mut s)) {
                    return; // no vector path on this CPU
                }
                assert!(t.eval_batch(&c, &mut v_alone, None));
                let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan();
                for j in 0..n {
                    let (ev, es) = t.value_and_slope(c[j]);
                    let at = format!("{t:?}, n = {n}, c = {}", c[j]);
                    assert!(same(v[j], ev) && same(v_alone[j], ev), "{at}");
                    assert!(same(f64::from(s[j]), f64::from(es)), "{at}");
                }
            }
        }
    }
}
