//! The pairwise engine through the public objectives: bit-for-bit determinism across
//! thread counts, tile boundaries, and the accuracy of the native f32 path.

use crate::common;

use common::*;
use ndarray::Array2;
use unisphere::{
    KdeKl, Kernel, Ksd, Mmd, Real, Regularizer, Scale, SigregIntegrated, SusregIntegrated,
};

fn objectives<F: Real>(d: usize) -> Vec<Box<dyn Regularizer<F> + Send>> {
    let df = d as f64;
    vec![
        Box::new(Mmd::new(Kernel::heat(d, 5.0 / df).unwrap())),
        Box::new(Ksd::new(Kernel::heat(d, 5.0 / df).unwrap())),
        Box::new(KdeKl::new(Kernel::heat(d, 2.0 / df).unwrap()).unwrap()),
        Box::new(SigregIntegrated::new()),
        Box::new(SusregIntegrated::new()),
    ]
}

fn run_with_threads<F: Real>(threads: usize, z: &Array2<F>) -> Vec<(f64, Array2<F>)> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        objectives::<F>(z.ncols())
            .into_iter()
            .map(|mut r| r.loss_and_grad(z.view()).unwrap())
            .collect()
    })
}

/// Every objective's loss and gradient on 1, 2 and 3 threads, compared bit for bit.
fn assert_bit_identical_across_threads<F: Real>(z: &Array2<F>, bits: impl Fn(F) -> u64) {
    let one = run_with_threads(1, z);
    for threads in [2, 3] {
        let other = run_with_threads(threads, z);
        for (a, b) in one.iter().zip(&other) {
            assert_eq!(a.0.to_bits(), b.0.to_bits(), "{threads} threads: loss");
            assert!(
                a.1.iter().zip(&b.1).all(|(&x, &y)| bits(x) == bits(y)),
                "{threads} threads: gradient"
            );
        }
    }
}

#[test]
fn results_are_bit_identical_for_one_and_two_threads() {
    // 700 rows = 3 tiles: several rounds of the schedule run in parallel; 700 x 48
    // entries: the rows are normalised (and gradients chained) in parallel blocks.
    let z = clustered(700, 48, 5, 0.4, 3);
    assert_bit_identical_across_threads(&z, f64::to_bits);
    // f32 goes through the crate's SIMD tile products (AVX-512, AVX2 or NEON, as
    // the CPU has them): the same bits on any thread count too.
    let z32 = clustered(700, 64, 5, 0.4, 4).mapv(|v| v as f32);
    assert_bit_identical_across_threads(&z32, |v: f32| u64::from(v.to_bits()));
}

#[test]
fn tiled_results_match_a_direct_double_sum() {
    // Brute-force MMD over all pairs with the kernel's truncated series (what MMD
    // uses; `Kernel::eval` is the infinite series), across tile boundaries.
    for n in [255usize, 256, 257, 600] {
        let d = 6;
        let z = clustered(n, d, 3, 0.8, n as u64);
        let kernel = Kernel::heat(d, 0.3).unwrap();
        let x: Vec<Vec<f64>> = z
            .rows()
            .into_iter()
            .map(|r| {
                let nr = r.dot(&r).sqrt();
                r.iter().map(|v| v / nr).collect()
            })
            .collect();
        let mut total = 0.0;
        for xi in &x {
            for xj in &x {
                let c: f64 = xi.iter().zip(xj).map(|(a, b)| a * b).sum();
                total += kernel.series().eval(c) - kernel.uniform_mean();
            }
        }
        let want = total / (n * n) as f64;
        let got = Mmd::new(kernel)
            .with_scale(Scale::Raw)
            .loss(z.view())
            .unwrap();
        assert!(
            (got - want).abs() < 1e-12 * want.abs().max(1e-3),
            "n={n}: {got} vs {want}"
        );
    }
}

/// One objective, boxed once for f64 and once for f32 input.
type Pair = (Box<dyn Regularizer<f64>>, Box<dyn Regularizer<f32>>);

/// The same objectives, once for f64 and once for f32 input.
fn both(d: usize) -> Vec<Pair> {
    let df = d as f64;
    let heat = || Kernel::heat(d, 5.0 / df).unwrap();
    let kl = || KdeKl::new(Kernel::heat(d, 2.0 / df).unwrap()).unwrap();
    vec![
        (Box::new(Mmd::new(heat())), Box::new(Mmd::new(heat()))),
        (Box::new(Ksd::new(heat())), Box::new(Ksd::new(heat()))),
        (Box::new(kl()), Box::new(kl())),
        (
            Box::new(SigregIntegrated::new()),
            Box::new(SigregIntegrated::new()),
        ),
        (
            Box::new(SusregIntegrated::new()),
            Box::new(SusregIntegrated::new()),
        ),
    ]
}

/// The native f32 path (f32 GEMMs, f64 accumulation, f32 gradient) against f64:
/// losses agree to 2e-6 relative, gradients to 1e-4 of their largest entry.
#[test]
fn f32_path_accuracy_against_f64() {
    for (n, d) in [(300usize, 24usize), (600, 128)] {
        let z = gaussian(n, d, 11) + 0.3;
        let z32 = z.mapv(|v| v as f32);
        for (mut r64, mut r32) in both(d) {
            let (v64, g64) = r64.loss_and_grad(z.view()).unwrap();
            let (v32, g32) = r32.loss_and_grad(z32.view()).unwrap();
            let name = r64.name();
            assert!(
                (v32 - v64).abs() <= 2e-6 * v64.abs().max(1e-3),
                "{name} d={d}: {v32} vs {v64}"
            );
            let err = max_abs(&(&g32.mapv(f64::from) - &g64)) / max_abs(&g64);
            assert!(err < 1e-4, "{name} d={d}: gradient rel err {err:e}");
        }
    }
}
