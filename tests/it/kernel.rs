//! The zonal kernels: spec values, closed forms, identities and accuracy against
//! mpmath reference values of the exact series (tests/data/kernel_values.json).

use crate::common;

use common::gauss_legendre;
use serde_json::Value;
use unisphere::{Error, Kernel};

fn reference() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/kernel_values.json"
    ))
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn f(v: &Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

fn kernel_for(case: &Value, tolerance: f64) -> Kernel {
    let d = case["d"].as_u64().unwrap() as usize;
    let p: f64 = case["param"].as_str().unwrap().parse().unwrap();
    match case["kernel"].as_str().unwrap() {
        "heat" => Kernel::heat_with_tolerance(d, p, tolerance).unwrap(),
        _ => Kernel::bandlimited(d, p as usize).unwrap(),
    }
}

/// Worst errors of (phi, phi'/phi'(1)) against the reference: absolute on [-1, 1],
/// and relative where c >= 0 and phi >= 1e-20 (below that, the alternating series
/// cancels: the error stays absolute).
fn worst_errors(case: &Value, k: &Kernel) -> (f64, f64, f64, f64) {
    let mut w = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let slope = k.eval_d1(1.0);
    for v in case["values"].as_array().unwrap() {
        let c = f(&v["c"]);
        let (p, d1) = (f(&v["phi"]), f(&v["d1"]));
        w.0 = w.0.max((k.eval(c) - p).abs());
        w.1 = w.1.max((k.eval_d1(c) - d1).abs() / slope);
        if c >= 0.0 && p >= 1e-20 {
            w.2 = w.2.max(((k.eval(c) - p) / p).abs());
            w.3 = w.3.max(((k.eval_d1(c) - d1) / d1).abs());
        }
    }
    w
}

#[test]
fn exact_series_matches_mpmath_for_d_2_to_4096() {
    // Truncated at machine precision, the evaluation itself is exact to rounding:
    // absolute error (phi(1) = 1) within 1e-13, relative within 1e-13 (phi) and
    // 2e-13 (phi', whose high-degree coefficients carry ~l ulps) for c >= 0.
    for case in reference() {
        let k = kernel_for(&case, 1e-16);
        let (abs_phi, abs_d1, rel_phi, rel_d1) = worst_errors(&case, &k);
        let what = format!("d={} {} {}", case["d"], case["kernel"], case["param"]);
        assert!(
            abs_phi < 1e-13 && abs_d1 < 1e-13,
            "{what}: abs {abs_phi:e} {abs_d1:e}"
        );
        assert!(
            rel_phi < 1e-13 && rel_d1 < 2e-13,
            "{what}: rel {rel_phi:e} {rel_d1:e}"
        );
        let inv_z = f(&case["inv_Z"]);
        assert!(((1.0 / k.z() - inv_z) / inv_z).abs() < 1e-13, "{what}: 1/Z");
    }
}

#[test]
fn default_truncation_error_is_within_its_tolerance() {
    for case in reference() {
        let k = kernel_for(&case, unisphere::kernel::HEAT_TAIL_TOLERANCE);
        let (abs_phi, abs_d1, _, _) = worst_errors(&case, &k);
        assert!(
            abs_phi < 1.1e-12 && abs_d1 < 1.1e-11,
            "d={}: {abs_phi:e} {abs_d1:e}",
            case["d"]
        );
    }
}

#[test]
fn spec_values_heat_d256() {
    let k = Kernel::heat(256, 5.0 / 256.0).unwrap();
    assert!((k.eval(1.0) - 1.0).abs() < 1e-15);
    assert!((k.eval(-1.0) - 0.029471629).abs() < 5e-10);
    assert!((k.eval(0.0) - 0.180095).abs() < 5e-7);
    assert!((k.eval(0.5) - 0.4290944).abs() < 5e-8);
    assert!((1.0 / k.z() - 0.18115327).abs() < 5e-9);
    assert!((k.uniform_mean() - 1.0 / k.z()).abs() < 1e-16);
}

#[test]
fn bandlimited_two_closed_form() {
    for d in [2usize, 3, 7, 128, 2048] {
        let k = Kernel::bandlimited(d, 2).unwrap();
        let df = d as f64;
        for i in 0..=20 {
            let c = -1.0 + 0.1 * i as f64;
            let want = ((df + 2.0) * c * c + 2.0 * c - 1.0) / (df + 3.0);
            let slope = (2.0 * (df + 2.0) * c + 2.0) / (df + 3.0);
            assert!((k.eval(c) - want).abs() < 1e-15, "d={d} c={c}");
            assert!((k.eval_d1(c) - slope).abs() < 1e-14, "d={d} c={c}");
            assert!((k.eval_d2(c) - 2.0 * (df + 2.0) / (df + 3.0)).abs() < 1e-13);
        }
    }
}

#[test]
fn mean_against_uniform_marginal_is_one_over_z() {
    // integral phi rho_d = 1/Z, rho_d(s) = (1 - s^2)^{(d-3)/2} / B(1/2, (d-1)/2); odd d
    // makes rho_d a polynomial, so Gauss-Legendre is exact. (Z is the truncated
    // series' normaliser, so phi is that series.)
    for d in [3usize, 5, 9, 33] {
        let k = Kernel::heat(d, 1.0 / d as f64).unwrap();
        let rho = |s: f64| (1.0 - s * s).powf((d as f64 - 3.0) / 2.0);
        let nodes = gauss_legendre(120);
        let norm: f64 = nodes.iter().map(|(x, w)| w * rho(*x)).sum();
        let mean: f64 = nodes
            .iter()
            .map(|(x, w)| w * rho(*x) * k.series().eval(*x))
            .sum::<f64>()
            / norm;
        assert!(
            (mean - 1.0 / k.z()).abs() < 1e-13,
            "d={d}: {mean} vs {}",
            1.0 / k.z()
        );
    }
}

#[test]
fn heat_kernel_solves_the_gegenbauer_ode_spectrally() {
    // (1 - c^2) phi'' - (d - 1) c phi' = -(1/Z) sum lambda_l w_l N P_l: check at c = 1
    // where it reads -(d - 1) phi'(1) = -sum_l lambda_l a_l.
    for d in [2usize, 3, 10, 300] {
        let k = Kernel::heat(d, 2.0 / d as f64).unwrap();
        let df = d as f64;
        let lhs = -(df - 1.0) * k.eval_d1(1.0);
        let rhs: f64 = -k
            .series()
            .coeffs()
            .iter()
            .enumerate()
            .map(|(l, a)| a * l as f64 * (l as f64 + df - 2.0))
            .sum::<f64>();
        assert!((lhs - rhs).abs() < 1e-12 * rhs.abs(), "d={d}");
    }
}

#[test]
fn kernel_bad_parameters_are_errors() {
    assert!(matches!(
        Kernel::heat(1, 0.1),
        Err(Error::InvalidParameter { name: "d", .. })
    ));
    for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(
                Kernel::heat(8, t),
                Err(Error::InvalidParameter { name: "t", .. })
            ),
            "t={t}"
        );
    }
    // So large that the kernel is constant.
    assert!(matches!(
        Kernel::heat(8, 1e3),
        Err(Error::InvalidParameter { name: "t", .. })
    ));
    // So small that the series exceeds the cap.
    assert!(matches!(
        Kernel::heat(3, 1e-9),
        Err(Error::TruncationLimit { .. })
    ));
    assert!(matches!(
        Kernel::heat(3, 1e-300),
        Err(Error::TruncationLimit { .. })
    ));
    assert!(matches!(
        Kernel::bandlimited(3, 0),
        Err(Error::InvalidParameter { name: "L", .. })
    ));
    assert!(matches!(
        Kernel::bandlimited(3, 1 << 40),
        Err(Error::InvalidParameter { name: "L", .. })
    ));
    assert!(Kernel::from_weights(3, &[]).is_err());
    assert!(Kernel::from_weights(3, &[1.0, -0.1]).is_err());
    assert!(Kernel::from_weights(3, &[1.0, f64::NAN]).is_err());
    assert!(Kernel::from_weights(3, &[1.0, f64::INFINITY]).is_err());
    assert!(Kernel::from_weights(3, &[1.0, 0.0]).is_err());
    assert!(Kernel::from_weights(3, &[1.0, 1e308, 1e308]).is_ok());
    let msg = Kernel::heat(8, -1.0).unwrap_err().to_string();
    assert!(msg.contains("t = -1") && msg.contains("t > 0"), "{msg}");
}

#[test]
fn circle_heat_kernel_is_a_theta_function() {
    // d = 2: phi(cos theta) = (1 + 2 sum_l e^{-t l^2} cos(l theta)) / Z.
    let t = 0.3;
    let k = Kernel::heat(2, t).unwrap();
    let z: f64 = 1.0 + 2.0 * (1..60).map(|l| (-t * (l * l) as f64).exp()).sum::<f64>();
    for th in [0.0, 0.5, 1.7, 3.0] {
        let want = (1.0
            + 2.0
                * (1..60)
                    .map(|l| (-t * (l * l) as f64).exp() * (l as f64 * th).cos())
                    .sum::<f64>())
            / z;
        assert!((k.eval(f64::cos(th)) - want).abs() < 2e-12);
    }
}
