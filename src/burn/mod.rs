//! Using a unisphere regularizer inside a [burn](https://docs.rs/burn) training loop
//! (cargo feature `burn`), on any burn device.
//!
//! [`regularize`] turns any [`Regularizer<f32>`] into a term of burn's autodiff
//! graph: it returns a one-element tensor whose value is the regularizer's loss and
//! whose gradient under `backward()` is exactly the regularizer's analytic gradient.
//!
//! # Design
//!
//! burn's tensors carry their backend in their [`Device`](burn_tensor::Device), so
//! one function serves every device (CPU, CUDA, ROCm, wgpu, Metal, ...) and needs
//! no backend extension. [`regularize`]
//!
//! 1. reads the rows of `z` to the host (one `N x d` `f32` read-back; free on a CPU
//!    backend apart from the copy),
//! 2. calls [`Regularizer::loss_and_grad`] once, getting the loss `L` and the
//!    gradient `G`,
//! 3. uploads `G` to the device of `z` (one `N x d` write) and returns
//!    `s - s.detach() + L` with `s = sum(z * G)` and `G`, `L` constants.
//!
//! `s - s.detach()` is exactly zero (a finite number minus itself), so the value is
//! `L` rounded once to `f32`, bit for bit, on every backend; its gradient is `G`,
//! also bit for bit (the backward of the sum multiplies `G` by one). This is the
//! detached-tensor identity `L + sum(z * G) - sum(z.detach() * G)` with the product
//! computed once instead of twice, so no two reductions have to cancel.
//!
//! When `z` is not an autodiff tensor (evaluation), only [`Regularizer::loss`] runs
//! and the result is the constant `L` on the device of `z`.
//!
//! [`device`] computes the pairwise objectives on the device itself instead (no
//! read-back of the rows, no host work of order `N^2 d`).
//!
//! The crate depends on `burn-tensor` only (the crate `burn::tensor` re-exports,
//! without a backend), so the tensors here are burn's own.
//!
//! # Errors
//!
//! Every failure is a [`crate::Error`], never a panic:
//!
//! - a tensor whose dtype is not `f32` (burn reports it through
//!   [`Tensor::dtype`]): [`Error::InvalidParameter`] naming `z` and its dtype;
//! - a tensor the device cannot read back: [`Error::InvalidParameter`] with burn's
//!   message;
//! - everything the regularizer rejects: too few rows, too few columns for the
//!   kernel ([`Error::Shape`]), NaN or infinite entries ([`Error::NonFinite`]), zero
//!   rows, ...
//!
//! The rank is part of the type: `z` is a `Tensor<2>` (one embedding per row), so a
//! tensor of another rank does not compile:
//!
//! ```compile_fail
//! use burn::tensor::{Device, Tensor};
//! use unisphere::{Kernel, Mmd};
//!
//! let flat = Tensor::<1>::zeros([128], &Device::default());
//! let mut reg = Mmd::new(Kernel::heat(16, 5.0 / 16.0).unwrap());
//! let _ = unisphere::burn::regularize(&mut reg, &flat);
//! ```

pub mod device;

use crate::error::Error;
use crate::regularizer::Regularizer;
use burn_tensor::{DType, Tensor, TensorData};
use ndarray::{Array2, ArrayView2};

/// The regularizer's loss of the rows of `z` (an `(N, d)` `f32` tensor on any burn
/// device) as a one-element tensor on the same device, whose gradient through burn's
/// autodiff is the regularizer's exact gradient.
///
/// `reg` is a `&mut dyn Regularizer<f32>`, as in `unisphere::candle::regularize`:
/// one function for every objective, boxed or not; sliced objectives advance their
/// direction stream on each call, as with [`Regularizer::loss_and_grad`].
///
/// ```
/// # #[cfg(feature = "burn-cpu")]
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use burn::tensor::{Device, Distribution, Tensor};
/// use unisphere::{Kernel, Mmd, Regularizer};
///
/// let device = Device::flex().autodiff();
/// let z = Tensor::<2>::random([128, 16], Distribution::Normal(0.0, 1.0), &device).require_grad();
/// let mut reg = Mmd::new(Kernel::heat(16, 5.0 / 16.0)?);
/// let loss = unisphere::burn::regularize(&mut reg, &z)?; // shape [1], on `device`
/// let grads = loss.backward();
/// let g = z.grad(&grads).expect("z requires a gradient");
/// assert_eq!(g.dims(), [128, 16]);
///
/// // The same numbers as the regularizer on the host, bit for bit:
/// let rows = z.to_data().try_to_vec::<f32>()?;
/// let rows = unisphere::ndarray::Array2::from_shape_vec((128, 16), rows)?;
/// let (l, grad) = reg.loss_and_grad(rows.view())?;
/// assert_eq!(loss.into_scalar::<f32>(), l as f32);
/// assert_eq!(g.to_data().try_to_vec::<f32>()?, grad.into_raw_vec_and_offset().0);
///
/// // Bad input is an error, not a panic:
/// let nan = Tensor::<2>::full([128, 16], f32::NAN, &device);
/// assert!(unisphere::burn::regularize(&mut reg, &nan).is_err());
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "burn-cpu"))]
/// # fn main() {}
/// ```
pub fn regularize(reg: &mut dyn Regularizer<f32>, z: &Tensor<2>) -> Result<Tensor<1>, Error> {
    check_f32(z)?;
    let [n, d] = z.dims();
    let data = z
        .clone()
        .try_into_data()
        .map_err(|e| Error::InvalidParameter {
            name: "z",
            value: format!("a tensor that cannot be read back ({e})"),
            expected: "a tensor the device can copy to the host".into(),
        })?;
    let rows = data
        .as_slice::<f32>()
        .map_err(|e| Error::InvalidParameter {
            name: "z",
            value: format!("a tensor whose data is not f32 ({e})"),
            expected: "an f32 tensor".into(),
        })?;
    let rows = ArrayView2::from_shape((n, d), rows).map_err(|e| Error::Shape {
        expected: format!("{} values for a ({n}, {d}) matrix", n * d),
        found: format!("{} values ({e})", rows.len()),
    })?;
    let device = z.device();
    let scalar =
        |loss: f64| Tensor::<1>::from_data(TensorData::new(vec![loss as f32], [1]), &device);
    if !z.is_autodiff() {
        return Ok(scalar(reg.loss(rows)?));
    }
    let (loss, grad) = reg.loss_and_grad(rows)?;
    let grad = Tensor::<2>::from_data(TensorData::new(into_vec(grad), [n, d]), &device);
    let s = (z.clone() * grad).sum();
    Ok(s.clone() - s.detach() + scalar(loss))
}

/// An error for a tensor whose dtype is not `f32`.
fn check_f32(z: &Tensor<2>) -> Result<(), Error> {
    let dtype = z.dtype();
    if dtype != DType::F32 {
        return Err(Error::InvalidParameter {
            name: "z",
            value: format!("a tensor of dtype {dtype:?}"),
            expected: "an f32 tensor (convert with `z.cast(DType::F32)`)".into(),
        });
    }
    Ok(())
}

/// The gradient's values in row-major order (its buffer when that is already so).
fn into_vec(grad: Array2<f32>) -> Vec<f32> {
    if grad.is_standard_layout() {
        let len = grad.len();
        let (mut data, offset) = grad.into_raw_vec_and_offset();
        let offset = offset.unwrap_or(0);
        data.truncate(offset + len);
        data.drain(..offset);
        data
    } else {
        grad.iter().copied().collect()
    }
}
