//! How close the engine comes to the CPU's peak: heat MMD's loss and gradient
//! (`f32`, `d = 256`) in GFLOP/s, counting the engine's `3 N^2 d` flops (the
//! Gram matrix by symmetry, and `W X` twice), as a fraction of the `f32`
//! fused-multiply-add peak measured on the same threads just before (a loop of 12
//! independent FMA chains per thread, in the widest vectors the product kernel
//! uses: AVX-512, AVX2 or NEON). Rounds alternate the peak and the objective, so
//! that both see the machine in the same state; the medians are printed, and the
//! best of the rounds (fastest call against the highest peak), which a neighbour's
//! load on a shared machine disturbs least.
//!
//! ```sh
//! RAYON_NUM_THREADS=2 cargo run --release --example peak_fraction
//! RAYON_NUM_THREADS=2 cargo run --release --example peak_fraction -- --sizes 1024,4096 --rounds 5
//! UNISPHERE_SIMD=avx2 cargo run --release --example peak_fraction   # the AVX2 path on an AVX-512 CPU
//! cargo run --release --example peak_fraction -- --csv rounds.csv      # also append every round
//! ```

use rand::{RngExt, SeedableRng, rngs::StdRng};
use rayon::prelude::*;
use std::time::Instant;
use unisphere::ndarray::Array2;
use unisphere::{Kernel, Mmd, Regularizer};

/// Independent FMA chains per thread (enough to cover the latency of two units).
const CHAINS: usize = 12;

/// The vector width the product kernel uses here, in `f32` lanes, and its name.
fn isa() -> (usize, &'static str) {
    #[cfg(target_arch = "x86_64")]
    {
        let cap = std::env::var("UNISPHERE_SIMD").unwrap_or_default();
        if cap != "avx2" && cap != "none" && std::arch::is_x86_feature_detected!("avx512f") {
            return (16, "AVX-512");
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return (8, "AVX2");
        }
    }
    #[cfg(target_arch = "aarch64")]
    return (4, "NEON");
    #[allow(unreachable_code)]
    (1, "scalar")
}

