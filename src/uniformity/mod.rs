//! Tests of uniformity on the sphere with p-values: the Sobolev class, with the
//! statistics, normalisations and diagonal conventions of the R package `sphunif`.
//!
//! Every test statistic is `S_n = (1/n) sum_{i,j} psi(x_i . x_j)` of the normalised
//! rows, with a zonal kernel `psi(c) = sum_{k >= 1} v_k^2 N(d, k) P_k(d; c)`; the
//! Poisson and softmax tests leave out the diagonal `i = j` (as `sphunif` does), the
//! others include it. Under uniformity `S_n` converges to
//! `sum_k v_k^2 chi^2_{N(d,k)}` (centred by `-psi(1)` without the diagonal). The
//! asymptotic p-value inverts that distribution's characteristic function; the
//! Monte Carlo p-value recomputes the statistic on seeded uniform samples.
//!
//! | constructor | kernel `psi(theta)` |
//! |---|---|
//! | [`UniformityTest::rayleigh`] | `d cos theta` (`n d |mean x|^2`) |
//! | [`UniformityTest::bingham`] | `d (d+2)/2 (cos^2 theta - 1/d)` |
//! | [`UniformityTest::ajne`] | `1/4 - theta/(2 pi)` |
//! | [`UniformityTest::gine_gn`] | `1/2 - (d-1)/4 (Gamma((d-1)/2)/Gamma(d/2))^2 sin theta` |
//! | [`UniformityTest::gine_fn`] | `4 Ajne + Gn` |
//! | [`UniformityTest::bakshaev`], [`UniformityTest::riesz`] | `E|x - y|^s - |x - y|^s` |
//! | [`UniformityTest::pcvm`], [`UniformityTest::pad`], [`UniformityTest::prt`] | projected-ecdf Cramér–von Mises, Anderson–Darling, Rothman |
//! | [`UniformityTest::poisson`] | `((1-rho)/sqrt(1 - 2 rho cos theta + rho^2))^d - E` (no diagonal) |
//! | [`UniformityTest::softmax`] | `exp(kappa (cos theta - 1)) - E` (no diagonal) |
//! | [`UniformityTest::sobolev`], [`UniformityTest::from_kernel`] | `sum_k v_k^2 N(d,k) P_k(cos theta)` |
//!
//! ```
//! use unisphere::{ndarray::Array2, uniformity::UniformityTest};
//! // 40 points clustered around the first axis: strongly non-uniform.
//! let z = Array2::from_shape_fn((40, 3), |(i, j)| if j == 0 { 3.0 } else { ((i * 7 + j * 3) % 5) as f64 - 2.0 });
//! let result = UniformityTest::pcvm().run(z.view())?;
//! assert!(result.p_value < 1e-6);
//! # Ok::<(), unisphere::Error>(())
//! ```

mod chisq;
mod family;
mod kernels;
mod monte_carlo;
mod null;
mod projected;
mod quadrature;
mod statistic;

use crate::error::{Result, invalid};
use crate::kernel::{Kernel, describe};
use crate::numerics::MAX_DIM;
use crate::real::Real;
use crate::rows::{SphereRows, check_input};
use crate::shard::Shard;
use family::Family;
use ndarray::ArrayView2;
use null::NullDistribution;
use statistic::StatisticKernel;
use std::sync::{Arc, Mutex, OnceLock};

/// How a p-value was obtained.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum PValueMethod {
    /// From the limit distribution `sum_k v_k^2 chi^2_{N(d,k)}`, truncated after
    /// Sobolev degree `degree` (the rest replaced by one moment-matched term), with
    /// `terms` chi-square terms in all.
    Asymptotic {
        /// The highest Sobolev degree kept.
        degree: usize,
        /// The number of chi-square terms used.
        terms: usize,
    },
    /// From `replicates` uniform samples of the same size, generated from `seed`:
    /// `(1 + #{T_r >= T}) / (replicates + 1)`.
    MonteCarlo {
        /// Number of uniform samples.
        replicates: usize,
        /// Seed of the generators.
        seed: u64,
    },
}

/// The outcome of a test of uniformity.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    /// The test's name, e.g. `"PCvM"` or `"Riesz s=0.5"`.
    pub test: String,
    /// Number of points.
    pub n: usize,
    /// Dimension of the ambient space (points on `S^{d-1}`).
    pub d: usize,
    /// The statistic, as `sphunif` defines it.
    pub statistic: f64,
    /// The p-value (small values reject uniformity).
    pub p_value: f64,
    /// How the p-value was obtained.
    pub method: PValueMethod,
}

