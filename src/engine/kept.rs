//! The pairs one pass of the engine visited, kept for a second pass over the same
//! pairs (KDE-KL's gradient needs every row's density before its weights).

use super::config::{tile_range, tile_rows};
use std::sync::{Mutex, MutexGuard};

/// The values and weights of every pair one pass of the engine visited, kept for a
/// second pass over the same pairs ([`pair_sums_keep`](super::pair_sums_keep), then
/// [`reweigh_into`](super::reweigh_into)): per tile pair `(I, J)`, `I <= J`, a
/// block of `|I| x |J|` values then as many weights, in `f64`. The blocks are reused
/// from call to call: kept in the objective, they are allocated once per batch
/// shape (a clone starts empty).
#[derive(Debug, Default)]
pub(crate) struct KeptPairs {
    rows: usize,
    tile: usize,
    /// `tiles x tiles` slots, of which those with `I <= J` hold blocks.
    blocks: Vec<Mutex<Vec<f64>>>,
}

impl Clone for KeptPairs {
    fn clone(&self) -> Self {
        KeptPairs::default()
    }
}

impl KeptPairs {
    /// The most pairs kept: values and weights of `2^20` pairs are 16 MiB.
    pub const MAX_PAIRS: usize = 1 << 20;

    /// The pairs a batch of `n` rows keeps: the tile pairs `I <= J`.
    fn pairs(n: usize) -> usize {
        let tile = tile_rows(n);
        let (full, last) = (n / tile, n % tile);
        // Full tiles among themselves, the last (partial) tile against all.
        tile * tile * full * (full + 1) / 2 + last * (n - last) + last * last
    }

    /// Whether the pairs of a batch of `n` rows fit in [`KeptPairs::MAX_PAIRS`].
    pub fn fits(n: usize) -> bool {
        KeptPairs::pairs(n) <= KeptPairs::MAX_PAIRS
    }

    /// Blocks for a batch of `n` rows in tiles of `tile` rows.
    pub(super) fn prepare(&mut self, n: usize, tile: usize) {
        let tiles = n.div_ceil(tile);
        if self.rows == n && self.tile == tile {
            return;
        }
        let rows = |t: usize| tile_range(t, tile, n).len();
        self.blocks.resize_with(tiles * tiles, Default::default);
        self.blocks.truncate(tiles * tiles);
        for ti in 0..tiles {
            for tj in 0..tiles {
                let len = if ti <= tj { 2 * rows(ti) * rows(tj) } else { 0 };
                let block = self.blocks[ti * tiles + tj]
                    .get_mut()
                    .expect("kept block poisoned");
                block.resize(len, 0.0);
                block.shrink_to(len);
            }
        }
        (self.rows, self.tile) = (n, tile);
    }

    /// Whether the blocks are those of a batch of `n` rows in tiles of `tile` rows.
    pub(super) fn is_for(&self, n: usize, tile: usize) -> bool {
        (self.rows, self.tile) == (n, tile)
    }

    /// The block of the tile pair `(ti, tj)`, `ti <= tj`.
    pub(super) fn block(&self, (ti, tj): (usize, usize)) -> MutexGuard<'_, Vec<f64>> {
        let tiles = self.rows.div_ceil(self.tile);
        self.blocks[ti * tiles + tj]
            .lock()
            .expect("kept block poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_pairs_count_the_tile_pairs() {
        for n in [
            1usize, 2, 31, 32, 33, 100, 128, 129, 255, 256, 257, 1000, 1024, 1400, 1500,
        ] {
            let tile = tile_rows(n);
            let tiles = n.div_ceil(tile);
            let rows = |t: usize| tile_range(t, tile, n).len();
            let want: usize = (0..tiles)
                .flat_map(|i| (i..tiles).map(move |j| (i, j)))
                .map(|(i, j)| rows(i) * rows(j))
                .sum();
            assert_eq!(KeptPairs::pairs(n), want, "n={n}");
        }
        assert!(KeptPairs::fits(1024) && !KeptPairs::fits(2048));
    }
}
