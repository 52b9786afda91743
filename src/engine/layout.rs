//! The engine's operands, laid out for its products: the rows and their
//! column-major copy ([`PairRows`]), the weight tiles (also transposed for the
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
//! no packing), and the Gram tiles' `X_J^T` from the column copy. Its sums over `k`
//! run in one piece, where the GEMM's are split into depth blocks for large `d`,
//! so results then differ from the GEMM's in rounding only.

use super::config::{COLUMN_COPY_MAX, tile_rows};
use crate::numerics::transpose_f32;
use crate::numerics::{
    PARALLEL_ENTRIES, Product, has_rows_product, kernel, rows_product, transpose,
};
use crate::real::Real;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, linalg::general_mat_mul, s};
use rayon::prelude::*;
use std::ops::Range;

/// The rows the engine works on: `x` (`N x d`) and, if the caller made one, the same
/// rows column-major (`columns` is `d x N` with `columns[[k, i]] = x[[i, k]]`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PairRows<'a, F> {
    pub x: ArrayView2<'a, F>,
    columns: Option<ArrayView2<'a, F>>,
}

impl<'a, F> From<ArrayView2<'a, F>> for PairRows<'a, F> {
    fn from(x: ArrayView2<'a, F>) -> Self {
        PairRows { x, columns: None }
    }
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
    /// The rows `x` with their column-major copy written into `buf` (grown if needed,
    /// kept by the caller from call to call), or without one if the rows fit one
    /// tile, or the copy would have more than [`COLUMN_COPY_MAX`] entries or cannot
    /// be allocated.
    pub fn with_columns(x: ArrayView2<'a, F>, buf: &'a mut Vec<F>) -> Self {
        let (n, d) = x.dim();
        // One tile is packed once as each Gram operand: a copy would not pay. The
        // packed f32 kernels pack the Gram tiles' X_J^T from the rows themselves.
        let packed = x.as_slice().and_then(F::as_f32).is_some() && kernel().takes_any_b();
        let Some(len) = n
            .checked_mul(d)
            .filter(|&len| !packed && n > tile_rows(n) && len <= COLUMN_COPY_MAX)
        else {
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
        }
    }

    /// Whether the column-major copy was made.
    #[cfg(test)]
    pub fn has_columns(&self) -> bool {
        self.columns.is_some()
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
        for row in out.chunks_mut(ld).take(bi) {
            row[..bj].fill(0.0);
        }
        let product = Product {
            m: bi,
            n: bj,
            depth: d,
            a: &x[i0 * d..],
            a_strides: (d, 1),
            b,
            b_strides,
            ldc: ld,
        };
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
        };
        rows_product(&product, c)
    }
}
