//! What a training loop relies on: `loss_and_grad_into` adds exactly `alpha` times
//! `loss_and_grad`'s gradient, checks its buffer, and the sliced regularizers'
//! direction stream can be saved, restored and cloned.

use unisphere::ndarray::{Array2, ArrayView2};
use unisphere::{
    Error, KdeKl, Kernel, Ksd, Mmd, Real, Regularizer, Sigreg, SigregIntegrated, Susreg,
    SusregIntegrated,
};

const D: usize = 24;

/// Every kind of objective, twice (sliced ones with the same seed, so the two
/// instances draw the same directions).
fn objectives<F: Real>() -> Vec<Box<dyn Regularizer<F>>> {
    let d = D as f64;
    vec![
        Box::new(Mmd::new(Kernel::heat(D, 5.0 / d).unwrap())),
        Box::new(Mmd::new(Kernel::bandlimited(D, 2).unwrap())),
        Box::new(Ksd::new(Kernel::heat(D, 5.0 / d).unwrap())),
        Box::new(KdeKl::new(Kernel::heat(D, 2.0 / d).unwrap()).unwrap()),
        Box::new(KdeKl::raw(Kernel::heat(3, 0.5).unwrap()).unwrap()),
        Box::new(Sigreg::new(32, 5).unwrap()),
        Box::new(Susreg::new(32, 5).unwrap()),
        Box::new(SigregIntegrated::new()),
        Box::new(SusregIntegrated::new()),
    ]
}

fn rows<F: Real>(n: usize, d: usize, seed: usize) -> Array2<F> {
    Array2::from_shape_fn((n, d), |(i, j)| {
        F::from_f64(((i * 37 + j * 11 + seed * 5) % 23) as f64 / 5.0 - 2.1)
    })
}

fn adds_alpha_times_the_gradient<F: Real>() {
    for (mut a, mut b) in objectives::<F>().into_iter().zip(objectives::<F>()) {
        // Bandlimited MMD takes the moment path from N > d on: both paths.
        for n in [20, 300] {
            let d = if a.name().contains("t=0.5") { 3 } else { D };
            let z = rows::<F>(n, d, n);
            let start = rows::<F>(n, d, 1);
            for alpha in [1.0, -0.25, 3.0] {
                let (loss, g) = a.loss_and_grad(z.view()).unwrap();
                let mut out = start.clone();
                let into = b
                    .loss_and_grad_into(z.view(), out.view_mut(), alpha)
                    .unwrap();
                assert_eq!(into, loss, "{}", a.name());
                let want = &start + &g.mapv(|v| F::from_f64(alpha * v.to_f64()));
                assert_eq!(out, want, "{} n={n} alpha={alpha}", a.name());
            }
        }
    }
}

#[test]
fn into_adds_exactly_alpha_times_loss_and_grad() {
    adds_alpha_times_the_gradient::<f32>();
    adds_alpha_times_the_gradient::<f64>();
}

#[test]
fn into_checks_its_buffer_and_factor() {
    let z = rows::<f64>(10, D, 0);
    for mut reg in objectives::<f64>() {
        for shape in [(10, D + 1), (9, D), (0, 0)] {
            let mut out = Array2::<f64>::zeros(shape);
            let err = reg.loss_and_grad_into(z.view(), out.view_mut(), 1.0);
            assert!(
                matches!(err, Err(Error::Shape { .. })),
                "{}: {err:?}",
                reg.name()
            );
        }
        for alpha in [f64::NAN, f64::INFINITY] {
            let mut out = Array2::<f64>::zeros((10, D));
            let err = reg.loss_and_grad_into(z.view(), out.view_mut(), alpha);
            assert!(
                matches!(err, Err(Error::InvalidParameter { .. })),
                "{}",
                reg.name()
            );
        }
    }
}

/// A regularizer from outside the crate gets the default `loss_and_grad_into`.
struct SumOfSquares;

