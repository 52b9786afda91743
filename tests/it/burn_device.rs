//! The device path (`unisphere::burn::device`) on burn's pure-Rust CPU backend
//! (Flex): every objective equals the host path to f32 accuracy (loss within `1e-5`
//! relative, gradient within `1e-4` of its largest entry) over `d = 3..1024` and
//! `N = 2..2048`, blocked or not, through autodiff too; bad input gives the host
//! path's error. The sliced SIGReg and SUSReg draw the host path's directions from
//! the same `(seed, step)` stream, so a clone on the host gives the same numbers
//! call after call.
//!
//! Built with `--cfg unisphere_gpu="wgpu"` and burn's `wgpu` feature
//! (`scripts/test-wgpu.sh`), the same tests run on burn's wgpu backend instead.

use burn::tensor::{DType, Device, Tensor, TensorData};
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};
use unisphere::burn::device::{DeviceObjective, OnDevice};
use unisphere::ndarray::Array2;
use unisphere::{
    Error, KdeKl, Kernel, Ksd, Mmd, Scale, Sigreg, SigregIntegrated, Susreg, SusregIntegrated,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Burn's CPU backend (Flex), or under `--cfg unisphere_gpu="wgpu"` (with burn's
/// `wgpu` feature, as `scripts/test-wgpu.sh` builds it) the wgpu backend's default
/// adapter: the GPU if there is one, else a software one such as lavapipe.
#[cfg(not(unisphere_gpu = "wgpu"))]
fn test_device() -> Device {
    Device::flex()
}

#[cfg(unisphere_gpu = "wgpu")]
fn test_device() -> Device {
    Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)
}

fn gaussian(n: usize, d: usize, seed: u64) -> Array2<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    Array2::from_shape_simple_fn((n, d), || StandardNormal.sample(&mut rng))
}

fn to_tensor(a: &Array2<f32>, device: &Device) -> Tensor<2> {
    let values = a.iter().copied().collect::<Vec<_>>();
    Tensor::from_data(TensorData::new(values, [a.nrows(), a.ncols()]), device)
}

fn to_array(t: &Tensor<2>) -> Array2<f32> {
    let [n, d] = t.dims();
    let values = t.to_data().try_to_vec::<f32>().expect("an f32 tensor");
    Array2::from_shape_vec((n, d), values).expect("n * d values")
}

fn scalar(t: Tensor<1>) -> f64 {
    assert_eq!(t.dims(), [1]);
    t.into_scalar::<f32>() as f64
}

/// Device and host agree: the loss to `1e-5` relative, the gradient to `1e-4` of
/// its largest entry.
fn assert_close(what: &str, loss: f64, grad: &Array2<f32>, host: f64, host_grad: &Array2<f32>) {
    assert!(
        (loss - host).abs() <= 1e-5 * host.abs(),
        "{what}: loss {loss:e} on the device, {host:e} on the host"
    );
    let largest = host_grad.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let worst = grad
        .iter()
        .zip(host_grad)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        worst <= 1e-4 * largest,
        "{what}: gradient off by {worst:e}, largest entry {largest:e}"
    );
}

/// The device path of `reg` on `z` (blocks of `block` rows, if given) against the
/// host path of the same objective.
fn check<R: DeviceObjective>(reg: R, z: &Array2<f32>, block: Option<usize>) -> TestResult {
    let mut reg = OnDevice::new(reg);
    if let Some(rows) = block {
        reg = reg.with_block_rows(rows)?;
    }
    let what = format!(
        "{} N={} d={} block={block:?}",
        reg.objective().name(),
        z.nrows(),
        z.ncols()
    );
    let (host, host_grad) = reg.objective_mut().loss_and_grad(z.view())?;
    let (loss, grad) = reg.loss_and_grad(&to_tensor(z, &test_device()))?;
    assert_close(&what, scalar(loss), &to_array(&grad), host, &host_grad);
    let alone = scalar(reg.loss(&to_tensor(z, &test_device()))?);
    assert!(
        (alone - host).abs() <= 1e-5 * host.abs(),
        "{what}: loss alone"
    );
    Ok(())
}

/// Every objective at `(n, d)`.
fn every_objective(n: usize, d: usize, seed: u64, block: Option<usize>) -> TestResult {
    let z = gaussian(n, d, seed);
    let df = d as f64;
    check(Mmd::new(Kernel::heat(d, 5.0 / df)?), &z, block)?;
    check(Mmd::new(Kernel::bandlimited(d, 3)?), &z, block)?;
    check(Ksd::new(Kernel::heat(d, 5.0 / df)?), &z, block)?;
    let kl = KdeKl::raw(Kernel::heat(d, 2.0 / df)?)?;
    check(
        kl.with_scale(if d < 19 { Scale::Raw } else { Scale::Paper }),
        &z,
        block,
    )?;
    check(SigregIntegrated::new(), &z, block)?;
    check(SusregIntegrated::new(), &z, block)?;
    Ok(())
}

