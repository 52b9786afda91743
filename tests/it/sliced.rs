//! SIGReg, SUSReg and their integrated twins: unbiasedness, the Gaussian value,
//! gradients, reproducibility and bad input.

use crate::common;

use common::*;
use ndarray::{Array2, s};
use proptest::prelude::*;
use unisphere::sliced::directions;
use unisphere::{
    EppsPulleyGrid, Error, Regularizer, Sigreg, SigregIntegrated, Susreg, SusregIntegrated,
};

/// Mean and standard error of the sliced loss and gradient over `draws` fresh calls.
fn sliced_average(
    reg: &mut dyn Regularizer<f64>,
    z: &Array2<f64>,
    draws: usize,
) -> (f64, f64, Array2<f64>, Array2<f64>) {
    let (mut s1, mut s2) = (0.0, 0.0);
    let mut g1 = Array2::<f64>::zeros(z.dim());
    let mut g2 = Array2::<f64>::zeros(z.dim());
    for _ in 0..draws {
        let (v, g) = reg.loss_and_grad(z.view()).unwrap();
        s1 += v;
        s2 += v * v;
        g1 += &g;
        g2 += &(&g * &g);
    }
    let m = draws as f64;
    let mean = s1 / m;
    let se = ((s2 / m - mean * mean) / m).sqrt();
    let gmean = g1 / m;
    let gse = ((g2 / m - &gmean * &gmean) / m).mapv(|v| v.max(0.0).sqrt());
    (mean, se, gmean, gse)
}

fn assert_unbiased(
    sliced: &mut dyn Regularizer<f64>,
    twin: &mut dyn Regularizer<f64>,
    z: &Array2<f64>,
    draws: usize,
) {
    let (mean, se, gmean, gse) = sliced_average(sliced, z, draws);
    let (v, g) = twin.loss_and_grad(z.view()).unwrap();
    assert!(
        (mean - v).abs() < 4.5 * se,
        "{}: mean {mean} vs twin {v} (se {se})",
        sliced.name()
    );
    let mut worst = 0.0f64;
    for ((a, b), e) in gmean.iter().zip(&g).zip(&gse) {
        worst = worst.max((a - b).abs() / e.max(1e-300));
    }
    // 4.5 standard errors per entry, with a Bonferroni allowance for the many entries.
    assert!(
        worst < 5.5,
        "{}: gradient off by {worst} standard errors",
        sliced.name()
    );
}

#[test]
fn sliced_averages_converge_to_the_twins() {
    for (n, d, seed) in [(6usize, 3usize, 1u64), (10, 8, 2), (5, 24, 3)] {
        let z = clustered(n, d, 2, 0.7, seed);
        assert_unbiased(
            &mut Sigreg::new(4, seed).unwrap(),
            &mut SigregIntegrated::new(),
            &z,
            3000,
        );
        assert_unbiased(
            &mut Susreg::new(4, seed).unwrap(),
            &mut SusregIntegrated::new(),
            &z,
            3000,
        );
    }
}

#[test]
fn susreg_twin_with_gaussian_target_is_also_unbiased() {
    let z = clustered(8, 6, 2, 0.7, 4);
    let mut sliced = Susreg::new(4, 9).unwrap().with_exact_target(false);
    let mut twin = SusregIntegrated::new().with_exact_target(false);
    assert_unbiased(&mut sliced, &mut twin, &z, 3000);
}

#[test]
fn sigreg_on_gaussian_data_has_the_known_expectation() {
    let grid = EppsPulleyGrid::default();
    let expected: f64 = grid
        .knots()
        .iter()
        .zip(grid.weights())
        .map(|(t, w)| w * (1.0 - (-t * t).exp()))
        .sum();
    assert!((expected - 1.0525).abs() < 5e-5, "{expected}");
    // E over Gaussian samples of the twin (= E over samples and directions), N-independent.
    for n in [16usize, 64] {
        let mut twin = SigregIntegrated::new();
        let reps = 400;
        let vals: Vec<f64> = (0..reps)
            .map(|r| twin.loss(gaussian(n, 5, 1000 + r).view()).unwrap())
            .collect();
        let mean = vals.iter().sum::<f64>() / reps as f64;
        let sd = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (reps - 1) as f64).sqrt();
        assert!(
            (mean - expected).abs() < 4.5 * sd / (reps as f64).sqrt(),
            "N={n}: {mean} vs {expected}"
        );
    }
}

