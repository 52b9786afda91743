//! Particle flow: N points start collapsed into a few tight clusters inside a small
//! cap and move by Riemannian gradient descent on one regularizer alone. The run
//! records, per step, four measures of uniformity that no objective optimises, and
//! writes CSV files and SVG figures (plotters' SVG backend, no system libraries).
//!
//! Regularizers: sliced SIGReg (M = 256) and SUSReg (M = 1024) with fresh directions
//! every step, their integrated twins, MMD with the heat kernel (t = 5/d) and with
//! SUSReg's induced kernel, KSD heat (t = 5/d) and KDE-KL heat (t = 2/d; raw scale
//! below d = 19, where the paper scale is undefined). SIGReg targets `N(0, I)` on
//! raw embeddings; here it is fed the unit rows as they are, and its gradient is
//! projected onto the tangent space like every other.
//!
//! One step schedule serves every regularizer, although their losses have different
//! scales: each point moves by `eta_k g_i / rms(g)`, with `g_i` its tangent gradient
//! and `rms(g) = sqrt(mean_i |g_i|^2)`, and is then put back on the sphere. The
//! typical point thus moves about `eta_k` radians whatever the loss's scale, so the
//! flows differ only in the direction each objective picks (and, for the sliced
//! ones, in its noise). `eta_k` decays geometrically from 0.1 (large early steps to
//! escape the collapse) to 0.001 at the last step: a normalised step never shrinks
//! by itself, so near the optimum every point still moves `eta_k` and the objectives
//! that resolve fine scales bounce between two states until `eta_k` falls below
//! their stiffness scale (visible as the saw-tooth in the d = 3 curves).
//!
//! Measures (none is an objective): the raw heat MMD at `t0 = 1/d` (held out; lower
//! is more uniform), the Wang–Isola uniformity `log mean_{i != j} exp(-2|x_i - x_j|^2)`,
//! the minimum pairwise angle, and the coefficient of variation of the
//! nearest-neighbour angles. The reference level for the held-out MMD is its exact
//! expectation over i.i.d. uniform samples of the same size, `(phi(1) - C_b)/N =
//! (1 - 1/Z)/N` (the off-diagonal pairs have mean `C_b`; the diagonal adds
//! `phi(1) = 1` per point): the summary reports the first step at which each flow
//! is at least as uniform as an i.i.d. uniform sample is on average, and the step
//! from which it stays so. The other measures have no closed form; their reference
//! levels are means over `UNIFORM_REPLICATES` seeded i.i.d. uniform samples, with
//! their standard errors in the summary (the held-out MMD's Monte Carlo mean is
//! printed beside its exact value as a check). Every CSV row carries the reference
//! levels of its setting.
//!
//! Output goes to `docs/particle_flow` (the committed figures), or with `--quick` to
//! `target/particle_flow_quick` so that a quick run never overwrites them; `--out`
//! overrides either.
//!
//! ```sh
//! cargo run --release --example particle_flow                 # N = 512, d = 16 and d = 3
//! cargo run --release --example particle_flow -- --quick      # seconds, for CI
//! cargo run --release --example particle_flow -- --steps 400 --n 256 --out /tmp/flow
//! ```

use plotters::prelude::*;
use rand::{RngExt, SeedableRng, rngs::StdRng};
use rand_distr::StandardNormal;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;
use unisphere::ndarray::{Array2, ArrayView2, Axis, s};
use unisphere::{
    Error, KdeKl, Kernel, Ksd, Mmd, Regularizer, Scale, Sigreg, SigregIntegrated, Susreg,
    SusregIntegrated,
};

type AnyError = Box<dyn std::error::Error>;

/// The first and last step sizes of the geometric schedule (radians for the RMS point).
const ETA_MAX: f64 = 0.1;
const ETA_MIN: f64 = 0.001;
/// Independent uniform samples (seeds `1000..1000 + UNIFORM_REPLICATES`) averaged
/// for the Monte Carlo reference levels.
const UNIFORM_REPLICATES: usize = 1000;

struct Options {
    n: usize,
    steps: usize,
    out: PathBuf,
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
    let (n, steps) = if quick { (64, 20) } else { (512, 300) };
    Options {
        n: num("--n", n),
        steps: num("--steps", steps),
        out: PathBuf::from(value("--out").unwrap_or_else(|| {
            let default = if quick {
                "target/particle_flow_quick"
            } else {
                "docs/particle_flow"
            };
            default.into()
        })),
    }
}

