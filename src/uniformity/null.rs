//! The asymptotic null distribution `sum_k v_k^2 chi^2_{N(d,k)}` of a Sobolev
//! statistic, truncated where the weights say the rest no longer matters.
//!
//! Weights are computed for `k <= K` with `K` doubling until the variance of the
//! remainder, `sum_{k>K} 2 v_k^4 N(d,k)` (extrapolated from the last two octaves),
//! is below [`TOLERANCE`] of the total variance. The kept degrees are the fewest whose
//! neglected variance stays below that bound. The neglected terms are replaced by
//! one scaled chi-square with their exact mean (`psi(1)` minus the kept means) and
//! their variance, so the error in a probability is of the order of the neglected
//! variance relative to the total. Terms with a degree of freedom beyond `f64`'s
//! range (high `d`) carry negligible variance and join the remainder.

use super::chisq;
use super::family::Family;
use crate::error::{Error, Result};
use crate::kernel::LnHarmonicDimensions;

/// The neglected variance allowed, relative to the total variance.
const TOLERANCE: f64 = 1e-7;
/// The highest degree the weights may be computed to.
pub(super) const MAX_DEGREE: usize = 1 << 14;

/// `sum_j lambda_j (chi^2_{h_j} - h_j) + centre`.
#[derive(Debug, Clone)]
pub(super) struct NullDistribution {
    terms: Vec<(f64, f64)>,
    centre: f64,
    /// The highest Sobolev degree kept.
    pub degree: usize,
}

impl NullDistribution {
    /// Builds the distribution of `family`'s statistic in dimension `d`; `psi1` is
    /// `psi(1) = sum_k v_k^2 N(d, k)`, `diagonal` whether the statistic includes
    /// the pairs `(i, i)` (otherwise it is centred by `-psi(1)`).
    pub fn new(family: &Family, d: usize, psi1: f64, diagonal: bool) -> Result<Self> {
        let (ln_w, tail_variance) = match family.finite_weights() {
            Some(w) => (family.ln_weights(d, w.len()), 0.0),
            None => infinite_weights(family, d)?,
        };
        let ln_n: Vec<f64> = LnHarmonicDimensions::new(d)
            .skip(1)
            .take(ln_w.len())
            .collect();
        let var: Vec<f64> = ln_w
            .iter()
            .zip(&ln_n)
            .map(|(w, n)| 2.0 * (2.0 * w + n).exp())
            .collect();
        let total_var = var.iter().sum::<f64>() + tail_variance;
        // Fewest degrees whose neglected variance is within the tolerance.
        let mut neglected = tail_variance;
        let mut degree = var.len();
        while degree > 0 && neglected + var[degree - 1] <= TOLERANCE * total_var {
            neglected += var[degree - 1];
            degree -= 1;
        }
        let mut terms = Vec::with_capacity(degree + 1);
        let mut kept_mean = 0.0;
        for (k, (w, n)) in ln_w.iter().zip(&ln_n).enumerate().take(degree) {
            if *w == f64::NEG_INFINITY {
                continue;
            }
            if *n < 700.0 {
                terms.push((w.exp(), n.exp()));
                kept_mean += (w + n).exp();
            } else {
                neglected += var[k];
            }
        }
        // The remainder: its exact mean, its variance, as one scaled chi-square
        // (a constant, which centring removes, when its variance is negligible).
        let rest_mean = psi1 - kept_mean;
        if rest_mean > 0.0 && neglected > 0.0 {
            terms.push((
                neglected / (2.0 * rest_mean),
                2.0 * rest_mean * rest_mean / neglected,
            ));
        }
        // The limit's mean: psi(1) with the diagonal, 0 without (centred U-statistic).
        let centre = if diagonal { psi1 } else { 0.0 };
        Ok(NullDistribution {
            terms,
            centre,
            degree,
        })
    }

    /// Number of chi-square terms.
    pub fn terms(&self) -> usize {
        self.terms.len()
    }

    /// `P(S > statistic)` under the limit distribution.
    pub fn upper_tail(&self, statistic: f64) -> Result<f64> {
        chisq::upper_tail_centred(&self.terms, statistic - self.centre)
    }
}

/// `ln v_k^2` for `k = 1..=K` with `K` large enough, and the extrapolated variance
/// beyond `K`.
fn infinite_weights(family: &Family, d: usize) -> Result<(Vec<f64>, f64)> {
    let mut k = 64;
    loop {
        let ln_w = family.ln_weights(d, k);
        let var: Vec<f64> = ln_w
            .iter()
            .zip(LnHarmonicDimensions::new(d).skip(1))
            .map(|(w, n)| 2.0 * (2.0 * w + n).exp())
            .collect();
        let total: f64 = var.iter().sum();
        let last: f64 = var[k / 2..].iter().sum();
        let before: f64 = var[k / 4..k / 2].iter().sum();
        let tail = if last == 0.0 {
            Some(0.0)
        } else if last < 0.75 * before {
            let r = last / before;
            Some(last * r / (1.0 - r))
        } else {
            None
        };
        if let Some(tail) = tail
            && tail <= 0.5 * TOLERANCE * total
        {
            return Ok((ln_w, tail));
        }
        if !total.is_finite() {
            return Err(Error::NotRepresentable {
                what: format!("the Sobolev weights of {} in d = {d}", family.name()),
            });
        }
        k *= 2;
        if k > MAX_DEGREE {
            return Err(Error::TruncationLimit {
                cap: MAX_DEGREE,
                hint: format!(
                    "the Sobolev weights of {} in d = {d} decay too slowly for an asymptotic \
                     p-value; use Monte Carlo p-values",
                    family.name()
                ),
            });
        }
    }
}