/// A test of uniformity on `S^{d-1}`: a statistic and a way to get its p-value.
///
/// Build one with a named constructor, optionally switch to Monte Carlo p-values,
/// then [`run`](UniformityTest::run) it on raw rows (normalised inside). The
/// dimension-dependent set-up (kernel tables, Sobolev weights) is cached for the
/// last dimension seen.
///
/// ```
/// use unisphere::{ndarray::Array2, uniformity::{PValueMethod, UniformityTest}};
/// let z = Array2::from_shape_fn((50, 4), |(i, j)| ((i * 13 + j * 7) % 11) as f64 - 5.0);
/// let asymptotic = UniformityTest::rayleigh().run(z.view())?;
/// assert!(matches!(asymptotic.method, PValueMethod::Asymptotic { .. }));
/// let mc = UniformityTest::rayleigh().monte_carlo(200, 7)?.run(z.view())?;
/// assert_eq!(mc.statistic, asymptotic.statistic);
/// assert!(matches!(mc.method, PValueMethod::MonteCarlo { replicates: 200, seed: 7 }));
/// # Ok::<(), unisphere::Error>(())
/// ```
pub struct UniformityTest {
    family: Family,
    monte_carlo: Option<(usize, u64)>,
    cache: Mutex<Option<Arc<Prepared>>>,
}

impl Clone for UniformityTest {
    fn clone(&self) -> Self {
        UniformityTest::new(self.family.clone()).with_method(self.monte_carlo)
    }
}

impl std::fmt::Debug for UniformityTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UniformityTest")
            .field("test", &self.family.name())
            .field("monte_carlo", &self.monte_carlo)
            .finish()
    }
}

/// The most Monte Carlo replicates allowed.
pub const MAX_REPLICATES: usize = 100_000_000;

/// A test set up for one dimension.
#[derive(Debug)]
struct Prepared {
    d: usize,
    kernel: StatisticKernel,
    diagonal: bool,
    psi1: f64,
    family: Family,
    null: OnceLock<Result<NullDistribution>>,
}

impl Prepared {
    /// The statistic of raw rows `z` (checked, normalised).
    fn statistic<F: Real>(&self, z: ArrayView2<F>) -> Result<f64> {
        check_input(&z, 2, Some(self.d))?;
        let (mut x, mut norms) = (Vec::<F>::new(), Vec::new());
        let rows = SphereRows::new(&z, &mut x, &mut norms)?;
        Ok(self.kernel.mean(rows.x, self.diagonal, self.psi1))
    }

    /// This shard's part of the statistic of the gathered rows.
    fn statistic_share<F: Real>(
        &self,
        all: ArrayView2<F>,
        local: std::ops::Range<usize>,
    ) -> Result<f64> {
        check_input(&all, 2, Some(self.d))?;
        let (mut x, mut norms) = (Vec::<F>::new(), Vec::new());
        let rows = SphereRows::new(&all, &mut x, &mut norms)?;
        Ok(self
            .kernel
            .mean_share(rows.x, local, self.diagonal, self.psi1))
    }

    fn null(&self) -> Result<&NullDistribution> {
        self.null
            .get_or_init(|| NullDistribution::new(&self.family, self.d, self.psi1, self.diagonal))
            .as_ref()
            .map_err(Clone::clone)
    }
}

fn check_open_unit(name: &'static str, v: f64, what: &str) -> Result<()> {
    if v.is_finite() && v > 0.0 && v < 1.0 {
        Ok(())
    } else {
        Err(invalid(name, v, what))
    }
}

impl UniformityTest {
    fn new(family: Family) -> Self {
        UniformityTest {
            family,
            monte_carlo: None,
            cache: Mutex::new(None),
        }
    }

    fn with_method(mut self, monte_carlo: Option<(usize, u64)>) -> Self {
        self.monte_carlo = monte_carlo;
        self
    }

