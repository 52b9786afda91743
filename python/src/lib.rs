//! Python bindings of `unisphere` (the extension module `unisphere._unisphere`).
//!
//! Every objective accepts a 2-D numpy array of `float32` or `float64` in any
//! memory layout (strided views included, read in place) and returns a Python
//! float and, with the gradient, a new C-contiguous array of the input's dtype.
//! Every `unisphere::Error` becomes a `ValueError` carrying the same message, and
//! the GIL is released while the crate computes.

mod plan;

use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use unisphere::plan::Planned;
use unisphere::shard::{Exchange, Shard, Sharded};
use unisphere::uniformity::{PValueMethod, UniformityTest};
use unisphere::{Regularizer, Scale};

fn value_error(e: unisphere::Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A borrowed 2-D input of one of the two supported dtypes.
enum Rows<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
}

fn rows<'py>(z: &Bound<'py, PyAny>) -> PyResult<Rows<'py>> {
    let arr = z.cast::<PyUntypedArray>().map_err(|_| {
        let found = z
            .get_type()
            .name()
            .map_or_else(|_| "?".to_string(), |n| n.to_string());
        PyValueError::new_err(format!(
            "z must be a numpy.ndarray of float32 or float64, found {found}"
        ))
    })?;
    if arr.ndim() != 2 {
        return Err(PyValueError::new_err(format!(
            "z must be a 2-D array (N x d), found {} dimension(s)",
            arr.ndim()
        )));
    }
    if let Ok(a) = z.cast::<PyArray2<f32>>() {
        return Ok(Rows::F32(a.try_readonly()?));
    }
    if let Ok(a) = z.cast::<PyArray2<f64>>() {
        return Ok(Rows::F64(a.try_readonly()?));
    }
    Err(PyValueError::new_err(format!(
        "z must have dtype float32 or float64, found {}",
        arr.dtype()
    )))
}

/// An objective of the crate for both input types, sharded or not, with its plan.
trait Objective:
    Regularizer<f32> + Regularizer<f64> + Sharded<f32> + Sharded<f64> + Planned + Send
{
}
impl<T> Objective for T where
    T: Regularizer<f32> + Regularizer<f64> + Sharded<f32> + Sharded<f64> + Planned + Send
{
}

/// This rank's view of a sharded batch: all rows with its range, or its rows alone.
fn shard_of<F: unisphere::Real>(
    z: numpy::ndarray::ArrayView2<'_, F>,
    range: Option<(usize, usize)>,
) -> unisphere::Result<Shard<'_, F>> {
    match range {
        Some((start, end)) => Shard::new(z, start..end),
        None => Ok(Shard::local(z)),
    }
}

/// Phase 1 of the shard protocol: `(kind, numbers)` with kind `"nothing"`,
/// `"gather_rows"` (all-gather the numbers, in rank order) or `"sum"` (all-reduce).
fn shard_begin<'py, R: Objective>(
    py: Python<'py>,
    reg: &mut R,
    z: &Bound<'py, PyAny>,
    range: Option<(usize, usize)>,
) -> PyResult<(&'static str, Bound<'py, PyArray1<f64>>)> {
    let exchange = match rows(z)? {
        Rows::F32(a) => {
            let v = a.as_array();
            py.detach(|| Sharded::<f32>::shard_begin(reg, &shard_of(v, range)?))
        }
        Rows::F64(a) => {
            let v = a.as_array();
            py.detach(|| Sharded::<f64>::shard_begin(reg, &shard_of(v, range)?))
        }
    }
    .map_err(value_error)?;
    let (kind, numbers) = match exchange {
        Exchange::Nothing => ("nothing", Vec::new()),
        Exchange::GatherRows(v) => ("gather_rows", v),
        Exchange::Sum(v) => ("sum", v),
    };
    Ok((kind, PyArray1::from_vec(py, numbers)))
}

