//! Sharded evaluation without MPI: for random splits of a batch over ranks (a rank
//! with one row, unequal sizes, a single rank), the shares sum to the loss of one
//! process on the whole batch and the ranks' gradients, concatenated, are its
//! gradient (itself checked against finite differences in the other test files).

use ndarray::{Array2, ArrayView2, Axis, concatenate, s};
use proptest::prelude::*;
use unisphere::shard::{Exchange, Shard, ShardResult, Sharded, run_in_process};
use unisphere::{
    Error, KdeKl, Kernel, Ksd, Mmd, Regularizer, Sigreg, SigregIntegrated, Susreg, SusregIntegrated,
};

fn max_abs(a: &Array2<f64>) -> f64 {
    a.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// Rows with a deterministic pseudo-random pattern (no zero rows).
fn batch(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Array2::from_shape_fn((n, d), |_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0 + 1e-3
    })
}

/// The parts of `z` cut before the rows `cuts` (sorted, inside `1..N`).
fn split<'a>(z: &'a Array2<f64>, cuts: &[usize]) -> Vec<ArrayView2<'a, f64>> {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(z.nrows());
    bounds
        .windows(2)
        .map(|w| z.slice(s![w[0]..w[1], ..]))
        .collect()
}

/// Runs `reg` on one process and sharded on `parts`; checks loss and gradient to
/// `tol` relative: the loss relative to the magnitude of its terms (the loss of the
/// collapsed batch, every row the first, where that is larger than the loss: a
/// loss near zero is a sum of terms that cancel, rounded at their scale), the
/// gradient relative to its largest entry. Returns (single loss, sharded loss,
/// single gradient, sharded gradient).
fn compare<R: Sharded<f64> + Clone>(
    reg: &R,
    z: &Array2<f64>,
    cuts: &[usize],
    tol: f64,
) -> (f64, f64, Array2<f64>, Array2<f64>) {
    let (whole, grad) = reg.clone().loss_and_grad(z.view()).unwrap();
    let parts = split(z, cuts);
    let mut ranks = vec![reg.clone(); parts.len()];
    let (loss, grads) = run_in_process(&mut ranks, &parts).unwrap();
    let views: Vec<_> = grads.iter().map(|g| g.view()).collect();
    let g = concatenate(Axis(0), &views).unwrap();
    let name = reg.clone().name();
    let collapsed = z.row(0).broadcast(z.dim()).unwrap().to_owned();
    let scale = whole
        .abs()
        .max(reg.clone().loss(collapsed.view()).unwrap().abs());
    assert!(
        (loss - whole).abs() <= tol * scale,
        "{name} cuts {cuts:?}: sharded {loss:e} vs {whole:e}"
    );
    let err = max_abs(&(&g - &grad));
    assert!(
        err <= tol * max_abs(&grad),
        "{name} cuts {cuts:?}: gradient error {err:e} of {:e}",
        max_abs(&grad)
    );
    (whole, loss, grad, g)
}

/// Every objective once, in dimension `d` (KDE-KL on the raw scale below d = 19).
fn check_all(z: &Array2<f64>, cuts: &[usize], seed: u64) {
    let d = z.ncols();
    let heat = Kernel::heat(d, 5.0 / d as f64).unwrap();
    let tol = 1e-12;
    compare(&Mmd::new(heat.clone()), z, cuts, tol);
    compare(&Mmd::new(Kernel::bandlimited(d, 3).unwrap()), z, cuts, tol);
    compare(&Ksd::new(heat.clone()), z, cuts, tol);
    let kl = if d >= 19 {
        KdeKl::new(heat).unwrap()
    } else {
        KdeKl::raw(heat).unwrap()
    };
    compare(&kl, z, cuts, tol);
    compare(&SigregIntegrated::new(), z, cuts, tol);
    compare(&SusregIntegrated::new(), z, cuts, tol);
    compare(&Sigreg::new(32, seed).unwrap(), z, cuts, tol);
    compare(&Susreg::new(32, seed).unwrap(), z, cuts, tol);
}

