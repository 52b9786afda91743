//! The [`Regularizer`] trait every objective implements, and the [`Scale`] option.

use crate::error::{Error, Result, invalid};
use crate::numerics::{PARALLEL_ENTRIES, all_finite, vectorized};
use crate::real::Real;
use crate::rows::check_input;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Zip};
use rayon::prelude::*;

/// A uniformity regularizer: a loss of an `N x d` batch of embeddings and its
/// exact gradient with respect to the rows it was given.
///
/// Object safe: `Box<dyn Regularizer<f32>>` holds any of them, and every one is
/// [`Send`] (it can move to the thread that runs the training loop). Implemented
/// for `f32` and `f64` input; values are accumulated in `f64`.
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
pub trait Regularizer<F: Real>: Send {
    /// A short human-readable name with the parameters, e.g. `"MMD[heat t=0.0195]"`.
    fn name(&self) -> String;
    /// The loss of the rows `z` (one embedding per row).
    fn loss(&mut self, z: ArrayView2<F>) -> Result<f64>;
    /// The loss and its gradient with respect to `z` (same shape as `z`).
    fn loss_and_grad(&mut self, z: ArrayView2<F>) -> Result<(f64, Array2<F>)>;
    /// The loss, with `alpha` times its gradient added into `grad_out` (same shape as
    /// `z`): `grad_out += alpha * G`, where `G` is exactly what
    /// [`loss_and_grad`](Regularizer::loss_and_grad) returns, each product `alpha * G_ij`
    /// rounded once to `F`. `alpha` must be finite.
    ///
    /// For training loops: the objectives of this crate keep their work buffers
    /// (normalised rows, gradient accumulator, sliced directions) from call to call,
    /// so once the first call has sized them, a call of the same shape allocates
    /// nothing of size `N x d` or larger. A wrong `grad_out` shape or a non-finite
    /// `alpha` is an error; so is a gradient that overflows `F`, and then
    /// `grad_out` is unchanged.
    ///
    /// The default implementation calls [`loss_and_grad`](Regularizer::loss_and_grad)
    /// and adds the result.
    ///
    /// ```
    /// use unisphere::{Kernel, Mmd, Regularizer, ndarray::Array2};
    /// let d = 8;
    /// let mut reg = Mmd::new(Kernel::heat(d, 5.0 / d as f64)?);
    /// let z = Array2::from_shape_fn((32, d), |(i, j)| ((i * 7 + j * 3) % 11) as f32 - 5.0);
    /// let mut grad = Array2::<f32>::zeros((32, d)); // allocated once, outside the loop
    /// let loss = reg.loss_and_grad_into(z.view(), grad.view_mut(), 0.5)?;
    /// let (same, g) = reg.loss_and_grad(z.view())?;
    /// assert_eq!(loss, same);
    /// assert_eq!(grad, g.mapv(|v| 0.5 * v));
    /// assert!(reg.loss_and_grad_into(z.view(), Array2::zeros((3, 3)).view_mut(), 1.0).is_err());
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    fn loss_and_grad_into(
        &mut self,
        z: ArrayView2<F>,
        grad_out: ArrayViewMut2<F>,
        alpha: f64,
    ) -> Result<f64> {
        let mut sink = AddScaled::new(z.dim(), grad_out, alpha)?;
        let (loss, grad) = self.loss_and_grad(z)?;
        sink.add(grad.view())?;
        Ok(loss)
    }
}

/// Where an objective's gradient goes, decided by type: [`LossOnly`] asks for no
/// gradient, [`AddScaled`] adds it into the caller's buffer.
pub(crate) trait GradientSink<F: Real> {
    /// Whether a gradient is wanted at all.
    const WANTED: bool;
    /// Takes the finished gradient `g` (the shape of the input, computed in `G`).
    fn add<G: Real>(&mut self, g: ArrayView2<G>) -> Result<()>;
}

/// The loss alone: no gradient is computed.
pub(crate) struct LossOnly;

impl<F: Real> GradientSink<F> for LossOnly {
    const WANTED: bool = false;
    fn add<G: Real>(&mut self, _: ArrayView2<G>) -> Result<()> {
        Ok(())
    }
}

/// Entries per block of a parallel pass.
const BLOCK: usize = 1 << 13;

/// The error for a gradient that does not fit the caller's type `F`.
fn overflow<F: Real>() -> Error {
    Error::NotRepresentable {
        what: format!(
            "the gradient overflows {} (rows of tiny norm have huge gradients); rescale the input",
            F::NAME
        ),
    }
}

/// `out += alpha * g`, each product rounded once to `F`.
pub(crate) struct AddScaled<'a, F> {
    out: ArrayViewMut2<'a, F>,
    alpha: f64,
}

impl<'a, F: Real> AddScaled<'a, F> {
    /// Checks that `out` has the input's shape `dim` and that `alpha` is finite.
    pub fn new(dim: (usize, usize), out: ArrayViewMut2<'a, F>, alpha: f64) -> Result<Self> {
        if out.dim() != dim {
            return Err(Error::Shape {
                expected: format!(
                    "a gradient buffer of the input's shape {} x {}",
                    dim.0, dim.1
                ),
                found: format!("{} x {}", out.nrows(), out.ncols()),
            });
        }
        if !alpha.is_finite() {
            return Err(invalid("alpha", alpha, "a finite gradient factor"));
        }
        Ok(AddScaled { out, alpha })
    }
}

