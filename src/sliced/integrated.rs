//! The integrated twins of SIGReg and SUSReg: the exact expectation of the sliced
//! statistic over uniformly random directions, deterministic, through the engine.
//!
//! With `E_a cos(t a.v) = Omega_d(t |v|)` for `a` uniform on the sphere,
//! `E_a[EP] = N sum_k omega_k [ mean_{i,j} Omega_d(t_k r_ij) - 2 psi_k mean_i Omega_d(t_k |z_i|) + psi_k^2 ]`,
//! `r_ij = |z_i - z_j|`. Derivatives use `Omega_d'(r) = -(r/d) Omega_{d+2}(r)`.

use super::EppsPulleyGrid;
use super::susreg::susreg_target;
use crate::engine::{PairRequest, PairRows, PairSums, RowSet, pair_sums};
use crate::error::{Error, Result};
use crate::numerics::row_scale;
use crate::real::Real;
use crate::regularizer::{GradientSink, Objective};
use crate::rows::{check_input, row_slice};
use crate::shard::{Exchange, Shard, ShardResult, Sharded, check_exchanged};
use crate::special::omega;
use crate::table::{Accuracy, Table};
use crate::workspace::{Buffers, Workspace, zeroed};
use crate::zonal::{TABLE_TOLERANCE, Tabulated, ZonalFunction, zonal_mean, zonal_share};
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Zip};
use rayon::prelude::*;
use std::ops::Range;

/// The grid sums both twins are made of, at a distance `r`:
/// `(sum_k omega_k Omega_d(t_k r), sum_k omega_k t_k^2 Omega_{d+2}(t_k r))`.
#[derive(Debug, Clone)]
struct OmegaSums {
    d: f64,
    knots: Vec<f64>,
    weights: Vec<f64>,
}

impl OmegaSums {
    fn new(d: usize, grid: &EppsPulleyGrid) -> Self {
        OmegaSums {
            d: d as f64,
            knots: grid.knots().to_vec(),
            weights: grid.weights().to_vec(),
        }
    }

    fn at(&self, r: f64) -> (f64, f64) {
        let (mut v, mut s) = (0.0, 0.0);
        for (t, w) in self.knots.iter().zip(&self.weights) {
            v += w * omega(self.d, t * r);
            s += w * t * t * omega(self.d + 2.0, t * r);
        }
        (v, s)
    }
}

/// SUSReg's twin profile: `f(c) = sum_k omega_k Omega_d(t_k sqrt(2 d (1 - c)))`,
/// `f'(c) = sum_k omega_k t_k^2 Omega_{d+2}(t_k sqrt(2 d (1 - c)))`.
#[derive(Debug, Clone)]
struct SusTwinProfile(OmegaSums);

impl ZonalFunction for SusTwinProfile {
    fn value_and_slope(&self, c: f64) -> (f64, f64) {
        self.0.at((2.0 * self.0.d * (1.0 - c)).max(0.0).sqrt())
    }
}

/// The exact average of [`Susreg`](super::Susreg) over uniformly random directions:
/// a deterministic zonal MMD-type statistic with exact gradients.
///
/// ```
/// use unisphere::{Regularizer, SusregIntegrated, ndarray::Array2};
/// let mut twin = SusregIntegrated::new();
/// let z = Array2::from_shape_fn((32, 16), |(i, j)| ((i * 5 + j * 3) % 7) as f64 - 3.0);
/// let a = twin.loss(z.view())?;
/// assert_eq!(a, twin.loss(z.view())?); // deterministic
/// # Ok::<(), unisphere::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct SusregIntegrated {
    grid: EppsPulleyGrid,
    exact_target: Option<bool>,
    /// The tabulated profile for the last dimension seen.
    profile: Option<(usize, Tabulated<SusTwinProfile>)>,
    ws: Workspace,
}

impl SusregIntegrated {
    /// The twin on LeJEPA's default grid (`T = 3`, 17 knots).
    pub fn new() -> Self {
        Self::default()
    }

    /// The Epps–Pulley grid: `knots` (odd, >= 3) points on `[0, t_max]`.
    pub fn with_grid(mut self, t_max: f64, knots: usize) -> Result<Self> {
        self.grid = EppsPulleyGrid::new(t_max, knots)?;
        self.profile = None;
        Ok(self)
    }

