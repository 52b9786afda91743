//! The packed kernel on NEON (aarch64, where it is always present): each block of
//! up to 6 rows by 16 columns of `C` (four 4-lane vectors per row, 24
//! accumulators) summed over a panel's depth in registers, `A` broadcast.

use super::{Block, BlockKernel, NR};
use std::arch::aarch64::*;

/// The packed kernel's instruction set: NEON.
pub(super) struct Neon;

impl BlockKernel for Neon {
    /// Every index is checked by the slices; the contract of
    /// [`BlockKernel::block`] only keeps them in range.
    #[inline]
    unsafe fn block<const R: usize>(blk: &Block<'_>, c: &mut [f32]) {
        debug_assert_eq!(blk.rows, R);
        let Block {
            a, i0, l0, cols, ..
        } = *blk;
        // SAFETY (every intrinsic below): NEON is part of aarch64; each load and
        // store reads or writes 4 floats of an array of NR = 16.
        let zero = unsafe { vdupq_n_f32(0.0) };
        let mut acc = [[zero; 4]; R];
        for (k, b) in blk.panel.chunks_exact(NR).take(blk.kc).enumerate() {
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
            let row = &mut c[(i0 + r) * blk.ldc + l0..][..cols];
            if blk.assign {
                row.copy_from_slice(&sums[..cols]);
            } else {
                for (o, s) in row.iter_mut().zip(sums) {
                    *o += s;
                }
            }
        }
    }
}
