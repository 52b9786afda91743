//! The candle adapter: values and gradients equal unisphere's, finite differences
//! through candle agree, strided inputs are read correctly, bad input is an error.

use crate::common::every_regularizer;
use candle_core::{DType, Device, IndexOp, Tensor, Var};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use rand_distr::StandardNormal;
use unisphere::candle::regularize;
use unisphere::ndarray::Array2;
use unisphere::{KdeKl, Kernel, Mmd, Regularizer, Sigreg, Susreg};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const D: usize = 24;

/// Sliced objectives with per-call random directions (no fixed draw).
fn draws_fresh_directions(name: &str) -> bool {
    (name.starts_with("SIGReg[") || name.starts_with("SUSReg[")) && !name.contains("fixed")
}

fn gaussian(n: usize, d: usize, seed: u64) -> Array2<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    Array2::from_shape_simple_fn((n, d), || rng.sample(StandardNormal))
}

fn to_tensor(a: &Array2<f32>) -> candle_core::Result<Tensor> {
    Tensor::from_iter(a.iter().copied(), &Device::Cpu)?.reshape(a.dim())
}

fn to_array(t: &Tensor) -> candle_core::Result<Array2<f32>> {
    let (n, d) = t.dims2()?;
    let data = t.flatten_all()?.to_vec1::<f32>()?;
    Ok(Array2::from_shape_vec((n, d), data).expect("n * d values"))
}

#[test]
fn value_and_gradient_equal_loss_and_grad() -> TestResult {
    let z = gaussian(40, D, 1);
    for (mut direct, mut through) in every_regularizer(D).into_iter().zip(every_regularizer(D)) {
        let (loss, grad) = direct.loss_and_grad(z.view())?;
        let var = Var::from_tensor(&to_tensor(&z)?)?;
        let out = regularize(through.as_mut(), var.as_tensor())?;
        assert_eq!(out.dims(), &[] as &[usize], "{}", direct.name());
        assert_eq!(out.to_scalar::<f32>()?, loss as f32, "{}", direct.name());
        let grads = out.backward()?;
        let g = to_array(grads.get(&var).expect("z is a variable"))?;
        assert_eq!(g, grad, "{}: candle's gradient differs", direct.name());
    }
    Ok(())
}

#[test]
fn upstream_gradient_scales_and_untracked_input_gives_the_loss() -> TestResult {
    let z = gaussian(32, D, 2);
    let mut reg = Mmd::new(Kernel::heat(D, 5.0 / D as f64)?);
    let (loss, grad) = reg.loss_and_grad(z.view())?;
    let var = Var::from_tensor(&to_tensor(&z)?)?;
    let out = (regularize(&mut reg, var.as_tensor())? * 3.0)?;
    let g = to_array(out.backward()?.get(&var).expect("z is a variable"))?;
    assert_eq!(g, grad.mapv(|x| x * 3.0));
    // A plain tensor (no graph): just the loss.
    let plain = to_tensor(&z)?;
    assert!(!plain.track_op());
    assert_eq!(
        regularize(&mut reg, &plain)?.to_scalar::<f32>()?,
        loss as f32
    );
    Ok(())
}

#[test]
fn strided_views_are_read_in_place_correctly() -> TestResult {
    // A transposed tensor and a narrowed (offset) one: the adapter reads candle's
    // storage through strides, so both must give the rows they show.
    let big = gaussian(D, 50, 3);
    let var = Var::from_tensor(&to_tensor(&big)?)?;
    let transposed = var.as_tensor().t()?; // (50, D), column-major
    let narrowed = transposed.i(5..45)?; // (40, D), with an offset
    assert!(!transposed.is_contiguous());
    for z in [&transposed, &narrowed] {
        let rows = to_array(&z.contiguous()?)?;
        let mut reg = KdeKl::new(Kernel::heat(D, 2.0 / D as f64)?)?;
        let (loss, grad) = reg.loss_and_grad(rows.view())?;
        let out = regularize(&mut reg, z)?;
        assert_eq!(out.to_scalar::<f32>()?, loss as f32);
        // The gradient flows back through the transpose/narrow to the variable.
        let g = out.backward()?.get(&var).expect("variable").clone();
        let g_rows = to_array(&g.t()?.contiguous()?)?;
        let offset = if z.dims()[0] == 40 { 5 } else { 0 };
        let slice = g_rows.slice(unisphere::ndarray::s![offset..offset + z.dims()[0], ..]);
        assert_eq!(slice, grad);
    }
    Ok(())
}

