//! The engine's sizes: rows per tile, and the largest copy of the rows.

/// The most rows per tile.
pub(crate) const TILE: usize = 256;

/// Rows per tile for a batch of `n` rows: a power of two from 32 to [`TILE`], small
/// enough that a batch of 128 or more rows has at least four tiles, so that every
/// thread has tile pairs to work on at SSL batch sizes (N = 256 fits one 256-row
/// tile), and above 512 rows at least eight: more tiles leave less of the Gram work
/// on the diagonal tiles, which the GEMM and the AVX-512 product form whole (at
/// N = 1024, 128-row tiles did 9% less work than 256-row ones). It depends on `n` alone, so results stay
/// bit-identical for any number of threads.
pub(crate) fn tile_rows(n: usize) -> usize {
    let per_batch = if n > 512 { 8 } else { 4 };
    n.div_ceil(per_batch).next_power_of_two().clamp(32, TILE)
}

/// The most entries (`N d`, padded) of a column-major or packed copy of the rows
/// ([`PairRows::with_columns`](super::PairRows::with_columns)): 64 MiB in `f32`.
/// Above it the Gram tiles' GEMMs gather from the rows instead, a cost that shrinks
/// relative to the GEMMs' as the tiles grow.
pub(super) const COLUMN_COPY_MAX: usize = 1 << 24;

/// The rows of tile `t` of a batch of `n` rows in tiles of `tile` rows.
pub(super) fn tile_range(t: usize, tile: usize, n: usize) -> std::ops::Range<usize> {
    t * tile..((t + 1) * tile).min(n)
}