    /// As [`Susreg::with_exact_target`](super::Susreg::with_exact_target).
    pub fn with_exact_target(mut self, exact: bool) -> Self {
        self.exact_target = Some(exact);
        self
    }
}

impl Objective for SusregIntegrated {
    fn label(&self) -> String {
        "SUSReg-integrated".into()
    }

    fn evaluate<F: Real, S: GradientSink<F>>(
        &mut self,
        z: ArrayView2<F>,
        sink: &mut S,
    ) -> Result<f64> {
        check_input(&z, 2, None)?;
        let d = z.ncols();
        let profile = self.profile_for(d);
        let n = z.nrows() as f64;
        let mean = zonal_mean(z, None, &profile, n, sink, &mut self.ws);
        self.profile = Some((d, profile));
        Ok(n * (mean? + self.constant(d)))
    }
}

impl SusregIntegrated {
    /// The tabulated profile for dimension `d` (the cached one, taken out of the cache).
    fn profile_for(&mut self, d: usize) -> Tabulated<SusTwinProfile> {
        match self.profile.take() {
            Some((pd, profile)) if pd == d => profile,
            _ => Tabulated::new(SusTwinProfile(OmegaSums::new(d, &self.grid))),
        }
    }

    /// The constant term `sum_k omega_k (psi_k^2 - 2 psi_k Omega_d(sqrt(d) t_k))`.
    fn constant(&self, d: usize) -> f64 {
        let psi = susreg_target(&self.grid, d, self.exact_target);
        let sd = (d as f64).sqrt();
        self.grid
            .knots()
            .iter()
            .zip(self.grid.weights())
            .zip(&psi)
            .map(|((t, w), p)| w * (p * p - 2.0 * p * omega(d as f64, sd * t)))
            .sum()
    }

    /// What the device path evaluates in dimension `d`: the tabulated profile
    /// (`None` where no table met the tolerance) and the constant term.
    #[cfg(feature = "burn")]
    pub(crate) fn device_profile(&mut self, d: usize) -> (Option<Table>, f64) {
        let profile = self.profile_for(d);
        let table = profile.table().cloned();
        self.profile = Some((d, profile));
        (table, self.constant(d))
    }
}

/// SUSReg's twin sharded: the gathered rows, no exchange between the phases.
impl<F: Real> Sharded<F> for SusregIntegrated {
    fn needs_all_rows(&self) -> bool {
        true
    }

    fn shard_begin(&mut self, shard: &Shard<F>) -> Result<Exchange> {
        check_input(&shard.all_rows("SUSReg-integrated")?, 2, None)?;
        Ok(Exchange::Nothing)
    }

    fn shard_finish(&mut self, shard: &Shard<F>, exchanged: &[f64]) -> Result<ShardResult<F>> {
        check_exchanged(exchanged, 0, "SUSReg-integrated exchanges nothing")?;
        let all = shard.all_rows("SUSReg-integrated")?;
        check_input(&all, 2, None)?;
        let (n, d) = all.dim();
        let profile = self.profile_for(d);
        let nf = n as f64;
        let part = zonal_share(shard, None, &profile, nf, "SUSReg-integrated");
        self.profile = Some((d, profile));
        let (mean, grad) = part?;
        let mine = shard.local_range().len() as f64 / nf;
        Ok(ShardResult {
            share: nf * (mean + mine * self.constant(d)),
            loss: None,
            grad,
        })
    }
}

/// SIGReg's twin profile in the squared distance `s = r^2`:
/// `h(s) = sum_k omega_k Omega_d(t_k sqrt(s))`,
/// `h'(s) = -sum_k omega_k t_k^2 / (2d) Omega_{d+2}(t_k sqrt(s))`.
#[derive(Debug, Clone)]
struct SigTwinProfile(OmegaSums);

impl SigTwinProfile {
    fn eval(&self, s: f64) -> (f64, f64) {
        let (v, slope) = self.0.at(s.max(0.0).sqrt());
        (v, -slope / (2.0 * self.0.d))
    }
}

