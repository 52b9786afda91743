//! The [`Regularizer`] trait every objective implements, and the [`Scale`] option.

use crate::error::Result;
use crate::real::Real;
use ndarray::{Array2, ArrayView2};

/// A uniformity regularizer: a loss of an `N x d` batch of embeddings and its
/// exact gradient with respect to the rows it was given.
///
/// Object safe: `Box<dyn Regularizer<f32>>` holds any of them. Implemented for
/// `f32` and `f64` input; values are accumulated in `f64`.
///
/// ```
/// use unisphere::{Kernel, Mmd, Regularizer, ndarray::array};
/// let mut regs: Vec<Box<dyn Regularizer<f32>>> = vec![
///     Box::new(Mmd::new(Kernel::heat(3, 0.5)?)),
///     Box::new(Mmd::new(Kernel::bandlimited(3, 2)?)),
/// ];
/// let z = array![[1.0f32, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]];
/// for reg in regs.iter_mut() {
///     let (loss, grad) = reg.loss_and_grad(z.view())?;
///     assert!(loss.is_finite() && grad.dim() == (3, 3));
/// }
/// # Ok::<(), unisphere::Error>(())
/// ```
pub trait Regularizer<F> {
    /// A short human-readable name with the parameters, e.g. `"MMD[heat t=0.0195]"`.
    fn name(&self) -> String;
    /// The loss of the rows `z` (one embedding per row).
    fn loss(&mut self, z: ArrayView2<F>) -> Result<f64>;
    /// The loss and its gradient with respect to `z` (same shape as `z`).
    fn loss_and_grad(&mut self, z: ArrayView2<F>) -> Result<(f64, Array2<F>)>;
}

/// What every objective of this crate implements once, generically over the element
/// type; [`Regularizer`] then follows for `f32` and `f64`.
pub(crate) trait Objective {
    /// The name reported by [`Regularizer::name`].
    fn label(&self) -> String;
    /// The loss and, when `gradient` is set, its gradient with respect to `z`.
    fn evaluate<F: Real>(
        &mut self,
        z: ArrayView2<F>,
        gradient: bool,
    ) -> Result<(f64, Option<Array2<F>>)>;
}

impl<F: Real, T: Objective> Regularizer<F> for T {
    fn name(&self) -> String {
        self.label()
    }

    fn loss(&mut self, z: ArrayView2<F>) -> Result<f64> {
        Ok(self.evaluate(z, false)?.0)
    }

    fn loss_and_grad(&mut self, z: ArrayView2<F>) -> Result<(f64, Array2<F>)> {
        let (loss, grad) = self.evaluate(z, true)?;
        Ok((loss, grad.expect("evaluate returns a gradient when asked")))
    }
}

/// The scale on which an objective is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    /// The paper's scale: total collapse (all rows equal) gives exactly 1.
    #[default]
    Paper,
    /// The raw statistic (e.g. `MMD^2(P_N, sigma)`, the mean Stein kernel, the KL estimate).
    Raw,
}
