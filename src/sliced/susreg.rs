//! SUSReg (SPHERE-JEPA): sliced Epps–Pulley test of normalised embeddings against
//! the scaled marginal of the uniform distribution on the sphere.

#[cfg(feature = "burn")]
use super::DeviceCall;
use super::{Directions, EppsPulleyGrid, GlobalSums, global_rows, sliced_statistic, sliced_sums};
use crate::error::Result;
use crate::real::Real;
use crate::regularizer::{GradientSink, Objective};
use crate::rows::{SphereRows, check_input};
use crate::shard::{Exchange, Shard, ShardResult, Sharded};
use crate::special::omega;
use crate::workspace::{Buffers, Workspace, zeroed};
use ndarray::{Array2, ArrayView2, AsArray, Ix2};

/// Above this dimension SPHERE-JEPA swaps the exact target for `N(0, 1)`.
pub const GAUSSIAN_TARGET_ABOVE: usize = 256;

/// The target characteristic function of SUSReg on the grid: `Omega_d(sqrt(d) t)`,
/// or `exp(-t^2/2)` where `d > 256` and the exact target was not asked for.
pub(crate) fn susreg_target(grid: &EppsPulleyGrid, d: usize, exact: Option<bool>) -> Vec<f64> {
    if !exact.unwrap_or(d <= GAUSSIAN_TARGET_ABOVE) {
        return grid.gaussian_target();
    }
    let sd = scale(d);
    grid.knots()
        .iter()
        .map(|&t| omega(d as f64, sd * t))
        .collect()
}

/// The scale of SUSReg's projections, `sqrt(d)`: `u = sqrt(d) x . a` has variance
/// 1 for unit rows `x` uniform on the sphere.
fn scale(d: usize) -> f64 {
    (d as f64).sqrt()
}

/// SUSReg, as SPHERE-JEPA defines it: rows are normalised onto the sphere, projected
/// on `M` uniformly random directions and scaled by `sqrt(d)`, and each projection's
/// Epps–Pulley statistic is taken against the characteristic function of a scaled
/// uniform marginal, `psi(t) = Omega_d(sqrt(d) t)`, `Omega_d(r) = 0F1(; d/2; -r^2/4)`.
/// For `d > 256` the paper swaps in `N(0, 1)`; [`Susreg::with_exact_target`] keeps
/// the exact target. SPHERE-JEPA uses 1024 slices.
///
/// Directions are drawn as [`Sigreg`](super::Sigreg)'s: [`Susreg::step`] and
/// [`Susreg::with_step`] save and restore the call counter, and `clone()` copies it
/// (the clone draws the same sequence as the original from there on).
///
/// ```
/// use unisphere::{Regularizer, Susreg, ndarray::Array2};
/// let mut reg = Susreg::new(1024, 7)?;
/// let z = Array2::from_shape_fn((32, 16), |(i, j)| ((i * 5 + j * 3) % 7) as f64 - 3.0);
/// let (loss, grad) = reg.loss_and_grad(z.view())?;
/// assert!(loss > 0.0 && grad.dim() == (32, 16));
/// # Ok::<(), unisphere::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Susreg {
    directions: Directions,
    grid: EppsPulleyGrid,
    exact_target: Option<bool>,
    ws: Workspace,
}

impl Susreg {
    /// `slices` fresh directions per call from a generator seeded with `seed`.
    pub fn new(slices: usize, seed: u64) -> Result<Self> {
        Ok(Susreg {
            directions: Directions::fresh(slices, seed)?,
            grid: EppsPulleyGrid::default(),
            exact_target: None,
            ws: Workspace::default(),
        })
    }

    /// The Epps–Pulley grid: `knots` (odd, >= 3) points on `[0, t_max]`.
    pub fn with_grid(mut self, t_max: f64, knots: usize) -> Result<Self> {
        self.grid = EppsPulleyGrid::new(t_max, knots)?;
        Ok(self)
    }

    /// Fixed directions, one per row (`M x d`, as `&Array2<f64>` or a view),
    /// normalised inside. An empty matrix, fewer than 2 columns, or a zero, NaN or
    /// infinite row is an error here; input of another width than `d` is an error
    /// on the call.
    ///
    /// ```
    /// use unisphere::{Susreg, ndarray::array};
    /// assert!(Susreg::new(1, 0)?.try_with_directions(&array![[1.0, 2.0, 2.0]]).is_ok());
    /// assert!(Susreg::new(1, 0)?.try_with_directions(&array![[f64::NAN, 1.0]]).is_err());
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn try_with_directions<'a>(mut self, a: impl AsArray<'a, f64, Ix2>) -> Result<Self> {
        self.directions = Directions::fixed(a.into())?;
        Ok(self)
    }

    /// Fixed directions as [`Susreg::try_with_directions`], in the builder chain of
    /// SPEC section 6 (`.with_directions(a)` returns `Self`): unusable directions are
    /// reported by every call instead of here.
    ///
    /// ```
    /// use unisphere::{Regularizer, Susreg, ndarray::{Array2, array}};
    /// let z = Array2::from_shape_fn((16, 2), |(i, j)| (i * 3 + j) as f64 / 8.0 - 3.0);
    /// let mut bad = Susreg::new(1, 0)?.with_directions(&array![[0.0, 0.0]]);
    /// assert!(bad.loss(z.view()).is_err());
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn with_directions<'a>(self, a: impl AsArray<'a, f64, Ix2>) -> Self {
        let mut out = self;
        out.directions = Directions::fixed(a.into()).unwrap_or_else(Directions::unusable);
        out
    }

    /// The number of calls that have drawn directions so far, as [`Sigreg::step`](super::Sigreg::step).
    pub fn step(&self) -> u64 {
        self.directions.step()
    }

    /// The same regularizer at call counter `step`, as
    /// [`Sigreg::with_step`](super::Sigreg::with_step).
    ///
    /// ```
    /// use unisphere::{Regularizer, Susreg, ndarray::Array2};
    /// let z = Array2::from_shape_fn((32, 4), |(i, j)| ((i * 7 + j * 5) % 9) as f64 - 4.0);
    /// let mut run = Susreg::new(64, 3)?;
    /// run.loss(z.view())?;
    /// let mut resumed = Susreg::new(64, 3)?.with_step(run.step());
    /// assert_eq!(run.loss(z.view())?, resumed.loss(z.view())?);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn with_step(mut self, step: u64) -> Self {
        self.directions.set_step(step);
        self
    }

    /// `true`: always the exact target `Omega_d(sqrt(d) t)`; `false`: always
    /// `exp(-t^2/2)`. By default the paper's rule (exact for `d <= 256`).
    pub fn with_exact_target(mut self, exact: bool) -> Self {
        self.exact_target = Some(exact);
        self
    }

    /// The grid.
    pub fn grid(&self) -> &EppsPulleyGrid {
        &self.grid
    }
}

