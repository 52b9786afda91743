//! Exactness at every dimension (d = 512 .. 8192): the kernels, their logarithms and
//! KDE-KL against mpmath references of the exact series (tests/data/highd_values.json,
//! written by tests/data/make_highd_values.py), and `ln_eval` against `ln(eval)`.

use ndarray::Array2;
use proptest::prelude::*;
use serde_json::Value;
use unisphere::{KdeKl, Kernel, Regularizer, Scale};

fn data() -> &'static Value {
    static DATA: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DATA.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/highd_values.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    })
}

fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        v => v.as_f64().unwrap(),
    }
}

fn rel(got: f64, want: f64) -> f64 {
    ((got - want) / want).abs()
}

/// Values, derivatives and logs of every heat kernel at every cosine: relative `1e-10`
/// where the value is above `1e-290`, and `ln phi` to `1e-10` absolute everywhere.
#[test]
fn heat_kernels_are_exact_on_the_whole_interval() {
    let mut worst = [0.0f64; 5];
    for case in data()["kernels"].as_array().unwrap() {
        let d = case["d"].as_u64().unwrap() as usize;
        let t = num(&case["t"]);
        let k = Kernel::heat(d, t).unwrap();
        for v in case["values"].as_array().unwrap() {
            let c = num(&v["c"]);
            let what = format!("d={d} t={t} c={c}");
            for (i, (got, key)) in [
                (k.eval(c), "phi"),
                (k.eval_d1(c), "d1"),
                (k.eval_d2(c), "d2"),
            ]
            .into_iter()
            .enumerate()
            {
                let want = num(&v[key]);
                if want.abs() > 1e-290 {
                    worst[i] = worst[i].max(rel(got, want));
                    assert!(rel(got, want) < 1e-10, "{what} {key}: {got:e} vs {want:e}");
                } else {
                    assert!(got.abs() < 1e-280, "{what} {key}: {got:e} vs {want:e}");
                }
            }
            let ln = num(&v["ln_phi"]);
            worst[3] = worst[3].max((k.ln_eval(c) - ln).abs());
            assert!(
                (k.ln_eval(c) - ln).abs() < 1e-10,
                "{what}: ln {} vs {ln}",
                k.ln_eval(c)
            );
            let slope = num(&v["d1_over_phi"]);
            worst[4] = worst[4].max(rel(k.log_slope(c), slope));
            assert!(rel(k.log_slope(c), slope) < 1e-10, "{what}: log-slope");
            let (ln_d1, sign) = k.ln_eval_d1(c);
            let want = ln + slope.abs().ln();
            assert!(
                (ln_d1 - want).abs() < 1e-10 && sign == slope.signum(),
                "{what}: ln phi'"
            );
        }
    }
    eprintln!(
        "worst: phi {:.1e} phi' {:.1e} phi'' {:.1e} ln phi {:.1e} (abs) phi'/phi {:.1e}",
        worst[0], worst[1], worst[2], worst[3], worst[4]
    );
}

/// Bandlimited kernels, including the nearest doubles to their roots.
#[test]
fn bandlimited_kernels_are_exact_next_to_their_roots() {
    for case in data()["bandlimited"].as_array().unwrap() {
        let d = case["d"].as_u64().unwrap() as usize;
        let l = case["L"].as_u64().unwrap() as usize;
        let k = Kernel::bandlimited(d, l).unwrap();
        for v in case["values"].as_array().unwrap() {
            let c = num(&v["c"]);
            for (got, key) in [
                (k.eval(c), "phi"),
                (k.eval_d1(c), "d1"),
                (k.eval_d2(c), "d2"),
            ] {
                let want = num(&v[key]);
                if want.abs() > 1e-290 {
                    assert!(
                        rel(got, want) < 1e-10,
                        "d={d} L={l} c={c} {key}: {got:e} vs {want:e}"
                    );
                }
            }
        }
    }
}

/// The reference batches' generator: SplitMix64, Irwin–Hall sums of 12 uniforms.
struct Gaussians(u64);

impl Gaussians {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn next(&mut self) -> f64 {
        let mut s = 0.0f64;
        for _ in 0..12 {
            s += (self.next_u64() >> 11) as f64 * 2f64.powi(-53);
        }
        s - 6.0
    }
}

