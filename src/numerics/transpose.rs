//! Matrix transposition between row-major buffers, in 8 x 8 blocks: through AVX
//! registers for `f32` where the CPU has AVX (detected at run time), through a
//! small array otherwise.

/// Transposes the 8 x 8 block whose first row starts at `src[0]` (rows `ss` apart)
/// into the block whose first row starts at `dst[0]` (rows `ds` apart), through a
/// small array (the compiler's registers).
fn block8<T: Copy>(src: &[T], ss: usize, dst: &mut [T], ds: usize) {
    let block: [[T; 8]; 8] = std::array::from_fn(|a| {
        let row = &src[a * ss..][..8];
        std::array::from_fn(|b| row[b])
    });
    for b in 0..8 {
        for a in 0..8 {
            dst[b * ds + a] = block[a][b];
        }
    }
}

/// [`block8`] for `f32`, through AVX registers where the CPU has AVX.
fn block8_f32(src: &[f32], ss: usize, dst: &mut [f32], ds: usize) {
    // Bounds: the last row of each block ends within its slice.
    let (src, dst) = (&src[..7 * ss + 8], &mut dst[..7 * ds + 8]);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: AVX is present (checked just above), and the slices hold the
        // eight rows of eight entries the function reads and writes.
        return unsafe { block8_avx(src, ss, dst, ds) };
    }
    block8(src, ss, dst, ds);
}

/// The 8 x 8 `f32` block transposed in registers: pairs of rows interleaved, then
/// pairs of pairs, then the 128-bit halves exchanged.
///
/// # Safety
/// The CPU must support AVX; `src` must hold `7 ss + 8` entries and `dst` `7 ds + 8`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn block8_avx(src: &[f32], ss: usize, dst: &mut [f32], ds: usize) {
    use std::arch::x86_64::*;
    // SAFETY: row `a` reads `src[a ss .. a ss + 8]`, within `7 ss + 8` entries.
    let r: [__m256; 8] =
        std::array::from_fn(|a| unsafe { _mm256_loadu_ps(src.as_ptr().add(a * ss)) });
    let t = [
        _mm256_unpacklo_ps(r[0], r[1]),
        _mm256_unpackhi_ps(r[0], r[1]),
        _mm256_unpacklo_ps(r[2], r[3]),
        _mm256_unpackhi_ps(r[2], r[3]),
        _mm256_unpacklo_ps(r[4], r[5]),
        _mm256_unpackhi_ps(r[4], r[5]),
        _mm256_unpacklo_ps(r[6], r[7]),
        _mm256_unpackhi_ps(r[6], r[7]),
    ];
    let u = [
        _mm256_shuffle_ps::<0x44>(t[0], t[2]),
        _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
        _mm256_shuffle_ps::<0x44>(t[1], t[3]),
        _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
        _mm256_shuffle_ps::<0x44>(t[4], t[6]),
        _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
        _mm256_shuffle_ps::<0x44>(t[5], t[7]),
        _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
    ];
    let out = [
        _mm256_permute2f128_ps::<0x20>(u[0], u[4]),
        _mm256_permute2f128_ps::<0x20>(u[1], u[5]),
        _mm256_permute2f128_ps::<0x20>(u[2], u[6]),
        _mm256_permute2f128_ps::<0x20>(u[3], u[7]),
        _mm256_permute2f128_ps::<0x31>(u[0], u[4]),
        _mm256_permute2f128_ps::<0x31>(u[1], u[5]),
        _mm256_permute2f128_ps::<0x31>(u[2], u[6]),
        _mm256_permute2f128_ps::<0x31>(u[3], u[7]),
    ];
    for (b, v) in out.into_iter().enumerate() {
        // SAFETY: row `b` writes `dst[b ds .. b ds + 8]`, within `7 ds + 8` entries.
        unsafe { _mm256_storeu_ps(dst.as_mut_ptr().add(b * ds), v) };
    }
}

/// Transposes the `r x c` matrix in `src` (rows `ss` apart) into the `c x r` matrix
/// in `dst` (rows `ds` apart): whole 8 x 8 blocks by `block`, the ragged edges entry
/// by entry.
fn transpose_by<T: Copy>(
    block: fn(&[T], usize, &mut [T], usize),
    src: &[T],
    ss: usize,
    (r, c): (usize, usize),
    dst: &mut [T],
    ds: usize,
) {
    let (rf, cf) = (r - r % 8, c - c % 8);
    for r0 in (0..rf).step_by(8) {
        for c0 in (0..cf).step_by(8) {
            block(&src[r0 * ss + c0..], ss, &mut dst[c0 * ds + r0..], ds);
        }
    }
    let mut edge = |i: usize, j: usize| dst[j * ds + i] = src[i * ss + j];
    for i in 0..rf {
        (cf..c).for_each(|j| edge(i, j));
    }
    for i in rf..r {
        (0..c).for_each(|j| edge(i, j));
    }
}

