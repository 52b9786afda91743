//! Sharded evaluation: a batch spread over several processes (ranks), each holding
//! some of its rows, with the exact global loss and the exact gradient of the global
//! loss with respect to each rank's own rows. No MPI here: the collectives are the
//! caller's (`unisphere::mpi` does them over MPI behind the feature `mpi`; NCCL or
//! `torch.distributed` work the same way).
//!
//! # The protocol
//!
//! Every objective that implements [`Sharded`] is evaluated by the same steps on
//! every rank `r` (rows `z_r`, `N_r x d`; `N = sum_r N_r`):
//!
//! 1. If [`Sharded::needs_all_rows`]: all-gather the rows, in rank order, into the
//!    `N x d` batch, and describe this rank's rows with [`Shard::new`] (its range in
//!    the gathered batch). Otherwise [`Shard::local`] of the local rows suffices.
//! 2. [`Sharded::shard_begin`] returns the [`Exchange`] that must happen before
//!    phase 2: nothing (MMD, KSD, the integrated twins), an all-gather of one number
//!    per row (KDE-KL: the log-densities `ln S_i` of every row, `N` scalars, because
//!    a local row's gradient involves `1/q_j` of every remote row `j`), or an
//!    element-wise all-reduce sum (SIGReg, SUSReg: the `M x K` characteristic
//!    function sums, plus the row count).
//! 3. [`Sharded::shard_finish`] with the exchanged numbers gives a [`ShardResult`]:
//!    this rank's share of the loss (the shares of all ranks sum to the loss of one
//!    process on the concatenated batch), the global loss where the rank already
//!    knows it (sliced objectives), and the gradient of the **global** loss with
//!    respect to the local rows.
//!
//! That is all: there is no collective in the backward pass. The local gradient
//! already contains every pair's contribution to the local rows, so a framework
//! must not all-reduce it again.
//!
//! # Gradient averaging
//!
//! The gradient returned is `dL/dz_r` of the global loss `L`, and the gradient of
//! `L` with respect to parameters shared by all ranks is the **sum** over ranks of
//! each rank's back-propagated gradient. A framework that sums gradients over ranks
//! gets it as it is. One that **averages** them over the `W` ranks (PyTorch DDP,
//! Horovod and most data-parallel frameworks) divides by `W`: multiply the local
//! gradient, or equivalently the loss each rank feeds to autograd, by the world
//! size `W` (as LeJEPA's own distributed SIGReg does). Do not all-reduce the loss's
//! gradient with respect to the rows: that is the bug of summing twice (or, with a
//! gather layer that keeps only its own slice, of missing the remote pairs).
//!
//! # Cost
//!
//! The pairwise objectives do `O(N_r N d)` work per rank through the crate's tiled
//! engine (the local rows against all rows) in `O(N d)` memory: the gathered rows.
//! Each pair `(i, j)` of ranks `r != s` is evaluated on both ranks (once for `i`'s
//! gradient, once for `j`'s), so the ranks together evaluate `N^2` pairs where one
//! process evaluates `N^2 / 2` by symmetry: the price of having no backward
//! collective.
//! The sliced ones do `O(N_r M d)` and exchange `2 M K + 1` numbers.
//!
//! [`run_in_process`] plays every rank in one process (the collectives done in
//! memory): it is what a distributed front end does, and a way to check a split.
//!
//! ```
//! use unisphere::{Kernel, Mmd, Regularizer, ndarray::{Array2, s}};
//! use unisphere::shard::run_in_process;
//! let d = 8;
//! let z = Array2::from_shape_fn((20, d), |(i, j)| ((i * 7 + j * 3) % 11) as f64 - 5.0);
//! let mmd = Mmd::new(Kernel::heat(d, 0.5)?);
//! let (whole, grad) = mmd.clone().loss_and_grad(z.view())?;
//! // Three ranks with 1, 12 and 7 rows:
//! let parts = [z.slice(s![..1, ..]), z.slice(s![1..13, ..]), z.slice(s![13.., ..])];
//! let mut ranks = vec![mmd.clone(), mmd.clone(), mmd];
//! let (loss, grads) = run_in_process(&mut ranks, &parts)?;
//! assert!((loss - whole).abs() <= 1e-12 * whole.abs());
//! let g = ndarray::concatenate(ndarray::Axis(0), &[grads[0].view(), grads[1].view(), grads[2].view()]).unwrap();
//! assert!((&g - &grad).iter().all(|e| e.abs() <= 1e-12 * grad.iter().fold(0.0f64, |m, v| m.max(v.abs()))));
//! # Ok::<(), unisphere::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::real::Real;
use crate::regularizer::{Objective, Regularizer};
use crate::rows::check_input;
use ndarray::{Array2, ArrayView2, Axis, concatenate, s};
use std::ops::Range;

