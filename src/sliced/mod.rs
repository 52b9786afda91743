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
use ndarray::{Array2, ArrayView2, linalg::general_mat_mul, s};
use rand::{RngExt, SeedableRng, rngs::Xoshiro256PlusPlus};
use rayon::prelude::*;

/// The most slices a sliced regularizer accepts.
pub const MAX_SLICES: usize = 1 << 20;

/// Directions processed per projection GEMM (bounds the scratch to `N x CHUNK`).
const CHUNK: usize = 128;

/// Where a sliced regularizer's directions come from.
#[derive(Debug, Clone)]
pub(crate) enum Directions {
    /// Drawn afresh on every call from a generator seeded by `(seed, step)`.
    Fresh { slices: usize, seed: u64, step: u64 },
    /// Fixed by the caller: `M x d`, rows of unit length; or why the caller's
    /// matrix is not usable (reported by every call).
    Fixed(std::result::Result<Array2<f64>, Error>),
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
    if !(2..=MAX_DIM).contains(&d) {
        return Err(invalid("d", d, "a dimension 2 <= d <= 2^24"));
    }
    let mut buf = Vec::<f64>::new();
    buf.try_reserve_exact(slices * d)
        .map_err(|_| Error::NotRepresentable {
            what: format!("{slices} x {d} directions cannot be allocated; use fewer slices"),
        })?;
    buf.resize(slices * d, 0.0);
    let mut a = Array2::from_shape_vec((slices, d), buf).map_err(|e| Error::NotRepresentable {
        what: format!("{slices} x {d} directions: {e}"),
    })?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(seed ^ mix(step)));
    for mut row in a.rows_mut() {
        loop {
            row.mapv_inplace(|_| rng.sample(rand_distr::StandardNormal));
            let n = row.dot(&row).sqrt();
            if n > 0.0 {
                row /= n;
                break;
            }
        }
    }
    Ok(a)
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

impl Directions {
    pub fn fresh(slices: usize, seed: u64) -> Result<Self> {
        check_slices(slices)?;
        Ok(Directions::Fresh {
            slices,
            seed,
            step: 0,
        })
    }

    /// Checks and normalises caller-given directions (one per row); a matrix that is
    /// not usable is kept as the error that every call will return.
    pub fn fixed(a: ArrayView2<f64>) -> Self {
        Directions::Fixed(Directions::checked(a))
    }

    fn checked(a: ArrayView2<f64>) -> Result<Array2<f64>> {
        let (m, d) = a.dim();
        if m == 0 || m > MAX_SLICES || d < 2 {
            return Err(Error::Shape {
                expected: format!("an M x d matrix of directions, 1 <= M <= {MAX_SLICES}, d >= 2"),
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
        Ok(out)
    }

    /// The directions for this call (advancing the call counter) in dimension `d`.
    pub fn next<F: Real>(&mut self, d: usize) -> Result<Array2<F>> {
        let a = match self {
            Directions::Fresh { slices, seed, step } => {
                let a = directions(*slices, d, *seed, *step)?;
                *step += 1;
                a
            }
            Directions::Fixed(checked) => {
                let a = checked.as_ref().map_err(Clone::clone)?;
                if a.ncols() != d {
                    return Err(Error::Shape {
                        expected: format!(
                            "{} columns (the fixed directions' dimension)",
                            a.ncols()
                        ),
                        found: format!("{d} columns"),
                    });
                }
                a.clone()
            }
        };
        Ok(a.mapv(F::from_f64))
    }

    pub fn describe(&self) -> String {
        match self {
            Directions::Fresh { slices, .. } => format!("M={slices}"),
            Directions::Fixed(Ok(a)) => format!("M={} fixed", a.nrows()),
            Directions::Fixed(Err(_)) => "invalid fixed directions".into(),
        }
    }
}

/// The mean over directions of the Epps–Pulley statistic of `u_nm = scale * x_n . a_m`
/// against `psi`, and, if asked, its gradient with respect to `x`:
/// `(scale / M) sum_m dEP_m/du_nm a_m`.
///
/// Projections are one GEMM per chunk of [`CHUNK`] directions; the statistics of the
/// directions in a chunk run in parallel; the gradient is one more GEMM per chunk.
pub(crate) fn sliced_statistic<F: Real>(
    x: ArrayView2<F>,
    a: &Array2<F>,
    scale: f64,
    grid: &EppsPulleyGrid,
    psi: &[f64],
    gradient: bool,
) -> (f64, Option<Array2<F>>) {
    let (n, d) = x.dim();
    let m = a.nrows();
    let mut grad = gradient.then(|| Array2::<F>::zeros((n, d)));
    let mut total = 0.0;
    let mut start = 0;
    while start < m {
        let end = (start + CHUNK).min(m);
        let ac = a.slice(s![start..end, ..]);
        let rows = end - start;
        // Projections, one direction per row: P^T = A_c X^T (rows x N).
        let mut pt = Array2::<F>::zeros((rows, n));
        general_mat_mul(F::one(), &ac, &x.t(), F::zero(), &mut pt);
        let mut dt = if gradient {
            Array2::<F>::zeros((rows, n))
        } else {
            Array2::<F>::zeros((rows, 0))
        };
        let p_slice = pt.as_slice().expect("standard layout");
        let stats: Vec<f64> = if gradient {
            let d_slice = dt.as_slice_mut().expect("standard layout");
            p_slice
                .par_chunks(n)
                .zip(d_slice.par_chunks_mut(n))
                .map(|(p, out)| {
                    let mut g = vec![0.0f64; n];
                    let u = p.iter().map(|v| v.to_f64() * scale);
                    let ep = grid.statistic(u, n, psi, Some(&mut g));
                    for (o, gv) in out.iter_mut().zip(&g) {
                        *o = F::from_f64(*gv);
                    }
                    ep
                })
                .collect()
        } else {
            p_slice
                .par_chunks(n)
                .map(|p| grid.statistic(p.iter().map(|v| v.to_f64() * scale), n, psi, None))
                .collect()
        };
        total += stats.iter().sum::<f64>();
        if let Some(g) = grad.as_mut() {
            // G += (scale / M) D_c A_c with D_c = (D_c^T)^T.
            general_mat_mul(F::from_f64(scale / m as f64), &dt.t(), &ac, F::one(), g);
        }
        start = end;
    }
    (total / m as f64, grad)
}
