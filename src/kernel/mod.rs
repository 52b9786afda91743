//! Zonal kernels on `S^{d-1}` built from spectral filters: the core of the crate.
//!
//! A kernel is a filter `w_l >= 0` turned into the zonal function
//! `phi(c) = (1/Z) sum_{l=0}^{L} w_l N(d, l) P_l(d; c)`, `Z = sum_l w_l N(d, l)`,
//! so that `phi(1) = 1`. Every `w_l >= 0` makes `phi` positive definite on the sphere.

mod exact;
mod gegenbauer;

pub(crate) use exact::Extended;
pub use gegenbauer::{GegenbauerSeries, LnHarmonicDimensions, gegenbauer};

use crate::error::{Error, Result, invalid};
use crate::numerics::{MAX_DIM, ln_beta_half, uniform_marginal_rule};
use crate::special::hypergeometric::hyp1f1_kummer;
use exact::{ExactSeries, ExactSource};
use std::sync::{Arc, OnceLock};

/// The hard cap on the number of series terms a kernel may use.
pub const MAX_TERMS: usize = 10_000;

/// Default relative tolerance of the heat series' truncation: the dropped tail
/// is below this fraction of `Z`.
pub const HEAT_TAIL_TOLERANCE: f64 = 1e-12;

/// Which spectral filter a [`Kernel`] was built from.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum KernelKind {
    /// `w_l = exp(-t l (l + d - 2))`.
    Heat {
        /// Diffusion time.
        t: f64,
    },
    /// `w_l = 1` for `l <= L`.
    Bandlimited {
        /// Highest degree.
        degree: usize,
    },
    /// Caller-given weights.
    Custom,
    /// SPHERE-JEPA's induced kernel `1F1(1/2; d/2; -d (1 - c))`.
    SusregInduced,
}

/// A zonal kernel `phi(c)` on `S^{d-1}`, normalised so that `phi(1) = 1`.
///
/// Two views of the same kernel: [`Kernel::series`] is the series truncated at
/// [`Kernel::degree`] (for heat kernels, where the dropped tail is below the
/// tolerance of `Z`), which the objectives tabulate; [`Kernel::eval`] and its
/// siblings evaluate the kernel itself (the infinite heat series) to full relative
/// accuracy at every `c` in `[-1, 1]` and every `d`: in double precision where the
/// series does not cancel, and in exact high-precision arithmetic where it does
/// (high `d`, `c` away from 1). [`Kernel::ln_eval`] stays finite where `phi`
/// underflows `f64`.
///
/// ```
/// use unisphere::Kernel;
/// let k = Kernel::heat(256, 5.0 / 256.0)?;
/// assert!((k.eval(1.0) - 1.0).abs() < 1e-14);
/// assert!((k.eval(0.0) - 0.180095).abs() < 1e-6);
/// assert!((1.0 / k.z() - 0.18115327).abs() < 1e-8);
/// # Ok::<(), unisphere::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Kernel {
    d: usize,
    kind: KernelKind,
    weights: Vec<f64>,
    ln_z: f64,
    phi: GegenbauerSeries,
    full: Arc<FullSeries>,
}

/// Below this, a double-precision value is not trusted unless its rounding bound
/// is this small relative to it.
const FAST_PATH_REL: f64 = 1e-12;

/// Below this magnitude a double-precision value may have lost digits to
/// underflow: the exact series decides.
const FAST_PATH_MIN: f64 = 1e-280;

/// The whole series of a kernel, for evaluation to full relative accuracy:
/// in double precision where it does not cancel, exactly where it does.
#[derive(Debug)]
struct FullSeries {
    /// `phi`, `phi'`, `phi''` over every term above `1e-40` of `Z`.
    series: [GegenbauerSeries; 3],
    /// Relative error of the double-precision coefficients.
    coeff_err: f64,
    /// `sum_l |a_l|` of each series (a bound of its rounding error's scale).
    abs_sums: [f64; 3],
    source: ExactSource,
    d: usize,
    /// The exact series, built on first use.
    exact: OnceLock<Result<ExactSeries>>,
}

