//! The results page of `examples/ssl_study`, made from its CSVs alone: the tables
//! of `docs/ssl_study.md` (written between its `<!-- ssl_report:NAME -->` and
//! `<!-- /ssl_report:NAME -->` markers; the prose around them is kept) and the
//! figures `docs/ssl_study/*.svg`. Every number on the page comes from here.
//!
//! Run: `cargo run --release --example ssl_report [-- --dir docs/ssl_study --page
//! docs/ssl_study.md]` (a second; CI runs it to check that the committed CSVs
//! still make the page).
//!
//! Paired differences: per seed, method B's measure minus method A's (the same
//! seed gave both the same initialisation, item order and views), their mean,
//! sample standard deviation and 95% interval (Student's t with n - 1 degrees of
//! freedom). A claim "B is better than A" reproduces where the interval lies on
//! the better side of 0, does not where it lies on the other, and is unresolved
//! where it contains 0.

use plotters::prelude::*;
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The methods, in the study's order.
const METHODS: [&str; 13] = [
    "none",
    "SIGReg M=256",
    "SIGReg M=1024",
    "SIGReg integrated",
    "SUSReg M=1024",
    "SUSReg integrated",
    "MMD heat",
    "KSD heat",
    "KDE-KL heat",
    "MMD bandlimited L=2",
    "KSD bandlimited L=2",
    "MMD bandlimited L=6",
    "KSD bandlimited L=6",
];
const DATASETS: [&str; 2] = ["textures", "digits"];

/// One row of `runs.csv`, by column name.
#[derive(Debug, Clone)]
struct Run {
    phase: String,
    dataset: String,
    method: String,
    lambda: f64,
    seed: u64,
    values: BTreeMap<String, f64>,
}

impl Run {
    fn get(&self, key: &str) -> f64 {
        self.values.get(key).copied().unwrap_or(f64::NAN)
    }
}

fn read_runs(path: &Path) -> Res<Vec<Run>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty runs.csv")?.split(',').collect();
    let mut out = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        let mut values = BTreeMap::new();
        for (h, v) in header.iter().zip(&f).skip(5) {
            values.insert(h.to_string(), v.parse::<f64>().unwrap_or(f64::NAN));
        }
        out.push(Run {
            phase: f[0].into(),
            dataset: f[1].into(),
            method: f[2].into(),
            lambda: f[3].parse()?,
            seed: f[4].parse()?,
            values,
        });
    }
    Ok(out)
}

/// `(dataset, method, seed, step) -> (R@1, k-NN)` of `curves.csv`.
type Curves = BTreeMap<(String, String, u64, u64), (f64, f64)>;

fn read_curves(path: &Path) -> Res<Curves> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BTreeMap::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        out.insert(
            (f[0].into(), f[1].into(), f[3].parse()?, f[4].parse()?),
            (f[5].parse()?, f[6].parse()?),
        );
    }
    Ok(out)
}

/// The measure that chose the weights, and the one the claims are judged by.
fn primary(dataset: &str) -> (&'static str, &'static str) {
    match dataset {
        "textures" => ("r1", "R@1"),
        _ => ("knn", "k-NN accuracy"),
    }
}

/// Mean, sample sd and 95% half-width of `x` (NaN where fewer than 2).
fn summary(x: &[f64]) -> (f64, f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    if x.len() < 2 {
        return (mean, f64::NAN, f64::NAN);
    }
    let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let t = StudentsT::new(0.0, 1.0, n - 1.0).map_or(f64::NAN, |d| d.inverse_cdf(0.975));
    (mean, sd, t * sd / n.sqrt())
}

/// The test runs of `method` on `dataset`, by seed.
fn by_seed<'a>(runs: &'a [Run], dataset: &str, method: &str) -> BTreeMap<u64, &'a Run> {
    runs.iter()
        .filter(|r| r.phase == "test" && r.dataset == dataset && r.method == method)
        .map(|r| (r.seed, r))
        .collect()
}

