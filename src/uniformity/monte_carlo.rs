//! Monte Carlo p-values: the statistic recomputed on uniform samples of the same
//! size, one seeded generator per replicate, replicates in parallel.

use super::Prepared;
use crate::error::{Error, Result};
use crate::numerics::{SPLITMIX_GAMMA, splitmix64};
use ndarray::Array2;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rayon::prelude::*;

/// `(1 + #{T_r >= observed}) / (replicates + 1)` over `replicates` uniform samples of
/// `n` points on `S^{d-1}`. Replicate `r` uses its own generator seeded from
/// `(seed, r)`, so the result depends only on the seed, not on the thread count.
pub(super) fn p_value(
    prepared: &Prepared,
    n: usize,
    observed: f64,
    replicates: usize,
    seed: u64,
) -> Result<f64> {
    let d = prepared.d;
    let len = sample_len(n, d)?;
    let exceed = (0..replicates)
        .into_par_iter()
        .map(|r| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(seed, r as u64));
            let mut buf = Vec::new();
            buf.try_reserve_exact(len).map_err(|_| too_large(n, d))?;
            buf.extend((0..len).map(|_| rng.sample::<f64, _>(StandardNormal)));
            let z = Array2::from_shape_vec((n, d), buf).map_err(|_| too_large(n, d))?;
            Ok(usize::from(prepared.statistic(z.view())? >= observed))
        })
        .collect::<Result<Vec<usize>>>()?
        .into_iter()
        .sum::<usize>();
    Ok((1 + exceed) as f64 / (replicates + 1) as f64)
}

/// SplitMix64 of the seed and the replicate index.
fn mix(seed: u64, r: u64) -> u64 {
    splitmix64(seed ^ r.wrapping_add(1).wrapping_mul(SPLITMIX_GAMMA))
}

/// The number of entries of one `n x d` sample, if its `f64`s can be addressed.
fn sample_len(n: usize, d: usize) -> Result<usize> {
    n.checked_mul(d)
        .filter(|&len| len <= isize::MAX as usize / std::mem::size_of::<f64>())
        .ok_or_else(|| too_large(n, d))
}

fn too_large(n: usize, d: usize) -> Error {
    Error::NotRepresentable {
        what: format!(
            "a Monte Carlo sample of {n} x {d} points cannot be allocated; use the asymptotic p-value"
        ),
    }
}
