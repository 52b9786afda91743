//! A profile on all of `[-1, 1]` as one polynomial with `f32` coefficients, for the
//! pairs of `f32` rows: where a profile is smooth enough (the heat kernel at the
//! usual `t = 5/d` up to `d = 2048`, a bandlimited kernel of low degree), its value
//! and slope are Horner chains in the cosine itself, eight pairs to a vector
//! register, with no interval to look up and no `f64` round trip of the cosines or
//! the weights.
//!
//! The value is kept as `v(c) = v(0) + c q(c)`: `v(0)` in `f64` and `q` in `f32`, so
//! that rounding the largest coefficient to `f32` adds no bias to the sum of the
//! values; the slope is one `f32` chain. The fit is Chebyshev interpolation on
//! [`FIT_POINTS`] points, truncated to the fewest coefficients whose evaluation in
//! `f32`, at 1025 points, is within [`TOLERANCE`] (eight `f32` roundings) of the
//! profile relative to the size of the polynomial's terms there: the magnitude
//! itself wherever the terms do not cancel, so that small weights keep their
//! relative accuracy even where the profile's largest magnitude is a thousand
//! times larger. A profile that needs more than [`MAX_COEFFS`] coefficients gets
//! no polynomial, and its `f32` rows take the `f64` table.

use crate::numerics::{chebyshev_coeffs, chebyshev_points, monomial_coeffs};

/// Points of the Chebyshev fit: the highest degree it can resolve, plus one.
const FIT_POINTS: usize = 40;
/// The most coefficients per chain (value degree `MAX_COEFFS`, slope one less).
pub(crate) const MAX_COEFFS: usize = 32;
/// Where the fit is truncated, relative to the profile's largest magnitude.
const TRUNCATION: f64 = 1.0 / (1u64 << 26) as f64;
/// The largest error kept, relative to the local magnitude: eight roundings of
/// `f32`.
pub(crate) const TOLERANCE: f64 = 1.0 / (1u64 << 21) as f64;
/// The absolute part of the checks' scale, relative to the largest magnitude: one
/// `f32` rounding of it (a profile's zeros, and the rounding of a fit of an exact
/// polynomial, are measured against it).
const FLOOR: f64 = 1.0 / (1u64 << 24) as f64;
/// Points at which the evaluated polynomial is checked.
const CHECKS: usize = 1024;

/// A profile's value and slope as polynomials in `c` on `[-1, 1]`.
#[derive(Debug, Clone)]
pub(crate) struct SingleTable {
    /// `v(0)`.
    value_at_zero: f64,
    /// `q` of `v(c) = v(0) + c q(c)`, lowest degree first.
    value: Vec<f32>,
    /// The slope's coefficients, lowest degree first (as many as `value`).
    slope: Vec<f32>,
}

impl SingleTable {
    /// The polynomial of `f: c -> (value, slope)` on `[-1, 1]`: the Chebyshev fit
    /// truncated to the fewest coefficients that meet [`TOLERANCE`], or `None` if
    /// `f` is not finite there or no fit of up to [`MAX_COEFFS`] coefficients per
    /// chain does.
    pub fn build(f: impl Fn(f64) -> (f64, f64)) -> Option<SingleTable> {
        let nodes = chebyshev_points::<FIT_POINTS>().map(&f);
        let checks: Vec<(f32, f64, f64)> = (0..=CHECKS)
            .map(|k| {
                let c = (2.0 * k as f64 / CHECKS as f64 - 1.0) as f32;
                let (v, s) = f(f64::from(c));
                (c, v, s)
            })
            .collect();
        let finite = |(v, s): (f64, f64)| v.is_finite() && s.is_finite();
        if !(nodes.iter().all(|&p| finite(p)) && checks.iter().all(|&(_, v, s)| finite((v, s)))) {
            return None;
        }
        let largest = |of: fn(&(f64, f64)) -> f64| nodes.iter().map(of).fold(0.0, f64::max);
        let (scale_v, scale_s) = (largest(|p| p.0.abs()), largest(|p| p.1.abs()));
        let cv = chebyshev_coeffs(&nodes.map(|p| p.0));
        let cs = chebyshev_coeffs(&nodes.map(|p| p.1));
        let tail =
            |c: &[f64; FIT_POINTS], from: usize| c[from..].iter().map(|x| x.abs()).sum::<f64>();
        // m coefficients per chain: the value to degree m, the slope to m - 1. The
        // fewest whose tails are small against the largest magnitude is where the
        // search starts; the checks, relative to the local magnitude, decide.
        let first = (1..=MAX_COEFFS).find(|&m| {
            tail(&cv, m + 1) <= TRUNCATION * scale_v && tail(&cs, m) <= TRUNCATION * scale_s
        })?;
        let floor = (FLOOR * scale_v, FLOOR * scale_s);
        (first..=MAX_COEFFS)
            .map(|m| SingleTable::truncated(&cv, &cs, m))
            .find(|t| t.meets(&checks, floor))
    }

