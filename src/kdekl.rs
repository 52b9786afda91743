//! The leave-one-out kernel-density estimate of the KL divergence to the uniform
//! distribution on the sphere.

use crate::engine::{
    KeptPairs, PairRequest, PairRows, RowSet, pair_sums, pair_sums_keep, reweigh_into,
};
use crate::error::{Error, Result, invalid};
use crate::kernel::{Kernel, KernelKind};
use crate::plan::{LogDensityPlan, Plan, PlanTable, Planned};
use crate::real::Real;
use crate::regularizer::{GradientSink, Objective, Scale};
use crate::rows::{SphereRows, check_input, check_shape};
use crate::shard::{Exchange, Shard, ShardResult, Sharded, check_exchanged};
use crate::table::{Accuracy, Table};
use crate::workspace::{Buffers, Workspace, zeroed};
use crate::zonal::{Tabulated, ZonalFunction};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

/// The KDE-KL objective with a positive zonal kernel `phi`:
/// `A = mean_i ln q_i`, `q_i = 1/(N-1) sum_{j != i} phi(c_ij)` (leave one out).
///
/// - raw scale: `A + ln Z`, the KL estimate of the KDE to the uniform distribution
///   (0 for a perfectly uniform sample in the limit, `ln Z` at collapse);
/// - paper scale ([`KdeKl::new`], [`KdeKl::heat`]): `(A - ln|S^{d-1}|) / (-ln|S^{d-1}|)`,
///   collapse = 1; defined only for `d >= 19` (below, `ln|S^{d-1}| > 0` flips the
///   sign). [`KdeKl::raw`] is the constructor below `d = 19`.
///
/// `KdeKl::new(kernel)?.with_scale(scale)` is the builder chain of the crate's other
/// objectives, so `new` and `with_scale` accept the paper scale at any `d`; below
/// `d = 19` every call then is an error that names [`Scale::Raw`]. [`KdeKl::heat`],
/// the paper's setting, refuses `d < 19` when it is built.
///
/// The gradient takes two passes of the pairwise engine (row sums `q_i`, then the
/// weights `W_ij = phi'(c_ij)(1/q_i + 1/q_j)/(N(N-1))`). Up to N = 1329 rows (`2^20`
/// pairs) the first pass keeps every pair's kernel value and slope (16 MiB at most,
/// reused from call to call), so the second needs no Gram matrix and no kernel
/// evaluation; above, no `N x N` matrix is held.
/// The KDE needs small kernel values to full relative accuracy, so the kernel is
/// tabulated from its exact values ([`Kernel::eval`]). Where its smallest value is
/// below `1e-200` (heat kernels at `t = 2/d` from `d ~ 1500` on), everything runs in
/// the log domain: the table holds `ln phi` and `phi'/phi`, each `ln q_i` is a
/// log-sum-exp over the pairs, and `W_ij = (phi'/phi)(c_ij) (exp(ln phi_ij - ln q_i) +
/// exp(ln phi_ij - ln q_j)) / (N(N-1))`, so no density underflows at any `d`.
///
/// ```
/// use unisphere::{KdeKl, Kernel, Regularizer, ndarray::Array2};
/// let d = 32;
/// let mut kl = KdeKl::heat(d)?; // the paper's t = 2/d; KdeKl::new(kernel) for any other
/// let collapsed = Array2::<f64>::ones((8, d));
/// assert!((kl.loss(collapsed.view())? - 1.0).abs() < 1e-12);
/// assert!(KdeKl::new(Kernel::bandlimited(d, 2)?).is_err()); // can be negative
/// // Below d = 19 only the raw scale exists:
/// let small = Kernel::heat(3, 0.5)?;
/// let ones = Array2::<f64>::ones((8, 3));
/// assert!(KdeKl::new(small.clone())?.loss(ones.view()).is_err()); // names Scale::Raw
/// assert!(KdeKl::heat(3).is_err());
/// let mut raw = KdeKl::raw(small)?;
/// assert!(raw.loss(ones.view())?.is_finite());
/// # Ok::<(), unisphere::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct KdeKl {
    kernel: Kernel,
    pairs: KlPairs,
    scale: Scale,
    ws: Workspace,
    /// The pairs of the last batch, kept by the first pass for the second.
    kept: KeptPairs,
}

