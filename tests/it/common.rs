//! Helpers shared by the integration tests: the reference cases and random inputs.
#![allow(dead_code)]

use ndarray::Array2;
use serde_json::Value;

/// One high-precision reference case from `tests/data/golden.json`
/// (a copy of `shared/reference/golden.json`, mpmath at 40 digits).
pub struct Case {
    pub name: String,
    pub loss: String,
    pub kernel: String,
    pub param: f64,
    pub d: usize,
    pub scale: String,
    pub z: Array2<f64>,
    pub value: f64,
    pub grad: Option<Array2<f64>>,
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) => s.parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows = v.as_array().unwrap();
    let d = rows[0].as_array().unwrap().len();
    let flat: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(num))
        .collect();
    Array2::from_shape_vec((rows.len(), d), flat).unwrap()
}

pub fn golden() -> Vec<Case> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/golden.json"
    ))
    .unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_string(),
            loss: c["loss"].as_str().unwrap().to_string(),
            kernel: c["kernel"].as_str().unwrap_or("None").to_string(),
            param: num(&c["param"]),
            d: c["d"].as_u64().unwrap() as usize,
            scale: c["scale"].as_str().unwrap().to_string(),
            z: matrix(&c["z"]),
            value: num(&c["value"]),
            grad: c.get("grad").map(matrix),
        })
        .collect()
}

/// Largest absolute entry.
pub fn max_abs(a: &Array2<f64>) -> f64 {
    a.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// Max entrywise difference relative to the largest entry of `want`.
pub fn rel_diff(got: &Array2<f64>, want: &Array2<f64>) -> f64 {
    max_abs(&(got - want)) / max_abs(want)
}

/// A deterministic pseudo-random matrix with entries in [-1, 1) (splitmix64).
pub fn pseudo_random(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    Array2::from_shape_fn((n, d), |_| {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    })
}

/// The property tests' configuration: `cases` cases drawn from a fixed seed, so
/// that every run (CI's included) checks the same cases, and no persistence file.
/// `PROPTEST_CASES` and `PROPTEST_RNG_SEED` override both for a local sweep; a
/// failure prints its minimal input, and the seed is this one unless overridden.
pub fn proptest_config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(PROPTEST_SEED),
        ..proptest::test_runner::Config::default()
    }
}

/// The property tests' fixed seed.
pub const PROPTEST_SEED: u64 = 20_261_206;

/// The step of the finite-difference gradient checks.
pub const FD_STEP: f64 = 1e-4;

/// How far a five-point finite difference (step `h`) of a loss may be from the
/// exact gradient, for a loss whose terms have magnitude `loss_scale` (the loss at
/// collapse on the paper scale: 1):
///
/// - rounding: the loss is computed to about [`LOSS_ULPS`] units in the last place
///   of `loss_scale`, and the difference quotient `(8 (f_1 - f_-1) - (f_2 - f_-2)) / 12h`
///   turns an error `delta` per evaluation into at most `1.5 delta / h`;
/// - truncation (`O(h^4)`) and the kernel tables (value and slope tabulated to
///   `1e-13` of their largest magnitude, the difference quotient reading the
///   value's table, the gradient the slope's): held to `1e-8` of the largest entry.
pub fn fd_tolerance(fd: &Array2<f64>, loss_scale: f64, h: f64) -> f64 {
    1e-8 * max_abs(fd) + 1.5 * LOSS_ULPS * f64::EPSILON * loss_scale / h
}

/// The accuracy of a loss of a few rows, in units in the last place of its terms'
/// magnitude (a few dozen terms, each from a degree-9 table or a short series).
pub const LOSS_ULPS: f64 = 64.0;

/// Five-point central finite-difference gradient of `f` at `z` (error O(h^4) + O(eps/h)).
pub fn finite_difference(
    z: &Array2<f64>,
    h: f64,
    mut f: impl FnMut(&Array2<f64>) -> f64,
) -> Array2<f64> {
    let mut g = Array2::zeros(z.dim());
    let mut zz = z.clone();
    for i in 0..z.nrows() {
        for j in 0..z.ncols() {
            let v = z[[i, j]];
            let mut at = |x: f64| {
                zz[[i, j]] = x;
                f(&zz)
            };
            let (p1, m1, p2, m2) = (at(v + h), at(v - h), at(v + 2.0 * h), at(v - 2.0 * h));
            zz[[i, j]] = v;
            g[[i, j]] = (8.0 * (p1 - m1) - (p2 - m2)) / (12.0 * h);
        }
    }
    g
}