    /// Rayleigh's test: `n d |mean x|^2` (Sobolev weights `v = (1)`).
    ///
    /// ```
    /// use unisphere::{ndarray::array, uniformity::UniformityTest};
    /// let x = array![[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]];
    /// let r = UniformityTest::rayleigh().run(x.view())?;
    /// assert!(r.statistic.abs() < 1e-12 && (r.p_value - 1.0).abs() < 1e-12);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn rayleigh() -> Self {
        UniformityTest::new(Family::Rayleigh)
    }

    /// Bingham's test: `n d (d+2)/2 (tr(S^2) - 1/d)`, `S` the second moment
    /// (Sobolev weights `v = (0, 1)`).
    ///
    /// ```
    /// use unisphere::{ndarray::array, uniformity::UniformityTest};
    /// let x = array![[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [1.0, 0.1, 0.0]];
    /// assert!(UniformityTest::bingham().run(x.view())?.statistic > 5.0);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn bingham() -> Self {
        UniformityTest::new(Family::Bingham)
    }

    /// Ajne's test: `psi(theta) = 1/4 - theta/(2 pi)` (the Rothman test at `t = 1/2`).
    ///
    /// ```
    /// use unisphere::{ndarray::array, uniformity::UniformityTest};
    /// let x = array![[1.0, 0.0], [-1.0, 0.0]];
    /// // (1/2) (2 psi(0) + 2 psi(pi)) = 1/4 - 1/4 = 0.
    /// assert!(UniformityTest::ajne().statistic(x.view())?.abs() < 1e-12);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn ajne() -> Self {
        UniformityTest::new(Family::Ajne)
    }

    /// Giné's `G_n`: `psi(theta) = 1/2 - (d-1)/4 (Gamma((d-1)/2)/Gamma(d/2))^2 sin theta`
    /// (even Sobolev degrees only: an axial test).
    ///
    /// ```
    /// use unisphere::{ndarray::array, uniformity::UniformityTest};
    /// let x = array![[1.0, 0.0], [-1.0, 0.0]];
    /// // Antipodal points: sin theta = 0, so G_n = psi(0) = 1/2 * 2 = 1.
    /// assert!((UniformityTest::gine_gn().statistic(x.view())? - 1.0).abs() < 1e-12);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn gine_gn() -> Self {
        UniformityTest::new(Family::GineGn)
    }

    /// Giné's `F_n = 4 A_n + G_n` (Ajne plus Giné's `G_n`).
    ///
    /// ```
    /// use unisphere::{ndarray::array, uniformity::UniformityTest};
    /// let x = array![[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    /// let (a, g, f) = (UniformityTest::ajne(), UniformityTest::gine_gn(), UniformityTest::gine_fn());
    /// let want = 4.0 * a.statistic(x.view())? + g.statistic(x.view())?;
    /// assert!((f.statistic(x.view())? - want).abs() < 1e-12);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn gine_fn() -> Self {
        UniformityTest::new(Family::GineFn)
    }

    /// Bakshaev's test: the Riesz test with `s = 1`, `psi = E|x - y| - |x - y|`
    /// (in `d = 3` it is 8 times the PCvM statistic).
    ///
    /// ```
    /// use unisphere::{ndarray::array, uniformity::UniformityTest};
    /// let x = array![[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]];
    /// let b = UniformityTest::bakshaev().statistic(x.view())?;
    /// let p = UniformityTest::pcvm().statistic(x.view())?;
    /// assert!((b - 8.0 * p).abs() < 1e-12);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn bakshaev() -> Self {
        UniformityTest::new(Family::Riesz(1.0))
    }

    /// The Riesz test: `psi = E|x - y|^s - |x - y|^s`, `0 < s < 2`
    /// (`s = 2` is Rayleigh's test up to a factor).
    ///
    /// ```
    /// use unisphere::uniformity::UniformityTest;
    /// assert!(UniformityTest::riesz(0.5).is_ok());
    /// assert!(UniformityTest::riesz(2.0).is_err());
    /// ```
    pub fn riesz(s: f64) -> Result<Self> {
        if !(s.is_finite() && s > 0.0 && s < 2.0) {
            return Err(invalid("s", s, "a Riesz exponent 0 < s < 2"));
        }
        Ok(UniformityTest::new(Family::Riesz(s)))
    }

    /// The projected Cramér–von Mises test (García-Portugués, Navarro-Esteban and
    /// Cuesta-Albertos, 2023): the Cramér–von Mises distance of the projected ecdf,
    /// averaged over all directions. Its kernel is computed to about `1e-13` in every
    /// dimension.
    ///
    /// ```
    /// use unisphere::{ndarray::array, uniformity::UniformityTest};
    /// let x = array![[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0], [-1.0, 2.0, 0.5]];
    /// let s = UniformityTest::pcvm().statistic(x.view())?;
    /// assert!((s - 0.2550411163).abs() < 1e-10);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn pcvm() -> Self {
        UniformityTest::new(Family::Pcvm)
    }

    /// The projected Anderson–Darling test.
    ///
    /// ```
    /// use unisphere::{ndarray::array, uniformity::UniformityTest};
    /// let x = array![[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]];
    /// assert!(UniformityTest::pad().run(x.view())?.p_value > 0.05);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn pad() -> Self {
        UniformityTest::new(Family::Pad)
    }

    /// The projected Rothman test with parameter `0 < t < 1` (`t` and `1 - t` give the
    /// same test; `sphunif`'s default is `t = 1/3`, and `t = 1/2` is Ajne's test).
    ///
    /// ```
    /// use unisphere::{ndarray::array, uniformity::UniformityTest};
    /// let x = array![[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, -1.0, 0.2]];
    /// let a = UniformityTest::prt(1.0 / 3.0)?.statistic(x.view())?;
    /// let b = UniformityTest::prt(2.0 / 3.0)?.statistic(x.view())?;
    /// assert!((a - b).abs() < 1e-12);
    /// assert!(UniformityTest::prt(1.0).is_err());
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn prt(t: f64) -> Result<Self> {
        check_open_unit("t", t, "a Rothman parameter 0 < t < 1")?;
        Ok(UniformityTest::new(Family::Prt(t)))
    }

    /// The Poisson-kernel test with `0 < rho < 1`; a U-statistic (no diagonal).
    ///
    /// ```
    /// use unisphere::uniformity::UniformityTest;
    /// assert!(UniformityTest::poisson(0.5).is_ok());
    /// assert!(UniformityTest::poisson(1.0).is_err());
    /// ```
    pub fn poisson(rho: f64) -> Result<Self> {
        check_open_unit("rho", rho, "a Poisson-kernel parameter 0 < rho < 1")?;
        Ok(UniformityTest::new(Family::Poisson(rho)))
    }

    /// The softmax test, kernel `exp(kappa (c - 1))`, `0 < kappa <= 10^4`; a
    /// U-statistic (no diagonal).
    ///
    /// ```
    /// use unisphere::uniformity::UniformityTest;
    /// assert!(UniformityTest::softmax(1.0).is_ok());
    /// assert!(UniformityTest::softmax(-1.0).is_err());
    /// ```
    pub fn softmax(kappa: f64) -> Result<Self> {
        if !(kappa.is_finite() && kappa > 0.0 && kappa <= 1e4) {
            return Err(invalid(
                "kappa",
                kappa,
                "a softmax concentration 0 < kappa <= 1e4",
            ));
        }
        Ok(UniformityTest::new(Family::Softmax(kappa)))
    }

    /// The finite Sobolev test with weights `vk2 = [v_1^2, v_2^2, ...]` (`sphunif`'s
    /// `Sobolev_vk2`): `psi = sum_k v_k^2 N(d, k) P_k`. Weights must be finite,
    /// non-negative, not all zero, and at most [`crate::kernel::MAX_TERMS`].
    ///
    /// ```
    /// use unisphere::{ndarray::array, uniformity::UniformityTest};
    /// let x = array![[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]];
    /// // v = (1) is Rayleigh's test.
    /// let s = UniformityTest::sobolev(&[1.0])?.statistic(x.view())?;
    /// assert!((s - UniformityTest::rayleigh().statistic(x.view())?).abs() < 1e-12);
    /// assert!(UniformityTest::sobolev(&[0.0, -1.0]).is_err());
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn sobolev(vk2: &[f64]) -> Result<Self> {
        let w = Family::checked_weights(vk2)?;
        let name = format!("Sobolev K={}", w.len());
        Ok(UniformityTest::new(Family::Sobolev(w, name)))
    }

    /// The Sobolev test of one of this crate's kernels (heat, bandlimited, custom):
    /// `v_k^2 = w_k` for `k >= 1`, so the statistic is `n Z` times the kernel's raw
    /// MMD. The test only accepts points of the kernel's dimension.
    ///
    /// ```
    /// use unisphere::{Kernel, ndarray::Array2, uniformity::UniformityTest};
    /// let d = 8;
    /// let test = UniformityTest::from_kernel(&Kernel::heat(d, 5.0 / d as f64)?)?;
    /// let z = Array2::from_shape_fn((30, d), |(i, j)| ((i * 5 + j * 3) % 7) as f64 - 3.0);
    /// let r = test.run(z.view())?;
    /// assert!(r.p_value >= 0.0 && r.p_value <= 1.0);
    /// assert!(test.run(Array2::<f64>::ones((5, 3)).view()).is_err());
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn from_kernel(kernel: &Kernel) -> Result<Self> {
        let w = Family::checked_weights(&kernel.weights()[1..])?;
        Ok(UniformityTest::new(Family::Kernel(
            kernel.dim(),
            w,
            describe(kernel),
        )))
    }

    /// Switches to Monte Carlo p-values from `replicates` uniform samples (at least
    /// 1, at most [`MAX_REPLICATES`]), generated in parallel and reproducibly from `seed`.
    ///
    /// ```
    /// use unisphere::{ndarray::Array2, uniformity::UniformityTest};
    /// let z = Array2::from_shape_fn((20, 3), |(i, j)| ((i * 3 + j * 5) % 7) as f64 - 3.0);
    /// let test = UniformityTest::ajne().monte_carlo(100, 42)?;
    /// assert_eq!(test.run(z.view())?.p_value, test.run(z.view())?.p_value);
    /// assert!(UniformityTest::ajne().monte_carlo(0, 1).is_err());
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn monte_carlo(self, replicates: usize, seed: u64) -> Result<Self> {
        if replicates == 0 || replicates > MAX_REPLICATES {
            return Err(invalid(
                "replicates",
                replicates,
                &format!("between 1 and {MAX_REPLICATES} Monte Carlo replicates"),
            ));
        }
        Ok(self.with_method(Some((replicates, seed))))
    }

    /// Switches (back) to asymptotic p-values, the default.
    ///
    /// ```
    /// use unisphere::uniformity::UniformityTest;
    /// let test = UniformityTest::pcvm().monte_carlo(10, 1)?.asymptotic();
    /// assert!(format!("{test:?}").contains("None"));
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn asymptotic(self) -> Self {
        self.with_method(None)
    }

    /// The test's name, e.g. `"PCvM"`.
    ///
    /// ```
    /// use unisphere::uniformity::UniformityTest;
    /// assert_eq!(UniformityTest::prt(0.25)?.name(), "PRt t=0.25");
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn name(&self) -> String {
        self.family.name()
    }

    fn prepare(&self, d: usize) -> Result<Arc<Prepared>> {
        if let Some(p) = self.cache.lock().ok().and_then(|c| c.clone())
            && p.d == d
        {
            return Ok(p);
        }
        let (kernel, diagonal, psi1) = self.family.statistic_kernel(d)?;
        let p = Arc::new(Prepared {
            d,
            kernel,
            diagonal,
            psi1,
            family: self.family.clone(),
            null: OnceLock::new(),
        });
        if let Ok(mut c) = self.cache.lock() {
            *c = Some(p.clone());
        }
        Ok(p)
    }

    /// The statistic of the rows of `z` (normalised inside; `n >= 2`, `d >= 2`).
    ///
    /// ```
    /// use unisphere::{ndarray::array, uniformity::UniformityTest};
    /// let x = array![[1.0f32, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]];
    /// let s = UniformityTest::rayleigh().statistic(x.view())?;
    /// assert!((s - 3.0).abs() < 1e-6); // n d |mean|^2 = 3 * 3 * (1/3)
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn statistic<F: Real>(&self, z: ArrayView2<F>) -> Result<f64> {
        check_input(&z, 2, self.family.dim())?;
        self.prepare(z.ncols())?.statistic(z)
    }

    /// This rank's share of the statistic of a batch sharded over ranks (see
    /// [`shard`](crate::shard)): the gathered rows, this rank's among them. The
    /// shares of all ranks sum to [`statistic`](Self::statistic) of the whole batch
    /// (to rounding); [`p_value`](Self::p_value) of the sum, with the whole batch's
    /// `N` and `d`, is then the same on every rank and for any number of ranks (a
    /// Monte Carlo p-value is seeded: every rank draws the same replicates). Work
    /// `O(N_r N d)` per rank, the degree-2 tests (Rayleigh, Bingham) included.
    ///
    /// ```
    /// use unisphere::{ndarray::Array2, shard::Shard, uniformity::UniformityTest};
    /// let z = Array2::from_shape_fn((60, 4), |(i, j)| ((i * 13 + j * 7) % 11) as f64 - 5.0);
    /// let test = UniformityTest::pcvm();
    /// let whole = test.run(z.view())?;
    /// let shares: f64 = [0..1, 1..25, 25..60]
    ///     .into_iter()
    ///     .map(|r| test.shard_statistic(&Shard::new(z.view(), r)?))
    ///     .sum::<Result<f64, _>>()?;
    /// assert!((shares - whole.statistic).abs() < 1e-12 * whole.statistic.abs());
    /// let (p, _) = test.p_value(shares, 60, 4)?;
    /// assert!((p - whole.p_value).abs() < 1e-10);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn shard_statistic<F: Real>(&self, shard: &Shard<F>) -> Result<f64> {
        let all = shard.all_rows("a test of uniformity")?;
        check_input(&all, 2, self.family.dim())?;
        self.prepare(all.ncols())?
            .statistic_share(all, shard.local_range())
    }

    /// The p-value of a statistic of `n` points in dimension `d`, and how it was
    /// obtained (asymptotic, or Monte Carlo with this test's replicates and seed).
    ///
    /// ```
    /// use unisphere::uniformity::UniformityTest;
    /// // Rayleigh's statistic is asymptotically chi^2_d.
    /// let (p, _) = UniformityTest::rayleigh().p_value(7.814727903251178, 100, 3)?;
    /// assert!((p - 0.05).abs() < 1e-12);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn p_value(&self, statistic: f64, n: usize, d: usize) -> Result<(f64, PValueMethod)> {
        if !statistic.is_finite() {
            return Err(invalid("statistic", statistic, "a finite statistic"));
        }
        if n < 2 {
            return Err(crate::error::Error::TooFewPoints { n, min: 2 });
        }
        if !(2..=MAX_DIM).contains(&d) || self.family.dim().is_some_and(|k| k != d) {
            return Err(invalid(
                "d",
                d,
                "the dimension of the points (2 <= d <= 2^24; a kernel's own d)",
            ));
        }
        let prepared = self.prepare(d)?;
        self.p_value_prepared(&prepared, statistic, n)
    }

    fn p_value_prepared(
        &self,
        prepared: &Prepared,
        statistic: f64,
        n: usize,
    ) -> Result<(f64, PValueMethod)> {
        Ok(match self.monte_carlo {
            Some((replicates, seed)) => (
                monte_carlo::p_value(prepared, n, statistic, replicates, seed)?,
                PValueMethod::MonteCarlo { replicates, seed },
            ),
            None => {
                let null = prepared.null()?;
                (
                    null.upper_tail(statistic)?,
                    PValueMethod::Asymptotic {
                        degree: null.degree,
                        terms: null.terms(),
                    },
                )
            }
        })
    }

    /// Runs the test on the rows of `z` (normalised inside; `n >= 2`, `d >= 2`,
    /// finite entries, no zero row).
    ///
    /// ```
    /// use unisphere::{ndarray::Array2, uniformity::UniformityTest};
    /// let z = Array2::from_shape_fn((100, 5), |(i, j)| (((i + 1) * (j + 2) * 7919) % 101) as f64 - 50.0);
    /// let r = UniformityTest::softmax(2.0)?.run(z.view())?;
    /// assert_eq!((r.n, r.d), (100, 5));
    /// assert!(UniformityTest::softmax(2.0)?.run(Array2::<f64>::zeros((4, 3)).view()).is_err());
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn run<F: Real>(&self, z: ArrayView2<F>) -> Result<TestResult> {
        check_input(&z, 2, self.family.dim())?;
        let (n, d) = z.dim();
        let prepared = self.prepare(d)?;
        let statistic = prepared.statistic(z)?;
        let (p_value, method) = self.p_value_prepared(&prepared, statistic, n)?;
        Ok(TestResult {
            test: self.family.name(),
            n,
            d,
            statistic,
            p_value,
            method,
        })
    }
}
