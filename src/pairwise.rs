//! The pairwise engine: the one place where `O(N^2)` work happens.
//!
//! Given rows `x_1..x_N` and a symmetric pair term `(i, j, g_ij) -> (f_ij, w_ij)`
//! with `g_ij = x_i . x_j`, it returns `sum_{i,j} f_ij`, optionally the row sums of
//! `f` and `w`, and the product `G = W X` (`G_i = sum_j w_ij x_j`). The term is
//! evaluated a tile row at a time ([`PairTerm`]), so that evaluations can overlap.
//!
//! The rows are cut into tiles of [`tile_rows`] rows. Only tile pairs `(I, J)` with
//! `I <= J` are visited (symmetry halves the Gram work); each visit computes the
//! Gram tile `X_I X_J^T` with a GEMM, evaluates the term on it, and accumulates
//! `G_I += W_IJ X_J` and `G_J += W_IJ^T X_I`. Memory is the input, the output, a
//! column-major copy of the input (below 2^24 entries, in a buffer the caller keeps)
//! and a few tiles per thread: no `N x N` matrix is ever held.
//!
//! The GEMMs (matrixmultiply's) copy their operands into packed panels, by
//! contiguous copies where an operand's packed direction is contiguous and by
//! strided gathers, several times slower, where it is not. So the engine hands them
//! operands laid out for the copies: the rows also column-major ([`PairRows`], made
//! once per call where the caller keeps a buffer) for the Gram tiles, and each weight
//! tile also transposed for `W_IJ X_J`. The packed values, and so every result, are
//! the same either way. In `f32` on CPUs with AVX-512F, the two `W X` products skip
//! the GEMM for an unpacked product that reads the weights by broadcast, with any
//! strides (`crate::numerics::RowsProduct`): no transposed tiles, no packing. So do
//! the Gram tiles where there is a column copy (`X_I` by broadcast, the rows of the
//! copy as they lie); its sums over `k` run in one piece, where the GEMM's are split
//! into depth blocks for large `d`, so results then differ from the GEMM's in
//! rounding only.
//!
//! Tile pairs are scheduled in rounds of a round-robin tournament, so the pairs of a
//! round touch disjoint tiles and run in parallel (rayon) without sharing any
//! accumulator. Each tile receives its contributions in the same order whatever the
//! number of threads, so results are bit-for-bit identical for any thread count.

use crate::numerics::{Product, lane_sum, transpose};
use crate::real::Real;
use crate::rows::PARALLEL_ENTRIES;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, linalg::general_mat_mul, s};
use rayon::prelude::*;
use std::ops::Range;
use std::sync::Mutex;

/// The most rows per tile.
pub(crate) const TILE: usize = 256;

/// Rows per tile for a batch of `n` rows: a power of two from 32 to [`TILE`], small
/// enough that a batch of 128 or more rows has at least four tiles, so that every
/// thread has tile pairs to work on at SSL batch sizes (N = 256 fits one 256-row
/// tile), and above 512 rows at least eight: more tiles leave less of the Gram work
/// on the diagonal tiles, which are computed whole (at N = 1024, 128-row tiles did
/// 9% less work than 256-row ones). It depends on `n` alone, so results stay
/// bit-identical for any number of threads.
pub(crate) fn tile_rows(n: usize) -> usize {
    let per_batch = if n > 512 { 8 } else { 4 };
    n.div_ceil(per_batch).next_power_of_two().clamp(32, TILE)
}

/// The most entries (`N d`) of a column-major copy of the rows ([`PairRows::with_columns`]):
/// 64 MiB in `f32`. Above it the Gram tiles' GEMMs gather from the rows instead, a
/// cost that shrinks relative to the GEMMs' as the tiles grow.
const COLUMN_COPY_MAX: usize = 1 << 24;

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

impl<'a, F: Real> PairRows<'a, F> {
    /// The rows and their column-major copy, if any.
    fn parts(self) -> (ArrayView2<'a, F>, Option<ArrayView2<'a, F>>) {
        (self.x, self.columns)
    }

    /// The rows `x` with their column-major copy written into `buf` (grown if needed,
    /// kept by the caller from call to call), or without one if the rows fit one
    /// tile, or the copy would have more than [`COLUMN_COPY_MAX`] entries or cannot
    /// be allocated.
    pub fn with_columns(x: ArrayView2<'a, F>, buf: &'a mut Vec<F>) -> Self {
        let (n, d) = x.dim();
        // One tile is packed once as each Gram operand: a copy would not pay.
        let Some(len) = n
            .checked_mul(d)
            .filter(|&len| n > tile_rows(n) && len <= COLUMN_COPY_MAX)
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
            transpose(&src[64 * b..], d, (n, out.len() / n), out, n);
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
}

/// The top-left `bi x bj` block of the weight tile `w`, transposed into `wt`.
fn transpose_tile<F: Real>(w: &Array2<F>, wt: &mut Array2<F>, (bi, bj): (usize, usize)) {
    let (ws, wts) = (w.ncols(), wt.ncols());
    let (src, dst) = (w.as_slice(), wt.as_slice_mut());
    let (src, dst) = (
        src.expect("a tile is contiguous"),
        dst.expect("a tile is contiguous"),
    );
    transpose(src, ws, (bi, bj), dst, wts);
}

/// What the engine should compute besides the total.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PairRequest {
    /// Include the pairs `(i, i)`.
    pub diagonal: bool,
    /// Compute `G = W X`: set by [`pair_sums_into`] when it is given a buffer.
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

/// A running `ln sum exp(v)`: the largest value seen and the sum of `exp(v - max)`.
#[derive(Debug, Clone, Copy)]
struct LogSum {
    max: f64,
    sum: f64,
}

impl LogSum {
    const EMPTY: LogSum = LogSum {
        max: f64::NEG_INFINITY,
        sum: 0.0,
    };

    #[inline]
    fn add(&mut self, v: f64) {
        if v <= self.max {
            if v > f64::NEG_INFINITY {
                self.sum += (v - self.max).exp();
            }
        } else {
            self.sum = self.sum * (self.max - v).exp() + 1.0;
            self.max = v;
        }
    }

    fn merge(&mut self, other: LogSum) {
        if other.max <= self.max {
            if other.max > f64::NEG_INFINITY {
                self.sum += other.sum * (other.max - self.max).exp();
            }
        } else {
            self.sum = self.sum * (self.max - other.max).exp() + other.sum;
            self.max = other.max;
        }
    }