/// B's measure minus A's, paired by seed.
fn paired(runs: &[Run], dataset: &str, a: &str, b: &str, key: &str) -> Vec<f64> {
    let (sa, sb) = (by_seed(runs, dataset, a), by_seed(runs, dataset, b));
    sa.iter()
        .filter_map(|(s, ra)| sb.get(s).map(|rb| rb.get(key) - ra.get(key)))
        .filter(|v| v.is_finite())
        .collect()
}

/// How a measure is printed and which way is better.
struct Measure {
    key: &'static str,
    label: &'static str,
    percent: bool,
    higher_is_better: bool,
}

const MEASURES: [Measure; 8] = [
    Measure {
        key: "r1",
        label: "R@1 (%)",
        percent: true,
        higher_is_better: true,
    },
    Measure {
        key: "knn",
        label: "k-NN (%)",
        percent: true,
        higher_is_better: true,
    },
    Measure {
        key: "purity",
        label: "NN class purity (%)",
        percent: true,
        higher_is_better: true,
    },
    Measure {
        key: "nn_angle",
        label: "NN angle (deg)",
        percent: false,
        higher_is_better: true,
    },
    Measure {
        key: "nn_angle_cv",
        label: "NN angle CV",
        percent: false,
        higher_is_better: false,
    },
    Measure {
        key: "uniformity",
        label: "uniformity",
        percent: false,
        higher_is_better: true,
    },
    Measure {
        key: "steps_to_90",
        label: "steps to 90% R@1",
        percent: false,
        higher_is_better: false,
    },
    Measure {
        key: "loss_roughness",
        label: "loss roughness",
        percent: false,
        higher_is_better: false,
    },
];

fn measure(key: &str) -> &'static Measure {
    MEASURES
        .iter()
        .find(|m| m.key == key)
        .expect("a known measure")
}

/// A value of `m` for printing (percent, degrees).
fn shown(m: &Measure, v: f64) -> f64 {
    match (m.percent, m.key) {
        (true, _) => 100.0 * v,
        (_, "nn_angle") => v.to_degrees(),
        _ => v,
    }
}

fn fmt(m: &Measure, v: f64) -> String {
    let v = shown(m, v);
    if !v.is_finite() {
        return "-".into();
    }
    match m.key {
        "steps_to_90" => format!("{v:.0}"),
        "loss_roughness" | "nn_angle_cv" => format!("{v:.3}"),
        "uniformity" => format!("{v:.2}"),
        _ => format!("{v:.1}"),
    }
}

/// The chosen weight per method and data set, with the validation score there and
/// whether it lies at an end of the grid.
fn weights_table(runs: &[Run]) -> String {
    let mut s = String::from(
        "| method | textures: lambda | validation R@1 (%) | digits: lambda | validation k-NN (%) |\n|---|---|---|---|---|\n",
    );
    for method in METHODS.iter().skip(1) {
        s += &format!("| {method} |");
        for dataset in DATASETS {
            let (key, _) = primary(dataset);
            let chosen = by_seed(runs, dataset, method)
                .values()
                .next()
                .map(|r| r.lambda);
            let grid: Vec<&Run> = runs
                .iter()
                .filter(|r| r.phase == "validation" && r.dataset == dataset && r.method == *method)
                .collect();
            let lo = grid.iter().map(|r| r.lambda).fold(f64::INFINITY, f64::min);
            let hi = grid.iter().map(|r| r.lambda).fold(0.0f64, f64::max);
            match chosen {
                Some(l) => {
                    let score = grid
                        .iter()
                        .find(|r| r.lambda == l)
                        .map_or(f64::NAN, |r| r.get(key));
                    let edge = if l == lo || l == hi {
                        " (grid end)"
                    } else {
                        ""
                    };
                    s += &format!(" {l:e}{edge} | {:.1} |", 100.0 * score);
                }
                None => s += " - | - |",
            }
        }
        s += "\n";
    }
    s
}