#[test]
fn finite_differences_through_candle_agree() -> TestResult {
    // The regularizer sits behind a candle linear map, z = x w, so the chain rule
    // runs through candle's own ops into w; compare the directional derivative of
    // the loss in a random direction of w with a central difference. The sliced
    // objectives get fixed directions, so that every call sees the same loss.
    let (n, k) = (48, 16);
    let x = to_tensor(&gaussian(n, k, 4))?;
    let w0 = to_tensor(&gaussian(k, D, 5))?;
    let dir = to_tensor(&gaussian(k, D, 6))?;
    let dir = (&dir / dir.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()? as f64)?;
    let slices = gaussian(64, D, 8).mapv(f64::from);
    let mut regs = every_regularizer(D);
    regs.push(Box::new(
        Sigreg::new(64, 0)?.try_with_directions(slices.view())?,
    ));
    regs.push(Box::new(
        Susreg::new(64, 0)?.try_with_directions(slices.view())?,
    ));
    for mut reg in regs
        .into_iter()
        .filter(|r| !draws_fresh_directions(&r.name()))
    {
        let w = Var::from_tensor(&w0)?;
        let loss = regularize(reg.as_mut(), &x.matmul(w.as_tensor())?)?;
        let g = loss.backward()?.get(&w).expect("w is a variable").clone();
        let analytic = (&g * &dir)?.sum_all()?.to_scalar::<f32>()? as f64;
        let h = 1e-2;
        let mut at = |s: f64| -> candle_core::Result<f64> {
            let w = (&w0 + (&dir * s)?)?;
            Ok(regularize(reg.as_mut(), &x.matmul(&w)?)?.to_scalar::<f32>()? as f64)
        };
        let numeric = (at(h)? - at(-h)?) / (2.0 * h);
        let scale = analytic.abs().max(1e-3);
        assert!(
            (numeric - analytic).abs() < 2e-2 * scale,
            "{}: finite difference {numeric:e} vs candle gradient {analytic:e}",
            reg.name()
        );
    }
    Ok(())
}

#[test]
fn bad_input_is_a_clear_error() -> TestResult {
    let cpu = Device::Cpu;
    let mut reg = Mmd::new(Kernel::heat(D, 5.0 / D as f64)?);
    let message = |r: candle_core::Result<Tensor>| match r {
        Ok(_) => panic!("bad input was accepted"),
        Err(e) => e.to_string(),
    };
    let rank1 = Tensor::ones(D, DType::F32, &cpu)?;
    assert!(message(regularize(&mut reg, &rank1)).contains("expected a matrix"));
    let rank3 = Tensor::ones((2, 8, D), DType::F32, &cpu)?;
    assert!(message(regularize(&mut reg, &rank3)).contains("expected a matrix"));
    let f64s = Tensor::ones((8, D), DType::F64, &cpu)?;
    assert!(message(regularize(&mut reg, &f64s)).contains("expected f32"));
    // unisphere's own errors, through both the loss-only and the gradient path.
    let wrong_d = Var::ones((8, D + 1), DType::F32, &cpu)?;
    let msg = message(regularize(&mut reg, wrong_d.as_tensor()));
    assert!(msg.contains("MMD") && msg.contains("failed"), "{msg}");
    let one_row = Tensor::ones((1, D), DType::F32, &cpu)?;
    assert!(message(regularize(&mut reg, &one_row)).contains("at least"));
    let mut z = gaussian(8, D, 7);
    z[[3, 4]] = f32::NAN;
    let nan = Var::from_tensor(&to_tensor(&z)?)?;
    assert!(message(regularize(&mut reg, nan.as_tensor())).contains("(3, 4)"));
    z[[3, 4]] = 0.0;
    z.row_mut(2).fill(0.0);
    assert!(message(regularize(&mut reg, &to_tensor(&z)?)).contains("row 2"));
    Ok(())
}