/// How a regularizer is drawn: sliced (dashed), an integrated twin (solid, same
/// colour as its sliced parent), or a full-dimensional objective (solid).
#[derive(Clone, Copy, PartialEq)]
enum Family {
    Sliced,
    Twin,
    Full,
}

struct Entry {
    label: &'static str,
    colour: RGBColor,
    family: Family,
    reg: Box<dyn Regularizer<f64>>,
}

fn regularizers(d: usize) -> Result<Vec<Entry>, Error> {
    let df = d as f64;
    let kl_scale = if d >= 19 { Scale::Paper } else { Scale::Raw };
    let red = RGBColor(200, 30, 30);
    let blue = RGBColor(30, 70, 200);
    let entry = |label, colour, family, reg: Box<dyn Regularizer<f64>>| Entry {
        label,
        colour,
        family,
        reg,
    };
    Ok(vec![
        entry(
            "SIGReg M=256",
            red,
            Family::Sliced,
            Box::new(Sigreg::new(256, 1)?),
        ),
        entry(
            "SIGReg integrated",
            red,
            Family::Twin,
            Box::new(SigregIntegrated::new()),
        ),
        entry(
            "SUSReg M=1024",
            blue,
            Family::Sliced,
            Box::new(Susreg::new(1024, 2)?),
        ),
        entry(
            "SUSReg integrated",
            blue,
            Family::Twin,
            Box::new(SusregIntegrated::new()),
        ),
        entry(
            "MMD heat t=5/d",
            RGBColor(20, 150, 60),
            Family::Full,
            Box::new(Mmd::new(Kernel::heat(d, 5.0 / df)?)),
        ),
        entry(
            "MMD SUSReg-induced",
            RGBColor(0, 170, 190),
            Family::Full,
            Box::new(Mmd::new(Kernel::susreg_induced(d)?)),
        ),
        entry(
            "KSD heat t=5/d",
            RGBColor(230, 130, 0),
            Family::Full,
            Box::new(Ksd::new(Kernel::heat(d, 5.0 / df)?)),
        ),
        entry(
            "KDE-KL heat t=2/d",
            RGBColor(130, 40, 170),
            Family::Full,
            Box::new(KdeKl::raw(Kernel::heat(d, 2.0 / df)?)?.with_scale(kl_scale)),
        ),
    ])
}

fn normalise_rows(x: &mut Array2<f64>) {
    for mut row in x.rows_mut() {
        let norm = row.dot(&row).sqrt();
        row /= norm;
    }
}

/// The collapsed, clustered start: 4 tight clusters (spread ~0.02 rad) whose centres
/// lie within ~0.25 rad of the pole `e_0`.
fn clustered_start(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let clusters = 4;
    let mut rng = StdRng::seed_from_u64(seed);
    let scale = 1.0 / ((d - 1) as f64).sqrt();
    let mut centres = Array2::from_shape_fn((clusters, d), |(_, j)| {
        if j == 0 {
            1.0
        } else {
            0.25 * scale * rng.sample::<f64, _>(StandardNormal)
        }
    });
    normalise_rows(&mut centres);
    let mut x = Array2::from_shape_fn((n, d), |(i, j)| {
        centres[[i % clusters, j]] + 0.02 * scale * rng.sample::<f64, _>(StandardNormal)
    });
    normalise_rows(&mut x);
    x
}

fn uniform_sample(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x = Array2::from_shape_simple_fn((n, d), || rng.sample(StandardNormal));
    normalise_rows(&mut x);
    x
}

/// The geometric schedule from `ETA_MAX` (step 0) to `ETA_MIN` (last step).
fn step_size(k: usize, steps: usize) -> f64 {
    let progress = k as f64 / (steps.max(2) - 1) as f64;
    ETA_MAX * (ETA_MIN / ETA_MAX).powf(progress)
}

/// One Riemannian step: project `g` onto the tangent spaces, move every point by
/// `eta g_i / rms(g)`, and retract onto the sphere.
fn descend(x: &mut Array2<f64>, mut g: Array2<f64>, eta: f64) {
    for (mut gi, xi) in g.rows_mut().into_iter().zip(x.rows()) {
        let radial = gi.dot(&xi);
        gi.scaled_add(-radial, &xi);
    }
    let rms = (g.iter().map(|v| v * v).sum::<f64>() / g.nrows() as f64).sqrt();
    if rms > 0.0 {
        x.scaled_add(-eta / rms, &g);
        normalise_rows(x);
    }
}

