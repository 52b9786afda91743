//! Times each test of uniformity (statistic plus asymptotic p-value) on `n` Gaussian
//! rows in `d` dimensions: `cargo run --release --example uniformity_timing [n] [d]`.
//! The first run of a test in a dimension includes its set-up (kernel tables,
//! Sobolev weights); the second shows the steady state.

use std::time::Instant;
use unisphere::Kernel;
use unisphere::ndarray::Array2;
use unisphere::uniformity::UniformityTest;

fn main() -> Result<(), unisphere::Error> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (n, d) = (
        args.first().copied().unwrap_or(10_000),
        args.get(1).copied().unwrap_or(64),
    );
    use rand::{RngExt, SeedableRng, rngs::Xoshiro256PlusPlus};
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let z =
        Array2::from_shape_simple_fn((n, d), || rng.sample::<f64, _>(rand_distr::StandardNormal));
    let tests = [
        UniformityTest::rayleigh(),
        UniformityTest::bingham(),
        UniformityTest::ajne(),
        UniformityTest::gine_gn(),
        UniformityTest::gine_fn(),
        UniformityTest::bakshaev(),
        UniformityTest::riesz(0.5)?,
        UniformityTest::pcvm(),
        UniformityTest::pad(),
        UniformityTest::prt(1.0 / 3.0)?,
        UniformityTest::poisson(0.5)?,
        UniformityTest::softmax(1.0)?,
        UniformityTest::sobolev(&[1.0, 0.5, 0.25, 0.125])?,
        UniformityTest::from_kernel(&Kernel::heat(d, 5.0 / d as f64)?)?,
    ];
    println!("n = {n}, d = {d}");
    for t in &tests {
        let start = Instant::now();
        let first = t.run(z.view())?;
        let cold = start.elapsed();
        let start = Instant::now();
        let r = t.run(z.view())?;
        let warm = start.elapsed();
        assert_eq!(first, r);
        println!(
            "{:<22} first {:>8.1} ms  again {:>8.1} ms  statistic {:>12.6}  p {:.4}  {:?}",
            r.test,
            cold.as_secs_f64() * 1e3,
            warm.as_secs_f64() * 1e3,
            r.statistic,
            r.p_value,
            r.method
        );
    }
    Ok(())
}