    /// The fits `cv` (value) and `cs` (slope) truncated to `m` coefficients per
    /// chain, in monomials.
    fn truncated(cv: &[f64; FIT_POINTS], cs: &[f64; FIT_POINTS], m: usize) -> SingleTable {
        let monomials = |c: &[f64; FIT_POINTS], degree: usize| -> [f64; FIT_POINTS] {
            monomial_coeffs(&std::array::from_fn(
                |k| if k <= degree { c[k] } else { 0.0 },
            ))
        };
        let (av, as_) = (monomials(cv, m), monomials(cs, m - 1));
        SingleTable {
            value_at_zero: av[0],
            value: av[1..=m].iter().map(|&a| a as f32).collect(),
            slope: as_[..m].iter().map(|&a| a as f32).collect(),
        }
    }

    /// Whether the value and slope, as evaluated, are within [`TOLERANCE`] of the
    /// exact `(c, value, slope)` of every check, relative to the sum of the
    /// magnitudes of their polynomial's terms at `c` (the magnitude itself where
    /// the terms do not cancel, and the scale of the rounding where they do) plus
    /// `floor = (value floor, slope floor)`.
    fn meets(&self, checks: &[(f32, f64, f64)], (floor_v, floor_s): (f64, f64)) -> bool {
        checks.iter().all(|&(c, v, s)| {
            let x = f64::from(c).abs();
            let terms = |a: &[f32]| {
                a.iter()
                    .rev()
                    .fold(0.0, |acc, &a| acc * x + f64::from(a).abs())
            };
            let (tv, ts) = self.value_and_slope(c);
            let scale_v = self.value_at_zero.abs() + x * terms(&self.value) + floor_v;
            (tv - v).abs() <= TOLERANCE * scale_v
                && (f64::from(ts) - s).abs() <= TOLERANCE * (terms(&self.slope) + floor_s)
        })
    }

    /// Coefficients per chain.
    #[cfg(test)]
    pub fn coefficients(&self) -> usize {
        self.value.len()
    }

    /// The value and slope at `c` (clamped into `[-1, 1]`): the operations every
    /// path performs, in this order.
    pub fn value_and_slope(&self, c: f32) -> (f64, f32) {
        let x = c.clamp(-1.0, 1.0);
        let m = self.value.len();
        let (mut q, mut s) = (self.value[m - 1], self.slope[m - 1]);
        for k in (0..m - 1).rev() {
            q = q.mul_add(x, self.value[k]);
            s = s.mul_add(x, self.slope[k]);
        }
        (self.value_at_zero + f64::from(q * x), s)
    }

