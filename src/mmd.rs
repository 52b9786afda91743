//! Kernel maximum mean discrepancy to the uniform distribution on the sphere.

use crate::kernel::Kernel;
use crate::regularizer::Scale;
use crate::spectral::{Spectral, SpectralObjective};

/// The squared MMD between the batch (rows normalised onto the sphere) and the
/// uniform distribution, for a zonal [`Kernel`] `phi`:
///
/// - raw scale: `mean_{i,j} phi(c_ij) - C_b`, with `C_b = integral phi rho_d = w_0/Z`;
/// - paper scale (default): `(mean_{i,j} phi(c_ij) - C_b) / (1 - C_b)`, so total
///   collapse gives exactly 1.
///
/// The pairs are evaluated on `phi - C_b`, the kernel without its degree-0 term, so
/// that nearly constant kernels and nearly uniform samples keep their relative
/// accuracy. The gradient is with respect to the raw rows; for unit rows it is the
/// tangent (Riemannian) gradient.
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
pub struct Mmd(Spectral);

impl Mmd {
    /// MMD with `kernel`, on the paper scale.
    pub fn new(kernel: Kernel) -> Self {
        Mmd(Spectral::new(kernel, |l, a| if l == 0 { 0.0 } else { a }))
    }

    /// The paper's setting in dimension `d`: the heat kernel at `t = 5/d`, on the
    /// paper scale.
    ///
    /// ```
    /// use unisphere::{Mmd, Kernel, KernelKind, Regularizer, ndarray::Array2};
    /// let mut reg = Mmd::heat(64)?; // Mmd::new(Kernel::heat(64, 5.0 / 64.0)?)
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

    /// The kernel.
    pub fn kernel(&self) -> &Kernel {
        &self.0.kernel
    }
}

impl SpectralObjective for Mmd {
    const NAME: &'static str = "MMD";
    fn spectral(&self) -> &Spectral {
        &self.0
    }
    fn spectral_mut(&mut self) -> &mut Spectral {
        &mut self.0
    }
}
