//! The variance-versus-cost trade-off in one run: criterion times one
//! `loss_and_grad` of each regularizer at N = 1024, d = 128 (f32), and the bench
//! prints, next to it, the gradient's relative variance over 32 calls
//! (`unisphere::diagnostics::gradient_variance`): how many slices, at what time,
//! buy the twin's zero variance.
//!
//! `cargo bench --bench gradient_variance`

use criterion::{Criterion, criterion_group, criterion_main};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::hint::black_box;
use std::time::Duration;
use unisphere::diagnostics::gradient_variance;
use unisphere::ndarray::Array2;
use unisphere::{Kernel, Mmd, Regularizer, Sigreg, SigregIntegrated, Susreg, SusregIntegrated};

const N: usize = 1024;
const D: usize = 128;

fn batch() -> Array2<f32> {
    let mut rng = StdRng::seed_from_u64(7);
    let centres: Array2<f32> =
        Array2::from_shape_simple_fn((8, D), || rng.sample(rand_distr::StandardNormal));
    Array2::from_shape_fn((N, D), |(i, j)| {
        centres[[i % 8, j]] + 0.5 * rng.sample::<f32, _>(rand_distr::StandardNormal)
    })
}

fn regularizers() -> Vec<(String, Box<dyn Regularizer<f32>>)> {
    let mut out: Vec<(String, Box<dyn Regularizer<f32>>)> = Vec::new();
    for m in [16, 64, 256, 1024, 4096] {
        out.push((format!("sigreg_m{m}"), Box::new(Sigreg::new(m, 0).unwrap())));
    }
    out.push(("sigreg_twin".into(), Box::new(SigregIntegrated::new())));
    for m in [16, 64, 256, 1024, 4096] {
        out.push((format!("susreg_m{m}"), Box::new(Susreg::new(m, 0).unwrap())));
    }
    out.push(("susreg_twin".into(), Box::new(SusregIntegrated::new())));
    out.push((
        "mmd_heat".into(),
        Box::new(Mmd::new(Kernel::heat(D, 5.0 / D as f64).unwrap())),
    ));
    out
}

fn bench(c: &mut Criterion) {
    let z = batch();
    let mut group = c.benchmark_group(format!("gradient_N{N}_d{D}"));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_secs(2));
    let mut rows = Vec::new();
    for (name, mut reg) in regularizers() {
        group.bench_function(&name, |b| {
            b.iter(|| black_box(reg.loss_and_grad(z.view()).unwrap().0))
        });
        let r = gradient_variance(reg.as_mut(), z.view(), 32).unwrap();
        rows.push((name, r.relative_variance, 1e3 * r.seconds_per_call));
    }
    group.finish();
    println!(
        "\n{:<14} {:>22} {:>12}",
        "regularizer", "gradient rel. variance", "ms per call"
    );
    for (name, var, ms) in rows {
        println!("{name:<14} {var:>22.4e} {ms:>12.2}");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