/// A rank's view of a sharded batch: rows, and which of them are this rank's.
///
/// ```
/// use unisphere::{shard::Shard, ndarray::Array2};
/// let all = Array2::<f32>::zeros((10, 4));
/// let shard = Shard::new(all.view(), 3..5)?; // this rank holds rows 3 and 4
/// assert_eq!(shard.local_rows().dim(), (2, 4));
/// assert_eq!(shard.total_rows(), Some(10));
/// assert!(Shard::new(all.view(), 8..12).is_err()); // out of range
/// assert!(Shard::new(all.view(), 4..4).is_err()); // no rows
/// # Ok::<(), unisphere::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Shard<'a, F> {
    rows: ArrayView2<'a, F>,
    local: Range<usize>,
    gathered: bool,
}

impl<'a, F: Real> Shard<'a, F> {
    /// The gathered batch `all` (the rows of every rank, in rank order, `N x d`) with
    /// this rank's rows at `local` (at least one row, inside `0..N`).
    pub fn new(all: ArrayView2<'a, F>, local: Range<usize>) -> Result<Self> {
        if local.start >= local.end || local.end > all.nrows() {
            return Err(Error::Shape {
                expected: format!(
                    "a non-empty range of this rank's rows inside the {} gathered rows",
                    all.nrows()
                ),
                found: format!("{local:?}"),
            });
        }
        Ok(Shard {
            rows: all,
            local,
            gathered: true,
        })
    }

    /// This rank's rows alone, for the objectives that need no gathered rows
    /// ([`Sharded::needs_all_rows`] is `false`: SIGReg, SUSReg). The others refuse it.
    ///
    /// ```
    /// use unisphere::{Kernel, Mmd, shard::{Shard, Sharded}, ndarray::Array2};
    /// let z = Array2::<f64>::ones((4, 3));
    /// let mut mmd = Mmd::new(Kernel::heat(3, 0.5)?);
    /// assert!(mmd.shard_begin(&Shard::local(z.view())).is_err());
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn local(z_local: ArrayView2<'a, F>) -> Self {
        let n = z_local.nrows();
        Shard {
            rows: z_local,
            local: 0..n,
            gathered: false,
        }
    }

    /// This rank's rows.
    pub fn local_rows(&self) -> ArrayView2<'a, F> {
        self.rows.slice_move(s![self.local.clone(), ..])
    }

    /// The range of this rank's rows in the gathered batch (`0..N_r` for [`Shard::local`]).
    pub fn local_range(&self) -> Range<usize> {
        self.local.clone()
    }

    /// The number of rows `N` of the whole batch, when the rows were gathered.
    pub fn total_rows(&self) -> Option<usize> {
        self.gathered.then_some(self.rows.nrows())
    }

    /// The gathered rows, or an error naming `what` needs them.
    pub(crate) fn all_rows(&self, what: &str) -> Result<ArrayView2<'a, F>> {
        if !self.gathered {
            return Err(Error::Shape {
                expected: format!(
                    "the gathered rows of every rank ({what} needs all pairs): use Shard::new"
                ),
                found: format!("only this rank's {} rows (Shard::local)", self.rows.nrows()),
            });
        }
        Ok(self.rows)
    }
}

/// The collective a rank must take part in between [`Sharded::shard_begin`] and
/// [`Sharded::shard_finish`].
#[derive(Debug, Clone, PartialEq)]
pub enum Exchange {
    /// None: call [`Sharded::shard_finish`] with an empty slice.
    Nothing,
    /// An all-gather (variable counts): one number per local row; phase 2 takes the
    /// numbers of all ranks concatenated in rank order (`N` numbers).
    GatherRows(Vec<f64>),
    /// An all-reduce: phase 2 takes the element-wise sums over all ranks.
    Sum(Vec<f64>),
}

