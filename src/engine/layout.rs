//! The engine's operands, laid out for its products: the rows and their
//! column-major copy or packed panels ([`PairRows`]), the weight tiles (also transposed for the
//! GEMM), and the two tile products every pass makes of them, the Gram tile
//! `X_I X_J^T` and the weighted rows `W_IJ X_J` (or `W_IJ^T X_I`).
//!
//! The GEMMs (matrixmultiply's) copy their operands into packed panels, by
//! contiguous copies where an operand's packed direction is contiguous and by
//! strided gathers, several times slower, where it is not. So the engine hands them
//! operands laid out for the copies: the rows also column-major for the Gram tiles,
//! and each off-diagonal weight tile also transposed for `W_IJ X_J`. The packed
//! values, and so every result, are the same either way. In `f32` where the CPU has
//! the unpacked product ([`crate::numerics::rows_product`]), the products skip the
//! GEMM: it reads the weights by broadcast with any strides (no transposed tiles,
//! no packing), and the Gram tiles' `X_J^T` from the column copy (AVX-512), or
//! reads both products' `B` from panels packed once per call ([`PackedRows`]:
//! AVX2, NEON), where tile pairs would otherwise pack them again and again (the
//! same values, so the same results). Its sums over `k`
//! run in one piece, where the GEMM's are split into depth blocks for large `d`,
//! so results then differ from the GEMM's in rounding only.

use super::config::{COLUMN_COPY_MAX, tile_rows};
use crate::numerics::{
    PANEL_WIDTH, PARALLEL_ENTRIES, PackedB, Product, has_rows_product, kernel, pack_panels,
    packed_len, rows_product, symmetric_product, transpose, transpose_f32,
};
use crate::real::Real;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, linalg::general_mat_mul, s};
use rayon::prelude::*;
use std::ops::Range;

/// The rows the engine works on: `x` (`N x d`) and, if the caller made one, the same
/// rows column-major (`columns` is `d x N` with `columns[[k, i]] = x[[i, k]]`), or
/// packed for the packed `f32` kernels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PairRows<'a, F> {
    pub x: ArrayView2<'a, F>,
    columns: Option<ArrayView2<'a, F>>,
    packed: Option<PackedRows<'a>>,
}

impl<'a, F> From<ArrayView2<'a, F>> for PairRows<'a, F> {
    fn from(x: ArrayView2<'a, F>) -> Self {
        PairRows {
            x,
            columns: None,
            packed: None,
        }
    }
}

/// `f32` rows packed once per call as the packed kernels' `B` operands, so that no
/// tile pair packs them again: `gram` is `X^T` in panels of [`PANEL_WIDTH`] rows of
/// `X` (each `d` deep), for the Gram tiles' `X_J^T`; `rows` is `X` in panels of
/// [`PANEL_WIDTH`] columns (each `N` deep), for `W_IJ X_J` and `W_IJ^T X_I`.
#[derive(Debug, Clone, Copy)]
struct PackedRows<'a> {
    gram: &'a [f32],
    rows: &'a [f32],
}

/// [`PackedRows`] of the `n x d` rows `x` written into `buf` (grown if needed),
/// from a 64-byte boundary; `None` if they would have more than
/// [`COLUMN_COPY_MAX`] entries each or cannot be allocated.
fn pack_rows<'a>(
    x: &[f32],
    (n, d): (usize, usize),
    buf: &'a mut Vec<f32>,
) -> Option<PackedRows<'a>> {
    let gram_len = packed_len(d, n).filter(|&l| l <= COLUMN_COPY_MAX)?;
    let rows_len = packed_len(n, d).filter(|&l| l <= COLUMN_COPY_MAX)?;
    let len = gram_len + rows_len + PANEL_WIDTH;
    buf.try_reserve(len.saturating_sub(buf.len())).ok()?;
    buf.resize(len, 0.0);
    // Whole panel rows on cache lines (the kernels read them unaligned as well).
    let skip = buf.as_ptr().align_offset(64).min(PANEL_WIDTH);
    let (gram, rows) = buf[skip..skip + gram_len + rows_len].split_at_mut(gram_len);
    pack_panels(x, (1, d), d, n, gram);
    pack_panels(x, (d, 1), n, d, rows);
    Some(PackedRows { gram, rows })
}

/// `src` (`r x c`, rows `ss` apart) transposed into `dst` (rows `ds` apart):
/// through the vector transposes for `f32`.
fn transpose_rows<F: Real>(src: &[F], ss: usize, shape: (usize, usize), dst: &mut [F], ds: usize) {
    match (F::as_f32(src), F::as_f32_mut(dst)) {
        (Some(src), Some(dst)) => transpose_f32(src, ss, shape, dst, ds),
        _ => transpose(src, ss, shape, dst, ds),
    }
}

