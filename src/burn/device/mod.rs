//! The objectives computed with burn tensor operations on the tensor's own device
//! (cargo feature `burn`): the pairwise [`Mmd`], [`Ksd`], [`KdeKl`],
//! [`SigregIntegrated`] and [`SusregIntegrated`], and the sliced [`Sigreg`] and
//! [`Susreg`], wrapped in [`OnDevice`].
//!
//! [`crate::burn::regularize`] brings the rows to the host and computes there; on a
//! GPU that stalls the device every step and the host's `O(N^2 d)` work can cost
//! more than the training step. [`OnDevice`] does that work where the tensor lives:
//!
//! - the rows are normalised on the device (each divided by its largest magnitude
//!   first, as on the host), and their `N` norms are the only thing read back: they
//!   are the input check (a NaN or infinite entry or a zero row shows there, and
//!   only then is `z` read back, to report the same [`Error`] as the host path);
//! - the Gram matrix is formed in row blocks by `matmul` (at most
//!   [`OnDevice::with_block_rows`] rows at a time), so the memory is
//!   `O(block_rows * N)`, never `N x N`;
//! - the pair profile and its slope are the objective's own table of the exact
//!   kernel (the crate's piecewise-polynomial table of [`Kernel::series`], or of the
//!   twins' Epps–Pulley sums), uploaded once per call and looked up on the device:
//!   the interval by a floor, its coefficients by `select`, the polynomial by
//!   Horner's rule in `f32`; no second kernel implementation;
//! - KDE-KL works in the log domain (the table of `ln phi` and `phi'/phi` in the
//!   half-angle coordinate, each row's density a log-sum-exp), so no density
//!   underflows `f32`;
//! - the gradient is the pair weights times the rows (`W X`, one more `matmul` per
//!   block) chained back to the raw rows, and it enters burn's autodiff as in
//!   [`crate::burn::regularize`]: `s - s.detach() + L` with `s = sum(z * G)`, so
//!   the value is `L` and the gradient `G` (no autodiff through the profile);
//! - the sliced objectives draw their directions on the host from the host path's
//!   `(seed, step)` stream (advancing the same call counter) and upload them; the
//!   projections are a `matmul` per chunk of at most [`OnDevice::with_block_rows`]
//!   directions (`O(chunk * N)` memory), the Epps–Pulley sums over the rows and
//!   the statistic of every direction are formed on the device, and the gradient
//!   is one more `matmul` per chunk, entering autodiff as above.
//!
//! Everything runs in `f32`: values agree with the host path to about `1e-6`
//! relative, gradients to about `1e-5` of their largest entry (the tests hold them
//! to `1e-5` and `1e-4`).
//!
//! ```
//! # #[cfg(feature = "burn-cpu")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use burn::tensor::{Device, Distribution, Tensor};
//! use unisphere::burn::device::OnDevice;
//! use unisphere::{Kernel, Mmd, Regularizer};
//!
//! let device = Device::flex().autodiff();
//! let z = Tensor::<2>::random([256, 32], Distribution::Normal(0.0, 1.0), &device).require_grad();
//! let mut reg = OnDevice::new(Mmd::new(Kernel::heat(32, 5.0 / 32.0)?)).with_block_rows(64)?;
//! let loss = reg.regularize(&z)?; // shape [1], on `device`, computed there
//! let g = z.grad(&loss.backward()).expect("z requires a gradient");
//!
//! // The host path's numbers, to f32 accuracy:
//! let rows = unisphere::ndarray::Array2::from_shape_vec((256, 32), z.to_data().to_vec::<f32>()?)?;
//! let (l, grad) = reg.objective_mut().loss_and_grad(rows.view())?;
//! assert!((loss.into_scalar::<f32>() as f64 - l).abs() <= 1e-5 * l.abs());
//! let largest = grad.iter().fold(0.0f32, |m, v| m.max(v.abs()));
//! let g = g.to_data().to_vec::<f32>()?;
//! assert!(g.iter().zip(grad.iter()).all(|(a, b)| (a - b).abs() <= 1e-4 * largest));
//!
//! // Bad input is the host path's error, not a panic:
//! let nan = Tensor::<2>::full([256, 32], f32::NAN, &device);
//! assert!(matches!(reg.regularize(&nan), Err(unisphere::Error::NonFinite { row: 0, col: 0 })));
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "burn-cpu"))]
//! # fn main() {}
//! ```

mod pairs;
mod sliced;
mod table;