/// What phase 2 gives a rank.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardResult<F> {
    /// This rank's share of the global loss: the shares of all ranks sum to the loss
    /// of one process on the concatenated batch.
    pub share: f64,
    /// The global loss itself, where every rank knows it after phase 1's collective
    /// (SIGReg, SUSReg: the same value on every rank); `None` where it takes a sum of
    /// the shares.
    pub loss: Option<f64>,
    /// The gradient of the global loss with respect to this rank's rows (`N_r x d`).
    /// Not to be reduced across ranks.
    pub grad: Array2<F>,
}

/// An objective that can be evaluated on a batch sharded over ranks, by the
/// two-phase protocol of the [module documentation](self). Implemented for every
/// objective of the crate, for `f32` and `f64`.
///
/// ```
/// use unisphere::{KdeKl, Kernel, Regularizer, ndarray::{Array2, s}};
/// use unisphere::shard::{Exchange, Shard, Sharded};
/// let d = 24;
/// let z = Array2::from_shape_fn((12, d), |(i, j)| ((i * 7 + j * 3) % 11) as f64 - 5.0);
/// let kl = KdeKl::new(Kernel::heat(d, 2.0 / d as f64)?)?;
/// let (whole, grad) = kl.clone().loss_and_grad(z.view())?;
/// // Two ranks, rows 0..5 and 5..12, both with the gathered rows.
/// let ranges = [0..5, 5..12];
/// let mut ranks = [kl.clone(), kl];
/// let mut densities = Vec::new(); // the all-gather of phase 1, done by hand
/// for (reg, r) in ranks.iter_mut().zip(&ranges) {
///     match reg.shard_begin(&Shard::new(z.view(), r.clone())?)? {
///         Exchange::GatherRows(v) => densities.extend(v),
///         other => panic!("KL gathers densities, not {other:?}"),
///     }
/// }
/// let mut total = 0.0;
/// for (reg, r) in ranks.iter_mut().zip(&ranges) {
///     let out = reg.shard_finish(&Shard::new(z.view(), r.clone())?, &densities)?;
///     total += out.share;
///     let want = grad.slice(s![r.clone(), ..]);
///     assert!(out.grad.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12));
/// }
/// assert!((total - whole).abs() < 1e-12 * whole.abs());
/// # Ok::<(), unisphere::Error>(())
/// ```
pub trait Sharded<F: Real>: Regularizer<F> {
    /// Whether phase 1 needs the gathered rows of every rank ([`Shard::new`]);
    /// `false` where this rank's rows suffice ([`Shard::local`]).
    fn needs_all_rows(&self) -> bool;

    /// Phase 1: what must be exchanged before [`Sharded::shard_finish`]. Sliced
    /// objectives draw their directions here without advancing their call counter
    /// (phase 2 advances it), so every rank must hold a regularizer at the same step.
    fn shard_begin(&mut self, shard: &Shard<F>) -> Result<Exchange>;

    /// Phase 2: this rank's share of the loss and the gradient of the global loss
    /// with respect to its rows, given the result of phase 1's collective
    /// (`exchanged`: empty, the `N` gathered numbers, or the reduced sums). A
    /// `exchanged` of the wrong length is an error.
    fn shard_finish(&mut self, shard: &Shard<F>, exchanged: &[f64]) -> Result<ShardResult<F>>;
}

/// An objective whose sharded evaluation gathers the rows and exchanges nothing
/// (MMD, KSD, the integrated twins): its phase 2 is its share of the pairs.
pub(crate) trait PairShare: Objective {
    /// The objective's name, in errors.
    const NAME: &'static str;

    /// From the gathered rows `all` (checked as a call checks its input) and this
    /// rank's range `local`: its share of the loss and the gradient of the whole
    /// loss with respect to its rows.
    fn share<F: Real>(
        &mut self,
        all: ArrayView2<F>,
        local: Range<usize>,
    ) -> Result<(f64, Array2<F>)>;
}

impl<F: Real, T: PairShare> Sharded<F> for T {
    fn needs_all_rows(&self) -> bool {
        true
    }

    fn shard_begin(&mut self, shard: &Shard<F>) -> Result<Exchange> {
        check_input(&shard.all_rows(T::NAME)?, 2, self.width())?;
        Ok(Exchange::Nothing)
    }

    fn shard_finish(&mut self, shard: &Shard<F>, exchanged: &[f64]) -> Result<ShardResult<F>> {
        check_exchanged(exchanged, 0, &format!("{} exchanges nothing", T::NAME))?;
        let all = shard.all_rows(T::NAME)?;
        check_input(&all, 2, self.width())?;
        let (share, grad) = self.share(all, shard.local_range())?;
        Ok(ShardResult {
            share,
            loss: None,
            grad,
        })
    }
}