proptest! {
    #![proptest_config(proptest_config(24))]
    #[test]
    fn gradients_match_finite_differences(n in 2usize..6, d in 2usize..6, seed in 0u64..500, m in 1usize..5) {
        let z = pseudo_random(n, d, seed).mapv(|v| 1.5 * v) + 0.1;
        let a = directions(m, d, seed, 0).unwrap();
        let mut regs: Vec<Box<dyn Regularizer<f64>>> = vec![
            Box::new(Sigreg::new(1, 0).unwrap().try_with_directions(&a).unwrap()),
            Box::new(Susreg::new(1, 0).unwrap().try_with_directions(a.view()).unwrap()),
            Box::new(SigregIntegrated::new()),
            Box::new(SusregIntegrated::new()),
            Box::new(SusregIntegrated::new().with_grid(2.0, 5).unwrap()),
        ];
        for reg in regs.iter_mut() {
            let (loss, g) = reg.loss_and_grad(z.view()).unwrap();
            let fd = finite_difference(&z, FD_STEP, |zz| reg.loss(zz.view()).unwrap());
            let err = max_abs(&(&g - &fd));
            // The statistics are N x sums of O(1) characteristic-function terms.
            let tol = fd_tolerance(&fd, loss.abs().max(n as f64), FD_STEP);
            prop_assert!(err <= tol, "{}: {err:e} > {tol:e} (largest entry {:e})", reg.name(), max_abs(&fd));
        }
    }
}

#[test]
fn reproducible_draws_and_deterministic_twins() {
    let z = clustered(20, 6, 3, 0.5, 8);
    let mut a = Sigreg::new(16, 5).unwrap();
    let mut b = Sigreg::new(16, 5).unwrap();
    let first: Vec<f64> = (0..3).map(|_| a.loss(z.view()).unwrap()).collect();
    let again: Vec<f64> = (0..3).map(|_| b.loss(z.view()).unwrap()).collect();
    assert_eq!(first, again);
    assert!(first[0] != first[1] && first[1] != first[2]);
    let mut c = Sigreg::new(16, 6).unwrap();
    assert_ne!(c.loss(z.view()).unwrap(), first[0]);
    let mut s1 = Susreg::new(8, 1).unwrap();
    let mut s2 = Susreg::new(8, 1).unwrap();
    assert_eq!(
        s1.loss_and_grad(z.view()).unwrap(),
        s2.loss_and_grad(z.view()).unwrap()
    );
    for twin in [
        &mut SigregIntegrated::new() as &mut dyn Regularizer<f64>,
        &mut SusregIntegrated::new(),
    ] {
        let x = twin.loss_and_grad(z.view()).unwrap();
        let y = twin.loss_and_grad(z.view()).unwrap();
        assert_eq!(x.0.to_bits(), y.0.to_bits());
        assert_eq!(x.1, y.1);
    }
}

#[test]
fn twins_are_invariant_under_rotation_and_permutation() {
    let z = clustered(30, 7, 3, 0.6, 2);
    let q = random_rotation(7, 3);
    for twin in [
        &mut SigregIntegrated::new() as &mut dyn Regularizer<f64>,
        &mut SusregIntegrated::new(),
    ] {
        let (v, g) = twin.loss_and_grad(z.view()).unwrap();
        let (vr, gr) = twin.loss_and_grad(z.dot(&q).view()).unwrap();
        assert!((v - vr).abs() < 1e-12 * v.abs());
        assert!(max_abs(&(&gr - &g.dot(&q))) < 1e-11 * max_abs(&g));
        let zp = z.slice(s![..;-1, ..]).to_owned();
        let (vp, gp) = twin.loss_and_grad(zp.view()).unwrap();
        assert!((v - vp).abs() < 1e-12 * v.abs());
        assert!(max_abs(&(&gp - &g.slice(s![..;-1, ..]))) < 1e-12 * max_abs(&g));
    }
}