#[test]
fn small_batches_and_dimensions_equal_the_host_path() -> TestResult {
    for (n, d) in [(2, 3), (5, 3), (40, 3), (2, 24), (33, 17), (64, 64)] {
        every_objective(n, d, (n * 1000 + d) as u64, None)?;
    }
    Ok(())
}

#[test]
fn row_blocks_equal_the_host_path() -> TestResult {
    // Blocks of one row, of a size that leaves a remainder, and larger than N.
    for block in [1, 7, 100] {
        every_objective(45, 20, block as u64, Some(block))?;
    }
    Ok(())
}

#[test]
fn large_batches_equal_the_host_path() -> TestResult {
    every_objective(2048, 32, 11, Some(512))
}

#[test]
fn high_dimensions_equal_the_host_path() -> TestResult {
    every_objective(256, 256, 12, None)?;
    every_objective(96, 1024, 13, Some(40))
}

#[test]
fn autodiff_gets_the_device_gradient() -> TestResult {
    let z = gaussian(50, 24, 14);
    let device = test_device().autodiff();
    let mut reg = OnDevice::new(KdeKl::new(Kernel::heat(24, 2.0 / 24.0)?)?).with_block_rows(16)?;
    let (loss, grad) = reg.loss_and_grad(&to_tensor(&z, &test_device()))?;
    let zt = to_tensor(&z, &device).require_grad();
    let out = reg.regularize(&zt)? * 3.0;
    let g = to_array(&zt.grad(&out.backward()).expect("z requires a gradient"));
    // The device multiplies in f32: so does the expected value (in f64 it can differ
    // by the f32 rounding of the product, as it did on wgpu over lavapipe).
    assert_eq!(scalar(out), f64::from(scalar(loss) as f32 * 3.0));
    assert_eq!(g, to_array(&grad).mapv(|v| v * 3.0));
    // Without autodiff: the loss alone.
    let plain = reg.regularize(&to_tensor(&z, &test_device()))?;
    assert!(!plain.is_autodiff());
    Ok(())
}

#[test]
fn huge_and_tiny_rows_equal_the_host_path() -> TestResult {
    let mut z = gaussian(30, 24, 15);
    z.row_mut(3).mapv_inplace(|v| v * 1e30);
    z.row_mut(7).mapv_inplace(|v| v * 1e-30);
    check(Mmd::new(Kernel::heat(24, 5.0 / 24.0)?), &z, None)?;
    check(KdeKl::new(Kernel::heat(24, 2.0 / 24.0)?)?, &z, Some(8))?;
    check(SusregIntegrated::new(), &z, None)?;
    // SIGReg's twin does not normalise: a zero row is fine there.
    let mut z = gaussian(30, 24, 16);
    z.row_mut(4).fill(0.0);
    check(SigregIntegrated::new(), &z, Some(9))
}

/// The host path's error and the device path's for the same input.
fn same_error<R: DeviceObjective>(reg: R, z: &Tensor<2>) {
    let mut reg = OnDevice::new(reg);
    let [n, d] = z.dims();
    let host = match z.to_data().try_to_vec::<f32>() {
        Ok(v) => {
            let a = Array2::from_shape_vec((n, d), v).expect("n * d values");
            reg.objective_mut().loss_and_grad(a.view()).err()
        }
        Err(_) => None,
    };
    let device = reg.loss_and_grad(z).err();
    assert!(device.is_some(), "{}: no error", reg.objective().name());
    if host.is_some() {
        assert_eq!(device, host, "{}", reg.objective().name());
    }
    assert_eq!(reg.loss(z).err(), device);
    assert_eq!(reg.regularize(&z.clone().require_grad()).err(), device);
}