proptest! {
    #![proptest_config(crate::common::proptest_config(24))]
    #[test]
    fn random_splits_sum_to_the_single_process_loss_and_gradient(
        n in 2usize..40,
        d in 2usize..8,
        seed in 0u64..1000,
        cuts in proptest::collection::vec(0.0f64..1.0, 0..4),
    ) {
        let z = batch(n, d, seed);
        let mut c: Vec<usize> = cuts.iter().map(|u| 1 + (u * (n - 1) as f64) as usize).filter(|&c| c < n).collect();
        c.sort_unstable();
        c.dedup();
        check_all(&z, &c, seed);
    }
}

#[test]
fn unequal_shards_across_tiles_and_a_one_row_rank() {
    // 300 rows: several engine tiles; ranks of 1, 150, 100 and 49 rows.
    let z = batch(300, 24, 7);
    check_all(&z, &[1, 151, 251], 7);
    // A last rank of one row.
    check_all(&z, &[299], 8);
}

#[test]
fn a_single_rank_is_the_single_process_call_and_sliced_bit_for_bit() {
    let z = batch(50, 6, 3);
    check_all(&z, &[], 3);
    for (whole, loss, grad, g) in [
        compare(&Sigreg::new(200, 9).unwrap(), &z, &[], 0.0),
        compare(&Susreg::new(200, 9).unwrap(), &z, &[], 0.0),
    ] {
        assert_eq!(whole.to_bits(), loss.to_bits());
        assert_eq!(grad, g);
    }
}

#[test]
fn sliced_ranks_agree_on_the_loss_and_advance_one_step() {
    let z = batch(40, 5, 11);
    let parts = split(&z, &[1, 17]);
    let mut ranks = vec![Sigreg::new(64, 4).unwrap().with_step(6); 3];
    let mut sums = Vec::<f64>::new();
    for (reg, p) in ranks.iter_mut().zip(&parts) {
        let Exchange::Sum(v) = reg.shard_begin(&Shard::local(*p)).unwrap() else {
            panic!("SIGReg sums");
        };
        if sums.is_empty() {
            sums = v;
        } else {
            sums.iter_mut().zip(&v).for_each(|(a, b)| *a += b);
        }
        assert_eq!(reg.step(), 6, "phase 1 does not advance the counter");
    }
    let outs: Vec<ShardResult<f64>> = ranks
        .iter_mut()
        .zip(&parts)
        .map(|(reg, p)| reg.shard_finish(&Shard::local(*p), &sums).unwrap())
        .collect();
    assert!(outs.iter().all(|o| o.loss == outs[0].loss));
    assert!(ranks.iter().all(|r| r.step() == 7));
    let want = Sigreg::new(64, 4)
        .unwrap()
        .with_step(6)
        .loss(z.view())
        .unwrap();
    assert!((outs[0].loss.unwrap() - want).abs() <= 1e-12 * want);
}

#[test]
fn f32_shards_match_the_f32_single_process_call() {
    let z = batch(64, 8, 5).mapv(|v| v as f32);
    let mut mmd = Mmd::new(Kernel::heat(8, 0.6).unwrap());
    let (whole, grad) = mmd.loss_and_grad(z.view()).unwrap();
    let parts = [z.slice(s![..1, ..]), z.slice(s![1.., ..])];
    let mut ranks = vec![mmd.clone(), mmd];
    let (loss, grads) = run_in_process(&mut ranks, &parts).unwrap();
    let g = concatenate(Axis(0), &[grads[0].view(), grads[1].view()]).unwrap();
    assert!((loss - whole).abs() <= 1e-5 * whole.abs());
    let scale = grad.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(
        g.iter()
            .zip(&grad)
            .all(|(a, b)| (a - b).abs() <= 1e-4 * scale)
    );
}