/// Phase 2 of the shard protocol: `(share, loss or None, gradient of this rank's rows)`.
fn shard_finish<'py, R: Objective>(
    py: Python<'py>,
    reg: &mut R,
    z: &Bound<'py, PyAny>,
    range: Option<(usize, usize)>,
    exchanged: PyReadonlyArray1<'py, f64>,
) -> PyResult<(f64, Option<f64>, Bound<'py, PyAny>)> {
    let exchanged = exchanged.as_slice()?;
    Ok(match rows(z)? {
        Rows::F32(a) => {
            let v = a.as_array();
            let r = py
                .detach(|| Sharded::<f32>::shard_finish(reg, &shard_of(v, range)?, exchanged))
                .map_err(value_error)?;
            (r.share, r.loss, r.grad.into_pyarray(py).into_any())
        }
        Rows::F64(a) => {
            let v = a.as_array();
            let r = py
                .detach(|| Sharded::<f64>::shard_finish(reg, &shard_of(v, range)?, exchanged))
                .map_err(value_error)?;
            (r.share, r.loss, r.grad.into_pyarray(py).into_any())
        }
    })
}

fn loss<R: Objective>(py: Python<'_>, reg: &mut R, z: &Bound<'_, PyAny>) -> PyResult<f64> {
    match rows(z)? {
        Rows::F32(a) => {
            let v = a.as_array();
            py.detach(|| reg.loss(v))
        }
        Rows::F64(a) => {
            let v = a.as_array();
            py.detach(|| reg.loss(v))
        }
    }
    .map_err(value_error)
}

fn loss_and_grad<'py, R: Objective>(
    py: Python<'py>,
    reg: &mut R,
    z: &Bound<'py, PyAny>,
) -> PyResult<(f64, Bound<'py, PyAny>)> {
    Ok(match rows(z)? {
        Rows::F32(a) => {
            let v = a.as_array();
            let (l, g) = py.detach(|| reg.loss_and_grad(v)).map_err(value_error)?;
            (l, g.into_pyarray(py).into_any())
        }
        Rows::F64(a) => {
            let v = a.as_array();
            let (l, g) = py.detach(|| reg.loss_and_grad(v)).map_err(value_error)?;
            (l, g.into_pyarray(py).into_any())
        }
    })
}

fn parse_scale(scale: &str) -> PyResult<Scale> {
    match scale {
        "paper" => Ok(Scale::Paper),
        "raw" => Ok(Scale::Raw),
        s => Err(PyValueError::new_err(format!(
            "invalid parameter scale = {s}: expected \"paper\" or \"raw\""
        ))),
    }
}

/// How a kernel was built: its constructor and arguments (for `repr` and pickling).
#[derive(Clone, Debug)]
enum KernelSpec {
    Heat(usize, f64),
    Bandlimited(usize, usize),
    FromWeights(usize, Vec<f64>),
    SusregInduced(usize),
}

/// A zonal kernel on the sphere S^{d-1} (a Gegenbauer series). Build one with
/// `Kernel.heat`, `Kernel.bandlimited`, `Kernel.from_weights` or
/// `Kernel.susreg_induced`.
#[pyclass(name = "Kernel", module = "unisphere", frozen)]
struct PyKernel {
    spec: KernelSpec,
    inner: unisphere::Kernel,
}

impl PyKernel {
    fn build(spec: KernelSpec) -> PyResult<Self> {
        let inner = match &spec {
            KernelSpec::Heat(d, t) => unisphere::Kernel::heat(*d, *t),
            KernelSpec::Bandlimited(d, l) => unisphere::Kernel::bandlimited(*d, *l),
            KernelSpec::FromWeights(d, w) => unisphere::Kernel::from_weights(*d, w),
            KernelSpec::SusregInduced(d) => unisphere::Kernel::susreg_induced(*d),
        }
        .map_err(value_error)?;
        Ok(PyKernel { spec, inner })
    }
}

#[pymethods]
impl PyKernel {
    /// The heat kernel `w_l = exp(-t l (l + d - 2))` on S^{d-1}, truncated where
    /// the tail is below 1e-12 of Z. The papers' settings: t = 5/d (MMD, KSD),
    /// t = 2/d (KDE-KL).
    #[staticmethod]
    fn heat(d: usize, t: f64) -> PyResult<Self> {
        Self::build(KernelSpec::Heat(d, t))
    }

    /// The bandlimited kernel `w_l = 1` for `l <= degree`.
    #[staticmethod]
    fn bandlimited(d: usize, degree: usize) -> PyResult<Self> {
        Self::build(KernelSpec::Bandlimited(d, degree))
    }

