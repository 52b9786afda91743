//! Sliced versus full-dimensional regularizers on one fixed, clustered batch: the
//! loss's mean and spread over repeated calls, the gradient's relative variance, the
//! cosine between each call's gradient and the twin's (deterministic) gradient, and
//! the time per call.
//!
//! ```sh
//! cargo run --release --example compare_sliced_vs_full                # N = 1024, d = 128
//! cargo run --release --example compare_sliced_vs_full -- --quick     # seconds, for CI
//! cargo run --release --example compare_sliced_vs_full -- --n 2048 --d 256 --calls 64 --csv docs/compare.csv
//! ```

use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::fmt::Write as _;
use unisphere::diagnostics::gradient_variance;
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
        calls: num("--calls", calls),
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

/// Mean cosine between single-call gradients and a reference gradient.
fn mean_cosine(
    reg: &mut dyn Regularizer<f32>,
    z: &Array2<f32>,
    reference: &Array2<f64>,
    calls: usize,
) -> Result<f64, Error> {
    let mut total = 0.0;
    for _ in 0..calls {
        let (_, g) = reg.loss_and_grad(z.view())?;
        total += cosine(g.mapv(f64::from).view(), reference.view());
    }
    Ok(total / calls as f64)
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
        "{:<26} {:>12} {:>11} {:>12} {:>11} {:>10}",
        "regularizer", "loss mean", "loss std", "grad relvar", "cos(twin)", "ms/call"
    );
    println!("{header}\n{}", "-".repeat(header.len()));
    let mut csv = String::from(
        "regularizer,family,slices,loss_mean,loss_std,grad_rel_variance,cosine_to_twin,ms_per_call\n",
    );
    let mut row = |name: String,
                   family: &str,
                   slices: usize,
                   r: &unisphere::diagnostics::GradientVariance,
                   cos: f64| {
        println!(
            "{name:<26} {:>12.5e} {:>11.3e} {:>12.4e} {:>11.4} {:>10.2}",
            r.mean_loss,
            r.loss_std,
            r.relative_variance,
            cos,
            1e3 * r.seconds_per_call
        );
        let _ = writeln!(
            csv,
            "{name},{family},{slices},{:e},{:e},{:e},{cos},{}",
            r.mean_loss,
            r.loss_std,
            r.relative_variance,
            1e3 * r.seconds_per_call
        );
    };

    // Sliced regularizers against their twins.
    type Sliced = fn(usize) -> Result<Box<dyn Regularizer<f32>>, Error>;
    let families: [(&str, Box<dyn Regularizer<f32>>, Sliced); 2] = [
        ("SIGReg", Box::new(SigregIntegrated::new()), |m| {
            Ok(Box::new(Sigreg::new(m, 1)?))
        }),
        ("SUSReg", Box::new(SusregIntegrated::new()), |m| {
            Ok(Box::new(Susreg::new(m, 1)?))
        }),
    ];
    for (family, mut twin, make) in families {
        let tw = gradient_variance(twin.as_mut(), z.view(), opt.calls.min(4))?;
        for &m in &opt.slices {
            let mut sliced = make(m)?;
            let r = gradient_variance(sliced.as_mut(), z.view(), opt.calls)?;
            let cos = mean_cosine(sliced.as_mut(), &z, &tw.mean_gradient, opt.calls.min(8))?;
            row(format!("{family} M={m}"), family, m, &r, cos);
        }
        row(format!("{family} integrated"), family, 0, &tw, 1.0);
    }

    // Full-dimensional deterministic objectives.
    let full: Vec<(String, Box<dyn Regularizer<f32>>)> = vec![
        (
            "MMD heat t=5/d".into(),
            Box::new(Mmd::new(Kernel::heat(d, 5.0 / df)?)),
        ),
        (
            "MMD bandlimited L=2".into(),
            Box::new(Mmd::new(Kernel::bandlimited(d, 2)?)),
        ),
        (
            "MMD SUSReg-induced".into(),
            Box::new(Mmd::new(Kernel::susreg_induced(d)?)),
        ),
        (
            "KSD heat t=5/d".into(),
            Box::new(Ksd::new(Kernel::heat(d, 5.0 / df)?)),
        ),
        (
            "KSD bandlimited L=2".into(),
            Box::new(Ksd::new(Kernel::bandlimited(d, 2)?)),
        ),
        (
            "KDE-KL heat t=2/d".into(),
            Box::new(
                KdeKl::new(Kernel::heat(d, 2.0 / df)?)?.with_scale(if d >= 19 {
                    Scale::Paper
                } else {
                    Scale::Raw
                }),
            ),
        ),
    ];
    for (name, mut reg) in full {
        let r = gradient_variance(reg.as_mut(), z.view(), opt.calls.min(4))?;
        row(name, "full", 0, &r, f64::NAN);
    }
    println!("\nKDE-KL has no bandlimited variant: it needs a positive kernel (heat).");
    println!(
        "Twins and full-dimensional objectives are deterministic: their gradient variance is exactly 0."
    );
    if let Some(path) = opt.csv {
        std::fs::write(&path, csv)?;
        println!("CSV written to {path}");
    }
    Ok(())
}
