//! The MPI front end of [sharded evaluation](crate::shard) (feature `mpi`, over
//! rsmpi): [`regularize`] gives every rank the exact global loss of the batch whose
//! rows are spread over the ranks of a communicator, and the exact gradient of that
//! loss with respect to its own rows; [`uniformity_test`] tests the uniformity of
//! the whole batch.
//!
//! Per call, on every rank, in this order:
//!
//! 1. an all-gather of `(rows, columns, ...)` per rank (a few integers);
//! 2. for every objective but SIGReg/SUSReg, an all-gather (variable counts) of the
//!    rows: `N d` numbers in all;
//! 3. an all-gather of each rank's phase-1 status (a few integers), so that an
//!    error on one rank is an error on every rank instead of a hang;
//! 4. the exchange of [`Exchange`]: KDE-KL all-gathers its `N` log-densities;
//!    SIGReg/SUSReg all-reduce `2 M K + 1` sums; the others exchange nothing;
//! 5. an all-reduce of the shares (two numbers), with the phase-2 status.
//!
//! There is no collective in the backward pass: the gradient returned already holds
//! every pair's contribution to the local rows. Under a data-parallel framework
//! that **averages** gradients over the `W` ranks, multiply the gradient (or the
//! loss term fed to autograd) by `W` to get the gradient of the global loss; where
//! gradients are summed, use it as it is.
//!
//! Run with e.g. `mpirun -n 4 target/release/examples/distributed`. Objectives with
//! call counters (SIGReg, SUSReg) must be at the same step on every rank (built alike
//! and called the same number of times): they then draw the same directions.

use crate::error::{Error, Result};
use crate::real::Real;
use crate::shard::{Exchange, Shard, Sharded};
use crate::uniformity::{TestResult, UniformityTest};
use ::mpi::Count;
use ::mpi::collective::SystemOperation;
use ::mpi::datatype::{Equivalence, PartitionMut};
use ::mpi::traits::CommunicatorCollectives;
use ndarray::{Array2, ArrayView2};
use std::ops::Range;