    /// A kernel from non-negative spectral weights `w_0, w_1, ...`.
    #[staticmethod]
    fn from_weights(d: usize, weights: Vec<f64>) -> PyResult<Self> {
        Self::build(KernelSpec::FromWeights(d, weights))
    }

    /// SPHERE-JEPA's induced kernel `1F1(1/2; d/2; -d (1 - c))`.
    #[staticmethod]
    fn susreg_induced(d: usize) -> PyResult<Self> {
        Self::build(KernelSpec::SusregInduced(d))
    }

    /// The ambient dimension d (points on S^{d-1}).
    #[getter]
    fn d(&self) -> usize {
        self.inner.dim()
    }

    /// The highest Gegenbauer degree kept.
    #[getter]
    fn degree(&self) -> usize {
        self.inner.degree()
    }

    /// The spectral weights `w_0 .. w_degree`.
    #[getter]
    fn weights(&self) -> Vec<f64> {
        self.inner.weights().to_vec()
    }

    /// The kernel normaliser Z = K(1) / (uniform mean).
    #[getter]
    fn z(&self) -> f64 {
        self.inner.z()
    }

    /// The kernel at cosine similarity `c` in [-1, 1], normalised so K(1) = 1.
    fn eval(&self, c: f64) -> f64 {
        self.inner.eval(c)
    }

    fn __repr__(&self) -> String {
        match &self.spec {
            KernelSpec::Heat(d, t) => format!("Kernel.heat({d}, {t:?})"),
            KernelSpec::Bandlimited(d, l) => format!("Kernel.bandlimited({d}, {l})"),
            KernelSpec::FromWeights(d, w) => format!("Kernel.from_weights({d}, {w:?})"),
            KernelSpec::SusregInduced(d) => format!("Kernel.susreg_induced({d})"),
        }
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let cls = py.get_type::<PyKernel>();
        let (ctor, args) = match &self.spec {
            KernelSpec::Heat(d, t) => ("heat", (d, t).into_pyobject(py)?),
            KernelSpec::Bandlimited(d, l) => ("bandlimited", (d, l).into_pyobject(py)?),
            KernelSpec::FromWeights(d, w) => ("from_weights", (d, w).into_pyobject(py)?),
            KernelSpec::SusregInduced(d) => ("susreg_induced", (d,).into_pyobject(py)?),
        };
        (cls.getattr(ctor)?, args).into_pyobject(py)
    }
}

