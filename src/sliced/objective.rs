//! The one sliced objective, parameterised by what its projections are tested
//! against ([`Projection`]): SIGReg ([`Gaussian`](super::Gaussian): raw rows,
//! `N(0, 1)`) and SUSReg ([`SphereMarginal`](super::SphereMarginal): unit rows
//! scaled by `sqrt(d)`, the uniform distribution's marginal). Directions, grid,
//! call counter, sharding and device plans are written once, here.

use super::statistic::{GlobalSums, Slicing, global_rows};
use super::{Directions, EppsPulleyGrid};
use crate::error::Result;
use crate::plan::{Plan, Planned, SlicedPlan};
use crate::real::Real;
use crate::regularizer::{AddScaled, GradientSink, Objective};
use crate::rows::{SphereRows, check_input, check_shape};
use crate::shard::{Exchange, Shard, ShardResult, Sharded};
use crate::workspace::{Buffers, Projections, Workspace, zeroed};
use ndarray::{Array2, ArrayView2, AsArray, Ix2};

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::super::Gaussian {}
    impl Sealed for super::super::SphereMarginal {}
}

/// What a sliced objective's projections are tested against: whether the rows
/// are normalised first, the projections' scale, and the target characteristic
/// function. Implemented by [`Gaussian`](super::Gaussian) (SIGReg) and
/// [`SphereMarginal`](super::SphereMarginal) (SUSReg); sealed.
pub trait Projection: sealed::Sealed + Clone + Default + std::fmt::Debug + Send + Sync {
    /// The objective's name in labels.
    const NAME: &'static str;
    /// Whether rows are normalised onto the sphere before they are projected.
    const ON_SPHERE: bool;
    /// The projections' scale for rows of width `d`.
    fn scale(&self, d: usize) -> f64;
    /// The target characteristic function at the grid's knots, for width `d`.
    fn target(&self, grid: &EppsPulleyGrid, d: usize) -> Vec<f64>;
}

/// A sliced regularizer: `M` directions per call (fresh from `(seed, step)`, or
/// fixed), the Epps–Pulley grid, and the test `P`. Used through its aliases
/// [`Sigreg`](super::Sigreg) and [`Susreg`](super::Susreg).
#[derive(Debug, Clone)]
pub struct Sliced<P> {
    directions: Directions,
    grid: EppsPulleyGrid,
    test: P,
    ws: Workspace,
}