/// Validation score per weight of the grid, for one data set.
fn grid_table(runs: &[Run], dataset: &str) -> String {
    let (key, label) = primary(dataset);
    let mut lambdas: Vec<f64> = runs
        .iter()
        .filter(|r| r.phase == "validation" && r.dataset == dataset)
        .map(|r| r.lambda)
        .collect();
    lambdas.sort_by(f64::total_cmp);
    lambdas.dedup();
    let mut s = format!("| {dataset}: validation {label} (%) |");
    for l in &lambdas {
        s += &format!(" {l:e} |");
    }
    s += &format!("\n|---|{}\n", "---|".repeat(lambdas.len()));
    for method in METHODS.iter().skip(1) {
        s += &format!("| {method} |");
        for l in &lambdas {
            let v = runs
                .iter()
                .find(|r| {
                    r.phase == "validation"
                        && r.dataset == dataset
                        && r.method == *method
                        && r.lambda == *l
                })
                .map_or(f64::NAN, |r| r.get(key));
            s += &if v.is_finite() {
                format!(" {:.0} |", 100.0 * v)
            } else {
                " - |".into()
            };
        }
        s += "\n";
    }
    s
}

/// Mean and sd over the test seeds of every measure, one data set.
fn results_table(runs: &[Run], dataset: &str) -> String {
    let mut s = String::from("| method | seeds |");
    for m in &MEASURES {
        s += &format!(" {} |", m.label);
    }
    s += &format!("\n|---|---|{}\n", "---|".repeat(MEASURES.len()));
    for method in METHODS {
        let seeds = by_seed(runs, dataset, method);
        if seeds.is_empty() {
            continue;
        }
        s += &format!("| {method} | {} |", seeds.len());
        for m in &MEASURES {
            let x: Vec<f64> = seeds
                .values()
                .map(|r| r.get(m.key))
                .filter(|v| v.is_finite())
                .collect();
            let (mean, sd, _) = summary(&x);
            s += &format!(" {} ± {} |", fmt(m, mean), fmt(m, sd));
        }
        s += "\n";
    }
    s
}

/// What the last column of a table of differences says.
#[derive(Clone, Copy, PartialEq)]
enum Verdict {
    /// No verdict column: neither direction is "better".
    None,
    /// "B is better than A" is a claim of the paper: reproduces, does not, or unresolved.
    Claim,
    /// A comparison the paper makes no claim about: B better, A better, or unresolved.
    Comparison,
}

/// The verdict on "B is better than A" from the interval of B - A.
fn verdict(kind: Verdict, m: &Measure, mean: f64, half: f64) -> &'static str {
    if !(mean.is_finite() && half.is_finite()) {
        return "unresolved";
    }
    let (lo, hi) = (mean - half, mean + half);
    let better = if m.higher_is_better {
        lo > 0.0
    } else {
        hi < 0.0
    };
    let worse = if m.higher_is_better {
        hi < 0.0
    } else {
        lo > 0.0
    };
    match (better, worse, kind) {
        (true, _, Verdict::Comparison) => "B better",
        (_, true, Verdict::Comparison) => "A better",
        (true, _, _) => "reproduces",
        (_, true, _) => "does not reproduce",
        _ => "unresolved",
    }
}

/// Rows of paired differences `B - A`: (data set, A, B, measure).
fn differences_table(runs: &[Run], rows: &[(&str, &str, &str, &str)], kind: Verdict) -> String {
    let mut s =
        String::from("| data set | B vs A | measure | n | mean B - A | sd | 95% interval |");
    s += if kind != Verdict::None {
        " B better than A? |\n|---|---|---|---|---|---|---|---|\n"
    } else {
        "\n|---|---|---|---|---|---|---|\n"
    };
    for &(dataset, a, b, key) in rows {
        let m = measure(key);
        let d = paired(runs, dataset, a, b, key);
        if d.is_empty() {
            continue;
        }
        let (mean, sd, half) = summary(&d);
        let scale = |v: f64| shown(m, v);
        let digits = if m.key == "steps_to_90" {
            0
        } else if m.percent {
            1
        } else {
            3
        };
        let f = |v: f64| format!("{:.*}", digits, v);
        s += &format!(
            "| {dataset} | {b} vs {a} | {} | {} | {} | {} | [{}, {}] |",
            m.label,
            d.len(),
            f(scale(mean)),
            f(scale(sd).abs()),
            f(scale(mean - half)),
            f(scale(mean + half)),
        );
        if kind != Verdict::None {
            s += &format!(" {} |", verdict(kind, m, mean, half));
        }
        s += "\n";
    }
    s
}

