//! One call's slicing: the projections of the rows onto the call's directions
//! (one GEMM per chunk of directions), the Epps–Pulley statistic of every
//! direction, its gradient (one more GEMM per chunk), and the characteristic
//! function sums ranks exchange in sharded evaluation.

use super::{Directions, EppsPulleyGrid};
use crate::error::{Error, Result, invalid};
use crate::real::Real;
use crate::shard::check_exchanged;
use crate::workspace::{Projections, filled, zeroed};
use ndarray::{ArrayView2, ArrayViewMut2, Axis, linalg::general_mat_mul};
use rayon::prelude::*;

/// Directions processed per projection GEMM (bounds the scratch to `N x CHUNK`).
const CHUNK: usize = 128;

/// Rows of the batch per projection GEMM.
const ROW_BLOCK: usize = 256;

/// The row count `N` of the whole batch from phase 1's reduced numbers (the
/// characteristic-function sums of `directions`' `M` directions, then `N`), checked:
/// `2 M K + 1` finite numbers, `N` a whole number `>= 2` and `>= local` (this
/// rank's rows).
pub(crate) fn global_rows(
    directions: &Directions,
    grid: &EppsPulleyGrid,
    exchanged: &[f64],
    local: usize,
) -> Result<usize> {
    let len = 2 * directions.count()? * grid.knots().len();
    check_exchanged(
        exchanged,
        len + 1,
        "the summed characteristic-function sums of every direction, then the row count",
    )?;
    let rows = exchanged[len];
    if rows.fract() != 0.0 || rows < local as f64 || rows > MAX_ROWS {
        return Err(invalid(
            "row count",
            rows,
            &format!(
                "the summed row counts of every rank, a whole number >= this rank's {local} rows"
            ),
        ));
    }
    if rows < 2.0 {
        return Err(Error::TooFewPoints {
            n: rows as usize,
            min: 2,
        });
    }
    Ok(rows as usize)
}

/// The largest row count carried exactly in an `f64` (`2^53`).
const MAX_ROWS: f64 = 9_007_199_254_740_992.0;

/// The characteristic-function sums of the whole batch, for the sharded statistic:
/// `sums[m]` holds, for direction `m`, `K` cosine sums then `K` sine sums (as
/// [`EppsPulleyGrid::add_sums`] forms them), and `rows` is the batch's row count.
pub(crate) struct GlobalSums<'a> {
    pub sums: &'a [f64],
    pub rows: usize,
}

/// The projections `P^T = A_c X^T` (one direction per row) into `proj`, in blocks of
/// [`ROW_BLOCK`] rows of `X` so that the GEMM's own packing scratch stays bounded.
fn project<G: Real>(x: ArrayView2<G>, ac: ArrayView2<G>, proj: &mut Vec<G>) -> Result<()> {
    let mut pt = zeroed(proj, ac.nrows(), x.nrows())?;
    for (xb, mut pb) in x
        .axis_chunks_iter(Axis(0), ROW_BLOCK)
        .zip(pt.axis_chunks_iter_mut(Axis(1), ROW_BLOCK))
    {
        general_mat_mul(G::one(), &ac, &xb.t(), G::zero(), &mut pb);
    }
    Ok(())
}

/// `u = scale * p` as `f64`.
fn scaled<G: Real>(p: &[G], scale: f64) -> impl Iterator<Item = f64> + Clone + '_ {
    p.iter().map(move |v| v.to_f64() * scale)
}

/// One call's slicing: the rows `x` (raw or unit, as the test wants), the call's
/// directions `a` (`M x d`), the projections' scale, the grid and the target
/// characteristic function `psi` at its knots.
pub(crate) struct Slicing<'a, G> {
    pub x: ArrayView2<'a, G>,
    pub a: ArrayView2<'a, G>,
    pub scale: f64,
    pub grid: &'a EppsPulleyGrid,
    pub psi: &'a [f64],
}