    /// The log-sum-exp of a slice in two passes (maximum, then sum).
    fn of(v: &[f64]) -> LogSum {
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            return LogSum::EMPTY;
        }
        LogSum {
            max,
            sum: v.iter().map(|x| (x - max).exp()).sum(),
        }
    }

    fn ln(self) -> f64 {
        self.max + self.sum.ln()
    }
}

/// Per-row sums of one kind (plain or log-sum-exp), or none.
#[derive(Debug, Clone)]
enum RowSums {
    None,
    Plain(Vec<f64>),
    Log(Vec<LogSum>),
}

impl RowSums {
    fn new(rows: usize, wanted: bool, log: bool) -> RowSums {
        match (wanted, log) {
            (false, _) => RowSums::None,
            (true, false) => RowSums::Plain(vec![0.0; rows]),
            (true, true) => RowSums::Log(vec![LogSum::EMPTY; rows]),
        }
    }

    fn clear(&mut self) {
        match self {
            RowSums::None => {}
            RowSums::Plain(v) => v.fill(0.0),
            RowSums::Log(v) => v.fill(LogSum::EMPTY),
        }
    }

    /// Row `a` receives the whole tile row `v`.
    #[inline]
    fn add_row(&mut self, a: usize, v: &[f64]) {
        match self {
            RowSums::None => {}
            // In order, as `add_columns` adds a column's values (and as the
            // rectangular pass adds a row's): a row's sum is then the same in both.
            RowSums::Plain(s) => s[a] += v.iter().sum::<f64>(),
            RowSums::Log(s) => s[a].merge(LogSum::of(v)),
        }
    }

    /// Each column `b` receives `v[b]`.
    #[inline]
    fn add_columns(&mut self, v: &[f64]) {
        match self {
            RowSums::None => {}
            RowSums::Plain(s) => s.iter_mut().zip(v).for_each(|(a, b)| *a += b),
            RowSums::Log(s) => s.iter_mut().zip(v).for_each(|(a, &b)| a.add(b)),
        }
    }

    /// Adds the first `len` sums of `other` (of the same kind).
    fn merge(&mut self, other: &RowSums) {
        match (self, other) {
            (RowSums::Plain(s), RowSums::Plain(o)) => {
                s.iter_mut().zip(o).for_each(|(a, b)| *a += b)
            }
            (RowSums::Log(s), RowSums::Log(o)) => {
                s.iter_mut().zip(o).for_each(|(a, b)| a.merge(*b))
            }
            _ => {}
        }
    }

    fn finish(self, out: &mut Vec<f64>) {
        match self {
            RowSums::None => {}
            RowSums::Plain(v) => out.extend_from_slice(&v),
            RowSums::Log(v) => out.extend(v.into_iter().map(LogSum::ln)),
        }
    }
}

/// Per-tile accumulators, each touched by one tile pair at a time.
struct TileAcc<'a, F> {
    grad: Option<ArrayViewMut2<'a, F>>,
    row_values: RowSums,
    row_weights: RowSums,
}

/// One thread's buffers for visiting tile pairs, reused from pair to pair.
struct Scratch<F> {
    gram: Array2<F>,
    w: Array2<F>,
    /// The weight tile transposed (`w^T`), packed by copies for `W_IJ X_J`
    /// (written for off-diagonal tile pairs, where the gradient is formed by the
    /// GEMM, not the unpacked product).
    wt: Array2<F>,
    g: Vec<f64>,
    f: Vec<f64>,
    wrow: Vec<f64>,
    values: [RowSums; 2],
    weights: [RowSums; 2],
}

impl<F: Real> Scratch<F> {
    /// Buffers for tiles of up to `tile` rows; weight tiles if `need_w`, and their
    /// transposes if `transposes`.
    fn new(req: &PairRequest, tile: usize, need_w: bool, transposes: bool) -> Self {
        let values = || RowSums::new(tile, req.row_values, req.log_rows);
        let weights = || RowSums::new(tile, req.row_weights, false);
        Scratch {
            gram: Array2::zeros((tile, tile)),
            w: Array2::zeros(if need_w { (tile, tile) } else { (0, 0) }),
            wt: Array2::zeros(if transposes { (tile, tile) } else { (0, 0) }),
            g: vec![0.0; tile],
            f: vec![0.0; tile],
            wrow: vec![0.0; if need_w { tile } else { 0 }],
            values: [values(), values()],
            weights: [weights(), weights()],
        }
    }
}

/// The rounds of a round-robin tournament on `n` tiles, preceded by the round of
/// diagonal pairs `(I, I)`. Within a round no tile appears twice.
fn schedule(n: usize) -> Vec<Vec<(usize, usize)>> {
    let mut rounds = vec![(0..n).map(|i| (i, i)).collect::<Vec<_>>()];
    if n < 2 {
        return rounds;
    }
    // Circle method: with m even players, fix player m-1 and rotate the others.
    let m = n + n % 2;
    for r in 0..m - 1 {
        let mut round = Vec::with_capacity(m / 2);
        for k in 0..m / 2 {
            let (a, b) = if k == 0 {
                (m - 1, r)
            } else {
                ((r + k) % (m - 1), (r + m - 1 - k) % (m - 1))
            };
            if a < n && b < n {
                round.push((a.min(b), a.max(b)));
            }
        }
        rounds.push(round);
    }
    rounds
}

/// The values and weights of every pair one pass of the engine visited, kept for a
/// second pass over the same pairs ([`pair_sums_keep`], then [`reweigh_into`]): per
/// tile pair `(I, J)`, `I <= J`, a block of `|I| x |J|` values then as many weights,
/// in `f64`. The blocks are reused from call to call: kept in the objective, they
/// are allocated once per batch shape (a clone starts empty).
#[derive(Debug, Default)]
pub(crate) struct KeptPairs {
    rows: usize,
    tile: usize,
    /// `tiles x tiles` slots, of which those with `I <= J` hold blocks.
    blocks: Vec<Mutex<Vec<f64>>>,
}

impl Clone for KeptPairs {
    fn clone(&self) -> Self {
        KeptPairs::default()
    }
}

impl KeptPairs {
    /// The most pairs kept: values and weights of `2^20` pairs are 16 MiB.
    pub const MAX_PAIRS: usize = 1 << 20;

    /// The pairs a batch of `n` rows keeps: the tile pairs `I <= J`.
    fn pairs(n: usize) -> usize {
        let tile = tile_rows(n);
        let (full, last) = (n / tile, n % tile);
        // Full tiles among themselves, the last (partial) tile against all.
        tile * tile * full * (full + 1) / 2 + last * (n - last) + last * last
    }

