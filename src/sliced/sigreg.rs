//! SIGReg (LeJEPA): sliced Epps–Pulley test of raw embeddings against `N(0, I)`.

use super::{Directions, EppsPulleyGrid, sliced_statistic};
use crate::error::Result;
use crate::real::Real;
use crate::regularizer::Objective;
use crate::rows::{check_finite_output, check_input};
use ndarray::{Array2, ArrayView2, AsArray, Ix2};

/// SIGReg, exactly as LeJEPA's code: `M` directions uniform on the sphere, the
/// Epps–Pulley statistic of each projection `u_n = a_m . z_n` of the raw (not
/// normalised) embeddings against `psi(t) = exp(-t^2/2)`, averaged over directions.
///
/// Directions are drawn afresh on every call from the regularizer's own generator,
/// seeded with `seed` and advanced by a call counter (LeJEPA's global step), so two
/// instances with the same seed give the same sequence. For exactly Gaussian data
/// the expected value is `sum_k omega_k (1 - exp(-t_k^2))` (~1.0525 on the default
/// grid). LeJEPA uses 256 slices.
///
/// ```
/// use unisphere::{Regularizer, Sigreg, ndarray::Array2};
/// let mut reg = Sigreg::new(256, 0)?;
/// let z = Array2::from_shape_fn((64, 8), |(i, j)| ((i * 13 + j * 7) % 17) as f32 / 4.0 - 2.0);
/// let (first, grad) = reg.loss_and_grad(z.view())?;
/// let second = reg.loss(z.view())?; // fresh directions: a different value
/// assert!(first != second && grad.dim() == (64, 8));
/// # Ok::<(), unisphere::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Sigreg {
    directions: Directions,
    grid: EppsPulleyGrid,
}

impl Sigreg {
    /// `slices` fresh directions per call from a generator seeded with `seed`.
    pub fn new(slices: usize, seed: u64) -> Result<Self> {
        Ok(Sigreg {
            directions: Directions::fresh(slices, seed)?,
            grid: EppsPulleyGrid::default(),
        })
    }

    /// The Epps–Pulley grid: `knots` (odd, >= 3) points on `[0, t_max]`.
    pub fn with_grid(mut self, t_max: f64, knots: usize) -> Result<Self> {
        self.grid = EppsPulleyGrid::new(t_max, knots)?;
        Ok(self)
    }

    /// Fixed directions, one per row (`M x d`, as `&Array2<f64>` or a view),
    /// normalised inside; the call counter no longer matters. A matrix with a zero,
    /// NaN or infinite row, or of the wrong width, makes every call return `Err`.
    pub fn with_directions<'a>(mut self, a: impl AsArray<'a, f64, Ix2>) -> Self {
        self.directions = Directions::fixed(a.into());
        self
    }

    /// The grid.
    pub fn grid(&self) -> &EppsPulleyGrid {
        &self.grid
    }
}

impl Objective for Sigreg {
    fn label(&self) -> String {
        format!("SIGReg[{}]", self.directions.describe())
    }

    fn evaluate<F: Real>(
        &mut self,
        z: ArrayView2<F>,
        gradient: bool,
    ) -> Result<(f64, Option<Array2<F>>)> {
        check_input(&z, 2, None)?;
        let a = self.directions.next::<F>(z.ncols())?;
        let psi = self.grid.gaussian_target();
        let (loss, grad) = sliced_statistic(z, &a, 1.0, &self.grid, &psi, gradient);
        if let Some(g) = &grad {
            check_finite_output(g)?;
        }
        Ok((loss, grad))
    }
}