/// Grid on which a custom kernel's positivity is checked.
const POSITIVITY_GRID: usize = 4096;

/// Below this smallest kernel value, the KL runs in the log domain.
const LOG_DOMAIN_BELOW: f64 = 1e-200;

/// How accurately `(ln phi, phi'/phi)` is tabulated: `ln phi` to `5e-12` absolute
/// plus `4e-15` of its magnitude (a few ulps of `f64` at `|ln phi| ~ 2500`), so every
/// kernel value to `~1e-11` relative; the log-slope to `1e-11` relative. (The KL's
/// value then holds to `~1e-11` absolute and its gradient to `~1e-11` relative.)
const LOG_ACCURACY: Accuracy = Accuracy::Relative {
    value: 4e-15,
    slope: 1e-11,
    floor: (5e-12, 1e-300),
};

/// How accurately `(phi, phi')` is tabulated from the log table: `1e-12` relative
/// (on top of the log table's own error).
const LINEAR_ACCURACY: Accuracy = Accuracy::Relative {
    value: 1e-12,
    slope: 1e-12,
    floor: (1e-300, 1e-300),
};

/// `(ln phi, phi'/phi)` as a function of the half-angle coordinate
/// `x = sqrt((1 + c)/2) = cos(theta/2)`, exact. The heat kernel is smooth in the
/// angle; in `c` its features near `c = -1` are squeezed to the scale `theta^2`,
/// so tables in `x` need far fewer exact values.
#[derive(Debug, Clone)]
struct LogKernel(Kernel);

impl ZonalFunction for LogKernel {
    fn value_and_slope(&self, x: f64) -> (f64, f64) {
        let c = 2.0 * x * x - 1.0;
        let (v, s) = (self.0.extended(0, c), self.0.extended(1, c));
        (v.ln_abs(), s.ratio(v).to_f64())
    }
}

/// `(phi, phi')`, exact.
#[derive(Debug, Clone)]
struct LinearKernel(Kernel);

impl ZonalFunction for LinearKernel {
    fn value_and_slope(&self, c: f64) -> (f64, f64) {
        (self.0.eval(c), self.0.eval_d1(c))
    }
}

/// The kernel as the KL evaluates it on pairs: in the log domain, or, where the
/// kernel's values are all representable, the linear domain.
#[derive(Debug, Clone)]
struct KlPairs {
    log: Tabulated<LogKernel>,
    linear: Option<Tabulated<LinearKernel>>,
}

impl KlPairs {
    /// The exact values go into a table of `(ln phi, phi'/phi)` in the half-angle
    /// coordinate; in the linear domain the table of `(phi, phi')` is built from it.
    fn new(kernel: Kernel, log: bool) -> KlPairs {
        let exact = LogKernel(kernel.clone());
        let table = Table::build(0.0, 1.0, LOG_ACCURACY, |x| exact.value_and_slope(x));
        let log_table = Tabulated::from_table(exact, table);
        // Where no linear table meets the accuracy, the log domain takes over.
        let linear = (!log)
            .then(|| {
                Table::build(-1.0, 1.0, LINEAR_ACCURACY, |c| {
                    let (ln_phi, log_slope) = log_table.value_and_slope(half_angle(c));
                    let phi = ln_phi.exp();
                    (phi, log_slope * phi)
                })
            })
            .flatten()
            .map(|table| Tabulated::from_table(LinearKernel(kernel), Some(table)));
        KlPairs {
            log: log_table,
            linear,
        }
    }

    /// `(phi, phi')` (linear domain) or `(ln phi, phi'/phi)` (log domain) at the
    /// cosines `g`, which are overwritten.
    fn eval(&self, g: &mut [f64], v: &mut [f64], s: Option<&mut [f64]>) {
        match &self.linear {
            Some(linear) => linear.eval_batch(g, v, s),
            None => {
                g.iter_mut().for_each(|c| *c = half_angle(*c));
                self.log.eval_batch(g, v, s)
            }
        }
    }
}

