//! SIGReg's twin: radial in the raw rows' distances `|z_i - z_j|` (from the Gram
//! matrix and the row norms), with the middle terms a function of each row's norm.

use super::super::EppsPulleyGrid;
use super::{OmegaSums, RangeTable};
use crate::engine::{PairRequest, PairRows, PairSums, RowSet, pair_sums};
use crate::error::{Error, Result};
use crate::numerics::row_scale;
use crate::plan::{Plan, PlanTable, Planned, RadialPlan};
use crate::real::Real;
use crate::regularizer::{GradientSink, Objective};
use crate::rows::{check_shape, row_slice};
use crate::shard::PairShare;
use crate::special::omega;
use crate::table::Table;
use crate::workspace::{Buffers, Workspace, zeroed};
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Zip};
use rayon::prelude::*;
use std::ops::Range;
use std::sync::Arc;

/// SIGReg's twin's pair function in the squared distance `s = r^2`:
/// `h(s) = sum_k omega_k Omega_d(t_k sqrt(s))`,
/// `h'(s) = -sum_k omega_k t_k^2 / (2d) Omega_{d+2}(t_k sqrt(s))`.
#[derive(Debug, Clone)]
struct SigTwinRadial(OmegaSums);

impl SigTwinRadial {
    fn eval(&self, s: f64) -> (f64, f64) {
        let (v, slope) = self.0.at(s.max(0.0).sqrt());
        (v, -slope / (2.0 * self.0.d))
    }
}

/// The exact average of [`Sigreg`](crate::Sigreg) over uniformly random directions:
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
    /// The pair function `h` in the squared distance, on `[0, s_hi]`.
    table: RangeTable,
    /// The middle terms `(m(r), radial(r))` of [`MiddleTerms`] in the norm, on `[0, r_hi]`.
    middle: RangeTable,
    ws: Workspace,
}

/// What every evaluation of the twin needs for rows with given norms: the pair
/// function and its table, the squared norms, and the middle terms and their table.
struct Setup {
    radial: SigTwinRadial,
    table: Option<Arc<Table>>,
    squares: Vec<f64>,
    terms: MiddleTerms,
    middle: Option<Arc<Table>>,
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

    /// The setup for rows of width `d` with the norms `norms` (the tables are
    /// rebuilt only where the range they must cover or `d` changed).
    fn setup(&mut self, d: usize, norms: &[f64]) -> Result<Setup> {
        let radial = SigTwinRadial(OmegaSums::new(d, &self.grid));
        let (squares, s_max) = squares(norms)?;
        let terms = MiddleTerms::new(d, &self.grid);
        let middle = self
            .middle
            .covering(d, max_norm(norms), |r| terms.at(r, true));
        let table = self.table.covering(d, s_max, |s| radial.eval(s));
        Ok(Setup {
            radial,
            table,
            squares,
            terms,
            middle,
        })
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
        let (n, d) = z.dim();
        let norms = row_norms(z);
        // Every call tabulates (a small batch too: the same call twice gives the same
        // bits, and a training loop reuses the tables across calls).
        let setup = self.setup(d, &norms)?;
        let (middle, radial) =
            middle_terms(&setup.terms, &norms, S::WANTED, setup.middle.as_deref());
        self.ws.with(|b: &mut Buffers<F>| {
            let mut grad = match S::WANTED {
                true => Some(zeroed(&mut b.grad, n, d)?),
                false => None,
            };
            let pairs = PairRows::with_columns(z, &mut b.columns);
            let sums = pair_term(pairs, RowSet::All, &setup, grad.as_mut());
            if let Some(mut g) = grad {
                gradient_rows(z, n, &mut g, &sums.row_weights, &radial);
                sink.add(g.view())?;
            }
            Ok(sums.total / n as f64 + middle)
        })
    }
}

/// Sharded: the gathered rows, no exchange between the phases.
impl PairShare for SigregIntegrated {
    const NAME: &'static str = "SIGReg-integrated";