/// The four uniformity measures of one configuration.
#[derive(Clone, Copy)]
struct Measures {
    heldout: f64,
    wang_isola: f64,
    min_angle_deg: f64,
    nn_cv: f64,
}

fn measure(x: ArrayView2<f64>, heldout: &mut Mmd) -> Result<Measures, Error> {
    let n = x.nrows();
    let gram = x.dot(&x.t());
    let mut wang_isola = 0.0;
    let mut nn = Vec::with_capacity(n);
    for (i, row) in gram.axis_iter(Axis(0)).enumerate() {
        let mut nearest = -1.0f64;
        for (j, &c) in row.iter().enumerate() {
            if i != j {
                wang_isola += (-4.0 * (1.0 - c)).exp();
                nearest = nearest.max(c);
            }
        }
        // the angle from the chord, accurate for tiny angles too
        nn.push(
            2.0 * ((2.0 - 2.0 * nearest).max(0.0).sqrt() / 2.0)
                .min(1.0)
                .asin(),
        );
    }
    let mean = nn.iter().sum::<f64>() / n as f64;
    let var = nn.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n as f64;
    Ok(Measures {
        heldout: heldout.loss(x)?,
        wang_isola: (wang_isola / (n * (n - 1)) as f64).ln(),
        min_angle_deg: nn.iter().fold(f64::INFINITY, |m, a| m.min(*a)).to_degrees(),
        nn_cv: if mean > 0.0 { var.sqrt() / mean } else { 0.0 },
    })
}

/// The reference levels of i.i.d. uniform samples of `n` points.
struct Reference {
    /// The expected measures: the held-out MMD exact, the others Monte Carlo means.
    expected: Measures,
    /// Standard errors of the Monte Carlo means (`heldout`: of its Monte Carlo mean).
    std_error: Measures,
    /// The held-out MMD's Monte Carlo mean, a check on the exact value.
    heldout_monte_carlo: f64,
}

/// The exact expected held-out MMD of `n` i.i.d. uniform points, `(phi(1) - C_b)/n`,
/// and the means and standard errors of all four measures over
/// `UNIFORM_REPLICATES` seeded uniform samples.
fn uniform_reference(n: usize, d: usize, heldout: &mut Mmd) -> Result<Reference, Error> {
    let kernel = heldout.kernel();
    let exact = (kernel.eval(1.0) - kernel.uniform_mean()) / n as f64;
    let samples = (0..UNIFORM_REPLICATES)
        .map(|k| measure(uniform_sample(n, d, 1000 + k as u64).view(), heldout))
        .collect::<Result<Vec<_>, _>>()?;
    let r = UNIFORM_REPLICATES as f64;
    let stats = |f: fn(&Measures) -> f64| {
        let mean = samples.iter().map(f).sum::<f64>() / r;
        let var = samples.iter().map(|m| (f(m) - mean).powi(2)).sum::<f64>() / (r - 1.0);
        (mean, (var / r).sqrt())
    };
    let (heldout_monte_carlo, heldout_se) = stats(|m| m.heldout);
    let (wang_isola, wang_isola_se) = stats(|m| m.wang_isola);
    let (min_angle_deg, min_angle_se) = stats(|m| m.min_angle_deg);
    let (nn_cv, nn_cv_se) = stats(|m| m.nn_cv);
    Ok(Reference {
        expected: Measures {
            heldout: exact,
            wang_isola,
            min_angle_deg,
            nn_cv,
        },
        std_error: Measures {
            heldout: heldout_se,
            wang_isola: wang_isola_se,
            min_angle_deg: min_angle_se,
            nn_cv: nn_cv_se,
        },
        heldout_monte_carlo,
    })
}

/// One regularizer's flow: its objective and measures at steps `0..=steps`, the
/// final points, and the seconds spent in objective and update (measures excluded).
struct Trace {
    label: &'static str,
    colour: RGBColor,
    family: Family,
    loss: Vec<f64>,
    measures: Vec<Measures>,
    points: Array2<f64>,
    seconds: f64,
}