/// `sqrt((1 + c)/2)` for `c` clamped to `[-1, 1]`.
#[inline]
fn half_angle(c: f64) -> f64 {
    (0.5 * (1.0 + c.clamp(-1.0, 1.0))).sqrt()
}

impl KdeKl {
    /// KDE-KL with `kernel`, on the paper scale, which is defined for `d >= 19`
    /// (below, every call is an error that names the raw scale: use
    /// [`KdeKl::raw`] or `.with_scale(Scale::Raw)`). The kernel must be positive:
    /// heat kernels are; bandlimited kernels are refused; custom kernels are checked
    /// on a fine grid of `[-1, 1]`.
    ///
    /// ```
    /// use unisphere::{KdeKl, Kernel, Regularizer, Scale, ndarray::Array2};
    /// assert!(KdeKl::new(Kernel::bandlimited(32, 2)?).is_err()); // not positive
    /// let z = Array2::from_shape_fn((16, 8), |(i, j)| ((i * 5 + j * 3) % 7) as f64 - 3.0);
    /// let mut paper = KdeKl::new(Kernel::heat(8, 0.25)?)?; // d < 19: no paper scale
    /// assert!(paper.loss(z.view()).is_err());
    /// let mut raw = paper.with_scale(Scale::Raw);
    /// assert!(raw.loss(z.view()).is_ok());
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn new(kernel: Kernel) -> Result<Self> {
        Self::with_kernel(kernel, Scale::Paper)
    }

    /// The paper's setting in dimension `d`: the heat kernel at `t = 2/d`, on the
    /// paper scale (`d >= 19`; below, [`KdeKl::raw`] of `Kernel::heat(d, 2.0 / d)`).
    ///
    /// ```
    /// use unisphere::{KdeKl, Kernel, Regularizer, ndarray::Array2};
    /// let d = 64;
    /// let mut kl = KdeKl::heat(d)?;
    /// assert_eq!(kl.kernel().kind(), unisphere::KernelKind::Heat { t: 2.0 / d as f64 });
    /// assert!((kl.loss(Array2::<f32>::ones((8, d)).view())? - 1.0).abs() < 1e-6); // collapse
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn heat(d: usize) -> Result<Self> {
        check_scale(d, Scale::Paper)?;
        Self::new(Kernel::heat(d, 2.0 / d as f64)?)
    }

