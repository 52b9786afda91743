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
use crate::error::{Error, Result, invalid};
use crate::{KdeKl, Ksd, Mmd, Regularizer, Sigreg, SigregIntegrated, Susreg, SusregIntegrated};
use burn_tensor::{DType, Tensor};

#[cfg(doc)]
use crate::Kernel;

/// The default block size: `block_rows * N` is at most this many pairs (of rows,
/// or of a row and a direction for the sliced objectives).
pub const DEFAULT_BLOCK_PAIRS: usize = 1 << 24;

mod sealed {
    use super::pairs::Rows;
    use crate::error::Result;
    use burn_tensor::Tensor;

    /// What an objective computes on the device.
    pub trait Sealed {
        /// The dimension the rows must have, if fixed.
        fn dim(&self) -> Option<usize>;
        /// Whether the rows are projected onto the sphere (zero rows are errors).
        fn on_sphere(&self) -> bool;
        /// The loss and, with `gradient`, its gradient with respect to the raw rows.
        fn evaluate(
            &mut self,
            rows: &Rows,
            block: usize,
            gradient: bool,
        ) -> Result<(Tensor<1>, Option<Tensor<2>>)>;
    }
}

/// An objective [`OnDevice`] computes on the device: [`Mmd`], [`Ksd`], [`KdeKl`],
/// [`SigregIntegrated`], [`SusregIntegrated`], [`Sigreg`] and [`Susreg`] (sealed:
/// implemented by this crate only).
pub trait DeviceObjective: Regularizer<f32> + sealed::Sealed {}

impl<T: Regularizer<f32> + sealed::Sealed> DeviceObjective for T {}

/// The objective's table on the device, or the error for a profile that could not
/// be tabulated (the host path then evaluates the exact profile pair by pair).
fn upload(
    table: Option<&crate::table::Table>,
    offset: f64,
    rows: &Rows,
    what: &str,
) -> Result<DeviceTable> {
    table
        .map(|t| DeviceTable::upload(t, offset, &rows.z.device()))
        .ok_or_else(|| Error::NotRepresentable {
            what: format!("{what} has no table for the device path; use the host path"),
        })
}

impl sealed::Sealed for Mmd {
    fn dim(&self) -> Option<usize> {
        Some(self.kernel().dim())
    }
    fn on_sphere(&self) -> bool {
        true
    }
    fn evaluate(
        &mut self,
        rows: &Rows,
        block: usize,
        gradient: bool,
    ) -> Result<(Tensor<1>, Option<Tensor<2>>)> {
        let (table, factor) = self.device_profile();
        let f = upload(table, 0.0, rows, "the kernel")?;
        zonal(rows, &f, block, gradient, factor)
    }
}

impl sealed::Sealed for Ksd {
    fn dim(&self) -> Option<usize> {
        Some(self.kernel().dim())
    }
    fn on_sphere(&self) -> bool {
        true
    }
    fn evaluate(
        &mut self,
        rows: &Rows,
        block: usize,
        gradient: bool,
    ) -> Result<(Tensor<1>, Option<Tensor<2>>)> {
        let (table, factor) = self.device_profile();
        let f = upload(table, 0.0, rows, "the Stein kernel")?;
        zonal(rows, &f, block, gradient, factor)
    }
}

impl sealed::Sealed for SusregIntegrated {
    fn dim(&self) -> Option<usize> {
        None
    }
    fn on_sphere(&self) -> bool {
        true
    }
    fn evaluate(
        &mut self,
        rows: &Rows,
        block: usize,
        gradient: bool,
    ) -> Result<(Tensor<1>, Option<Tensor<2>>)> {
        let [_, d] = rows.z.dims();
        let (table, constant) = self.device_profile(d);
        // N (mean f + constant) = N mean (f + constant): the constant goes into the
        // table, so that the pairs' sum does not cancel in f32.
        let f = upload(table.as_ref(), constant, rows, "the twin's profile")?;
        zonal(rows, &f, block, gradient, rows.len() as f64)
    }
}

