//! Measurements of a regularizer's randomness: the variance of its gradient over
//! repeated calls (fresh random directions for sliced regularizers), and its cost.

use crate::error::{Result, invalid};
use crate::real::Real;
use crate::regularizer::Regularizer;
use ndarray::{Array2, ArrayView2};
use std::time::Instant;

/// What [`gradient_variance`] measured.
#[derive(Debug, Clone)]
pub struct GradientVariance {
    /// The gradient averaged over the calls (in `f64`).
    pub mean_gradient: Array2<f64>,
    /// `E|g - mean g|^2 / |mean g|^2` over the calls (Frobenius norms); exactly 0
    /// for a deterministic regularizer.
    pub relative_variance: f64,
    /// The loss averaged over the calls.
    pub mean_loss: f64,
    /// The standard deviation of the loss over the calls.
    pub loss_std: f64,
    /// Wall-clock seconds per `loss_and_grad` call.
    pub seconds_per_call: f64,
    /// The number of calls.
    pub draws: usize,
}

/// Calls `reg.loss_and_grad(z)` `draws` times and reports the mean gradient, the
/// gradient's relative variance `E|g - mean g|^2 / |mean g|^2`, the loss's mean and
/// spread, and the time per call. Sums are accumulated in `f64` (Welford).
///
/// Errors: `draws == 0`, or any error of the regularizer.
///
/// ```
/// use unisphere::diagnostics::gradient_variance;
/// use unisphere::{Sigreg, SigregIntegrated, ndarray::Array2};
/// let z = Array2::from_shape_fn((64, 8), |(i, j)| ((i * 7 + j * 5) % 11) as f64 / 3.0 - 1.5);
/// let sliced = gradient_variance(&mut Sigreg::new(16, 0)?, z.view(), 8)?;
/// let twin = gradient_variance(&mut SigregIntegrated::new(), z.view(), 8)?;
/// assert!(sliced.relative_variance > 0.0);
/// assert_eq!(twin.relative_variance, 0.0);
/// # Ok::<(), unisphere::Error>(())
/// ```
pub fn gradient_variance<F: Real, R: Regularizer<F> + ?Sized>(
    reg: &mut R,
    z: ArrayView2<F>,
    draws: usize,
) -> Result<GradientVariance> {
    if draws == 0 {
        return Err(invalid(
            "draws",
            draws,
            "at least 1 call (2 or more for a variance)",
        ));
    }
    let mut mean = Array2::<f64>::zeros(z.dim());
    let mut sq_dev = 0.0; // sum over calls of |g - running mean|^2 terms (Welford)
    let (mut loss_mean, mut loss_m2) = (0.0f64, 0.0f64);
    let mut seconds = 0.0;
    for k in 1..=draws {
        let start = Instant::now();
        let (loss, g) = reg.loss_and_grad(z)?;
        seconds += start.elapsed().as_secs_f64();
        let kf = k as f64;
        let dl = loss - loss_mean;
        loss_mean += dl / kf;
        loss_m2 += dl * (loss - loss_mean);
        // Welford on the matrix: sum |g - m_old| . |g - m_new|
        for (m, gv) in mean.iter_mut().zip(g.iter()) {
            let gv = gv.to_f64();
            let delta = gv - *m;
            *m += delta / kf;
            sq_dev += delta * (gv - *m);
        }
    }
    let norm2: f64 = mean.iter().map(|v| v * v).sum();
    let variance = sq_dev / draws as f64;
    let relative_variance = if variance == 0.0 {
        0.0
    } else {
        variance / norm2
    };
    Ok(GradientVariance {
        mean_gradient: mean,
        relative_variance,
        mean_loss: loss_mean,
        loss_std: (loss_m2 / draws as f64).sqrt(),
        seconds_per_call: seconds / draws as f64,
        draws,
    })
}
