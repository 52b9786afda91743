//! Sliced regularizers (SIGReg, SUSReg) and their integrated, deterministic twins.
//!
//! A sliced regularizer draws `M` random unit directions `a_m`, projects the batch
//! onto each, and averages the 1-D Epps–Pulley statistic of the projections against
//! a target characteristic function. Averaging over uniformly random directions
//! exactly — the twin — gives a deterministic kernel discrepancy computed by the
//! pairwise engine.

mod epps_pulley;
mod integrated;
mod sigreg;
mod susreg;

pub use epps_pulley::EppsPulleyGrid;
pub use integrated::{SigregIntegrated, SusregIntegrated};
pub use sigreg::Sigreg;
pub use susreg::Susreg;

use crate::error::{Error, Result, invalid};
use crate::numerics::{MAX_DIM, SPLITMIX_GAMMA, rescale_row, splitmix64};
use crate::real::Real;
use crate::shard::check_exchanged;
use crate::workspace::{filled, zeroed};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis, linalg::general_mat_mul, s};
use rand::{RngExt, SeedableRng, rngs::Xoshiro256PlusPlus};
use rayon::prelude::*;

/// The most slices a sliced regularizer accepts.
pub const MAX_SLICES: usize = 1 << 20;

/// Directions processed per projection GEMM (bounds the scratch to `N x CHUNK`).
const CHUNK: usize = 128;

/// Rows of the batch per projection GEMM.
const ROW_BLOCK: usize = 256;

/// Where a sliced regularizer's directions come from, and its call counter.
#[derive(Debug, Clone)]
pub(crate) struct Directions {
    source: Source,
    /// The number of draws made so far: call number `step` draws with it.
    step: u64,
}

#[derive(Debug, Clone)]
enum Source {
    /// Drawn afresh on every call from a generator seeded by `(seed, step)`.
    Fresh { slices: usize, seed: u64 },
    /// Fixed by the caller: `M x d`, rows of unit length.
    Fixed(Array2<f64>),
    /// Fixed by the caller but unusable: every call reports why.
    Unusable(Error),
}

/// One SplitMix64 step: decorrelates `(seed, step)` pairs into generator seeds.
fn mix(z: u64) -> u64 {
    splitmix64(z.wrapping_add(SPLITMIX_GAMMA))
}

/// `slices` directions uniform on `S^{d-1}` (standard normal rows, normalised), as
/// drawn for call number `step` of a regularizer seeded with `seed`;
/// `1 <= slices <= MAX_SLICES`, `2 <= d <= 2^24`, and an error if the `slices x d`
/// matrix cannot be allocated.
///
/// ```
/// let a = unisphere::sliced::directions(4, 3, 42, 0)?;
/// assert_eq!(a.dim(), (4, 3));
/// for row in a.rows() { assert!((row.dot(&row) - 1.0).abs() < 1e-12); }
/// assert_eq!(a, unisphere::sliced::directions(4, 3, 42, 0)?);
/// assert_ne!(a, unisphere::sliced::directions(4, 3, 42, 1)?);
/// assert!(unisphere::sliced::directions(4, 1, 42, 0).is_err());
/// # Ok::<(), unisphere::Error>(())
/// ```
pub fn directions(slices: usize, d: usize, seed: u64, step: u64) -> Result<Array2<f64>> {
    check_slices(slices)?;
    check_dim(d)?;
    let mut buf = Vec::<f64>::new();
    let mut a = zeroed(&mut buf, slices, d).map_err(|_| Error::NotRepresentable {
        what: format!("{slices} x {d} directions cannot be allocated; use fewer slices"),
    })?;
    draw(&mut a, seed, step);
    Array2::from_shape_vec((slices, d), buf).map_err(|e| Error::NotRepresentable {
        what: format!("{slices} x {d} directions: {e}"),
    })
}

/// Fills the rows of `a` with the directions of call `step` of generator `seed`:
/// standard normal rows normalised in `f64`, then rounded to `G`.
fn draw<G: Real>(a: &mut ArrayViewMut2<G>, seed: u64, step: u64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(seed ^ mix(step)));
    let mut row = Array1::<f64>::zeros(a.ncols());
    for mut out in a.rows_mut() {
        loop {
            row.mapv_inplace(|_| rng.sample(rand_distr::StandardNormal));
            let n = row.dot(&row).sqrt();
            if n > 0.0 {
                out.zip_mut_with(&row, |o, v| *o = G::from_f64(v / n));
                break;
            }
        }
    }
}

/// One call of a sliced regularizer as the device path computes it: the call's
/// directions, drawn (and the call counter advanced) exactly as the host path draws
/// them and rounded to `f32` as it rounds them for `f32` rows, the scale of the
/// projections `u = scale x . a`, the grid and the target at its knots.
#[cfg(feature = "burn")]
pub(crate) struct DeviceCall<'a> {
    /// `slices x d` directions, row-major.
    pub directions: Vec<f32>,
    /// The number of directions `M`.
    pub slices: usize,
    /// The projections' scale.
    pub scale: f64,
    /// The Epps–Pulley grid.
    pub grid: &'a EppsPulleyGrid,
    /// The target characteristic function at the grid's knots.
    pub psi: Vec<f64>,
}