impl FullSeries {
    fn new(d: usize, ln_terms: &[f64], source: ExactSource) -> FullSeries {
        let ln_z = log_sum_exp(ln_terms);
        let value = GegenbauerSeries::new(
            d as f64,
            ln_terms.iter().map(|v| (v - ln_z).exp()).collect(),
        );
        let slope = value.derivative();
        let curvature = slope.derivative();
        let series = [value, slope, curvature];
        let abs_sums = series
            .each_ref()
            .map(|s| s.coeffs().iter().map(|a| a.abs()).sum());
        FullSeries {
            series,
            coeff_err: (ln_z.abs() + 100.0) * f64::EPSILON,
            abs_sums,
            source,
            d,
            exact: OnceLock::new(),
        }
    }

    /// The double-precision value of `phi^(order)` at `c`, if it is accurate to
    /// [`FAST_PATH_REL`].
    fn fast(&self, order: usize, c: f64) -> Option<f64> {
        let s = &self.series[order];
        let v = s.eval(c);
        if v.is_nan() || v.abs() < FAST_PATH_MIN {
            return None;
        }
        let scale =
            (8.0 * (s.degree() + 2) as f64 * f64::EPSILON + self.coeff_err) * self.abs_sums[order];
        if v.abs() * FAST_PATH_REL >= scale {
            return Some(v);
        }
        let terms = s.abs_sum(c);
        let bound = s.rounding_bound(c) + self.coeff_err * terms;
        (v.abs() * FAST_PATH_REL >= bound).then_some(v)
    }

    /// `phi^(order)(c)` exactly (`None` if the exact series cannot be built).
    fn exact(&self, order: usize, c: f64) -> Option<Extended> {
        let exact = self
            .exact
            .get_or_init(|| ExactSeries::new(self.d, &self.source));
        exact.as_ref().ok().map(|e| e.eval(order, c))
    }

    fn value(&self, order: usize, c: f64) -> f64 {
        if c.is_nan() {
            return c;
        }
        let c = c.clamp(-1.0, 1.0);
        match self.fast(order, c) {
            Some(v) => v,
            None => match self.exact(order, c) {
                Some(w) => w.to_f64(),
                None => self.series[order].eval(c),
            },
        }
    }

    fn extended(&self, order: usize, c: f64) -> Extended {
        let c = c.clamp(-1.0, 1.0);
        let fast = |v: f64| Extended::from_f64(v, FAST_PATH_REL);
        match self.fast(order, c) {
            Some(v) => fast(v),
            None => self
                .exact(order, c)
                .unwrap_or_else(|| fast(self.series[order].eval(c))),
        }
    }
}

fn check_dim(d: usize) -> Result<()> {
    if d < 2 {
        return Err(invalid("d", d, "a dimension d >= 2 (points on S^{d-1})"));
    }
    if d > MAX_DIM {
        return Err(invalid("d", d, &format!("a dimension d <= {MAX_DIM}")));
    }
    Ok(())
}

/// `ln(sum_i exp(v_i))`, robust to huge and `-inf` entries.
fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

impl Kernel {
    /// The heat kernel `w_l = exp(-t l (l + d - 2))`, truncated at the first degree
    /// whose remaining tail is below `1e-12` of `Z` ([`HEAT_TAIL_TOLERANCE`]).
    ///
    /// Paper defaults: `t = 5/d` for MMD and KSD, `t = 2/d` for KDE-KL.
    ///
    /// Errors: `d < 2`; `t` not finite and positive; `t` so large that the kernel is
    /// constant to within the tolerance; `t` so small that the series would need
    /// more than [`MAX_TERMS`] terms.
    ///
    /// ```
    /// use unisphere::Kernel;
    /// let k = Kernel::heat(3, 0.5)?;
    /// assert!(k.degree() >= 5);
    /// assert!(Kernel::heat(3, 0.0).is_err());
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn heat(d: usize, t: f64) -> Result<Kernel> {
        Kernel::heat_with_tolerance(d, t, HEAT_TAIL_TOLERANCE)
    }

