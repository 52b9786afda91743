//! The figures and summary tables of `docs/benchmarks.md`, made from the CSVs that
//! the benchmark commands append to (`docs/benchmarks/*.csv`):
//!
//! - `cpu_table.csv` (`python/bench/cpu_table.py --csv`): median forward + backward
//!   time per side and batch size, PyTorch on the CPU → `cpu_table.svg`;
//! - `peer_rounds.csv` (`python/bench/rounds.py --csv`): heat MMD against the
//!   pure-torch peer, one row per round and size → `peer_speedup.svg`;
//! - `peak_fraction.csv` (`examples/peak_fraction --csv`): heat MMD's rate against
//!   the FMA peak measured on the same threads, one row per round → a table.
//!
//! Run: `cargo run --release --example benchmark_figures [-- --dir docs/benchmarks]`
//! (a second; CI runs it to check that the committed CSVs still make the figures).

use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The rows of a CSV file as maps from column name to cell.
fn read_csv(path: &Path) -> Res<Vec<BTreeMap<String, String>>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .ok_or_else(|| format!("{}: empty", path.display()))?
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() != header.len() {
                return Err(format!(
                    "{}: line {} has {} cells",
                    path.display(),
                    i + 2,
                    cells.len()
                )
                .into());
            }
            Ok(header
                .iter()
                .cloned()
                .zip(cells.iter().map(|c| c.to_string()))
                .collect())
        })
        .collect()
}

fn number(row: &BTreeMap<String, String>, key: &str) -> Res<f64> {
    let cell = row.get(key).ok_or_else(|| format!("no column {key}"))?;
    Ok(cell.parse()?)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(30, 110, 180),
    RGBColor(120, 170, 220),
    RGBColor(200, 90, 30),
    RGBColor(240, 160, 100),
    RGBColor(40, 140, 60),
    RGBColor(130, 200, 130),
    RGBColor(90, 90, 90),
    RGBColor(170, 60, 150),
];

/// The label of the tick at `x` on an axis of one group per batch size (group `i`
/// spans `i..i + 1`): `N = ...` at a group's centre, nothing elsewhere.
fn group_label(x: f64, sizes: &[u64]) -> String {
    let i = (x - 0.5).round();
    if (x - 0.5 - i).abs() < 0.01 && i >= 0.0 && (i as usize) < sizes.len() {
        format!("N = {}", sizes[i as usize])
    } else {
        String::new()
    }
}

