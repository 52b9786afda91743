//! The objectives against the high-precision reference cases (mpmath, 40 digits) of
//! `tests/data/golden.json`, written by `tests/data/make_golden.py golden.json visible`.

use crate::common;

use approx::assert_relative_eq;
use common::{golden, rel_diff};
use unisphere::{KdeKl, Kernel, Ksd, Mmd, Regularizer, Scale, SigregIntegrated, SusregIntegrated};

fn kernel_of(c: &common::Case) -> Kernel {
    match c.kernel.as_str() {
        "heat" => Kernel::heat(c.d, c.param).unwrap(),
        "band" => Kernel::bandlimited(c.d, c.param as usize).unwrap(),
        k => panic!("unknown kernel {k}"),
    }
}

fn scale_of(c: &common::Case) -> Scale {
    if c.scale == "raw" {
        Scale::Raw
    } else {
        Scale::Paper
    }
}

#[test]
fn mmd_cases_match_reference_values_and_gradients() {
    let mut seen = 0;
    for c in golden().iter().filter(|c| c.loss == "mmd") {
        let mut reg = Mmd::new(kernel_of(c)).with_scale(scale_of(c));
        let (v, g) = reg.loss_and_grad(c.z.view()).unwrap();
        assert_relative_eq!(v, c.value, max_relative = 1e-10);
        if let Some(want) = &c.grad {
            let e = rel_diff(&g, want);
            assert!(e <= 1e-8, "{}: gradient rel err {e:e}", c.name);
        }
        // f32 input within 1e-4.
        let z32 = c.z.mapv(|v| v as f32);
        let v32 = Regularizer::<f32>::loss(&mut reg, z32.view()).unwrap();
        assert!(
            (v32 - c.value).abs() <= 1e-4 * c.value.abs(),
            "{}: f32 {v32}",
            c.name
        );
        seen += 1;
    }
    assert_eq!(seen, 5);
}

fn check_case(c: &common::Case, reg: &mut dyn Regularizer<f64>) {
    let (v, g) = reg.loss_and_grad(c.z.view()).unwrap();
    assert_relative_eq!(v, c.value, max_relative = 1e-10);
    let e = rel_diff(&g, c.grad.as_ref().unwrap());
    assert!(e <= 1e-8, "{}: gradient rel err {e:e}", c.name);
}

#[test]
fn ksd_and_kl_cases_match_reference_values_and_gradients() {
    let mut seen = 0;
    for c in golden().iter() {
        match c.loss.as_str() {
            "ksd" => check_case(c, &mut Ksd::new(kernel_of(c)).with_scale(scale_of(c))),
            "kl" => check_case(
                c,
                &mut KdeKl::new(kernel_of(c)).unwrap().with_scale(scale_of(c)),
            ),
            _ => continue,
        }
        seen += 1;
    }
    assert_eq!(seen, 3);
}

#[test]
fn twin_cases_match_reference_values_and_gradients() {
    let mut seen = 0;
    for c in golden().iter() {
        match c.loss.as_str() {
            "sigreg_twin" => check_case(c, &mut SigregIntegrated::new()),
            "susreg_twin" => check_case(c, &mut SusregIntegrated::new()),
            _ => continue,
        }
        seen += 1;
    }
    assert_eq!(seen, 2);
}
