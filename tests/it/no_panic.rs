//! No input makes a public constructor or call panic, abort or hang: random shapes,
//! scales and parameters (NaN, infinities, zero, huge and tiny values among them)
//! give `Ok` or `Err`. Sizes are bounded so that the whole file runs in seconds.

use ndarray::Array2;
use proptest::collection::vec;
use proptest::prelude::*;
use unisphere::diagnostics::gradient_variance;
use unisphere::kernel::gegenbauer;
use unisphere::sliced::directions;
use unisphere::special::{hyp1f1_half, hyp1f1_half_and_derivative, omega, omega_and_derivative};
use unisphere::uniformity::UniformityTest;
use unisphere::{
    EppsPulleyGrid, KdeKl, Kernel, Ksd, Mmd, Regularizer, Result, Scale, Sigreg, SigregIntegrated,
    Susreg, SusregIntegrated,
};

/// Any `f64`, the troublesome ones often.
fn any_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -4.0..4.0f64,
        1 => prop::sample::select(vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            1e300,
            -1e300,
            1e-300,
            -1e-300,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            1e-12,
            1.0,
        ]),
    ]
}

/// A positive parameter, mostly of a usable size.
fn any_param() -> impl Strategy<Value = f64> {
    prop_oneof![3 => 1e-3..3.0f64, 1 => any_float()]
}

/// A dimension or count: small, or beyond every limit.
fn any_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0usize..7,
        1 => prop::sample::select(vec![(1usize << 24) + 1, 1 << 40, usize::MAX]),
    ]
}

/// A matrix of up to 5 x 5 entries: mostly ordinary values, some at the extremes.
fn any_matrix() -> impl Strategy<Value = Array2<f64>> {
    (0usize..6, 0usize..6, any_param()).prop_flat_map(|(n, d, scale)| {
        vec(prop_oneof![8 => -2.0..2.0f64, 1 => any_float()], n * d)
            .prop_map(move |v| Array2::from_shape_vec((n, d), v).expect("n x d entries") * scale)
    })
}

/// One of the kernel constructors.
fn kernel(which: usize, d: usize, p: f64, l: usize, w: &[f64]) -> Result<Kernel> {
    match which {
        0 => Kernel::heat(d, p),
        1 => Kernel::heat_with_tolerance(d, p, p * 1e-10),
        2 => Kernel::bandlimited(d, l),
        3 => Kernel::from_weights(d, w),
        _ => Kernel::susreg_induced(d),
    }
}

/// Every call of a regularizer, on the matrix in `f64` and in `f32`; only
/// panics matter, so the results are dropped.
fn exercise(reg: &mut (impl Regularizer<f64> + Regularizer<f32>), z: &Array2<f64>) {
    let z32 = z.mapv(|v| v as f32);
    let _ = Regularizer::<f64>::name(reg);
    let _ = Regularizer::<f64>::loss(reg, z.view());
    let _ = Regularizer::<f64>::loss_and_grad(reg, z.view());
    let _ = Regularizer::<f32>::loss(reg, z32.view());
    let _ = Regularizer::<f32>::loss_and_grad(reg, z32.view());
}

/// One of the uniformity tests' constructors.
fn uniformity_test(which: usize, p: f64, w: &[f64], k: Option<&Kernel>) -> Result<UniformityTest> {
    Ok(match which {
        0 => UniformityTest::rayleigh(),
        1 => UniformityTest::bingham(),
        2 => UniformityTest::ajne(),
        3 => UniformityTest::gine_gn(),
        4 => UniformityTest::gine_fn(),
        5 => UniformityTest::bakshaev(),
        6 => UniformityTest::riesz(p)?,
        7 => UniformityTest::pcvm(),
        8 => UniformityTest::pad(),
        9 => UniformityTest::prt(p)?,
        10 => UniformityTest::poisson(p)?,
        11 => UniformityTest::softmax(p)?,
        12 => UniformityTest::sobolev(w)?,
        _ => match k {
            Some(k) => UniformityTest::from_kernel(k)?,
            None => UniformityTest::rayleigh(),
        },
    })
}

