//! Time and peak memory of one heat-MMD `loss_and_grad` at a large batch, f32.
//!
//! `cargo run --release --example scale -- --n 32768 --d 128`
//! Peak resident memory is read from `/proc/self/status` (Linux).

use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::time::Instant;
use unisphere::{Kernel, Mmd, Regularizer, ndarray::Array2};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set size in MiB (`VmHWM`), if the OS reports it.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() -> Result<(), unisphere::Error> {
    let (n, d) = (arg("--n", 32768), arg("--d", 128));
    let mut rng = StdRng::seed_from_u64(0);
    let z =
        Array2::from_shape_simple_fn((n, d), || rng.sample::<f32, _>(rand_distr::StandardNormal));
    let mut mmd = Mmd::new(Kernel::heat(d, 5.0 / d as f64)?);
    let start = Instant::now();
    let (loss, grad) = mmd.loss_and_grad(z.view())?;
    let secs = start.elapsed().as_secs_f64();
    let input_mib = (n * d * 4) as f64 / (1 << 20) as f64;
    println!(
        "heat MMD N={n} d={d} f32: loss {loss:.3e}, |grad|_max {:.3e}, {secs:.2} s, peak RSS {} MiB (input {input_mib:.0} MiB; an N x N f32 matrix would be {:.0} MiB)",
        grad.iter().fold(0.0f32, |m, g| m.max(g.abs())),
        peak_rss_mib().map_or("n/a".into(), |v| format!("{v:.0}")),
        (n * n * 4) as f64 / (1 << 20) as f64,
    );
    Ok(())
}
