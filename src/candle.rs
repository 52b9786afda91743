//! Using a unisphere regularizer inside a [candle](https://docs.rs/candle-core)
//! training loop (cargo feature `candle`), for tensors on any device.
//!
//! [`regularize`] turns any [`Regularizer<f32>`] into a node of candle's autograd
//! graph: it returns a scalar tensor whose value is the regularizer's loss and whose
//! gradient under `backward()` is exactly the regularizer's analytic gradient.
//!
//! # Design
//!
//! The node is a [`CustomOp1`] whose value and gradient are computed eagerly, in one
//! call of [`Regularizer::loss_and_grad`], when [`regularize`] runs: the op stores the
//! loss `L` and the gradient `G`; its forward emits `L` and its backward returns
//! `G * dOut`. This was chosen over the detached-tensor identity
//! `(z * G).sum() - (z_detached * G).sum() + L` because
//!
//! - the forward value is `L` itself (rounded once to `f32`), not `L` plus two
//!   `N x d` reductions that must cancel;
//! - the graph gains one node and the backward one multiply, instead of two
//!   element-wise products and two reductions in each direction;
//! - a `CustomOp1` must be `'static`, so it cannot call the caller's
//!   `&mut dyn Regularizer` later, in its forward or backward; computing the loss and
//!   gradient together up front costs one pass of the pairwise engine, which
//!   `loss_and_grad` shares between the two.
//!
//! When `z` is not part of a graph that needs gradients (for example evaluation on a
//! plain tensor, `z.track_op() == false`), only [`Regularizer::loss`] runs.
//!
//! # Devices
//!
//! On the CPU the rows are read in place from candle's storage through a strided
//! ndarray view (no copy, whatever the layout), and the gradient's buffer is moved
//! into a candle tensor (no copy unless the regularizer returned a non-standard
//! layout, then one).
//!
//! On any other device (CUDA, Metal) the computation runs on the host: the rows are
//! copied to the CPU (`to_device(&Device::Cpu)`), the loss and gradient computed
//! there, and the gradient copied back to the tensor's own device: `2 N d` `f32`
//! values, `8 N d` bytes, per call. A `CustomOp1` would need a kernel for every
//! backend, so the node is built from tensor operations every backend has:
//! `L + sum((z - detach(z)) * G)`. The difference is exactly zero, so the value is
//! exactly `L`, and the gradient with respect to `z` is exactly `G` times the
//! incoming gradient: the same numbers as on the CPU.
//!
//! # Errors
//!
//! A tensor that is not rank 2 or not `f32`, and every
//! [`crate::Error`] of the regularizer (non-finite entries, zero rows, too few rows,
//! a dimension that does not fit the kernel, ...) become a
//! [`candle_core::Error::Msg`] that names the regularizer and says what was wrong.

use crate::regularizer::Regularizer;
use candle_core::{
    CpuStorage, CustomOp1, DType, Device, Error, Layout, Result, Shape, Storage, Tensor,
};
use ndarray::{Array2, ArrayView2, ShapeBuilder};

/// The regularizer's loss of the rows of `z` (an `(N, d)` `f32` tensor on any
/// device) as a scalar tensor on `z`'s device, with the regularizer's exact gradient
/// as its backward. CPU tensors are read in place; others round-trip through the
/// host (see [the module documentation](self)).
///
/// ```
/// use candle_core::{Device, Tensor, Var};
/// use unisphere::{Kernel, Mmd, Regularizer, candle::regularize};
///
/// let z = Var::randn(0f32, 1.0, (128, 16), &Device::Cpu)?;
/// let mut reg = Mmd::new(Kernel::heat(16, 5.0 / 16.0)?);
/// let loss = regularize(&mut reg, z.as_tensor())?; // a scalar tensor
/// let grads = loss.backward()?;
/// let g = grads.get(&z).expect("z is a variable");
/// assert_eq!(g.dims(), &[128, 16]);
/// // Bad input is an error, not a panic:
/// let flat = Tensor::zeros(128, candle_core::DType::F32, &Device::Cpu)?;
/// assert!(regularize(&mut reg, &flat).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn regularize(reg: &mut dyn Regularizer<f32>, z: &Tensor) -> Result<Tensor> {
    let path = if z.device().is_cpu() {
        Path::InPlace
    } else {
        Path::ThroughHost
    };
    regularize_on(reg, z, path)
}

