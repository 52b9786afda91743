//! Small-batch speed: `loss_and_grad` (f32) of every pairwise objective as a ratio
//! to the bare GEMM floor (`X X^T` plus `W X`, the benches' floor), timed
//! interleaved in one process: each repetition times the floor, then each
//! objective once, so that a neighbour's load on a shared machine hits all of them
//! alike. Prints the median ratio (and the ratio of the fastest calls) per size,
//! then the median times.
//!
//! ```sh
//! RAYON_NUM_THREADS=2 cargo run --release --example small_batch
//! RAYON_NUM_THREADS=2 cargo run --release --example small_batch -- --sizes 512x256 --reps 200
//! ```
//!
//! With `--back-to-back`, each objective (and the floor) is instead called `--reps`
//! times in a row, as the PyTorch peer times its losses (`torch_peer.py bench`), so
//! that a comparison with the peer measures both sides alike (`python/bench/rounds.py`).
//!
//! The criterion bench `regularizers` measures the same calls one after another,
//! each for seconds; on a shared machine its floor moves by up to 15% between the
//! floor's and an objective's measurement, which this example avoids.

use rand::{RngExt, SeedableRng, rngs::StdRng};
use rayon::prelude::*;
use std::hint::black_box;
use std::time::Instant;
use unisphere::ndarray::{Array2, Axis, linalg::general_mat_mul, s};
use unisphere::{KdeKl, Kernel, Ksd, Mmd, Regularizer, SigregIntegrated, SusregIntegrated};

fn embeddings(n: usize, d: usize) -> Array2<f32> {
    let mut rng = StdRng::seed_from_u64(1);
    Array2::from_shape_simple_fn((n, d), || rng.sample::<f32, _>(rand_distr::StandardNormal))
}