#[cfg(feature = "burn")]
impl Susreg {
    /// What the device path computes for a call on unit rows of dimension `d`:
    /// this call's directions (advancing the counter, as [`Objective::evaluate`]
    /// does), the scale `sqrt(d)`, the grid and the target.
    pub(crate) fn device_call(&mut self, d: usize) -> Result<DeviceCall<'_>> {
        let psi = susreg_target(&self.grid, d, self.exact_target);
        DeviceCall::draw(&mut self.directions, d, scale(d), &self.grid, psi)
    }
}

impl Objective for Susreg {
    fn label(&self) -> String {
        format!("SUSReg[{}]", self.directions.describe())
    }

    fn evaluate<F: Real, S: GradientSink<F>>(
        &mut self,
        z: ArrayView2<F>,
        sink: &mut S,
    ) -> Result<f64> {
        check_input(&z, 2, None)?;
        let (n, d) = z.dim();
        let psi = susreg_target(&self.grid, d, self.exact_target);
        let Susreg {
            directions,
            grid,
            ws,
            ..
        } = self;
        ws.with(|b: &mut Buffers<F>| {
            let rows = SphereRows::new(&z, &mut b.rows, &mut b.norms)?;
            let [dirs, proj, dproj] = &mut b.slices;
            let a = directions.next(d, dirs)?;
            let mut grad = if S::WANTED {
                Some(zeroed(&mut b.grad, n, d)?)
            } else {
                None
            };
            let loss = sliced_statistic(
                rows.x,
                a,
                scale(d),
                grid,
                &psi,
                None,
                grad.as_mut(),
                proj,
                dproj,
            )?;
            if let Some(mut g) = grad {
                rows.chain(&mut g, 1.0);
                sink.add(g.view())?;
            }
            Ok(loss)
        })
    }
}

/// SUSReg sharded, as [`Sigreg`](super::Sigreg)'s: the same directions on every
/// rank, the characteristic-function sums and the row count all-reduced between the
/// phases, the same loss on every rank and the exact gradient of its own rows. Only
/// the local rows are needed.
impl<F: Real> Sharded<F> for Susreg {
    fn needs_all_rows(&self) -> bool {
        false
    }

    fn shard_begin(&mut self, shard: &Shard<F>) -> Result<Exchange> {
        let z = shard.local_rows();
        check_input(&z, 1, None)?;
        let d = z.ncols();
        let Susreg {
            directions,
            grid,
            ws,
            ..
        } = self;
        ws.with(|b: &mut Buffers<F>| {
            let rows = SphereRows::new(&z, &mut b.rows, &mut b.norms)?;
            let [dirs, proj, _] = &mut b.slices;
            let a = directions.peek(d, dirs)?;
            let mut sums = sliced_sums(rows.x, a, scale(d), grid, proj)?;
            sums.push(z.nrows() as f64);
            Ok(Exchange::Sum(sums))
        })
    }

    fn shard_finish(&mut self, shard: &Shard<F>, exchanged: &[f64]) -> Result<ShardResult<F>> {
        let z = shard.local_rows();
        check_input(&z, 1, None)?;
        let (n, d) = z.dim();
        let total = global_rows(&self.directions, &self.grid, exchanged, n)?;
        let psi = susreg_target(&self.grid, d, self.exact_target);
        let Susreg {
            directions,
            grid,
            ws,
            ..
        } = self;
        let mut grad = Array2::<F>::zeros((n, d));
        let loss = ws.with(|b: &mut Buffers<F>| {
            let rows = SphereRows::new(&z, &mut b.rows, &mut b.norms)?;
            let [dirs, proj, dproj] = &mut b.slices;
            let a = directions.next(d, dirs)?;
            let global = GlobalSums {
                sums: &exchanged[..exchanged.len() - 1],
                rows: total,
            };
            let mut g = grad.view_mut();
            let loss = sliced_statistic(
                rows.x,
                a,
                scale(d),
                grid,
                &psi,
                Some(global),
                Some(&mut g),
                proj,
                dproj,
            )?;
            rows.chain(&mut g, 1.0);
            Ok::<f64, crate::Error>(loss)
        })?;
        Ok(ShardResult {
            share: loss * (n as f64 / total as f64),
            loss: Some(loss),
            grad,
        })
    }
}
