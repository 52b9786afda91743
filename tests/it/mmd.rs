//! MMD: gradients, invariances, collapse, Sobolev parity and bad input.

use crate::common;

use common::*;
use ndarray::{Array2, array, s};
use proptest::prelude::*;
use unisphere::{Error, Kernel, Mmd, Regularizer, Scale};

fn kernels(d: usize) -> Vec<Kernel> {
    vec![
        Kernel::heat(d, 5.0 / d as f64).unwrap(),
        Kernel::heat(d, 0.3).unwrap(),
        Kernel::bandlimited(d, 2).unwrap(),
        Kernel::bandlimited(d, 5).unwrap(),
        Kernel::from_weights(d, &[1.0, 0.0, 0.5, 0.25]).unwrap(),
    ]
}

proptest! {
    #![proptest_config(proptest_config(48))]
    #[test]
    fn gradient_matches_finite_differences(
        n in 2usize..7, d in 2usize..7, seed in 0u64..1000, t in 0.05f64..2.0,
        band in 1usize..6, heat in any::<bool>(), raw in any::<bool>(),
    ) {
        let z = pseudo_random(n, d, seed).mapv(|v| v * 3.0) + 0.2;
        let kernel = if heat { Kernel::heat(d, t).unwrap() } else { Kernel::bandlimited(d, band).unwrap() };
        // The terms are phi - C_b (at most 1 - C_b); the paper scale divides by 1 - C_b.
        let scale = if raw { 1.0 - kernel.uniform_mean() } else { 1.0 };
        let mut reg = Mmd::new(kernel).with_scale(if raw { Scale::Raw } else { Scale::Paper });
        let (_, g) = reg.loss_and_grad(z.view()).unwrap();
        let fd = finite_difference(&z, FD_STEP, |zz| reg.loss(zz.view()).unwrap());
        let err = max_abs(&(&g - &fd));
        let tol = fd_tolerance(&fd, scale, FD_STEP);
        prop_assert!(err <= tol, "err {err:e} > {tol:e} (largest entry {:e})", max_abs(&fd));
    }
}

#[test]
fn rotation_permutation_and_row_scaling_invariance() {
    for d in [2usize, 3, 9] {
        let z = clustered(40, d, 3, 0.4, 7);
        let q = random_rotation(d, 11);
        for kernel in kernels(d) {
            let mut reg = Mmd::new(kernel);
            let (v, g) = reg.loss_and_grad(z.view()).unwrap();
            // rotation: loss unchanged, gradient rotated
            let (vr, gr) = reg.loss_and_grad(z.dot(&q).view()).unwrap();
            assert!((v - vr).abs() < 1e-13, "rotation d={d}");
            assert!(max_abs(&(&gr - &g.dot(&q))) < 1e-13 * max_abs(&g).max(1.0));
            // permutation: reverse the rows
            let zp = z.slice(s![..;-1, ..]).to_owned();
            let (vp, gp) = reg.loss_and_grad(zp.view()).unwrap();
            assert!((v - vp).abs() < 1e-13);
            assert!(max_abs(&(&gp - &g.slice(s![..;-1, ..]))) < 1e-14);
            // scaling rows leaves the loss unchanged
            let mut zs = z.clone();
            zs.row_mut(3).mapv_inplace(|x| x * 1e3);
            zs.row_mut(5).mapv_inplace(|x| x * 1e-3);
            assert!((reg.loss(zs.view()).unwrap() - v).abs() < 1e-13);
        }
    }
}

#[test]
fn collapse_gives_one_and_zero_gradient() {
    for d in [2usize, 3, 64] {
        let row = pseudo_random(1, d, 3);
        let z = Array2::from_shape_fn((17, d), |(i, j)| row[[0, j]] * (1.0 + i as f64));
        for kernel in kernels(d) {
            let mut reg = Mmd::new(kernel.clone());
            let (v, g) = reg.loss_and_grad(z.view()).unwrap();
            assert!((v - 1.0).abs() < 1e-13, "d={d}: {v}");
            assert!(max_abs(&g) < 1e-13);
            let raw = Mmd::new(kernel.clone())
                .with_scale(Scale::Raw)
                .loss(z.view())
                .unwrap();
            assert!((raw - (1.0 - kernel.uniform_mean())).abs() < 1e-13);
        }
    }
}