    /// Whether the pairs of a batch of `n` rows fit in [`KeptPairs::MAX_PAIRS`].
    pub fn fits(n: usize) -> bool {
        KeptPairs::pairs(n) <= KeptPairs::MAX_PAIRS
    }

    /// Blocks for a batch of `n` rows in tiles of `tile` rows.
    fn prepare(&mut self, n: usize, tile: usize) {
        let tiles = n.div_ceil(tile);
        if self.rows == n && self.tile == tile {
            return;
        }
        let rows = |t: usize| ((t + 1) * tile).min(n) - t * tile;
        self.blocks.resize_with(tiles * tiles, Default::default);
        self.blocks.truncate(tiles * tiles);
        for ti in 0..tiles {
            for tj in 0..tiles {
                let len = if ti <= tj { 2 * rows(ti) * rows(tj) } else { 0 };
                let block = self.blocks[ti * tiles + tj]
                    .get_mut()
                    .expect("kept block poisoned");
                block.resize(len, 0.0);
                block.shrink_to(len);
            }
        }
        (self.rows, self.tile) = (n, tile);
    }

    fn block(&self, (ti, tj): (usize, usize)) -> std::sync::MutexGuard<'_, Vec<f64>> {
        let tiles = self.rows.div_ceil(self.tile);
        self.blocks[ti * tiles + tj]
            .lock()
            .expect("kept block poisoned")
    }
}

/// The rows, what is asked, the tiles' accumulators, and where pairs are kept.
struct Engine<'a, F> {
    x: ArrayView2<'a, F>,
    columns: Option<ArrayView2<'a, F>>,
    /// `W X` by the unpacked product ([`crate::numerics::RowsProduct`]): its type
    /// and CPU have one, and the rows and every gradient tile are contiguous.
    unpacked: bool,
    tile: usize,
    req: PairRequest,
    accs: Vec<Mutex<TileAcc<'a, F>>>,
    kept: Option<&'a KeptPairs>,
}

impl<'a, F: Real> Engine<'a, F> {
    fn new(
        (x, columns): (ArrayView2<'a, F>, Option<ArrayView2<'a, F>>),
        req: PairRequest,
        mut grad: Option<ArrayViewMut2<'a, F>>,
        kept: Option<&'a KeptPairs>,
    ) -> Self {
        let n = x.nrows();
        let tile = tile_rows(n);
        let tiles = n.div_ceil(tile);
        let unpacked = F::has_rows_product()
            && x.is_standard_layout()
            && grad.as_ref().is_none_or(|g| g.is_standard_layout());
        let req = PairRequest {
            gradient: grad.is_some(),
            ..req
        };
        let accs = (0..tiles)
            .map(|t| {
                let rows = ((t + 1) * tile).min(n) - t * tile;
                // The gradient's rows of this tile, split off the front of the rest.
                let tile_grad = grad.take().map(|g| {
                    let (head, tail) = g.split_at(Axis(0), rows);
                    grad = Some(tail);
                    head
                });
                Mutex::new(TileAcc {
                    grad: tile_grad,
                    row_values: RowSums::new(rows, req.row_values, req.log_rows),
                    row_weights: RowSums::new(rows, req.row_weights, false),
                })
            })
            .collect();
        Engine {
            x,
            columns,
            unpacked,
            tile,
            req,
            accs,
            kept,
        }
    }

    fn rows(&self, t: usize) -> Range<usize> {
        t * self.tile..((t + 1) * self.tile).min(self.x.nrows())
    }

    /// Whether the term's weights are needed.
    fn need_w(&self) -> bool {
        self.req.gradient || self.req.row_weights || self.kept.is_some()
    }

    /// Visits the tile pair `(ti, tj)`, `ti <= tj`: evaluates the term on the Gram
    /// tile (keeping its values and weights, if asked), then adds its contributions
    /// to both tiles' accumulators. Returns the pair's share of the total.
    fn visit<T: PairTerm + ?Sized>(
        &self,
        term: &T,
        scratch: &mut Scratch<F>,
        (ti, tj): (usize, usize),
    ) -> f64 {
        let req = &self.req;
        let need_w = self.need_w();
        let Scratch {
            gram,
            w,
            wt,
            g,
            f,
            wrow,
            values,
            weights,
        } = scratch;
        let (ri, rj) = (self.rows(ti), self.rows(tj));
        let (bi, bj, j0) = (ri.len(), rj.len(), rj.start);
        self.gram_tile(gram, ri.clone(), rj);
        let gram = gram.slice(s![..bi, ..bj]);
        let diag = ti == tj;
        values
            .iter_mut()
            .chain(weights.iter_mut())
            .for_each(RowSums::clear);
        let mut kept = self.kept.map(|k| k.block((ti, tj)));
        let (g, f) = (&mut g[..bj], &mut f[..bj]);
        let wrow = &mut wrow[..if need_w { bj } else { 0 }];
        let mut sum = 0.0f64;
        for a in 0..bi {
            let gram_row = gram.row(a);
            let gram_row = gram_row.as_slice().expect("a tile row is contiguous");
            for (gv, x) in g.iter_mut().zip(gram_row) {
                *gv = x.to_f64();
            }
            term.row(ri.start + a, j0, g, f, need_w.then_some(&mut wrow[..]));
            if diag && !req.diagonal {
                f[a] = if req.log_rows { f64::NEG_INFINITY } else { 0.0 };
                if need_w {
                    wrow[a] = 0.0;
                }
            }
            if !req.log_rows {
                sum += lane_sum(f, |v| v);
            }
            values[0].add_row(a, f);
            values[1].add_columns(f);
            if need_w {
                let mut w_row = w.row_mut(a);
                let w_row = w_row.as_slice_mut().expect("a tile row is contiguous");
                for (wv, x) in w_row.iter_mut().zip(wrow.iter()) {
                    *wv = F::from_f64(*x);
                }
                weights[0].add_row(a, wrow);
                weights[1].add_columns(wrow);
            }
            if let Some(block) = kept.as_mut() {
                let (kv, kw) = block.split_at_mut(bi * bj);
                kv[a * bj..(a + 1) * bj].copy_from_slice(f);
                kw[a * bj..(a + 1) * bj].copy_from_slice(wrow);
            }
        }
        drop(kept);
        if req.gradient && !diag && !self.unpacked {
            transpose_tile(w, wt, (bi, bj));
        }
        self.accumulate(scratch, (ti, tj));
        if diag { sum } else { 2.0 * sum }
    }