fn flow(
    entry: Entry,
    start: &Array2<f64>,
    steps: usize,
    heldout: &mut Mmd,
) -> Result<Trace, Error> {
    let Entry {
        label,
        colour,
        family,
        mut reg,
    } = entry;
    let mut x = start.clone();
    let (mut loss, mut measures, mut seconds) = (Vec::new(), Vec::new(), 0.0);
    for k in 0..=steps {
        measures.push(measure(x.view(), heldout)?);
        let clock = Instant::now();
        let (value, g) = reg.loss_and_grad(x.view())?;
        if k < steps {
            descend(&mut x, g, step_size(k, steps));
        }
        seconds += clock.elapsed().as_secs_f64();
        loss.push(value);
    }
    Ok(Trace {
        label,
        colour,
        family,
        loss,
        measures,
        points: x,
        seconds,
    })
}

/// One setting's run: the start, the uniform reference and every flow.
struct Run {
    n: usize,
    d: usize,
    start: Array2<f64>,
    reference: Reference,
    traces: Vec<Trace>,
}

impl Run {
    /// The first step whose held-out MMD is at or below its exact i.i.d. expectation,
    /// and the first step from which it stays there (`None`: never).
    fn reached(&self, trace: &Trace) -> (Option<usize>, Option<usize>) {
        let below = |m: &Measures| m.heldout <= self.reference.expected.heldout;
        let first = trace.measures.iter().position(below);
        let stays = match trace.measures.iter().rposition(|m| !below(m)) {
            None => Some(0),
            Some(k) if k + 1 < trace.measures.len() => Some(k + 1),
            Some(_) => None,
        };
        (first, stays)
    }
}

fn run(n: usize, d: usize, steps: usize) -> Result<Run, Error> {
    let mut heldout = Mmd::new(Kernel::heat(d, 1.0 / d as f64)?).with_scale(Scale::Raw);
    let start = clustered_start(n, d, 7);
    let reference = uniform_reference(n, d, &mut heldout)?;
    let traces = regularizers(d)?
        .into_iter()
        .map(|entry| flow(entry, &start, steps, &mut heldout))
        .collect::<Result<_, _>>()?;
    Ok(Run {
        n,
        d,
        start,
        reference,
        traces,
    })
}

fn write_csv(path: &Path, run: &Run, steps: usize) -> std::io::Result<()> {
    let mut csv = String::from(
        "n,d,regularizer,step,eta,objective,heldout_mmd,wang_isola,min_angle_deg,nn_cv,\
         iid_heldout_mmd_exact,iid_wang_isola,iid_min_angle_deg,iid_nn_cv\n",
    );
    let r = &run.reference.expected;
    let reference = format!(
        "{:.6e},{:.6},{:.4},{:.5}",
        r.heldout, r.wang_isola, r.min_angle_deg, r.nn_cv
    );
    for t in &run.traces {
        for (k, (m, loss)) in t.measures.iter().zip(&t.loss).enumerate() {
            let eta = if k < steps { step_size(k, steps) } else { 0.0 };
            let _ = writeln!(
                csv,
                "{},{},{},{k},{eta:.5},{loss:.6e},{:.6e},{:.6},{:.4},{:.5},{reference}",
                run.n, run.d, t.label, m.heldout, m.wang_isola, m.min_angle_deg, m.nn_cv
            );
        }
    }
    std::fs::write(path, csv)
}

fn print_summary(run: &Run) {
    let (r, se) = (&run.reference.expected, &run.reference.std_error);
    println!(
        "\nN = {}, d = {}: i.i.d. uniform reference = the exact expected held-out MMD \
         (1 - 1/Z)/N = {:.4e} (Monte Carlo check {:.4e} ± {:.1e}), and means ± standard \
         errors over {UNIFORM_REPLICATES} seeded i.i.d. uniform samples: Wang-Isola {:.4} ± {:.1e}, \
         min angle {:.4}° ± {:.1e}°, NN CV {:.4} ± {:.1e}; 'first' = first step with \
         held-out MMD <= {:.4e}, 'stays' = the step from which it stays there",
        run.n,
        run.d,
        r.heldout,
        run.reference.heldout_monte_carlo,
        se.heldout,
        r.wang_isola,
        se.wang_isola,
        r.min_angle_deg,
        se.min_angle_deg,
        r.nn_cv,
        se.nn_cv,
        r.heldout
    );
    let header = format!(
        "{:<20} {:>12} {:>11} {:>10} {:>8} {:>6} {:>6} {:>8}",
        "regularizer",
        "held-out MMD",
        "Wang-Isola",
        "min angle",
        "NN CV",
        "first",
        "stays",
        "seconds"
    );
    println!("{header}\n{}", "-".repeat(header.len()));
    let row = |label: &str, m: &Measures, first: String, stays: String, seconds: String| {
        println!(
            "{label:<20} {:>12.3e} {:>11.4} {:>10.2} {:>8.3} {first:>6} {stays:>6} {seconds:>8}",
            m.heldout, m.wang_isola, m.min_angle_deg, m.nn_cv
        );
    };
    let start = run.traces[0].measures[0];
    let blank = String::new;
    row("start", &start, blank(), blank(), blank());
    row("i.i.d. uniform", r, blank(), blank(), blank());
    let show = |k: Option<usize>| k.map_or_else(|| "never".into(), |k| k.to_string());
    for t in &run.traces {
        let (first, stays) = run.reached(t);
        let last = t.measures.last().expect("step 0");
        row(
            t.label,
            last,
            show(first),
            show(stays),
            format!("{:.2}", t.seconds),
        );
    }
}