/// The exact average of [`Sigreg`](super::Sigreg) over uniformly random directions:
/// radial in `|z_i - z_j|` (from the Gram matrix and the row norms), deterministic,
/// with exact gradients with respect to the raw embeddings.
///
/// ```
/// use unisphere::{Regularizer, SigregIntegrated, ndarray::Array2};
/// let mut twin = SigregIntegrated::new();
/// let z = Array2::from_shape_fn((32, 16), |(i, j)| ((i * 5 + j * 3) % 7) as f32 - 3.0);
/// let (loss, grad) = twin.loss_and_grad(z.view())?;
/// assert!(loss > 0.0 && grad.dim() == (32, 16));
/// # Ok::<(), unisphere::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct SigregIntegrated {
    grid: EppsPulleyGrid,
    /// The pair profile `h` in the squared distance, on `[0, s_hi]`.
    table: RangeTable,
    /// The middle terms `(m(r), radial(r))` of [`MiddleTerms`] in the norm, on `[0, r_hi]`.
    middle: RangeTable,
    ws: Workspace,
}

/// A table on `[0, hi]` kept across calls, `hi` the power of two at or above the
/// range a call needs, so that a table depends only on that range and the
/// dimension, and is rebuilt only when either changes (a build that met no
/// tolerance is kept too, as `None`, and not retried every call).
#[derive(Debug, Clone, Default)]
struct RangeTable(Option<(usize, f64, Option<Table>)>);

impl RangeTable {
    /// The table of `f` for dimension `d` covering `[0, max]`.
    fn covering(&mut self, d: usize, max: f64, f: impl Fn(f64) -> (f64, f64)) -> Option<&Table> {
        let hi = 2f64.powi(max.max(f64::MIN_POSITIVE).log2().ceil() as i32);
        if !matches!(&self.0, Some((td, th, _)) if *td == d && *th == hi) {
            let table = Table::build(0.0, hi, Accuracy::Global(TABLE_TOLERANCE), f);
            self.0 = Some((d, hi, table));
        }
        self.0.as_ref().and_then(|(_, _, t)| t.as_ref())
    }
}

impl SigregIntegrated {
    /// The twin on LeJEPA's default grid (`T = 3`, 17 knots).
    pub fn new() -> Self {
        Self::default()
    }

    /// The Epps–Pulley grid: `knots` (odd, >= 3) points on `[0, t_max]`.
    pub fn with_grid(mut self, t_max: f64, knots: usize) -> Result<Self> {
        self.grid = EppsPulleyGrid::new(t_max, knots)?;
        self.table = RangeTable::default();
        self.middle = RangeTable::default();
        Ok(self)
    }
}

impl Objective for SigregIntegrated {
    fn label(&self) -> String {
        "SIGReg-integrated".into()
    }

    fn evaluate<F: Real, S: GradientSink<F>>(
        &mut self,
        z: ArrayView2<F>,
        sink: &mut S,
    ) -> Result<f64> {
        check_input(&z, 2, None)?;
        let (n, d) = z.dim();
        let profile = SigTwinProfile(OmegaSums::new(d, &self.grid));
        let norms = row_norms(z);
        let (sq, s_max) = squares(&norms)?;
        let terms = MiddleTerms::new(d, &self.grid);
        let middle_table = self
            .middle
            .covering(d, max_norm(&norms), |r| terms.at(r, true));
        let (middle, radial) = middle_terms(&terms, &norms, S::WANTED, middle_table);
        let mut ws = std::mem::take(&mut self.ws);
        // Every call tabulates (a small batch too: the same call twice gives the same
        // bits, and a training loop reuses the tables across calls).
        let table = self.table.covering(d, s_max, |s| profile.eval(s));
        let result = ws.with(|b: &mut Buffers<F>| {
            let mut grad = if S::WANTED {
                Some(zeroed(&mut b.grad, n, d)?)
            } else {
                None
            };
            let pairs = PairRows::with_columns(z, &mut b.columns);
            let sums = pair_term(pairs, None, &sq, table, &profile, grad.as_mut());
            if let Some(mut g) = grad {
                gradient_rows(z, n, &mut g, &sums.row_weights, &radial);
                sink.add(g.view())?;
            }
            Ok(sums.total / n as f64 + middle)
        });
        self.ws = ws;
        result
    }
}