/// Transposes the `r x c` matrix in `src` (rows `ss` apart) into the `c x r` matrix
/// in `dst` (rows `ds` apart), in 8 x 8 blocks.
pub(crate) fn transpose<T: Copy>(
    src: &[T],
    ss: usize,
    shape: (usize, usize),
    dst: &mut [T],
    ds: usize,
) {
    transpose_by(block8, src, ss, shape, dst, ds);
}

/// [`transpose`] for `f32`, its 8 x 8 blocks through AVX registers where the CPU
/// has AVX.
pub(crate) fn transpose_f32(
    src: &[f32],
    ss: usize,
    shape: (usize, usize),
    dst: &mut [f32],
    ds: usize,
) {
    transpose_by(block8_f32, src, ss, shape, dst, ds);
}

/// `C[i][l] = C[l][i]` for `l < i < m` (rows `ldc` apart): the strict lower
/// triangle of the `m x m` matrix from its upper one. Strips of 8 rows, the part
/// left of the diagonal by 8 x 8 `block` transposes, the diagonal blocks entry by
/// entry.
fn mirror_by<T: Copy>(block: fn(&[T], usize, &mut [T], usize), c: &mut [T], ldc: usize, m: usize) {
    for r0 in (8..m).step_by(8) {
        let r1 = (r0 + 8).min(m);
        let (above, below) = c.split_at_mut(r0 * ldc);
        // Rows 0 .. r0, columns r0 .. r1, transposed into rows r0 .. r1, columns 0 .. r0.
        transpose_by(block, &above[r0..], ldc, (r0, r1 - r0), below, ldc);
    }
    for r0 in (0..m).step_by(8) {
        for i in r0 + 1..(r0 + 8).min(m) {
            for l in r0..i {
                c[i * ldc + l] = c[l * ldc + i];
            }
        }
    }
}

/// Fills the strict lower triangle of the `m x m` matrix in `c` (rows `ldc`
/// apart) from its upper triangle.
pub(crate) fn mirror_upper<T: Copy>(c: &mut [T], ldc: usize, m: usize) {
    mirror_by(block8, c, ldc, m);
}

/// [`mirror_upper`] for `f32`, its 8 x 8 blocks through AVX registers where the
/// CPU has AVX.
pub(crate) fn mirror_upper_f32(c: &mut [f32], ldc: usize, m: usize) {
    mirror_by(block8_f32, c, ldc, m);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transposition's signature: `(src, ss, (r, c), dst, ds)`.
    type Transposition<F> = fn(&[F], usize, (usize, usize), &mut [F], usize);

    fn check<F: Copy + PartialEq + std::fmt::Debug>(
        from: impl Fn(usize) -> F,
        transpose: Transposition<F>,
    ) {
        for (r, c) in [
            (1usize, 1usize),
            (3, 40),
            (8, 8),
            (17, 16),
            (33, 65),
            (64, 24),
        ] {
            // A block of a wider matrix, into a block of a wider one.
            let (ss, ds) = (c + 3, r + 5);
            let src: Vec<F> = (0..r * ss).map(&from).collect();
            let mut dst = vec![from(usize::MAX); c * ds];
            transpose(&src, ss, (r, c), &mut dst, ds);
            for j in 0..c {
                for i in 0..r {
                    assert_eq!(dst[j * ds + i], src[i * ss + j], "{r}x{c} at ({i}, {j})");
                }
                for i in r..ds {
                    assert_eq!(dst[j * ds + i], from(usize::MAX), "{r}x{c}: gap written");
                }
            }
        }
    }

    #[test]
    fn transposes_every_shape_in_both_precisions() {
        check(|k| k as f32, transpose_f32);
        check(|k| k as f32, transpose::<f32>);
        check(|k| k as f64 * 0.5, transpose::<f64>);
    }

    #[test]
    fn mirrors_the_upper_triangle_in_both_precisions() {
        fn check_mirror<F: Copy + PartialEq + std::fmt::Debug>(
            from: impl Fn(usize) -> F,
            mirror: fn(&mut [F], usize, usize),
        ) {
            for m in [1usize, 7, 8, 9, 17, 33] {
                let ldc = m + 3;
                let junk = from(usize::MAX);
                let mut c: Vec<F> = (0..m * ldc)
                    .map(|k| if k % ldc >= k / ldc { from(k) } else { junk })
                    .collect();
                let before = c.clone();
                mirror(&mut c, ldc, m);
                for i in 0..m {
                    for l in 0..ldc {
                        let want = if l < i {
                            before[l * ldc + i]
                        } else {
                            before[i * ldc + l]
                        };
                        assert_eq!(c[i * ldc + l], want, "m = {m} at ({i}, {l})");
                    }
                }
            }
        }
        check_mirror(|k| k as f32, mirror_upper_f32);
        check_mirror(|k| k as f32, mirror_upper::<f32>);
        check_mirror(|k| k as f64 * 0.5, mirror_upper::<f64>);
    }
}