    /// KDE-KL with `kernel` on the raw scale (any `d >= 2`): the KL estimate `A + ln Z`.
    ///
    /// ```
    /// use unisphere::{KdeKl, Kernel, Regularizer, Scale, ndarray::Array2};
    /// let kernel = Kernel::heat(32, 2.0 / 32.0)?;
    /// let mut a = KdeKl::raw(kernel.clone())?;
    /// let mut b = KdeKl::new(kernel)?.with_scale(Scale::Raw); // the same objective
    /// let z = Array2::from_shape_fn((16, 32), |(i, j)| ((i * 5 + j * 3) % 7) as f64 - 3.0);
    /// assert_eq!(a.loss(z.view())?, b.loss(z.view())?);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn raw(kernel: Kernel) -> Result<Self> {
        Self::with_kernel(kernel, Scale::Raw)
    }

    /// Checks the kernel's positivity and builds the profile.
    fn with_kernel(kernel: Kernel, scale: Scale) -> Result<Self> {
        let smallest = match kernel.kind() {
            // Heat kernels decrease with the angle: the smallest value is phi(-1).
            KernelKind::Heat { .. } => kernel.ln_eval(-1.0),
            KernelKind::Bandlimited { degree } => {
                return Err(invalid(
                    "kernel",
                    format!("bandlimited L = {degree}"),
                    "a positive kernel: KL needs a positive kernel (heat)",
                ));
            }
            _ => {
                let grid = |i: usize| -1.0 + 2.0 * i as f64 / POSITIVITY_GRID as f64;
                let min = (0..=POSITIVITY_GRID)
                    .map(|i| kernel.eval(grid(i)))
                    .fold(f64::INFINITY, f64::min);
                if min <= 0.0 {
                    return Err(invalid(
                        "kernel",
                        format!("custom kernel with min phi = {min:e}"),
                        "a positive kernel: KL needs a positive kernel (heat)",
                    ));
                }
                min.ln()
            }
        };
        let log = smallest < LOG_DOMAIN_BELOW.ln();
        Ok(KdeKl {
            pairs: KlPairs::new(kernel.clone(), log),
            kernel,
            scale,
            ws: Workspace::default(),
            kept: KeptPairs::default(),
        })
    }

    /// The same objective on another scale ([`Scale::Paper`] with `d < 19` makes
    /// every call an error that names the raw scale, as this builder is infallible
    /// like the other objectives'; [`KdeKl::raw`] is the raw scale directly).
    ///
    /// ```
    /// use unisphere::{KdeKl, Kernel, Regularizer, Scale, ndarray::Array2};
    /// let z = Array2::from_shape_fn((16, 8), |(i, j)| ((i * 5 + j * 3) % 7) as f64 - 3.0);
    /// let raw = KdeKl::raw(Kernel::heat(8, 0.25)?)?;
    /// assert!(raw.clone().with_scale(Scale::Paper).loss(z.view()).is_err()); // d < 19
    /// let mut raw = raw.with_scale(Scale::Raw);
    /// assert!(raw.loss(z.view()).is_ok());
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn with_scale(mut self, scale: Scale) -> Self {
        self.scale = scale;
        self
    }

    /// The kernel.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// Whether pairs are evaluated in the log domain (the kernel's smallest value
    /// is below `1e-200`).
    pub fn log_domain(&self) -> bool {
        self.pairs.linear.is_none()
    }

    /// `(offset, factor)` with `loss = (A + offset) * factor`.
    fn affine(&self) -> Result<(f64, f64)> {
        check_scale(self.kernel.dim(), self.scale)?;
        Ok(match self.scale {
            Scale::Raw => (self.kernel.ln_z(), 1.0),
            Scale::Paper => {
                let ln_s = ln_sphere_area(self.kernel.dim());
                (-ln_s, -1.0 / ln_s)
            }
        })
    }

    /// `ln S_i`, `S_i = sum_{j != i} phi(c_ij)`, for the rows of `set` (against all
    /// rows: for `RowSet::Local`, a shard's densities). With `kept` (every row), the
    /// pairs' values and slopes are kept for [`KdeKl::weighted_rows`].
    fn ln_row_sums<G: Real>(
        &self,
        rows: PairRows<'_, G>,
        set: RowSet,
        kept: Option<&mut KeptPairs>,
    ) -> Result<Vec<f64>> {
        let log = self.log_domain();
        let pairs = &self.pairs;
        let req = PairRequest {
            row_values: true,
            log_rows: log,
            ..Default::default()
        };
        // Linear domain: values a rounding error below zero count as zero.
        let values = |_: usize, _: usize, g: &mut [f64], v: &mut [f64], w: Option<&mut [f64]>| {
            pairs.eval(g, v, w);
            if !log {
                v.iter_mut().for_each(|x| *x = x.max(0.0));
            }
        };
        let first = match &set {
            RowSet::All => 0,
            RowSet::Local(r) => r.start,
        };
        let sums = match (set, kept) {
            (RowSet::All, Some(kept)) => pair_sums_keep(rows, &values, req, kept),
            (set, _) => pair_sums(rows, set, &values, req, None),
        };
        let ln_s: Vec<f64> = if log {
            sums.row_values
        } else {
            sums.row_values.iter().map(|s| s.ln()).collect()
        };
        if let Some(i) = ln_s.iter().position(|v| !v.is_finite()) {
            return Err(Error::NotRepresentable {
                what: format!(
                    "the leave-one-out density of row {} underflows (its neighbours are too far for this kernel); use a larger t",
                    first + i
                ),
            });
        }
        Ok(ln_s)
    }

    /// `grad += W X` with `W_ij = phi'(c_ij) (1/S_i + 1/S_j)`, for the rows of `set`
    /// (`grad` has their rows); `ln_s` of every row. With `kept` (every row), from
    /// the pairs the first pass kept.
    fn weighted_rows<G: Real>(
        &self,
        rows: PairRows<'_, G>,
        ln_s: &[f64],
        set: RowSet,
        kept: Option<&KeptPairs>,
        grad: ArrayViewMut2<G>,
    ) {
        let log = self.log_domain();
        let pairs = &self.pairs;
        let inv_s: Vec<f64> = ln_s.iter().map(|v| (-v).exp()).collect();
        // `v` = (ln phi or phi) and `w` = (phi'/phi or phi') of row i against j0..
        let reweigh = |i: usize, j0: usize, v: &[f64], w: &mut [f64]| {
            if log {
                for (b, (x, lv)) in w.iter_mut().zip(v).enumerate() {
                    *x *= (lv - ln_s[i]).exp() + (lv - ln_s[j0 + b]).exp();
                }
            } else {
                for (b, x) in w.iter_mut().enumerate() {
                    *x *= inv_s[i] + inv_s[j0 + b];
                }
            }
        };
        let weights = |i: usize, j0: usize, g: &mut [f64], v: &mut [f64], w: Option<&mut [f64]>| {
            let Some(w) = w else { return };
            pairs.eval(g, v, Some(&mut *w));
            reweigh(i, j0, v, w);
        };
        match (set, kept) {
            (RowSet::All, Some(kept)) => reweigh_into(rows, kept, &reweigh, grad),
            (set, _) => {
                pair_sums(rows, set, &weights, PairRequest::default(), Some(grad));
            }
        }
    }
}