/// Draws one panel of a metric against the step for every flow of `run`.
fn plot_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    run: &Run,
    metric: fn(&Measures) -> f64,
    y_desc: &str,
    log: bool,
) -> Result<(), AnyError>
where
    DB::ErrorType: 'static,
{
    let values = run
        .traces
        .iter()
        .flat_map(|t| t.measures.iter().map(metric))
        .chain([metric(&run.reference.expected)]);
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let steps = (run.traces[0].measures.len() - 1) as f64;
    let caption = format!("N = {}, d = {}", run.n, run.d);
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(caption, ("sans-serif", 18))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(64);
    if log {
        let mut chart = builder.build_cartesian_2d(0.0..steps, (lo * 0.7..hi * 1.4).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc(y_desc)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .draw()?;
        draw_curves(&mut chart, run, metric)?;
    } else {
        let pad = 0.05 * (hi - lo);
        let mut chart = builder.build_cartesian_2d(0.0..steps, lo - pad..hi + pad)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc(y_desc)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .draw()?;
        draw_curves(&mut chart, run, metric)?;
    }
    Ok(())
}

/// A flow's line style: sliced regularizers dashed, everything else solid.
fn dashed(family: Family) -> bool {
    family == Family::Sliced
}

/// The reference level's grey.
const GREY: RGBColor = RGBColor(120, 120, 120);

/// The curves of every flow and the uniform reference as a grey dashed line.
fn draw_curves<'a, DB, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    run: &Run,
    metric: fn(&Measures) -> f64,
) -> Result<(), AnyError>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    Y: Ranged<ValueType = f64>,
{
    let steps = (run.traces[0].measures.len() - 1) as f64;
    let level = metric(&run.reference.expected);
    let reference = [(0.0, level), (steps, level)];
    chart.draw_series(DashedLineSeries::new(reference, 6, 6, GREY.stroke_width(1)))?;
    for t in &run.traces {
        let points: Vec<(f64, f64)> = t
            .measures
            .iter()
            .enumerate()
            .map(|(k, m)| (k as f64, metric(m)))
            .collect();
        let style = t.colour.stroke_width(2);
        if dashed(t.family) {
            chart.draw_series(DashedLineSeries::new(points, 10, 5, style))?;
        } else {
            chart.draw_series(LineSeries::new(points, style))?;
        }
    }
    Ok(())
}

/// The legend, in its own strip to the right of the panels.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    run: &Run,
) -> Result<(), AnyError>
where
    DB::ErrorType: 'static,
{
    let font = ("sans-serif", 13).into_font();
    let entries = run
        .traces
        .iter()
        .map(|t| (t.label, t.colour, dashed(t.family)))
        .chain([("i.i.d. uniform (expected)", GREY, true)]);
    for (i, (label, colour, dash)) in entries.enumerate() {
        let y = 60 + 22 * i as i32;
        let style = colour.stroke_width(if colour == GREY { 1 } else { 2 });
        if dash {
            area.draw(&PathElement::new([(4, y), (13, y)], style))?;
            area.draw(&PathElement::new([(19, y), (28, y)], style))?;
        } else {
            area.draw(&PathElement::new([(4, y), (28, y)], style))?;
        }
        area.draw(&Text::new(label, (34, y - 7), font.clone()))?;
    }
    Ok(())
}

