//! The pairwise engine: the one place where `O(N^2)` work happens.
//!
//! Given rows `x_1..x_N` and a symmetric pair term `(i, j, g_ij) -> (f_ij, w_ij)`
//! with `g_ij = x_i . x_j`, it returns `sum_{i,j} f_ij`, optionally the row sums of
//! `f` and `w`, and the product `G = W X` (`G_i = sum_j w_ij x_j`). The term is
//! evaluated a tile row at a time ([`PairTerm`]), so that evaluations can overlap.
//!
//! The rows are cut into tiles of [`TILE`] rows. Only tile pairs `(I, J)` with
//! `I <= J` are visited (symmetry halves the Gram work); each visit computes the
//! Gram tile `X_I X_J^T` with a GEMM, evaluates the term on it, and accumulates
//! `G_I += W_IJ X_J` and `G_J += W_IJ^T X_I`. Memory is the input, the output and a
//! few tiles per thread: no `N x N` matrix is ever held.
//!
//! Tile pairs are scheduled in rounds of a round-robin tournament, so the pairs of a
//! round touch disjoint tiles and run in parallel (rayon) without sharing any
//! accumulator. Each tile receives its contributions in the same order whatever the
//! number of threads, so results are bit-for-bit identical for any thread count.

use crate::real::Real;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, linalg::general_mat_mul, s};
use rayon::prelude::*;
use std::sync::Mutex;

/// Rows per tile.
pub(crate) const TILE: usize = 256;

/// What the engine should compute besides the total.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PairRequest {
    /// Include the pairs `(i, i)`.
    pub diagonal: bool,
    /// Compute `G = W X`.
    pub gradient: bool,
    /// Compute `sum_j f_ij` for every row.
    pub row_values: bool,
    /// Compute `sum_j w_ij` for every row.
    pub row_weights: bool,
}