/// What the device path evaluates for SIGReg's twin, centred so that `f32` sums
/// do not cancel: the loss is
/// `(1/N) sum_{i,j} (h(|z_i - z_j|^2) + offset - delta_i - delta_j)` with
/// `offset = C - 2 m` and `delta_i = m_i - m`, where
/// `m_i = sum_k omega_k psi_k Omega_d(t_k |z_i|)`, `m = mean_i m_i` and
/// `C = sum_k omega_k psi_k^2` (the middle and constant terms spread over the pairs).
#[cfg(feature = "burn")]
pub(crate) struct SigTwinDevice {
    /// `(h(s), h'(s))` on `[0, s_hi]`, `s_hi >= 4 max |z_i|^2` (`None` where no table
    /// met the tolerance).
    pub table: Option<Table>,
    pub offset: f64,
    pub delta: Vec<f64>,
    /// With the gradient, `radial` of [`middle_terms`]; empty otherwise.
    pub radial: Vec<f64>,
}

#[cfg(feature = "burn")]
impl SigregIntegrated {
    /// [`SigTwinDevice`] for rows of dimension `d` with the norms `norms`.
    pub(crate) fn device_profile(
        &mut self,
        d: usize,
        norms: &[f64],
        gradient: bool,
    ) -> Result<SigTwinDevice> {
        let profile = SigTwinProfile(OmegaSums::new(d, &self.grid));
        let (_, s_max) = squares(norms)?;
        let terms = MiddleTerms::new(d, &self.grid);
        let middle_table = self
            .middle
            .covering(d, max_norm(norms), |r| terms.at(r, true));
        let (constant, rows) = middle_rows(&terms, norms, gradient, middle_table);
        let mut m: Vec<f64> = rows.iter().map(|(m, _)| *m).collect();
        let mean = m.iter().sum::<f64>() / norms.len() as f64;
        m.iter_mut().for_each(|v| *v -= mean);
        let radial = if gradient {
            rows.iter().map(|(_, radial)| *radial).collect()
        } else {
            Vec::new()
        };
        let table = self.table.covering(d, s_max, |s| profile.eval(s)).cloned();
        Ok(SigTwinDevice {
            table,
            offset: constant - 2.0 * mean,
            delta: m,
            radial,
        })
    }
}

/// SIGReg's twin sharded: the gathered rows, no exchange between the phases.
impl<F: Real> Sharded<F> for SigregIntegrated {
    fn needs_all_rows(&self) -> bool {
        true
    }

    fn shard_begin(&mut self, shard: &Shard<F>) -> Result<Exchange> {
        check_input(&shard.all_rows("SIGReg-integrated")?, 2, None)?;
        Ok(Exchange::Nothing)
    }

    fn shard_finish(&mut self, shard: &Shard<F>, exchanged: &[f64]) -> Result<ShardResult<F>> {
        check_exchanged(exchanged, 0, "SIGReg-integrated exchanges nothing")?;
        let all = shard.all_rows("SIGReg-integrated")?;
        check_input(&all, 2, None)?;
        let (n, d) = all.dim();
        let local = shard.local_range();
        let profile = SigTwinProfile(OmegaSums::new(d, &self.grid));
        let norms = row_norms(all);
        let (sq, s_max) = squares(&norms)?;
        // The middle and constant terms are sums over rows: this shard's rows' part
        // (from the table every shard builds alike, over all rows' norms).
        let terms = MiddleTerms::new(d, &self.grid);
        let middle_table = self
            .middle
            .covering(d, max_norm(&norms), |r| terms.at(r, true));
        let (middle, radial) = middle_terms(&terms, &norms[local.clone()], true, middle_table);
        let table = self.table.covering(d, s_max, |s| profile.eval(s));
        let mut grad = Array2::<F>::zeros((local.len(), d));
        let sums = pair_term(
            all.into(),
            Some(local.clone()),
            &sq,
            table,
            &profile,
            Some(&mut grad.view_mut()),
        );
        gradient_rows(
            shard.local_rows(),
            n,
            &mut grad.view_mut(),
            &sums.row_weights,
            &radial,
        );
        Ok(ShardResult {
            share: sums.total / n as f64 + middle,
            loss: None,
            grad,
        })
    }
}

/// The squared norms and the largest squared distance they allow, `4 max |z_i|^2`,
/// or an error where it overflows.
fn squares(norms: &[f64]) -> Result<(Vec<f64>, f64)> {
    let sq: Vec<f64> = norms.iter().map(|v| v * v).collect();
    let s_max = 4.0 * sq.iter().fold(0.0f64, |m, v| m.max(*v));
    if !s_max.is_finite() {
        return Err(Error::NotRepresentable {
            what: "squared distances between rows overflow f64; rescale the embeddings".into(),
        });
    }
    Ok((sq, s_max))
}