    /// Values (and slopes, if asked) at every `c`, bit for bit
    /// [`SingleTable::value_and_slope`]'s, in vector registers: on x86-64 with AVX2
    /// and FMA (detected at run time) and on aarch64. Returns `false`, writing
    /// nothing, elsewhere: callers then take their `f64` path, which is faster than
    /// fused multiply-adds done in software.
    pub fn eval_batch(&self, c: &[f32], values: &mut [f64], slopes: Option<&mut [f32]>) -> bool {
        let n = c.len();
        assert!(values.len() >= n && slopes.as_ref().is_none_or(|s| s.len() >= n));
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            unsafe { self.eval_batch_avx2_fma(c, values, slopes) };
            return true;
        }
        #[cfg(target_arch = "aarch64")]
        {
            self.eval_batch_neon(c, values, slopes);
            return true;
        }
        #[allow(unreachable_code)]
        false
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

    /// [`SingleTable::eval_batch`] on AVX2 + FMA: chunks of four registers of eight
    /// points (eight chains in flight), then the rest one at a time.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn eval_batch_avx2_fma(&self, c: &[f32], values: &mut [f64], mut slopes: Option<&mut [f32]>) {
        use std::arch::x86_64::*;
        const GROUPS: usize = 4;
        const CHUNK: usize = 8 * GROUPS;
        let m = self.value.len();
        let (one, minus_one) = (_mm256_set1_ps(1.0), _mm256_set1_ps(-1.0));
        let at_zero = _mm256_set1_pd(self.value_at_zero);
        let full = c.len() - c.len() % CHUNK;
        for start in (0..full).step_by(CHUNK) {
            // SAFETY (every access below): `start + CHUNK <= full <= c.len()`, and
            // `values` and `slopes` hold at least `c.len()` entries (checked by
            // `eval_batch`); `k < m` indexes the coefficients.
            unsafe {
                // clamp(c, -1, 1), NaN kept: max/min return their second operand
                // when either is NaN, as `f32::clamp` keeps a NaN.
                let x: [__m256; GROUPS] = std::array::from_fn(|g| {
                    let v = _mm256_loadu_ps(c.as_ptr().add(start + 8 * g));
                    _mm256_min_ps(one, _mm256_max_ps(minus_one, v))
                });
                let coeff = |k: usize| {
                    (
                        _mm256_broadcast_ss(self.value.get_unchecked(k)),
                        _mm256_broadcast_ss(self.slope.get_unchecked(k)),
                    )
                };
                let (q0, s0) = coeff(m - 1);
                let (mut q, mut s) = ([q0; GROUPS], [s0; GROUPS]);
                for k in (0..m - 1).rev() {
                    let (qk, sk) = coeff(k);
                    for g in 0..GROUPS {
                        q[g] = _mm256_fmadd_ps(q[g], x[g], qk);
                        s[g] = _mm256_fmadd_ps(s[g], x[g], sk);
                    }
                }
                for g in 0..GROUPS {
                    let at = start + 8 * g;
                    let r = _mm256_mul_ps(q[g], x[g]);
                    let low = _mm256_cvtps_pd(_mm256_castps256_ps128(r));
                    let high = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(r));
                    let out = values.as_mut_ptr().add(at);
                    _mm256_storeu_pd(out, _mm256_add_pd(at_zero, low));
                    _mm256_storeu_pd(out.add(4), _mm256_add_pd(at_zero, high));
                    if let Some(sl) = slopes.as_deref_mut() {
                        _mm256_storeu_ps(sl.as_mut_ptr().add(at), s[g]);
                    }
                }
            }
        }
        self.tail(c, values, slopes, full);
    }

    /// [`SingleTable::eval_batch`] on NEON: chunks of four registers of four
    /// points, then the rest one at a time.
    #[cfg(target_arch = "aarch64")]
    fn eval_batch_neon(&self, c: &[f32], values: &mut [f64], mut slopes: Option<&mut [f32]>) {
        use std::arch::aarch64::*;
        const GROUPS: usize = 4;
        const CHUNK: usize = 4 * GROUPS;
        let m = self.value.len();
        let full = c.len() - c.len() % CHUNK;
        for start in (0..full).step_by(CHUNK) {
            // SAFETY (every access below): NEON is part of aarch64;
            // `start + CHUNK <= full <= c.len()`, and `values` and `slopes` hold at
            // least `c.len()` entries (checked by `eval_batch`).
            unsafe {
                // vmaxq/vminq return NaN when either operand is NaN.
                let x: [float32x4_t; GROUPS] = std::array::from_fn(|g| {
                    let v = vld1q_f32(c.as_ptr().add(start + 4 * g));
                    vminq_f32(vdupq_n_f32(1.0), vmaxq_f32(vdupq_n_f32(-1.0), v))
                });
                let coeff = |k: usize| (vdupq_n_f32(self.value[k]), vdupq_n_f32(self.slope[k]));
                let (q0, s0) = coeff(m - 1);
                let (mut q, mut s) = ([q0; GROUPS], [s0; GROUPS]);
                for k in (0..m - 1).rev() {
                    let (qk, sk) = coeff(k);
                    for g in 0..GROUPS {
                        q[g] = vfmaq_f32(qk, q[g], x[g]);
                        s[g] = vfmaq_f32(sk, s[g], x[g]);
                    }
                }
                let at_zero = vdupq_n_f64(self.value_at_zero);
                for g in 0..GROUPS {
                    let at = start + 4 * g;
                    let r = vmulq_f32(q[g], x[g]);
                    let out = values.as_mut_ptr().add(at);
                    vst1q_f64(out, vaddq_f64(at_zero, vcvt_f64_f32(vget_low_f32(r))));
                    vst1q_f64(out.add(2), vaddq_f64(at_zero, vcvt_high_f64_f32(r)));
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
            let dense: Vec<(f32, f64, f64)> = (0..=10_000)
                .map(|k| {
                    let c = (-1.0 + 2.0 * k as f64 / 10_000.0) as f32;
                    let (v, s) = f(f64::from(c));
                    (c, v, s)
                })
                .collect();
            assert!(t.meets(&dense, (0.0, 0.0)), "a = {a}");
            // Where every term is positive, that is relative to the value itself.
            if a >= 0.0 {
                for &(c, v, s) in dense.iter().filter(|p| p.0 >= 0.0) {
                    let (tv, ts) = t.value_and_slope(c);
                    assert!((tv - v).abs() <= TOLERANCE * v, "a = {a}, c = {c}");
                    assert!(
                        (f64::from(ts) - s).abs() <= TOLERANCE * s,
                        "a = {a}, c = {c}"
                    );
                }
            }
        }
    }

    #[test]
    fn low_degree_polynomials_need_few_coefficients() {
        let t = SingleTable::build(|c| (1.0 + 2.0 * c - c * c * c, 2.0 - 3.0 * c * c)).unwrap();
        assert_eq!(t.coefficients(), 3);
        let (v, s) = t.value_and_slope(0.5);
        assert!(
            (v - 1.875).abs() < 1e-14 && (s - 1.25).abs() < 1e-6,
            "{v} {s}"
        );
    }

    #[test]
    fn sharp_or_broken_profiles_get_no_table() {
        assert!(SingleTable::build(exponential(40.0)).is_none());
        assert!(SingleTable::build(|c| (1.0 / (1.001 - c), 1.0 / (1.001 - c).powi(2))).is_none());
        assert!(SingleTable::build(|c| (c.ln(), 1.0 / c)).is_none());
    }

    #[test]
    fn vector_evaluation_is_bit_identical_to_the_scalar_one() {
        let t = SingleTable::build(exponential(2.5)).unwrap();
        let specials = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
            0.0,
            1.5,
            -7.0,
        ];
        for n in [0, 1, 7, 8, 31, 32, 33, 64, 100] {
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
            for j in 0..n {
                let (ev, es) = t.value_and_slope(c[j]);
                let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan();
                assert!(
                    same(v[j], ev) && same(v_alone[j], ev),
                    "n = {n}, c = {}",
                    c[j]
                );
                assert!(
                    same(f64::from(s[j]), f64::from(es)),
                    "n = {n}, c = {}",
                    c[j]
                );
            }
        }
    }
}