    /// Visits the tile pair `(ti, tj)` a second time from the kept pairs: the weights
    /// `reweigh` makes of the kept values and weights, and their contributions to both
    /// tiles' accumulators (no Gram tile, no total).
    fn revisit<R: Reweigh + ?Sized>(
        &self,
        reweigh: &R,
        kept: &KeptPairs,
        scratch: &mut Scratch<F>,
        (ti, tj): (usize, usize),
    ) -> f64 {
        let (ri, rj) = (self.rows(ti), self.rows(tj));
        let (bi, bj) = (ri.len(), rj.len());
        let block = kept.block((ti, tj));
        let (kv, kw) = block.split_at(bi * bj);
        let wrow = &mut scratch.wrow[..bj];
        for a in 0..bi {
            wrow.copy_from_slice(&kw[a * bj..(a + 1) * bj]);
            reweigh.row(ri.start + a, rj.start, &kv[a * bj..(a + 1) * bj], wrow);
            for (wv, x) in scratch.w.row_mut(a).iter_mut().zip(wrow.iter()) {
                *wv = F::from_f64(*x);
            }
        }
        drop(block);
        if ti != tj && !self.unpacked {
            transpose_tile(&scratch.w, &mut scratch.wt, (bi, bj));
        }
        scratch
            .values
            .iter_mut()
            .chain(scratch.weights.iter_mut())
            .for_each(RowSums::clear);
        self.accumulate(scratch, (ti, tj));
        0.0
    }

    /// Adds the weight tile and the row sums in `scratch` of the tile pair
    /// `(ti, tj)` to both tiles' accumulators.
    fn accumulate(&self, scratch: &Scratch<F>, (ti, tj): (usize, usize)) {
        let (ri, rj) = (self.rows(ti), self.rows(tj));
        let (bi, bj) = (ri.len(), rj.len());
        let xi = self.x.slice(s![ri.clone(), ..]);
        let xj = self.x.slice(s![rj.clone(), ..]);
        // Lock order is fixed (ti <= tj) and within a round no tile is shared.
        let mut acc_i = self.accs[ti].lock().expect("tile accumulator poisoned");
        if let Some(g) = acc_i.grad.as_mut()
            && !self.unpacked_product(scratch, (bi, bj), false, rj.start, g)
        {
            // `W_IJ` as the transpose of a row-major matrix, so that it packs by
            // copies: of `wt`, or on the diagonal of `W_II` itself (it is symmetric).
            let w_ij = if ti == tj {
                scratch.w.slice(s![..bi, ..bj]).reversed_axes()
            } else {
                scratch.wt.slice(s![..bj, ..bi]).reversed_axes()
            };
            general_mat_mul(F::one(), &w_ij, &xj, F::one(), g);
        }
        acc_i.row_values.merge(&scratch.values[0]);
        acc_i.row_weights.merge(&scratch.weights[0]);
        if ti == tj {
            return;
        }
        let mut acc_j = self.accs[tj].lock().expect("tile accumulator poisoned");
        if let Some(g) = acc_j.grad.as_mut()
            && !self.unpacked_product(scratch, (bi, bj), true, ri.start, g)
        {
            let w_ji = scratch.w.slice(s![..bi, ..bj]).reversed_axes();
            general_mat_mul(F::one(), &w_ji, &xi, F::one(), g);
        }
        acc_j.row_values.merge(&scratch.values[1]);
        acc_j.row_weights.merge(&scratch.weights[1]);
    }

    /// The Gram tile `X_I X_J^T` of the rows `ri` and `rj` into the top-left of
    /// `gram`: by the unpacked product from the column copy where there is one and
    /// this type and CPU have the product, else by a GEMM.
    fn gram_tile(&self, gram: &mut Array2<F>, ri: Range<usize>, rj: Range<usize>) {
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
    /// unpacked product, reading `X_J^T` from the column copy (its rows contiguous);
    /// `false` if not used here.
    fn unpacked_gram(
        &self,
        gram: &mut Array2<F>,
        (i0, bi): (usize, usize),
        (j0, bj): (usize, usize),
    ) -> bool {
        let (n, d) = self.x.dim();
        let ld = gram.ncols();
        let (true, Some(c), Some(x), Some(out)) = (
            self.unpacked,
            self.columns.and_then(|c| c.to_slice()),
            self.x.as_slice(),
            gram.as_slice_mut(),
        ) else {
            return false;
        };
        for row in out.chunks_mut(ld).take(bi) {
            row[..bj].fill(F::zero());
        }
        let product = Product {
            m: bi,
            n: bj,
            kk: d,
            a: &x[i0 * d..],
            a_strides: (d, 1),
            b: &c[j0..],
            ldb: n,
            ldc: ld,
        };
        F::rows_product(&product, out)
    }

    /// `g += W_IJ X_J` (or, `transposed`, `g += W_IJ^T X_I`) by the unpacked
    /// product, the weight tile `bi x bj` in `scratch.w` and the rows of `x` from
    /// `first`; `false` if it is not used here (the caller multiplies instead).
    fn unpacked_product(
        &self,
        scratch: &Scratch<F>,
        (bi, bj): (usize, usize),
        transposed: bool,
        first: usize,
        g: &mut ArrayViewMut2<F>,
    ) -> bool {
        if !self.unpacked {
            return false;
        }
        let d = self.x.ncols();
        let (Some(w), Some(x), Some(c)) =
            (scratch.w.as_slice(), self.x.as_slice(), g.as_slice_mut())
        else {
            return false;
        };
        let ld = scratch.w.ncols();
        let (m, kk, a_strides) = if transposed {
            (bj, bi, (1, ld))
        } else {
            (bi, bj, (ld, 1))
        };
        let product = Product {
            m,
            n: d,
            kk,
            a: w,
            a_strides,
            b: &x[first * d..],
            ldb: d,
            ldc: d,
        };
        F::rows_product(&product, c)
    }

    /// Runs `work` on every tile pair, round by round (the pairs of a round in
    /// parallel), and returns the sum of what it returns, added in schedule order.
    fn run(&self, work: impl Fn(&mut Scratch<F>, (usize, usize)) -> f64 + Sync) -> f64 {
        let n = self.x.nrows();
        let tiles = n.div_ceil(self.tile);
        let tile = self.tile.min(n);
        let (req, need_w) = (self.req, self.need_w());
        let transposes = req.gradient && !self.unpacked;
        // One scratch per thread of the pool (and one for the calling thread), made
        // when the thread first needs it and kept for every later round of this call.
        let scratches: Vec<Mutex<Option<Scratch<F>>>> = (0..=rayon::current_num_threads())
            .map(|_| Mutex::new(None))
            .collect();
        let visit = |pair: (usize, usize)| {
            let slot = rayon::current_thread_index().map_or(0, |t| t + 1);
            let mut scratch = scratches[slot].lock().expect("scratch poisoned");
            work(
                scratch.get_or_insert_with(|| Scratch::new(&req, tile, need_w, transposes)),
                pair,
            )
        };
        let mut total = 0.0f64;
        for round in schedule(tiles) {
            let sums: Vec<f64> = if round.len() == 1 {
                vec![visit(round[0])]
            } else {
                round.par_iter().map(|&p| visit(p)).collect()
            };
            total += sums.iter().sum::<f64>();
        }
        total
    }

    /// The row sums the tiles accumulated, with the total.
    fn finish(self, total: f64) -> PairSums {
        let (mut row_values, mut row_weights) = (Vec::new(), Vec::new());
        for acc in self.accs {
            let acc = acc.into_inner().expect("tile accumulator poisoned");
            acc.row_values.finish(&mut row_values);
            acc.row_weights.finish(&mut row_weights);
        }
        PairSums {
            total,
            row_values,
            row_weights,
        }
    }
}

/// Runs the engine on the rows `x` with the symmetric pair term `term`, without a
/// gradient: [`pair_sums_into`] with no buffer.
pub(crate) fn pair_sums<'r, F, T>(
    rows: impl Into<PairRows<'r, F>>,
    term: &T,
    req: PairRequest,
) -> PairSums
where
    F: Real,
    T: PairTerm + ?Sized,
{
    pair_sums_into(rows, term, req, None)
}

