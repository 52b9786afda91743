//! SUSReg (SPHERE-JEPA): sliced Epps–Pulley test of normalised embeddings against
//! the scaled marginal of the uniform distribution on the sphere.

use super::EppsPulleyGrid;
use super::objective::{Projection, Sliced};
use crate::special::omega;

/// Above this dimension SPHERE-JEPA swaps the exact target for `N(0, 1)`.
pub const GAUSSIAN_TARGET_ABOVE: usize = 256;

/// The target characteristic function of SUSReg on the grid: `Omega_d(sqrt(d) t)`,
/// or `exp(-t^2/2)` where `d > 256` and the exact target was not asked for.
pub(crate) fn susreg_target(grid: &EppsPulleyGrid, d: usize, exact: Option<bool>) -> Vec<f64> {
    if !exact.unwrap_or(d <= GAUSSIAN_TARGET_ABOVE) {
        return grid.gaussian_target();
    }
    let sd = scale(d);
    grid.knots()
        .iter()
        .map(|&t| omega(d as f64, sd * t))
        .collect()
}

/// The scale of SUSReg's projections, `sqrt(d)`: `u = sqrt(d) x . a` has variance
/// 1 for unit rows `x` uniform on the sphere.
fn scale(d: usize) -> f64 {
    (d as f64).sqrt()
}

/// SUSReg's test: unit rows, projections scaled by `sqrt(d)`, against the
/// characteristic function of the scaled marginal of the uniform distribution on
/// the sphere, `Omega_d(sqrt(d) t)`, `Omega_d(r) = 0F1(; d/2; -r^2/4)` (or `N(0, 1)`
/// above 256 dimensions, as SPHERE-JEPA; [`Sliced::with_exact_target`] chooses).
#[derive(Debug, Clone, Copy, Default)]
pub struct SphereMarginal {
    exact_target: Option<bool>,
}

impl Projection for SphereMarginal {
    const NAME: &'static str = "SUSReg";
    const ON_SPHERE: bool = true;
    fn scale(&self, d: usize) -> f64 {
        scale(d)
    }
    fn target(&self, grid: &EppsPulleyGrid, d: usize) -> Vec<f64> {
        susreg_target(grid, d, self.exact_target)
    }
}

/// SUSReg, as SPHERE-JEPA defines it: rows are normalised onto the sphere, projected
/// on `M` uniformly random directions and scaled by `sqrt(d)`, and each projection's
/// Epps–Pulley statistic is taken against the characteristic function of a scaled
/// uniform marginal, `psi(t) = Omega_d(sqrt(d) t)`, `Omega_d(r) = 0F1(; d/2; -r^2/4)`.
/// For `d > 256` the paper swaps in `N(0, 1)`; [`Sliced::with_exact_target`] keeps
/// the exact target. SPHERE-JEPA uses 1024 slices.
///
/// Directions are drawn as [`Sigreg`](super::Sigreg)'s: [`Sliced::step`] and
/// [`Sliced::with_step`] save and restore the call counter, and `clone()` copies it
/// (the clone draws the same sequence as the original from there on).
///
/// ```
/// use unisphere::{Regularizer, Susreg, ndarray::Array2};
/// let mut reg = Susreg::new(1024, 7)?;
/// let z = Array2::from_shape_fn((32, 16), |(i, j)| ((i * 5 + j * 3) % 7) as f64 - 3.0);
/// let (loss, grad) = reg.loss_and_grad(z.view())?;
/// assert!(loss > 0.0 && grad.dim() == (32, 16));
/// # Ok::<(), unisphere::Error>(())
/// ```
pub type Susreg = Sliced<SphereMarginal>;

impl Sliced<SphereMarginal> {
    /// `true`: always the exact target `Omega_d(sqrt(d) t)`; `false`: always
    /// `exp(-t^2/2)`. By default the paper's rule (exact for `d <= 256`).
    ///
    /// ```
    /// use unisphere::{Regularizer, Susreg, ndarray::Array2};
    /// let z = Array2::from_shape_fn((32, 300), |(i, j)| ((i * 5 + j * 3) % 7) as f64 - 3.0);
    /// let paper = Susreg::new(16, 1)?.loss(z.view())?; // d > 256: N(0, 1)
    /// let exact = Susreg::new(16, 1)?.with_exact_target(true).loss(z.view())?;
    /// assert!(paper != exact);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn with_exact_target(mut self, exact: bool) -> Self {
        self.test_mut().exact_target = Some(exact);
        self
    }
}

impl Sliced<SphereMarginal> {
    /// SPHERE-JEPA's settings: 1024 directions per call, seed 0, the grid `T = 3`
    /// with 17 knots, the paper's target rule.
    ///
    /// ```
    /// use unisphere::{Regularizer, Susreg, ndarray::Array2};
    /// let mut reg = Susreg::sphere_jepa(); // = Susreg::default() = Susreg::new(1024, 0)?
    /// let z = Array2::from_shape_fn((32, 16), |(i, j)| ((i * 5 + j * 3) % 7) as f64 - 3.0);
    /// assert_eq!(reg.loss(z.view())?, Susreg::new(1024, 0)?.loss(z.view())?);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn sphere_jepa() -> Self {
        Self::new(1024, 0).expect("1024 slices are within the limits")
    }
}

impl Default for Sliced<SphereMarginal> {
    /// [`Susreg::sphere_jepa`](Sliced::sphere_jepa).
    fn default() -> Self {
        Self::sphere_jepa()
    }
}