/// `loss = scale mean_{i,j} f(c_ij)` and its gradient.
fn zonal(
    rows: &Rows,
    f: &DeviceTable,
    block: usize,
    gradient: bool,
    scale: f64,
) -> Result<(Tensor<1>, Option<Tensor<2>>)> {
    let n = rows.len() as f64;
    let (total, grad) = pairs::zonal(rows, f, block, gradient.then_some(scale));
    Ok((total * (scale / (n * n)), grad))
}

impl sealed::Sealed for KdeKl {
    fn dim(&self) -> Option<usize> {
        Some(self.kernel().dim())
    }
    fn on_sphere(&self) -> bool {
        true
    }
    fn evaluate(
        &mut self,
        rows: &Rows,
        block: usize,
        gradient: bool,
    ) -> Result<(Tensor<1>, Option<Tensor<2>>)> {
        let (table, (offset, factor)) = self.device_profile()?;
        // ln phi shifted by its value at c = 0 (x = 1/sqrt 2), so that the rows'
        // log-densities are near zero for spread-out rows and their sum keeps its
        // relative accuracy in f32: loss = (mean_i (ln S_i - ln phi(0)) + shift) * factor
        // with shift = ln phi(0) - ln(N - 1) + offset.
        let ln_phi0 = table.map_or(0.0, |t| t.value(std::f64::consts::FRAC_1_SQRT_2));
        let f = upload(table, -ln_phi0, rows, "the kernel's logarithm")?;
        let n = rows.len() as f64;
        let shift = ln_phi0 - (n - 1.0).ln() + offset;
        let (total, grad) = pairs::kdekl(rows, &f, block, shift, gradient.then_some(factor));
        Ok((total * (factor / n), grad))
    }
}

impl sealed::Sealed for SigregIntegrated {
    fn dim(&self) -> Option<usize> {
        None
    }
    fn on_sphere(&self) -> bool {
        false
    }
    fn evaluate(
        &mut self,
        rows: &Rows,
        block: usize,
        gradient: bool,
    ) -> Result<(Tensor<1>, Option<Tensor<2>>)> {
        let [n, d] = rows.z.dims();
        let twin = self.device_profile(d, &rows.host_norms, gradient)?;
        if rows
            .host_norms
            .iter()
            .any(|r| !((r * r) as f32).is_finite())
        {
            return Err(Error::NotRepresentable {
                what: "squared row norms overflow f32 on the device; rescale the embeddings".into(),
            });
        }
        let h = upload(twin.table.as_ref(), twin.offset, rows, "the twin's profile")?;
        let radial = gradient.then_some(&twin.radial[..]);
        let (total, grad) = pairs::sigreg_twin(rows, &h, &twin.delta, block, radial);
        Ok((total * (1.0 / n as f64), grad))
    }
}

impl sealed::Sealed for Sigreg {
    fn dim(&self) -> Option<usize> {
        None
    }
    fn on_sphere(&self) -> bool {
        false
    }
    fn evaluate(
        &mut self,
        rows: &Rows,
        block: usize,
        gradient: bool,
    ) -> Result<(Tensor<1>, Option<Tensor<2>>)> {
        let [_, d] = rows.z.dims();
        let call = self.device_call(d)?;
        Ok(sliced::statistic(&rows.z, call, block, gradient))
    }
}

impl sealed::Sealed for Susreg {
    fn dim(&self) -> Option<usize> {
        None
    }
    fn on_sphere(&self) -> bool {
        true
    }
    fn evaluate(
        &mut self,
        rows: &Rows,
        block: usize,
        gradient: bool,
    ) -> Result<(Tensor<1>, Option<Tensor<2>>)> {
        let [_, d] = rows.z.dims();
        let call = self.device_call(d)?;
        let (loss, grad) = sliced::statistic(rows.unit(), call, block, gradient);
        Ok((loss, grad.map(|g| pairs::chain(rows, g, 1.0))))
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
        let dtype = z.dtype();
        if dtype != DType::F32 {
            return Err(Error::InvalidParameter {
                name: "z",
                value: format!("a tensor of dtype {dtype:?}"),
                expected: "an f32 tensor (convert with `z.cast(DType::F32)`)".into(),
            });
        }
        let rows = pairs::check(z, self.reg.dim(), self.reg.on_sphere())?;
        let block = self.block(rows.len());
        self.reg.evaluate(&rows, block, gradient)
    }
}