proptest! {
    #![proptest_config(crate::common::proptest_config(256))]

    #[test]
    fn kernels_and_full_objectives_never_panic(
        which in 0usize..5,
        d in any_size(),
        p in any_param(),
        l in prop_oneof![0usize..6, Just(usize::MAX)],
        w in vec(any_float(), 0..5),
        c in any_float(),
        z in any_matrix(),
        raw in any::<bool>(),
        draws in 0usize..3,
    ) {
        let _ = gegenbauer(l.min(40), p, c);
        if let Ok(k) = kernel(which, d, p, l, &w) {
            let _ = (k.eval(c), k.eval_d1(c), k.eval_d2(c), k.uniform_mean(), k.z());
            let scale = if raw { Scale::Raw } else { Scale::Paper };
            let mut mmd = Mmd::new(k.clone()).with_scale(scale);
            exercise(&mut mmd, &z);
            let _ = gradient_variance(&mut mmd, z.view(), draws);
            exercise(&mut Ksd::new(k.clone()).with_scale(scale), &z);
            if let Ok(mut kl) = KdeKl::raw(k).map(|kl| kl.with_scale(scale)) {
                exercise(&mut kl, &z);
            }
        }
    }

    #[test]
    fn sliced_regularizers_never_panic(
        slices in prop_oneof![0usize..4, Just(1usize << 21), Just(usize::MAX)],
        seed in any::<u64>(),
        t_max in any_param(),
        knots in prop_oneof![0usize..20, Just(1027usize), Just(usize::MAX)],
        d in any_size(),
        exact in any::<Option<bool>>(),
        a in any_matrix(),
        z in any_matrix(),
    ) {
        let _ = EppsPulleyGrid::new(t_max, knots);
        let _ = directions(slices, d, seed, seed);
        if let Ok(reg) = Sigreg::new(slices, seed) {
            exercise(&mut reg.clone(), &z);
            if let Ok(mut fixed) = reg.clone().try_with_directions(&a) {
                exercise(&mut fixed, &z);
            }
            if let Ok(mut reg) = reg.with_grid(t_max, knots) {
                exercise(&mut reg, &z);
            }
        }
        if let Ok(reg) = Susreg::new(slices, seed) {
            let reg = match exact {
                Some(e) => reg.with_exact_target(e),
                None => reg,
            };
            exercise(&mut reg.clone(), &z);
            if let Ok(mut fixed) = reg.clone().try_with_directions(a.view()) {
                exercise(&mut fixed, &z);
            }
            if let Ok(mut reg) = reg.with_grid(t_max, knots) {
                exercise(&mut reg, &z);
            }
        }
        exercise(&mut SigregIntegrated::new(), &z);
        if let Ok(mut twin) = SigregIntegrated::new().with_grid(t_max, knots) {
            exercise(&mut twin, &z);
        }
        let twin = match exact {
            Some(e) => SusregIntegrated::new().with_exact_target(e),
            None => SusregIntegrated::new(),
        };
        exercise(&mut twin.clone(), &z);
        if let Ok(mut twin) = twin.with_grid(t_max, knots) {
            exercise(&mut twin, &z);
        }
    }

    #[test]
    fn special_functions_never_panic(d in any_float(), r in any_float()) {
        let _ = (omega(d, r), omega_and_derivative(d, r));
        let _ = (hyp1f1_half(d, r), hyp1f1_half_and_derivative(d, r));
    }
}

proptest! {
    // Fewer cases: preparing a test's null distribution can take a second (Ajne
    // in d = 2).
    #![proptest_config(crate::common::proptest_config(96))]

    #[test]
    fn uniformity_tests_never_panic(
        which in 0usize..14,
        p in any_param(),
        w in vec(any_float(), 0..4),
        kd in 0usize..6,
        replicates in prop_oneof![0usize..3, Just(usize::MAX)],
        monte_carlo in any::<bool>(),
        seed in any::<u64>(),
        z in any_matrix(),
        statistic in any_float(),
        n in prop_oneof![0usize..20, Just(1usize << 40), Just(usize::MAX)],
        d in any_size(),
    ) {
        let k = Kernel::heat(kd, p).ok();
        if let Ok(test) = uniformity_test(which, p, &w, k.as_ref()) {
            let test = if monte_carlo {
                match test.monte_carlo(replicates, seed) {
                    Ok(t) => t,
                    Err(_) => return Ok(()),
                }
            } else {
                test.asymptotic()
            };
            let _ = test.name();
            let _ = test.statistic(z.view());
            let _ = test.statistic(z.mapv(|v| v as f32).view());
            let _ = test.run(z.view());
            let _ = test.p_value(statistic, n, d);
        }
    }
}
