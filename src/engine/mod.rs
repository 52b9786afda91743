//! The pairwise engine: the one place where `O(N^2)` work happens.
//!
//! Given rows `x_1..x_N` and a symmetric pair term `(i, j, g_ij) -> (f_ij, w_ij)`
//! with `g_ij = x_i . x_j`, it returns `sum_{i,j} f_ij`, optionally the row sums of
//! `f` (or their log-sum-exp) and of `w`, and the product `G = W X`
//! (`G_i = sum_j w_ij x_j`), for every row ([`RowSet::All`]) or for a range of rows
//! against all ([`RowSet::Local`], a rank's rows in sharded evaluation). The term
//! is evaluated a tile row at a time ([`PairTerm`]), so that evaluations can
//! overlap. Memory is the input, the output, a copy of the input laid out for the
//! products (column-major, or for the packed `f32` kernels two packed copies;
//! each below 2^24 entries, in a buffer the caller keeps) and a few tiles per thread:
//! no `N x N` matrix is ever held.
//!
//! The rows are cut into tiles of [`tile_rows`] rows. Every tile pair computes its
//! Gram tile `X_I X_J^T`, evaluates the term on it a row at a time and accumulates
//! `W_IJ X_J`. Results are bit-for-bit identical for any number of threads.
//!
//! The folder, from the bottom up:
//! - `config`: tile sizes and the column copy's limit;
//! - `reduce`: per-row sums and log-sum-exps;
//! - `schedule`: the round-robin order of tile pairs;
//! - `kept`: the pairs kept for a second pass ([`KeptPairs`]);
//! - `layout`: the operands ([`PairRows`], the column copy, transposed weight
//!   tiles) and the two tile products, by GEMM or by the unpacked `f32` product;
//! - `tile`: the per-tile row kernel both passes share;
//! - `symmetric`: all rows, tile pairs `I <= J` only (symmetry halves the work),
//!   each adding to both tiles;
//! - `rectangular`: a range of rows against all rows.

mod config;
mod kept;
mod layout;
mod rectangular;
mod reduce;
mod schedule;
mod symmetric;
mod tile;

#[cfg(test)]
mod tests;

pub(crate) use config::tile_rows;
pub(crate) use kept::KeptPairs;
pub(crate) use layout::PairRows;

use crate::real::Real;
use ndarray::ArrayViewMut2;
use std::ops::Range;
use symmetric::Symmetric;

/// What the engine should compute besides the total.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PairRequest {
    /// Include the pairs `(i, i)`.
    pub diagonal: bool,
    /// Compute `G = W X`: set by [`pair_sums`] when it is given a buffer.
    pub gradient: bool,
    /// Compute `sum_j f_ij` for every row.
    pub row_values: bool,
    /// With `row_values`: the values are logarithms, and each row gets
    /// `ln sum_j exp(f_ij)` instead, formed without under- or overflow.
    pub log_rows: bool,
    /// Compute `sum_j w_ij` for every row.
    pub row_weights: bool,
}

/// What the engine returns.
#[derive(Debug, Clone)]
pub(crate) struct PairSums {
    /// `sum_{i,j} f_ij` over ordered pairs (not formed for `log_rows`).
    pub total: f64,
    /// `sum_j f_ij` (or its log-sum-exp) per row (empty unless requested).
    pub row_values: Vec<f64>,
    /// `sum_j w_ij` per row (empty unless requested).
    pub row_weights: Vec<f64>,
}

/// A symmetric pair term, evaluated for row `i` against the columns
/// `j0 .. j0 + g.len()` of a tile: `g` holds the inner products `x_i . x_j` on entry
/// (the term may overwrite it as scratch); it writes the values `f_ij` into `f` and,
/// when asked, the weights `w_ij` into `w`. It must satisfy `f_ij = f_ji`, `w_ij = w_ji`.
pub(crate) trait PairTerm: Sync {
    fn row(&self, i: usize, j0: usize, g: &mut [f64], f: &mut [f64], w: Option<&mut [f64]>);

    /// [`PairTerm::row`] from `f32` inner products, for terms that evaluate them in
    /// single precision: the values into `f`, the weights (when asked) straight
    /// into `w`. Returns `false`, having written nothing, when the term has no
    /// such evaluation here; the engine then takes [`PairTerm::row`].
    fn row_f32(
        &self,
        _i: usize,
        _j0: usize,
        _g: &[f32],
        _f: &mut [f64],
        _w: Option<&mut [f32]>,
    ) -> bool {
        false
    }
}

