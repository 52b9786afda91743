//! Speed of `loss_and_grad` for every regularizer, f32, against the bare GEMM floor
//! (`X X^T` plus `W X` with ndarray/matrixmultiply, the crate the engine uses, split
//! into row blocks over the same rayon threads) measured in the same run.
//!
//! `cargo bench --bench regularizers` runs the SSL batch sizes N in {16, 128, 256,
//! 512, 1024} x d in {64, 256, 1024}, then N in {4096, 16384} x d in {128, 256, 1024};
//! `UNISPHERE_BENCH_SIZES=4096x256,1024x128` picks sizes.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use rayon::prelude::*;
use std::hint::black_box;
use std::time::Duration;
use unisphere::ndarray::{Array2, Axis, linalg::general_mat_mul};
use unisphere::{
    KdeKl, Kernel, Ksd, Mmd, Regularizer, Sigreg, SigregIntegrated, Susreg, SusregIntegrated,
};

fn sizes() -> Vec<(usize, usize)> {
    match std::env::var("UNISPHERE_BENCH_SIZES") {
        Ok(s) => s
            .split(',')
            .filter_map(|p| {
                let (n, d) = p.split_once('x')?;
                Some((n.trim().parse().ok()?, d.trim().parse().ok()?))
            })
            .collect(),
        Err(_) => [16, 128, 256, 512, 1024]
            .iter()
            .flat_map(|&n| [64, 256, 1024].map(|d| (n, d)))
            .chain(
                [4096, 16384]
                    .iter()
                    .flat_map(|&n| [128, 256, 1024].map(|d| (n, d))),
            )
            .collect(),
    }
}

fn embeddings(n: usize, d: usize) -> Array2<f32> {
    let mut rng = StdRng::seed_from_u64(1);
    Array2::from_shape_simple_fn((n, d), || rng.sample::<f32, _>(rand_distr::StandardNormal))
}

fn regularizers(d: usize) -> Vec<(&'static str, Box<dyn Regularizer<f32>>)> {
    let df = d as f64;
    vec![
        (
            "mmd_heat",
            Box::new(Mmd::new(Kernel::heat(d, 5.0 / df).unwrap())),
        ),
        (
            "ksd_heat",
            Box::new(Ksd::new(Kernel::heat(d, 5.0 / df).unwrap())),
        ),
        (
            "kl_heat",
            Box::new(KdeKl::new(Kernel::heat(d, 2.0 / df).unwrap()).unwrap()),
        ),
        ("sigreg_twin", Box::new(SigregIntegrated::new())),
        ("susreg_twin", Box::new(SusregIntegrated::new())),
        ("sigreg_m256", Box::new(Sigreg::new(256, 0).unwrap())),
        ("susreg_m256", Box::new(Susreg::new(256, 0).unwrap())),
        ("susreg_m1024", Box::new(Susreg::new(1024, 0).unwrap())),
    ]
}

fn bench(c: &mut Criterion) {
    for (n, d) in sizes() {
        let mut group = c.benchmark_group(format!("N{n}_d{d}"));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(if n >= 16384 { 20 } else { 4 }));
        let z = embeddings(n, d);
        // The GEMM floor: the Gram matrix and one N x N by N x d product, each
        // computed in row blocks in parallel on the same threads (blocks of N/4
        // rows, at most 256: four or more blocks from N = 128).
        let block = n.div_ceil(4).next_power_of_two().clamp(16, 256);
        let mut gram = Array2::<f32>::zeros((n, n));
        let mut wx = Array2::<f32>::zeros((n, d));
        group.bench_function(BenchmarkId::new("gemm_floor", ""), |b| {
            b.iter(|| {
                let blocks: Vec<_> = gram.axis_chunks_iter_mut(Axis(0), block).collect();
                blocks.into_par_iter().enumerate().for_each(|(k, mut g)| {
                    let rows =
                        z.slice(unisphere::ndarray::s![k * block..k * block + g.nrows(), ..]);
                    general_mat_mul(1.0, &rows, &z.t(), 0.0, &mut g);
                });
                let blocks: Vec<_> = wx.axis_chunks_iter_mut(Axis(0), block).collect();
                blocks.into_par_iter().enumerate().for_each(|(k, mut o)| {
                    let rows =
                        gram.slice(unisphere::ndarray::s![k * block..k * block + o.nrows(), ..]);
                    general_mat_mul(1.0, &rows, &z, 0.0, &mut o);
                });
                black_box(wx[[0, 0]])
            })
        });
        drop(gram);
        for (name, mut reg) in regularizers(d) {
            group.bench_function(BenchmarkId::new(name, ""), |b| {
                b.iter(|| black_box(reg.loss_and_grad(z.view()).unwrap().0))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
