//! The packed kernel on NEON (aarch64, where it is always present): each block of
//! up to 6 rows by 16 columns of `C` (four 4-lane vectors per row, 24
//! accumulators) summed over a panel's depth in registers, `A` broadcast.

use super::{ARows, KC, MR, NR, Product, by_panels};
use std::arch::aarch64::*;

/// `C += A B` by packed pieces of `A` and panels of `B`. `p` must fit `c`
/// (`Product::fits`).
pub(super) fn product(p: &Product<'_>, c: &mut [f32]) {
    by_panels(p, |a, panel, (i0, rows), cols, kc| match rows {
        6 => block::<6>(p.ldc, c, a, panel, i0, cols, kc),
        5 => block::<5>(p.ldc, c, a, panel, i0, cols, kc),
        4 => block::<4>(p.ldc, c, a, panel, i0, cols, kc),
        3 => block::<3>(p.ldc, c, a, panel, i0, cols, kc),
        2 => block::<2>(p.ldc, c, a, panel, i0, cols, kc),
        _ => block::<1>(p.ldc, c, a, panel, i0, cols, kc),
    });
}

/// Rows `i0 .. i0 + R` of `C` (row stride `ldc`), its columns `l0 .. l0 + cols`
/// (`cols <= NR`), plus the product of the block's rows of `A` (`kc` entries each)
/// and the panel (`kc` rows). Every index is checked by the slices.
#[inline]
fn block<const R: usize>(
    ldc: usize,
    c: &mut [f32],
    a: ARows<'_>,
    panel: &[f32],
    i0: usize,
    (l0, cols): (usize, usize),
    kc: usize,
) {
    debug_assert!(R <= MR && cols <= NR && kc <= KC && a.holds(R, kc));
    // SAFETY (every intrinsic below): NEON is part of aarch64; each load and store
    // reads or writes 4 floats of an array of NR = 16.
    let zero = unsafe { vdupq_n_f32(0.0) };
    let mut acc = [[zero; 4]; R];
    for (k, b) in panel.chunks_exact(NR).take(kc).enumerate() {
        let bv: [float32x4_t; 4] =
            std::array::from_fn(|u| unsafe { vld1q_f32(b.as_ptr().add(4 * u)) });
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let a_r = a.rows[r * a.rs + k * a.ks];
            for (sum, bu) in acc_r.iter_mut().zip(bv) {
                *sum = unsafe { vfmaq_n_f32(*sum, bu, a_r) };
            }
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        let mut sums = [0.0f32; NR];
        for (u, sum) in acc_r.iter().enumerate() {
            unsafe { vst1q_f32(sums.as_mut_ptr().add(4 * u), *sum) };
        }
        let row = &mut c[(i0 + r) * ldc + l0..][..cols];
        for (o, s) in row.iter_mut().zip(sums) {
            *o += s;
        }
    }
}
