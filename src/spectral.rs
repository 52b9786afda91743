//! The spectral objectives' one shell: a zonal kernel mapped, coefficient by
//! coefficient of its Gegenbauer series, to the pair function whose mean over the
//! pairs is the objective (MMD: the kernel without its constant term; KSD: the
//! Stein kernel), tabulated for the engine, on the paper or the raw scale. [`Mmd`]
//! and [`Ksd`] are thin definitions over it.
//!
//! [`Mmd`]: crate::Mmd
//! [`Ksd`]: crate::Ksd

use crate::error::Result;
use crate::kernel::{Kernel, describe};
use crate::plan::{Plan, PlanTable, Planned, ZonalPlan};
use crate::real::Real;
use crate::regularizer::{GradientSink, Objective, Scale};
use crate::shard::PairShare;
use crate::workspace::Workspace;
use crate::zonal::{Tabulated, ZonalSeries, zonal_mean, zonal_share};
use ndarray::{Array2, ArrayView2};
use std::ops::Range;

/// A kernel, the tabulated pair function its objective averages, and the scale.
#[derive(Debug, Clone)]
pub(crate) struct Spectral {
    pub kernel: Kernel,
    /// The pair function `f(c) = sum_l map(l, a_l) P_l(d; c)` of the kernel's
    /// coefficients `a_l`.
    pub pair: Tabulated<ZonalSeries>,
    pub scale: Scale,
    ws: Workspace,
}

impl Spectral {
    /// The objective of `kernel` whose pair function has the coefficients
    /// `map(l, a_l)`, on the paper scale.
    pub fn new(kernel: Kernel, map: impl Fn(usize, f64) -> f64) -> Self {
        let pair = kernel.series().map_coeffs(map);
        Spectral {
            pair: Tabulated::new(ZonalSeries::new(pair)),
            kernel,
            scale: Scale::Paper,
            ws: Workspace::default(),
        }
    }

    /// `loss = mean f * factor`: 1 on the raw scale, `1/f(1)` on the paper scale
    /// (total collapse gives 1).
    fn factor(&self) -> f64 {
        match self.scale {
            Scale::Raw => 1.0,
            Scale::Paper => 1.0 / self.pair.exact.value.eval(1.0),
        }
    }
}

/// An objective made of a [`Spectral`] shell: its name, and the shell.
pub(crate) trait SpectralObjective: Send {
    /// The name in labels, e.g. `"MMD"`.
    const NAME: &'static str;
    fn spectral(&self) -> &Spectral;
    fn spectral_mut(&mut self) -> &mut Spectral;
}

impl<T: SpectralObjective> Objective for T {
    fn label(&self) -> String {
        format!("{}[{}]", T::NAME, describe(&self.spectral().kernel))
    }

    fn width(&self) -> Option<usize> {
        Some(self.spectral().kernel.dim())
    }

    fn evaluate<F: Real, S: GradientSink<F>>(
        &mut self,
        z: ArrayView2<F>,
        sink: &mut S,
    ) -> Result<f64> {
        let s = self.spectral_mut();
        let factor = s.factor();
        let mean = zonal_mean(z, &s.pair, factor, sink, &mut s.ws)?;
        Ok(mean * factor)
    }
}

/// Sharded: the gathered rows, no exchange between the phases.
impl<T: SpectralObjective> PairShare for T {
    const NAME: &'static str = <T as SpectralObjective>::NAME;

    fn share<F: Real>(
        &mut self,
        all: ArrayView2<F>,
        local: Range<usize>,
    ) -> Result<(f64, Array2<F>)> {
        let s = self.spectral();
        let factor = s.factor();
        let (mean, grad) = zonal_share(all, local, &s.pair, factor)?;
        Ok((mean * factor, grad))
    }
}

impl<T: SpectralObjective> Planned for T {
    fn required_dim(&self) -> Option<usize> {
        self.width()
    }

    fn on_sphere(&self) -> bool {
        true
    }

    fn plan(&mut self, d: usize, norms: &[f64], _gradient: bool) -> Result<Plan> {
        let s = self.spectral();
        crate::rows::check_shape(norms.len(), d, 2, Some(s.kernel.dim()))?;
        Ok(Plan::Zonal(ZonalPlan {
            table: PlanTable::required(s.pair.table(), <T as SpectralObjective>::NAME)?,
            offset: 0.0,
            factor: s.factor(),
        }))
    }
}