#[cfg(feature = "burn")]
impl<'a> DeviceCall<'a> {
    /// The next call of `directions` on rows of dimension `d` (advancing its
    /// counter, as [`Directions::next`] does on the host path).
    fn draw(
        directions: &mut Directions,
        d: usize,
        scale: f64,
        grid: &'a EppsPulleyGrid,
        psi: Vec<f64>,
    ) -> Result<Self> {
        let mut buf = Vec::new();
        let slices = directions.next::<f32>(d, &mut buf)?.nrows();
        Ok(DeviceCall {
            directions: buf,
            slices,
            scale,
            grid,
            psi,
        })
    }
}

/// Checks a number of slices: `1 <= slices <= MAX_SLICES`.
fn check_slices(slices: usize) -> Result<()> {
    if slices == 0 || slices > MAX_SLICES {
        return Err(invalid(
            "slices",
            slices,
            &format!("between 1 and {MAX_SLICES} directions (LeJEPA: 256, SPHERE-JEPA: 1024)"),
        ));
    }
    Ok(())
}

/// Checks a dimension: `2 <= d <= 2^24`.
fn check_dim(d: usize) -> Result<()> {
    if !(2..=MAX_DIM).contains(&d) {
        return Err(invalid("d", d, "a dimension 2 <= d <= 2^24"));
    }
    Ok(())
}

impl Directions {
    pub fn fresh(slices: usize, seed: u64) -> Result<Self> {
        check_slices(slices)?;
        Ok(Directions {
            source: Source::Fresh { slices, seed },
            step: 0,
        })
    }

    /// Caller-given directions (one per row), checked and normalised: an error for
    /// an empty or too large matrix, fewer than 2 columns, or a zero, NaN or
    /// infinite row.
    pub fn fixed(a: ArrayView2<f64>) -> Result<Self> {
        let (m, d) = a.dim();
        if m == 0 || m > MAX_SLICES || !(2..=MAX_DIM).contains(&d) {
            return Err(Error::Shape {
                expected: format!(
                    "an M x d matrix of directions, 1 <= M <= {MAX_SLICES}, 2 <= d <= 2^24"
                ),
                found: format!("{m} x {d}"),
            });
        }
        let mut out = a.to_owned();
        let mut buf = vec![0.0f64; d];
        for (i, mut row) in out.rows_mut().into_iter().enumerate() {
            if let Some(j) = row.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFinite { row: i, col: j });
            }
            let (_, r) =
                rescale_row(&mut buf, row.iter().copied()).ok_or(Error::ZeroRow { row: i })?;
            row.iter_mut().zip(&buf).for_each(|(v, b)| *v = b / r);
        }
        Ok(Directions {
            source: Source::Fixed(out),
            step: 0,
        })
    }

    /// Directions whose every call is `error` (what [`Directions::fixed`] refused).
    pub fn unusable(error: Error) -> Self {
        Directions {
            source: Source::Unusable(error),
            step: 0,
        }
    }

    /// The number of draws made so far.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Sets the number of draws made so far.
    pub fn set_step(&mut self, step: u64) {
        self.step = step;
    }

    /// The number of directions per call (an error for unusable fixed directions).
    pub fn count(&self) -> Result<usize> {
        match &self.source {
            Source::Fresh { slices, .. } => Ok(*slices),
            Source::Fixed(a) => Ok(a.nrows()),
            Source::Unusable(e) => Err(e.clone()),
        }
    }

    /// The directions for this call in dimension `d`, written into `buf` (advancing
    /// the call counter).
    pub fn next<'b, G: Real>(
        &mut self,
        d: usize,
        buf: &'b mut Vec<G>,
    ) -> Result<ArrayView2<'b, G>> {
        let m = self.write(d, buf)?;
        self.step = self.step.wrapping_add(1);
        filled(buf, m, d)
    }

    /// The directions [`next`](Self::next) would give, without advancing the counter.
    pub fn peek<'b, G: Real>(&self, d: usize, buf: &'b mut Vec<G>) -> Result<ArrayView2<'b, G>> {
        let m = self.write(d, buf)?;
        filled(buf, m, d)
    }

    /// Writes the directions of the current call into `buf`; returns their number.
    fn write<G: Real>(&self, d: usize, buf: &mut Vec<G>) -> Result<usize> {
        Ok(match &self.source {
            Source::Fresh { slices, seed } => {
                check_dim(d)?;
                draw(&mut zeroed(buf, *slices, d)?, *seed, self.step);
                *slices
            }
            Source::Fixed(a) => {
                if a.ncols() != d {
                    return Err(Error::Shape {
                        expected: format!(
                            "{} columns (the fixed directions' dimension)",
                            a.ncols()
                        ),
                        found: format!("{d} columns"),
                    });
                }
                zeroed(buf, a.nrows(), d)?.zip_mut_with(a, |o, v| *o = G::from_f64(*v));
                a.nrows()
            }
            Source::Unusable(e) => return Err(e.clone()),
        })
    }

    pub fn describe(&self) -> String {
        match &self.source {
            Source::Fresh { slices, .. } => format!("M={slices}"),
            Source::Fixed(a) => format!("M={} fixed", a.nrows()),
            Source::Unusable(_) => "unusable fixed directions".to_string(),
        }
    }
}

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

