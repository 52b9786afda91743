//! The floating-point element types the regularizers accept: `f32` and `f64`.

use ndarray::LinalgScalar;
use std::fmt::Debug;

mod sealed {
    /// Also the crate's per-type kernels, out of the public trait's sight.
    pub trait Sealed: crate::numerics::Transpose + crate::numerics::RowsProduct {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// An input element type: `f32` or `f64`.
///
/// Products of rows (the Gram tiles and `W X`) run in this type; losses and
/// kernel values are always accumulated in `f64`.
///
/// ```
/// use unisphere::Real;
/// assert_eq!(<f32 as Real>::from_f64(0.5).to_f64(), 0.5);
/// ```
pub trait Real: LinalgScalar + PartialOrd + Debug + Send + Sync + sealed::Sealed + 'static {
    /// Name of the type, for messages.
    const NAME: &'static str;
    /// Converts to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Converts from `f64` (rounds to nearest).
    fn from_f64(v: f64) -> Self;
}

impl Real for f32 {
    const NAME: &'static str = "f32";
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Real for f64 {
    const NAME: &'static str = "f64";
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
}
