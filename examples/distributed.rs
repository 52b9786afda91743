//! Sharded evaluation over MPI, checked against one process: for every objective,
//! the loss from `unisphere::mpi::regularize` and each rank's gradient rows equal
//! what one process gets on the whole batch (f64, to 1e-12 relative; SIGReg and
//! SUSReg on one rank bit for bit), with unequal shard sizes and, from two ranks
//! on, a rank of one row; four tests of uniformity of the whole batch give the
//! statistic and p-value of one process. Exits non-zero on any mismatch.
//!
//! ```text
//! cargo build --release --features mpi --example distributed
//! mpirun -n 4 target/release/examples/distributed
//! mpirun -n 4 target/release/examples/distributed --scale   # timing, heat MMD
//! ```
//!
//! `--scale [--n N] [--d D]`: heat MMD, f32, `N = 65536`, `d = 128` rows spread evenly
//! over the ranks; prints the time per rank of one `regularize` call, the time of the
//! row all-gather alone (fastest of three; the first too), and the bytes each rank
//! receives.

use mpi::collective::SystemOperation;
use mpi::traits::{Communicator, CommunicatorCollectives};
use std::time::Instant;
use unisphere::ndarray::{Array2, ArrayView2, s};
use unisphere::shard::Sharded;
use unisphere::uniformity::UniformityTest;
use unisphere::{KdeKl, Kernel, Ksd, Mmd, Sigreg, SigregIntegrated, Susreg, SusregIntegrated};

/// Relative tolerance of the sharded f64 results against one process.
const TOL: f64 = 1e-12;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The same pseudo-random rows on every rank: row `i` depends on `i` alone.
fn rows<F: From<f32>>(range: std::ops::Range<usize>, d: usize) -> Array2<F> {
    Array2::from_shape_fn((range.len(), d), |(a, j)| {
        let mut x = ((range.start + a) as u64 * 0x9E37_79B9 + j as u64 * 0x85EB_CA6B) ^ 0x5bd1e995;
        x ^= x >> 15;
        x = x.wrapping_mul(0x2C1B_3C6D);
        x ^= x >> 12;
        F::from((x % 20011) as f32 / 10005.5 - 1.0 + 1e-3)
    })
}

/// Row ranges of `size` ranks over `n` rows: rank 0 has 1 row (from 2 ranks on),
/// the others unequal shares.
fn uneven(n: usize, size: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::with_capacity(size);
    if size == 1 {
        out.push(0..n);
        return out;
    }
    let weights: Vec<usize> = (1..size).map(|r| r + 1).collect();
    let rest = n - 1;
    let total: usize = weights.iter().sum();
    out.push(0..1);
    let mut start = 1;
    for (k, w) in weights.iter().enumerate() {
        let len = if k + 2 == size {
            n - start
        } else {
            rest * w / total
        };
        out.push(start..start + len);
        start += len;
    }
    out
}

/// One objective: the sharded result on this rank against one process (with
/// `bitwise`, on one rank, bit for bit). Returns the number of mismatches (0 or 1)
/// and prints them.
fn check<R: Sharded<f64> + Clone>(
    world: &impl CommunicatorCollectives,
    bitwise: bool,
    reg: &R,
    z: &Array2<f64>,
    mine: std::ops::Range<usize>,
) -> Result<usize, unisphere::Error> {
    let rank = world.rank();
    let size = world.size();
    let mut sharded = reg.clone();
    let mut single = reg.clone();
    let name = single.name();
    let mut bad = 0;
    // Two calls: the sliced objectives then also agree on their second draw.
    for call in 0..2 {
        let (loss, grad) =
            unisphere::mpi::regularize(world, &mut sharded, z.slice(s![mine.clone(), ..]))?;
        let (whole, g) = single.loss_and_grad(z.view())?;
        let want: ArrayView2<f64> = g.slice(s![mine.clone(), ..]);
        let scale = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let err = grad
            .iter()
            .zip(want.iter())
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        let rel = (loss - whole).abs() / whole.abs();
        let ok = if bitwise && size == 1 {
            loss.to_bits() == whole.to_bits() && err == 0.0
        } else {
            rel <= TOL && err <= TOL * scale
        };
        if !ok {
            bad = 1;
            eprintln!(
                "rank {rank} MISMATCH {name} call {call}: loss {loss:e} vs {whole:e} (rel {rel:.1e}), gradient error {err:.1e} of {scale:.1e}"
            );
        } else if rank == 0 && call == 0 {
            println!(
                "{name:40} loss {loss:.15e}  rel. diff {rel:.1e}  rank 0 gradient diff {:.1e}",
                err / scale
            );
        }
    }
    Ok(bad)
}