/// The claims of the paper, as paired comparisons.
fn claims(runs: &[Run]) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    let twins = [
        ("SIGReg M=256", "SIGReg integrated"),
        ("SIGReg M=1024", "SIGReg integrated"),
        ("SUSReg M=1024", "SUSReg integrated"),
    ];
    for (name, key) in [
        ("stability", "loss_roughness"),
        ("convergence", "steps_to_90"),
    ] {
        let rows: Vec<(&str, &str, &str, &str)> = DATASETS
            .iter()
            .flat_map(|&ds| twins.iter().map(move |&(a, b)| (ds, a, b, key)))
            .collect();
        out.insert(name, differences_table(runs, &rows, Verdict::Claim));
    }
    let quality: Vec<(&str, &str, &str, &str)> = DATASETS
        .iter()
        .flat_map(|&ds| twins.iter().map(move |&(a, b)| (ds, a, b, primary(ds).0)))
        .collect();
    out.insert("quality", differences_table(runs, &quality, Verdict::Claim));
    let mut clustered = Vec::new();
    for b in ["MMD heat", "KSD heat"] {
        for a in ["KDE-KL heat", "SIGReg M=256"] {
            for key in ["knn", "purity"] {
                clustered.push(("digits", a, b, key));
            }
        }
    }
    out.insert(
        "clustered",
        differences_table(runs, &clustered, Verdict::Claim),
    );
    let unclustered: Vec<(&str, &str, &str, &str)> = METHODS
        .iter()
        .skip(1)
        .filter(|&&m| m != "KDE-KL heat")
        .map(|&a| ("textures", a, "KDE-KL heat", "r1"))
        .collect();
    out.insert(
        "unclustered",
        differences_table(runs, &unclustered, Verdict::Claim),
    );
    let baseline: Vec<(&str, &str, &str, &str)> = DATASETS
        .iter()
        .flat_map(|&ds| {
            METHODS
                .iter()
                .filter(|&&m| m != "SIGReg M=256")
                .map(move |&b| (ds, "SIGReg M=256", b, primary(ds).0))
        })
        .collect();
    out.insert(
        "baseline",
        differences_table(runs, &baseline, Verdict::Comparison),
    );
    let mut geometry = Vec::new();
    for ds in DATASETS {
        for a in ["MMD heat", "KSD heat"] {
            for key in ["purity", "nn_angle", "nn_angle_cv"] {
                geometry.push((ds, a, "KDE-KL heat", key));
            }
        }
    }
    out.insert(
        "geometry",
        differences_table(runs, &geometry, Verdict::None),
    );
    let mut spectral = Vec::new();
    for ds in DATASETS {
        for (a, bs) in [
            ("MMD heat", ["MMD bandlimited L=2", "MMD bandlimited L=6"]),
            ("KSD heat", ["KSD bandlimited L=2", "KSD bandlimited L=6"]),
        ] {
            for b in bs {
                spectral.push((ds, a, b, primary(ds).0));
            }
        }
    }
    out.insert(
        "spectral",
        differences_table(runs, &spectral, Verdict::Comparison),
    );
    out
}

