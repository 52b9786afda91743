//! Kernel maximum mean discrepancy to the uniform distribution on the sphere.

use crate::error::Result;
use crate::kernel::Kernel;
use crate::real::Real;
use crate::regularizer::{GradientSink, Objective, Scale};
use crate::rows::check_input;
use crate::shard::{Exchange, Shard, ShardResult, Sharded, check_exchanged};
use crate::workspace::Workspace;
use crate::zonal::{SeriesProfile, Tabulated, zonal_mean, zonal_share};
use ndarray::ArrayView2;

/// The squared MMD between the batch (rows normalised onto the sphere) and the
/// uniform distribution, for a zonal [`Kernel`] `phi`:
///
/// - raw scale: `mean_{i,j} phi(c_ij) - C_b`, with `C_b = integral phi rho_d = w_0/Z`;
/// - paper scale (default): `(mean_{i,j} phi(c_ij) - C_b) / (1 - C_b)`, so total
///   collapse gives exactly 1.
///
/// The gradient is with respect to the raw rows; for unit rows it is the tangent
/// (Riemannian) gradient.
///
/// ```
/// use unisphere::{Kernel, Mmd, Regularizer, Scale, ndarray::Array2};
/// let mut mmd = Mmd::new(Kernel::heat(8, 5.0 / 8.0)?);
/// let collapsed = Array2::<f64>::ones((16, 8));
/// assert!((mmd.loss(collapsed.view())? - 1.0).abs() < 1e-12);
/// let mut raw = Mmd::new(Kernel::bandlimited(8, 2)?).with_scale(Scale::Raw);
/// let (loss, grad) = raw.loss_and_grad(collapsed.view())?;
/// assert!(loss > 0.0 && grad.iter().all(|g| g.abs() < 1e-12));
/// # Ok::<(), unisphere::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Mmd {
    kernel: Kernel,
    /// `phi - C_b`: the kernel without its degree-0 term, so that nearly constant
    /// kernels and nearly uniform samples keep their relative accuracy.
    centred: Tabulated<SeriesProfile>,
    scale: Scale,
    ws: Workspace,
}

impl Mmd {
    /// MMD with `kernel`, on the paper scale.
    pub fn new(kernel: Kernel) -> Self {
        let centred = kernel
            .series()
            .map_coeffs(|l, a| if l == 0 { 0.0 } else { a });
        Mmd {
            centred: Tabulated::new(SeriesProfile::new(centred)),
            kernel,
            scale: Scale::Paper,
            ws: Workspace::default(),
        }
    }

    /// The same objective on another scale.
    pub fn with_scale(mut self, scale: Scale) -> Self {
        self.scale = scale;
        self
    }

    /// The kernel.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// `loss = mean (phi - C_b) * factor`.
    fn factor(&self) -> f64 {
        match self.scale {
            Scale::Raw => 1.0,
            Scale::Paper => 1.0 / self.centred.exact.value.eval(1.0),
        }
    }
}

#[cfg(feature = "burn")]
impl Mmd {
    /// What the device path evaluates: the tabulated pair profile (`None` where no
    /// table met the tolerance) and the factor `loss = factor * mean`.
    pub(crate) fn device_profile(&self) -> (Option<&crate::table::Table>, f64) {
        (self.centred.table(), self.factor())
    }
}

impl Objective for Mmd {
    fn label(&self) -> String {
        format!("MMD[{}]", crate::kernel::describe(self.kernel()))
    }

    fn evaluate<F: Real, S: GradientSink<F>>(
        &mut self,
        z: ArrayView2<F>,
        sink: &mut S,
    ) -> Result<f64> {
        let factor = self.factor();
        let dim = Some(self.kernel.dim());
        let mean = zonal_mean(z, dim, &self.centred, factor, sink, &mut self.ws)?;
        Ok(mean * factor)
    }
}

/// MMD sharded: the gathered rows, no exchange between the phases.
impl<F: Real> Sharded<F> for Mmd {
    fn needs_all_rows(&self) -> bool {
        true
    }

    fn shard_begin(&mut self, shard: &Shard<F>) -> Result<Exchange> {
        check_input(&shard.all_rows("MMD")?, 2, Some(self.kernel.dim()))?;
        Ok(Exchange::Nothing)
    }

    fn shard_finish(&mut self, shard: &Shard<F>, exchanged: &[f64]) -> Result<ShardResult<F>> {
        check_exchanged(exchanged, 0, "MMD exchanges nothing")?;
        let factor = self.factor();
        let dim = Some(self.kernel.dim());
        let (mean, grad) = zonal_share(shard, dim, &self.centred, factor, "MMD")?;
        Ok(ShardResult {
            share: mean * factor,
            loss: None,
            grad,
        })
    }
}
