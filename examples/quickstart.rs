//! Quickstart: the MMD uniformity loss of a clustered batch, with a heat and a
//! bandlimited kernel, and the norm of its gradient.
//!
//! Run: `cargo run --release --example quickstart`

use rand::{RngExt, SeedableRng, rngs::StdRng};
use rand_distr::StandardNormal;
use unisphere::{Kernel, Mmd, Regularizer, ndarray::Array2};

fn main() -> Result<(), unisphere::Error> {
    let (n, d, clusters) = (1024, 128, 8);
    let mut rng = StdRng::seed_from_u64(0);
    let centres: Array2<f32> =
        Array2::from_shape_simple_fn((clusters, d), || rng.sample(StandardNormal));
    // A clustered batch: each embedding is its cluster's centre plus small noise.
    let z = Array2::from_shape_fn((n, d), |(i, j)| {
        centres[[i % clusters, j]] + 0.3 * rng.sample::<f32, _>(StandardNormal)
    });

    let kernels = [Kernel::heat(d, 5.0 / d as f64)?, Kernel::bandlimited(d, 2)?];
    for kernel in kernels {
        let mut mmd = Mmd::new(kernel);
        let (loss, grad) = mmd.loss_and_grad(z.view())?;
        let grad_norm = grad.iter().map(|g| (*g as f64).powi(2)).sum::<f64>().sqrt();
        println!(
            "{:<28} loss = {loss:.6}   |grad| = {grad_norm:.3e}",
            Regularizer::<f32>::name(&mmd)
        );
    }
    Ok(())
}