/// One figure: a metric against the step, one panel per setting, and a legend.
fn plot_curves(
    path: &Path,
    runs: &[Run],
    title: &str,
    y_desc: &str,
    metric: fn(&Measures) -> f64,
    log: bool,
) -> Result<(), AnyError> {
    let width = 520 * runs.len() as u32 + 200;
    let root = SVGBackend::new(path, (width, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 18))?;
    let (panels, legend) = root.split_horizontally(width - 200);
    for (area, run) in panels.split_evenly((1, runs.len())).iter().zip(runs) {
        plot_panel(area, run, metric, y_desc, log)?;
    }
    draw_legend(&legend, &runs[0])?;
    root.present()?;
    Ok(())
}

/// Lambert's equal-area projection of `S^2` about the pole `e_0` onto the disk of
/// radius 2 (the equator is the circle of radius sqrt 2).
fn lambert(p: &[f64]) -> (f64, f64) {
    let r = (2.0 / (1.0 + p[0]).max(1e-12)).sqrt();
    (r * p[1], r * p[2])
}

fn circle(radius: f64) -> Vec<(f64, f64)> {
    (0..=120)
        .map(|k| {
            let a = std::f64::consts::TAU * k as f64 / 120.0;
            (radius * a.cos(), radius * a.sin())
        })
        .collect()
}

fn plot_cloud<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    label: &str,
    x: &Array2<f64>,
    colour: RGBColor,
) -> Result<(), AnyError>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(label, ("sans-serif", 15))
        .margin(6)
        .build_cartesian_2d(-2.05..2.05, -2.05..2.05)?;
    chart.draw_series(LineSeries::new(circle(2.0), BLACK.stroke_width(1)))?;
    let equator = circle(std::f64::consts::SQRT_2);
    chart.draw_series(LineSeries::new(
        equator,
        RGBColor(190, 190, 190).stroke_width(1),
    ))?;
    chart.draw_series(x.rows().into_iter().map(|p| {
        Circle::new(
            lambert(p.as_slice().expect("standard layout")),
            1.5,
            colour.filled(),
        )
    }))?;
    Ok(())
}

/// The start and every flow's final points on `S^2`, Lambert equal-area projected.
fn plot_clouds(path: &Path, run: &Run) -> Result<(), AnyError> {
    let cols = 3;
    let panels = run.traces.len() + 1;
    let rows = panels.div_ceil(cols);
    let root =
        SVGBackend::new(path, (270 * cols as u32, 270 * rows as u32 + 40)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!(
        "Final points, N = {}, d = 3 (Lambert equal-area about the start's pole; grey: equator)",
        run.n
    );
    let root = root.titled(&title, ("sans-serif", 16))?;
    let areas = root.split_evenly((rows, cols));
    let start = run.start.slice(s![..;4, ..]).to_owned();
    plot_cloud(&areas[0], "start (every 4th point)", &start, BLACK)?;
    for (area, t) in areas[1..].iter().zip(&run.traces) {
        plot_cloud(area, t.label, &t.points, t.colour)?;
    }
    root.present()?;
    Ok(())
}

fn main() -> Result<(), AnyError> {
    let opt = options();
    std::fs::create_dir_all(&opt.out)?;
    println!(
        "Particle flow from a collapsed, clustered start: {} steps, step = eta_k g_i / rms(g), \
         eta geometric {ETA_MAX} -> {ETA_MIN}.",
        opt.steps
    );
    let mut runs = Vec::new();
    for d in [16, 3] {
        let clock = Instant::now();
        let run = run(opt.n, d, opt.steps)?;
        write_csv(&opt.out.join(format!("flow_d{d}.csv")), &run, opt.steps)?;
        print_summary(&run);
        println!("(setting wall time {:.1} s)", clock.elapsed().as_secs_f64());
        runs.push(run);
    }
    plot_curves(
        &opt.out.join("heldout_mmd.svg"),
        &runs,
        "Held-out uniformity: raw heat MMD\u{b2} at t0 = 1/d (no objective uses it)",
        "raw heat MMD\u{b2}, t0 = 1/d",
        |m| m.heldout,
        true,
    )?;
    plot_curves(
        &opt.out.join("wang_isola.svg"),
        &runs,
        "Wang\u{2013}Isola uniformity log mean exp(-2|xi - xj|\u{b2}) (lower is more uniform)",
        "Wang\u{2013}Isola uniformity",
        |m| m.wang_isola,
        false,
    )?;
    plot_clouds(&opt.out.join("clouds_d3.svg"), &runs[1])?;
    println!("\nCSV and SVG written to {}", opt.out.display());
    Ok(())
}
