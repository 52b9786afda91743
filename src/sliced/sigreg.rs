//! SIGReg (LeJEPA): sliced Epps–Pulley test of raw embeddings against `N(0, I)`.

#[cfg(feature = "burn")]
use super::DeviceCall;
use super::{Directions, EppsPulleyGrid, GlobalSums, global_rows, sliced_statistic, sliced_sums};
use crate::error::Result;
use crate::real::Real;
use crate::regularizer::{GradientSink, Objective};
use crate::rows::check_input;
use crate::shard::{Exchange, Shard, ShardResult, Sharded};
use crate::workspace::{Buffers, Workspace, zeroed};
use ndarray::{Array2, ArrayView2, AsArray, Ix2};

/// SIGReg, exactly as LeJEPA's code: `M` directions uniform on the sphere, the
/// Epps–Pulley statistic of each projection `u_n = a_m . z_n` of the raw (not
/// normalised) embeddings against `psi(t) = exp(-t^2/2)`, averaged over directions.
///
/// Directions are drawn afresh on every call from the regularizer's own generator,
/// seeded with `seed` and advanced by a call counter (LeJEPA's global step), so two
/// instances with the same seed give the same sequence. For exactly Gaussian data
/// the expected value is `sum_k omega_k (1 - exp(-t_k^2))` (~1.0525 on the default
/// grid). LeJEPA uses 256 slices.
///
/// The call counter is [`Sigreg::step`]; [`Sigreg::with_step`] sets it, so a run
/// resumed at step `k` draws the directions the original run drew from step `k` on.
/// `clone()` copies the counter: the clone and the original then draw the same
/// sequence of directions, each advancing its own counter.
///
/// ```
/// use unisphere::{Regularizer, Sigreg, ndarray::Array2};
/// let mut reg = Sigreg::new(256, 0)?;
/// let z = Array2::from_shape_fn((64, 8), |(i, j)| ((i * 13 + j * 7) % 17) as f32 / 4.0 - 2.0);
/// let (first, grad) = reg.loss_and_grad(z.view())?;
/// let second = reg.loss(z.view())?; // fresh directions: a different value
/// assert!(first != second && grad.dim() == (64, 8));
/// # Ok::<(), unisphere::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Sigreg {
    directions: Directions,
    grid: EppsPulleyGrid,
    ws: Workspace,
}

impl Sigreg {
    /// `slices` fresh directions per call from a generator seeded with `seed`.
    pub fn new(slices: usize, seed: u64) -> Result<Self> {
        Ok(Sigreg {
            directions: Directions::fresh(slices, seed)?,
            grid: EppsPulleyGrid::default(),
            ws: Workspace::default(),
        })
    }

    /// The Epps–Pulley grid: `knots` (odd, >= 3) points on `[0, t_max]`.
    pub fn with_grid(mut self, t_max: f64, knots: usize) -> Result<Self> {
        self.grid = EppsPulleyGrid::new(t_max, knots)?;
        Ok(self)
    }

    /// Fixed directions, one per row (`M x d`, as `&Array2<f64>` or a view),
    /// normalised inside; the call counter no longer matters. An empty matrix, fewer
    /// than 2 columns, or a zero, NaN or infinite row is an error here; input of
    /// another width than `d` is an error on the call.
    ///
    /// ```
    /// use unisphere::{Regularizer, Sigreg, ndarray::{Array2, array}};
    /// let a = array![[1.0, 0.0], [1.0, 1.0]];
    /// let mut reg = Sigreg::new(1, 0)?.try_with_directions(&a)?;
    /// let z = Array2::from_shape_fn((16, 2), |(i, j)| (i * 3 + j) as f64 / 8.0 - 3.0);
    /// assert_eq!(reg.loss(z.view())?, reg.loss(z.view())?); // the same directions
    /// assert!(Sigreg::new(1, 0)?.try_with_directions(&array![[0.0, 0.0]]).is_err());
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn try_with_directions<'a>(mut self, a: impl AsArray<'a, f64, Ix2>) -> Result<Self> {
        self.directions = Directions::fixed(a.into())?;
        Ok(self)
    }

    /// Fixed directions as [`Sigreg::try_with_directions`], in the builder chain of
    /// SPEC section 6 (`.with_directions(a)` returns `Self`): unusable directions are
    /// reported by every call instead of here.
    ///
    /// ```
    /// use unisphere::{Regularizer, Sigreg, ndarray::{Array2, array}};
    /// let z = Array2::from_shape_fn((16, 2), |(i, j)| (i * 3 + j) as f64 / 8.0 - 3.0);
    /// let mut bad = Sigreg::new(1, 0)?.with_directions(&array![[0.0, 0.0]]);
    /// assert!(bad.loss(z.view()).is_err());
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn with_directions<'a>(self, a: impl AsArray<'a, f64, Ix2>) -> Self {
        let mut out = self;
        out.directions = Directions::fixed(a.into()).unwrap_or_else(Directions::unusable);
        out
    }

    /// The number of calls that have drawn directions so far (the next call draws
    /// with this step), counted from 0 or from [`Sigreg::with_step`].
    pub fn step(&self) -> u64 {
        self.directions.step()
    }

    /// The same regularizer at call counter `step`: it draws next what a regularizer
    /// with the same seed draws at its call number `step`. To resume a run, save
    /// [`Sigreg::step`] with the checkpoint and restore it here.
    ///
    /// ```
    /// use unisphere::{Regularizer, Sigreg, ndarray::Array2};
    /// let z = Array2::from_shape_fn((32, 4), |(i, j)| ((i * 7 + j * 5) % 9) as f64 - 4.0);
    /// let mut run = Sigreg::new(64, 3)?;
    /// for _ in 0..5 { run.loss(z.view())?; }
    /// assert_eq!(run.step(), 5);
    /// let mut resumed = Sigreg::new(64, 3)?.with_step(5);
    /// assert_eq!(run.loss(z.view())?, resumed.loss(z.view())?);
    /// # Ok::<(), unisphere::Error>(())
    /// ```
    pub fn with_step(mut self, step: u64) -> Self {
        self.directions.set_step(step);
        self
    }

    /// The grid.
    pub fn grid(&self) -> &EppsPulleyGrid {
        &self.grid
    }
}