impl<T> PairTerm for T
where
    T: Fn(usize, usize, &mut [f64], &mut [f64], Option<&mut [f64]>) + Sync,
{
    #[inline(always)]
    fn row(&self, i: usize, j0: usize, g: &mut [f64], f: &mut [f64], w: Option<&mut [f64]>) {
        self(i, j0, g, f, w)
    }
}

/// The weights of a second pass over kept pairs, for row `i` against the columns
/// `j0 .. j0 + w.len()`: `values` are the kept values `f_ij`, and `w` holds the kept
/// weights on entry and the new ones on return. They must stay symmetric.
pub(crate) trait Reweigh: Sync {
    fn row(&self, i: usize, j0: usize, values: &[f64], w: &mut [f64]);
}

impl<R> Reweigh for R
where
    R: Fn(usize, usize, &[f64], &mut [f64]) + Sync,
{
    #[inline(always)]
    fn row(&self, i: usize, j0: usize, values: &[f64], w: &mut [f64]) {
        self(i, j0, values, w)
    }
}

/// The rows whose sums the engine forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RowSet {
    /// Every row, against every row.
    All,
    /// The rows in the range (a rank's rows in sharded evaluation), each against
    /// every row; row sums and the gradient's rows are those of the range, in order.
    Local(Range<usize>),
}

/// Runs the engine on `rows` with the symmetric pair term `term`, for the rows of
/// `set`. With a buffer `grad` (the shape of the rows of `set`), `G = W X` is added
/// into it (`grad += W X`: zero it first for `G` alone), so the caller can keep it
/// from call to call. Weights are asked of the term only when a gradient or row
/// weights are requested; `req.gradient` is set from `grad`. The term is called
/// with global row and column indices.
pub(crate) fn pair_sums<'r, F, T>(
    rows: impl Into<PairRows<'r, F>>,
    set: RowSet,
    term: &T,
    req: PairRequest,
    grad: Option<ArrayViewMut2<F>>,
) -> PairSums
where
    F: Real,
    T: PairTerm + ?Sized,
{
    let rows: PairRows<'_, F> = rows.into().reborrow();
    match set {
        RowSet::All => Symmetric::new(rows, req, grad, None).sums(term),
        RowSet::Local(local) => rectangular::local_sums(rows, local, term, req, grad),
    }
}

/// [`pair_sums`] over every row (no gradient) that also keeps every pair's value
/// and weight (the term is always asked for weights) in `kept`, for
/// [`reweigh_into`]. The batch must fit: [`KeptPairs::fits`]`(x.nrows())`.
pub(crate) fn pair_sums_keep<'r, F, T>(
    rows: impl Into<PairRows<'r, F>>,
    term: &T,
    req: PairRequest,
    kept: &mut KeptPairs,
) -> PairSums
where
    F: Real,
    T: PairTerm + ?Sized,
{
    let rows: PairRows<'_, F> = rows.into().reborrow();
    let n = rows.x.nrows();
    kept.prepare(n, tile_rows(n));
    Symmetric::new(rows, req, None, Some(&*kept)).sums(term)
}

/// The second pass over the pairs [`pair_sums_keep`] kept for the same rows:
/// `grad += W X` with the weights `reweigh` makes of the kept ones, without
/// computing the Gram matrix or evaluating the term again. Tiles, schedule and the
/// order of every sum are those of [`pair_sums`], so the result is bit-for-bit
/// what [`pair_sums`] gives for a term that computes the same weights.
pub(crate) fn reweigh_into<'r, F, R>(
    rows: impl Into<PairRows<'r, F>>,
    kept: &KeptPairs,
    reweigh: &R,
    grad: ArrayViewMut2<F>,
) where
    F: Real,
    R: Reweigh + ?Sized,
{
    let rows: PairRows<'_, F> = rows.into().reborrow();
    let n = rows.x.nrows();
    debug_assert!(kept.is_for(n, tile_rows(n)));
    Symmetric::new(rows, PairRequest::default(), Some(grad), Some(kept)).reweigh(kept, reweigh);
}