/// What the engine returns.
#[derive(Debug, Clone)]
pub(crate) struct PairSums<F> {
    /// `sum_{i,j} f_ij` over ordered pairs.
    pub total: f64,
    /// `sum_j f_ij` per row (empty unless requested).
    pub row_values: Vec<f64>,
    /// `sum_j w_ij` per row (empty unless requested).
    pub row_weights: Vec<f64>,
    /// `G = W X` (present only if requested).
    pub grad: Option<Array2<F>>,
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

/// Per-tile accumulators, each touched by one tile pair at a time.
struct TileAcc<'a, F> {
    grad: Option<ArrayViewMut2<'a, F>>,
    row_values: Vec<f64>,
    row_weights: Vec<f64>,
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

/// Runs the engine on the rows `x` with the symmetric pair term `term`; weights are
/// asked of the term only when a gradient or row weights are requested.
pub(crate) fn pair_sums<F, T>(x: ArrayView2<F>, term: &T, req: PairRequest) -> PairSums<F>
where
    F: Real,
    T: PairTerm + ?Sized,
{
    let (n, d) = x.dim();
    let tiles = n.div_ceil(TILE);
    let start = |t: usize| t * TILE;
    let end = |t: usize| ((t + 1) * TILE).min(n);
    let need_w = req.gradient || req.row_weights;

    let mut grad = req.gradient.then(|| Array2::<F>::zeros((n, d)));
    let accs: Vec<Mutex<TileAcc<F>>> = {
        let mut views: Vec<Option<ArrayViewMut2<F>>> = match grad.as_mut() {
            Some(g) => g.axis_chunks_iter_mut(Axis(0), TILE).map(Some).collect(),
            None => (0..tiles).map(|_| None).collect(),
        };
        (0..tiles)
            .map(|t| {
                let rows = end(t) - start(t);
                Mutex::new(TileAcc {
                    grad: views[t].take(),
                    row_values: vec![0.0; if req.row_values { rows } else { 0 }],
                    row_weights: vec![0.0; if req.row_weights { rows } else { 0 }],
                })
            })
            .collect()
    };

    let visit = |&(ti, tj): &(usize, usize)| -> f64 {
        let (i0, j0) = (start(ti), start(tj));
        let xi = x.slice(s![i0..end(ti), ..]);
        let xj = x.slice(s![j0..end(tj), ..]);
        let (bi, bj) = (xi.nrows(), xj.nrows());
        let mut gram = Array2::<F>::zeros((bi, bj));
        general_mat_mul(F::one(), &xi, &xj.t(), F::zero(), &mut gram);
        let mut w = if need_w {
            Array2::<F>::zeros((bi, bj))
        } else {
            Array2::<F>::zeros((0, 0))
        };
        let mut rv_i = vec![0.0; if req.row_values { bi } else { 0 }];
        let mut rv_j = vec![0.0; if req.row_values { bj } else { 0 }];
        let mut rw_i = vec![0.0; if req.row_weights { bi } else { 0 }];
        let mut rw_j = vec![0.0; if req.row_weights { bj } else { 0 }];
        let diag = ti == tj;
        let mut sum = 0.0f64;
        let (mut gbuf, mut fbuf, mut wbuf) = (vec![0.0f64; bj], vec![0.0f64; bj], vec![0.0f64; bj]);
        for a in 0..bi {
            for (gv, x) in gbuf.iter_mut().zip(gram.row(a)) {
                *gv = x.to_f64();
            }
            term.row(
                i0 + a,
                j0,
                &mut gbuf,
                &mut fbuf,
                need_w.then_some(&mut wbuf[..]),
            );
            if diag && !req.diagonal {
                fbuf[a] = 0.0;
                wbuf[a] = 0.0;
            }
            let row_sum: f64 = fbuf.iter().sum();
            sum += row_sum;
            if req.row_values {
                rv_i[a] = row_sum;
                add_into(&mut rv_j, &fbuf);
            }
            if need_w {
                for (wv, x) in w.row_mut(a).iter_mut().zip(&wbuf) {
                    *wv = F::from_f64(*x);
                }
            }
            if req.row_weights {
                rw_i[a] = wbuf.iter().sum();
                add_into(&mut rw_j, &wbuf);
            }
        }
        // Lock order is fixed (ti <= tj) and within a round no tile is shared.
        let mut acc_i = accs[ti].lock().expect("tile accumulator poisoned");
        if diag {
            if let Some(g) = acc_i.grad.as_mut() {
                general_mat_mul(F::one(), &w, &xj, F::one(), g);
            }
            add_into(&mut acc_i.row_values, &rv_i);
            add_into(&mut acc_i.row_weights, &rw_i);
            sum
        } else {
            let mut acc_j = accs[tj].lock().expect("tile accumulator poisoned");
            if let Some(g) = acc_i.grad.as_mut() {
                general_mat_mul(F::one(), &w, &xj, F::one(), g);
            }
            if let Some(g) = acc_j.grad.as_mut() {
                general_mat_mul(F::one(), &w.t(), &xi, F::one(), g);
            }
            add_into(&mut acc_i.row_values, &rv_i);
            add_into(&mut acc_j.row_values, &rv_j);
            add_into(&mut acc_i.row_weights, &rw_i);
            add_into(&mut acc_j.row_weights, &rw_j);
            2.0 * sum
        }
    };

    let mut total = 0.0f64;
    for round in schedule(tiles) {
        let sums: Vec<f64> = round.par_iter().map(visit).collect();
        total += sums.iter().sum::<f64>();
    }

    let mut row_values = Vec::new();
    let mut row_weights = Vec::new();
    for acc in accs {
        let acc = acc.into_inner().expect("tile accumulator poisoned");
        row_values.extend_from_slice(&acc.row_values);
        row_weights.extend_from_slice(&acc.row_weights);
    }
    PairSums {
        total,
        row_values,
        row_weights,
        grad,
    }
}

fn add_into(acc: &mut [f64], v: &[f64]) {
    for (a, b) in acc.iter_mut().zip(v) {
        *a += b;
    }
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
                    gradient: true,
                    row_values: true,
                    row_weights: true,
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
                let out = pair_sums(x.view(), &term, req);
                let (total, rv, rw, g) = brute(&x, diagonal);
                assert!((out.total - total).abs() <= 1e-9 * total.abs().max(1.0));
                for i in 0..n {
                    assert!((out.row_values[i] - rv[i]).abs() < 1e-9);
                    assert!((out.row_weights[i] - rw[i]).abs() < 1e-9);
                }
                let diff = (&out.grad.unwrap() - &g)
                    .mapv(f64::abs)
                    .fold(0.0f64, |m, &v| m.max(v));
                assert!(diff < 1e-9, "n={n}");
            }
        }
    }
}
