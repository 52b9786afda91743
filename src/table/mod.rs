//! Piecewise-polynomial tables of smooth one-dimensional profiles (a zonal kernel
//! `phi(c)` and its slope, a sliced twin's profile, ...), built once and checked, so
//! that the pairwise engine evaluates each pair in `O(1)` instead of `O(L)`.
//!
//! `[lo, hi]` is cut into `2^k` equal intervals; on each, the profile is interpolated
//! at Chebyshev points of degree [`DEGREE`] and stored as a polynomial in the local
//! coordinate `t`, evaluated as its even and odd parts, `p(t) = E(t^2) + t O(t^2)`
//! (two Horner chains in `t^2`, whose coefficients of one step lie side by side:
//! on AVX2 one 256-bit load per step and point). The number of intervals doubles
//! until the error
//! estimate — twice the highest Chebyshev coefficient, and the largest error seen at
//! test points between the nodes and at the ends — is below the requested tolerance
//! relative to the profile's largest magnitude. A profile that cannot be tabulated
//! that well within [`MAX_INTERVALS`] gets no table, and callers evaluate it directly.

use crate::numerics::{chebyshev_coeffs, chebyshev_points, monomial_coeffs};

mod single;
pub(crate) use single::SingleTable;

/// Polynomial degree on each interval.
pub(crate) const DEGREE: usize = 9;
/// Coefficients per polynomial (value or slope) on an interval.
pub(crate) const NC: usize = DEGREE + 1;
/// Steps of the even and odd parts' Horner chains: groups of two degrees.
const GROUPS: usize = NC.div_ceil(2);
/// The most intervals a table may use (an interval's index must fit an `i32`).
pub(crate) const MAX_INTERVALS: usize = 1 << 14;

/// How accurate a table must be.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Accuracy {
    /// Errors of value and slope below this fraction of their largest magnitude
    /// on the whole range.
    Global(f64),
    /// On every interval, errors of value and slope below `value` and `slope` times
    /// their local magnitude plus the absolute `floor = (value floor, slope floor)`:
    /// relative accuracy everywhere, down to the floor.
    Relative {
        value: f64,
        slope: f64,
        floor: (f64, f64),
    },
}

/// A checked piecewise-polynomial table of a function's value and slope.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    lo: f64,
    hi: f64,
    inv_h: f64,
    intervals: usize,
    /// Per interval, the value's and the slope's coefficients in groups of two
    /// degrees, `[v_2m, s_2m, v_2m+1, s_2m+1]` for group `m` (a degree past
    /// [`DEGREE`] zero), so that one four-wide load feeds a step of all four chains
    /// (the even and odd parts of value and slope).
    blocks: Vec<Block>,
}

/// One interval's coefficients (see [`Table`]'s `blocks`).
type Block = [[f64; 4]; GROUPS];

/// `acc t + c`, fused (`mul_add`, one instruction where FMA is enabled) or not.
#[inline(always)]
fn step<const FUSED: bool>(acc: f64, t: f64, c: f64) -> f64 {
    if FUSED {
        acc.mul_add(t, c)
    } else {
        acc * t + c
    }
}

/// A block's `[value, slope]` at the local coordinate `t`: the four chains
/// `[v_even, s_even, v_odd, s_odd]` in `t^2` from the highest group down, then
/// `even + t odd`. Every evaluation path performs these operations in this order.
#[inline(always)]
fn eval_block<const FUSED: bool>(b: &Block, t: f64) -> [f64; 2] {
    let t2 = t * t;
    let mut acc = b[GROUPS - 1];
    for g in b[..GROUPS - 1].iter().rev() {
        for q in 0..4 {
            acc[q] = step::<FUSED>(acc[q], t2, g[q]);
        }
    }
    [
        step::<FUSED>(acc[2], t, acc[0]),
        step::<FUSED>(acc[3], t, acc[1]),
    ]
}

