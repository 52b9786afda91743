//! The symmetric pass over all rows: only tile pairs `(I, J)` with `I <= J` are
//! visited (symmetry halves the Gram work), round by round of the schedule, the
//! pairs of a round in parallel; each adds to both tiles' accumulators, which
//! receive their contributions in the same order whatever the number of threads.

use super::config::{tile_range, tile_rows};
use super::kept::KeptPairs;
use super::layout::{Operands, PairRows, Side, transpose_tile};
use super::reduce::RowSums;
use super::schedule::schedule;
use super::tile::{TileBuffers, Weights, evaluate_tile, evaluate_upper_tile};
use super::{PairRequest, PairSums, PairTerm, Reweigh};
use crate::real::Real;
use ndarray::{ArrayViewMut2, Axis};
use rayon::prelude::*;
use std::ops::Range;
use std::sync::Mutex;

/// Per-tile accumulators, each touched by one tile pair at a time.
struct TileAcc<'a, F> {
    grad: Option<ArrayViewMut2<'a, F>>,
    row_values: RowSums,
    row_weights: RowSums,
}

/// One thread's buffers for visiting tile pairs, reused from pair to pair: the
/// tile's, and the tile pair's row sums for tile `I` (`[0]`) and tile `J` (`[1]`).
struct Scratch<F> {
    tile: TileBuffers<F>,
    values: [RowSums; 2],
    weights: [RowSums; 2],
}

/// The rows, what is asked, the tiles' accumulators, and where pairs are kept.
pub(super) struct Symmetric<'a, F> {
    ops: Operands<'a, F>,
    tile: usize,
    req: PairRequest,
    accs: Vec<Mutex<TileAcc<'a, F>>>,
    kept: Option<&'a KeptPairs>,
}