/// The methods every objective class shares: `name`, `loss`, `loss_and_grad`,
/// `__repr__` and `__reduce__` (the constructor with its arguments), plus the
/// class's own `__new__` passed in.
macro_rules! objective_class {
    ($ty:ident, $args:ident, $repr:expr, { $($new:tt)* }) => {
        #[pymethods]
        impl $ty {
            $($new)*

            /// The objective's name, as the Rust crate reports it.
            fn name(&self) -> String {
                Regularizer::<f64>::name(&self.inner)
            }

            /// The loss of the rows of `z` (N x d, float32 or float64, any layout).
            fn loss(&mut self, py: Python<'_>, z: &Bound<'_, PyAny>) -> PyResult<f64> {
                loss(py, &mut self.inner, z)
            }

            /// The loss and its exact gradient with respect to `z` (same shape and
            /// dtype as `z`).
            fn loss_and_grad<'py>(
                &mut self,
                py: Python<'py>,
                z: &Bound<'py, PyAny>,
            ) -> PyResult<(f64, Bound<'py, PyAny>)> {
                loss_and_grad(py, &mut self.inner, z)
            }

            /// The width its kernel fixes, or None where any width goes.
            fn required_dim(&self) -> Option<usize> {
                Planned::required_dim(&self.inner)
            }

            /// Whether rows are normalised onto the sphere (a zero row is an error).
            fn on_sphere(&self) -> bool {
                Planned::on_sphere(&self.inner)
            }

            /// What a device backend computes for the next call on rows of width `d`
            /// with the norms `norms`: a dict (`unisphere::plan`). Sliced objectives
            /// draw the call's directions here and advance their step.
            fn plan<'py>(
                &mut self,
                py: Python<'py>,
                d: usize,
                norms: PyReadonlyArray1<'py, f64>,
                gradient: bool,
            ) -> PyResult<Bound<'py, PyDict>> {
                let norms = norms.as_slice()?;
                let p = self.inner.plan(d, norms, gradient).map_err(value_error)?;
                plan::to_dict(py, &p)
            }

            /// Whether phase 1 of the shard protocol needs every rank's rows.
            fn needs_all_rows(&self) -> bool {
                Sharded::<f64>::needs_all_rows(&self.inner)
            }

            /// Phase 1 of the shard protocol on `z` (all rows with this rank's
            /// `start..end`, or, with neither, this rank's rows alone):
            /// `(kind, numbers)` to exchange.
            #[pyo3(signature = (z, start = None, end = None))]
            fn shard_begin<'py>(
                &mut self,
                py: Python<'py>,
                z: &Bound<'py, PyAny>,
                start: Option<usize>,
                end: Option<usize>,
            ) -> PyResult<(&'static str, Bound<'py, PyArray1<f64>>)> {
                shard_begin(py, &mut self.inner, z, start.zip(end))
            }

            /// Phase 2: `(share, loss or None, gradient of this rank's rows)` from
            /// the exchanged numbers.
            #[pyo3(signature = (z, exchanged, start = None, end = None))]
            fn shard_finish<'py>(
                &mut self,
                py: Python<'py>,
                z: &Bound<'py, PyAny>,
                exchanged: PyReadonlyArray1<'py, f64>,
                start: Option<usize>,
                end: Option<usize>,
            ) -> PyResult<(f64, Option<f64>, Bound<'py, PyAny>)> {
                shard_finish(py, &mut self.inner, z, start.zip(end), exchanged)
            }

            fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                let f: fn(&Self, Python<'_>) -> PyResult<String> = $repr;
                f(self, py)
            }

            fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
                (py.get_type::<$ty>(), self.$args(py)?).into_pyobject(py)
            }
        }
    };
}

macro_rules! kernel_objective {
    ($ty:ident, $name:literal, $rust:ty, $make:expr, $t_times_d:literal, $doc:literal) => {
        #[doc = $doc]
        #[pyclass(name = $name, module = "unisphere")]
        struct $ty {
            kernel: Py<PyKernel>,
            scale: String,
            inner: $rust,
        }

        impl $ty {
            fn ctor_args<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
                (self.kernel.clone_ref(py), self.scale.clone()).into_pyobject(py)
            }
        }

        objective_class!(
            $ty,
            ctor_args,
            |s, py| Ok(format!(
                "{}({}, scale={:?})",
                $name,
                s.kernel.bind(py).borrow().__repr__(),
                s.scale
            )),
            {
                #[new]
                #[pyo3(signature = (kernel, scale = "paper"))]
                fn new(kernel: Bound<'_, PyKernel>, scale: &str) -> PyResult<Self> {
                    let make: fn(unisphere::Kernel, Scale) -> unisphere::Result<$rust> = $make;
                    let inner = make(kernel.get().inner.clone(), parse_scale(scale)?)
                        .map_err(value_error)?;
                    Ok($ty {
                        kernel: kernel.unbind(),
                        scale: scale.to_string(),
                        inner,
                    })
                }

                #[doc = concat!(
                                    "The paper's setting in dimension `d`: the heat kernel at t = ",
                                    stringify!($t_times_d),
                                    "/d."
                                )]
                #[staticmethod]
                #[pyo3(signature = (d, scale = "paper"))]
                fn heat(py: Python<'_>, d: usize, scale: &str) -> PyResult<Self> {
                    let kernel = PyKernel::build(KernelSpec::Heat(d, $t_times_d / d as f64))?;
                    Self::new(Bound::new(py, kernel)?, scale)
                }
            }
        );
    };
}