impl<F: Real> GradientSink<F> for AddScaled<'_, F> {
    const WANTED: bool = true;
    fn add<G: Real>(&mut self, g: ArrayView2<G>) -> Result<()> {
        let alpha = self.alpha;
        let scaled = |v: G| F::from_f64(alpha * v.to_f64());
        // Contiguous and at least `PARALLEL_ENTRIES` long (the row passes' threshold):
        // both passes in blocks on rayon's threads (each entry
        // is computed alone, so the result does not depend on the blocks).
        if let (Some(out), Some(gs)) = (self.out.as_slice_mut(), g.as_slice())
            && gs.len() >= PARALLEL_ENTRIES
        {
            let finite = |b: &[G]| {
                vectorized(
                    #[inline(always)]
                    || all_finite(b, |v| scaled(v).to_f64()),
                )
            };
            if !gs.par_chunks(BLOCK).all(finite) {
                return Err(overflow::<F>());
            }
            out.par_chunks_mut(BLOCK)
                .zip(gs.par_chunks(BLOCK))
                .for_each(|(o, b)| {
                    vectorized(
                        #[inline(always)]
                        || {
                            for (o, &v) in o.iter_mut().zip(b) {
                                *o = *o + scaled(v);
                            }
                        },
                    )
                });
            return Ok(());
        }
        let finite = match g.as_slice() {
            Some(gs) => all_finite(gs, |v| scaled(v).to_f64()),
            None => g.iter().all(|&v| scaled(v).to_f64().is_finite()),
        };
        if !finite {
            return Err(overflow::<F>());
        }
        match (self.out.as_slice_mut(), g.as_slice()) {
            (Some(out), Some(gs)) => {
                for (o, &v) in out.iter_mut().zip(gs) {
                    *o = *o + scaled(v);
                }
            }
            _ => Zip::from(&mut self.out)
                .and(&g)
                .for_each(|o, &v| *o = *o + scaled(v)),
        }
        Ok(())
    }
}

/// Runs one call of an objective on an `n x d` input: on a thread of rayon's pool
/// when it will work in parallel there (more than one engine tile, or a row pass
/// split into blocks), so that the caller's thread enters the pool once per call,
/// not once per parallel pass; small calls run on the caller's thread.
fn on_pool<R: Send>((n, d): (usize, usize), call: impl FnOnce() -> R + Send) -> R {
    let parallel = n > crate::engine::tile_rows(n) || n.saturating_mul(d) >= PARALLEL_ENTRIES;
    if parallel && rayon::current_thread_index().is_none() && rayon::current_num_threads() > 1 {
        rayon::scope(|_| call())
    } else {
        call()
    }
}

/// What every objective of this crate implements once, generically over the element
/// type; [`Regularizer`] then follows for `f32` and `f64`.
pub(crate) trait Objective: Send {
    /// The name reported by [`Regularizer::name`].
    fn label(&self) -> String;
    /// The width the rows must have, where the objective fixes one (its kernel's).
    fn width(&self) -> Option<usize> {
        None
    }
    /// The loss of `z` (checked: at least 2 rows of finite entries, `d >= 2`, the
    /// width [`Objective::width`]); its gradient goes to `sink` when the sink wants
    /// one.
    fn evaluate<F: Real, S: GradientSink<F>>(
        &mut self,
        z: ArrayView2<F>,
        sink: &mut S,
    ) -> Result<f64>;
}

impl<F: Real, T: Objective> Regularizer<F> for T {
    fn name(&self) -> String {
        self.label()
    }

    fn loss(&mut self, z: ArrayView2<F>) -> Result<f64> {
        checked_call(self, z, &mut LossOnly)
    }

    fn loss_and_grad(&mut self, z: ArrayView2<F>) -> Result<(f64, Array2<F>)> {
        let mut grad = Array2::zeros(z.dim());
        let mut sink = AddScaled::new(z.dim(), grad.view_mut(), 1.0)?;
        let loss = checked_call(self, z, &mut sink)?;
        Ok((loss, grad))
    }

    fn loss_and_grad_into(
        &mut self,
        z: ArrayView2<F>,
        grad_out: ArrayViewMut2<F>,
        alpha: f64,
    ) -> Result<f64> {
        checked_call(self, z, &mut AddScaled::new(z.dim(), grad_out, alpha)?)
    }
}

/// One call of `objective` on `z`: the input checked, then evaluated (on rayon's
/// pool where it works in parallel).
fn checked_call<F: Real, T: Objective, S: GradientSink<F> + Send>(
    objective: &mut T,
    z: ArrayView2<F>,
    sink: &mut S,
) -> Result<f64> {
    on_pool(z.dim(), || {
        check_input(&z, 2, objective.width())?;
        objective.evaluate(z, sink)
    })
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
