//! The per-tile row kernel both passes share: the pair term evaluated on a Gram
//! tile a row at a time, the diagonal pairs masked where they are left out, the
//! values summed, and the weights written into the weight tile; on a diagonal tile
//! of the symmetric pass, where only the total and the weights are asked, its upper
//! triangle only.

use super::{PairRequest, PairTerm};
use crate::numerics::{lane_sum, mirror_upper, mirror_upper_f32, vectorized};
use crate::real::Real;
use ndarray::Array2;
use std::ops::Range;

/// One thread's buffers for a tile of up to `tile x tile` pairs: the Gram tile, the
/// weight tile and (for the GEMM) its transpose, and one row's cosines, values and
/// weights in `f64`. Reused from tile to tile.
pub(super) struct TileBuffers<F> {
    pub gram: Array2<F>,
    pub w: Array2<F>,
    /// The weight tile transposed (`w^T`), packed by copies for `W_IJ X_J`
    /// (written for off-diagonal tile pairs, where the gradient is formed by the
    /// GEMM, not the unpacked product).
    pub wt: Array2<F>,
    g: Vec<f64>,
    f: Vec<f64>,
    pub wrow: Vec<f64>,
}

impl<F: Real> TileBuffers<F> {
    /// Buffers for tiles of `rows x cols` pairs at most; weight tiles if `need_w`,
    /// and their transposes if `transposes`.
    pub fn new((rows, cols): (usize, usize), need_w: bool, transposes: bool) -> Self {
        TileBuffers {
            gram: Array2::zeros((rows, cols)),
            w: Array2::zeros(if need_w { (rows, cols) } else { (0, 0) }),
            wt: Array2::zeros(if transposes { (cols, rows) } else { (0, 0) }),
            g: vec![0.0; cols],
            f: vec![0.0; cols],
            wrow: vec![0.0; if need_w { cols } else { 0 }],
        }
    }
}

/// Where a tile's weights are wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Weights {
    /// Nowhere.
    None,
    /// In the weight tile only: a term may then write them there itself, in `f32`
    /// ([`PairTerm::row_f32`]).
    Tile,
    /// In the weight tile, and as `f64` rows for the caller (row sums, kept pairs).
    TileAndRows,
}

impl Weights {
    /// Where `req` (and, with `kept`, a pass that keeps the pairs) wants them.
    pub fn of(req: &PairRequest, kept: bool) -> Weights {
        if req.row_weights || kept {
            Weights::TileAndRows
        } else if req.gradient {
            Weights::Tile
        } else {
            Weights::None
        }
    }

    /// Whether they are wanted at all.
    pub fn wanted(self) -> bool {
        self != Weights::None
    }
}

/// Evaluates `term` on the Gram tile in `buf.gram` of the rows `i0 .. i0 + bi`
/// against the columns `j0 .. j0 + bj`: per row, the values `f_ij` and (if
/// `weights` asks) the weights `w_ij`, with the pair `(i, i)` set to nothing (value
/// 0, or `-inf` for log rows, and weight 0) unless `req.diagonal`; the weights go
/// into `buf.w` as `F`, and `each(a, values, weights)` sees every row `a` of the
/// tile (its weights empty unless [`Weights::TileAndRows`]).
/// Returns the sum of the values (0 for log rows).
pub(super) fn evaluate_tile<F: Real, T: PairTerm + ?Sized>(
    term: &T,
    req: &PairRequest,
    weights: Weights,
    buf: &mut TileBuffers<F>,
    (i0, bi): (usize, usize),
    (j0, bj): (usize, usize),
    mut each: impl FnMut(usize, &[f64], &[f64]),
) -> f64 {
    let TileBuffers {
        gram,
        w,
        g,
        f,
        wrow,
        ..
    } = buf;
    let (g, f) = (&mut g[..bj], &mut f[..bj]);
    let wrow = &mut wrow[..if weights.wanted() { bj } else { 0 }];
    let rows_want_weights = weights == Weights::TileAndRows;
    let mut sum = 0.0f64;
    for a in 0..bi {
        let row = TileRow {
            a,
            i: i0 + a,
            cols: 0..bj,
            j0,
        };
        evaluate_row(
            term,
            req,
            (gram, w),
            (g, f, weights.wanted().then_some(&mut wrow[..])),
            row,
            !rows_want_weights,
        );
        if !req.log_rows {
            sum += row_sum(f);
        }
        each(a, f, if rows_want_weights { wrow } else { &[] });
    }
    sum
}

/// The sum of a row's values ([`lane_sum`], in AVX2 registers where the CPU has
/// them: the same bits either way).
#[inline(always)]
fn row_sum(f: &[f64]) -> f64 {
    vectorized(
        #[inline(always)]
        || lane_sum(f, |v| v),
    )
}

/// Row `a` (global row `i`) of a tile at its columns `cols`, the first of them
/// global column `j0`.
struct TileRow {
    a: usize,
    i: usize,
    cols: Range<usize>,
    j0: usize,
}