/// Checks that phase 2 got `want` exchanged numbers.
pub(crate) fn check_exchanged(exchanged: &[f64], want: usize, what: &str) -> Result<()> {
    if exchanged.len() != want {
        return Err(Error::Shape {
            expected: format!("{want} exchanged numbers ({what})"),
            found: format!("{}", exchanged.len()),
        });
    }
    if let Some(i) = exchanged.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite { row: i, col: 0 });
    }
    Ok(())
}

/// Plays every rank of a sharded evaluation in this process: rank `r` holds the
/// rows `parts[r]` and the regularizer `regs[r]` (one per rank, all alike, as on a
/// cluster). The collectives are done in memory, exactly as a distributed front
/// end does them. Returns the global loss (the sum of the shares in rank order, or
/// the loss every rank knows) and each rank's gradient.
///
/// An error if `regs` and `parts` differ in length or are empty, if the parts
/// differ in width, or if any rank's phase fails.
///
/// ```
/// use unisphere::{Regularizer, Sigreg, ndarray::{Array2, s}};
/// use unisphere::shard::run_in_process;
/// let z = Array2::from_shape_fn((30, 4), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 3.0 - 1.5);
/// let (whole, grad) = Sigreg::new(64, 5)?.loss_and_grad(z.view())?;
/// let parts = [z.slice(s![..10, ..]), z.slice(s![10.., ..])];
/// let mut ranks = [Sigreg::new(64, 5)?, Sigreg::new(64, 5)?];
/// let (loss, grads) = run_in_process(&mut ranks, &parts)?;
/// assert!((loss - whole).abs() < 1e-12 * whole);
/// assert_eq!(ranks[0].step(), 1); // each rank advanced its call counter once
/// # Ok::<(), unisphere::Error>(())
/// ```
pub fn run_in_process<F: Real, R: Sharded<F>>(
    regs: &mut [R],
    parts: &[ArrayView2<F>],
) -> Result<(f64, Vec<Array2<F>>)> {
    if regs.len() != parts.len() || parts.is_empty() {
        return Err(Error::Shape {
            expected: "one regularizer per part, at least one part".into(),
            found: format!("{} regularizers, {} parts", regs.len(), parts.len()),
        });
    }
    let d = parts[0].ncols();
    if let Some(p) = parts.iter().find(|p| p.ncols() != d) {
        return Err(Error::Shape {
            expected: format!("parts of {d} columns, as the first"),
            found: format!("{} columns", p.ncols()),
        });
    }
    let all = concatenate(Axis(0), parts).map_err(|e| Error::Shape {
        expected: "parts that concatenate".into(),
        found: e.to_string(),
    })?;
    let mut ranges = Vec::with_capacity(parts.len());
    let mut start = 0;
    for p in parts {
        ranges.push(start..start + p.nrows());
        start += p.nrows();
    }
    let shard = |r: usize, reg: &R| -> Result<Shard<F>> {
        if reg.needs_all_rows() {
            Shard::new(all.view(), ranges[r].clone())
        } else {
            Ok(Shard::local(parts[r]))
        }
    };
    let mut gathered = Vec::new();
    let mut summed: Vec<f64> = Vec::new();
    for (r, reg) in regs.iter_mut().enumerate() {
        let ex = reg.shard_begin(&shard(r, reg)?)?;
        match ex {
            Exchange::Nothing => {}
            Exchange::GatherRows(v) => gathered.extend(v),
            Exchange::Sum(v) => {
                if summed.is_empty() {
                    summed = v;
                } else if summed.len() == v.len() {
                    summed.iter_mut().zip(&v).for_each(|(a, b)| *a += b);
                } else {
                    return Err(Error::Shape {
                        expected: format!("{} numbers to sum, as rank 0", summed.len()),
                        found: format!("{} from rank {r}", v.len()),
                    });
                }
            }
        }
    }
    let exchanged: &[f64] = if summed.is_empty() {
        &gathered
    } else {
        &summed
    };
    let mut shares = 0.0;
    let mut known = None;
    let mut grads = Vec::with_capacity(regs.len());
    for (r, reg) in regs.iter_mut().enumerate() {
        let out = reg.shard_finish(&shard(r, reg)?, exchanged)?;
        shares += out.share;
        known = known.or(out.loss);
        grads.push(out.grad);
    }
    Ok((known.unwrap_or(shares), grads))
}