/// Runs the engine on the rows `x` with the symmetric pair term `term`; with a
/// buffer `grad` (`N x d`, the shape of `x`), `G = W X` is added into it
/// (`grad += W X`: zero it first for `G` alone), so the caller can keep it from call
/// to call. Weights are asked of the term only when a gradient or row weights are
/// requested; `req.gradient` is set from `grad`.
pub(crate) fn pair_sums_into<'r, F, T>(
    rows: impl Into<PairRows<'r, F>>,
    term: &T,
    req: PairRequest,
    grad: Option<ArrayViewMut2<F>>,
) -> PairSums
where
    F: Real,
    T: PairTerm + ?Sized,
{
    let rows = rows.into().parts();
    let engine = Engine::new(rows, req, grad, None);
    let total = engine.run(|scratch, pair| engine.visit(term, scratch, pair));
    engine.finish(total)
}

/// [`pair_sums`] (no gradient) that also keeps every pair's value and weight (the
/// term is always asked for weights) in `kept`, for [`reweigh_into`]. The batch must
/// fit: [`KeptPairs::fits`]`(x.nrows())`.
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
    let rows = rows.into().parts();
    let n = rows.0.nrows();
    kept.prepare(n, tile_rows(n));
    let engine = Engine::new(rows, req, None, Some(&*kept));
    let total = engine.run(|scratch, pair| engine.visit(term, scratch, pair));
    engine.finish(total)
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

/// The second pass over the pairs [`pair_sums_keep`] kept for the same rows `x`:
/// `grad += W X` with the weights `reweigh` makes of the kept ones, without
/// computing the Gram matrix or evaluating the term again. Tiles, schedule and the
/// order of every sum are those of [`pair_sums_into`], so the result is bit-for-bit
/// what [`pair_sums_into`] gives for a term that computes the same weights.
pub(crate) fn reweigh_into<'r, F, R>(
    rows: impl Into<PairRows<'r, F>>,
    kept: &KeptPairs,
    reweigh: &R,
    grad: ArrayViewMut2<F>,
) where
    F: Real,
    R: Reweigh + ?Sized,
{
    let rows = rows.into().parts();
    let n = rows.0.nrows();
    debug_assert_eq!((kept.rows, kept.tile), (n, tile_rows(n)));
    let engine = Engine::new(rows, PairRequest::default(), Some(grad), Some(kept));
    engine.run(|scratch, pair| engine.revisit(reweigh, kept, scratch, pair));
}

