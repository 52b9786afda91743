//! Sliced versus full-dimensional regularizers on one fixed, clustered batch: the
//! loss's mean and spread over repeated calls, the gradient's relative variance about
//! the twin's gradient, the cosine between each call's gradient and the twin's, and
//! the time per call.
//!
//! The twin's gradient is the exact expectation of the sliced gradient over random
//! directions, so the relative variance is `mean_k |g_k - g_twin|^2 / |g_twin|^2`
//! and the cosine `mean_k cos(g_k, g_twin)`, both over every timed call `k`. For the
//! deterministic objectives the reference is their own first gradient (the variance
//! is measured, and exactly 0). One timing protocol for every method: construction
//! plus a first call (which builds the tables: at construction for MMD, KSD and
//! KDE-KL, on the first call for the twins) are timed together and reported
//! separately as `setup ms`; then the same number of calls of each method are timed
//! one by one, and `ms / call` is their mean.
//!
//! ```sh
//! cargo run --release --example compare_sliced_vs_full                # N = 1024, d = 128
//! cargo run --release --example compare_sliced_vs_full -- --quick     # seconds, for CI
//! cargo run --release --example compare_sliced_vs_full -- --n 2048 --d 256 --calls 64 --csv docs/compare.csv
//! ```

use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::fmt::Write as _;
use std::time::Instant;
use unisphere::ndarray::{Array2, ArrayView2};
use unisphere::{
    Error, KdeKl, Kernel, Ksd, Mmd, Regularizer, Scale, Sigreg, SigregIntegrated, Susreg,
    SusregIntegrated,
};