/// One row of a tile: its Gram entries at `row.cols` into `g` (as `f64`), the
/// term's values into `f` and (if asked) weights into `wrow`, the pair `(i, i)` set
/// to nothing unless `req.diagonal` ([`leave_out_diagonal`]), and the weights into
/// the same entries of the weight tile `w`. With `single`, a term's `f32`
/// evaluation is taken instead where there is one ([`evaluate_row_f32`]: `wrow`
/// is then left as it was). The slices hold `row.cols.len()` entries.
#[inline(always)]
fn evaluate_row<F: Real, T: PairTerm + ?Sized>(
    term: &T,
    req: &PairRequest,
    (gram, w): (&Array2<F>, &mut Array2<F>),
    (g, f, mut wrow): (&mut [f64], &mut [f64], Option<&mut [f64]>),
    TileRow { a, i, cols, j0 }: TileRow,
    single: bool,
) {
    let gram_row = gram.row(a);
    let gram_row = &gram_row.as_slice().expect("a tile row is contiguous")[cols.clone()];
    let mut w_row = wrow.is_some().then(|| w.row_mut(a));
    let mut w_row = w_row
        .as_mut()
        .map(|r| &mut r.as_slice_mut().expect("a tile row is contiguous")[cols]);
    if single && evaluate_row_f32(term, req, gram_row, w_row.as_deref_mut(), f, (i, j0)) {
        return;
    }
    vectorized(
        #[inline(always)]
        || {
            for (gv, x) in g.iter_mut().zip(gram_row) {
                *gv = x.to_f64();
            }
        },
    );
    term.row(i, j0, g, f, wrow.as_deref_mut());
    leave_out_diagonal(req, (i, j0), f, wrow.as_deref_mut());
    if let (Some(wrow), Some(w_row)) = (wrow, w_row) {
        vectorized(
            #[inline(always)]
            || {
                for (wv, x) in w_row.iter_mut().zip(wrow.iter()) {
                    *wv = F::from_f64(*x);
                }
            },
        );
    }
}

/// [`evaluate_row`] through [`PairTerm::row_f32`], when the rows are `f32` and the
/// term has that evaluation: the values into `f`, the weights (if asked) straight
/// into the weight tile's row `w_row`. Returns whether it was taken.
#[inline(always)]
fn evaluate_row_f32<F: Real, T: PairTerm + ?Sized>(
    term: &T,
    req: &PairRequest,
    gram_row: &[F],
    w_row: Option<&mut [F]>,
    f: &mut [f64],
    (i, j0): (usize, usize),
) -> bool {
    let Some(g) = F::as_f32(gram_row) else {
        return false;
    };
    let mut w = match w_row.map(F::as_f32_mut) {
        Some(None) => return false,
        Some(w) => w,
        None => None,
    };
    if !term.row_f32(i, j0, g, f, w.as_deref_mut()) {
        return false;
    }
    leave_out_diagonal(req, (i, j0), f, w);
    true
}

/// The pair `(i, i)`, if it is among the row's columns `j0 ..`, set to nothing
/// unless `req.diagonal`: value 0 (or `-inf` for log rows) and weight 0.
#[inline(always)]
fn leave_out_diagonal<W: Default>(
    req: &PairRequest,
    (i, j0): (usize, usize),
    f: &mut [f64],
    w: Option<&mut [W]>,
) {
    if !req.diagonal && (j0..j0 + f.len()).contains(&i) {
        f[i - j0] = if req.log_rows { f64::NEG_INFINITY } else { 0.0 };
        if let Some(w) = w {
            w[i - j0] = W::default();
        }
    }
}

/// [`evaluate_tile`] for the diagonal tile of the rows `i0 .. i0 + b` when only the
/// total and the weights are asked (no row sums, no kept pairs, no log rows): the
/// term is evaluated on each row's entries on and right of the diagonal only
/// (`f_ij = f_ji`, `w_ij = w_ji`), the weight tile's lower triangle is copied from
/// its upper one, and the whole tile's sum is returned (the diagonal once, the
/// pairs off it twice). Halves the term's work on diagonal tiles.
pub(super) fn evaluate_upper_tile<F: Real, T: PairTerm + ?Sized>(
    term: &T,
    req: &PairRequest,
    weights: Weights,
    buf: &mut TileBuffers<F>,
    (i0, b): (usize, usize),
) -> f64 {
    debug_assert!(!req.log_rows && !req.row_values && !req.row_weights);
    debug_assert!(weights != Weights::TileAndRows);
    let TileBuffers {
        gram,
        w,
        g,
        f,
        wrow,
        ..
    } = buf;
    let (mut on_diagonal, mut off_diagonal) = (0.0f64, 0.0f64);
    for a in 0..b {
        let (i, len) = (i0 + a, b - a);
        let (g, f) = (&mut g[..len], &mut f[..len]);
        let wrow = weights.wanted().then(|| &mut wrow[..len]);
        let row = TileRow {
            a,
            i,
            cols: a..b,
            j0: i,
        };
        evaluate_row(term, req, (gram, w), (g, f, wrow), row, true);
        on_diagonal += f[0];
        off_diagonal += row_sum(&f[1..]);
    }
    if weights.wanted() {
        let ld = w.ncols();
        let w = w.as_slice_mut().expect("a tile is contiguous");
        match F::as_f32_mut(w) {
            Some(w) => mirror_upper_f32(w, ld, b),
            None => mirror_upper(w, ld, b),
        }
    }
    on_diagonal + 2.0 * off_diagonal
}
