//! Loss and gradient of heat MMD, KDE-KL and SUSReg's twin on the device path
//! (`unisphere::burn::device`) against the host path, on the same rows, with the
//! agreement of the two.
//!
//! ```text
//! cargo run --release --features burn-cpu --example device_bench -- [--sizes 4096,16384,65536] [--d 256] [--block-rows B] [--host-up-to N] [--reps R]
//! ```
//!
//! The backend is burn's CPU backend (Flex) unless the binary was built with
//! `--cfg unisphere_gpu="cuda"` or `--cfg unisphere_gpu="wgpu"` and the matching
//! burn backend feature: `scripts/gpu-bench.sh` does that build (see the README,
//! "On the accelerator"). The host path runs up to `--host-up-to` rows (default:
//! every size).

use burn::tensor::{Device, Tensor, TensorData};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::time::{Duration, Instant};
use unisphere::burn::device::{DeviceObjective, OnDevice};
use unisphere::ndarray::Array2;
use unisphere::{KdeKl, Kernel, Mmd, SusregIntegrated};

#[cfg(unisphere_gpu = "cuda")]
fn device() -> (Device, &'static str) {
    (Device::cuda(0), "cuda")
}

#[cfg(unisphere_gpu = "wgpu")]
fn device() -> (Device, &'static str) {
    (
        Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(0)),
        "wgpu",
    )
}

#[cfg(not(any(unisphere_gpu = "cuda", unisphere_gpu = "wgpu")))]
fn device() -> (Device, &'static str) {
    (Device::flex(), "flex (CPU)")
}

struct Args {
    sizes: Vec<usize>,
    d: usize,
    block_rows: Option<usize>,
    host_up_to: usize,
    reps: usize,
}

fn args() -> Result<Args, String> {
    let mut out = Args {
        sizes: vec![4096, 16384, 65536],
        d: 256,
        block_rows: None,
        host_up_to: usize::MAX,
        reps: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--sizes" => out.sizes = value.split(',').map(number).collect::<Result<_, _>>()?,
            "--d" => out.d = number(&value)?,
            "--block-rows" => out.block_rows = Some(number(&value)?),
            "--host-up-to" => out.host_up_to = number(&value)?,
            "--reps" => out.reps = number(&value)?.max(1),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(out)
}

/// The median of `reps` timed calls of `f`, after one untimed call.
fn median<T>(reps: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut last = f();
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        last = f();
        times.push(start.elapsed());
    }
    times.sort();
    (times[reps / 2], last)
}

/// Times the device path and (up to `host_up_to` rows) the host path of `reg`.
fn run<R: DeviceObjective + Clone>(
    name: &str,
    reg: R,
    z: &Array2<f32>,
    zt: &Tensor<2>,
    args: &Args,
) -> Result<(), Box<dyn std::error::Error>> {
    let (n, d) = z.dim();
    let mut host = reg.clone();
    let mut on_device = OnDevice::new(reg);
    if let Some(rows) = args.block_rows {
        on_device = on_device.with_block_rows(rows)?;
    }
    let device = zt.device();
    let (t_device, loss) = median(args.reps, || -> Result<f64, unisphere::Error> {
        let (loss, grad) = on_device.loss_and_grad(zt)?;
        // The loss read back and the device synchronised: the call is done.
        let loss = loss.into_scalar::<f32>() as f64;
        device
            .sync()
            .map_err(|e| unisphere::Error::NotRepresentable {
                what: format!("device sync: {e:?}"),
            })?;
        drop(grad);
        Ok(loss)
    });
    let loss = loss?;
    let block = on_device.block_rows(n);
    if n > args.host_up_to {
        println!(
            "{name:<12} {n:>6} {d:>5} {block:>6} {:>11.1}ms {:>12} {:>8} {loss:>14.7e}",
            t_device.as_secs_f64() * 1e3,
            "-",
            "-"
        );
        return Ok(());
    }
    let (t_host, host_loss) = median(args.reps, || host.loss_and_grad(z.view()));
    let (host_loss, _) = host_loss?;
    println!(
        "{name:<12} {n:>6} {d:>5} {block:>6} {:>11.1}ms {:>10.1}ms {:>8.3} {loss:>14.7e} (host {host_loss:.7e}, rel. diff {:.1e})",
        t_device.as_secs_f64() * 1e3,
        t_host.as_secs_f64() * 1e3,
        t_device.as_secs_f64() / t_host.as_secs_f64(),
        (loss - host_loss).abs() / host_loss.abs()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let (device, backend) = device();
    let d = args.d;
    let df = d as f64;
    println!(
        "device path on burn {backend} vs host path; loss + gradient, f32, median of {}",
        args.reps
    );
    println!(
        "{:<12} {:>6} {:>5} {:>6} {:>13} {:>12} {:>8} {:>14}",
        "objective", "N", "d", "block", "device", "host", "dev/host", "loss"
    );
    let mmd = Mmd::new(Kernel::heat(d, 5.0 / df)?);
    let kl = KdeKl::new(Kernel::heat(d, 2.0 / df)?)?;
    let twin = SusregIntegrated::new();
    for &n in &args.sizes {
        let mut rng = StdRng::seed_from_u64(n as u64);
        let z = Array2::from_shape_simple_fn((n, d), || {
            rng.sample::<f32, _>(rand_distr::StandardNormal)
        });
        let values = z.iter().copied().collect::<Vec<_>>();
        let zt = Tensor::<2>::from_data(TensorData::new(values, [n, d]), &device);
        run("mmd_heat", mmd.clone(), &z, &zt, &args)?;
        run("kl_heat", kl.clone(), &z, &zt, &args)?;
        run("susreg_twin", twin.clone(), &z, &zt, &args)?;
    }
    Ok(())
}