/// How [`regularize`] reaches the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// Read in place from CPU storage; the node is a [`CustomOp1`].
    InPlace,
    /// Copied to the host and the gradient back to the tensor's device; the node is
    /// made of tensor operations. Taken for every device but the CPU (and by the
    /// tests on the CPU).
    ThroughHost,
}

fn regularize_on(reg: &mut dyn Regularizer<f32>, z: &Tensor, path: Path) -> Result<Tensor> {
    let (n, d) = check_tensor(reg, z)?;
    let name = reg.name();
    let fail =
        |e: crate::Error| Error::Msg(format!("unisphere::candle::regularize: {name} failed: {e}"));
    let host = match path {
        Path::InPlace => z.clone(),
        Path::ThroughHost => z.detach().to_device(&Device::Cpu)?,
    };
    if !z.track_op() {
        let loss = with_rows(reg, &host, n, d, |reg, rows| reg.loss(rows))?;
        let loss = loss.map_err(fail)?;
        return Tensor::new(loss as f32, z.device());
    }
    let result = with_rows(reg, &host, n, d, |reg, rows| reg.loss_and_grad(rows))?;
    let (loss, grad) = result.map_err(fail)?;
    let (loss, grad) = (loss as f32, into_tensor(grad)?);
    match path {
        Path::InPlace => z.apply_op1(Precomputed { loss, grad }),
        Path::ThroughHost => {
            // L + sum((z - detach(z)) * G): the value L exactly, the gradient G exactly.
            let grad = grad.to_device(z.device())?;
            let zero = (z - z.detach())?;
            Tensor::new(loss, z.device())? + (zero * grad)?.sum_all()?
        }
    }
}

/// Checks that `z` is an `f32` matrix and returns its shape.
fn check_tensor(reg: &dyn Regularizer<f32>, z: &Tensor) -> Result<(usize, usize)> {
    let bad = |what: String| {
        Err(Error::Msg(format!(
            "unisphere::candle::regularize ({}): {what}",
            reg.name()
        )))
    };
    if z.dtype() != DType::F32 {
        return bad(format!(
            "the tensor has dtype {:?}; expected f32 (convert with `to_dtype(DType::F32)`)",
            z.dtype()
        ));
    }
    match *z.dims() {
        [n, d] => Ok((n, d)),
        ref dims => bad(format!(
            "the tensor has shape {dims:?}; expected a matrix (N, d), one embedding per row"
        )),
    }
}

/// Runs `f` on the rows of `z`, read in place from its CPU storage.
fn with_rows<T>(
    reg: &mut dyn Regularizer<f32>,
    z: &Tensor,
    n: usize,
    d: usize,
    f: impl FnOnce(&mut dyn Regularizer<f32>, ArrayView2<f32>) -> T,
) -> Result<T> {
    let (storage, layout) = z.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        return Err(Error::Msg(
            "unisphere::candle::regularize: the tensor's storage is not on the CPU".into(),
        ));
    };
    let data = cpu.as_slice::<f32>()?;
    let (stride, start) = (layout.stride(), layout.start_offset());
    let rows = data
        .get(start..)
        .and_then(|data| ArrayView2::from_shape((n, d).strides((stride[0], stride[1])), data).ok());
    match rows {
        Some(rows) => Ok(f(reg, rows)),
        None => Err(Error::Msg(format!(
            "unisphere::candle::regularize: cannot read a ({n}, {d}) matrix with strides \
             {stride:?} at offset {start} from a buffer of {} values",
            data.len()
        ))),
    }
}

