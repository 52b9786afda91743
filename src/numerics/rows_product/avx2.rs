//! The packed kernel on AVX2 with FMA: each block of up to 6 rows by 16 columns
//! of `C` (two 8-lane vectors per row, 12 accumulators) summed over a panel's
//! depth in registers, `A` broadcast from memory.

use super::{Block, BlockKernel, NR};
use std::arch::x86_64::*;

/// The packed kernel's instruction set: AVX2 with FMA.
pub(super) struct Avx2;

/// A lane mask of the first `n` of 8 lanes (`n` from 0 to 8).
#[target_feature(enable = "avx2")]
fn lanes(n: usize) -> __m256i {
    let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), idx)
}

impl BlockKernel for Avx2 {
    /// # Safety
    /// AVX2 and FMA must be present, and the block well formed and within `c`
    /// ([`BlockKernel::block`]).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn block<const R: usize>(blk: &Block<'_>, c: &mut [f32]) {
        debug_assert_eq!(blk.rows, R);
        let Block {
            a,
            i0,
            l0,
            cols,
            kc,
            ldc,
            ..
        } = *blk;
        let (rs, ks) = (a.rs, a.ks);
        let (a, b) = (a.rows.as_ptr(), blk.panel.as_ptr());
        let cp = c.as_mut_ptr();
        // The block's rows of `C` (the first and the last of its columns' cache
        // lines), asked for now so that they have arrived when the sums are added
        // to them (or stored into them).
        for r in 0..R {
            let row = cp.wrapping_add((i0 + r) * ldc + l0);
            _mm_prefetch::<_MM_HINT_T0>(row.cast_const().cast());
            _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(cols - 1).cast_const().cast());
        }
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        for k in 0..kc {
            // SAFETY: the panel holds kc rows of NR floats; `a` the block's rows.
            unsafe {
                let (b0, b1) = (
                    _mm256_loadu_ps(b.add(k * NR)),
                    _mm256_loadu_ps(b.add(k * NR + 8)),
                );
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let av = _mm256_broadcast_ss(&*a.add(r * rs + k * ks));
                    acc_r[0] = _mm256_fmadd_ps(av, b0, acc_r[0]);
                    acc_r[1] = _mm256_fmadd_ps(av, b1, acc_r[1]);
                }
            }
        }
        if cols == NR {
            for (r, acc_r) in acc.iter().enumerate() {
                for (u, sum) in acc_r.iter().enumerate() {
                    // SAFETY: C's row i0 + r, columns l0 + 8 u .. + 8, are in `c`.
                    unsafe {
                        let at = cp.add((i0 + r) * ldc + l0 + 8 * u);
                        let new = if blk.assign {
                            *sum
                        } else {
                            _mm256_add_ps(_mm256_loadu_ps(at), *sum)
                        };
                        _mm256_storeu_ps(at, new);
                    }
                }
            }
            return;
        }
        // The ragged last panel: masked loads and stores (slower on some CPUs).
        let masks = [lanes(cols.min(8)), lanes(cols.saturating_sub(8))];
        for (r, acc_r) in acc.iter().enumerate() {
            for (u, sum) in acc_r.iter().enumerate() {
                if u * 8 >= cols {
                    break;
                }
                // SAFETY: C's row i0 + r, the masked columns from l0 + 8 u, are in `c`.
                unsafe {
                    let at = cp.add((i0 + r) * ldc + l0 + 8 * u);
                    let new = if blk.assign {
                        *sum
                    } else {
                        _mm256_add_ps(_mm256_maskload_ps(at, masks[u]), *sum)
                    };
                    _mm256_maskstore_ps(at, masks[u], new);
                }
            }
        }
    }
}