impl Objective for KdeKl {
    fn label(&self) -> String {
        format!("KDE-KL[{}]", crate::kernel::describe(&self.kernel))
    }

    fn width(&self) -> Option<usize> {
        Some(self.kernel.dim())
    }

    fn evaluate<F: Real, S: GradientSink<F>>(
        &mut self,
        z: ArrayView2<F>,
        sink: &mut S,
    ) -> Result<f64> {
        let mut ws = std::mem::take(&mut self.ws);
        let mut kept = std::mem::take(&mut self.kept);
        let result = if self.f64_pairs::<F>() {
            self.evaluate_rows::<f64, F, S>(z, sink, &mut ws, &mut kept)
        } else {
            self.evaluate_rows::<F, F, S>(z, sink, &mut ws, &mut kept)
        };
        (self.ws, self.kept) = (ws, kept);
        result
    }
}

/// From this dimension on, the pairs of `f32` input are computed in `f64`: the
/// kernel is so steep there (`phi'/phi` in the hundreds) that `f32` cosines would
/// cost the KL six of its digits.
const F64_PAIRS_FROM_DIM: usize = 1024;

impl KdeKl {
    /// The loss and gradient of checked rows, computed in the precision `G`.
    fn evaluate_rows<G: Real, F: Real, S: GradientSink<F>>(
        &self,
        z: ArrayView2<F>,
        sink: &mut S,
        ws: &mut Workspace,
        kept: &mut KeptPairs,
    ) -> Result<f64> {
        let (offset, factor) = self.affine()?;
        ws.with(|b: &mut Buffers<G>| {
            let rows = SphereRows::new(&z, &mut b.rows, &mut b.norms)?;
            let pairs = PairRows::with_columns(rows.x, &mut b.columns);
            let n = rows.len() as f64;
            // With the gradient, the first pass keeps the pairs for the second where
            // they fit.
            let mut kept = (S::WANTED && KeptPairs::fits(rows.len())).then_some(&mut *kept);
            let ln_s = self.ln_row_sums(pairs, RowSet::All, kept.as_deref_mut())?;
            let loss = centred_mean(&ln_s, offset - (n - 1.0).ln(), n) * factor;
            if S::WANTED {
                let mut g = zeroed(&mut b.grad, rows.len(), rows.x.ncols())?;
                self.weighted_rows(pairs, &ln_s, RowSet::All, kept.as_deref(), g.view_mut());
                rows.chain(&mut g, factor / n);
                sink.add(g.view())?;
            }
            Ok(loss)
        })
    }
}