/// The norms `|z_i|` in `f64`, robust to huge or tiny rows.
fn row_norms<F: Real>(z: ArrayView2<F>) -> Vec<f64> {
    let mut buf = Vec::new();
    z.rows()
        .into_iter()
        .map(|r| row_scale(row_slice(&r, &mut buf), F::to_f64).map_or(0.0, |(m, r)| m * r))
        .collect()
}

/// The pair term `sum_{i,j} h(|z_i - z_j|^2)` from the Gram matrix and the squared
/// norms `sq`, with the tabulated profile where there is a table; with the gradient,
/// the row weights `sum_j h'_ij` and `(W Z)_i = sum_j h'_ij z_j` added into `grad`.
/// With `local`, `i` runs over those rows only (and `grad` has their rows).
fn pair_term<F: Real>(
    z: PairRows<'_, F>,
    local: Option<Range<usize>>,
    sq: &[f64],
    table: Option<&Table>,
    profile: &SigTwinProfile,
    grad: Option<&mut ArrayViewMut2<F>>,
) -> PairSums {
    let term = |i: usize, j0: usize, g: &mut [f64], v: &mut [f64], w: Option<&mut [f64]>| {
        for (b, x) in g.iter_mut().enumerate() {
            *x = (sq[i] + sq[j0 + b] - 2.0 * *x).max(0.0);
        }
        match (table, w) {
            (Some(t), w) => t.eval_batch(g, v, w),
            (None, Some(w)) => {
                for ((x, vv), ww) in g.iter().zip(v.iter_mut()).zip(w.iter_mut()) {
                    (*vv, *ww) = profile.eval(*x);
                }
            }
            (None, None) => {
                for (x, vv) in g.iter().zip(v.iter_mut()) {
                    *vv = profile.eval(*x).0;
                }
            }
        }
    };
    let req = PairRequest {
        diagonal: true,
        row_weights: grad.is_some(),
        ..Default::default()
    };
    let grad = grad.map(|g| g.view_mut());
    let set = local.map_or(RowSet::All, RowSet::Local);
    pair_sums(z, set, &term, req, grad)
}

/// The middle and constant terms, `sum_k omega_k (N psi_k^2 - 2 psi_k sum_i Omega_d(t_k |z_i|))`,
/// and, with the gradient, `radial_i` such that their derivative in `z_i` is `radial_i z_i`;
/// from `table` (of [`MiddleTerms::at`]) where there is one.
fn middle_terms(
    terms: &MiddleTerms,
    norms: &[f64],
    gradient: bool,
    table: Option<&Table>,
) -> (f64, Vec<f64>) {
    let (constant, rows) = middle_rows(terms, norms, gradient, table);
    let loss = norms.len() as f64 * constant - 2.0 * rows.iter().map(|(m, _)| m).sum::<f64>();
    let radial = if gradient {
        rows.iter().map(|(_, radial)| *radial).collect()
    } else {
        Vec::new()
    };
    (loss, radial)
}

/// A row's middle terms at its norm `r`: `m(r) = sum_k omega_k psi_k Omega_d(t_k r)`
/// and `radial(r) = 2 sum_k omega_k psi_k t_k^2 / d Omega_{d+2}(t_k r)`, each summed in
/// knot order, and the constant `C = sum_k omega_k psi_k^2`.
#[derive(Debug, Clone)]
struct MiddleTerms {
    d: f64,
    /// Per knot: `(t_k, omega_k psi_k)`.
    knots: Vec<(f64, f64)>,
    constant: f64,
}

impl MiddleTerms {
    fn new(d: usize, grid: &EppsPulleyGrid) -> Self {
        let psi = grid.gaussian_target();
        let knots = grid.knots().iter().zip(grid.weights()).zip(&psi);
        MiddleTerms {
            d: d as f64,
            knots: knots.clone().map(|((t, w), p)| (*t, w * p)).collect(),
            constant: knots.map(|((_, w), p)| w * p * p).sum(),
        }
    }

    /// `(m(r), radial(r))`, the latter 0 unless `gradient`.
    fn at(&self, r: f64, gradient: bool) -> (f64, f64) {
        let (mut m, mut radial) = (0.0, 0.0);
        for &(t, wp) in &self.knots {
            m += wp * omega(self.d, t * r);
            if gradient {
                radial += 2.0 * wp * t * t / self.d * omega(self.d + 2.0, t * r);
            }
        }
        (m, radial)
    }
}

