//! The unpacked product on AVX-512F: blocks of up to 4 rows by four 16-lane
//! vectors of `C`, `A` read by broadcast with any strides, `B`'s rows as they lie
//! (its column stride must be 1), no packing.

use super::Product;
use std::arch::x86_64::*;

/// Rows of `C` per block.
const R: usize = 4;
/// 16-lane vectors of `C` per block.
const U: usize = 4;

/// Blocks of up to `R x 16 U` entries of `C`, each summed over `k` in registers.
///
/// # Safety
/// AVX-512F must be present, and every entry the shape touches must lie within
/// `p.a`, `p.b` and `c` (`Product::fits`); `m`, `n` and `depth` are positive.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn product(p: &Product<'_>, c: &mut [f32]) {
    /// `block::<rows, vectors>`, both from 1 to 4, chosen at run time.
    macro_rules! dispatch {
        ($rows:expr, $vectors:expr, $($args:expr),*) => {
            match ($rows, $vectors) {
                (4, 4) => block::<4, 4>($($args),*),
                (4, 3) => block::<4, 3>($($args),*),
                (4, 2) => block::<4, 2>($($args),*),
                (4, _) => block::<4, 1>($($args),*),
                (3, 4) => block::<3, 4>($($args),*),
                (3, 3) => block::<3, 3>($($args),*),
                (3, 2) => block::<3, 2>($($args),*),
                (3, _) => block::<3, 1>($($args),*),
                (2, 4) => block::<2, 4>($($args),*),
                (2, 3) => block::<2, 3>($($args),*),
                (2, 2) => block::<2, 2>($($args),*),
                (2, _) => block::<2, 1>($($args),*),
                (_, 4) => block::<1, 4>($($args),*),
                (_, 3) => block::<1, 3>($($args),*),
                (_, 2) => block::<1, 2>($($args),*),
                (_, _) => block::<1, 1>($($args),*),
            }
        };
    }
    // Column blocks outside, so that a block's rows of B stay in cache while
    // every row block of A passes over them.
    for l0 in (0..p.n).step_by(16 * U) {
        let lanes = (16 * U).min(p.n - l0);
        let vectors = lanes.div_ceil(16);
        // The last vector's lanes: all 16 but at the ragged end.
        let last = ((1u32 << (lanes - 16 * (vectors - 1))) - 1) as __mmask16;
        for i0 in (0..p.m).step_by(R) {
            let rows = R.min(p.m - i0);
            // SAFETY: forwarded; the block lies within the shape.
            unsafe { dispatch!(rows, vectors, p, c, i0, l0, last) }
        }
    }
}

/// Rows `i0 .. i0 + RR` and the `V` vectors of columns from `l0` of `C`, the
/// last vector masked by `last`.
///
/// # Safety
/// As [`product`], with `i0 + RR <= m` and the masked columns within `n`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn block<const RR: usize, const V: usize>(
    p: &Product<'_>,
    c: &mut [f32],
    i0: usize,
    l0: usize,
    last: __mmask16,
) {
    let (ars, aks) = p.a_strides;
    let mask = |u: usize| if u + 1 == V { last } else { !0 };
    let mut acc = [[_mm512_setzero_ps(); V]; RR];
    let (a, b) = (p.a.as_ptr(), p.b.as_ptr());
    for k in 0..p.depth {
        // SAFETY: row k of B, the block's (masked) columns, is in `p.b`.
        let bk = unsafe { b.add(k * p.b_strides.0 + l0) };
        let bv: [__m512; V] =
            std::array::from_fn(|u| unsafe { _mm512_maskz_loadu_ps(mask(u), bk.add(16 * u)) });
        for (r, acc_r) in acc.iter_mut().enumerate() {
            // SAFETY: A's entry (i0 + r, k) is in `p.a`.
            let av = _mm512_set1_ps(unsafe { *a.add((i0 + r) * ars + k * aks) });
            for u in 0..V {
                acc_r[u] = _mm512_fmadd_ps(av, bv[u], acc_r[u]);
            }
        }
    }
    let cp = c.as_mut_ptr();
    for (r, acc_r) in acc.iter().enumerate() {
        for (u, sum) in acc_r.iter().enumerate() {
            // SAFETY: C's row i0 + r, the block's (masked) columns, are in `c`.
            unsafe {
                let at = cp.add((i0 + r) * p.ldc + l0 + 16 * u);
                let old = _mm512_maskz_loadu_ps(mask(u), at);
                _mm512_mask_storeu_ps(at, mask(u), _mm512_add_ps(old, *sum));
            }
        }
    }
}