/// `iters` rounds of [`CHAINS`] FMAs on `lanes`-wide vectors; returns a value that
/// depends on every chain, so that nothing is optimised away.
fn fma_loop(iters: u64, lanes: usize) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if lanes == 16 {
            // SAFETY: AVX-512F is present (`isa`).
            return unsafe { x86::fma512(iters) };
        }
        if lanes == 8 {
            // SAFETY: AVX2 and FMA are present (`isa`).
            return unsafe { x86::fma256(iters) };
        }
    }
    #[cfg(target_arch = "aarch64")]
    if lanes == 4 {
        return arm::fma128(iters);
    }
    let mut acc = [1.0f32; CHAINS];
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = a.mul_add(0.999_999, 1e-7);
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::CHAINS;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn fma256(iters: u64) -> f32 {
        let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut acc = [_mm256_set1_ps(1.0); CHAINS];
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut out = [0.0f32; 8];
        let sum = acc
            .iter()
            .fold(_mm256_setzero_ps(), |s, x| _mm256_add_ps(s, *x));
        // SAFETY: `out` holds 8 floats.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), sum) };
        out.iter().sum()
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn fma512(iters: u64) -> f32 {
        let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        let mut acc = [_mm512_set1_ps(1.0); CHAINS];
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        _mm512_reduce_add_ps(
            acc.iter()
                .fold(_mm512_setzero_ps(), |s, x| _mm512_add_ps(s, *x)),
        )
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::CHAINS;
    use std::arch::aarch64::*;

    pub fn fma128(iters: u64) -> f32 {
        // SAFETY: NEON is part of aarch64.
        unsafe {
            let (a, b) = (vdupq_n_f32(0.999_999), vdupq_n_f32(1e-7));
            let mut acc = [vdupq_n_f32(1.0); CHAINS];
            for _ in 0..iters {
                for x in acc.iter_mut() {
                    *x = vfmaq_f32(b, *x, a);
                }
            }
            vaddvq_f32(acc.iter().fold(vdupq_n_f32(0.0), |s, x| vaddq_f32(s, *x)))
        }
    }
}

/// The `f32` FMA peak of rayon's threads in GFLOP/s: every thread runs the loop at
/// once for about 0.2 s.
fn peak(lanes: usize) -> f64 {
    let threads = rayon::current_num_threads();
    let iters: u64 = 20_000_000 / lanes as u64 * 16;
    let start = Instant::now();
    let sink: f32 = (0..threads)
        .into_par_iter()
        .map(|_| fma_loop(iters, lanes))
        .sum();
    let secs = start.elapsed().as_secs_f64();
    std::hint::black_box(sink);
    (threads as f64 * iters as f64 * (CHAINS * lanes * 2) as f64) / secs / 1e9
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut sizes, mut rounds, d) = (vec![1024usize, 4096], 5usize, 256usize);
    let mut csv: Option<std::path::PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sizes" => {
                let list = args.next().ok_or("--sizes needs a list, e.g. 1024,4096")?;
                sizes = list.split(',').map(str::parse).collect::<Result<_, _>>()?;
            }
            "--rounds" => rounds = args.next().ok_or("--rounds needs a number")?.parse()?,
            "--csv" => csv = Some(args.next().ok_or("--csv needs a file")?.into()),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; use [--sizes N,N] [--rounds K] [--csv FILE]"
                )
                .into());
            }
        }
    }
    let (lanes, name) = isa();
    let threads = rayon::current_num_threads();
    let mut rows = String::new();
    println!(
        "peak_fraction: heat MMD loss and gradient, f32, d = {d}, {threads} threads, {name} ({lanes} f32 lanes), {rounds} rounds"
    );
    println!(
        "| N | time (ms) | GFLOP/s (3 N^2 d) | FMA peak (GFLOP/s) | fraction of peak | best round |"
    );
    println!("|---|---|---|---|---|---|");
    for &n in &sizes {
        let mut rng = StdRng::seed_from_u64(1);
        let z = Array2::from_shape_simple_fn((n, d), || {
            rng.sample::<f32, _>(rand_distr::StandardNormal)
        });
        let mut reg = Mmd::new(Kernel::heat(d, 5.0 / d as f64)?);
        let mut grad = Array2::<f32>::zeros((n, d));
        reg.loss_and_grad_into(z.view(), grad.view_mut(), 1.0)?; // warm-up: buffers, tables
        let calls = (2.0e10 / (3.0 * (n * n * d) as f64)).clamp(1.0, 200.0) as usize;
        let (mut times, mut peaks, mut fractions) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let p = peak(lanes);
            let start = Instant::now();
            for _ in 0..calls {
                reg.loss_and_grad_into(z.view(), grad.view_mut(), 1.0)?;
            }
            let t = start.elapsed().as_secs_f64() / calls as f64;
            let gflops = 3.0 * (n * n * d) as f64 / t / 1e9;
            rows += &format!(
                "{n},{d},{threads},{name},{},{:.4},{gflops:.3},{p:.3}\n",
                times.len() + 1,
                1e3 * t
            );
            times.push(t);
            peaks.push(p);
            fractions.push(gflops / p);
        }
        let best_time = times.iter().copied().fold(f64::INFINITY, f64::min);
        let best_peak = peaks.iter().copied().fold(0.0f64, f64::max);
        let best = 3.0 * (n * n * d) as f64 / best_time / 1e9 / best_peak;
        let t = median(&mut times);
        println!(
            "| {n} | {:.2} | {:.1} | {:.1} | {:.0}% | {:.0}% |",
            1e3 * t,
            3.0 * (n * n * d) as f64 / t / 1e9,
            median(&mut peaks),
            100.0 * median(&mut fractions),
            100.0 * best
        );
    }
    if let Some(path) = csv {
        use std::io::Write;
        let new = !path.exists();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        if new {
            writeln!(file, "n,d,threads,isa,round,ms,gflops,peak_gflops")?;
        }
        file.write_all(rows.as_bytes())?;
    }
    Ok(())
}
