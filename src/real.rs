//! The floating-point element types the regularizers accept: `f32` and `f64`.

use ndarray::LinalgScalar;
use std::fmt::Debug;

pub(crate) mod sealed {
    /// The crate's type dispatch, out of the public trait's sight: kernels written
    /// for `f32` alone (the unpacked products, the vector transposes) are reached
    /// from generic code through these.
    pub trait Sealed: Sized {
        /// `s` itself where the element type is `f32`.
        fn as_f32(s: &[Self]) -> Option<&[f32]>;
        /// `s` itself where the element type is `f32`, mutably.
        fn as_f32_mut(s: &mut [Self]) -> Option<&mut [f32]>;
        /// `v` itself where the element type is `f32`, as a vector.
        fn as_f32_vec(v: &mut Vec<Self>) -> Option<&mut Vec<f32>>;
    }

    impl Sealed for f32 {
        #[inline(always)]
        fn as_f32(s: &[f32]) -> Option<&[f32]> {
            Some(s)
        }
        #[inline(always)]
        fn as_f32_mut(s: &mut [f32]) -> Option<&mut [f32]> {
            Some(s)
        }
        #[inline(always)]
        fn as_f32_vec(v: &mut Vec<f32>) -> Option<&mut Vec<f32>> {
            Some(v)
        }
    }

    impl Sealed for f64 {
        #[inline(always)]
        fn as_f32(_: &[f64]) -> Option<&[f32]> {
            None
        }
        #[inline(always)]
        fn as_f32_mut(_: &mut [f64]) -> Option<&mut [f32]> {
            None
        }
        #[inline(always)]
        fn as_f32_vec(_: &mut Vec<f64>) -> Option<&mut Vec<f32>> {
            None
        }
    }
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
    /// Significand bits (24 for `f32`, 53 for `f64`): what the crate decides
    /// precision by (e.g. `f32` input whose pairs are computed in `f64`).
    const MANTISSA_DIGITS: u32;
    /// Converts to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Converts from `f64` (rounds to nearest).
    fn from_f64(v: f64) -> Self;
}

impl Real for f32 {
    const NAME: &'static str = "f32";
    const MANTISSA_DIGITS: u32 = f32::MANTISSA_DIGITS;
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
    const MANTISSA_DIGITS: u32 = f64::MANTISSA_DIGITS;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
}
