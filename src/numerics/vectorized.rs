//! Loops compiled for the CPU's vector registers: the crate is built for the
//! baseline target, where loops over `f64` vectorize two lanes wide (SSE2 on x86-64,
//! NEON on aarch64); on x86-64 CPUs with AVX2 and FMA (detected at run time)
//! [`vectorized`] runs a closure compiled for them.

/// Runs `f`, compiled with AVX2 and FMA enabled where the CPU has them. Its
/// arithmetic is the same either way (Rust fuses no multiply and add unless asked
/// to), so results do not depend on which path ran.
#[inline(always)]
pub(crate) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA, checked just above.
        return unsafe { avx2_fma(f) };
    }
    f()
}

/// `f()` with AVX2 and FMA enabled.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn avx2_fma<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    use super::super::{lane_sum2, row_scale};
    use super::*;

    /// A row pass (norm, projection, conversions) gives the same bits either way.
    #[test]
    fn results_are_those_of_the_baseline_build() {
        let z: Vec<f32> = (0..203)
            .map(|k| ((k * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        #[inline(always)]
        fn pass(z: &[f32]) -> (f64, f64, Vec<f32>) {
            let (m, r) = row_scale(z, f64::from).expect("a nonzero row");
            let x: Vec<f64> = z.iter().map(|&v| f64::from(v) / m / r).collect();
            let radial = lane_sum2(z, &x, |a, b| f64::from(a) * b);
            let g = z.iter().zip(&x);
            let g: Vec<f32> = g
                .map(|(&a, &b)| (f64::from(a) - radial * b) as f32)
                .collect();
            (r, radial, g)
        }
        let (r, radial, g) = vectorized(
            #[inline(always)]
            || pass(&z),
        );
        let (r0, radial0, g0) = pass(&z);
        assert_eq!(
            (r.to_bits(), radial.to_bits()),
            (r0.to_bits(), radial0.to_bits())
        );
        assert_eq!(g, g0);
    }
}