fn exactness(world: &impl CommunicatorCollectives) -> Result<usize, unisphere::Error> {
    let (n, d) = (203, 24);
    let ranges = uneven(n, world.size() as usize);
    let mine = ranges[world.rank() as usize].clone();
    if world.rank() == 0 {
        let sizes: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
        println!(
            "{} rank(s), N = {n}, d = {d}, rows per rank {sizes:?}",
            world.size()
        );
    }
    let z = rows::<f64>(0..n, d);
    let heat = Kernel::heat(d, 5.0 / d as f64)?;
    let kl = KdeKl::new(Kernel::heat(d, 2.0 / d as f64)?)?;
    let mut bad = 0;
    bad += check(world, false, &Mmd::new(heat.clone()), &z, mine.clone())?;
    bad += check(
        world,
        false,
        &Mmd::new(Kernel::bandlimited(d, 3)?),
        &z,
        mine.clone(),
    )?;
    bad += check(world, false, &Ksd::new(heat), &z, mine.clone())?;
    bad += check(world, false, &kl, &z, mine.clone())?;
    bad += check(world, false, &SigregIntegrated::new(), &z, mine.clone())?;
    bad += check(world, false, &SusregIntegrated::new(), &z, mine.clone())?;
    bad += check(world, true, &Sigreg::new(256, 1)?, &z, mine.clone())?;
    bad += check(world, true, &Susreg::new(1024, 1)?, &z, mine.clone())?;
    // Tests of uniformity of the whole batch: the same statistic and p-value.
    for test in [
        UniformityTest::rayleigh(),
        UniformityTest::pcvm(),
        UniformityTest::riesz(0.5)?,
        UniformityTest::softmax(2.0)?.monte_carlo(200, 3)?,
    ] {
        let r = unisphere::mpi::uniformity_test(world, &test, z.slice(s![mine.clone(), ..]))?;
        let want = test.run(z.view())?;
        let rel = (r.statistic - want.statistic).abs() / want.statistic.abs();
        let dp = (r.p_value - want.p_value).abs();
        if rel > TOL || dp > 1e-9 || r.method != want.method {
            bad += 1;
            eprintln!(
                "rank {} MISMATCH test {}: statistic {:e} vs {:e}, p {:e} vs {:e}",
                world.rank(),
                r.test,
                r.statistic,
                want.statistic,
                r.p_value,
                want.p_value
            );
        } else if world.rank() == 0 {
            println!(
                "{:40} statistic {:.15e}  rel. diff {rel:.1e}  p = {:.4e} (diff {dp:.1e})",
                format!("test {}", r.test),
                r.statistic,
                r.p_value
            );
        }
    }
    Ok(bad)
}

fn scale(world: &impl CommunicatorCollectives) -> Result<(), unisphere::Error> {
    let (n, d) = (arg("--n", 65536), arg("--d", 128));
    let size = world.size() as usize;
    let rank = world.rank() as usize;
    let start = n * rank / size;
    let end = n * (rank + 1) / size;
    let z = rows::<f32>(start..end, d);
    let mut mmd = Mmd::new(Kernel::heat(d, 5.0 / d as f64)?);
    // The row all-gather alone (what regularize does first).
    let mut all = vec![0.0f32; n * d];
    let counts: Vec<i32> = (0..size)
        .map(|r| ((n * (r + 1) / size - n * r / size) * d) as i32)
        .collect();
    let displs: Vec<i32> = (0..size).map(|r| (n * r / size * d) as i32).collect();
    // Three times: the first includes setting up the connections; the fastest is reported.
    let mut gather = f64::INFINITY;
    let mut first = 0.0;
    for k in 0..3 {
        world.barrier();
        let t0 = Instant::now();
        {
            let mut part = mpi::datatype::PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
            world.all_gather_varcount_into(z.as_slice().unwrap_or(&[]), &mut part);
        }
        let t = t0.elapsed().as_secs_f64();
        if k == 0 {
            first = t;
        }
        gather = gather.min(t);
    }
    drop(all);
    world.barrier();
    let t1 = Instant::now();
    let (loss, grad) = unisphere::mpi::regularize(world, &mut mmd, z.view())?;
    let secs = t1.elapsed().as_secs_f64();
    let mut slowest = 0.0f64;
    world.all_reduce_into(&secs, &mut slowest, SystemOperation::max());
    let received = (n - (end - start)) * d * 4;
    println!(
        "rank {rank}/{size}: heat MMD N={n} d={d} f32, {} local rows: regularize {secs:.2} s (slowest rank {slowest:.2} s), row all-gather alone {gather:.3} s (first {first:.3} s), received {:.1} MiB; loss {loss:.6e}, |grad|_max {:.3e}, threads {}",
        end - start,
        received as f64 / (1 << 20) as f64,
        grad.iter().fold(0.0f32, |m, g| m.max(g.abs())),
        rayon::current_num_threads(),
    );
    Ok(())
}

fn main() {
    let Some(universe) = mpi::initialize() else {
        eprintln!("MPI could not be initialised");
        std::process::exit(2);
    };
    let world = universe.world();
    let result = if std::env::args().any(|a| a == "--scale") {
        scale(&world).map(|()| 0)
    } else {
        exactness(&world)
    };
    let local_bad = match result {
        Ok(bad) => bad as u64,
        Err(e) => {
            eprintln!("rank {}: error: {e}", world.rank());
            1
        }
    };
    let mut bad = 0u64;
    world.all_reduce_into(&local_bad, &mut bad, SystemOperation::sum());
    let rank = world.rank();
    drop(universe);
    if bad != 0 {
        if rank == 0 {
            eprintln!("FAILED: {bad} mismatch(es) or error(s)");
        }
        std::process::exit(1);
    }
    if rank == 0 {
        println!("OK");
    }
}