kernel_objective!(
    PyMmd,
    "Mmd",
    unisphere::Mmd,
    |k, s| Ok(unisphere::Mmd::new(k).with_scale(s)),
    5.0,
    "Squared MMD to the uniform distribution on the sphere, `Mmd(kernel, scale=\"paper\")`.\n\n\
     Rows are normalised inside; the gradient is with respect to the rows given.\n\
     scale=\"paper\" puts total collapse at 1, \"raw\" gives the raw statistic."
);
kernel_objective!(
    PyKsd,
    "Ksd",
    unisphere::Ksd,
    |k, s| Ok(unisphere::Ksd::new(k).with_scale(s)),
    5.0,
    "Kernel Stein discrepancy to the uniform distribution (Killing fields),\n\
     `Ksd(kernel, scale=\"paper\")`."
);
kernel_objective!(
    PyKdeKl,
    "KdeKl",
    unisphere::KdeKl,
    |k, s| match s {
        Scale::Raw => unisphere::KdeKl::raw(k),
        Scale::Paper => unisphere::KdeKl::new(k),
    },
    2.0,
    "Leave-one-out KDE estimate of the KL divergence to uniform (positive kernels),\n\
     `KdeKl(kernel, scale=\"paper\")`."
);

/// Fixed directions from a float64 array (rows normalised inside), if given.
fn fixed_directions(
    directions: Option<PyReadonlyArray2<'_, f64>>,
) -> Option<numpy::ndarray::Array2<f64>> {
    directions.map(|a| a.as_array().to_owned())
}

macro_rules! sliced_objective {
    ($ty:ident, $name:literal, $rust:ty, $slices:literal, $doc:literal, $extra:expr) => {
        #[doc = $doc]
        #[pyclass(name = $name, module = "unisphere")]
        struct $ty {
            slices: usize,
            seed: u64,
            t_max: f64,
            knots: usize,
            directions: Option<numpy::ndarray::Array2<f64>>,
            exact_target: Option<bool>,
            inner: $rust,
        }

        impl $ty {
            fn ctor_args<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
                let directions = self.directions.clone().map(|a| a.into_pyarray(py));
                (
                    self.slices,
                    self.seed,
                    self.t_max,
                    self.knots,
                    directions,
                    self.exact_target,
                    self.inner.step(),
                )
                    .into_pyobject(py)
            }
        }

        objective_class!(
            $ty,
            ctor_args,
            |s, _| Ok(format!(
                "{}({}, {}, t_max={:?}, knots={}{}), step {}",
                $name,
                s.slices,
                s.seed,
                s.t_max,
                s.knots,
                if s.directions.is_some() {
                    ", fixed directions"
                } else {
                    ""
                },
                s.inner.step()
            )),
            {
                #[new]
                #[pyo3(signature = (
                            slices = $slices, seed = 0, t_max = 3.0, knots = 17, directions = None,
                            exact_target = None, step = 0
                        ))]
                #[allow(clippy::too_many_arguments)]
                fn new(
                    slices: usize,
                    seed: u64,
                    t_max: f64,
                    knots: usize,
                    directions: Option<PyReadonlyArray2<'_, f64>>,
                    exact_target: Option<bool>,
                    step: u64,
                ) -> PyResult<Self> {
                    let directions = fixed_directions(directions);
                    let mut inner = <$rust>::new(slices, seed)
                        .and_then(|r| r.with_grid(t_max, knots))
                        .map_err(value_error)?;
                    if let Some(a) = &directions {
                        inner = inner.try_with_directions(a).map_err(value_error)?;
                    }
                    let with_target: fn($rust, Option<bool>) -> PyResult<$rust> = $extra;
                    let inner = with_target(inner, exact_target)?.with_step(step);
                    Ok($ty {
                        slices,
                        seed,
                        t_max,
                        knots,
                        directions,
                        exact_target,
                        inner,
                    })
                }

                /// The number of calls that have drawn directions so far (the next
                /// call draws with this step). Settable, to resume a run.
                #[getter]
                fn get_step(&self) -> u64 {
                    self.inner.step()
                }

                #[setter]
                fn set_step(&mut self, step: u64) {
                    self.inner = self.inner.clone().with_step(step);
                }

                /// The seed of the direction stream.
                #[getter]
                fn seed(&self) -> u64 {
                    self.seed
                }
            }
        );
    };
}