/// The largest of the norms (0 for none).
fn max_norm(norms: &[f64]) -> f64 {
    norms.iter().fold(0.0f64, |m, v| m.max(*v))
}

/// `C` and, per row, `(m_i, radial_i)` of [`MiddleTerms`] at its norm: from `table`
/// (of [`MiddleTerms::at`]) where there is one (`radial_i` then 0 unless `gradient`),
/// else exactly, rows in parallel. Either way the same bits for any thread count.
fn middle_rows(
    terms: &MiddleTerms,
    norms: &[f64],
    gradient: bool,
    table: Option<&Table>,
) -> (f64, Vec<(f64, f64)>) {
    let rows = match table {
        Some(t) => norms
            .iter()
            .map(|&r| {
                let (m, radial) = t.value_and_slope(r);
                (m, if gradient { radial } else { 0.0 })
            })
            .collect(),
        None if norms.len() < 64 => norms.iter().map(|&r| terms.at(r, gradient)).collect(),
        None => norms.par_iter().map(|&r| terms.at(r, gradient)).collect(),
    };
    (terms.constant, rows)
}

/// `dL/dz_i = (4/N)(rowW_i z_i - (W Z)_i) + radial_i z_i`, written over `wz = W Z`,
/// for the rows `z` of a batch of `n` rows.
fn gradient_rows<F: Real>(
    z: ArrayView2<F>,
    n: usize,
    wz: &mut ArrayViewMut2<F>,
    row_weights: &[f64],
    radial: &[f64],
) {
    let c = 4.0 / n as f64;
    for ((mut grow, zrow), (rw, rad)) in wz
        .rows_mut()
        .into_iter()
        .zip(z.rows())
        .zip(row_weights.iter().zip(radial))
    {
        let a = c * rw + rad;
        Zip::from(&mut grow).and(&zrow).for_each(|gv, &zv| {
            *gv = F::from_f64(a * zv.to_f64() - c * gv.to_f64());
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn middle_table_matches_the_exact_terms() {
        let grid = EppsPulleyGrid::default();
        for d in [2usize, 3, 16, 257, 2048] {
            let terms = MiddleTerms::new(d, &grid);
            let sd = (d as f64).sqrt();
            for r_max in [1.0, sd, 4.0 * sd] {
                let mut cache = RangeTable::default();
                let table = cache
                    .covering(d, r_max, |r| terms.at(r, true))
                    .unwrap_or_else(|| panic!("no middle table for d={d}, r_max={r_max}"));
                let exact: Vec<(f64, f64)> = (0..=400)
                    .map(|k| terms.at(r_max * k as f64 / 400.0, true))
                    .collect();
                let scale_m = exact.iter().fold(0.0f64, |m, e| m.max(e.0.abs()));
                let scale_r = exact.iter().fold(0.0f64, |m, e| m.max(e.1.abs()));
                for (k, (m, radial)) in exact.iter().enumerate() {
                    let (tm, tr) = table.value_and_slope(r_max * k as f64 / 400.0);
                    assert!(
                        (tm - m).abs() <= 1e-12 * scale_m,
                        "d={d} r_max={r_max} k={k}"
                    );
                    assert!(
                        (tr - radial).abs() <= 1e-12 * scale_r,
                        "d={d} r_max={r_max} k={k}"
                    );
                }
            }
        }
    }

    #[test]
    fn range_tables_are_kept_until_the_range_or_dimension_changes() {
        let grid = EppsPulleyGrid::default();
        let terms = MiddleTerms::new(8, &grid);
        let mut cache = RangeTable::default();
        let first = cache.covering(8, 3.0, |r| terms.at(r, true)).cloned();
        assert_eq!(cache.0.as_ref().map(|c| (c.0, c.1)), Some((8, 4.0)));
        // 3.9 lies in the same power-of-two range: nothing is rebuilt.
        cache.covering(8, 3.9, |_| panic!("rebuilt"));
        assert!(first.is_some());
        cache.covering(8, 4.1, |r| terms.at(r, true));
        assert_eq!(cache.0.as_ref().map(|c| (c.0, c.1)), Some((8, 8.0)));
    }
}
