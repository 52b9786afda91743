//! Sums over slices in eight interleaved partial sums, so that the loops vectorize
//! while the order of additions (and so the result) stays fixed.

/// The number of interleaved partial sums.
const LANES: usize = 8;

/// `sum_k f(v_k)`, accumulated in [`LANES`] partial sums that are added in a fixed
/// order: the same value for the same input on every machine and thread count.
#[inline(always)]
pub(crate) fn lane_sum<T: Copy>(v: &[T], f: impl Fn(T) -> f64) -> f64 {
    let mut acc = [0.0f64; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest: f64 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += f(c[l]);
        }
    }
    acc.iter().sum::<f64>() + rest
}

/// `sum_k f(a_k, b_k)` over two slices of the same length, as [`lane_sum`] does it.
#[inline(always)]
pub(crate) fn lane_sum2<A: Copy, B: Copy>(a: &[A], b: &[B], f: impl Fn(A, B) -> f64) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f64; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let rest: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| f(x, y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += f(x[l], y[l]);
        }
    }
    acc.iter().sum::<f64>() + rest
}

/// Whether every `f(v_k)` is finite, without a branch per entry: `0 * f(v_k)` is NaN
/// exactly when `f(v_k)` is infinite or NaN, and a NaN survives the sum.
#[inline(always)]
pub(crate) fn all_finite<T: Copy>(v: &[T], f: impl Fn(T) -> f64) -> bool {
    lane_sum(v, |x| 0.0 * f(x)).is_finite()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_equal_the_plain_sums_on_every_length() {
        for n in 0..40usize {
            let v: Vec<f64> = (0..n).map(|k| (k as f64 * 0.37).sin()).collect();
            let plain: f64 = v.iter().map(|x| x * x).sum();
            assert!((lane_sum(&v, |x| x * x) - plain).abs() < 1e-13);
            let dot: f64 = v.iter().zip(v.iter().rev()).map(|(a, b)| a * b).sum();
            let rev: Vec<f64> = v.iter().rev().copied().collect();
            assert!((lane_sum2(&v, &rev, |a, b| a * b) - dot).abs() < 1e-13);
        }
    }

    #[test]
    fn one_bad_entry_anywhere_is_found() {
        for n in 1..30usize {
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                for k in 0..n {
                    let mut v = vec![1.0f32; n];
                    v[k] = bad as f32;
                    assert!(!all_finite(&v, |x| x as f64), "n={n} k={k}");
                }
            }
            assert!(all_finite(&vec![f32::MAX; n], |x| x as f64));
        }
    }
}