/// Mean primary measure with its 95% interval per method, one data set.
fn plot_scores(path: &Path, runs: &[Run], dataset: &str) -> Res<()> {
    let (key, label) = primary(dataset);
    let rows: Vec<(&str, f64, f64)> = METHODS
        .iter()
        .filter_map(|m| {
            let x: Vec<f64> = by_seed(runs, dataset, m)
                .values()
                .map(|r| 100.0 * r.get(key))
                .collect();
            (!x.is_empty()).then(|| {
                let (mean, _, half) = summary(&x);
                (*m, mean, if half.is_finite() { half } else { 0.0 })
            })
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let lo = rows
        .iter()
        .map(|r| r.1 - r.2)
        .fold(f64::INFINITY, f64::min)
        .floor()
        - 1.0;
    let hi = rows.iter().map(|r| r.1 + r.2).fold(0.0f64, f64::max).ceil() + 1.0;
    let root = SVGBackend::new(path, (720, 60 + 34 * rows.len() as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = rows.len();
    // One segment per method, top to bottom: segment n - 1 - i holds method i.
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{dataset}: test {label} (%), mean and 95% interval over seeds"),
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(190)
        .build_cartesian_2d(lo..hi, (0..n.saturating_sub(1)).into_segmented())?;
    chart
        .configure_mesh()
        .y_labels(n)
        .y_label_formatter(&|y| match y {
            SegmentValue::CenterOf(k) if *k < n => rows[n - 1 - k].0.to_string(),
            _ => String::new(),
        })
        .disable_y_mesh()
        .draw()?;
    for (i, (m, mean, half)) in rows.iter().enumerate() {
        let y = || SegmentValue::CenterOf(n - 1 - i);
        let colour = if m.contains("integrated") {
            RGBColor(30, 110, 180)
        } else if m.starts_with("SIG") || m.starts_with("SUS") {
            RGBColor(200, 90, 30)
        } else {
            RGBColor(60, 60, 60)
        };
        chart.draw_series(std::iter::once(PathElement::new(
            [(mean - half, y()), (mean + half, y())],
            colour.stroke_width(2),
        )))?;
        chart.draw_series(std::iter::once(Circle::new(
            (*mean, y()),
            4,
            colour.filled(),
        )))?;
    }
    root.present()?;
    Ok(())
}

/// Mean held-out measure against the step, sliced against integrated.
fn plot_curves(path: &Path, curves: &Curves, dataset: &str) -> Res<()> {
    let pick = |v: (f64, f64)| if dataset == "textures" { v.0 } else { v.1 };
    let (_, label) = primary(dataset);
    let series = [
        ("SIGReg M=256", RGBColor(200, 90, 30)),
        ("SIGReg integrated", RGBColor(30, 110, 180)),
        ("SUSReg M=1024", RGBColor(230, 160, 40)),
        ("SUSReg integrated", RGBColor(90, 170, 220)),
        ("KDE-KL heat", RGBColor(130, 40, 170)),
        ("MMD heat", RGBColor(60, 60, 60)),
    ];
    let mut lines = Vec::new();
    for (method, colour) in series {
        let mut by_step: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
        for ((ds, m, _, step), v) in curves {
            if ds == dataset && m == method {
                by_step.entry(*step).or_default().push(100.0 * pick(*v));
            }
        }
        let pts: Vec<(f64, f64)> = by_step
            .iter()
            .map(|(s, v)| (*s as f64, v.iter().sum::<f64>() / v.len() as f64))
            .collect();
        if !pts.is_empty() {
            lines.push((method, colour, pts));
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    let max_step = lines
        .iter()
        .flat_map(|l| l.2.iter().map(|p| p.0))
        .fold(0.0f64, f64::max);
    let hi = lines
        .iter()
        .flat_map(|l| l.2.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        * 1.05;
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{dataset}: held-out {label} (%) during training, mean over seeds"),
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(0.0..max_step, 0.0..hi)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc(format!("{label} (%)"))
        .draw()?;
    for (method, colour, pts) in lines {
        chart
            .draw_series(LineSeries::new(pts, colour.stroke_width(2)))?
            .label(method)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;
    root.present()?;
    Ok(())
}

/// `page` with the content between each `<!-- ssl_report:NAME -->` and
/// `<!-- /ssl_report:NAME -->` replaced by `blocks[NAME]`.
fn fill(page: &str, blocks: &BTreeMap<String, String>) -> Res<String> {
    let mut out = String::new();
    let mut rest = page;
    while let Some(start) = rest.find("<!-- ssl_report:") {
        let open_end = rest[start..].find("-->").ok_or("an unclosed marker")? + start + 3;
        let name = rest[start + 16..open_end - 3].trim().to_string();
        let close = format!("<!-- /ssl_report:{name} -->");
        let close_at = rest[open_end..]
            .find(&close)
            .ok_or(format!("no end marker for {name}"))?
            + open_end;
        out += &rest[..open_end];
        out += "\n";
        out += blocks.get(&name).ok_or(format!("no table named {name}"))?;
        rest = &rest[close_at..];
    }
    out += rest;
    Ok(out)
}

/// How many runs, how long they took in all, and the median run per data set.
fn counts(runs: &[Run]) -> String {
    let tests = runs.iter().filter(|r| r.phase == "test").count();
    let validation = runs.len() - tests;
    let seconds: f64 = runs
        .iter()
        .map(|r| r.get("seconds"))
        .filter(|v| v.is_finite())
        .sum();
    let medians: Vec<String> = DATASETS
        .iter()
        .map(|&ds| {
            let mut t: Vec<f64> = runs
                .iter()
                .filter(|r| r.dataset == ds)
                .map(|r| r.get("seconds"))
                .filter(|v| v.is_finite())
                .collect();
            t.sort_by(f64::total_cmp);
            let median = if t.is_empty() {
                f64::NAN
            } else {
                t[t.len() / 2]
            };
            format!("{median:.0} s on the {ds}")
        })
        .collect();
    format!(
        "{validation} validation runs and {tests} test runs, {:.1} hours of training on one \
         thread each; the median run took {}.\n",
        seconds / 3600.0,
        medians.join(" and ")
    )
}

fn main() -> Res<()> {
    let (mut dir, mut page) = (
        PathBuf::from("docs/ssl_study"),
        PathBuf::from("docs/ssl_study.md"),
    );
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dir" => dir = PathBuf::from(args.next().ok_or("--dir needs a folder")?),
            "--page" => page = PathBuf::from(args.next().ok_or("--page needs a file")?),
            other => {
                return Err(
                    format!("unknown argument {other:?}; use [--dir DIR] [--page FILE]").into(),
                );
            }
        }
    }
    let runs = read_runs(&dir.join("runs.csv"))?;
    let curves = read_curves(&dir.join("curves.csv"))?;
    let mut blocks: BTreeMap<String, String> = BTreeMap::new();
    blocks.insert("weights".into(), weights_table(&runs));
    for ds in DATASETS {
        blocks.insert(format!("grid_{ds}"), grid_table(&runs, ds));
        blocks.insert(format!("results_{ds}"), results_table(&runs, ds));
        plot_scores(&dir.join(format!("scores_{ds}.svg")), &runs, ds)?;
        plot_curves(&dir.join(format!("curves_{ds}.svg")), &curves, ds)?;
    }
    for (name, table) in claims(&runs) {
        blocks.insert(format!("claim_{name}"), table);
    }
    blocks.insert("counts".into(), counts(&runs));
    if page.exists() {
        let text = std::fs::read_to_string(&page)?;
        std::fs::write(&page, fill(&text, &blocks)?)?;
        println!(
            "ssl_report: {} rows; wrote {} and the figures in {}",
            runs.len(),
            page.display(),
            dir.display()
        );
    } else {
        for (name, table) in &blocks {
            println!("<!-- ssl_report:{name} -->\n{table}<!-- /ssl_report:{name} -->\n");
        }
    }
    Ok(())
}