    /// The heat kernel truncated where the dropped tail is below `tolerance * Z`
    /// (`1e-16 <= tolerance < 1`). A smaller tolerance costs a few more degrees and
    /// makes `phi` exact to the last bits; see [`Kernel::heat`].
    ///
    /// ```
    /// use unisphere::Kernel;
    /// let coarse = Kernel::heat_with_tolerance(64, 5.0 / 64.0, 1e-6)?;
    /// let fine = Kernel::heat_with_tolerance(64, 5.0 / 64.0, 1e-16)?;
    /// assert!(coarse.degree() < fine.degree());
    /// assert!((coarse.eval(0.3) - fine.eval(0.3)).abs() < 1e-6);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn heat_with_tolerance(d: usize, t: f64, tolerance: f64) -> Result<Kernel> {
        check_dim(d)?;
        if !(1e-16..1.0).contains(&tolerance) {
            return Err(invalid(
                "tolerance",
                tolerance,
                "a relative tail tolerance in [1e-16, 1)",
            ));
        }
        if !(t.is_finite() && t > 0.0) {
            return Err(invalid(
                "t",
                t,
                "a finite diffusion time t > 0 (paper: 5/d or 2/d)",
            ));
        }
        let df = d as f64;
        // ln T_l = ln N(d, l) - t lambda_l; the product t * lambda_l is formed exactly
        // (two-product) so that large exponents keep their last digits.
        let mut ln_terms: Vec<f64> = Vec::new();
        let mut peak = f64::NEG_INFINITY;
        for (l, ln_n) in LnHarmonicDimensions::new(d).enumerate() {
            if l >= MAX_TERMS {
                return Err(Error::TruncationLimit {
                    cap: MAX_TERMS,
                    hint: format!(
                        "the heat kernel with t = {t:e} in d = {d} is too narrow; use a larger t"
                    ),
                });
            }
            let lambda = l as f64 * (l as f64 + df - 2.0);
            let p = t * lambda;
            let e = t.mul_add(lambda, -p);
            let ln_t = (ln_n - p) - e;
            ln_terms.push(ln_t);
            peak = peak.max(ln_t);
            // Terms are log-concave in l: once past the peak and 1e-40 below it, the
            // rest of the tail is negligible even summed.
            if l > 1 && ln_t < peak - 92.0 && ln_t < ln_terms[l - 1] {
                break;
            }
        }
        let ln_z = log_sum_exp(&ln_terms);
        // Smallest L whose tail sum_{l > L} T_l < tol * Z.
        let mut tail = 0.0f64;
        let mut degree = ln_terms.len() - 1;
        for l in (1..ln_terms.len()).rev() {
            tail += (ln_terms[l] - ln_z).exp();
            if tail >= tolerance {
                break;
            }
            degree = l - 1;
        }
        if degree == 0 {
            return Err(invalid(
                "t",
                t,
                &format!(
                    "t small enough that the kernel is not constant (in d = {d}, t < {:.3e})",
                    -(tolerance / df).ln() / (df - 1.0)
                ),
            ));
        }
        let weights = (0..=degree)
            .map(|l| (-t * l as f64 * (l as f64 + df - 2.0)).exp())
            .collect();
        let full = FullSeries::new(d, &ln_terms, ExactSource::Heat(t));
        Ok(Kernel::from_ln_terms(
            d,
            KernelKind::Heat { t },
            weights,
            &ln_terms[..=degree],
            full,
        ))
    }

    /// The bandlimited kernel: `w_l = 1` for `l <= L`, 0 beyond.
    ///
    /// For `L = 2`: `phi(c) = ((d + 2) c^2 + 2c - 1)/(d + 3)`.
    ///
    /// ```
    /// use unisphere::Kernel;
    /// let k = Kernel::bandlimited(10, 2)?;
    /// let c: f64 = 0.3;
    /// assert!((k.eval(c) - (12.0 * c * c + 2.0 * c - 1.0) / 13.0).abs() < 1e-15);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn bandlimited(d: usize, l: usize) -> Result<Kernel> {
        check_dim(d)?;
        if l == 0 || l >= MAX_TERMS {
            return Err(invalid(
                "L",
                l,
                &format!("a degree 1 <= L < {MAX_TERMS} (L = 0 is a constant kernel)"),
            ));
        }
        let mut k = Kernel::from_weights(d, &vec![1.0; l + 1])?;
        k.kind = KernelKind::Bandlimited { degree: l };
        Ok(k)
    }

    /// A kernel from caller-given spectral weights `w[l] >= 0` (`w[0]` is the
    /// degree-0 weight). This covers every Sobolev test of uniformity.
    ///
    /// Errors: `d < 2`; empty, negative or non-finite weights; no positive weight of
    /// degree `>= 1` (a constant kernel); more than [`MAX_TERMS`] weights.
    ///
    /// ```
    /// use unisphere::Kernel;
    /// // Bandlimited L = 1 in d = 3: phi(c) = (1 + 3c)/4.
    /// let k = Kernel::from_weights(3, &[1.0, 1.0])?;
    /// assert!((k.eval(0.5) - 0.625).abs() < 1e-15);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn from_weights(d: usize, w: &[f64]) -> Result<Kernel> {
        check_dim(d)?;
        if w.is_empty() || w.len() > MAX_TERMS {
            return Err(invalid(
                "weights",
                format!("{} values", w.len()),
                &format!("between 1 and {MAX_TERMS} weights"),
            ));
        }
        if let Some((l, v)) = w
            .iter()
            .enumerate()
            .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
        {
            return Err(invalid(
                "weights",
                format!("w[{l}] = {v}"),
                "finite, non-negative weights",
            ));
        }
        let degree = match w.iter().rposition(|&v| v > 0.0) {
            Some(l) if l >= 1 => l,
            _ => {
                return Err(invalid(
                    "weights",
                    format!("{w:?}"),
                    "a positive weight at some degree l >= 1 (otherwise the kernel is constant)",
                ));
            }
        };
        let ln_terms: Vec<f64> = LnHarmonicDimensions::new(d)
            .zip(&w[..=degree])
            .map(|(ln_n, &wl)| {
                if wl > 0.0 {
                    wl.ln() + ln_n
                } else {
                    f64::NEG_INFINITY
                }
            })
            .collect();
        if !log_sum_exp(&ln_terms).is_finite() {
            return Err(invalid(
                "weights",
                "(too large)",
                "weights whose sum Z is finite in log space",
            ));
        }
        let full = FullSeries::new(d, &ln_terms, ExactSource::Weights(w[..=degree].to_vec()));
        Ok(Kernel::from_ln_terms(
            d,
            KernelKind::Custom,
            w[..=degree].to_vec(),
            &ln_terms,
            full,
        ))
    }

    /// The kernel induced by SUSReg in the limit `T -> infinity` of its integrated
    /// twin (the seed paper's `k-bar`): `phi(c) = 1F1(1/2; d/2; -d (1 - c))`
    /// (`~ (3 - 2c)^{-1/2}` in high `d`; `0.4464` at `c = -1`, `d = 256`).
    ///
    /// Its Gegenbauer coefficients `a_l = N(d, l) integral phi P_l rho_d` (so
    /// `C_b = a_0`, the mean against `rho_d`) are computed by Gauss quadrature after
    /// `l` integrations by parts (Rodrigues' formula), which turns them into means of
    /// `phi^{(l)} = d^l (1/2)_l/(d/2)_l 1F1(1/2 + l; d/2 + l; -d(1 - c))` against
    /// `rho_{d+2l}`: positive integrands, so every coefficient keeps full relative
    /// accuracy. The series stops where they fall below `1e-17`.
    ///
    /// ```
    /// use unisphere::Kernel;
    /// let k = Kernel::susreg_induced(256)?;
    /// assert!((k.eval(-1.0) - 0.4464).abs() < 1e-4);
    /// assert!((k.eval(1.0) - 1.0).abs() < 1e-13);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn susreg_induced(d: usize) -> Result<Kernel> {
        check_dim(d)?;
        const CAP: usize = 2000;
        let df = d as f64;
        let ln_b0 = ln_beta_half((df - 1.0) / 2.0);
        let mut ln_terms = Vec::new();
        let mut ln_dims = Vec::new();
        // Running log of the l-dependent constant:
        // -l ln 2 - ln((d-1)/2)_l + l ln d + ln(1/2)_l - ln(d/2)_l.
        let mut ln_const = 0.0;
        for (l, ln_n) in LnHarmonicDimensions::new(d).enumerate().take(CAP) {
            let lf = l as f64;
            if l > 0 {
                let k = lf - 1.0;
                ln_const += -std::f64::consts::LN_2 - ((df - 1.0) / 2.0 + k).ln()
                    + df.ln()
                    + (0.5 + k).ln()
                    - (df / 2.0 + k).ln();
            }
            let dim = d + 2 * l;
            let mean: f64 = uniform_marginal_rule(dim, 160)
                .iter()
                .map(|(c, w)| w * hyp1f1_kummer(0.5 + lf, 0.5 * df + lf, df * (1.0 - c)))
                .sum();
            let ln_a =
                ln_n + ln_beta_half((df + 2.0 * lf - 1.0) / 2.0) - ln_b0 + ln_const + mean.ln();
            ln_terms.push(ln_a);
            ln_dims.push(ln_n);
            if l >= 2 && ln_a < (1e-17f64).ln() && ln_terms[l - 1] < (1e-17f64).ln() {
                // w_l = a_l Z / N(d, l), with w_0 = 1.
                let weights = ln_terms
                    .iter()
                    .zip(&ln_dims)
                    .map(|(ln_a, ln_n)| (ln_a - ln_n - ln_terms[0]).exp())
                    .collect();
                let ln_z = log_sum_exp(&ln_terms);
                let coeffs = ln_terms.iter().map(|v| (v - ln_z).exp()).collect();
                let full = FullSeries::new(d, &ln_terms, ExactSource::Coefficients(coeffs));
                return Ok(Kernel::from_ln_terms(
                    d,
                    KernelKind::SusregInduced,
                    weights,
                    &ln_terms,
                    full,
                ));
            }
        }
        Err(Error::TruncationLimit {
            cap: CAP,
            hint: format!("the induced kernel's series in d = {d} does not converge"),
        })
    }

    /// Builds the truncated series from `ln(w_l N(d, l))`; `full` is the whole kernel.
    fn from_ln_terms(
        d: usize,
        kind: KernelKind,
        weights: Vec<f64>,
        ln_terms: &[f64],
        full: FullSeries,
    ) -> Kernel {
        let ln_z = log_sum_exp(ln_terms);
        let coeffs = ln_terms.iter().map(|v| (v - ln_z).exp()).collect();
        Kernel {
            d,
            kind,
            weights,
            ln_z,
            phi: GegenbauerSeries::new(d as f64, coeffs),
            full: Arc::new(full),
        }
    }

    /// The dimension `d` of the ambient space (points on `S^{d-1}`).
    pub fn dim(&self) -> usize {
        self.d
    }

    /// Which filter built this kernel.
    pub fn kind(&self) -> KernelKind {
        self.kind
    }

    /// The highest degree `L` kept in the series (after automatic truncation for heat).
    pub fn degree(&self) -> usize {
        self.phi.degree()
    }

    /// The normaliser `Z = sum_l w_l N(d, l)` of the truncated series
    /// ([`Kernel::series`]; may be `inf` where only [`Kernel::ln_z`] is finite).
    pub fn z(&self) -> f64 {
        self.ln_z.exp()
    }

    /// `ln Z`, finite even where `Z` overflows.
    pub fn ln_z(&self) -> f64 {
        self.ln_z
    }

    /// The spectral weights `w_l` actually used (`w.len() == degree() + 1`).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The mean of the truncated series against the uniform measure,
    /// `integral phi rho_d = w_0 / Z` (the uniform-uniform term `C_b` of the MMD).
    pub fn uniform_mean(&self) -> f64 {
        self.phi.coeffs()[0]
    }

    /// The series `phi(c) = sum_l a_l P_l(d; c)` with `a_l = w_l N(d, l)/Z`.
    pub fn series(&self) -> &GegenbauerSeries {
        &self.phi
    }

    /// `phi(c)` to full relative accuracy (the infinite series for heat kernels);
    /// `c` is clamped to `[-1, 1]`. Where `phi` is below `f64`'s range this is 0:
    /// use [`Kernel::ln_eval`].
    ///
    /// ```
    /// use unisphere::Kernel;
    /// // d = 2048, t = 2/d: phi(0) = 6e-112, where the series cancels 112 digits.
    /// let k = Kernel::heat(2048, 2.0 / 2048.0)?;
    /// assert!(k.eval(0.0) > 0.0 && k.eval(0.0) < 1e-100);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn eval(&self, c: f64) -> f64 {
        self.full.value(0, c)
    }

    /// `phi'(c)` to full relative accuracy; `c` is clamped to `[-1, 1]`.
    pub fn eval_d1(&self, c: f64) -> f64 {
        self.full.value(1, c)
    }

    /// `phi''(c)` to full relative accuracy; `c` is clamped to `[-1, 1]`.
    pub fn eval_d2(&self, c: f64) -> f64 {
        self.full.value(2, c)
    }

    /// `ln |phi(c)|`, finite where `phi` underflows `f64` (`-inf` only where `phi`
    /// is zero); `c` is clamped to `[-1, 1]`. Heat kernels are positive, so this is
    /// `ln phi`. A NaN `c` gives NaN.
    ///
    /// ```
    /// use unisphere::Kernel;
    /// // d = 4096, t = 2/d: phi(-1) ~ 1e-550 is far below the smallest f64.
    /// let k = Kernel::heat(4096, 2.0 / 4096.0)?;
    /// assert_eq!(k.eval(-1.0), 0.0);
    /// let ln = k.ln_eval(-1.0);
    /// assert!(ln.is_finite() && ln < -1000.0);
    /// assert!((k.ln_eval(0.5) - k.eval(0.5).ln()).abs() < 1e-10);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn ln_eval(&self, c: f64) -> f64 {
        if c.is_nan() {
            return c;
        }
        self.full.extended(0, c).ln_abs()
    }

    /// `(ln |phi'(c)|, sign of phi'(c))`, finite where `phi'` underflows `f64`;
    /// `c` is clamped to `[-1, 1]`.
    pub fn ln_eval_d1(&self, c: f64) -> (f64, f64) {
        if c.is_nan() {
            return (c, c);
        }
        let w = self.full.extended(1, c);
        (w.ln_abs(), w.sign())
    }

    /// The log-derivative `phi'(c) / phi(c)` (finite wherever `phi(c) != 0`, also
    /// where both underflow `f64`); `c` is clamped to `[-1, 1]`.
    pub fn log_slope(&self, c: f64) -> f64 {
        if c.is_nan() {
            return c;
        }
        let (v, s) = (self.full.extended(0, c), self.full.extended(1, c));
        s.ratio(v).to_f64()
    }

    /// `phi`, `phi'` or `phi''` (`order` 0, 1, 2) at `c` as an extended-range value with its
    /// relative error bound.
    pub(crate) fn extended(&self, order: usize, c: f64) -> Extended {
        self.full.extended(order.min(2), c)
    }
}

/// A short description of a kernel for names and tables, e.g. `"heat t=0.0195"`.
pub(crate) fn describe(k: &Kernel) -> String {
    match k.kind() {
        KernelKind::Heat { t } => format!("heat t={t:.4}"),
        KernelKind::Bandlimited { degree } => format!("band L={degree}"),
        KernelKind::Custom => format!("custom L={}", k.degree()),
        KernelKind::SusregInduced => "SUSReg-induced".to_string(),
    }
}
