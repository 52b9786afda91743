//! SUSReg (SPHERE-JEPA): sliced Epps–Pulley test of normalised embeddings against
//! the scaled marginal of the uniform distribution on the sphere.

use super::{Directions, EppsPulleyGrid, sliced_statistic};
use crate::error::Result;
use crate::real::Real;
use crate::regularizer::Objective;
use crate::rows::{SphereRows, check_input};
use crate::special::omega;
use ndarray::{Array2, ArrayView2, AsArray, Ix2};

/// Above this dimension SPHERE-JEPA swaps the exact target for `N(0, 1)`.
pub const GAUSSIAN_TARGET_ABOVE: usize = 256;

/// The target characteristic function of SUSReg on the grid: `Omega_d(sqrt(d) t)`,
/// or `exp(-t^2/2)` where `d > 256` and the exact target was not asked for.
pub(crate) fn susreg_target(grid: &EppsPulleyGrid, d: usize, exact: Option<bool>) -> Vec<f64> {
    if !exact.unwrap_or(d <= GAUSSIAN_TARGET_ABOVE) {
        return grid.gaussian_target();
    }
    let sd = (d as f64).sqrt();
    grid.knots()
        .iter()
        .map(|&t| omega(d as f64, sd * t))
        .collect()
}

/// SUSReg, as SPHERE-JEPA defines it: rows are normalised onto the sphere, projected
/// on `M` uniformly random directions and scaled by `sqrt(d)`, and each projection's
/// Epps–Pulley statistic is taken against the characteristic function of a scaled
/// uniform marginal, `psi(t) = Omega_d(sqrt(d) t)`, `Omega_d(r) = 0F1(; d/2; -r^2/4)`.
/// For `d > 256` the paper swaps in `N(0, 1)`; [`Susreg::with_exact_target`] keeps
/// the exact target. SPHERE-JEPA uses 1024 slices.
///
/// ```
/// use unisphere::{Regularizer, Susreg, ndarray::Array2};
/// let mut reg = Susreg::new(1024, 7)?;
/// let z = Array2::from_shape_fn((32, 16), |(i, j)| ((i * 5 + j * 3) % 7) as f64 - 3.0);
/// let (loss, grad) = reg.loss_and_grad(z.view())?;
/// assert!(loss > 0.0 && grad.dim() == (32, 16));
/// # Ok::<(), unisphere::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Susreg {
    directions: Directions,
    grid: EppsPulleyGrid,
    exact_target: Option<bool>,
}

impl Susreg {
    /// `slices` fresh directions per call from a generator seeded with `seed`.
    pub fn new(slices: usize, seed: u64) -> Result<Self> {
        Ok(Susreg {
            directions: Directions::fresh(slices, seed)?,
            grid: EppsPulleyGrid::default(),
            exact_target: None,
        })
    }

    /// The Epps–Pulley grid: `knots` (odd, >= 3) points on `[0, t_max]`.
    pub fn with_grid(mut self, t_max: f64, knots: usize) -> Result<Self> {
        self.grid = EppsPulleyGrid::new(t_max, knots)?;
        Ok(self)
    }

    /// Fixed directions, one per row (`M x d`, as `&Array2<f64>` or a view),
    /// normalised inside. A matrix with a zero, NaN or infinite row, or of the wrong
    /// width, makes every call return `Err`.
    pub fn with_directions<'a>(mut self, a: impl AsArray<'a, f64, Ix2>) -> Self {
        self.directions = Directions::fixed(a.into());
        self
    }

    /// `true`: always the exact target `Omega_d(sqrt(d) t)`; `false`: always
    /// `exp(-t^2/2)`. By default the paper's rule (exact for `d <= 256`).
    pub fn with_exact_target(mut self, exact: bool) -> Self {
        self.exact_target = Some(exact);
        self
    }

    /// The grid.
    pub fn grid(&self) -> &EppsPulleyGrid {
        &self.grid
    }
}

impl Objective for Susreg {
    fn label(&self) -> String {
        format!("SUSReg[{}]", self.directions.describe())
    }

    fn evaluate<F: Real>(
        &mut self,
        z: ArrayView2<F>,
        gradient: bool,
    ) -> Result<(f64, Option<Array2<F>>)> {
        check_input(&z, 2, None)?;
        let d = z.ncols();
        let rows = SphereRows::new(&z)?;
        let a = self.directions.next::<F>(d)?;
        let psi = susreg_target(&self.grid, d, self.exact_target);
        let (loss, grad) = sliced_statistic(
            rows.x.view(),
            &a,
            (d as f64).sqrt(),
            &self.grid,
            &psi,
            gradient,
        );
        let grad = match grad {
            Some(g) => Some(rows.chain(&g, 1.0)?),
            None => None,
        };
        Ok((loss, grad))
    }
}