sliced_objective!(
    PySigreg,
    "Sigreg",
    unisphere::Sigreg,
    256,
    "SIGReg (LeJEPA), `Sigreg(slices=256, seed=0, t_max=3.0, knots=17, directions=None)`:\n\
     the sliced Epps-Pulley test of the raw rows against N(0, I), with `slices` fresh\n\
     random directions per call from the `(seed, step)` stream (LeJEPA's code: 256), or\n\
     fixed `directions` (M x d). `step` (settable) resumes a run; pickling keeps it.",
    |r, exact: Option<bool>| match exact {
        None => Ok(r),
        Some(_) => Err(PyValueError::new_err(
            "exact_target is SUSReg's: SIGReg's target is N(0, 1)",
        )),
    }
);
sliced_objective!(
    PySusreg,
    "Susreg",
    unisphere::Susreg,
    1024,
    "SUSReg (SPHERE-JEPA), `Susreg(slices=1024, seed=0, t_max=3.0, knots=17,\n\
     directions=None, exact_target=None)`: the sliced test of the unit rows against\n\
     the uniform marginal (N(0, 1) above d = 256 unless exact_target=True), directions\n\
     as in `Sigreg`.",
    |r: unisphere::Susreg, exact: Option<bool>| Ok(match exact {
        Some(e) => r.with_exact_target(e),
        None => r,
    })
);

macro_rules! integrated_objective {
    ($ty:ident, $name:literal, $rust:ty, $doc:literal, $extra:expr) => {
        #[doc = $doc]
        #[pyclass(name = $name, module = "unisphere")]
        struct $ty {
            t_max: f64,
            knots: usize,
            exact_target: Option<bool>,
            inner: $rust,
        }

        impl $ty {
            fn ctor_args<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
                (self.t_max, self.knots, self.exact_target).into_pyobject(py)
            }
        }

        objective_class!(
            $ty,
            ctor_args,
            |s, _| Ok(format!("{}(t_max={:?}, knots={})", $name, s.t_max, s.knots)),
            {
                #[new]
                #[pyo3(signature = (t_max = 3.0, knots = 17, exact_target = None))]
                fn new(t_max: f64, knots: usize, exact_target: Option<bool>) -> PyResult<Self> {
                    let inner = <$rust>::new()
                        .with_grid(t_max, knots)
                        .map_err(value_error)?;
                    let with_target: fn($rust, Option<bool>) -> PyResult<$rust> = $extra;
                    Ok($ty {
                        t_max,
                        knots,
                        exact_target,
                        inner: with_target(inner, exact_target)?,
                    })
                }
            }
        );
    };
}

integrated_objective!(
    PySigregIntegrated,
    "SigregIntegrated",
    unisphere::SigregIntegrated,
    "SIGReg's exact expectation over random directions, deterministic:\n\
     `SigregIntegrated(t_max=3.0, knots=17)`.",
    |r, exact: Option<bool>| match exact {
        None => Ok(r),
        Some(_) => Err(PyValueError::new_err(
            "exact_target is SUSReg's: SIGReg's target is N(0, 1)",
        )),
    }
);
integrated_objective!(
    PySusregIntegrated,
    "SusregIntegrated",
    unisphere::SusregIntegrated,
    "SUSReg's exact expectation over random directions, deterministic:\n\
     `SusregIntegrated(t_max=3.0, knots=17, exact_target=None)`.",
    |r: unisphere::SusregIntegrated, exact: Option<bool>| Ok(match exact {
        Some(e) => r.with_exact_target(e),
        None => r,
    })
);

