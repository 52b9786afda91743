//! SUSReg's twin: a zonal mean of the unit rows, tabulated per dimension.

use super::super::EppsPulleyGrid;
use super::super::susreg::susreg_target;
use super::OmegaSums;
use crate::error::Result;
use crate::plan::{Plan, PlanTable, Planned, ZonalPlan};
use crate::real::Real;
use crate::regularizer::{GradientSink, Objective};
use crate::rows::check_shape;
use crate::shard::PairShare;
use crate::special::omega;
use crate::workspace::Workspace;
use crate::zonal::{Tabulated, ZonalFunction, zonal_mean, zonal_share};
use ndarray::{Array2, ArrayView2};
use std::ops::Range;

/// SUSReg's twin's pair function: `f(c) = sum_k omega_k Omega_d(t_k sqrt(2 d (1 - c)))`,
/// `f'(c) = sum_k omega_k t_k^2 Omega_{d+2}(t_k sqrt(2 d (1 - c)))`.
#[derive(Debug, Clone)]
struct SusTwinFunction(OmegaSums);

impl ZonalFunction for SusTwinFunction {
    fn value_and_slope(&self, c: f64) -> (f64, f64) {
        self.0.at((2.0 * self.0.d * (1.0 - c)).max(0.0).sqrt())
    }
}

/// The exact average of [`Susreg`](crate::Susreg) over uniformly random directions:
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
    /// The tabulated pair function for the last dimension seen.
    function: Option<(usize, Tabulated<SusTwinFunction>)>,
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
        self.function = None;
        Ok(self)
    }

    /// As [`Susreg::with_exact_target`](crate::sliced::Sliced::with_exact_target).
    pub fn with_exact_target(mut self, exact: bool) -> Self {
        self.exact_target = Some(exact);
        self
    }

    /// The tabulated pair function for dimension `d` (the cached one, taken out of
    /// the cache; put it back with [`SusregIntegrated::keep`]).
    fn function_for(&mut self, d: usize) -> Tabulated<SusTwinFunction> {
        match self.function.take() {
            Some((fd, function)) if fd == d => function,
            _ => Tabulated::new(SusTwinFunction(OmegaSums::new(d, &self.grid))),
        }
    }

    fn keep(&mut self, d: usize, function: Tabulated<SusTwinFunction>) {
        self.function = Some((d, function));
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
        let d = z.ncols();
        let function = self.function_for(d);
        let n = z.nrows() as f64;
        let mean = zonal_mean(z, &function, n, sink, &mut self.ws);
        self.keep(d, function);
        Ok(n * (mean? + self.constant(d)))
    }
}

/// Sharded: the gathered rows, no exchange between the phases.
impl PairShare for SusregIntegrated {
    const NAME: &'static str = "SUSReg-integrated";

    fn share<F: Real>(
        &mut self,
        all: ArrayView2<F>,
        local: Range<usize>,
    ) -> Result<(f64, Array2<F>)> {
        let (n, d) = all.dim();
        let function = self.function_for(d);
        let nf = n as f64;
        let mine = local.len() as f64 / nf;
        let part = zonal_share(all, local, &function, nf);
        self.keep(d, function);
        let (mean, grad) = part?;
        Ok((nf * (mean + mine * self.constant(d)), grad))
    }
}

/// On a device: the pair function with the constant term in its table's offset
/// (`N (mean f + C) = N mean (f + C)`), so that the pairs' sum does not cancel.
impl Planned for SusregIntegrated {
    fn on_sphere(&self) -> bool {
        true
    }

    fn plan(&mut self, d: usize, norms: &[f64], _gradient: bool) -> Result<Plan> {
        check_shape(norms.len(), d, 2, None)?;
        let function = self.function_for(d);
        let table = PlanTable::required(function.table(), "SUSReg-integrated");
        self.keep(d, function);
        Ok(Plan::Zonal(ZonalPlan {
            table: table?,
            offset: self.constant(d),
            factor: norms.len() as f64,
        }))
    }
}