use self::pairs::Rows;
use self::table::DeviceTable;
use crate::Regularizer;
use crate::error::{Error, Result, invalid};
use crate::plan::{Plan, Planned};
use burn_tensor::Tensor;

#[cfg(doc)]
use crate::{KdeKl, Kernel, Ksd, Mmd, Sigreg, SigregIntegrated, Susreg, SusregIntegrated};

/// The default block size: `block_rows * N` is at most this many pairs (of rows,
/// or of a row and a direction for the sliced objectives).
pub const DEFAULT_BLOCK_PAIRS: usize = 1 << 24;

/// An objective [`OnDevice`] computes on the device: any [`Regularizer<f32>`] that
/// gives a [`Plan`] ([`Mmd`], [`Ksd`], [`KdeKl`], [`SigregIntegrated`],
/// [`SusregIntegrated`], [`Sigreg`] and [`Susreg`]).
pub trait DeviceObjective: Regularizer<f32> + Planned {}

impl<T: Regularizer<f32> + Planned> DeviceObjective for T {}

/// The loss of one call's `plan` on the checked `rows` and, with `gradient`, its
/// gradient with respect to the raw rows, in blocks of `block` rows (or directions).
fn evaluate(
    plan: Plan,
    rows: &Rows,
    block: usize,
    gradient: bool,
) -> Result<(Tensor<1>, Option<Tensor<2>>)> {
    let device = rows.z.device();
    let n = rows.len() as f64;
    match plan {
        Plan::Zonal(p) => {
            let f = DeviceTable::upload(&p.table, p.offset, &device);
            let (total, grad) = pairs::zonal(rows, &f, block, gradient.then_some(p.factor));
            Ok((total * (p.factor / (n * n)), grad))
        }
        Plan::LogDensity(p) => {
            let f = DeviceTable::upload(&p.table, p.offset, &device);
            let factor = gradient.then_some(p.factor);
            let (total, grad) = pairs::kdekl(rows, &f, block, p.shift, factor);
            Ok((total * (p.factor / n), grad))
        }
        Plan::Radial(p) => {
            if rows
                .host_norms
                .iter()
                .any(|r| !((r * r) as f32).is_finite())
            {
                return Err(Error::NotRepresentable {
                    what: "squared row norms overflow f32 on the device; rescale the embeddings"
                        .into(),
                });
            }
            let h = DeviceTable::upload(&p.table, p.offset, &device);
            let radial = gradient.then_some(&p.radial[..]);
            let (total, grad) = pairs::sigreg_twin(rows, &h, &p.delta, block, radial);
            Ok((total * (1.0 / n), grad))
        }
        Plan::Sliced(p) => {
            let x = if p.on_sphere { rows.unit() } else { &rows.z };
            let (loss, grad) = sliced::statistic(x, &p, block, gradient);
            let grad = match p.on_sphere {
                true => grad.map(|g| pairs::chain(rows, g, 1.0)),
                false => grad,
            };
            Ok((loss, grad))
        }
    }
}

/// A [`DeviceObjective`] computed with burn tensor operations on the device of the
/// rows it is given, in row blocks of the Gram matrix (chunks of directions for
/// the sliced objectives).
///
/// The objective itself stays usable on the host ([`OnDevice::objective_mut`]):
/// both paths evaluate the same tables of the same exact kernel, and the sliced
/// objectives draw from the same direction stream and call counter, so a host
/// call and a device call each take the next step's directions.
///
/// ```
/// # #[cfg(feature = "burn-cpu")]
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use burn::tensor::{Device, Distribution, Tensor};
/// use unisphere::burn::device::OnDevice;
/// use unisphere::{KdeKl, Kernel, Susreg, SusregIntegrated};
///
/// let device = Device::flex(); // no autodiff: loss and gradient directly
/// let z = Tensor::<2>::random([100, 24], Distribution::Normal(0.0, 1.0), &device);
/// let mut kl = OnDevice::new(KdeKl::new(Kernel::heat(24, 2.0 / 24.0)?)?);
/// let (loss, grad) = kl.loss_and_grad(&z)?;
/// assert_eq!((loss.dims(), grad.dims()), ([1], [100, 24]));
/// let mut twin = OnDevice::new(SusregIntegrated::new()).with_block_rows(16)?;
/// assert!(twin.loss(&z)?.into_scalar::<f32>() > 0.0);
/// assert!(OnDevice::new(SusregIntegrated::new()).with_block_rows(0).is_err());
///
/// // The sliced SUSReg: 1024 directions, 256 per projection matmul.
/// let mut susreg = OnDevice::new(Susreg::new(1024, 7)?).with_block_rows(256)?;
/// let mut host = susreg.objective().clone(); // the same stream, at the same step
/// let loss = susreg.loss(&z)?.into_scalar::<f32>() as f64;
/// let rows = unisphere::ndarray::Array2::from_shape_vec((100, 24), z.to_data().to_vec::<f32>()?)?;
/// let expected = unisphere::Regularizer::loss(&mut host, rows.view())?;
/// assert!((loss - expected).abs() <= 1e-5 * expected);
/// assert_eq!((susreg.objective().step(), host.step()), (1, 1));
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "burn-cpu"))]
/// # fn main() {}
/// ```
#[derive(Debug, Clone)]
pub struct OnDevice<R> {
    reg: R,
    block_rows: Option<usize>,
}