fn batch_rows(case: &Value) -> Array2<f32> {
    let d = case["d"].as_u64().unwrap() as usize;
    let n = case["n"].as_u64().unwrap() as usize;
    let mut g = Gaussians(case["seed"].as_u64().unwrap());
    let rows = match case["batch"].as_str().unwrap() {
        "uniform" => Array2::from_shape_simple_fn((n, d), || g.next() as f32),
        _ => {
            let centres: Vec<Vec<f64>> = (0..3)
                .map(|_| {
                    let c: Vec<f64> = (0..d).map(|_| g.next()).collect();
                    let mut s = 0.0f64;
                    for x in &c {
                        s += x * x;
                    }
                    let norm = s.sqrt();
                    c.iter().map(|x| x / norm).collect()
                })
                .collect();
            let sigma = 0.3 / (d as f64).sqrt();
            let mut rows = Array2::zeros((n, d));
            for i in 0..n {
                for j in 0..d {
                    let noise = sigma * g.next();
                    rows[[i, j]] = (centres[i % 3][j] + noise) as f32;
                }
            }
            rows
        }
    };
    let check = &case["generator"];
    let first: Vec<f64> = check["row0_first4"]
        .as_array()
        .unwrap()
        .iter()
        .map(num)
        .collect();
    for (j, want) in first.iter().enumerate() {
        assert_eq!(rows[[0, j]] as f64, *want, "generator, entry {j}");
    }
    assert_eq!(rows[[n - 1, d - 1]] as f64, num(&check["last_row_last"]));
    rows
}

/// Worst relative errors of the raw and paper losses and of the gradient (its first
/// 64 columns and its projection relative to the row's norm, and the row norms).
fn kl_errors<F: unisphere::Real>(case: &Value, kl: &KdeKl, rows: &Array2<F>) -> (f64, f64) {
    let d = case["d"].as_u64().unwrap() as usize;
    let mut raw = kl.clone().with_scale(Scale::Raw);
    let (loss, grad) = raw.loss_and_grad(rows.view()).unwrap();
    let paper = kl.clone().loss(rows.view()).unwrap();
    let loss_err = rel(loss, num(&case["raw_loss"])).max(rel(paper, num(&case["paper_loss"])));
    let mut v = Gaussians(case["grad_dot_vector"]["seed"].as_u64().unwrap());
    let v: Vec<f64> = (0..d).map(|_| v.next()).collect();
    let vnorm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let mut grad_err = 0.0f64;
    for (i, row) in grad.rows().into_iter().enumerate() {
        let row: Vec<f64> = row.iter().map(|x| x.to_f64()).collect();
        let norm = num(&case["grad_row_norms"][i]);
        let got_norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
        grad_err = grad_err.max(rel(got_norm, norm));
        for (j, want) in case["grad_cols"][i].as_array().unwrap().iter().enumerate() {
            grad_err = grad_err.max((row[j] - num(want)).abs() / norm);
        }
        let dot: f64 = row.iter().zip(&v).map(|(a, b)| a * b).sum();
        grad_err = grad_err.max((dot - num(&case["grad_dots"][i])).abs() / (norm * vnorm));
    }
    (loss_err, grad_err)
}

/// KDE-KL of uniform and clustered batches at d = 1024 .. 8192: value to `1e-9`,
/// gradient to `1e-7`, relative, on f64 input and on the same rows in f32.
#[test]
fn kde_kl_is_exact_in_high_dimension() {
    let mut kl: Option<KdeKl> = None;
    for case in data()["kl"].as_array().unwrap() {
        let d = case["d"].as_u64().unwrap() as usize;
        if kl.as_ref().is_none_or(|k| k.kernel().dim() != d) {
            kl = Some(KdeKl::new(Kernel::heat(d, 2.0 / d as f64).unwrap()).unwrap());
        }
        let kl = kl.as_ref().unwrap();
        let what = format!("d={d} {}", case["batch"]);
        let rows = batch_rows(case);
        let (loss64, grad64) = kl_errors(case, kl, &rows.mapv(|x| x as f64));
        let (loss32, grad32) = kl_errors(case, kl, &rows);
        eprintln!(
            "{what}: f64 loss {loss64:.1e} grad {grad64:.1e}; f32 loss {loss32:.1e} grad {grad32:.1e}"
        );
        assert!(
            loss64 < 1e-9 && grad64 < 1e-7,
            "{what} f64: loss {loss64:e} grad {grad64:e}"
        );
        assert!(
            loss32 < 1e-9 && grad32 < 1e-7,
            "{what} f32: loss {loss32:e} grad {grad32:e}"
        );
    }
}

/// Heat kernels over a range of dimensions and widths, built once.
fn kernels() -> &'static [Kernel] {
    static KERNELS: std::sync::OnceLock<Vec<Kernel>> = std::sync::OnceLock::new();
    KERNELS.get_or_init(|| {
        [3usize, 64, 512, 2048]
            .iter()
            .flat_map(|&d| [1.0, 2.0, 5.0, 20.0].map(|td| (d, td / d as f64)))
            .filter_map(|(d, t)| Kernel::heat(d, t).ok())
            .collect()
    })
}

proptest! {
    #![proptest_config(crate::common::proptest_config(256))]
    /// Wherever `phi` is representable, `ln_eval` is `ln(eval)`.
    #[test]
    fn ln_eval_is_the_log_of_eval(k in 0usize..16, c in -1.0f64..=1.0) {
        let k = &kernels()[k % kernels().len()];
        let v = k.eval(c);
        prop_assume!(v > 1e-300);
        prop_assert!((k.ln_eval(c) - v.ln()).abs() < 1e-12 * v.ln().abs().max(1.0));
    }
}