#[test]
fn large_batches_use_tables_and_agree_with_f32() {
    // N >= 64 switches the SIGReg twin to a profile tabulated for the call's range.
    let z = gaussian(600, 12, 5);
    let mut twin = SigregIntegrated::new();
    let (v, g) = Regularizer::<f64>::loss_and_grad(&mut twin, z.view()).unwrap();
    let (v32, g32) =
        Regularizer::<f32>::loss_and_grad(&mut twin, z.mapv(|x| x as f32).view()).unwrap();
    assert!((v - v32).abs() < 1e-4 * v.abs().max(1.0), "{v} vs {v32}");
    assert!(max_abs(&(&g32.mapv(f64::from) - &g)) < 1e-3 * max_abs(&g));
    // The table's range follows the rows; rotating them must not change the loss.
    let q = random_rotation(12, 9);
    let vr = Regularizer::<f64>::loss(&mut twin, z.dot(&q).view()).unwrap();
    assert!((v - vr).abs() < 1e-11 * v.abs());
    // The cached table gives the same numbers as a fresh instance.
    let fresh = Regularizer::<f64>::loss(&mut SigregIntegrated::new(), z.view()).unwrap();
    assert_eq!(
        Regularizer::<f64>::loss(&mut twin, z.view())
            .unwrap()
            .to_bits(),
        fresh.to_bits()
    );
}