struct Options {
    n: usize,
    d: usize,
    calls: usize,
    slices: Vec<usize>,
    csv: Option<String>,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let quick = args.iter().any(|a| a == "--quick");
    let num =
        |name: &str, default: usize| value(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (n, d, calls) = if quick { (256, 32, 8) } else { (1024, 128, 64) };
    Options {
        n: num("--n", n),
        d: num("--d", d),
        calls: num("--calls", calls).max(1),
        slices: if quick {
            vec![16, 64, 256]
        } else {
            vec![16, 64, 256, 1024, 4096]
        },
        csv: value("--csv"),
    }
}

/// A clustered batch: 8 random centres, each embedding its centre plus noise.
fn clustered(n: usize, d: usize) -> Array2<f32> {
    let mut rng = StdRng::seed_from_u64(2026);
    let centres: Array2<f32> =
        Array2::from_shape_simple_fn((8, d), || rng.sample(rand_distr::StandardNormal));
    Array2::from_shape_fn((n, d), |(i, j)| {
        centres[[i % 8, j]] + 0.5 * rng.sample::<f32, _>(rand_distr::StandardNormal)
    })
}

fn cosine(a: ArrayView2<f64>, b: ArrayView2<f64>) -> f64 {
    let dot: f64 = a.iter().zip(b.iter()).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// What [`measure`] found over the timed calls of one method.
struct Measured {
    loss_mean: f64,
    loss_std: f64,
    /// `mean_k |g_k - reference|^2 / |reference|^2`.
    rel_variance: f64,
    /// `mean_k cos(g_k, reference)`.
    cosine: f64,
    setup_ms: f64,
    ms_per_call: f64,
    /// The first call's gradient.
    first_gradient: Array2<f64>,
}

/// Builds a method (timed with its first call, as its setup) and times `calls`
/// further calls one by one, measuring each gradient against `reference` (the
/// first call's own gradient when `None`).
fn measure(
    build: impl FnOnce() -> Result<Box<dyn Regularizer<f32>>, Error>,
    z: &Array2<f32>,
    reference: Option<&Array2<f64>>,
    calls: usize,
) -> Result<Measured, Error> {
    let clock = Instant::now();
    let mut reg = build()?;
    let (_, first) = reg.loss_and_grad(z.view())?;
    let setup_ms = 1e3 * clock.elapsed().as_secs_f64();
    let first_gradient = first.mapv(f64::from);
    let reference = reference.unwrap_or(&first_gradient);
    let reference_norm2: f64 = reference.iter().map(|v| v * v).sum();
    let (mut seconds, mut sq_dev, mut cos) = (0.0, 0.0, 0.0);
    let (mut loss_mean, mut loss_m2) = (0.0f64, 0.0f64); // Welford: exactly 0 for equal losses
    for k in 1..=calls {
        let clock = Instant::now();
        let (loss, g) = reg.loss_and_grad(z.view())?;
        seconds += clock.elapsed().as_secs_f64();
        let g = g.mapv(f64::from);
        let dl = loss - loss_mean;
        loss_mean += dl / k as f64;
        loss_m2 += dl * (loss - loss_mean);
        sq_dev += g
            .iter()
            .zip(reference.iter())
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>();
        cos += cosine(g.view(), reference.view());
    }
    let k = calls as f64;
    Ok(Measured {
        loss_mean,
        loss_std: (loss_m2 / k).sqrt(),
        rel_variance: sq_dev / k / reference_norm2,
        cosine: cos / k,
        setup_ms,
        ms_per_call: 1e3 * seconds / k,
        first_gradient,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let opt = options();
    let (n, d) = (opt.n, opt.d);
    let df = d as f64;
    let z = clustered(n, d);
    println!(
        "Fixed clustered batch: N = {n}, d = {d}, {} calls per regularizer, f32.\n",
        opt.calls
    );
    let header = format!(
        "{:<26} {:>12} {:>11} {:>12} {:>11} {:>10} {:>10}",
        "regularizer", "loss mean", "loss std", "grad relvar", "cos(twin)", "ms/call", "setup ms"
    );
    println!("{header}\n{}", "-".repeat(header.len()));
    let mut csv = String::from(
        "regularizer,family,slices,calls,loss_mean,loss_std,grad_rel_variance,cosine_to_twin,ms_per_call,setup_ms\n",
    );
    let calls = opt.calls;
    let mut row = |name: String, family: &str, slices: usize, r: &Measured, cos: f64| {
        println!(
            "{name:<26} {:>12.5e} {:>11.3e} {:>12.4e} {:>11.4} {:>10.2} {:>10.2}",
            r.loss_mean, r.loss_std, r.rel_variance, cos, r.ms_per_call, r.setup_ms
        );
        let _ = writeln!(
            csv,
            "{name},{family},{slices},{calls},{:e},{:e},{:e},{cos},{},{}",
            r.loss_mean, r.loss_std, r.rel_variance, r.ms_per_call, r.setup_ms
        );
    };

    // Sliced regularizers against their twins (the exact expected gradient).
    type Build = fn(usize) -> Result<Box<dyn Regularizer<f32>>, Error>;
    let families: [(&str, Build, Build); 2] = [
        (
            "SIGReg",
            |_| Ok(Box::new(SigregIntegrated::new())),
            |m| Ok(Box::new(Sigreg::new(m, 1)?)),
        ),
        (
            "SUSReg",
            |_| Ok(Box::new(SusregIntegrated::new())),
            |m| Ok(Box::new(Susreg::new(m, 1)?)),
        ),
    ];
    for (family, twin, sliced) in families {
        let tw = measure(|| twin(0), &z, None, calls)?;
        for &m in &opt.slices {
            let r = measure(|| sliced(m), &z, Some(&tw.first_gradient), calls)?;
            row(format!("{family} M={m}"), family, m, &r, r.cosine);
        }
        row(format!("{family} integrated"), family, 0, &tw, tw.cosine);
    }

    // Full-dimensional deterministic objectives.
    type Full = Box<dyn Fn() -> Result<Box<dyn Regularizer<f32>>, Error>>;
    let full: Vec<(&str, Full)> = vec![
        (
            "MMD heat t=5/d",
            Box::new(move || Ok(Box::new(Mmd::new(Kernel::heat(d, 5.0 / df)?)))),
        ),
        (
            "MMD bandlimited L=2",
            Box::new(move || Ok(Box::new(Mmd::new(Kernel::bandlimited(d, 2)?)))),
        ),
        (
            "MMD SUSReg-induced",
            Box::new(move || Ok(Box::new(Mmd::new(Kernel::susreg_induced(d)?)))),
        ),
        (
            "KSD heat t=5/d",
            Box::new(move || Ok(Box::new(Ksd::new(Kernel::heat(d, 5.0 / df)?)))),
        ),
        (
            "KSD bandlimited L=2",
            Box::new(move || Ok(Box::new(Ksd::new(Kernel::bandlimited(d, 2)?)))),
        ),
        (
            "KDE-KL heat t=2/d",
            Box::new(move || {
                let scale = if d >= 19 { Scale::Paper } else { Scale::Raw };
                Ok(Box::new(
                    KdeKl::raw(Kernel::heat(d, 2.0 / df)?)?.with_scale(scale),
                ))
            }),
        ),
    ];
    for (name, build) in full {
        let r = measure(build, &z, None, calls)?;
        row(name.to_string(), "full", 0, &r, f64::NAN);
    }
    println!("\nKDE-KL has no bandlimited variant: it needs a positive kernel (heat).");
    println!(
        "relvar and cos(twin): about the twin's gradient (the exact expected sliced gradient); \
         the deterministic objectives about their own first gradient."
    );
    println!(
        "ms/call: mean over the same {calls} timed calls for every method; setup ms: \
         construction and first call (table builds), not included in ms/call."
    );
    if let Some(path) = opt.csv {
        std::fs::write(&path, csv)?;
        println!("CSV written to {path}");
    }
    Ok(())
}