#[test]
fn bad_shards_and_exchanges_are_errors() {
    let z = batch(10, 4, 1);
    let zf = z.view();
    assert!(matches!(Shard::new(zf, 3..3), Err(Error::Shape { .. })));
    assert!(matches!(Shard::new(zf, 8..11), Err(Error::Shape { .. })));
    let mut mmd = Mmd::new(Kernel::heat(4, 0.5).unwrap());
    // MMD needs the gathered rows.
    assert!(mmd.shard_begin(&Shard::local(zf)).is_err());
    let shard = Shard::new(zf, 2..5).unwrap();
    assert_eq!(mmd.shard_begin(&shard).unwrap(), Exchange::Nothing);
    assert!(mmd.shard_finish(&shard, &[1.0]).is_err());
    // KL: the gathered densities must number N and be finite.
    let mut kl = KdeKl::raw(Kernel::heat(4, 0.5).unwrap()).unwrap();
    let Exchange::GatherRows(mine) = kl.shard_begin(&shard).unwrap() else {
        panic!("KL gathers");
    };
    assert_eq!(mine.len(), 3);
    assert!(kl.shard_finish(&shard, &mine).is_err());
    assert!(kl.shard_finish(&shard, &[f64::NAN; 10]).is_err());
    // Sliced: 2 M K + 1 numbers, a whole row count >= 2 and >= the local rows.
    let mut sig = Sigreg::new(4, 0).unwrap();
    let local = Shard::local(zf.slice_move(s![..1, ..]));
    let Exchange::Sum(sums) = sig.shard_begin(&local).unwrap() else {
        panic!("SIGReg sums");
    };
    assert!(matches!(
        sig.shard_finish(&local, &sums),
        Err(Error::TooFewPoints { .. })
    ));
    assert!(sig.shard_finish(&local, &sums[1..]).is_err());
    let mut half = sums.clone();
    *half.last_mut().unwrap() = 2.5;
    assert!(sig.shard_finish(&local, &half).is_err());
    assert_eq!(sig.step(), 0, "failed calls draw nothing");
    // A zero row anywhere in the gathered batch, or a NaN, is an error on every rank.
    let mut zero = z.clone();
    zero.row_mut(7).fill(0.0);
    let shard = Shard::new(zero.view(), 0..2).unwrap();
    assert!(matches!(
        mmd.shard_finish(&shard, &[]),
        Err(Error::ZeroRow { row: 7 })
    ));
    zero[[7, 1]] = f64::NAN;
    assert!(matches!(
        mmd.shard_begin(&Shard::new(zero.view(), 0..2).unwrap()),
        Err(Error::NonFinite { row: 7, col: 1 })
    ));
    let wide = batch(10, 5, 1);
    let mut ranks = vec![mmd.clone(), mmd.clone()];
    assert!(run_in_process(&mut ranks, &[z.view(), wide.view()]).is_err());
    assert!(run_in_process(&mut ranks, &[z.view()]).is_err());
}

#[test]
fn uniformity_statistics_are_sums_of_shares() {
    use unisphere::uniformity::UniformityTest;
    let tests = [
        UniformityTest::rayleigh(),
        UniformityTest::bingham(),
        UniformityTest::pcvm(),
        UniformityTest::gine_gn(),
        UniformityTest::bakshaev(),
        UniformityTest::riesz(0.5).unwrap(),
        UniformityTest::poisson(0.5).unwrap(),
        UniformityTest::softmax(2.0).unwrap(),
        UniformityTest::from_kernel(&Kernel::heat(5, 0.5).unwrap()).unwrap(),
    ];
    for (n, cuts) in [
        (2usize, vec![1usize]),
        (50, vec![]),
        (300, vec![1, 120, 299]),
    ] {
        let z = batch(n, 5, n as u64);
        for test in &tests {
            let whole = test.run(z.view()).unwrap();
            let mut bounds = vec![0];
            bounds.extend_from_slice(&cuts);
            bounds.push(n);
            let sum: f64 = bounds
                .windows(2)
                .map(|w| {
                    test.shard_statistic(&Shard::new(z.view(), w[0]..w[1]).unwrap())
                        .unwrap()
                })
                .sum();
            let tol = 1e-12 * whole.statistic.abs().max(1.0);
            assert!(
                (sum - whole.statistic).abs() <= tol,
                "{} n={n}: {sum:e} vs {:e}",
                whole.test,
                whole.statistic
            );
        }
    }
    assert!(
        UniformityTest::pcvm()
            .shard_statistic(&Shard::local(batch(4, 3, 1).view()))
            .is_err()
    );
}
