//! Monte Carlo p-values: the statistic recomputed on uniform samples of the same
//! size, one seeded generator per replicate, replicates in parallel.

use super::Prepared;
use crate::error::Result;
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
    let exceed = (0..replicates)
        .into_par_iter()
        .map(|r| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(seed, r as u64));
            let z = Array2::<f64>::from_shape_simple_fn((n, d), || rng.sample(StandardNormal));
            Ok(usize::from(prepared.statistic(z.view())? >= observed))
        })
        .collect::<Result<Vec<usize>>>()?
        .into_iter()
        .sum::<usize>();
    Ok((1 + exceed) as f64 / (replicates + 1) as f64)
}

/// SplitMix64 of the seed and the replicate index.
fn mix(seed: u64, r: u64) -> u64 {
    let mut z = seed ^ r.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