#[test]
fn bad_input_gives_the_host_paths_error() -> TestResult {
    let d = 24;
    let df = d as f64;
    let device = test_device().autodiff();
    let each = |z: &Array2<f32>, also_sigreg: bool| -> TestResult {
        let t = to_tensor(z, &device);
        same_error(Mmd::new(Kernel::heat(d, 5.0 / df)?), &t);
        same_error(Ksd::new(Kernel::heat(d, 5.0 / df)?), &t);
        same_error(KdeKl::new(Kernel::heat(d, 2.0 / df)?)?, &t);
        same_error(SusregIntegrated::new(), &t);
        if also_sigreg {
            same_error(SigregIntegrated::new(), &t);
        }
        Ok(())
    };
    let mut z = gaussian(8, d, 17);
    z[[3, 4]] = f32::NAN;
    z[[5, 1]] = f32::INFINITY;
    each(&z, true)?;
    z[[3, 4]] = f32::NEG_INFINITY;
    each(&z, true)?;
    let mut z = gaussian(8, d, 18);
    z.row_mut(2).fill(0.0);
    z.row_mut(6).fill(0.0);
    each(&z, false)?;
    each(&gaussian(1, d, 19), true)?; // too few rows
    let wrong = to_tensor(&gaussian(8, d + 1, 20), &device);
    same_error(Mmd::new(Kernel::heat(d, 5.0 / df)?), &wrong);
    same_error(KdeKl::new(Kernel::heat(d, 2.0 / df)?)?, &wrong);
    let one_column = to_tensor(&gaussian(8, 1, 21), &device);
    same_error(SigregIntegrated::new(), &one_column);
    same_error(SusregIntegrated::new(), &one_column);
    // The paper scale of KDE-KL is an error below d = 19, on the device as on the host.
    same_error(
        KdeKl::new(Kernel::heat(8, 0.25)?)?,
        &to_tensor(&gaussian(8, 8, 22), &device),
    );
    // An f64 tensor.
    let f64s = Tensor::<2>::from_data(
        TensorData::new(vec![1.0f64; 8 * d], [8, d]),
        (&device, DType::F64),
    );
    let mut reg = OnDevice::new(Mmd::new(Kernel::heat(d, 5.0 / df)?));
    match reg.regularize(&f64s) {
        Err(Error::InvalidParameter { name, value, .. }) => {
            assert_eq!(name, "z");
            assert!(value.contains("F64"), "{value}");
        }
        other => panic!("an f64 tensor gave {other:?}"),
    }
    assert!(matches!(
        OnDevice::new(SigregIntegrated::new()).with_block_rows(0),
        Err(Error::InvalidParameter { .. })
    ));
    Ok(())
}

/// The device path of the sliced `reg` on `z` (chunks of `block` directions, if
/// given) against the host path of a clone at the same call counter, for two calls
/// (fresh directions each): the same numbers, and the counters advance alike.
fn check_sliced<R: DeviceObjective + Clone>(
    reg: R,
    step: fn(&R) -> u64,
    z: &Array2<f32>,
    block: Option<usize>,
) -> TestResult {
    let mut host = reg.clone();
    let mut reg = OnDevice::new(reg);
    if let Some(chunk) = block {
        reg = reg.with_block_rows(chunk)?;
    }
    let what = format!(
        "{} N={} d={} block={block:?}",
        reg.objective().name(),
        z.nrows(),
        z.ncols()
    );
    let first = step(&host);
    let (h, host_grad) = host.loss_and_grad(z.view())?;
    let (loss, grad) = reg.loss_and_grad(&to_tensor(z, &test_device()))?;
    assert_close(&what, scalar(loss), &to_array(&grad), h, &host_grad);
    assert_eq!(step(reg.objective()), first + 1, "{what}: first call");
    assert_eq!(step(&host), first + 1, "{what}: first call");
    let h = host.loss(z.view())?;
    let alone = scalar(reg.loss(&to_tensor(z, &test_device()))?);
    assert!(
        (alone - h).abs() <= 1e-5 * h.abs(),
        "{what}: second call, loss {alone:e} on the device, {h:e} on the host"
    );
    assert_eq!(step(reg.objective()), first + 2, "{what}: second call");
    assert_eq!(step(&host), first + 2, "{what}: second call");
    Ok(())
}

/// SIGReg and SUSReg with `slices` directions at `(n, d)`.
fn both_sliced(n: usize, d: usize, slices: usize, block: Option<usize>) -> TestResult {
    let seed = (n * 1000 + d) as u64;
    let z = gaussian(n, d, seed);
    check_sliced(Sigreg::new(slices, seed)?, Sigreg::step, &z, block)?;
    check_sliced(Susreg::new(slices, seed)?, Susreg::step, &z, block)
}

#[test]
fn sliced_objectives_equal_the_host_path() -> TestResult {
    for (n, d) in [(2, 3), (5, 3), (40, 3), (2, 24), (33, 17), (64, 64)] {
        both_sliced(n, d, 64, None)?;
    }
    // Chunks of one direction, of a size that leaves a remainder, and larger than M.
    for block in [1, 7, 100] {
        both_sliced(45, 20, 30, Some(block))?;
    }
    both_sliced(2048, 32, 256, Some(100))?;
    both_sliced(256, 256, 256, None)?;
    both_sliced(96, 1024, 64, Some(40))
}