/// A named objective.
type Named = (&'static str, Box<dyn Regularizer<f32>>);

fn objectives(d: usize) -> unisphere::Result<Vec<Named>> {
    let df = d as f64;
    Ok(vec![
        ("MMD heat", Box::new(Mmd::new(Kernel::heat(d, 5.0 / df)?))),
        ("KSD heat", Box::new(Ksd::new(Kernel::heat(d, 5.0 / df)?))),
        // the paper scale from d = 19 on (below, the raw scale)
        ("KL heat", Box::new(kl(Kernel::heat(d, 2.0 / df)?, d)?)),
        ("SIGReg twin", Box::new(SigregIntegrated::new())),
        ("SUSReg twin", Box::new(SusregIntegrated::new())),
    ])
}

/// KDE-KL on the paper scale where it is defined (`d >= 19`), else the raw one.
fn kl(kernel: Kernel, d: usize) -> unisphere::Result<KdeKl> {
    if d >= 19 {
        KdeKl::new(kernel)
    } else {
        KdeKl::raw(kernel)
    }
}

/// The benches' GEMM floor: the Gram matrix and one `N x N` by `N x d` product, in
/// row blocks of `N/4` rows (at most 256) in parallel.
fn floor(z: &Array2<f32>, gram: &mut Array2<f32>, wx: &mut Array2<f32>) {
    let n = z.nrows();
    let block = n.div_ceil(4).next_power_of_two().clamp(16, 256);
    let blocks: Vec<_> = gram.axis_chunks_iter_mut(Axis(0), block).collect();
    blocks.into_par_iter().enumerate().for_each(|(k, mut g)| {
        let rows = z.slice(s![k * block..k * block + g.nrows(), ..]);
        general_mat_mul(1.0, &rows, &z.t(), 0.0, &mut g);
    });
    let blocks: Vec<_> = wx.axis_chunks_iter_mut(Axis(0), block).collect();
    blocks.into_par_iter().enumerate().for_each(|(k, mut o)| {
        let rows = gram.slice(s![k * block..k * block + o.nrows(), ..]);
        general_mat_mul(1.0, &rows, z, 0.0, &mut o);
    });
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let sizes: Vec<(usize, usize)> = value("--sizes")
        .map_or("16x64,256x256,512x256,1024x256", |s| s.as_str())
        .split(',')
        .map(|p| {
            let (n, d) = p.split_once('x').ok_or("sizes are NxD, comma-separated")?;
            Ok((n.trim().parse()?, d.trim().parse()?))
        })
        .collect::<Result<_, Box<dyn std::error::Error>>>()?;
    let reps: Option<usize> = value("--reps").map(|r| r.parse()).transpose()?;
    let back_to_back = args.iter().any(|a| a == "--back-to-back");
    println!(
        "threads: {}; median ratio to the floor (ratio of the fastest calls); N = 16: median time",
        rayon::current_num_threads()
    );
    let names: Vec<&str> = objectives(2)?.iter().map(|(n, _)| *n).collect();
    println!("| N | d | floor (ms) | {} |", names.join(" | "));
    println!("|---|---|---|{}", "---|".repeat(names.len()));
    let mut absolute = Vec::new();
    for (n, d) in sizes {
        let z = embeddings(n, d);
        let (mut gram, mut wx) = (Array2::zeros((n, n)), Array2::zeros((n, d)));
        let mut regs = objectives(d)?;
        // Warm-up: the first call builds the objectives' tables.
        for (_, r) in regs.iter_mut() {
            for _ in 0..3 {
                black_box(r.loss_and_grad(z.view())?);
            }
        }
        // About a second per size unless told.
        let reps = reps.unwrap_or_else(|| {
            let t = Instant::now();
            floor(&z, &mut gram, &mut wx);
            let per = t.elapsed().as_secs_f64() * (2.0 + 2.0 * regs.len() as f64);
            ((1.0 / per) as usize).clamp(11, 20_000)
        });
        let mut times = vec![Vec::with_capacity(reps); regs.len() + 1];
        let mut floor_once = |times: &mut Vec<f64>| {
            let t = Instant::now();
            floor(&z, &mut gram, &mut wx);
            black_box(wx[[0, 0]]);
            times.push(t.elapsed().as_secs_f64());
        };
        let once = |r: &mut Box<dyn Regularizer<f32>>, times: &mut Vec<f64>| {
            let t = Instant::now();
            black_box(r.loss_and_grad(z.view())?);
            times.push(t.elapsed().as_secs_f64());
            Ok::<_, unisphere::Error>(())
        };
        if back_to_back {
            (0..reps).for_each(|_| floor_once(&mut times[0]));
            for (k, (_, r)) in regs.iter_mut().enumerate() {
                for _ in 0..reps {
                    once(r, &mut times[k + 1])?;
                }
            }
        } else {
            for _ in 0..reps {
                floor_once(&mut times[0]);
                for (k, (_, r)) in regs.iter_mut().enumerate() {
                    once(r, &mut times[k + 1])?;
                }
            }
        }
        for t in times.iter_mut() {
            t.sort_by(f64::total_cmp);
        }
        let median = |t: &[f64]| t[t.len() / 2];
        let cells: Vec<String> = times[1..]
            .iter()
            .map(|t| {
                if n <= 16 {
                    format!("{:.1} us", median(t) * 1e6)
                } else {
                    format!(
                        "{:.2} ({:.2})",
                        median(t) / median(&times[0]),
                        t[0] / times[0][0]
                    )
                }
            })
            .collect();
        println!(
            "| {n} | {d} | {:.3} | {} |",
            median(&times[0]) * 1e3,
            cells.join(" | ")
        );
        let ms: Vec<String> = times[1..]
            .iter()
            .map(|t| format!("{:.3}", median(t) * 1e3))
            .collect();
        absolute.push(format!("| {n} | {d} | {} |", ms.join(" | ")));
    }
    println!("\nmedian time (ms)\n| N | d | {} |", names.join(" | "));
    println!("|---|---|{}", "---|".repeat(names.len()));
    absolute.iter().for_each(|row| println!("{row}"));
    Ok(())
}
