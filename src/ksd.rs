//! Kernel Stein discrepancy to the uniform distribution on the sphere (Killing
//! vector fields), as a zonal series with no third derivatives.

use crate::kernel::Kernel;
use crate::regularizer::Scale;
use crate::spectral::{Spectral, SpectralObjective};

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
pub struct Ksd(Spectral);

impl Ksd {
    /// KSD with `kernel`, on the paper scale.
    pub fn new(kernel: Kernel) -> Self {
        let d = kernel.dim() as f64;
        Ksd(Spectral::new(kernel, |l, a| {
            let lf = l as f64;
            0.5 * lf * (lf + d - 2.0) * a
        }))
    }

    /// The paper's setting in dimension `d`: the heat kernel at `t = 5/d`, on the
    /// paper scale.
    ///
    /// ```
    /// use unisphere::{Ksd, Kernel, KernelKind, Regularizer, ndarray::Array2};
    /// let mut reg = Ksd::heat(64)?; // Ksd::new(Kernel::heat(64, 5.0 / 64.0)?)
    /// assert_eq!(reg.kernel().kind(), KernelKind::Heat { t: 5.0 / 64.0 });
    /// assert!((reg.loss(Array2::<f64>::ones((8, 64)).view())? - 1.0).abs() < 1e-12);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn heat(d: usize) -> crate::Result<Self> {
        Ok(Self::new(Kernel::heat(d, 5.0 / d as f64)?))
    }

    /// The same objective on another scale.
    pub fn with_scale(mut self, scale: Scale) -> Self {
        self.0.scale = scale;
        self
    }

    /// The kernel `phi` the Stein kernel is built from.
    pub fn kernel(&self) -> &Kernel {
        &self.0.kernel
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
        self.0.pair.exact.value.eval(c.clamp(-1.0, 1.0))
    }
}

impl SpectralObjective for Ksd {
    const NAME: &'static str = "KSD";
    fn spectral(&self) -> &Spectral {
        &self.0
    }
    fn spectral_mut(&mut self) -> &mut Spectral {
        &mut self.0
    }
}
