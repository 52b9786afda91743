//! Speed of the device path (`unisphere::burn::device`, loss and gradient) on burn's
//! CPU backend (Flex), against the host path (`Regularizer::loss_and_grad` on the
//! same rows) measured in the same run, for heat MMD, KDE-KL, SUSReg's twin and the
//! sliced SIGReg (256 directions, LeJEPA's) and SUSReg (1024, SPHERE-JEPA's).
//!
//! `cargo bench --features burn-cpu --bench device` runs N in {256, 1024, 2048} at
//! d = 64; `UNISPHERE_BENCH_SIZES=4096x256,1024x128` picks sizes. After the
//! criterion groups it prints `device / host` for every case (the ratio of the
//! medians of a few timed calls each), so regressions of either path show.

use burn::tensor::{Device, Tensor, TensorData};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::hint::black_box;
use std::time::{Duration, Instant};
use unisphere::burn::device::{DeviceObjective, OnDevice};
use unisphere::ndarray::Array2;
use unisphere::{KdeKl, Kernel, Mmd, Sigreg, Susreg, SusregIntegrated};

fn sizes() -> Vec<(usize, usize)> {
    match std::env::var("UNISPHERE_BENCH_SIZES") {
        Ok(s) => s
            .split(',')
            .filter_map(|p| {
                let (n, d) = p.split_once('x')?;
                Some((n.trim().parse().ok()?, d.trim().parse().ok()?))
            })
            .collect(),
        Err(_) => vec![(256, 64), (1024, 64), (2048, 64)],
    }
}

fn embeddings(n: usize, d: usize) -> Array2<f32> {
    let mut rng = StdRng::seed_from_u64(1);
    Array2::from_shape_simple_fn((n, d), || rng.sample::<f32, _>(rand_distr::StandardNormal))
}

/// The host path of an objective: the loss (the gradient is computed and dropped).
type HostCall = Box<dyn FnMut(&Array2<f32>) -> f64>;
/// The device path of an objective: the gradient.
type DeviceCall = Box<dyn FnMut(&Tensor<2>) -> Tensor<2>>;

/// One case: the name, a host call and a device call of the same objective.
struct Case {
    name: &'static str,
    host: HostCall,
    device: DeviceCall,
}

fn case<R: DeviceObjective + Clone + 'static>(name: &'static str, reg: R) -> Case {
    let mut host = reg.clone();
    let mut device = OnDevice::new(reg);
    Case {
        name,
        host: Box::new(move |z| host.loss_and_grad(z.view()).expect("host path").0),
        device: Box::new(move |z| device.loss_and_grad(z).expect("device path").1),
    }
}

fn cases(d: usize) -> Vec<Case> {
    let df = d as f64;
    vec![
        case("mmd_heat", Mmd::new(Kernel::heat(d, 5.0 / df).unwrap())),
        case(
            "kl_heat",
            KdeKl::new(Kernel::heat(d, 2.0 / df).unwrap()).unwrap(),
        ),
        case("susreg_twin", SusregIntegrated::new()),
        case("sigreg", Sigreg::new(256, 0).unwrap()),
        case("susreg", Susreg::new(1024, 0).unwrap()),
    ]
}

/// The median of `runs` timed calls of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut t: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    t.sort();
    t[runs / 2]
}

fn bench(c: &mut Criterion) {
    let device = Device::flex();
    let mut ratios = Vec::new();
    for (n, d) in sizes() {
        let z = embeddings(n, d);
        let zt = Tensor::<2>::from_data(
            TensorData::new(z.iter().copied().collect(), [n, d]),
            &device,
        );
        let mut group = c.benchmark_group(format!("device_n{n}_d{d}"));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(2));
        group.warm_up_time(Duration::from_millis(300));
        for mut case in cases(d) {
            group.bench_with_input(BenchmarkId::new(case.name, "host"), &z, |b, z| {
                b.iter(|| black_box((case.host)(z)))
            });
            group.bench_with_input(BenchmarkId::new(case.name, "device"), &zt, |b, zt| {
                // Reading the gradient back waits for the device to finish.
                b.iter(|| black_box((case.device)(zt).into_data()))
            });
            let host = median(5, || {
                black_box((case.host)(&z));
            });
            let on_device = median(5, || {
                black_box((case.device)(&zt).into_data());
            });
            ratios.push((case.name, n, d, host, on_device));
        }
        group.finish();
    }
    println!("\ndevice path (burn Flex) / host path, loss + gradient, f32:");
    println!(
        "{:<12} {:>6} {:>5} {:>12} {:>12} {:>7}",
        "objective", "N", "d", "host", "device", "ratio"
    );
    for (name, n, d, host, on_device) in ratios {
        println!(
            "{name:<12} {n:>6} {d:>5} {:>10.2}ms {:>10.2}ms {:>7.2}",
            host.as_secs_f64() * 1e3,
            on_device.as_secs_f64() * 1e3,
            on_device.as_secs_f64() / host.as_secs_f64()
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