/// On a device: `ln phi` shifted by its value at `c = 0` (`x = 1/sqrt 2`), so that
/// the rows' log-densities are near zero for spread-out rows and their sum keeps
/// its relative accuracy in lower precision:
/// `loss = (mean_i (ln S_i - ln phi(0)) + shift) * factor` with
/// `shift = ln phi(0) - ln(N - 1) + offset`.
impl Planned for KdeKl {
    fn required_dim(&self) -> Option<usize> {
        self.width()
    }

    fn on_sphere(&self) -> bool {
        true
    }

    fn plan(&mut self, d: usize, norms: &[f64], _gradient: bool) -> Result<Plan> {
        check_shape(norms.len(), d, 2, Some(self.kernel.dim()))?;
        let (offset, factor) = self.affine()?;
        let table = PlanTable::required(self.pairs.log.table(), "KDE-KL")?;
        let ln_phi0 = table.evaluate(std::f64::consts::FRAC_1_SQRT_2).0;
        let n = norms.len() as f64;
        Ok(Plan::LogDensity(LogDensityPlan {
            table,
            offset: -ln_phi0,
            shift: ln_phi0 - (n - 1.0).ln() + offset,
            factor,
        }))
    }
}

impl KdeKl {
    /// Whether the pairs of input `F` are computed in `f64` (see [`F64_PAIRS_FROM_DIM`]).
    fn f64_pairs<F: Real>(&self) -> bool {
        F::MANTISSA_DIGITS < f64::MANTISSA_DIGITS && self.kernel.dim() >= F64_PAIRS_FROM_DIM
    }

    /// Phase 1 of a shard, in the precision `G`: `ln S_i` of the local rows.
    fn shard_densities<G: Real, F: Real>(&self, shard: &Shard<F>) -> Result<Vec<f64>> {
        let all = shard.all_rows("KDE-KL")?;
        let (mut x, mut norms) = (Vec::<G>::new(), Vec::new());
        let rows = SphereRows::new(&all, &mut x, &mut norms)?;
        self.ln_row_sums(rows.x.into(), RowSet::Local(shard.local_range()), None)
    }

    /// Phase 2 of a shard, in the precision `G`: the gradient of the whole loss with
    /// respect to the local rows, from `ln S_j` of every row.
    fn shard_gradient<G: Real, F: Real>(
        &self,
        shard: &Shard<F>,
        ln_s: &[f64],
        factor: f64,
    ) -> Result<Array2<F>> {
        let all = shard.all_rows("KDE-KL")?;
        let (mut x, mut norms) = (Vec::<G>::new(), Vec::new());
        let rows = SphereRows::new(&all, &mut x, &mut norms)?;
        let local = shard.local_range();
        let mut g = Array2::<G>::zeros((local.len(), all.ncols()));
        self.weighted_rows(
            rows.x.into(),
            ln_s,
            RowSet::Local(local.clone()),
            None,
            g.view_mut(),
        );
        rows.restrict(local)
            .chain(&mut g.view_mut(), factor / all.nrows() as f64);
        Ok(g.mapv(|v| F::from_f64(v.to_f64())))
    }
}

/// KDE-KL sharded: the gathered rows, and between the phases an all-gather of the
/// log-densities `ln S_i` of every row (`N` numbers): a local row's gradient needs
/// `1/q_j` of every other row.
impl<F: Real> Sharded<F> for KdeKl {
    fn needs_all_rows(&self) -> bool {
        true
    }

    fn shard_begin(&mut self, shard: &Shard<F>) -> Result<Exchange> {
        self.affine()?;
        check_input(&shard.all_rows("KDE-KL")?, 2, Some(self.kernel.dim()))?;
        let ln_s = if self.f64_pairs::<F>() {
            self.shard_densities::<f64, F>(shard)?
        } else {
            self.shard_densities::<F, F>(shard)?
        };
        Ok(Exchange::GatherRows(ln_s))
    }