/// The global loss of the rows of every rank of `comm` (rank `r` passes its rows
/// `z_local`, `N_r x d`, `N_r >= 1`; the batch is their concatenation in rank
/// order) under `reg`, and its exact gradient with respect to `z_local`. Every rank
/// of `comm` must call it, with a regularizer built alike; every rank returns the
/// same loss (to rounding: a sum of shares over ranks) and an error where any rank
/// fails.
///
/// Gradients: see the [module documentation](self) for the world-size factor under
/// gradient averaging; there is no backward collective.
///
/// ```
/// use unisphere::{Kernel, Mmd, Regularizer, ndarray::Array2};
/// use mpi::traits::Communicator;
/// let universe = mpi::initialize().unwrap(); // one rank when run without mpirun
/// let world = universe.world();
/// let d = 8;
/// let z = Array2::from_shape_fn((16, d), |(i, j)| ((i * 7 + j * 3) % 11) as f64 - 5.0);
/// let mut mmd = Mmd::new(Kernel::heat(d, 0.5)?);
/// let (loss, grad) = unisphere::mpi::regularize(&world, &mut mmd, z.view())?;
/// if world.size() == 1 {
///     let (whole, g) = mmd.loss_and_grad(z.view())?;
///     assert!((loss - whole).abs() < 1e-12 * whole && grad.dim() == g.dim());
/// }
/// # Ok::<(), unisphere::Error>(())
/// ```
pub fn regularize<C, F, R>(
    comm: &C,
    reg: &mut R,
    z_local: ArrayView2<F>,
) -> Result<(f64, Array2<F>)>
where
    C: CommunicatorCollectives,
    F: Real + Equivalence,
    R: Sharded<F> + ?Sized,
{
    let size = comm.size() as usize;
    // 1. Every rank's shape, and whether it needs the rows gathered.
    let rows = shapes(comm, z_local, reg.needs_all_rows())?;
    let total: usize = rows.iter().sum();
    // 2. The rows, where the objective needs all pairs.
    let gathered;
    let shard = if reg.needs_all_rows() {
        let range;
        (gathered, range) = gather_rows(comm, z_local, &rows)?;
        Shard::new(gathered.view(), range)?
    } else {
        Shard::local(z_local)
    };
    // 3. Phase 1, and every rank's status: (failed, kind, length).
    let begun = reg.shard_begin(&shard);
    let status = match &begun {
        Err(_) => [1, 0, 0],
        Ok(Exchange::Nothing) => [0, 0, 0],
        Ok(Exchange::GatherRows(v)) => [0, 1, v.len() as u64],
        Ok(Exchange::Sum(v)) => [0, 2, v.len() as u64],
    };
    let mut statuses = vec![0u64; 3 * size];
    comm.all_gather_into(&status[..], &mut statuses[..]);
    let exchange = begun?;
    if let Some(r) = statuses.chunks(3).position(|s| s[0] != 0) {
        return Err(Error::Distributed {
            what: format!("rank {r} failed in phase 1"),
        });
    }
    let agree = statuses.chunks(3).enumerate().all(|(r, s)| {
        s[1] == status[1]
            && (s[1] != 1 || s[2] == rows[r] as u64)
            && (s[1] != 2 || s[2] == status[2])
    });
    if !agree {
        return Err(Error::Distributed {
            what: "the ranks disagree on the exchange (objectives built differently?)".into(),
        });
    }
    // 4. The exchange.
    let exchanged = match exchange {
        Exchange::Nothing => Vec::new(),
        Exchange::GatherRows(mine) => {
            let mut all = vec![0.0f64; total];
            all_gather_varcount(comm, &mine, &mut all, &counts(&rows, 1)?);
            all
        }
        Exchange::Sum(mine) => {
            let mut sums = vec![0.0f64; mine.len()];
            comm.all_reduce_into(&mine[..], &mut sums[..], SystemOperation::sum());
            sums
        }
    };
    // 5. Phase 2, and the sum of the shares with every rank's status.
    let finished = reg.shard_finish(&shard, &exchanged);
    let mine = match &finished {
        Ok(out) => [out.share, 0.0],
        Err(_) => [0.0, 1.0],
    };
    let mut sums = [0.0f64; 2];
    comm.all_reduce_into(&mine[..], &mut sums[..], SystemOperation::sum());
    let out = finished?;
    if sums[1] != 0.0 {
        return Err(Error::Distributed {
            what: format!("{} rank(s) failed in phase 2", sums[1]),
        });
    }
    Ok((out.loss.unwrap_or(sums[0]), out.grad))
}

/// A test of uniformity of the rows of every rank of `comm` together (rank `r`
/// passes its rows `z_local`, `N_r >= 1`): the rows are all-gathered, each rank
/// computes its share of the statistic ([`UniformityTest::shard_statistic`], work
/// `O(N_r N d)`), the shares are all-reduced, and every rank gets the same
/// [`TestResult`] (the p-value from the asymptotic law, or from the test's seeded
/// Monte Carlo replicates, drawn alike on every rank), the same for any number of
/// ranks up to the rounding of the statistic's sum.
///
/// ```
/// use unisphere::{ndarray::Array2, uniformity::UniformityTest};
/// let universe = mpi::initialize().unwrap(); // one rank when run without mpirun
/// let world = universe.world();
/// let z = Array2::from_shape_fn((40, 3), |(i, j)| ((i * 13 + j * 7) % 11) as f64 - 5.0);
/// let r = unisphere::mpi::uniformity_test(&world, &UniformityTest::pcvm(), z.view())?;
/// assert!(r.p_value >= 0.0 && r.p_value <= 1.0);
/// # Ok::<(), unisphere::Error>(())
/// ```
pub fn uniformity_test<C, F>(
    comm: &C,
    test: &UniformityTest,
    z_local: ArrayView2<F>,
) -> Result<TestResult>
where
    C: CommunicatorCollectives,
    F: Real + Equivalence,
{
    let rows = shapes(comm, z_local, true)?;
    let (all, range) = gather_rows(comm, z_local, &rows)?;
    let share = test.shard_statistic(&Shard::new(all.view(), range)?);
    let mine = match &share {
        Ok(s) => [*s, 0.0],
        Err(_) => [0.0, 1.0],
    };
    let mut sums = [0.0f64; 2];
    comm.all_reduce_into(&mine[..], &mut sums[..], SystemOperation::sum());
    share?;
    if sums[1] != 0.0 {
        return Err(Error::Distributed {
            what: format!("{} rank(s) failed to compute their share", sums[1]),
        });
    }
    let (n, d) = all.dim();
    let (p_value, method) = test.p_value(sums[0], n, d)?;
    Ok(TestResult {
        test: test.name(),
        n,
        d,
        statistic: sums[0],
        p_value,
        method,
    })
}