    fn share<F: Real>(
        &mut self,
        all: ArrayView2<F>,
        local: Range<usize>,
    ) -> Result<(f64, Array2<F>)> {
        let (n, d) = all.dim();
        let norms = row_norms(all);
        let setup = self.setup(d, &norms)?;
        // The middle and constant terms are sums over rows: this shard's rows' part
        // (from the table every shard builds alike, over all rows' norms).
        let (middle, radial) = middle_terms(
            &setup.terms,
            &norms[local.clone()],
            true,
            setup.middle.as_deref(),
        );
        let mut grad = Array2::<F>::zeros((local.len(), d));
        let set = RowSet::Local(local.clone());
        let sums = pair_term(all.into(), set, &setup, Some(&mut grad.view_mut()));
        let mine = all.slice(ndarray::s![local, ..]);
        gradient_rows(mine, n, &mut grad.view_mut(), &sums.row_weights, &radial);
        Ok((sums.total / n as f64 + middle, grad))
    }
}

/// On a device, centred so that sums in lower precision do not cancel: the loss
/// is `(1/N) sum_{i,j} (h(|z_i - z_j|^2) + offset - delta_i - delta_j)` with
/// `offset = C - 2 m` and `delta_i = m_i - m`, where
/// `m_i = sum_k omega_k psi_k Omega_d(t_k |z_i|)`, `m = mean_i m_i` and
/// `C = sum_k omega_k psi_k^2` (the middle and constant terms spread over the pairs).
impl Planned for SigregIntegrated {
    fn on_sphere(&self) -> bool {
        false
    }

    fn plan(&mut self, d: usize, norms: &[f64], gradient: bool) -> Result<Plan> {
        check_shape(norms.len(), d, 2, None)?;
        let setup = self.setup(d, norms)?;
        let (constant, rows) = middle_rows(&setup.terms, norms, gradient, setup.middle.as_deref());
        let mut delta: Vec<f64> = rows.iter().map(|(m, _)| *m).collect();
        let mean = delta.iter().sum::<f64>() / norms.len() as f64;
        delta.iter_mut().for_each(|v| *v -= mean);
        let radial = match gradient {
            true => rows.iter().map(|(_, radial)| *radial).collect(),
            false => Vec::new(),
        };
        Ok(Plan::Radial(RadialPlan {
            table: PlanTable::required(setup.table.as_ref(), "SIGReg-integrated")?,
            offset: constant - 2.0 * mean,
            delta,
            radial,
        }))
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
/// norms, with the tabulated pair function where there is a table; with the
/// gradient, the row weights `sum_j h'_ij` and `(W Z)_i = sum_j h'_ij z_j` added
/// into `grad`, for the rows of `set` (`grad` has their rows).
fn pair_term<F: Real>(
    z: PairRows<'_, F>,
    set: RowSet,
    setup: &Setup,
    grad: Option<&mut ArrayViewMut2<F>>,
) -> PairSums {
    let (sq, table, radial) = (&setup.squares, setup.table.as_deref(), &setup.radial);
    let term = |i: usize, j0: usize, g: &mut [f64], v: &mut [f64], w: Option<&mut [f64]>| {
        for (b, x) in g.iter_mut().enumerate() {
            *x = (sq[i] + sq[j0 + b] - 2.0 * *x).max(0.0);
        }
        match (table, w) {
            (Some(t), w) => t.eval_batch(g, v, w),
            (None, Some(w)) => {
                for ((x, vv), ww) in g.iter().zip(v.iter_mut()).zip(w.iter_mut()) {
                    (*vv, *ww) = radial.eval(*x);
                }
            }
            (None, None) => {
                for (x, vv) in g.iter().zip(v.iter_mut()) {
                    *vv = radial.eval(*x).0;
                }
            }
        }
    };
    let req = PairRequest {
        diagonal: true,
        row_weights: grad.is_some(),
        ..Default::default()
    };
    pair_sums(z, set, &term, req, grad.map(|g| g.view_mut()))
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
        let first = cache.covering(8, 3.0, |r| terms.at(r, true));
        assert_eq!(cache.0.as_ref().map(|c| (c.0, c.1)), Some((8, 4.0)));
        // 3.9 lies in the same power-of-two range: nothing is rebuilt.
        cache.covering(8, 3.9, |_| panic!("rebuilt"));
        assert!(first.is_some());
        cache.covering(8, 4.1, |r| terms.at(r, true));
        assert_eq!(cache.0.as_ref().map(|c| (c.0, c.1)), Some((8, 8.0)));
    }
}