impl<'a, F: Real> Symmetric<'a, F> {
    pub fn new(
        rows: PairRows<'a, F>,
        req: PairRequest,
        mut grad: Option<ArrayViewMut2<'a, F>>,
        kept: Option<&'a KeptPairs>,
    ) -> Self {
        let n = rows.x.nrows();
        let tile = tile_rows(n);
        let tiles = n.div_ceil(tile);
        let contiguous = grad.as_ref().is_none_or(|g| g.is_standard_layout());
        let req = PairRequest {
            gradient: grad.is_some(),
            ..req
        };
        let accs = (0..tiles)
            .map(|t| {
                let rows = tile_range(t, tile, n).len();
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
        Symmetric {
            ops: Operands::new(rows, contiguous),
            tile,
            req,
            accs,
            kept,
        }
    }

    fn rows(&self, t: usize) -> Range<usize> {
        tile_range(t, self.tile, self.ops.x.nrows())
    }

    /// Where the term's weights are needed.
    fn weights(&self) -> Weights {
        Weights::of(&self.req, self.kept.is_some())
    }

    /// Visits the tile pair `(ti, tj)`, `ti <= tj`: evaluates the term on the Gram
    /// tile (keeping its values and weights, if asked; on a diagonal tile, where
    /// only the total and the weights are asked, on its upper triangle), then adds
    /// its contributions to both tiles' accumulators. Returns the pair's share of
    /// the total.
    fn visit<T: PairTerm + ?Sized>(
        &self,
        term: &T,
        scratch: &mut Scratch<F>,
        (ti, tj): (usize, usize),
    ) -> f64 {
        let (ri, rj) = (self.rows(ti), self.rows(tj));
        let (bi, bj) = (ri.len(), rj.len());
        self.ops
            .gram_tile(&mut scratch.tile.gram, ri.clone(), rj.clone());
        let Scratch {
            tile,
            values,
            weights,
        } = scratch;
        values
            .iter_mut()
            .chain(weights.iter_mut())
            .for_each(RowSums::clear);
        let diag = ti == tj;
        let req = &self.req;
        if diag && self.kept.is_none() && !(req.log_rows || req.row_values || req.row_weights) {
            let sum = evaluate_upper_tile(term, req, self.weights(), tile, (ri.start, bi));
            self.accumulate(scratch, (ti, tj));
            return sum;
        }
        let mut kept = self.kept.map(|k| k.block((ti, tj)));
        let sum = evaluate_tile(
            term,
            &self.req,
            self.weights(),
            tile,
            (ri.start, bi),
            (rj.start, bj),
            |a, f, w| {
                values[0].add_row(a, f);
                values[1].add_columns(f);
                if !w.is_empty() {
                    weights[0].add_row(a, w);
                    weights[1].add_columns(w);
                }
                if let Some(block) = kept.as_mut() {
                    let (kv, kw) = block.split_at_mut(bi * bj);
                    kv[a * bj..(a + 1) * bj].copy_from_slice(f);
                    kw[a * bj..(a + 1) * bj].copy_from_slice(w);
                }
            },
        );
        drop(kept);
        if self.req.gradient && !diag && self.ops.needs_transposes() {
            transpose_tile(&scratch.tile.w, &mut scratch.tile.wt, (bi, bj));
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
        let tile = &mut scratch.tile;
        let wrow = &mut tile.wrow[..bj];
        for a in 0..bi {
            wrow.copy_from_slice(&kw[a * bj..(a + 1) * bj]);
            reweigh.row(ri.start + a, rj.start, &kv[a * bj..(a + 1) * bj], wrow);
            for (wv, x) in tile.w.row_mut(a).iter_mut().zip(wrow.iter()) {
                *wv = F::from_f64(*x);
            }
        }
        drop(block);
        if ti != tj && self.ops.needs_transposes() {
            transpose_tile(&tile.w, &mut tile.wt, (bi, bj));
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
        let shape = (ri.len(), rj.len());
        let tile = &scratch.tile;
        // Lock order is fixed (ti <= tj) and within a round no tile is shared.
        let mut acc_i = self.accs[ti].lock().expect("tile accumulator poisoned");
        if let Some(g) = acc_i.grad.as_mut() {
            let side = Side::Rows {
                first_col: rj.start,
                wt: &tile.wt,
                diagonal: ti == tj,
            };
            self.ops.add_weighted(g, &tile.w, shape, side);
        }
        acc_i.row_values.merge(&scratch.values[0]);
        acc_i.row_weights.merge(&scratch.weights[0]);
        if ti == tj {
            return;
        }
        let mut acc_j = self.accs[tj].lock().expect("tile accumulator poisoned");
        if let Some(g) = acc_j.grad.as_mut() {
            let side = Side::Columns {
                first_row: ri.start,
            };
            self.ops.add_weighted(g, &tile.w, shape, side);
        }
        acc_j.row_values.merge(&scratch.values[1]);
        acc_j.row_weights.merge(&scratch.weights[1]);
    }

    /// Runs `work` on every tile pair, round by round (the pairs of a round in
    /// parallel), and returns the sum of what it returns, added in schedule order.
    fn run(&self, work: impl Fn(&mut Scratch<F>, (usize, usize)) -> f64 + Sync) -> f64 {
        let n = self.ops.x.nrows();
        let tiles = n.div_ceil(self.tile);
        let tile = self.tile.min(n);
        let (req, need_w) = (self.req, self.weights().wanted());
        let transposes = req.gradient && self.ops.needs_transposes();
        let new_scratch = || Scratch {
            tile: TileBuffers::new((tile, tile), need_w, transposes),
            values: std::array::from_fn(|_| RowSums::new(tile, req.row_values, req.log_rows)),
            weights: std::array::from_fn(|_| RowSums::new(tile, req.row_weights, false)),
        };
        // One scratch per thread of the pool (and one for the calling thread), made
        // when the thread first needs it and kept for every later round of this call.
        let scratches: Vec<Mutex<Option<Scratch<F>>>> = (0..=rayon::current_num_threads())
            .map(|_| Mutex::new(None))
            .collect();
        let visit = |pair: (usize, usize)| {
            let slot = rayon::current_thread_index().map_or(0, |t| t + 1);
            let mut scratch = scratches[slot].lock().expect("scratch poisoned");
            work(scratch.get_or_insert_with(new_scratch), pair)
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

    /// The symmetric pass: every tile pair visited once.
    pub fn sums<T: PairTerm + ?Sized>(self, term: &T) -> PairSums {
        let total = self.run(|scratch, pair| self.visit(term, scratch, pair));
        self.finish(total)
    }

    /// The second pass over `kept` (the pairs a first pass kept).
    pub fn reweigh<R: Reweigh + ?Sized>(self, kept: &KeptPairs, reweigh: &R) {
        self.run(|scratch, pair| self.revisit(reweigh, kept, scratch, pair));
    }
}