/// Median time per side (rows) and batch size (groups of bars), log scale.
fn cpu_table(dir: &Path) -> Res<()> {
    let rows = read_csv(&dir.join("cpu_table.csv"))?;
    let mut sides: Vec<String> = Vec::new();
    let mut sizes: Vec<u64> = Vec::new();
    let mut times: BTreeMap<(String, u64), f64> = BTreeMap::new();
    for r in &rows {
        let side = r.get("side").cloned().unwrap_or_default();
        let n = number(r, "n")? as u64;
        if !sides.contains(&side) {
            sides.push(side.clone());
        }
        if !sizes.contains(&n) {
            sizes.push(n);
        }
        times.insert((side, n), number(r, "median_ms")?);
    }
    println!(
        "| side | {} |",
        sizes
            .iter()
            .map(|n| format!("N = {n} (ms)"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|{}", "---|".repeat(sizes.len()));
    for s in &sides {
        let cells: Vec<String> = sizes
            .iter()
            .map(|&n| {
                times
                    .get(&(s.clone(), n))
                    .map_or("-".into(), |t| format!("{t:.2}"))
            })
            .collect();
        println!("| {s} | {} |", cells.join(" | "));
    }
    let (lo, hi) = times
        .values()
        .fold((f64::INFINITY, 0.0f64), |(a, b), &t| (a.min(t), b.max(t)));
    let path = dir.join("cpu_table.svg");
    let root = SVGBackend::new(&path, (820, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let groups = sizes.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "PyTorch on the CPU: forward + backward, median time (ms, log scale)",
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..groups, (lo / 1.5..hi * 1.5).log_scale())?;
    chart
        .configure_mesh()
        .x_labels(sizes.len() * 2 + 1)
        .x_label_formatter(&|x| group_label(*x, &sizes))
        .disable_x_mesh()
        .draw()?;
    let width = 0.8 / sides.len() as f64;
    for (k, side) in sides.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let bars = sizes.iter().enumerate().filter_map(|(g, &n)| {
            times.get(&(side.clone(), n)).map(|&t| {
                let x0 = g as f64 + 0.1 + k as f64 * width;
                Rectangle::new([(x0, lo / 1.5), (x0 + width * 0.9, t)], colour.filled())
            })
        });
        chart
            .draw_series(bars)?
            .label(side.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// The speed-up over the peer in every round (points) and its median per size.
fn peer_rounds(dir: &Path) -> Res<()> {
    let rows = read_csv(&dir.join("peer_rounds.csv"))?;
    let mut by_size: BTreeMap<u64, Vec<(f64, f64, f64)>> = BTreeMap::new();
    for r in &rows {
        let (peer, ours) = (number(r, "peer_ms")?, number(r, "ours_ms")?);
        by_size
            .entry(number(r, "n")? as u64)
            .or_default()
            .push((peer, ours, peer / ours));
    }
    println!("\n| N | rounds | peer median (ms) | ours median (ms) | median speed-up | range |");
    println!("|---|---|---|---|---|---|");
    for (n, v) in &by_size {
        let s: Vec<f64> = v.iter().map(|x| x.2).collect();
        println!(
            "| {n} | {} | {:.2} | {:.3} | {:.1}x | {:.1}-{:.1}x |",
            v.len(),
            median(v.iter().map(|x| x.0).collect()),
            median(v.iter().map(|x| x.1).collect()),
            median(s.clone()),
            s.iter().copied().fold(f64::INFINITY, f64::min),
            s.iter().copied().fold(0.0f64, f64::max)
        );
    }
    let top = by_size
        .values()
        .flatten()
        .map(|x| x.2)
        .fold(1.0f64, f64::max)
        .ceil()
        + 0.5;
    let path = dir.join("peer_speedup.svg");
    let root = SVGBackend::new(&path, (640, 380)).into_drawing_area();
    root.fill(&WHITE)?;
    let sizes: Vec<u64> = by_size.keys().copied().collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "heat MMD: speed-up over the pure-torch peer, every round (median: bar)",
            ("sans-serif", 15),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0.0..sizes.len() as f64, 0.0..top)?;
    chart
        .configure_mesh()
        .x_labels(sizes.len() * 2 + 1)
        .x_label_formatter(&|x| group_label(*x, &sizes))
        .disable_x_mesh()
        .draw()?;
    chart.draw_series(std::iter::once(PathElement::new(
        [(0.0, 1.0), (sizes.len() as f64, 1.0)],
        BLACK.mix(0.5).stroke_width(1),
    )))?;
    for (g, n) in sizes.iter().enumerate() {
        let v = &by_size[n];
        let count = v.len().max(2) as f64;
        chart.draw_series(v.iter().enumerate().map(|(i, x)| {
            let at = g as f64 + 0.3 + 0.4 * i as f64 / (count - 1.0);
            Circle::new((at, x.2), 3, PALETTE[0].filled())
        }))?;
        let m = median(v.iter().map(|x| x.2).collect());
        chart.draw_series(std::iter::once(PathElement::new(
            [(g as f64 + 0.2, m), (g as f64 + 0.8, m)],
            PALETTE[2].stroke_width(3),
        )))?;
    }
    root.present()?;
    Ok(())
}

/// Median and best-round fraction of the FMA peak per size.
fn peak_fraction(dir: &Path) -> Res<()> {
    let rows = read_csv(&dir.join("peak_fraction.csv"))?;
    // (ISA, threads, N) -> (ms, GFLOP/s, peak GFLOP/s) per round.
    type Rounds = BTreeMap<(String, u64, u64), Vec<(f64, f64, f64)>>;
    let mut by = Rounds::new();
    for r in &rows {
        let key = (
            r.get("isa").cloned().unwrap_or_default(),
            number(r, "threads")? as u64,
            number(r, "n")? as u64,
        );
        by.entry(key).or_default().push((
            number(r, "ms")?,
            number(r, "gflops")?,
            number(r, "peak_gflops")?,
        ));
    }
    println!(
        "\n| ISA | threads | N | rounds | median ms | median GFLOP/s | median peak | median fraction | best round |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for ((isa, threads, n), v) in &by {
        let best_rate = v.iter().map(|x| x.1).fold(0.0f64, f64::max);
        let best_peak = v.iter().map(|x| x.2).fold(0.0f64, f64::max);
        println!(
            "| {isa} | {threads} | {n} | {} | {:.2} | {:.1} | {:.1} | {:.0}% | {:.0}% |",
            v.len(),
            median(v.iter().map(|x| x.0).collect()),
            median(v.iter().map(|x| x.1).collect()),
            median(v.iter().map(|x| x.2).collect()),
            100.0 * median(v.iter().map(|x| x.1 / x.2).collect()),
            100.0 * best_rate / best_peak
        );
    }
    Ok(())
}

fn main() -> Res<()> {
    let mut dir = PathBuf::from("docs/benchmarks");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dir" => dir = PathBuf::from(args.next().ok_or("--dir needs a folder")?),
            other => return Err(format!("unknown argument {other:?}; use [--dir DIR]").into()),
        }
    }
    cpu_table(&dir)?;
    peer_rounds(&dir)?;
    peak_fraction(&dir)?;
    Ok(())
}