impl<G: Real> Slicing<'_, G> {
    /// Phase 1 of the sharded statistic: the characteristic-function sums of this
    /// rank's projections `u_nm = scale * x_n . a_m`, `2 K` numbers per direction
    /// in the layout of [`GlobalSums`].
    pub fn sums(&self, proj: &mut Vec<G>) -> Result<Vec<f64>> {
        let n = self.x.nrows();
        let knots = self.grid.knots().len();
        let mut out = Vec::with_capacity(2 * knots * self.a.nrows());
        for ac in self.a.axis_chunks_iter(Axis(0), CHUNK) {
            project(self.x, ac, proj)?;
            let sums: Vec<Vec<f64>> = proj[..ac.nrows() * n]
                .par_chunks(n)
                .map(|p| {
                    let mut cs = vec![0.0f64; 2 * knots];
                    let (c, s) = cs.split_at_mut(knots);
                    self.grid.add_sums(scaled(p, self.scale), c, s);
                    cs
                })
                .collect();
            sums.iter().for_each(|cs| out.extend_from_slice(cs));
        }
        Ok(out)
    }

    /// The mean over directions of the Epps–Pulley statistic of
    /// `u_nm = scale * x_n . a_m` against `psi`, and, when `grad` is given,
    /// `(scale / M) sum_m dEP_m/du_nm a_m` added into it. With `global`, the rows
    /// `x` are one rank's and the statistic is that of the whole batch, from its
    /// sums; the gradient is then with respect to this rank's rows.
    ///
    /// Projections are one GEMM per chunk of [`CHUNK`] directions; the statistics
    /// of the directions in a chunk run in parallel (their derivatives into
    /// `work.derivatives`); the gradient is one more GEMM per chunk.
    pub fn statistic(
        &self,
        global: Option<GlobalSums>,
        mut grad: Option<&mut ArrayViewMut2<G>>,
        work: &mut Projections<G>,
    ) -> Result<f64> {
        let m = self.a.nrows();
        let mut total = 0.0;
        for (c, ac) in self.a.axis_chunks_iter(Axis(0), CHUNK).enumerate() {
            project(self.x, ac, &mut work.values)?;
            let stats = match grad.as_mut() {
                Some(g) => self.chunk_with_gradient(c * CHUNK, ac, global.as_ref(), g, work)?,
                None => {
                    let p = &work.values[..ac.nrows() * self.x.nrows()];
                    p.par_chunks(self.x.nrows())
                        .enumerate()
                        .map(|(k, p)| self.direction(global.as_ref(), c * CHUNK + k, p, None))
                        .collect()
                }
            };
            total += stats.iter().sum::<f64>();
        }
        Ok(total / m as f64)
    }

    /// The statistics of the chunk of directions `ac` (the first is direction
    /// `first`), whose projections are in `work.values`, and their gradient
    /// `(scale / M) D_c A_c` added into `g`.
    fn chunk_with_gradient(
        &self,
        first: usize,
        ac: ArrayView2<G>,
        global: Option<&GlobalSums>,
        g: &mut ArrayViewMut2<G>,
        work: &mut Projections<G>,
    ) -> Result<Vec<f64>> {
        let (n, rows) = (self.x.nrows(), ac.nrows());
        zeroed(&mut work.derivatives, rows, n)?;
        let stats = work.values[..rows * n]
            .par_chunks(n)
            .zip(work.derivatives[..rows * n].par_chunks_mut(n))
            .enumerate()
            .map_init(
                || vec![0.0f64; n],
                |du, (k, (p, out))| {
                    let ep = self.direction(global, first + k, p, Some(du));
                    for (o, gv) in out.iter_mut().zip(du.iter()) {
                        *o = G::from_f64(*gv);
                    }
                    ep
                },
            )
            .collect();
        // G += (scale / M) D_c A_c with D_c = (D_c^T)^T.
        let dt = filled(&work.derivatives, rows, n)?;
        let factor = G::from_f64(self.scale / self.a.nrows() as f64);
        general_mat_mul(factor, &dt.t(), &ac, G::one(), g);
        Ok(stats)
    }

    /// Direction `dir`'s statistic from its projections `p` (and their derivatives
    /// into `du`, if given): of this batch, or with `global`, of the whole batch.
    fn direction(
        &self,
        global: Option<&GlobalSums>,
        dir: usize,
        p: &[G],
        du: Option<&mut [f64]>,
    ) -> f64 {
        let u = scaled(p, self.scale);
        match global {
            None => self.grid.statistic(u, self.x.nrows(), self.psi, du),
            Some(gs) => {
                let knots = self.grid.knots().len();
                let (c, s) = gs.sums[2 * knots * dir..2 * knots * (dir + 1)].split_at(knots);
                self.grid.statistic_of_sums(c, s, gs.rows, self.psi, u, du)
            }
        }
    }
}