#[test]
fn raw_scale_is_non_negative() {
    for seed in 0..20 {
        let d = 2 + (seed as usize % 6);
        let z = pseudo_random(30, d, seed);
        for kernel in kernels(d) {
            let v = Mmd::new(kernel)
                .with_scale(Scale::Raw)
                .loss(z.view())
                .unwrap();
            assert!(v >= -1e-15, "seed {seed}: {v}");
        }
    }
}

fn spec_points() -> Array2<f64> {
    array![
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
        [1.0, 1.0, 1.0],
        [-1.0, 2.0, 0.5]
    ]
}

#[test]
fn sobolev_parity_rayleigh_and_bingham() {
    let z = spec_points();
    let n = z.nrows() as f64;
    let stat = |w: &[f64]| {
        let k = Kernel::from_weights(3, w).unwrap();
        let z_norm = k.z();
        n * z_norm * Mmd::new(k).with_scale(Scale::Raw).loss(z.view()).unwrap()
    };
    let rayleigh = stat(&[1.0, 1.0]);
    assert!((rayleigh - 6.3176027415).abs() < 1e-9, "{rayleigh}");
    assert!((stat(&[1.0, 1.0]) - stat_band1(&z)).abs() < 1e-12);
    let bingham = stat(&[1.0, 0.0, 1.0]);
    assert!((bingham - 1.4285714286).abs() < 1e-9, "{bingham}");
}

/// Rayleigh's closed form `n d |mean x|^2`.
fn stat_band1(z: &Array2<f64>) -> f64 {
    let n = z.nrows() as f64;
    let mut mean = ndarray::Array1::<f64>::zeros(z.ncols());
    for r in z.rows() {
        mean += &(&r / r.dot(&r).sqrt());
    }
    mean /= n;
    n * z.ncols() as f64 * mean.dot(&mean)
}

#[test]
fn extreme_row_scales_are_exact() {
    let z = clustered(12, 5, 2, 0.5, 1);
    let mut reg = Mmd::new(Kernel::heat(5, 0.4).unwrap());
    let (v, g) = reg.loss_and_grad(z.view()).unwrap();
    for scale in [1e300, 1e-300] {
        let (vs, gs) = reg.loss_and_grad(z.mapv(|x| x * scale).view()).unwrap();
        assert!((vs - v).abs() < 1e-14);
        // dL/dz scales as 1/scale
        assert!(gs.iter().all(|x| x.is_finite()));
        let back = gs.mapv(|x| x * scale);
        assert!(max_abs(&(&back - &g)) < 1e-12 * max_abs(&g));
    }
}

#[test]
fn bad_input_is_an_error_never_a_panic() {
    let mut reg = Mmd::new(Kernel::heat(3, 0.5).unwrap());
    let mut run =
        |z: Array2<f64>| Regularizer::<f64>::loss_and_grad(&mut reg, z.view()).map(|(v, _)| v);
    let mut z = spec_points();
    z[[2, 1]] = f64::NAN;
    assert_eq!(run(z.clone()), Err(Error::NonFinite { row: 2, col: 1 }));
    z[[2, 1]] = f64::NEG_INFINITY;
    assert_eq!(run(z), Err(Error::NonFinite { row: 2, col: 1 }));
    assert!(matches!(
        run(Array2::zeros((0, 3))),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        run(Array2::zeros((4, 0))),
        Err(Error::Shape { .. })
    ));
    assert!(
        matches!(run(Array2::ones((4, 2))), Err(Error::Shape { .. })),
        "wrong d for the kernel"
    );
    assert_eq!(
        run(Array2::ones((1, 3))),
        Err(Error::TooFewPoints { n: 1, min: 2 })
    );
    let mut z = spec_points();
    z.row_mut(4).fill(0.0);
    let err = run(z).unwrap_err();
    assert_eq!(err, Error::ZeroRow { row: 4 });
    assert!(err.to_string().contains("row 4"));
    // d < 2 through a kernel: the kernel refuses it.
    assert!(Kernel::heat(1, 0.5).is_err());
    // An f32 row of subnormal norm among spread rows: its gradient (divided by the
    // norm) overflows f32 -> an error, not inf.
    let tiny = ndarray::array![
        [1e-44f32, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.5, 0.5, 0.5]
    ];
    let mut reg = Mmd::new(Kernel::heat(3, 0.5).unwrap());
    let err = Regularizer::<f32>::loss_and_grad(&mut reg, tiny.view()).unwrap_err();
    assert!(matches!(err, Error::NotRepresentable { .. }), "{err}");
}

