//! SIGReg (LeJEPA): sliced Epps–Pulley test of raw embeddings against `N(0, I)`.

use super::EppsPulleyGrid;
use super::objective::{Projection, Sliced};

/// SIGReg's test: the raw (not normalised) rows, projected as they are, against
/// `N(0, 1)`, whose characteristic function is `exp(-t^2/2)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gaussian;

impl Projection for Gaussian {
    const NAME: &'static str = "SIGReg";
    const ON_SPHERE: bool = false;
    fn scale(&self, _: usize) -> f64 {
        1.0
    }
    fn target(&self, grid: &EppsPulleyGrid, _: usize) -> Vec<f64> {
        grid.gaussian_target()
    }
}

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
/// The call counter is [`Sliced::step`]; [`Sliced::with_step`] sets it, so a run
/// resumed at step `k` draws the directions the original run drew from step `k` on.
/// `clone()` copies the counter: the clone and the original then draw the same
/// sequence of directions, each advancing its own counter.
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
pub type Sigreg = Sliced<Gaussian>;

impl Sliced<Gaussian> {
    /// LeJEPA's settings, as its code draws them: 256 directions per call, seed 0,
    /// the grid `T = 3` with 17 knots (lightly's `SIGReg` draws 1024 directions by
    /// default; `Sigreg::new(1024, seed)` is that).
    ///
    /// ```
    /// use unisphere::{Regularizer, Sigreg, ndarray::Array2};
    /// let mut reg = Sigreg::lejepa(); // = Sigreg::default() = Sigreg::new(256, 0)?
    /// let z = Array2::from_shape_fn((64, 8), |(i, j)| ((i * 13 + j * 7) % 17) as f32 / 4.0 - 2.0);
    /// assert_eq!(reg.loss(z.view())?, Sigreg::new(256, 0)?.loss(z.view())?);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn lejepa() -> Self {
        Self::new(256, 0).expect("256 slices are within the limits")
    }
}

impl Default for Sliced<Gaussian> {
    /// [`Sigreg::lejepa`](Sliced::lejepa).
    fn default() -> Self {
        Self::lejepa()
    }
}