#[cfg(feature = "burn")]
impl Sigreg {
    /// What the device path computes for a call on rows of dimension `d`: this
    /// call's directions (advancing the counter, as [`Objective::evaluate`] does),
    /// the scale 1, the grid and the Gaussian target.
    pub(crate) fn device_call(&mut self, d: usize) -> Result<DeviceCall<'_>> {
        let psi = self.grid.gaussian_target();
        DeviceCall::draw(&mut self.directions, d, 1.0, &self.grid, psi)
    }
}

impl Objective for Sigreg {
    fn label(&self) -> String {
        format!("SIGReg[{}]", self.directions.describe())
    }

    fn evaluate<F: Real, S: GradientSink<F>>(
        &mut self,
        z: ArrayView2<F>,
        sink: &mut S,
    ) -> Result<f64> {
        check_input(&z, 2, None)?;
        let (n, d) = z.dim();
        let Sigreg {
            directions,
            grid,
            ws,
        } = self;
        ws.with(|b: &mut Buffers<F>| {
            let [dirs, proj, dproj] = &mut b.slices;
            let a = directions.next(d, dirs)?;
            let psi = grid.gaussian_target();
            let mut grad = if S::WANTED {
                Some(zeroed(&mut b.grad, n, d)?)
            } else {
                None
            };
            let loss = sliced_statistic(z, a, 1.0, grid, &psi, None, grad.as_mut(), proj, dproj)?;
            if let Some(g) = grad {
                sink.add(g.view())?;
            }
            Ok(loss)
        })
    }
}

/// SIGReg sharded, as LeJEPA distributes it: every rank draws the same directions
/// from `(seed, step)`, and between the phases the characteristic-function sums of
/// every direction (`2 M K` numbers) and the row count are all-reduced; every rank
/// then has the same loss, with LeJEPA's factor `N` the global row count, and the
/// exact gradient with respect to its own rows. Only the local rows are needed.
impl<F: Real> Sharded<F> for Sigreg {
    fn needs_all_rows(&self) -> bool {
        false
    }

    fn shard_begin(&mut self, shard: &Shard<F>) -> Result<Exchange> {
        let z = shard.local_rows();
        check_input(&z, 1, None)?;
        let Sigreg {
            directions,
            grid,
            ws,
        } = self;
        ws.with(|b: &mut Buffers<F>| {
            let [dirs, proj, _] = &mut b.slices;
            let a = directions.peek(z.ncols(), dirs)?;
            let mut sums = sliced_sums(z, a, 1.0, grid, proj)?;
            sums.push(z.nrows() as f64);
            Ok(Exchange::Sum(sums))
        })
    }

    fn shard_finish(&mut self, shard: &Shard<F>, exchanged: &[f64]) -> Result<ShardResult<F>> {
        let z = shard.local_rows();
        check_input(&z, 1, None)?;
        let (n, d) = z.dim();
        let rows = global_rows(&self.directions, &self.grid, exchanged, n)?;
        let Sigreg {
            directions,
            grid,
            ws,
        } = self;
        let psi = grid.gaussian_target();
        let mut grad = Array2::<F>::zeros((n, d));
        let loss = ws.with(|b: &mut Buffers<F>| {
            let [dirs, proj, dproj] = &mut b.slices;
            let a = directions.next(d, dirs)?;
            let global = GlobalSums {
                sums: &exchanged[..exchanged.len() - 1],
                rows,
            };
            let mut g = grad.view_mut();
            sliced_statistic(
                z,
                a,
                1.0,
                grid,
                &psi,
                Some(global),
                Some(&mut g),
                proj,
                dproj,
            )
        })?;
        Ok(ShardResult {
            share: loss * (n as f64 / rows as f64),
            loss: Some(loss),
            grad,
        })
    }
}
