//! Where a sliced regularizer's directions come from: drawn afresh for every call
//! from `(seed, step)` (uniform on the sphere, the same stream on every rank and in
//! every backend), or fixed by the caller; and the call counter.

use super::MAX_SLICES;
use crate::error::{Error, Result, invalid};
use crate::numerics::{MAX_DIM, SPLITMIX_GAMMA, rescale_row, splitmix64};
use crate::real::Real;
use crate::workspace::{filled, zeroed};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};
use rand::{RngExt, SeedableRng, rngs::Xoshiro256PlusPlus};

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