/// A block's value alone at `t`: [`eval_block`]'s value chains.
#[inline(always)]
fn eval_block_value<const FUSED: bool>(b: &Block, t: f64) -> f64 {
    let t2 = t * t;
    let (mut even, mut odd) = (b[GROUPS - 1][0], b[GROUPS - 1][2]);
    for g in b[..GROUPS - 1].iter().rev() {
        even = step::<FUSED>(even, t2, g[0]);
        odd = step::<FUSED>(odd, t2, g[2]);
    }
    step::<FUSED>(odd, t, even)
}

/// The block of the monomial coefficients `value` and `slope` (lowest degree first).
fn to_block(value: &[f64; NC], slope: &[f64; NC]) -> Block {
    std::array::from_fn(|m| {
        let at = |k: usize, c: &[f64; NC]| c.get(k).copied().unwrap_or(0.0);
        [
            at(2 * m, value),
            at(2 * m, slope),
            at(2 * m + 1, value),
            at(2 * m + 1, slope),
        ]
    })
}

impl Table {
    /// Tabulates `f: x -> (value, slope)` on `[lo, hi]` to `tolerance` relative to the
    /// largest magnitude of each of value and slope; `None` if that needs more than
    /// [`MAX_INTERVALS`] intervals or `f` is not finite on the range.
    pub fn build(
        lo: f64,
        hi: f64,
        accuracy: Accuracy,
        f: impl Fn(f64) -> (f64, f64),
    ) -> Option<Table> {
        let points = chebyshev_points::<NC>();
        let mut intervals = 1;
        while intervals <= MAX_INTERVALS {
            if let Some(t) = Table::try_build(lo, hi, intervals, accuracy, &points, &f) {
                return Some(t);
            }
            intervals *= 2;
        }
        None
    }

    fn try_build(
        lo: f64,
        hi: f64,
        intervals: usize,
        accuracy: Accuracy,
        points: &[f64; NC],
        f: &impl Fn(f64) -> (f64, f64),
    ) -> Option<Table> {
        let h = (hi - lo) / intervals as f64;
        let mut blocks = Vec::with_capacity(intervals);
        let (mut global_v, mut global_s) = (0.0f64, 0.0f64);
        let (mut global_err_v, mut global_err_s) = (0.0f64, 0.0f64);
        for i in 0..intervals {
            let (mut scale_v, mut scale_s) = (0.0f64, 0.0f64);
            let (mut err_v, mut err_s) = (0.0f64, 0.0f64);
            let a = lo + h * i as f64;
            let at = |x: f64| a + 0.5 * h * (x + 1.0);
            let mut vals = [0.0; NC];
            let mut slopes = [0.0; NC];
            for k in 0..NC {
                let (v, s) = f(at(points[k]));
                if !(v.is_finite() && s.is_finite()) {
                    return None;
                }
                vals[k] = v;
                slopes[k] = s;
                scale_v = scale_v.max(v.abs());
                scale_s = scale_s.max(s.abs());
            }
            let cv = chebyshev_coeffs(&vals);
            let cs = chebyshev_coeffs(&slopes);
            // Under the fast (geometric or faster) decay of a smooth profile's
            // coefficients, twice the last one bounds the interpolation error.
            err_v = err_v.max(2.0 * cv[NC - 1].abs());
            err_s = err_s.max(2.0 * cs[NC - 1].abs());
            let block = to_block(&monomial_coeffs(&cv), &monomial_coeffs(&cs));
            // Test points between the nodes, and the interval's ends.
            for x in [-1.0, -0.61, -0.17, 0.29, 0.73, 1.0] {
                let (v, s) = f(at(x));
                let [tv, ts] = eval_block::<true>(&block, x);
                err_v = err_v.max((tv - v).abs());
                err_s = err_s.max((ts - s).abs());
                scale_v = scale_v.max(v.abs());
                scale_s = scale_s.max(s.abs());
            }
            blocks.push(block);
            match accuracy {
                Accuracy::Global(_) => {
                    global_v = global_v.max(scale_v);
                    global_s = global_s.max(scale_s);
                    global_err_v = global_err_v.max(err_v);
                    global_err_s = global_err_s.max(err_s);
                }
                Accuracy::Relative {
                    value,
                    slope,
                    floor: (fv, fs),
                } => {
                    if err_v > value * scale_v + fv || err_s > slope * scale_s + fs {
                        return None;
                    }
                }
            }
        }
        if let Accuracy::Global(tol) = accuracy
            && (global_err_v > tol * global_v || global_err_s > tol * global_s)
        {
            return None;
        }
        Some(Table {
            lo,
            hi,
            inv_h: intervals as f64 / (hi - lo),
            intervals,
            blocks,
        })
    }