impl<'a, F: Real> PairRows<'a, F> {
    /// The rows `x` with their column-major copy, or for the packed `f32` kernels
    /// their packed panels ([`PackedRows`]), written into `buf` (grown if needed,
    /// kept by the caller from call to call); without either if the rows fit one
    /// tile (each operand is then packed once anyway), or the copy would have more
    /// than [`COLUMN_COPY_MAX`] entries or cannot be allocated.
    pub fn with_columns(x: ArrayView2<'a, F>, buf: &'a mut Vec<F>) -> Self {
        let (n, d) = x.dim();
        if n <= tile_rows(n) {
            return x.into();
        }
        let rows = x.to_slice().and_then(F::as_f32);
        if let (Some(rows), true) = (rows, kernel().takes_any_b()) {
            let packed = F::as_f32_vec(buf).and_then(|buf| pack_rows(rows, (n, d), buf));
            return PairRows {
                x,
                columns: None,
                packed,
            };
        }
        let Some(len) = n.checked_mul(d).filter(|&len| len <= COLUMN_COPY_MAX) else {
            return x.into();
        };
        if buf.try_reserve(len.saturating_sub(buf.len())).is_err() {
            return x.into();
        }
        buf.resize(len, F::zero());
        let rows = x.as_standard_layout();
        let src = rows.as_slice().expect("standard layout is contiguous");
        // Blocks of 64 columns of `x` (rows of the copy), in parallel when large.
        let copy = |(b, out): (usize, &mut [F])| {
            transpose_rows(&src[64 * b..], d, (n, out.len() / n), out, n);
        };
        if len >= PARALLEL_ENTRIES {
            buf.par_chunks_mut(64 * n).enumerate().for_each(copy);
        } else {
            buf.chunks_mut(64 * n).enumerate().for_each(copy);
        }
        PairRows {
            x,
            columns: Some(ArrayView2::from_shape((d, n), buf.as_slice()).expect("length is d x n")),
            packed: None,
        }
    }

    /// The same rows for a shorter lifetime (views are invariant in theirs).
    pub fn reborrow<'b>(self) -> PairRows<'b, F>
    where
        'a: 'b,
    {
        PairRows {
            x: self.x.reborrow(),
            columns: self.columns.map(|c| c.reborrow()),
            packed: self.packed,
        }
    }

    /// Whether the column-major copy was made.
    #[cfg(test)]
    pub fn has_columns(&self) -> bool {
        self.columns.is_some()
    }

    /// Whether the rows were packed for the packed kernels.
    #[cfg(test)]
    pub fn has_packed(&self) -> bool {
        self.packed.is_some()
    }
}

/// The top-left `bi x bj` block of the weight tile `w`, transposed into `wt`.
pub(super) fn transpose_tile<F: Real>(w: &Array2<F>, wt: &mut Array2<F>, (bi, bj): (usize, usize)) {
    let (ws, wts) = (w.ncols(), wt.ncols());
    let (src, dst) = (w.as_slice(), wt.as_slice_mut());
    let (src, dst) = (
        src.expect("a tile is contiguous"),
        dst.expect("a tile is contiguous"),
    );
    transpose_rows(src, ws, (bi, bj), dst, wts);
}

/// Which product of a weight tile `W_IJ` (`bi x bj`) a tile of gradient rows gets.
#[derive(Debug, Clone, Copy)]
pub(super) enum Side<'w, F> {
    /// `W_IJ X_J` for the rows of tile `I`, with `W_IJ^T` as the GEMM packs it:
    /// a transposed copy of `W_IJ` (`wt`), or on the diagonal `W_II` itself.
    Rows {
        first_col: usize,
        wt: &'w Array2<F>,
        diagonal: bool,
    },
    /// `W_IJ^T X_I` for the rows of tile `J`.
    Columns { first_row: usize },
}

/// The rows and, where made, their column copy, with the products the engine
/// forms of them.
pub(super) struct Operands<'a, F> {
    pub x: ArrayView2<'a, F>,
    columns: Option<ArrayView2<'a, F>>,
    packed: Option<PackedRows<'a>>,
    /// The products are the unpacked ones: `f32` rows, contiguous, on a CPU that
    /// has the product, and every gradient buffer contiguous.
    unpacked: bool,
}

impl<'a, F: Real> Operands<'a, F> {
    /// The operands of `rows`; `grad_contiguous`: the gradient buffer (if any) is
    /// in standard layout.
    pub fn new(rows: PairRows<'a, F>, grad_contiguous: bool) -> Self {
        let unpacked = has_rows_product()
            && rows.x.as_slice().and_then(F::as_f32).is_some()
            && grad_contiguous;
        Operands {
            x: rows.x,
            columns: rows.columns,
            packed: rows.packed.filter(|_| unpacked),
            unpacked,
        }
    }

    /// Whether the weight tiles must also be transposed (for the GEMM).
    pub fn needs_transposes(&self) -> bool {
        !self.unpacked
    }