/// Phase 1 of the sharded statistic: the characteristic-function sums of this
/// rank's projections `u_nm = scale * x_n . a_m`, `2 K` numbers per direction in
/// the layout of [`GlobalSums`].
pub(crate) fn sliced_sums<G: Real>(
    x: ArrayView2<G>,
    a: ArrayView2<G>,
    scale: f64,
    grid: &EppsPulleyGrid,
    proj: &mut Vec<G>,
) -> Result<Vec<f64>> {
    let n = x.nrows();
    let kk = grid.knots().len();
    let mut out = Vec::with_capacity(2 * kk * a.nrows());
    for ac in a.axis_chunks_iter(Axis(0), CHUNK) {
        project(x, ac, proj)?;
        let sums: Vec<Vec<f64>> = proj[..ac.nrows() * n]
            .par_chunks(n)
            .map(|p| {
                let mut cs = vec![0.0f64; 2 * kk];
                let (c, s) = cs.split_at_mut(kk);
                grid.add_sums(scaled(p, scale), c, s);
                cs
            })
            .collect();
        sums.iter().for_each(|cs| out.extend_from_slice(cs));
    }
    Ok(out)
}

/// The mean over directions of the Epps–Pulley statistic of `u_nm = scale * x_n . a_m`
/// against `psi`, and, when `grad` is given, `(scale / M) sum_m dEP_m/du_nm a_m`
/// added into it. With `global`, the rows `x` are one rank's and the statistic is
/// that of the whole batch, from its sums; the gradient is then with respect to
/// this rank's rows.
///
/// Projections are one GEMM per chunk of [`CHUNK`] directions (into `proj`); the
/// statistics of the directions in a chunk run in parallel (their derivatives into
/// `dproj`); the gradient is one more GEMM per chunk.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sliced_statistic<G: Real>(
    x: ArrayView2<G>,
    a: ArrayView2<G>,
    scale: f64,
    grid: &EppsPulleyGrid,
    psi: &[f64],
    global: Option<GlobalSums>,
    mut grad: Option<&mut ArrayViewMut2<G>>,
    proj: &mut Vec<G>,
    dproj: &mut Vec<G>,
) -> Result<f64> {
    let n = x.nrows();
    let m = a.nrows();
    let kk = grid.knots().len();
    let stat = |dir: usize, p: &[G], du: Option<&mut [f64]>| match &global {
        None => grid.statistic(scaled(p, scale), n, psi, du),
        Some(gs) => {
            let (c, s) = gs.sums[2 * kk * dir..2 * kk * (dir + 1)].split_at(kk);
            grid.statistic_of_sums(c, s, gs.rows, psi, scaled(p, scale), du)
        }
    };
    let mut total = 0.0;
    let mut start = 0;
    while start < m {
        let end = (start + CHUNK).min(m);
        let ac = a.slice(s![start..end, ..]);
        let rows = end - start;
        project(x, ac, proj)?;
        let p_slice = &proj[..rows * n];
        let stats: Vec<f64> = match grad.as_mut() {
            Some(g) => {
                zeroed(dproj, rows, n)?;
                let stats = p_slice
                    .par_chunks(n)
                    .zip(dproj[..rows * n].par_chunks_mut(n))
                    .enumerate()
                    .map_init(
                        || vec![0.0f64; n],
                        |du, (k, (p, out))| {
                            let ep = stat(start + k, p, Some(du));
                            for (o, gv) in out.iter_mut().zip(du.iter()) {
                                *o = G::from_f64(*gv);
                            }
                            ep
                        },
                    )
                    .collect();
                // G += (scale / M) D_c A_c with D_c = (D_c^T)^T.
                let dt = filled(dproj, rows, n)?;
                general_mat_mul(G::from_f64(scale / m as f64), &dt.t(), &ac, G::one(), *g);
                stats
            }
            None => p_slice
                .par_chunks(n)
                .enumerate()
                .map(|(k, p)| stat(start + k, p, None))
                .collect(),
        };
        total += stats.iter().sum::<f64>();
        start = end;
    }
    Ok(total / m as f64)
}