#[test]
fn sliced_options_equal_the_host_path() -> TestResult {
    let z = gaussian(300, 16, 23);
    // A later call counter, another grid, fixed directions.
    check_sliced(Sigreg::new(50, 5)?.with_step(41), Sigreg::step, &z, None)?;
    check_sliced(Susreg::new(50, 5)?.with_step(7), Susreg::step, &z, None)?;
    check_sliced(
        Susreg::new(50, 6)?.with_grid(5.0, 33)?,
        Susreg::step,
        &z,
        Some(16),
    )?;
    let a = gaussian(20, 16, 24).mapv(f64::from);
    check_sliced(
        Sigreg::new(1, 0)?.try_with_directions(&a)?,
        Sigreg::step,
        &z,
        Some(8),
    )?;
    // Above d = 256: the Gaussian target by default, the exact one when asked.
    let z = gaussian(128, 300, 25);
    check_sliced(Susreg::new(40, 7)?, Susreg::step, &z, None)?;
    check_sliced(
        Susreg::new(40, 7)?.with_exact_target(true),
        Susreg::step,
        &z,
        None,
    )?;
    // Rows far from the unit scale: SIGReg sees them raw, SUSReg normalises them.
    let mut z = gaussian(60, 12, 26);
    z.row_mut(3).mapv_inplace(|v| v * 1e30);
    z.row_mut(7).mapv_inplace(|v| v * 1e-30);
    check_sliced(Susreg::new(32, 8)?, Susreg::step, &z, None)?;
    let mut z = gaussian(60, 12, 27).mapv(|v| v * 3.0);
    z.row_mut(4).fill(0.0);
    check_sliced(Sigreg::new(32, 8)?, Sigreg::step, &z, Some(5))
}

#[test]
fn sliced_autodiff_gets_the_device_gradient() -> TestResult {
    let z = gaussian(50, 24, 28);
    let device = test_device().autodiff();
    let mut reg = OnDevice::new(Susreg::new(64, 9)?).with_block_rows(16)?;
    // A clone draws the same directions on its first call.
    let (loss, grad) = reg.clone().loss_and_grad(&to_tensor(&z, &test_device()))?;
    let zt = to_tensor(&z, &device).require_grad();
    let out = reg.regularize(&zt)? * 3.0;
    let g = to_array(&zt.grad(&out.backward()).expect("z requires a gradient"));
    // The device multiplies in f32: so does the expected value (in f64 it can differ
    // by the f32 rounding of the product, as it did on wgpu over lavapipe).
    assert_eq!(scalar(out), f64::from(scalar(loss) as f32 * 3.0));
    assert_eq!(g, to_array(&grad).mapv(|v| v * 3.0));
    assert_eq!(reg.objective().step(), 1);
    Ok(())
}

#[test]
fn sliced_bad_input_gives_the_host_paths_error() -> TestResult {
    let d = 24;
    let device = test_device().autodiff();
    let each = |z: &Array2<f32>, also_sigreg: bool| -> TestResult {
        let t = to_tensor(z, &device);
        same_error(Susreg::new(16, 1)?, &t);
        if also_sigreg {
            same_error(Sigreg::new(16, 1)?, &t);
        }
        Ok(())
    };
    let mut z = gaussian(8, d, 29);
    z[[3, 4]] = f32::NAN;
    z[[5, 1]] = f32::INFINITY;
    each(&z, true)?;
    z[[3, 4]] = f32::NEG_INFINITY;
    each(&z, true)?;
    let mut z = gaussian(8, d, 30);
    z.row_mut(2).fill(0.0);
    z.row_mut(6).fill(0.0);
    each(&z, false)?;
    each(&gaussian(1, d, 31), true)?; // too few rows
    each(&gaussian(8, 1, 32), true)?; // one column
    // Fixed directions of another width, and unusable ones.
    let t = to_tensor(&gaussian(8, d, 33), &device);
    let a = gaussian(4, d + 1, 34).mapv(f64::from);
    same_error(Sigreg::new(1, 0)?.try_with_directions(&a)?, &t);
    same_error(Susreg::new(1, 0)?.try_with_directions(&a)?, &t);
    let zero = Array2::<f64>::zeros((2, d));
    same_error(Sigreg::new(1, 0)?.with_directions(&zero), &t);
    same_error(Susreg::new(1, 0)?.with_directions(&zero), &t);
    // An error before the directions are drawn leaves the counter where it was.
    let mut reg = OnDevice::new(Susreg::new(16, 1)?);
    let mut nan = gaussian(8, d, 35);
    nan[[0, 0]] = f32::NAN;
    assert!(reg.loss_and_grad(&to_tensor(&nan, &device)).is_err());
    assert_eq!(reg.objective().step(), 0);
    Ok(())
}
