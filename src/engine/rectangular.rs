//! The rectangular pass: a range of rows (one rank's, in sharded evaluation)
//! against all rows. Each tile of the range visits every column tile in order, and
//! the range's tiles run in parallel with their own accumulators, so the result is
//! bit-for-bit the same for any number of threads. Work is `O(|rows| N d)`, memory
//! a few tiles per thread.

use super::config::{tile_range, tile_rows};
use super::layout::{Operands, PairRows, Side, transpose_tile};
use super::reduce::RowSums;
use super::tile::{TileBuffers, Weights, evaluate_tile};
use super::{PairRequest, PairSums, PairTerm};
use crate::real::Real;
use ndarray::{ArrayViewMut2, Axis};
use rayon::prelude::*;
use std::ops::Range;

/// One row tile's share: its sum, and its rows' sums of values and of weights.
type TileShare = (f64, RowSums, RowSums);

/// The rows `local` of `rows` against all of them; `grad` (if given) has the rows
/// of `local` and receives `G_i = sum_j w_ij x_j` in its row `i - local.start`.
pub(super) fn local_sums<F: Real, T: PairTerm + ?Sized>(
    rows: PairRows<'_, F>,
    local: Range<usize>,
    term: &T,
    req: PairRequest,
    mut grad: Option<ArrayViewMut2<F>>,
) -> PairSums {
    let n = rows.x.nrows();
    let tile = tile_rows(n);
    let contiguous = grad.as_ref().is_none_or(|g| g.is_standard_layout());
    let ops = Operands::new(rows, contiguous);
    let req = PairRequest {
        gradient: grad.is_some(),
        ..req
    };
    let starts: Vec<usize> = local.clone().step_by(tile).collect();
    let grads: Vec<Option<ArrayViewMut2<F>>> = match grad.as_mut() {
        Some(g) => g.axis_chunks_iter_mut(Axis(0), tile).map(Some).collect(),
        None => starts.iter().map(|_| None).collect(),
    };
    let tasks: Vec<(usize, Option<ArrayViewMut2<F>>)> = starts.into_iter().zip(grads).collect();
    let visit = |(start, g): (usize, Option<ArrayViewMut2<F>>)| {
        let ri = start..(start + tile).min(local.end);
        row_tile(&ops, term, &req, tile, ri, g)
    };
    let parts: Vec<TileShare> = if tasks.len() == 1 {
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

/// The rows `ri` against every column tile, in order.
fn row_tile<F: Real, T: PairTerm + ?Sized>(
    ops: &Operands<'_, F>,
    term: &T,
    req: &PairRequest,
    tile: usize,
    ri: Range<usize>,
    mut g: Option<ArrayViewMut2<F>>,
) -> TileShare {
    let n = ops.x.nrows();
    let bi = ri.len();
    let wanted = Weights::of(req, false);
    let transposes = req.gradient && ops.needs_transposes();
    let cols = tile.min(n);
    let mut buf = TileBuffers::new((bi, cols), wanted.wanted(), transposes);
    let mut values = RowSums::new(bi, req.row_values, req.log_rows);
    let mut weights = RowSums::new(bi, req.row_weights, false);
    let mut sum = 0.0f64;
    for tj in 0..n.div_ceil(tile) {
        let rj = tile_range(tj, tile, n);
        let bj = rj.len();
        ops.gram_tile(&mut buf.gram, ri.clone(), rj.clone());
        sum += evaluate_tile(
            term,
            req,
            wanted,
            &mut buf,
            (ri.start, bi),
            (rj.start, bj),
            |a, f, w| {
                values.add_row(a, f);
                weights.add_row(a, w);
            },
        );
        if let Some(g) = g.as_mut() {
            if transposes {
                transpose_tile(&buf.w, &mut buf.wt, (bi, bj));
            }
            let side = Side::Rows {
                first_col: rj.start,
                wt: &buf.wt,
                diagonal: false,
            };
            ops.add_weighted(g, &buf.w, (bi, bj), side);
        }
    }
    (sum, values, weights)
}