impl Regularizer<f64> for SumOfSquares {
    fn name(&self) -> String {
        "sum of squares".into()
    }
    fn loss(&mut self, z: ArrayView2<f64>) -> unisphere::Result<f64> {
        Ok(z.iter().map(|v| v * v).sum())
    }
    fn loss_and_grad(&mut self, z: ArrayView2<f64>) -> unisphere::Result<(f64, Array2<f64>)> {
        Ok((self.loss(z)?, z.mapv(|v| 2.0 * v)))
    }
}

#[test]
fn default_into_for_other_regularizers() {
    let z = rows::<f64>(4, 3, 0);
    let mut out = Array2::<f64>::ones((4, 3));
    let mut reg: Box<dyn Regularizer<f64>> = Box::new(SumOfSquares);
    let loss = reg
        .loss_and_grad_into(z.view(), out.view_mut(), 0.5)
        .unwrap();
    assert_eq!(loss, z.iter().map(|v| v * v).sum::<f64>());
    assert_eq!(out, z.mapv(|v| 1.0 + 0.5 * (2.0 * v)));
    assert!(
        reg.loss_and_grad_into(z.view(), Array2::zeros((3, 3)).view_mut(), 1.0)
            .is_err()
    );
}

#[test]
fn sliced_streams_resume_and_clone() {
    let z = rows::<f64>(40, 8, 2);
    let mut sig = Sigreg::new(16, 9).unwrap();
    let mut sus = Susreg::new(16, 9).unwrap();
    assert_eq!((sig.step(), sus.step()), (0, 0));
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push((sig.loss(z.view()).unwrap(), sus.loss(z.view()).unwrap()));
    }
    assert_eq!((sig.step(), sus.step()), (4, 4));
    // Resuming at step 2 replays calls 2 and 3.
    let mut sig2 = Sigreg::new(16, 9).unwrap().with_step(2);
    let mut sus2 = Susreg::new(16, 9).unwrap().with_step(2);
    for want in &seen[2..] {
        assert_eq!(
            (sig2.loss(z.view()).unwrap(), sus2.loss(z.view()).unwrap()),
            *want
        );
    }
    // A clone continues from the same step: both draw the same next directions, and
    // each advances its own counter.
    let (mut sig_c, mut sus_c) = (sig.clone(), sus.clone());
    assert_eq!(sig_c.step(), 4);
    let (a, b) = (
        sig.loss_and_grad(z.view()).unwrap(),
        sig_c.loss_and_grad(z.view()).unwrap(),
    );
    assert_eq!(a, b);
    assert_eq!(sus.loss(z.view()).unwrap(), sus_c.loss(z.view()).unwrap());
    assert_eq!((sig.step(), sig_c.step()), (5, 5));
    assert_ne!(sig.loss(z.view()).unwrap(), seen[0].0);
}

fn layouts_give_identical_results<F: Real>() {
    for (mut a, mut b) in objectives::<F>().into_iter().zip(objectives::<F>()) {
        let d = if a.name().contains("t=0.5") { 3 } else { D };
        let z = rows::<F>(40, d, 3);
        // The same rows, stored column by column: no row is a contiguous slice.
        let mut columns = Array2::<F>::zeros((d, 40));
        columns.assign(&z.t());
        let z_cols = columns.t();
        assert!(z_cols.row(0).as_slice().is_none());
        let (loss, g) = a.loss_and_grad(z.view()).unwrap();
        // A gradient buffer whose rows are not contiguous either.
        let mut out_cols = Array2::<F>::zeros((d, 40));
        let into = b
            .loss_and_grad_into(z_cols, out_cols.view_mut().reversed_axes(), 1.0)
            .unwrap();
        assert_eq!(into, loss, "{}", a.name());
        assert_eq!(out_cols.t(), g, "{}", a.name());
    }
}

#[test]
fn column_major_input_and_buffer_give_identical_results() {
    layouts_give_identical_results::<f32>();
    layouts_give_identical_results::<f64>();
}