    /// The Gram tile `X_I X_J^T` of the rows `ri` and `rj` into the top-left of
    /// `gram`: by the unpacked product from the column copy where there is one and
    /// this type and CPU have the product, else by a GEMM.
    pub fn gram_tile(&self, gram: &mut Array2<F>, ri: Range<usize>, rj: Range<usize>) {
        if self.unpacked_gram(gram, (ri.start, ri.len()), (rj.start, rj.len())) {
            return;
        }
        let mut gram = gram.slice_mut(s![..ri.len(), ..rj.len()]);
        match self.columns {
            Some(c) => {
                let (ci, cj) = (c.slice(s![.., ri]), c.slice(s![.., rj]));
                general_mat_mul(F::one(), &ci.t(), &cj, F::zero(), &mut gram);
            }
            None => {
                let (xi, xj) = (self.x.slice(s![ri, ..]), self.x.slice(s![rj, ..]));
                general_mat_mul(F::one(), &xi, &xj.t(), F::zero(), &mut gram);
            }
        }
    }

    /// The Gram tile of rows `i0 .. i0 + bi` and `j0 .. j0 + bj` into `gram` by the
    /// unpacked product, reading `X_J^T` from the column copy (its rows contiguous),
    /// or, for the packed kernels, from the rows themselves; `false` if not used here.
    fn unpacked_gram(
        &self,
        gram: &mut Array2<F>,
        (i0, bi): (usize, usize),
        (j0, bj): (usize, usize),
    ) -> bool {
        let (n, d) = self.x.dim();
        let ld = gram.ncols();
        let (true, Some(x), Some(out)) = (
            self.unpacked,
            self.x.to_slice().and_then(F::as_f32),
            gram.as_slice_mut().and_then(F::as_f32_mut),
        ) else {
            return false;
        };
        let (b, b_strides) = match self.columns.and_then(|c| c.to_slice()).and_then(F::as_f32) {
            Some(c) => (&c[j0..], (n, 1)),
            None if kernel().takes_any_b() => (&x[j0 * d..], (1, d)),
            None => return false,
        };
        // Tile J's panels of `X^T`, where its first row starts a panel.
        let packed_b = self.packed.and_then(|pk| {
            let start = (j0 % PANEL_WIDTH == 0).then(|| j0 / PANEL_WIDTH * d * PANEL_WIDTH)?;
            Some(PackedB {
                panels: pk.gram.get(start..)?,
                stride: d,
                first: 0,
            })
        });
        let product = Product {
            m: bi,
            n: bj,
            depth: d,
            a: &x[i0 * d..],
            a_strides: (d, 1),
            b,
            b_strides,
            ldc: ld,
            packed_b,
            upper: false,
            assign: true,
        };
        if (i0, bi) == (j0, bj) {
            return symmetric_product(&product, out);
        }
        rows_product(&product, out)
    }

    /// `g += W_IJ X_J` or `g += W_IJ^T X_I` (as `side` says) for the weight tile
    /// `bi x bj` in the top-left of `w`.
    pub fn add_weighted(
        &self,
        g: &mut ArrayViewMut2<F>,
        w: &Array2<F>,
        (bi, bj): (usize, usize),
        side: Side<'_, F>,
    ) {
        if self.unpacked_product(g, w, (bi, bj), side) {
            return;
        }
        match side {
            Side::Rows {
                first_col,
                wt,
                diagonal,
            } => {
                // `W_IJ` as the transpose of a row-major matrix, so that it packs by
                // copies: of `wt`, or on the diagonal of `W_II` itself (symmetric).
                let w_ij = if diagonal {
                    w.slice(s![..bi, ..bj]).reversed_axes()
                } else {
                    wt.slice(s![..bj, ..bi]).reversed_axes()
                };
                let xj = self.x.slice(s![first_col..first_col + bj, ..]);
                general_mat_mul(F::one(), &w_ij, &xj, F::one(), g);
            }
            Side::Columns { first_row } => {
                let w_ji = w.slice(s![..bi, ..bj]).reversed_axes();
                let xi = self.x.slice(s![first_row..first_row + bi, ..]);
                general_mat_mul(F::one(), &w_ji, &xi, F::one(), g);
            }
        }
    }

    /// [`Operands::add_weighted`] by the unpacked product; `false` if it is not
    /// used here (the caller multiplies instead).
    fn unpacked_product(
        &self,
        g: &mut ArrayViewMut2<F>,
        w: &Array2<F>,
        (bi, bj): (usize, usize),
        side: Side<'_, F>,
    ) -> bool {
        let d = self.x.ncols();
        let ld = w.ncols();
        let (true, Some(w), Some(x), Some(c)) = (
            self.unpacked,
            w.as_slice().and_then(F::as_f32),
            self.x.to_slice().and_then(F::as_f32),
            g.as_slice_mut().and_then(F::as_f32_mut),
        ) else {
            return false;
        };
        let (m, depth, a_strides, first) = match side {
            Side::Rows { first_col, .. } => (bi, bj, (ld, 1), first_col),
            Side::Columns { first_row } => (bj, bi, (1, ld), first_row),
        };
        let product = Product {
            m,
            n: d,
            depth,
            a: w,
            a_strides,
            b: &x[first * d..],
            b_strides: (d, 1),
            ldc: d,
            packed_b: self.packed.map(|pk| PackedB {
                panels: pk.rows,
                stride: self.x.nrows(),
                first,
            }),
            upper: false,
            assign: false,
        };
        rows_product(&product, c)
    }
}