#[test]
fn an_overflowing_gradient_of_a_large_batch_leaves_the_buffer_untouched() {
    // 2048 x 16 entries: the sink checks and adds in parallel blocks. One row of
    // subnormal norm makes its gradient overflow f32, whichever block it lies in.
    for tiny_row in [0usize, 1000, 2047] {
        let mut z = clustered(2048, 16, 4, 0.3, 9).mapv(|v| v as f32);
        z.row_mut(tiny_row).fill(0.0);
        z[[tiny_row, 3]] = 1e-44;
        let mut reg = Mmd::new(Kernel::heat(16, 0.5).unwrap());
        let mut out = Array2::<f32>::from_elem((2048, 16), 0.25);
        let err = reg
            .loss_and_grad_into(z.view(), out.view_mut(), 1.0)
            .unwrap_err();
        assert!(matches!(err, Error::NotRepresentable { .. }), "{err}");
        assert!(out.iter().all(|&v| v == 0.25), "row {tiny_row}");
    }
}

#[test]
fn f32_and_f64_agree() {
    let z = clustered(300, 16, 4, 0.3, 5);
    let mut reg = Mmd::new(Kernel::heat(16, 5.0 / 16.0).unwrap());
    let (v64, g64) = Regularizer::<f64>::loss_and_grad(&mut reg, z.view()).unwrap();
    let z32 = z.mapv(|x| x as f32);
    let (v32, g32) = Regularizer::<f32>::loss_and_grad(&mut reg, z32.view()).unwrap();
    assert!((v32 - v64).abs() < 1e-6 * v64.abs());
    let g32 = g32.mapv(f64::from);
    assert!(max_abs(&(&g32 - &g64)) < 1e-4 * max_abs(&g64));
}

/// Where the kernel has an `f32` polynomial (the paper's heat kernel at d = 256
/// and 1024, sharper heat kernels at d = 3 and 16), `f32` rows agree with `f64`
/// rows holding the same numbers as closely as rounding the cosines and weights to
/// `f32` allows: the loss to 1e-6 relative, the gradient in relative L2 norm to
/// 1e-6 (5e-6 at d = 3, where the `f64` tables give 1.7e-6 too).
#[test]
fn f32_polynomial_paths_keep_f32_accuracy() {
    for (d, td, grad_tol) in [
        (256usize, 5.0, 1e-6),
        (1024, 5.0, 1e-6),
        (3, 0.5, 5e-6),
        (16, 1.0, 1e-6),
    ] {
        let z32 = gaussian(400, d, 7).mapv(|x| x as f32);
        let z = z32.mapv(f64::from);
        let mut reg = Mmd::new(Kernel::heat(d, td / d as f64).unwrap());
        let (v64, g64) = Regularizer::<f64>::loss_and_grad(&mut reg, z.view()).unwrap();
        let (v32, g32) = Regularizer::<f32>::loss_and_grad(&mut reg, z32.view()).unwrap();
        assert!(
            (v32 - v64).abs() < 1e-6 * v64.abs(),
            "d={d}: {v32} vs {v64}"
        );
        let diff: f64 = g64
            .iter()
            .zip(&g32)
            .map(|(a, &b)| (a - f64::from(b)).powi(2))
            .sum();
        let norm: f64 = g64.iter().map(|a| a * a).sum();
        let err = (diff / norm).sqrt();
        assert!(err < grad_tol, "d={d}: gradient relative L2 error {err:e}");
    }
}