impl<R: DeviceObjective> OnDevice<R> {
    /// `reg` on the device, with blocks of at most [`DEFAULT_BLOCK_PAIRS`] pairs.
    pub fn new(reg: R) -> Self {
        OnDevice {
            reg,
            block_rows: None,
        }
    }

    /// Blocks of `rows` rows of the Gram matrix (`rows >= 1`): the device then holds
    /// a few `rows x N` matrices at a time (about 100 bytes per pair of a block, for
    /// the Gram block, the table lookup's temporaries and the pair weights). For
    /// [`Sigreg`] and [`Susreg`], chunks of `rows` directions: a few `N x rows`
    /// matrices (the projections, their angles at one knot, the statistic's
    /// derivatives) at a time.
    pub fn with_block_rows(mut self, rows: usize) -> Result<Self> {
        if rows == 0 {
            return Err(invalid("rows", rows, "at least one row per block"));
        }
        self.block_rows = Some(rows);
        Ok(self)
    }

    /// The rows per block for a batch of `n` rows.
    pub fn block_rows(&self, n: usize) -> usize {
        self.block(n).min(n.max(1))
    }

    /// The block size for a batch of `n` rows, not capped at `n`: rows of the Gram
    /// matrix, or directions of a sliced objective (of which there may be more
    /// than rows).
    fn block(&self, n: usize) -> usize {
        self.block_rows
            .unwrap_or((DEFAULT_BLOCK_PAIRS / n.max(1)).max(1))
    }

    /// The objective (for the host path, its name, its parameters).
    pub fn objective(&self) -> &R {
        &self.reg
    }

    /// The objective, mutably (e.g. to call the host path on the same tables).
    pub fn objective_mut(&mut self) -> &mut R {
        &mut self.reg
    }

    /// The objective back.
    pub fn into_inner(self) -> R {
        self.reg
    }

    /// The loss of the rows of `z` (an `(N, d)` `f32` tensor) as a one-element
    /// tensor on its device, without a gradient.
    pub fn loss(&mut self, z: &Tensor<2>) -> Result<Tensor<1>> {
        Ok(self.run(z, false)?.0)
    }

    /// The loss and its gradient with respect to `z`, both on the device of `z`
    /// and without autodiff.
    pub fn loss_and_grad(&mut self, z: &Tensor<2>) -> Result<(Tensor<1>, Tensor<2>)> {
        let (loss, grad) = self.run(z, true)?;
        let grad = grad.expect("a gradient was asked for");
        Ok((loss, grad))
    }

    /// As [`crate::burn::regularize`], on the device: a one-element tensor whose
    /// value is the loss and whose gradient through burn's autodiff is the exact
    /// gradient; when `z` is not an autodiff tensor, the loss alone.
    pub fn regularize(&mut self, z: &Tensor<2>) -> Result<Tensor<1>> {
        if !z.is_autodiff() {
            return self.loss(z);
        }
        let (loss, grad) = self.loss_and_grad(z)?;
        let s = (z.clone() * grad).sum();
        Ok(s.clone() - s.detach() + loss)
    }

    fn run(&mut self, z: &Tensor<2>, gradient: bool) -> Result<(Tensor<1>, Option<Tensor<2>>)> {
        super::check_f32(z)?;
        let rows = pairs::check(z, self.reg.required_dim(), self.reg.on_sphere())?;
        let block = self.block(rows.len());
        let plan = self.reg.plan(z.dims()[1], &rows.host_norms, gradient)?;
        evaluate(plan, &rows, block, gradient)
    }
}
