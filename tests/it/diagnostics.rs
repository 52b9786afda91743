//! The gradient-variance diagnostic: zero for deterministic regularizers, and the
//! sliced variance scaling as 1/M.

use crate::common;

use common::*;
use unisphere::diagnostics::gradient_variance;
use unisphere::{
    Error, Kernel, Ksd, Mmd, Regularizer, Sigreg, SigregIntegrated, Susreg, SusregIntegrated,
};

#[test]
fn deterministic_regularizers_have_zero_variance() {
    let z = clustered(80, 12, 4, 0.5, 1);
    let mut regs: Vec<Box<dyn Regularizer<f64>>> = vec![
        Box::new(Mmd::new(Kernel::heat(12, 5.0 / 12.0).unwrap())),
        Box::new(Ksd::new(Kernel::bandlimited(12, 3).unwrap())),
        Box::new(SigregIntegrated::new()),
        Box::new(SusregIntegrated::new()),
    ];
    for reg in regs.iter_mut() {
        let r = gradient_variance(reg.as_mut(), z.view(), 5).unwrap();
        assert_eq!(r.relative_variance, 0.0, "{}", reg.name());
        assert_eq!(r.loss_std, 0.0);
        let (v, g) = reg.loss_and_grad(z.view()).unwrap();
        assert_eq!(r.mean_loss, v);
        assert_eq!(r.mean_gradient, g);
        assert!(r.seconds_per_call > 0.0 && r.draws == 5);
    }
}

#[test]
fn sliced_variance_times_slices_is_roughly_constant() {
    let z = clustered(128, 16, 4, 0.5, 2);
    for family in ["SIGReg", "SUSReg"] {
        let scaled: Vec<f64> = [16usize, 256]
            .iter()
            .map(|&m| {
                let mut reg: Box<dyn Regularizer<f64>> = if family == "SIGReg" {
                    Box::new(Sigreg::new(m, 3).unwrap())
                } else {
                    Box::new(Susreg::new(m, 3).unwrap())
                };
                gradient_variance(reg.as_mut(), z.view(), 200)
                    .unwrap()
                    .relative_variance
                    * m as f64
            })
            .collect();
        let ratio = scaled[0] / scaled[1];
        assert!(
            (0.5..2.0).contains(&ratio),
            "{family}: M*var at M=16 vs 256: {scaled:?}"
        );
    }
}

#[test]
fn zero_draws_is_an_error() {
    let z = clustered(8, 3, 2, 0.5, 3);
    let err = gradient_variance(&mut SigregIntegrated::new(), z.view(), 0).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { name: "draws", .. }));
}
