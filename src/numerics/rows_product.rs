//! The engine's weighted-row products `C += A B` in `f32` without packing: `A` is
//! read one entry at a time (broadcast) with any row and column strides, so a weight
//! tile serves as `W` and as `W^T` alike, and `B`'s rows are contiguous (rows of the
//! input), read as they lie. AVX-512F registers where the CPU has them (detected at
//! run time); elsewhere, and for `f64`, the caller uses its GEMM.

/// The operands and shape of a [`rows_product`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Product<'a> {
    /// Rows of `C` and `A`, columns of `C` and `B`, and the summed dimension.
    pub m: usize,
    pub n: usize,
    pub depth: usize,
    /// `A` and its strides `(ars, aks)` (a row, a column).
    pub a: &'a [f32],
    pub a_strides: (usize, usize),
    /// `B` and its row stride.
    pub b: &'a [f32],
    pub ldb: usize,
    /// `C`'s row stride.
    pub ldc: usize,
}

impl Product<'_> {
    /// Whether `a`, `b` and a `C` of `c_len` entries hold every entry the shape
    /// touches (products overflowing `usize` count as not).
    fn fits(&self, c_len: usize) -> bool {
        let last = |rows: usize, stride: usize, cols: usize, step: usize| {
            (rows - 1)
                .checked_mul(stride)
                .and_then(|r| (cols - 1).checked_mul(step).and_then(|c| r.checked_add(c)))
        };
        let (ars, aks) = self.a_strides;
        if self.m == 0 || self.n == 0 || self.depth == 0 {
            return true;
        }
        let a_end = last(self.m, ars, self.depth, aks);
        let b_end = last(self.depth, self.ldb, self.n, 1);
        let c_end = last(self.m, self.ldc, self.n, 1);
        matches!((a_end, b_end, c_end), (Some(a), Some(b), Some(c))
            if a < self.a.len() && b < self.b.len() && c < c_len)
    }
}

/// Whether [`rows_product`] works on this CPU (for well-sized slices).
pub(crate) fn has_rows_product() -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        return true;
    }
    false
}

/// `C[i][l] += sum_k A[i ars + k aks] B[k ldb + l]` for `i < m`, `l < n`,
/// `k < depth` (the sum formed in `k` order, then added); `false` (and nothing done)
/// where this CPU has no such product, or the slices are too short for the shape.
pub(crate) fn rows_product(p: &Product<'_>, c: &mut [f32]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if has_rows_product() && p.fits(c.len()) {
        if p.m > 0 && p.n > 0 && p.depth > 0 {
            // SAFETY: AVX-512F is present, and `fits` checked that every entry the
            // shape reads or writes lies within the slices.
            unsafe { avx512::product(p, c) };
        }
        return true;
    }
    let _ = (p, c);
    false
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
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
            let bk = unsafe { b.add(k * p.ldb + l0) };
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a sum in `f64`, for shapes with ragged rows and lanes and for `A`
    /// read along rows and along columns (as `W` and as `W^T`).
    #[test]
    fn matches_a_plain_sum() {
        for (m, n, depth) in [
            (1usize, 1usize, 1usize),
            (3, 17, 5),
            (4, 64, 64),
            (9, 100, 33),
            (64, 256, 64),
            (5, 3, 300),
            (6, 40, 7),
        ] {
            for transposed in [false, true] {
                let a_len = m * depth;
                let a: Vec<f32> = (0..a_len)
                    .map(|v| ((v * 7 % 13) as f32 - 6.0) / 8.0)
                    .collect();
                let strides = if transposed { (1, m) } else { (depth, 1) };
                let ldb = n + 3;
                let b: Vec<f32> = (0..depth * ldb)
                    .map(|v| ((v * 5 % 11) as f32 - 5.0) / 4.0)
                    .collect();
                let ldc = n + 1;
                let mut c: Vec<f32> = (0..m * ldc).map(|v| (v % 3) as f32).collect();
                let before = c.clone();
                let p = Product {
                    m,
                    n,
                    depth,
                    a: &a,
                    a_strides: strides,
                    b: &b,
                    ldb,
                    ldc,
                };
                if !rows_product(&p, &mut c) {
                    return; // no AVX-512F here: nothing to test
                }
                for i in 0..m {
                    for l in 0..ldc {
                        let got = c[i * ldc + l];
                        if l >= n {
                            assert_eq!(got, before[i * ldc + l], "gap written");
                            continue;
                        }
                        let want: f64 = before[i * ldc + l] as f64
                            + (0..depth)
                                .map(|k| {
                                    a[i * strides.0 + k * strides.1] as f64 * b[k * ldb + l] as f64
                                })
                                .sum::<f64>();
                        let scale: f64 = (0..depth)
                            .map(|k| {
                                (a[i * strides.0 + k * strides.1] as f64 * b[k * ldb + l] as f64)
                                    .abs()
                            })
                            .sum::<f64>()
                            + 1.0;
                        assert!(
                            (got as f64 - want).abs() <= 1e-6 * scale,
                            "{m}x{n}x{depth} ({i},{l})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn short_slices_are_declined() {
        fn square(a: &[f32]) -> Product<'_> {
            Product {
                m: 2,
                n: 2,
                depth: 2,
                a,
                a_strides: (2, 1),
                b: a,
                ldb: 2,
                ldc: 2,
            }
        }
        let a = vec![1.0f32; 4];
        assert!(!rows_product(&square(&a), &mut [0.0; 3]));
        assert!(rows_product(&square(&a), &mut [0.0; 4]) == has_rows_product());
    }
}