impl<P: Projection> Sliced<P> {
    /// `slices` fresh directions per call from a generator seeded with `seed`.
    pub fn new(slices: usize, seed: u64) -> Result<Self> {
        Ok(Sliced {
            directions: Directions::fresh(slices, seed)?,
            grid: EppsPulleyGrid::default(),
            test: P::default(),
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

    /// Fixed directions as [`Sliced::try_with_directions`], in a builder chain that
    /// returns `Self`: unusable directions are reported by every call instead of
    /// here.
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

    /// The number of calls that have drawn directions so far (the next call draws
    /// with this step), counted from 0 or from [`Sliced::with_step`].
    pub fn step(&self) -> u64 {
        self.directions.step()
    }

    /// The same regularizer at call counter `step`: it draws next what a regularizer
    /// with the same seed draws at its call number `step`. To resume a run, save
    /// [`Sliced::step`] with the checkpoint and restore it here.
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

    /// The test (e.g. to read [`SphereMarginal`](super::SphereMarginal)'s target rule).
    pub(super) fn test_mut(&mut self) -> &mut P {
        &mut self.test
    }

    /// Runs `f` on this call's slicing of `z`'s rows (the directions drawn, or with
    /// `peek` only looked at), with the unit rows where the test normalises, the
    /// projections' work buffers and the gradient's buffer.
    fn with_slicing<F: Real, R>(
        &mut self,
        z: ArrayView2<F>,
        peek: bool,
        f: impl FnOnce(
            Slicing<'_, F>,
            Option<&SphereRows<'_, F>>,
            &mut Projections<F>,
            &mut Vec<F>,
        ) -> Result<R>,
    ) -> Result<R> {
        let d = z.ncols();
        let psi = self.test.target(&self.grid, d);
        let Sliced {
            directions,
            grid,
            test,
            ws,
        } = self;
        ws.with(|b: &mut Buffers<F>| {
            let sphere = match P::ON_SPHERE {
                true => Some(SphereRows::new(&z, &mut b.rows, &mut b.norms)?),
                false => None,
            };
            let a = match peek {
                true => directions.peek(d, &mut b.slices.directions)?,
                false => directions.next(d, &mut b.slices.directions)?,
            };
            let slicing = Slicing {
                x: sphere.as_ref().map_or(z.reborrow(), |r| r.x.reborrow()),
                a,
                scale: test.scale(d),
                grid,
                psi: &psi,
            };
            f(
                slicing,
                sphere.as_ref(),
                &mut b.slices.projections,
                &mut b.grad,
            )
        })
    }

    /// The statistic of `z`'s rows for this call (drawing its directions), with
    /// `global` sums for a shard; the gradient, where `sink` wants it, is formed in
    /// the workspace's buffer and handed to `sink`.
    fn run<F: Real, S: GradientSink<F>>(
        &mut self,
        z: ArrayView2<F>,
        global: Option<GlobalSums>,
        sink: &mut S,
    ) -> Result<f64> {
        let (n, d) = z.dim();
        self.with_slicing(z, false, |slicing, sphere, work, grad_buf| {
            let mut grad = match S::WANTED {
                true => Some(zeroed(grad_buf, n, d)?),
                false => None,
            };
            let loss = slicing.statistic(global, grad.as_mut(), work)?;
            if let Some(mut g) = grad {
                if let Some(rows) = sphere {
                    rows.chain(&mut g, 1.0);
                }
                sink.add(g.view())?;
            }
            Ok(loss)
        })
    }
}

impl<P: Projection> Objective for Sliced<P> {
    fn label(&self) -> String {
        format!("{}[{}]", P::NAME, self.directions.describe())
    }

    fn evaluate<F: Real, S: GradientSink<F>>(
        &mut self,
        z: ArrayView2<F>,
        sink: &mut S,
    ) -> Result<f64> {
        self.run(z, None, sink)
    }
}

/// Sharded as LeJEPA distributes SIGReg: every rank draws the same directions from
/// `(seed, step)`, and between the phases the characteristic-function sums of every
/// direction (`2 M K` numbers) and the row count are all-reduced; every rank then
/// has the same loss, with LeJEPA's factor `N` the global row count, and the exact
/// gradient with respect to its own rows. Only the local rows are needed.
impl<F: Real, P: Projection> Sharded<F> for Sliced<P> {
    fn needs_all_rows(&self) -> bool {
        false
    }

    fn shard_begin(&mut self, shard: &Shard<F>) -> Result<Exchange> {
        let z = shard.local_rows();
        check_input(&z, 1, None)?;
        self.with_slicing(z, true, |slicing, _, work, _| {
            let mut sums = slicing.sums(&mut work.values)?;
            sums.push(z.nrows() as f64);
            Ok(Exchange::Sum(sums))
        })
    }

    fn shard_finish(&mut self, shard: &Shard<F>, exchanged: &[f64]) -> Result<ShardResult<F>> {
        let z = shard.local_rows();
        check_input(&z, 1, None)?;
        let n = z.nrows();
        let rows = global_rows(&self.directions, &self.grid, exchanged, n)?;
        let global = GlobalSums {
            sums: &exchanged[..exchanged.len() - 1],
            rows,
        };
        let mut grad = Array2::<F>::zeros(z.dim());
        let mut sink = AddScaled::new(z.dim(), grad.view_mut(), 1.0)?;
        let loss = self.run(z, Some(global), &mut sink)?;
        Ok(ShardResult {
            share: loss * (n as f64 / rows as f64),
            loss: Some(loss),
            grad,
        })
    }
}

impl<P: Projection> Planned for Sliced<P> {
    fn on_sphere(&self) -> bool {
        P::ON_SPHERE
    }

    fn plan(&mut self, d: usize, norms: &[f64], _gradient: bool) -> Result<Plan> {
        check_shape(norms.len(), d, 2, None)?;
        let target = self.test.target(&self.grid, d);
        let mut buf = Vec::new();
        let slices = self.directions.next::<f64>(d, &mut buf)?.nrows();
        Ok(Plan::Sliced(SlicedPlan {
            directions: buf,
            slices,
            on_sphere: P::ON_SPHERE,
            scale: self.test.scale(d),
            knots: self.grid.knots().to_vec(),
            weights: self.grid.weights().to_vec(),
            target,
        }))
    }
}