/// A random orthogonal `d x d` matrix (Gram-Schmidt on a pseudo-random matrix).
pub fn random_rotation(d: usize, seed: u64) -> Array2<f64> {
    let a = pseudo_random(d, d, seed);
    let mut q = Array2::<f64>::zeros((d, d));
    for i in 0..d {
        let mut v = a.row(i).to_owned();
        for k in 0..i {
            let p = v.dot(&q.row(k));
            v.scaled_add(-p, &q.row(k));
        }
        let n = v.dot(&v).sqrt();
        q.row_mut(i).assign(&(v / n));
    }
    q
}

/// Clustered rows: `clusters` random centres with jitter `spread`, rows of varied norm.
pub fn clustered(n: usize, d: usize, clusters: usize, spread: f64, seed: u64) -> Array2<f64> {
    let centres = pseudo_random(clusters, d, seed);
    let noise = pseudo_random(n, d, seed + 1);
    let scales = pseudo_random(n, 1, seed + 2);
    Array2::from_shape_fn((n, d), |(i, j)| {
        (centres[[i % clusters, j]] + spread * noise[[i, j]]) * (1.5 + scales[[i, 0]])
    })
}

/// `n` standard Gaussian rows of dimension `d` (uniform directions once normalised).
pub fn gaussian(n: usize, d: usize, seed: u64) -> Array2<f64> {
    use rand::{RngExt, SeedableRng, rngs::StdRng};
    let mut rng = StdRng::seed_from_u64(seed);
    Array2::from_shape_simple_fn((n, d), || rng.sample(rand_distr::StandardNormal))
}

/// `integral_{-1}^{1} f(s) rho_d(s) ds` for the marginal `rho_d` of a uniform point,
/// by Gauss-Legendre in the angle (`s = cos theta`, weight `sin^{d-2} theta`), which
/// converges spectrally for smooth `f`.
pub fn uniform_marginal_mean(d: usize, f: impl Fn(f64) -> f64) -> f64 {
    let nodes = gauss_legendre(400);
    let half_pi = std::f64::consts::FRAC_PI_2;
    let (mut num, mut den) = (0.0, 0.0);
    for (x, w) in nodes {
        let theta = half_pi * (x + 1.0);
        let wt = w * theta.sin().powi(d as i32 - 2);
        num += wt * f(theta.cos());
        den += wt;
    }
    num / den
}

/// Gauss-Legendre nodes and weights on [-1, 1] (Newton on the Legendre recurrence).
pub fn gauss_legendre(n: usize) -> Vec<(f64, f64)> {
    (0..n)
        .map(|i| {
            let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
            let mut dp = 1.0;
            // Newton converges in a handful of steps; the cap only bounds the loop.
            for _ in 0..100 {
                let (mut p0, mut p1) = (1.0, x);
                for k in 2..=n {
                    let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
                    p0 = p1;
                    p1 = p2;
                }
                dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
                let dx = p1 / dp;
                x -= dx;
                if dx.abs() < 1e-15 {
                    break;
                }
            }
            (x, 2.0 / ((1.0 - x * x) * dp * dp))
        })
        .collect()
}

/// A fresh instance of every kind of objective for rows of width `d` (the sliced
/// ones with a fixed seed, so two instances draw the same directions): the adapter
/// tests run each through the framework and directly.
#[cfg(any(feature = "candle", feature = "burn-cpu"))]
pub fn every_regularizer(d: usize) -> Vec<Box<dyn unisphere::Regularizer<f32>>> {
    use unisphere::{KdeKl, Kernel, Ksd, Mmd, Sigreg, SigregIntegrated, Susreg, SusregIntegrated};
    vec![
        Box::new(Mmd::heat(d).unwrap()),
        Box::new(Mmd::new(Kernel::susreg_induced(d).unwrap())),
        Box::new(Ksd::heat(d).unwrap()),
        Box::new(KdeKl::heat(d).unwrap()),
        Box::new(Sigreg::new(64, 11).unwrap()),
        Box::new(Susreg::new(64, 11).unwrap()),
        Box::new(SigregIntegrated::new()),
        Box::new(SusregIntegrated::new()),
    ]
}