    fn shard_finish(&mut self, shard: &Shard<F>, exchanged: &[f64]) -> Result<ShardResult<F>> {
        let (offset, factor) = self.affine()?;
        let all = shard.all_rows("KDE-KL")?;
        check_input(&all, 2, Some(self.kernel.dim()))?;
        let n = all.nrows();
        check_exchanged(exchanged, n, "the gathered ln S_i of every row")?;
        let local = shard.local_range();
        let nf = n as f64;
        let centre = offset - (nf - 1.0).ln();
        let share = centred_mean(&exchanged[local], centre, nf) * factor;
        let grad = if self.f64_pairs::<F>() {
            self.shard_gradient::<f64, F>(shard, exchanged, factor)?
        } else {
            self.shard_gradient::<F, F>(shard, exchanged, factor)?
        };
        Ok(ShardResult {
            share,
            loss: None,
            grad,
        })
    }
}

/// `sum_i (ln_s_i + centre) / n`: each row's term is centred before the sum, so that
/// a loss near zero (a nearly uniform sample on the raw scale) keeps its relative
/// accuracy, and a shard's part of it sums with the others' to the same value.
fn centred_mean(ln_s: &[f64], centre: f64, n: f64) -> f64 {
    ln_s.iter().map(|v| v + centre).sum::<f64>() / n
}

/// Checks that `scale` is defined in dimension `d`: the paper scale needs `d >= 19`.
fn check_scale(d: usize, scale: Scale) -> Result<()> {
    if scale == Scale::Paper && d < 19 {
        return Err(invalid(
            "scale",
            format!("Scale::Paper with d = {d}"),
            "d >= 19 for the paper scale (ln|S^{d-1}| > 0 below); use Scale::Raw (KdeKl::raw)",
        ));
    }
    Ok(())
}

/// `ln |S^{d-1}| = ln 2 + (d/2) ln pi - ln Gamma(d/2)`.
pub(crate) fn ln_sphere_area(d: usize) -> f64 {
    let h = d as f64 / 2.0;
    std::f64::consts::LN_2 + h * std::f64::consts::PI.ln() - statrs::function::gamma::ln_gamma(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_kernels_are_tabulated_to_relative_accuracy() {
        for d in [24usize, 256, 1024, 2048] {
            let kl = KdeKl::new(Kernel::heat(d, 2.0 / d as f64).unwrap()).unwrap();
            assert!(kl.pairs.log.has_table(), "d={d}");
            if let Some(linear) = &kl.pairs.linear {
                assert!(linear.has_table(), "d={d}");
            }
            assert_eq!(kl.log_domain(), d >= 2048, "d={d}");
            let k = &kl.kernel;
            let mut batch = [0.0; 1001];
            let mut slopes = [0.0; 1001];
            let c: Vec<f64> = (0..=1000).map(|i| -1.0 + 0.002 * i as f64).collect();
            kl.pairs.eval(&mut c.clone(), &mut batch, Some(&mut slopes));
            for (j, &c) in c.iter().enumerate() {
                let (v, s) = (batch[j], slopes[j]);
                if kl.log_domain() {
                    let (pv, ps) = (k.ln_eval(c), k.log_slope(c));
                    assert!(
                        (v - pv).abs() <= 5e-12 + 4e-15 * pv.abs(),
                        "d={d} c={c}: {v} vs {pv}"
                    );
                    assert!(
                        (s - ps).abs() <= 1e-11 * ps.abs(),
                        "d={d} c={c}: {s} vs {ps}"
                    );
                } else {
                    // From the log table: its error (at most 5e-12 + 4e-15 |ln phi|,
                    // |ln phi| < 460 here; 1e-11 on the slope) plus the interpolation's 1e-12.
                    let (pv, ps) = (k.eval(c), k.eval_d1(c));
                    let tol = 1e-12 + 5e-12 + 4e-15 * pv.ln().abs();
                    assert!(
                        (v - pv).abs() <= tol * pv.abs(),
                        "d={d} c={c}: {v:e} vs {pv:e}"
                    );
                    assert!(
                        (s - ps).abs() <= (tol + 1e-11) * ps.abs(),
                        "d={d} c={c}: {s:e} vs {ps:e}"
                    );
                }
            }
        }
    }
}