/// The test of uniformity named `name` with its parameters.
fn uniformity_test<'py>(
    name: &str,
    params: Option<&Bound<'py, PyDict>>,
) -> PyResult<UniformityTest> {
    let mut p: Vec<(String, Bound<'py, PyAny>)> = match params {
        Some(d) => d
            .iter()
            .map(|(k, v)| Ok((k.extract::<String>()?, v)))
            .collect::<PyResult<_>>()?,
        None => Vec::new(),
    };
    let mut take = |key: &str| -> Option<Bound<'py, PyAny>> {
        let i = p.iter().position(|(k, _)| k == key)?;
        Some(p.remove(i).1)
    };
    let need = |v: Option<Bound<'py, PyAny>>, key: &str| -> PyResult<Bound<'py, PyAny>> {
        v.ok_or_else(|| PyValueError::new_err(format!("the {name} test needs the parameter {key}")))
    };
    let replicates = take("replicates")
        .map(|v| v.extract::<usize>())
        .transpose()?;
    let seed = take("seed").map(|v| v.extract::<u64>()).transpose()?;
    let test = match name {
        "rayleigh" => Ok(UniformityTest::rayleigh()),
        "bingham" => Ok(UniformityTest::bingham()),
        "ajne" => Ok(UniformityTest::ajne()),
        "gine_gn" => Ok(UniformityTest::gine_gn()),
        "gine_fn" => Ok(UniformityTest::gine_fn()),
        "bakshaev" => Ok(UniformityTest::bakshaev()),
        "pcvm" => Ok(UniformityTest::pcvm()),
        "pad" => Ok(UniformityTest::pad()),
        "riesz" => UniformityTest::riesz(need(take("s"), "s")?.extract()?),
        "prt" => UniformityTest::prt(need(take("t"), "t")?.extract()?),
        "poisson" => UniformityTest::poisson(need(take("rho"), "rho")?.extract()?),
        "softmax" => UniformityTest::softmax(need(take("kappa"), "kappa")?.extract()?),
        "sobolev" => {
            let w: Vec<f64> = need(take("weights"), "weights")?.extract()?;
            UniformityTest::sobolev(&w)
        }
        "kernel" => {
            let k = need(take("kernel"), "kernel")?;
            let k = k.cast::<PyKernel>().map_err(|_| {
                PyValueError::new_err(
                    "the kernel test's parameter kernel must be a unisphere.Kernel",
                )
            })?;
            UniformityTest::from_kernel(&k.get().inner)
        }
        _ => {
            return Err(PyValueError::new_err(format!(
                "unknown test {name:?}: expected one of rayleigh, bingham, ajne, gine_gn, \
                 gine_fn, bakshaev, riesz, pcvm, pad, prt, poisson, softmax, sobolev, kernel"
            )));
        }
    }
    .map_err(value_error)?;
    if let Some((k, _)) = p.first() {
        return Err(PyValueError::new_err(format!(
            "the {name} test has no parameter {k}"
        )));
    }
    match (replicates, seed) {
        (Some(r), s) => test.monte_carlo(r, s.unwrap_or(0)).map_err(value_error),
        (None, Some(_)) => Err(PyValueError::new_err(
            "seed is only used with Monte Carlo p-values: give replicates too",
        )),
        (None, None) => Ok(test),
    }
}

/// `(test, n, d, statistic, p_value, method, method_params)` of a test of
/// uniformity on the rows of `z`; `unisphere.uniformity.test` wraps it.
#[pyfunction]
#[pyo3(signature = (name, z, **params))]
fn _uniformity_test<'py>(
    py: Python<'py>,
    name: &str,
    z: &Bound<'py, PyAny>,
    params: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let test = uniformity_test(name, params)?;
    let r = match rows(z)? {
        Rows::F32(a) => {
            let v = a.as_array();
            py.detach(|| test.run(v))
        }
        Rows::F64(a) => {
            let v = a.as_array();
            py.detach(|| test.run(v))
        }
    }
    .map_err(value_error)?;
    let details = PyDict::new(py);
    let method = match r.method {
        PValueMethod::Asymptotic { degree, terms } => {
            details.set_item("degree", degree)?;
            details.set_item("terms", terms)?;
            "asymptotic"
        }
        PValueMethod::MonteCarlo { replicates, seed } => {
            details.set_item("replicates", replicates)?;
            details.set_item("seed", seed)?;
            "monte_carlo"
        }
        _ => "other",
    };
    (r.test, r.n, r.d, r.statistic, r.p_value, method, details).into_pyobject(py)
}

#[pymodule]
fn _unisphere(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyKernel>()?;
    m.add_class::<PyMmd>()?;
    m.add_class::<PyKsd>()?;
    m.add_class::<PyKdeKl>()?;
    m.add_class::<PySigreg>()?;
    m.add_class::<PySusreg>()?;
    m.add_class::<PySigregIntegrated>()?;
    m.add_class::<PySusregIntegrated>()?;
    m.add_function(wrap_pyfunction!(_uniformity_test, m)?)?;
    Ok(())
}
