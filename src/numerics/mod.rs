//! The crate's ground floor of numerical tools, one home each and nothing of the
//! crate imported: quadrature rules, Chebyshev interpolation, the Gegenbauer
//! recurrence, seed mixing, `ln B(1/2, b)`, the overflow-safe row norm, vectorizing
//! sums, loops compiled for the CPU's vector registers, blocked transposition, the
//! engine's unpacked `f32` products, and the crate-wide limits (the largest
//! dimension, the size from which row passes go parallel).

mod chebyshev;
mod gegenbauer;
mod lanes;
mod quadrature;
mod rows_product;
mod transpose;
mod vectorized;

pub(crate) use chebyshev::{chebyshev_coeffs, chebyshev_points, chebyshev_sum, monomial_coeffs};
pub(crate) use gegenbauer::{gegenbauer_values, recurrence};
pub(crate) use lanes::{all_finite, lane_sum, lane_sum2};
pub(crate) use quadrature::{gauss_legendre, uniform_marginal_rule};
pub(crate) use rows_product::{
    PANEL_WIDTH, PackedB, Product, has_rows_product, kernel, pack_panels, packed_len, rows_product,
    symmetric_product,
};
pub(crate) use transpose::{mirror_upper, mirror_upper_f32, transpose, transpose_f32};
pub(crate) use vectorized::vectorized;

use statrs::function::gamma::ln_gamma;

/// The largest dimension `d` accepted by kernels and tests (`2^24`).
pub(crate) const MAX_DIM: usize = 1 << 24;

/// Matrices with fewer entries than this are passed over row by row (normalised,
/// checked, their gradients chained or added) on the calling thread; larger ones in
/// blocks on rayon's threads. Each entry is computed alone, so results do not
/// depend on the thread count. The engine's column copy splits at the same size.
pub(crate) const PARALLEL_ENTRIES: usize = 1 << 15;

/// The SplitMix64 increment (the golden ratio in 64 bits).
pub(crate) const SPLITMIX_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser: a bijection of `u64` that decorrelates nearby inputs
/// (seeds, call counters, replicate indices) into generator seeds.
pub(crate) fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `ln B(1/2, b) = ln Gamma(1/2) + ln Gamma(b) - ln Gamma(b + 1/2)` for `b > 0`;
/// with `b = (d - 1)/2` the log of the normaliser of `rho_d`, the density of one
/// coordinate of a uniform point on `S^{d-1}`.
pub(crate) fn ln_beta_half(b: f64) -> f64 {
    ln_gamma(0.5) + ln_gamma(b) - ln_gamma(b + 0.5)
}

/// Copies a row of finite values into `buf` (of the row's length), divided by its
/// largest magnitude `m`, and returns `(m, r)` with `r = |row / m|` in
/// `[1, sqrt(len)]`: the norm is `m r` and the unit row is `buf / r`, with no
/// overflow or underflow for rows scaled by `1e300` or `1e-300`. `None` for a row
/// of zeros.
pub(crate) fn rescale_row(
    buf: &mut [f64],
    row: impl IntoIterator<Item = f64>,
) -> Option<(f64, f64)> {
    let mut m = 0.0f64;
    for (b, v) in buf.iter_mut().zip(row) {
        *b = v;
        m = m.max(v.abs());
    }
    if m == 0.0 {
        return None;
    }
    let mut s = 0.0;
    for v in buf.iter_mut() {
        *v /= m;
        s += *v * *v;
    }
    Some((m, s.sqrt()))
}

/// Sums of squares at least this large (and finite) give a row's norm directly;
/// smaller ones (rows of `f64` entries near `1e-150` or below) are rescaled first.
const DIRECT_MIN_SQUARES: f64 = 1e-290;

/// `(m, r)` with the row's norm `m r` and its unit row `row / m / r`, for a row of
/// finite values; `None` for a row of zeros. Where the sum of squares in `f64`
/// neither overflows nor underflows (every `f32` row does not) it is `(1, sqrt(sum))`,
/// formed in one vectorized pass; otherwise [`rescale_row`]'s scale and norm.
/// `to_f64` converts an entry exactly.
#[inline(always)]
pub(crate) fn row_scale<T: Copy>(row: &[T], to_f64: impl Fn(T) -> f64) -> Option<(f64, f64)> {
    let squares = lane_sum(row, |v| {
        let v = to_f64(v);
        v * v
    });
    if squares.is_finite() && squares >= DIRECT_MIN_SQUARES {
        return Some((1.0, squares.sqrt()));
    }
    let mut buf = vec![0.0f64; row.len()];
    rescale_row(&mut buf, row.iter().map(|&v| to_f64(v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescaled_rows_keep_their_norm_at_extreme_scales() {
        let mut buf = [0.0; 2];
        for scale in [1e-300, 1.0, 1e300] {
            let (m, r) = rescale_row(&mut buf, [3.0 * scale, -4.0 * scale]).unwrap();
            assert!((m * r / (5.0 * scale) - 1.0).abs() < 1e-15);
            assert_eq!(buf, [0.75, -1.0]);
        }
        assert!(rescale_row(&mut buf, [0.0, 0.0]).is_none());
    }

    #[test]
    fn row_scales_give_the_norm_at_every_magnitude() {
        for scale in [1e-300, 1e-160, 1e-140, 1.0, 1e150, 1e160, 1e300] {
            let (m, r) = row_scale(&[3.0 * scale, -4.0 * scale], |v| v).unwrap();
            assert!((m * r / (5.0 * scale) - 1.0).abs() < 1e-15, "{scale:e}");
            assert!((3.0 * scale / m / r - 0.6).abs() < 1e-15, "{scale:e}");
        }
        assert_eq!(row_scale(&[3.0f32, 4.0], f64::from), Some((1.0, 5.0)));
        assert!(row_scale(&[0.0f64; 3], |v| v).is_none());
    }

    #[test]
    fn ln_beta_half_matches_closed_forms() {
        // B(1/2, 1/2) = pi, B(1/2, 1) = 2.
        assert!((ln_beta_half(0.5) - std::f64::consts::PI.ln()).abs() < 1e-14);
        assert!((ln_beta_half(1.0) - 2f64.ln()).abs() < 1e-14);
    }
}