/// Moves the gradient's buffer into a CPU tensor (a copy only for a non-standard layout).
fn into_tensor(grad: Array2<f32>) -> Result<Tensor> {
    let shape = grad.dim();
    let grad = if grad.is_standard_layout() {
        grad
    } else {
        grad.as_standard_layout().into_owned()
    };
    let len = grad.len();
    let (data, offset) = grad.into_raw_vec_and_offset();
    match offset.unwrap_or(0) {
        0 if data.len() == len => Tensor::from_vec(data, shape, &Device::Cpu),
        offset => Tensor::from_slice(&data[offset..offset + len], shape, &Device::Cpu),
    }
}

/// The autograd node: emits the precomputed loss; its backward scales the
/// precomputed gradient by the incoming one.
struct Precomputed {
    loss: f32,
    grad: Tensor,
}

impl CustomOp1 for Precomputed {
    fn name(&self) -> &'static str {
        "unisphere-regularizer"
    }

    fn cpu_fwd(&self, _storage: &CpuStorage, _layout: &Layout) -> Result<(CpuStorage, Shape)> {
        Ok((CpuStorage::F32(vec![self.loss]), Shape::from(())))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(self.grad.broadcast_mul(grad_res)?))
    }
}

#[cfg(test)]
mod tests {
    //! The path other devices take, forced on the CPU so that CI runs it.
    use super::*;
    use crate::{KdeKl, Kernel, Ksd, Mmd, Sigreg, SigregIntegrated, Susreg, SusregIntegrated};
    use candle_core::Var;

    const D: usize = 24;

    fn objectives() -> Vec<Box<dyn Regularizer<f32>>> {
        let d = D as f64;
        vec![
            Box::new(Mmd::new(Kernel::heat(D, 5.0 / d).unwrap())),
            Box::new(Ksd::new(Kernel::heat(D, 5.0 / d).unwrap())),
            Box::new(KdeKl::new(Kernel::heat(D, 2.0 / d).unwrap()).unwrap()),
            Box::new(Sigreg::new(64, 11).unwrap()),
            Box::new(Susreg::new(64, 11).unwrap()),
            Box::new(SigregIntegrated::new()),
            Box::new(SusregIntegrated::new()),
        ]
    }

    fn rows() -> Array2<f32> {
        Array2::from_shape_fn((40, D), |(i, j)| {
            ((i * 37 + j * 11) % 23) as f32 / 5.0 - 2.1
        })
    }

    fn to_array(t: &Tensor) -> Array2<f32> {
        let data = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        Array2::from_shape_vec((40, D), data).unwrap()
    }

    #[test]
    fn through_the_host_gives_the_same_value_and_gradient() {
        let z = rows();
        let t = Tensor::from_slice(z.as_slice().unwrap(), (40, D), &Device::Cpu).unwrap();
        for (mut direct, mut through) in objectives().into_iter().zip(objectives()) {
            let (loss, grad) = direct.loss_and_grad(z.view()).unwrap();
            let var = Var::from_tensor(&t).unwrap();
            let out = regularize_on(through.as_mut(), var.as_tensor(), Path::ThroughHost).unwrap();
            assert_eq!(out.dims(), &[] as &[usize]);
            assert_eq!(
                out.to_scalar::<f32>().unwrap(),
                loss as f32,
                "{}",
                direct.name()
            );
            // An upstream factor scales the gradient.
            let grads = (out * 3.0).unwrap().backward().unwrap();
            let g = to_array(grads.get(&var).unwrap());
            assert_eq!(g, grad.mapv(|v| v * 3.0), "{}", direct.name());
        }
    }

    #[test]
    fn a_plain_tensor_gives_the_loss_on_its_device() {
        let z = rows();
        let t = Tensor::from_slice(z.as_slice().unwrap(), (40, D), &Device::Cpu).unwrap();
        let mut reg = Mmd::new(Kernel::heat(D, 5.0 / D as f64).unwrap());
        let loss = Regularizer::<f32>::loss(&mut reg, z.view()).unwrap();
        let out = regularize_on(&mut reg, &t, Path::ThroughHost).unwrap();
        assert!(out.device().is_cpu());
        assert_eq!(out.to_scalar::<f32>().unwrap(), loss as f32);
    }
}