/// The rows `rows` of `x` against all rows of `x`: the rectangular pass of sharded
/// evaluation. Returns the sum of `f_ij` over `i` in `rows` and every `j` (the pair
/// `(i, i)` only with `req.diagonal`), and, as asked, the row sums of `f` (or their
/// log-sum-exp) and of `w` for the rows in `rows` (in order); with a buffer `grad`
/// (`rows.len() x d`), `G_i = sum_j w_ij x_j` is added into its row `i - rows.start`.
/// The term is called with global row and column indices.
///
/// The rows are cut into tiles of [`tile_rows`]`(N)` rows, `N = x.nrows()`; each
/// tile of `rows` visits every column tile in order, and the tiles run in parallel
/// with their own accumulators, so the result is bit-for-bit the same for any number
/// of threads. Work is `O(|rows| N d)`, memory a few tiles per thread.
pub(crate) fn pair_rows_into<F, T>(
    x: ArrayView2<F>,
    rows: Range<usize>,
    term: &T,
    req: PairRequest,
    grad: Option<ArrayViewMut2<F>>,
) -> PairSums
where
    F: Real,
    T: PairTerm + ?Sized,
{
    let n = x.nrows();
    let tile = tile_rows(n);
    let req = PairRequest {
        gradient: grad.is_some(),
        ..req
    };
    let need_w = req.gradient || req.row_weights;
    let starts: Vec<usize> = (rows.start..rows.end).step_by(tile).collect();
    let mut grad = grad;
    let grads: Vec<Option<ArrayViewMut2<F>>> = match grad.as_mut() {
        Some(g) => g.axis_chunks_iter_mut(Axis(0), tile).map(Some).collect(),
        None => starts.iter().map(|_| None).collect(),
    };
    let tasks: Vec<(usize, Option<ArrayViewMut2<F>>)> = starts.into_iter().zip(grads).collect();
    let visit = |(start, mut g): (usize, Option<ArrayViewMut2<F>>)| {
        let ri = start..(start + tile).min(rows.end);
        let bi = ri.len();
        let xi = x.slice(s![ri.clone(), ..]);
        let cols = tile.min(n);
        let mut gram = Array2::<F>::zeros((bi, cols));
        let mut w = Array2::<F>::zeros(if need_w { (bi, cols) } else { (0, 0) });
        let (mut gv, mut fv) = (vec![0.0f64; cols], vec![0.0f64; cols]);
        let mut wv = vec![0.0f64; if need_w { cols } else { 0 }];
        let mut values = RowSums::new(bi, req.row_values, req.log_rows);
        let mut weights = RowSums::new(bi, req.row_weights, false);
        let mut sum = 0.0f64;
        for j0 in (0..n).step_by(tile) {
            let rj = j0..(j0 + tile).min(n);
            let bj = rj.len();
            let xj = x.slice(s![rj.clone(), ..]);
            let mut gram = gram.slice_mut(s![.., ..bj]);
            general_mat_mul(F::one(), &xi, &xj.t(), F::zero(), &mut gram);
            let (g1, f1) = (&mut gv[..bj], &mut fv[..bj]);
            let w1 = &mut wv[..if need_w { bj } else { 0 }];
            for a in 0..bi {
                let i = ri.start + a;
                for (gx, v) in g1.iter_mut().zip(gram.row(a)) {
                    *gx = v.to_f64();
                }
                term.row(i, j0, g1, f1, need_w.then_some(&mut w1[..]));
                if !req.diagonal && rj.contains(&i) {
                    f1[i - j0] = if req.log_rows { f64::NEG_INFINITY } else { 0.0 };
                    if need_w {
                        w1[i - j0] = 0.0;
                    }
                }
                if !req.log_rows {
                    sum += f1.iter().sum::<f64>();
                }
                values.add_row(a, f1);
                if need_w {
                    for (o, v) in w.row_mut(a).iter_mut().zip(w1.iter()) {
                        *o = F::from_f64(*v);
                    }
                    weights.add_row(a, w1);
                }
            }
            if let Some(g) = g.as_mut() {
                general_mat_mul(F::one(), &w.slice(s![.., ..bj]), &xj, F::one(), g);
            }
        }
        (sum, values, weights)
    };
    let parts: Vec<(f64, RowSums, RowSums)> = if tasks.len() == 1 {
        tasks.into_iter().map(visit).collect()
    } else {
        tasks.into_par_iter().map(visit).collect()
    };
    let mut out = PairSums {
        total: 0.0,
        row_values: Vec::new(),
        row_weights: Vec::new(),
    };
    for (sum, values, weights) in parts {
        out.total += sum;
        values.finish(&mut out.row_values);
        weights.finish(&mut out.row_weights);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn schedule_covers_each_pair_once_and_rounds_are_disjoint() {
        for n in 1..12 {
            let rounds = schedule(n);
            let mut seen = std::collections::HashSet::new();
            for round in &rounds {
                let mut used = std::collections::HashSet::new();
                for &(a, b) in round {
                    assert!(a <= b && b < n);
                    assert!(seen.insert((a, b)), "pair twice");
                    assert!(used.insert(a));
                    if a != b {
                        assert!(used.insert(b));
                    }
                }
            }
            assert_eq!(seen.len(), n * (n + 1) / 2);
        }
    }

    fn brute(x: &Array2<f64>, diagonal: bool) -> (f64, Vec<f64>, Vec<f64>, Array2<f64>) {
        let n = x.nrows();
        let f = |g: f64| (g * g + 0.5 * g, 2.0 * g + 0.5);
        let mut total = 0.0;
        let mut rv = vec![0.0; n];
        let mut rw = vec![0.0; n];
        let mut g = Array2::zeros(x.dim());
        for i in 0..n {
            for j in 0..n {
                if i == j && !diagonal {
                    continue;
                }
                let (v, w) = f(x.row(i).dot(&x.row(j)));
                total += v;
                rv[i] += v;
                rw[i] += w;
                g.row_mut(i).scaled_add(w, &x.row(j));
            }
        }
        (total, rv, rw, g)
    }

    #[test]
    fn matches_brute_force_across_tile_boundaries() {
        for &n in &[1usize, 5, TILE, TILE + 3, 2 * TILE + 17] {
            let x =
                Array2::from_shape_fn((n, 3), |(i, j)| ((i * 7 + j * 13) % 11) as f64 / 11.0 - 0.4);
            for diagonal in [true, false] {
                let req = PairRequest {
                    diagonal,
                    row_values: true,
                    row_weights: true,
                    ..Default::default()
                };
                let term =
                    |_: usize, _: usize, g: &mut [f64], f: &mut [f64], w: Option<&mut [f64]>| {
                        for (fv, gv) in f.iter_mut().zip(g.iter()) {
                            *fv = gv * gv + 0.5 * gv;
                        }
                        if let Some(w) = w {
                            for (wv, gv) in w.iter_mut().zip(g.iter()) {
                                *wv = 2.0 * gv + 0.5;
                            }
                        }
                    };
                let mut grad = Array2::zeros(x.dim());
                let out = pair_sums_into(x.view(), &term, req, Some(grad.view_mut()));
                let (total, rv, rw, g) = brute(&x, diagonal);
                assert!((out.total - total).abs() <= 1e-9 * total.abs().max(1.0));
                for i in 0..n {
                    assert!((out.row_values[i] - rv[i]).abs() < 1e-9);
                    assert!((out.row_weights[i] - rw[i]).abs() < 1e-9);
                }
                let diff = (&grad - &g).mapv(f64::abs).fold(0.0f64, |m, &v| m.max(v));
                assert!(diff < 1e-9, "n={n}");
            }
        }
    }

    /// `f32` rows through whichever products this CPU uses for the Gram tiles and
    /// `W X` (the unpacked one on AVX-512F, for the Gram tiles from the column
    /// copy), against the `f64` brute force, ragged tiles included.
    #[test]
    fn f32_gradient_matches_brute_force() {
        for &(n, d) in &[
            (5usize, 3usize),
            (70, 17),
            (TILE + 3, 40),
            (300, 100),
            (300, 600),
        ] {
            let x =
                Array2::from_shape_fn((n, d), |(i, j)| ((i * 7 + j * 13) % 11) as f64 / 11.0 - 0.4);
            let x32 = x.mapv(|v| v as f32);
            let x = x32.mapv(f64::from);
            let term = |_: usize, _: usize, g: &mut [f64], f: &mut [f64], w: Option<&mut [f64]>| {
                for (fv, gv) in f.iter_mut().zip(g.iter()) {
                    *fv = gv * gv + 0.5 * gv;
                }
                if let Some(w) = w {
                    for (wv, gv) in w.iter_mut().zip(g.iter()) {
                        *wv = 2.0 * gv + 0.5;
                    }
                }
            };
            let req = PairRequest {
                diagonal: true,
                ..Default::default()
            };
            let (total, _, _, want) = brute(&x, true);
            let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let mut buf = Vec::new();
            for rows in [
                x32.view().into(),
                PairRows::with_columns(x32.view(), &mut buf),
            ] {
                let mut grad = Array2::<f32>::zeros((n, d));
                let got = pair_sums_into(rows, &term, req, Some(grad.view_mut())).total;
                let diff = (&grad.mapv(f64::from) - &want)
                    .mapv(f64::abs)
                    .fold(0.0f64, |m, &v| m.max(v));
                assert!(diff <= 1e-5 * scale, "n={n} d={d}: {diff:e} of {scale:e}");
                assert!(
                    (got - total).abs() <= 1e-5 * total.abs(),
                    "n={n} d={d}: {got} vs {total}"
                );
            }
        }
    }

    #[test]
    fn log_rows_are_log_sum_exp_of_the_values() {
        for &n in &[3usize, TILE + 5, 2 * TILE + 1] {
            let x =
                Array2::from_shape_fn((n, 4), |(i, j)| ((i * 5 + j * 3) % 7) as f64 / 7.0 - 0.4);
            // Values far below f64's range: ln f = -2000 + 3 g.
            let term = |_: usize, _: usize, g: &mut [f64], f: &mut [f64], _: Option<&mut [f64]>| {
                for (fv, gv) in f.iter_mut().zip(g.iter()) {
                    *fv = -2000.0 + 3.0 * gv;
                }
            };
            let req = PairRequest {
                row_values: true,
                log_rows: true,
                ..Default::default()
            };
            let out = pair_sums(x.view(), &term, req);
            for i in 0..n {
                let want = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| (3.0 * x.row(i).dot(&x.row(j))).exp())
                    .sum::<f64>()
                    .ln()
                    - 2000.0;
                assert!((out.row_values[i] - want).abs() < 1e-12, "n={n} i={i}");
            }
        }
    }

    #[test]
    fn row_pass_matches_brute_force_rows() {
        let n = 2 * TILE + 17;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| ((i * 7 + j * 13) % 11) as f64 / 11.0 - 0.4);
        let term = |_: usize, _: usize, g: &mut [f64], f: &mut [f64], w: Option<&mut [f64]>| {
            for (fv, gv) in f.iter_mut().zip(g.iter()) {
                *fv = gv * gv + 0.5 * gv;
            }
            if let Some(w) = w {
                for (wv, gv) in w.iter_mut().zip(g.iter()) {
                    *wv = 2.0 * gv + 0.5;
                }
            }
        };
        for diagonal in [true, false] {
            let (_, rv, rw, g) = brute(&x, diagonal);
            for rows in [0..n, 0..1, 5..6, TILE - 3..2 * TILE + 2, n - 1..n] {
                let req = PairRequest {
                    diagonal,
                    row_values: true,
                    row_weights: true,
                    ..Default::default()
                };
                let mut grad = Array2::zeros((rows.len(), 3));
                let out = pair_rows_into(x.view(), rows.clone(), &term, req, Some(grad.view_mut()));
                let total: f64 = rv[rows.clone()].iter().sum();
                assert!((out.total - total).abs() <= 1e-9 * total.abs().max(1.0));
                for (a, i) in rows.clone().enumerate() {
                    assert!((out.row_values[a] - rv[i]).abs() < 1e-9);
                    assert!((out.row_weights[a] - rw[i]).abs() < 1e-9);
                }
                let want = g.slice(s![rows.clone(), ..]);
                let diff = (&grad - &want)
                    .mapv(f64::abs)
                    .fold(0.0f64, |m, &v| m.max(v));
                assert!(diff < 1e-9, "{rows:?}");
            }
        }
    }

    #[test]
    fn transpose_matches_indexing() {
        for (r, c) in [(1usize, 1usize), (3, 40), (17, 16), (33, 65)] {
            let a = Array2::from_shape_fn((r, c), |(i, j)| (i * 1000 + j) as f32);
            let mut t = Array2::zeros((c, r));
            transpose(
                a.as_slice().unwrap(),
                c,
                (r, c),
                t.as_slice_mut().unwrap(),
                r,
            );
            assert_eq!(t, a.t());
            // A block of a larger matrix, into a block of a larger one.
            let mut t = Array2::zeros((c + 2, r + 5));
            let a = Array2::from_shape_fn((r + 1, c + 3), |(i, j)| (i * 1000 + j) as f32);
            transpose_tile(&a, &mut t, (r, c));
            assert_eq!(t.slice(s![..c, ..r]), a.slice(s![..r, ..c]).t());
        }
    }

    /// The Gram tiles from the column-major copy, and `W_IJ X_J` from the transposed
    /// weight tile, pack the same values: every result is the same, bit for bit,
    /// with and without the diagonal, kept pairs included. Where the Gram tiles come
    /// from the unpacked product instead (`f32` on AVX-512F), whose sums over `k`
    /// are split differently from the GEMM's for large `d`, the same to within
    /// `f32` rounding.
    fn column_copy_gives_the_same_results<F: Real>() {
        let unpacked_gram = F::has_rows_product();
        let same = |a: &Array2<F>, b: &Array2<F>, what: &str| {
            if !unpacked_gram {
                return assert_eq!(a, b, "{what}");
            }
            let scale = a.iter().fold(0.0f64, |m, v| m.max(v.to_f64().abs()));
            let diff = a
                .iter()
                .zip(b)
                .fold(0.0f64, |m, (x, y)| m.max((x.to_f64() - y.to_f64()).abs()));
            assert!(diff <= 1e-5 * scale, "{what}: {diff:e} of {scale:e}");
        };
        let close = |a: f64, b: f64, what: &str| {
            if !unpacked_gram {
                return assert_eq!(a.to_bits(), b.to_bits(), "{what}");
            }
            assert!(
                (a - b).abs() <= 1e-5 * a.abs().max(1e-30),
                "{what}: {a} vs {b}"
            );
        };
        for &(n, d) in &[
            (1usize, 3usize),
            (5, 3),
            (70, 17),
            (TILE + 3, 9),
            (600, 40),
            (1100, 64),
            (300, 600),
        ] {
            let x = Array2::from_shape_fn((n, d), |(i, j)| {
                F::from_f64((((i * 7 + j * 13) % 11) as f64 / 11.0 - 0.4) / (d as f64).sqrt())
            });
            let term = |_: usize, _: usize, g: &mut [f64], f: &mut [f64], w: Option<&mut [f64]>| {
                for (fv, gv) in f.iter_mut().zip(g.iter()) {
                    *fv = (0.3 * gv).exp();
                }
                if let Some(w) = w {
                    for (wv, gv) in w.iter_mut().zip(g.iter()) {
                        *wv = (1.0 + gv).sin();
                    }
                }
            };
            let mut buf = Vec::new();
            let with = PairRows::with_columns(x.view(), &mut buf);
            assert_eq!(with.columns.is_some(), n > tile_rows(n), "n={n}");
            for diagonal in [true, false] {
                let req = PairRequest {
                    diagonal,
                    row_values: true,
                    row_weights: true,
                    ..Default::default()
                };
                let (mut g1, mut g2) = (Array2::<F>::zeros((n, d)), Array2::<F>::zeros((n, d)));
                let a = pair_sums_into(x.view(), &term, req, Some(g1.view_mut()));
                let b = pair_sums_into(with, &term, req, Some(g2.view_mut()));
                let what = format!("n={n} d={d}");
                close(a.total, b.total, &what);
                for (u, v) in [(a.row_values, b.row_values), (a.row_weights, b.row_weights)] {
                    u.iter().zip(&v).for_each(|(&p, &q)| close(p, q, &what));
                }
                same(&g1, &g2, &what);
            }
            let (mut k1, mut k2) = (KeptPairs::default(), KeptPairs::default());
            let req = PairRequest::default();
            let a = pair_sums_keep(x.view(), &term, req, &mut k1);
            let b = pair_sums_keep(with, &term, req, &mut k2);
            close(a.total, b.total, "kept");
            let reweigh = |_: usize, _: usize, v: &[f64], w: &mut [f64]| {
                w.iter_mut().zip(v).for_each(|(w, v)| *w *= v);
            };
            let (mut g1, mut g2) = (Array2::<F>::zeros((n, d)), Array2::<F>::zeros((n, d)));
            reweigh_into(x.view(), &k1, &reweigh, g1.view_mut());
            reweigh_into(with, &k2, &reweigh, g2.view_mut());
            same(&g1, &g2, &format!("kept n={n} d={d}"));
        }
    }

    #[test]
    fn column_copy_gives_the_same_results_f32() {
        column_copy_gives_the_same_results::<f32>();
    }

    #[test]
    fn column_copy_gives_the_same_results_f64() {
        column_copy_gives_the_same_results::<f64>();
    }

    #[test]
    fn column_copy_is_skipped_above_its_size_limit() {
        let x = Array2::<f32>::zeros((COLUMN_COPY_MAX / 64 + 1, 64));
        let mut buf = Vec::new();
        assert!(PairRows::with_columns(x.view(), &mut buf).columns.is_none());
        assert!(buf.capacity() == 0);
    }

    #[test]
    fn kept_pairs_count_the_tile_pairs() {
        for n in [
            1usize, 2, 31, 32, 33, 100, 128, 129, 255, 256, 257, 1000, 1024, 1400, 1500,
        ] {
            let tile = tile_rows(n);
            let tiles = n.div_ceil(tile);
            let rows = |t: usize| ((t + 1) * tile).min(n) - t * tile;
            let want: usize = (0..tiles)
                .flat_map(|i| (i..tiles).map(move |j| (i, j)))
                .map(|(i, j)| rows(i) * rows(j))
                .sum();
            assert_eq!(KeptPairs::pairs(n), want, "n={n}");
        }
        assert!(KeptPairs::fits(1024) && !KeptPairs::fits(2048));
    }

    #[test]
    fn second_pass_over_kept_pairs_is_bit_for_bit_a_full_pass() {
        // A value term, then weights made of the values and two per-row factors:
        // once through the kept pairs, once evaluated again with the Gram matrix.
        for &n in &[2usize, 5, 100, TILE + 3, 2 * TILE + 17] {
            let x = Array2::from_shape_fn((n, 7), |(i, j)| {
                (((i * 7 + j * 13) % 11) as f32 / 11.0 - 0.4) * (1.0 + (i % 3) as f32)
            });
            let factor: Vec<f64> = (0..n).map(|i| 1.0 + (i % 5) as f64 / 3.0).collect();
            let term = |_: usize, _: usize, g: &mut [f64], f: &mut [f64], w: Option<&mut [f64]>| {
                for (fv, gv) in f.iter_mut().zip(g.iter()) {
                    *fv = (0.3 * gv).exp();
                }
                if let Some(w) = w {
                    for (wv, gv) in w.iter_mut().zip(g.iter()) {
                        *wv = gv.sin();
                    }
                }
            };
            let reweigh = |i: usize, j0: usize, v: &[f64], w: &mut [f64]| {
                for (b, (wv, fv)) in w.iter_mut().zip(v).enumerate() {
                    *wv *= fv * (factor[i] + factor[j0 + b]);
                }
            };
            let full =
                |i: usize, j0: usize, g: &mut [f64], f: &mut [f64], w: Option<&mut [f64]>| {
                    let w = w.expect("weights");
                    term(i, j0, g, f, Some(&mut *w));
                    reweigh(i, j0, f, w);
                };
            let req = PairRequest {
                row_values: true,
                ..Default::default()
            };
            let mut kept = KeptPairs::default();
            // Twice, the second time into the blocks of the first.
            for _ in 0..2 {
                let first = pair_sums_keep(x.view(), &term, req, &mut kept);
                let plain = pair_sums(x.view(), &term, req);
                assert_eq!(first.total.to_bits(), plain.total.to_bits(), "n={n}");
                assert_eq!(first.row_values, plain.row_values, "n={n}");
                let mut g1 = Array2::<f32>::zeros(x.dim());
                reweigh_into(x.view(), &kept, &reweigh, g1.view_mut());
                let mut g2 = Array2::<f32>::zeros(x.dim());
                pair_sums_into(x.view(), &full, PairRequest::default(), Some(g2.view_mut()));
                assert_eq!(g1, g2, "n={n}");
                assert!(g1.iter().any(|v| *v != 0.0));
            }
        }
    }
}