    /// The range `(lo, hi)`.
    pub fn range(&self) -> (f64, f64) {
        (self.lo, self.hi)
    }

    /// The number of intervals.
    pub fn intervals(&self) -> usize {
        self.intervals
    }

    /// The monomial coefficients (in the local coordinate `2 (x - a)/h - 1` of the
    /// interval `[a, a + h]`) of the value's (or, with `slope`, the slope's)
    /// polynomial of every interval, row-major `intervals x NC`, lowest degree first.
    pub fn coefficients(&self, slope: bool) -> Vec<f64> {
        let side = usize::from(slope);
        self.blocks
            .iter()
            .flat_map(|b| (0..NC).map(move |k| b[k / 2][2 * (k % 2) + side]))
            .collect()
    }

    /// A hash of the range and every coefficient's bits.
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.lo.to_bits(), self.hi.to_bits(), self.intervals).hash(&mut h);
        for b in &self.blocks {
            b.iter().flatten().for_each(|c| c.to_bits().hash(&mut h));
        }
        h.finish()
    }

    /// `(value, slope)` at `x`, clamped into `[lo, hi]`.
    #[inline(always)]
    pub fn value_and_slope(&self, x: f64) -> (f64, f64) {
        let (i, t) = self.locate(x);
        let [v, s] = eval_block::<false>(&self.blocks[i], t);
        (v, s)
    }

    /// The value at `x`, clamped into `[lo, hi]`.
    #[inline(always)]
    pub fn value(&self, x: f64) -> f64 {
        let (i, t) = self.locate(x);
        eval_block_value::<false>(&self.blocks[i], t)
    }

    /// Values (and slopes, if asked) at every `x`: lanes of independent Horner chains
    /// interleaved so that their latencies overlap. On x86-64 CPUs with AVX2 and FMA
    /// (detected at run time) and on aarch64 (NEON) the lanes run as fused
    /// multiply-adds in vector registers, with the same bits on both; elsewhere
    /// unfused, which may differ in the last bits.
    pub fn eval_batch(&self, x: &[f64], values: &mut [f64], slopes: Option<&mut [f64]>) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            return unsafe { self.eval_batch_avx2_fma(x, values, slopes) };
        }
        #[cfg(target_arch = "aarch64")]
        return self.eval_batch_neon(x, values, slopes);
        #[allow(unreachable_code)]
        self.batch::<false>(x, values, slopes)
    }

    /// [`Table::batch`] with fused multiply-adds in NEON registers (aarch64, where
    /// both are always present): per lane the even parts of value and slope side by
    /// side in one two-wide register and the odd parts in another, eight lanes
    /// interleaved, the interval found by [`Table::locate`]. The same operations as
    /// `batch::<true>`, so the same bits.
    #[cfg(target_arch = "aarch64")]
    fn eval_batch_neon(&self, x: &[f64], values: &mut [f64], slopes: Option<&mut [f64]>) {
        use std::arch::aarch64::*;
        const LANES: usize = 8;
        self.by_chunks::<LANES, true>(x, values, slopes, |xs| {
            let lane: [(usize, f64); LANES] = std::array::from_fn(|l| self.locate(xs[l]));
            let blk: [&Block; LANES] = std::array::from_fn(|l| &self.blocks[lane[l].0]);
            // SAFETY (every intrinsic below): NEON is part of aarch64, and every load
            // reads two f64 at offset 0 or 2 of a group of four.
            let half = |l: usize, m: usize, odd: usize| unsafe {
                vld1q_f64(blk[l][m].as_ptr().add(2 * odd))
            };
            let tl: [float64x2_t; LANES] =
                std::array::from_fn(|l| unsafe { vdupq_n_f64(lane[l].1) });
            let t2: [float64x2_t; LANES] =
                std::array::from_fn(|l| unsafe { vdupq_n_f64(lane[l].1 * lane[l].1) });
            let mut even: [float64x2_t; LANES] = std::array::from_fn(|l| half(l, GROUPS - 1, 0));
            let mut odd: [float64x2_t; LANES] = std::array::from_fn(|l| half(l, GROUPS - 1, 1));
            for m in (0..GROUPS - 1).rev() {
                for l in 0..LANES {
                    even[l] = unsafe { vfmaq_f64(half(l, m, 0), even[l], t2[l]) };
                    odd[l] = unsafe { vfmaq_f64(half(l, m, 1), odd[l], t2[l]) };
                }
            }
            let vs: [float64x2_t; LANES] =
                std::array::from_fn(|l| unsafe { vfmaq_f64(even[l], odd[l], tl[l]) });
            (
                std::array::from_fn(|l| unsafe { vgetq_lane_f64::<0>(vs[l]) }),
                std::array::from_fn(|l| unsafe { vgetq_lane_f64::<1>(vs[l]) }),
            )
        })
    }

    /// [`Table::batch`] with fused multiply-adds, written out in vector registers:
    /// the interval lookup four lanes at a time, then per lane the four chains
    /// `[v_even, s_even, v_odd, s_odd]` in one four-wide register, one load of a
    /// group per step, sixteen lanes interleaved; two lanes' registers are then
    /// regrouped into their even and odd parts, `[v, s, v', s'] = even + t odd`.
    /// Every operation is the one [`Table::locate`] and `batch::<true>` perform, in
    /// the same order, so the results are bit-for-bit theirs.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn eval_batch_avx2_fma(&self, x: &[f64], values: &mut [f64], slopes: Option<&mut [f64]>) {
        use std::arch::x86_64::*;
        const LANES: usize = 16;
        const PAIRS: usize = LANES / 2;
        let (lo, hi) = (_mm256_set1_pd(self.lo), _mm256_set1_pd(self.hi));
        let inv_h = _mm256_set1_pd(self.inv_h);
        let (one, zero) = (_mm256_set1_pd(1.0), _mm_setzero_si128());
        let last = _mm_set1_epi32(self.intervals as i32 - 1);
        self.by_chunks::<LANES, true>(x, values, slopes, |xs| {
            let mut index = [0i32; LANES];
            // Each lane's local coordinate and its square, read back by broadcasts.
            let (mut t, mut t2) = ([0.0f64; LANES], [0.0f64; LANES]);
            for at in (0..LANES).step_by(4) {
                // SAFETY: `xs`, `t`, `t2` and `index` have LANES entries, so
                // `at .. at + 4` is in bounds.
                unsafe {
                    let xv = _mm256_loadu_pd(xs.as_ptr().add(at));
                    // clamp(x, lo, hi), NaN kept: max/min return their second
                    // operand when either is NaN.
                    let c = _mm256_min_pd(hi, _mm256_max_pd(lo, xv));
                    let u = _mm256_mul_pd(_mm256_sub_pd(c, lo), inv_h);
                    // Truncation, then into [0, intervals - 1] (NaN converts to
                    // i32::MIN here, to 0 in `locate`: both end at interval 0 with
                    // t = NaN).
                    let i = _mm256_cvttpd_epi32(u);
                    let i = _mm_max_epi32(_mm_min_epi32(i, last), zero);
                    let r = _mm256_sub_pd(u, _mm256_cvtepi32_pd(i));
                    let tv = _mm256_sub_pd(_mm256_add_pd(r, r), one);
                    _mm256_storeu_pd(t.as_mut_ptr().add(at), tv);
                    _mm256_storeu_pd(t2.as_mut_ptr().add(at), _mm256_mul_pd(tv, tv));
                    _mm_storeu_si128(index.as_mut_ptr().add(at).cast(), i);
                }
            }
            debug_assert_eq!(self.blocks.len(), self.intervals);
            // SAFETY: every index was clamped into `0 ..= intervals - 1` above, and
            // there are `intervals` blocks (unchecked: the bounds checks of sixteen
            // lookups cost ~5% of this function).
            let blk: [&Block; LANES] =
                std::array::from_fn(|l| unsafe { self.blocks.get_unchecked(index[l] as usize) });
            // SAFETY: a group is four f64.
            let group = |l: usize, m: usize| unsafe { _mm256_loadu_pd(blk[l][m].as_ptr()) };
            let mut acc: [__m256d; LANES] = std::array::from_fn(|l| group(l, GROUPS - 1));
            for m in (0..GROUPS - 1).rev() {
                for l in 0..LANES {
                    acc[l] = _mm256_fmadd_pd(acc[l], _mm256_broadcast_sd(&t2[l]), group(l, m));
                }
            }
            // Lanes 2p and 2p + 1: [v, s, v', s'] = even + [t, t, t', t'] odd.
            let vs: [__m256d; PAIRS] = std::array::from_fn(|p| {
                let (a, b) = (acc[2 * p], acc[2 * p + 1]);
                let even = _mm256_permute2f128_pd::<0x20>(a, b);
                let odd = _mm256_permute2f128_pd::<0x31>(a, b);
                let tp = _mm256_blend_pd::<0b1100>(
                    _mm256_broadcast_sd(&t[2 * p]),
                    _mm256_broadcast_sd(&t[2 * p + 1]),
                );
                _mm256_fmadd_pd(odd, tp, even)
            });
            // [v, s, v', s'] of two pairs into four values and four slopes, in order.
            let (mut v_out, mut s_out) = ([0.0f64; LANES], [0.0f64; LANES]);
            for q in 0..LANES / 4 {
                let (a, b) = (vs[2 * q], vs[2 * q + 1]);
                let v = _mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_unpacklo_pd(a, b));
                let s = _mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_unpackhi_pd(a, b));
                // SAFETY: the outputs have LANES entries; `4 q + 4 <= LANES`.
                unsafe {
                    _mm256_storeu_pd(v_out.as_mut_ptr().add(4 * q), v);
                    _mm256_storeu_pd(s_out.as_mut_ptr().add(4 * q), s);
                }
            }
            (v_out, s_out)
        })
    }

    /// The batch evaluation, [`eval_block`] per point; `FUSED` uses `mul_add`, which
    /// is a single instruction only where FMA is enabled. Eight lanes interleaved,
    /// so that their chains' latencies overlap.
    #[inline(always)]
    fn batch<const FUSED: bool>(&self, x: &[f64], values: &mut [f64], slopes: Option<&mut [f64]>) {
        const LANES: usize = 8;
        self.by_chunks::<LANES, FUSED>(x, values, slopes, |xs| {
            let lane: [(usize, f64); LANES] = std::array::from_fn(|l| self.locate(xs[l]));
            let vs: [[f64; 2]; LANES] =
                std::array::from_fn(|l| eval_block::<FUSED>(&self.blocks[lane[l].0], lane[l].1));
            (
                std::array::from_fn(|l| vs[l][0]),
                std::array::from_fn(|l| vs[l][1]),
            )
        })
    }

    /// `chunk` on every full chunk of `L` points of `x` (their values and slopes
    /// into `values` and, if given, `slopes`), then the points left over one at a
    /// time, as `batch::<FUSED>` sums them.
    #[inline(always)]
    fn by_chunks<const L: usize, const FUSED: bool>(
        &self,
        x: &[f64],
        values: &mut [f64],
        mut slopes: Option<&mut [f64]>,
        mut chunk: impl FnMut(&[f64; L]) -> ([f64; L], [f64; L]),
    ) {
        let n = x.len().min(values.len());
        let full = n - n % L;
        for (c, xs) in x[..full].chunks_exact(L).enumerate() {
            let (v, s) = chunk(xs.try_into().expect("a chunk of L points"));
            values[c * L..(c + 1) * L].copy_from_slice(&v);
            if let Some(out) = slopes.as_deref_mut() {
                out[c * L..(c + 1) * L].copy_from_slice(&s);
            }
        }
        for j in full..n {
            let (i, t) = self.locate(x[j]);
            let [v, s] = eval_block::<FUSED>(&self.blocks[i], t);
            values[j] = v;
            if let Some(out) = slopes.as_deref_mut() {
                out[j] = s;
            }
        }
    }

    /// The interval holding `x` (clamped into `[lo, hi]`) and the local coordinate.
    #[inline(always)]
    fn locate(&self, x: f64) -> (usize, f64) {
        // u is in [0, intervals] (or NaN, which `as` takes to 0), and intervals is at
        // most MAX_INTERVALS: the index goes through i32, whose conversions to and
        // from f64 are single instructions (usize's are not).
        let u = (x.clamp(self.lo, self.hi) - self.lo) * self.inv_h;
        let i = (u as i32).min(self.intervals as i32 - 1);
        (i as usize, 2.0 * (u - f64::from(i)) - 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomials_below_the_degree_need_one_interval() {
        let p = DEGREE as i32 - 1;
        let f = |x: f64| {
            let pf = p as f64;
            (
                3.0 * x.powi(p) - x.powi(3) + 0.5,
                3.0 * pf * x.powi(p - 1) - 3.0 * x * x,
            )
        };
        let t = Table::build(-1.0, 1.0, Accuracy::Global(1e-13), f).unwrap();
        assert_eq!(t.intervals, 1);
        for i in 0..=100 {
            let x = -1.0 + 0.02 * i as f64;
            let (v, s) = t.value_and_slope(x);
            assert!((v - f(x).0).abs() < 1e-13 && (s - f(x).1).abs() < 1e-12);
        }
    }

    #[test]
    fn sharp_functions_get_more_intervals_and_meet_the_tolerance() {
        let k = 300.0;
        let f = |x: f64| ((k * (x - 1.0)).exp(), k * (k * (x - 1.0)).exp());
        let t = Table::build(-1.0, 1.0, Accuracy::Global(1e-13), f).unwrap();
        assert!(t.intervals > 8);
        let mut worst = 0.0f64;
        for i in 0..=20000 {
            let x = -1.0 + 1e-4 * i as f64;
            worst = worst.max((t.value(x) - f(x).0).abs());
        }
        assert!(worst < 1e-13, "{worst:e}");
    }

    #[test]
    fn untabulable_functions_get_no_table() {
        let acc = Accuracy::Global(1e-13);
        assert!(Table::build(-1.0, 1.0, acc, |x: f64| ((1e6 * x).sin(), 0.0)).is_none());
        assert!(Table::build(-1.0, 1.0, acc, |_| (f64::NAN, 0.0)).is_none());
    }

    #[test]
    fn batch_evaluation_equals_pointwise() {
        let f = |x: f64| ((3.0 * x).exp(), 3.0 * (3.0 * x).exp());
        let t = Table::build(-1.0, 1.0, Accuracy::Global(1e-13), f).unwrap();
        let x: Vec<f64> = (0..23).map(|i| -1.1 + 0.1 * i as f64).collect();
        let (mut v, mut s) = (vec![0.0; 23], vec![0.0; 23]);
        t.eval_batch(&x, &mut v, Some(&mut s));
        // (equal up to the rounding of fused multiply-adds)
        for (j, &xj) in x.iter().enumerate() {
            let (pv, ps) = t.value_and_slope(xj);
            assert!((v[j] - pv).abs() <= 1e-15 * pv.abs() && (s[j] - ps).abs() <= 1e-15 * ps.abs());
        }
    }

    #[test]
    fn vector_evaluation_is_bit_identical_to_the_scalar_one() {
        let f = |x: f64| ((7.0 * x).exp() * x.cos(), 7.0 * (7.0 * x).exp());
        let t = Table::build(-1.0, 1.0, Accuracy::Global(1e-13), f).unwrap();
        assert!(t.intervals > 1);
        let mut x: Vec<f64> = (0..997)
            .map(|i| -1.2 + 2.4 * (i as f64 * 0.618).fract())
            .collect();
        let edges = (0..=t.intervals).map(|k| -1.0 + 2.0 * k as f64 / t.intervals as f64);
        x.extend(edges.flat_map(|e| [e, e.next_down(), e.next_up()]));
        x.extend([
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            1e300,
            -1e300,
        ]);
        for len in [x.len(), 7, 8, 9, 16, 0] {
            let x = &x[x.len() - len..];
            let (mut v, mut s) = (vec![0.0; len], vec![0.0; len]);
            let (mut v1, mut s1) = (vec![0.0; len], vec![0.0; len]);
            t.eval_batch(x, &mut v, Some(&mut s));
            t.batch::<true>(x, &mut v1, Some(&mut s1));
            let bits = |a: &[f64]| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&v), bits(&v1));
            assert_eq!(bits(&s), bits(&s1));
            let mut v2 = vec![0.0; len];
            t.eval_batch(x, &mut v2, None);
            assert_eq!(bits(&v2), bits(&v1));
        }
    }

    #[test]
    fn the_listed_coefficients_are_the_evaluated_polynomials() {
        // What `coefficients` lists (for devices, summed by Horner's rule in `t`)
        // against the even/odd evaluation, up to rounding.
        let f = |x: f64| ((2.0 * x).sin() + x.powi(11), 2.0 * (2.0 * x).cos());
        let t = Table::build(-1.0, 1.0, Accuracy::Global(1e-13), f).unwrap();
        assert!(t.intervals > 1);
        let (value, slope) = (t.coefficients(false), t.coefficients(true));
        assert_eq!(value.len(), t.intervals * NC);
        let h = 2.0 / t.intervals as f64;
        for i in 0..=400 {
            let x = -1.0 + 0.005 * i as f64;
            let k = (((x + 1.0) / h) as usize).min(t.intervals - 1);
            let local = 2.0 * (x - (-1.0 + h * k as f64)) / h - 1.0;
            let horner = |c: &[f64]| c.iter().rev().fold(0.0, |acc, &a| acc * local + a);
            let (v, s) = t.value_and_slope(x);
            assert!(
                (horner(&value[k * NC..(k + 1) * NC]) - v).abs() < 1e-14,
                "x={x}"
            );
            assert!(
                (horner(&slope[k * NC..(k + 1) * NC]) - s).abs() < 1e-13,
                "x={x}"
            );
        }
    }

    #[test]
    fn relative_accuracy_holds_down_to_the_floor() {
        let k = 80.0;
        let f = |x: f64| ((k * (x - 1.0)).exp(), k * (k * (x - 1.0)).exp());
        let accuracy = Accuracy::Relative {
            value: 1e-12,
            slope: 1e-12,
            floor: (1e-300, 1e-300),
        };
        let t = Table::build(-1.0, 1.0, accuracy, f).unwrap();
        for i in 0..=2000 {
            let x = -1.0 + 1e-3 * i as f64;
            let (v, s) = t.value_and_slope(x);
            assert!(((v - f(x).0) / f(x).0).abs() < 1e-12, "x={x}");
            assert!(((s - f(x).1) / f(x).1).abs() < 1e-12, "x={x}");
        }
    }
}