#[test]
fn bad_input_is_an_error() {
    assert!(matches!(
        Sigreg::new(0, 1),
        Err(Error::InvalidParameter { name: "slices", .. })
    ));
    assert!(matches!(
        Susreg::new(usize::MAX, 1),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(Sigreg::new(4, 1).unwrap().with_grid(3.0, 16).is_err());
    assert!(Sigreg::new(4, 1).unwrap().with_grid(3.0, 1).is_err());
    assert!(Sigreg::new(4, 1).unwrap().with_grid(0.0, 17).is_err());
    assert!(Sigreg::new(4, 1).unwrap().with_grid(-1.0, 17).is_err());
    assert!(Sigreg::new(4, 1).unwrap().with_grid(f64::NAN, 17).is_err());
    assert!(SusregIntegrated::new().with_grid(3.0, 4).is_err());
    assert!(
        SigregIntegrated::new()
            .with_grid(f64::INFINITY, 17)
            .is_err()
    );
    // Unusable directions are refused at construction.
    let bad_dirs = Array2::<f64>::zeros((2, 3));
    assert!(matches!(
        Sigreg::new(1, 0).unwrap().try_with_directions(&bad_dirs),
        Err(Error::ZeroRow { .. })
    ));
    let mut nan_dirs = directions(2, 3, 0, 0).unwrap();
    nan_dirs[[1, 2]] = f64::NAN;
    assert_eq!(
        Susreg::new(1, 0)
            .unwrap()
            .try_with_directions(&nan_dirs)
            .err(),
        Some(Error::NonFinite { row: 1, col: 2 })
    );
    for shape in [(0, 3), (2, 1)] {
        let empty = Array2::<f64>::ones(shape);
        assert!(matches!(
            Sigreg::new(1, 0).unwrap().try_with_directions(&empty),
            Err(Error::Shape { .. })
        ));
    }
    // directions of the wrong dimension: an error on the call
    let mut fixed = Sigreg::new(1, 0)
        .unwrap()
        .try_with_directions(&directions(2, 4, 0, 0).unwrap())
        .unwrap();
    assert!(matches!(
        fixed.loss(gaussian(5, 3, 0).view()),
        Err(Error::Shape { .. })
    ));

    let mut regs: Vec<Box<dyn Regularizer<f64>>> = vec![
        Box::new(Sigreg::new(8, 1).unwrap()),
        Box::new(Susreg::new(8, 1).unwrap()),
        Box::new(SigregIntegrated::new()),
        Box::new(SusregIntegrated::new()),
    ];
    for reg in regs.iter_mut() {
        let mut z = gaussian(5, 3, 1);
        z[[0, 2]] = f64::NAN;
        assert_eq!(reg.loss(z.view()), Err(Error::NonFinite { row: 0, col: 2 }));
        assert!(matches!(
            reg.loss(Array2::zeros((0, 3)).view()),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            reg.loss(Array2::ones((5, 1)).view()),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            reg.loss(Array2::ones((1, 3)).view()),
            Err(Error::TooFewPoints { .. })
        ));
    }
    // A zero row: valid for SIGReg (raw embeddings), an error for SUSReg.
    let mut z = gaussian(5, 3, 1);
    z.row_mut(3).fill(0.0);
    let (_, g) = regs[0].loss_and_grad(z.view()).unwrap();
    assert!(g.iter().all(|v| v.is_finite()));
    let (_, g) = regs[2].loss_and_grad(z.view()).unwrap();
    assert!(g.iter().all(|v| v.is_finite()));
    assert_eq!(regs[1].loss(z.view()), Err(Error::ZeroRow { row: 3 }));
    assert_eq!(regs[3].loss(z.view()), Err(Error::ZeroRow { row: 3 }));
    // Rows so large that their squared distances overflow: a clear error from the twin.
    let huge = gaussian(6, 4, 2).mapv(|v| v * 1e160);
    assert!(matches!(
        regs[2].loss(huge.view()),
        Err(Error::NotRepresentable { .. })
    ));
    let (v, g) = regs[0].loss_and_grad(huge.view()).unwrap();
    assert!(v.is_finite() && g.iter().all(|x| x.is_finite()));
    // Huge raw embeddings stay finite for SIGReg and its twin.
    let big = gaussian(6, 4, 2).mapv(|v| v * 1e150);
    for k in [0, 2] {
        let reg = &mut regs[k];
        let (v, g) = reg.loss_and_grad(big.view()).unwrap();
        assert!(
            v.is_finite() && g.iter().all(|x| x.is_finite()),
            "{}",
            reg.name()
        );
    }
}

#[test]
fn induced_kernel_matches_its_closed_form_and_twin_limit() {
    use unisphere::special::hyp1f1_half;
    use unisphere::{Kernel, Mmd, Scale};
    for d in [2usize, 3, 8, 64, 256, 1024] {
        let k = Kernel::susreg_induced(d).unwrap();
        let df = d as f64;
        for i in 0..=40 {
            let c = -1.0 + 0.05 * i as f64;
            let want = hyp1f1_half(df, df * (1.0 - c));
            assert!(
                (k.eval(c) - want).abs() < 1e-12,
                "d={d} c={c}: {} vs {want}",
                k.eval(c)
            );
        }
        // C_b = mean of phi against the uniform marginal.
        let cb = uniform_marginal_mean(d, |c| hyp1f1_half(df, df * (1.0 - c)));
        assert!((k.uniform_mean() - cb).abs() < 1e-12, "d={d}");
        let mut mmd = Mmd::new(k).with_scale(Scale::Raw);
        let v = mmd.loss(gaussian(50, d, 1).view()).unwrap();
        assert!(v >= 0.0 && v.is_finite());
    }
    let k = Kernel::susreg_induced(256).unwrap();
    assert!((k.eval(-1.0) - 0.4464).abs() < 5e-5);
    assert!(Kernel::susreg_induced(1).is_err());
}

#[test]
fn susreg_twin_tends_to_the_induced_kernel_mmd() {
    // As T -> infinity (exact target), the twin is N sqrt(2 pi) MMD^2 with k-bar.
    use unisphere::{Kernel, Mmd, Scale};
    for (n, d) in [(12usize, 3usize), (20, 16), (9, 64)] {
        let z = clustered(n, d, 3, 0.5, d as u64);
        let mut twin = SusregIntegrated::new()
            .with_grid(12.0, 1025)
            .unwrap()
            .with_exact_target(true);
        let limit = twin.loss(z.view()).unwrap() / (n as f64 * (2.0 * std::f64::consts::PI).sqrt());
        let mmd = Mmd::new(Kernel::susreg_induced(d).unwrap())
            .with_scale(Scale::Raw)
            .loss(z.view())
            .unwrap();
        assert!((limit - mmd).abs() < 1e-9 * mmd, "d={d}: {limit} vs {mmd}");
    }
}
