//! Kernel Stein discrepancy to the uniform distribution on the sphere (Killing
//! vector fields), as a zonal series with no third derivatives.

use crate::error::Result;
use crate::kernel::Kernel;
use crate::real::Real;
use crate::regularizer::{GradientSink, Objective, Scale};
use crate::rows::check_input;
use crate::shard::{Exchange, Shard, ShardResult, Sharded, check_exchanged};
use crate::workspace::Workspace;
use crate::zonal::{SeriesProfile, Tabulated, zonal_mean, zonal_share};
use ndarray::ArrayView2;

/// The kernel Stein discrepancy of the batch (rows normalised onto the sphere)
/// against the uniform distribution, with the Stein kernel
/// `k_q(c) = 1/2 [(c^2 - 1) phi''(c) + c (d - 1) phi'(c)]`.
///
/// Spectrally `k_q = 1/2 sum_l lambda_l a_l P_l(d; c)`: the same zonal series with
/// weights `lambda_l w_l / 2` and no degree-0 term, so `E_{x,y ~ sigma} k_q = 0`
/// (Stein's identity) and the V-statistic is `>= 0`.
///
/// - raw scale: `mean_{i,j} k_q(c_ij)`;
/// - paper scale (default): divided by `C_q = k_q(1) = (d - 1)/2 phi'(1)`, so total
///   collapse gives exactly 1.
///
/// ```
/// use unisphere::{Kernel, Ksd, Regularizer, ndarray::Array2};
/// let mut ksd = Ksd::new(Kernel::heat(8, 5.0 / 8.0)?);
/// let collapsed = Array2::<f32>::ones((10, 8));
/// assert!((ksd.loss(collapsed.view())? - 1.0).abs() < 1e-6);
/// # Ok::<(), unisphere::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Ksd {
    kernel: Kernel,
    stein: Tabulated<SeriesProfile>,
    scale: Scale,
    ws: Workspace,
}

impl Ksd {
    /// KSD with `kernel`, on the paper scale.
    pub fn new(kernel: Kernel) -> Self {
        let d = kernel.dim() as f64;
        let stein = kernel.series().map_coeffs(|l, a| {
            let lf = l as f64;
            0.5 * lf * (lf + d - 2.0) * a
        });
        Ksd {
            kernel,
            stein: Tabulated::new(SeriesProfile::new(stein)),
            scale: Scale::Paper,
            ws: Workspace::default(),
        }
    }

    /// The same objective on another scale.
    pub fn with_scale(mut self, scale: Scale) -> Self {
        self.scale = scale;
        self
    }

    /// The kernel `phi` the Stein kernel is built from.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// The Stein kernel `k_q(c)`.
    ///
    /// ```
    /// use unisphere::{Kernel, Ksd};
    /// let k = Kernel::heat(5, 0.1)?;
    /// let ksd = Ksd::new(k.clone());
    /// let c: f64 = 0.3;
    /// let direct = 0.5 * ((c * c - 1.0) * k.eval_d2(c) + c * 4.0 * k.eval_d1(c));
    /// assert!((ksd.stein_kernel(c) - direct).abs() < 1e-12);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn stein_kernel(&self, c: f64) -> f64 {
        self.stein.exact.value.eval(c.clamp(-1.0, 1.0))
    }

    fn factor(&self) -> f64 {
        match self.scale {
            Scale::Raw => 1.0,
            Scale::Paper => 1.0 / self.stein.exact.value.eval(1.0),
        }
    }
}

#[cfg(feature = "burn")]
impl Ksd {
    /// What the device path evaluates: the tabulated pair profile (`None` where no
    /// table met the tolerance) and the factor `loss = factor * mean`.
    pub(crate) fn device_profile(&self) -> (Option<&crate::table::Table>, f64) {
        (self.stein.table(), self.factor())
    }
}

impl Objective for Ksd {
    fn label(&self) -> String {
        format!("KSD[{}]", crate::kernel::describe(&self.kernel))
    }

    fn evaluate<F: Real, S: GradientSink<F>>(
        &mut self,
        z: ArrayView2<F>,
        sink: &mut S,
    ) -> Result<f64> {
        let factor = self.factor();
        let dim = Some(self.kernel.dim());
        let mean = zonal_mean(z, dim, &self.stein, factor, sink, &mut self.ws)?;
        Ok(mean * factor)
    }
}

/// KSD sharded: the gathered rows, no exchange between the phases.
impl<F: Real> Sharded<F> for Ksd {
    fn needs_all_rows(&self) -> bool {
        true
    }

    fn shard_begin(&mut self, shard: &Shard<F>) -> Result<Exchange> {
        check_input(&shard.all_rows("KSD")?, 2, Some(self.kernel.dim()))?;
        Ok(Exchange::Nothing)
    }

    fn shard_finish(&mut self, shard: &Shard<F>, exchanged: &[f64]) -> Result<ShardResult<F>> {
        check_exchanged(exchanged, 0, "KSD exchanges nothing")?;
        let factor = self.factor();
        let dim = Some(self.kernel.dim());
        let (mean, grad) = zonal_share(shard, dim, &self.stein, factor, "KSD")?;
        Ok(ShardResult {
            share: mean * factor,
            loss: None,
            grad,
        })
    }
}
