//! Quickstart: what unisphere is for. A clustered batch and a uniform batch of
//! embeddings (N = 1024, d = 128, f32) go through every regularizer of the crate:
//! its loss, the norm of its gradient and its time per call; then one test of
//! uniformity (PCvM, asymptotic p-value) says how uniform each batch is.
//!
//! Run: `cargo run --release --example quickstart`

use rand::{RngExt, SeedableRng, rngs::StdRng};
use rand_distr::StandardNormal;
use std::time::Instant;
use unisphere::uniformity::UniformityTest;
use unisphere::{
    KdeKl, Kernel, Ksd, Mmd, Regularizer, Sigreg, SigregIntegrated, Susreg, SusregIntegrated,
    ndarray::Array2,
};

/// Timed calls per objective and batch, after one untimed call (which builds tables).
const TIMED_CALLS: usize = 5;

fn main() -> Result<(), unisphere::Error> {
    let (n, d, clusters) = (1024, 128, 8);
    let df = d as f64;
    let mut rng = StdRng::seed_from_u64(0);
    let centres: Array2<f32> =
        Array2::from_shape_simple_fn((clusters, d), || rng.sample(StandardNormal));
    // A clustered batch (each embedding its cluster's centre plus small noise), as
    // an encoder on its way to collapse produces, and a uniform one (Gaussian rows,
    // uniform on the sphere once normalised).
    let clustered = Array2::from_shape_fn((n, d), |(i, j)| {
        centres[[i % clusters, j]] + 0.3 * rng.sample::<f32, _>(StandardNormal)
    });
    let uniform: Array2<f32> = Array2::from_shape_simple_fn((n, d), || rng.sample(StandardNormal));
    let batches = [("clustered", &clustered), ("uniform", &uniform)];

    let mut objectives: Vec<Box<dyn Regularizer<f32>>> = vec![
        Box::new(Mmd::new(Kernel::heat(d, 5.0 / df)?)),
        Box::new(Mmd::new(Kernel::bandlimited(d, 2)?)),
        Box::new(Mmd::new(Kernel::susreg_induced(d)?)),
        Box::new(Ksd::new(Kernel::heat(d, 5.0 / df)?)),
        Box::new(KdeKl::new(Kernel::heat(d, 2.0 / df)?)?),
        Box::new(Sigreg::new(256, 0)?),
        Box::new(SigregIntegrated::new()),
        Box::new(Susreg::new(1024, 0)?),
        Box::new(SusregIntegrated::new()),
    ];
    println!(
        "N = {n}, d = {d}, f32. MMD, KSD and KDE-KL on the paper scale (total collapse = 1); \
         sliced statistics draw fresh directions every call; ms/call = mean of {TIMED_CALLS} \
         calls after a first one."
    );
    let header = format!(
        "{:<34} {:>10} {:>10} {:>8}   {:>10} {:>10} {:>8}",
        "objective", "clustered", "|grad|", "ms/call", "uniform", "|grad|", "ms/call"
    );
    println!("{header}\n{}", "-".repeat(header.len()));
    for reg in &mut objectives {
        let mut line = format!("{:<34}", reg.name());
        for (_, z) in batches {
            reg.loss_and_grad(z.view())?;
            let clock = Instant::now();
            let mut last = None;
            for _ in 0..TIMED_CALLS {
                last = Some(reg.loss_and_grad(z.view())?);
            }
            let ms = 1e3 * clock.elapsed().as_secs_f64() / TIMED_CALLS as f64;
            let (loss, grad) = last.expect("TIMED_CALLS >= 1");
            let norm = grad
                .iter()
                .map(|g| f64::from(*g).powi(2))
                .sum::<f64>()
                .sqrt();
            line += &format!(" {loss:>10.4e} {norm:>10.3e} {ms:>8.2}  ");
        }
        println!("{}", line.trim_end());
    }

    println!();
    let test = UniformityTest::pcvm();
    for (label, z) in batches {
        let r = test.run(z.view())?;
        println!(
            "{} test of uniformity, {label} batch: statistic {:.4}, p = {:.3e}",
            r.test, r.statistic, r.p_value
        );
    }
    println!(
        "\nMore: examples/particle_flow.rs (regularizers as particle flows), \
         compare_sliced_vs_full.rs (gradient noise and cost), ssl_study (SSL \
         training with candle, --features candle-example), scale.rs and uniformity_timing.rs."
    );
    Ok(())
}