/// Every rank's row count, after checking on every rank that all ranks have rows,
/// the same number of columns and the same `flag` (whether they gather the rows).
fn shapes<C, F>(comm: &C, z_local: ArrayView2<F>, flag: bool) -> Result<Vec<usize>>
where
    C: CommunicatorCollectives,
    F: Real,
{
    let (n, d) = z_local.dim();
    let mut shapes = vec![0u64; 3 * comm.size() as usize];
    comm.all_gather_into(&[n as u64, d as u64, flag as u64][..], &mut shapes[..]);
    if let Some(r) = shapes
        .chunks(3)
        .position(|s| s[1] != d as u64 || s[2] != flag as u64)
    {
        return Err(Error::Distributed {
            what: format!(
                "rank {r} has {} columns (this rank: {d}) or another objective",
                shapes[3 * r + 1]
            ),
        });
    }
    let rows: Vec<usize> = shapes.chunks(3).map(|s| s[0] as usize).collect();
    if let Some(r) = rows.iter().position(|&k| k == 0) {
        return Err(Error::Distributed {
            what: format!("rank {r} has no rows; every rank needs at least one"),
        });
    }
    Ok(rows)
}

/// The rows of every rank concatenated in rank order (all-gather with the counts
/// `rows`), and this rank's range among them.
fn gather_rows<C, F>(
    comm: &C,
    z_local: ArrayView2<F>,
    rows: &[usize],
) -> Result<(Array2<F>, Range<usize>)>
where
    C: CommunicatorCollectives,
    F: Real + Equivalence,
{
    let (n, d) = z_local.dim();
    let total: usize = rows.iter().sum();
    let offset: usize = rows[..comm.rank() as usize].iter().sum();
    let counts = counts(rows, d)?;
    let local = z_local.as_standard_layout();
    let mine = local.as_slice().ok_or_else(|| Error::Distributed {
        what: "the local rows are not contiguous after as_standard_layout".into(),
    })?;
    let mut all = vec![F::zero(); total * d];
    all_gather_varcount(comm, mine, &mut all, &counts);
    let all = Array2::from_shape_vec((total, d), all).map_err(|e| Error::Distributed {
        what: format!("gathered rows: {e}"),
    })?;
    Ok((all, offset..offset + n))
}

/// The per-rank element counts `rows[r] * width` as MPI counts, or an error where
/// the batch is too large for MPI's `int` counts and displacements.
fn counts(rows: &[usize], width: usize) -> Result<Vec<Count>> {
    let total: usize = rows.iter().sum();
    if total
        .checked_mul(width)
        .is_none_or(|t| t > Count::MAX as usize)
    {
        return Err(Error::NotRepresentable {
            what: format!(
                "{total} x {width} gathered numbers exceed MPI's int counts; use fewer rows per call"
            ),
        });
    }
    Ok(rows.iter().map(|&k| (k * width) as Count).collect())
}

/// All-gathers `mine` from every rank into `all`, rank `r`'s `counts[r]` numbers
/// after those of the ranks before it.
fn all_gather_varcount<C, T>(comm: &C, mine: &[T], all: &mut [T], counts: &[Count])
where
    C: CommunicatorCollectives,
    T: Equivalence,
{
    let displs: Vec<Count> = counts
        .iter()
        .scan(0, |acc, &c| {
            let start = *acc;
            *acc += c;
            Some(start)
        })
        .collect();
    let mut partition = PartitionMut::new(all, counts, &displs[..]);
    comm.all_gather_varcount_into(mine, &mut partition);
}
