//! An objective's [`Plan`] as a Python dict, for the torch device path
//! (`unisphere.torch`): the kind, the table (range, intervals, the value's and the
//! slope's coefficients as `intervals x (degree + 1)` float64 arrays, lowest degree
//! first, and a fingerprint) and the constants of the kind.

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use unisphere::plan::{Plan, PlanTable};

/// A table as a dict.
fn table<'py>(py: Python<'py>, t: &PlanTable) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    let (lo, hi) = t.range();
    let shape = (t.intervals(), PlanTable::DEGREE + 1);
    let matrix = |slope: bool| {
        numpy::ndarray::Array2::from_shape_vec(shape, t.coefficients(slope))
            .map(|a| a.into_pyarray(py))
    };
    out.set_item("lo", lo)?;
    out.set_item("hi", hi)?;
    out.set_item("intervals", t.intervals())?;
    out.set_item("value", matrix(false).map_err(shape_error)?)?;
    out.set_item("slope", matrix(true).map_err(shape_error)?)?;
    out.set_item("fingerprint", t.fingerprint())?;
    Ok(out)
}

fn shape_error(e: impl std::fmt::Display) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(format!("a table's coefficients: {e}"))
}

fn array<'py>(py: Python<'py>, v: &[f64]) -> Bound<'py, PyArray1<f64>> {
    PyArray1::from_slice(py, v)
}

/// `plan` as a dict with its `"kind"`: `"zonal"`, `"log_density"`, `"radial"` or
/// `"sliced"` (see `unisphere::plan` for what each computes).
pub fn to_dict<'py>(py: Python<'py>, plan: &Plan) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    match plan {
        Plan::Zonal(p) => {
            out.set_item("kind", "zonal")?;
            out.set_item("table", table(py, &p.table)?)?;
            out.set_item("offset", p.offset)?;
            out.set_item("factor", p.factor)?;
        }
        Plan::LogDensity(p) => {
            out.set_item("kind", "log_density")?;
            out.set_item("table", table(py, &p.table)?)?;
            out.set_item("offset", p.offset)?;
            out.set_item("shift", p.shift)?;
            out.set_item("factor", p.factor)?;
        }
        Plan::Radial(p) => {
            out.set_item("kind", "radial")?;
            out.set_item("table", table(py, &p.table)?)?;
            out.set_item("offset", p.offset)?;
            out.set_item("delta", array(py, &p.delta))?;
            out.set_item("radial", array(py, &p.radial))?;
        }
        Plan::Sliced(p) => {
            let d = p.directions.len() / p.slices.max(1);
            let a = numpy::ndarray::Array2::from_shape_vec((p.slices, d), p.directions.clone())
                .map_err(shape_error)?;
            out.set_item("kind", "sliced")?;
            out.set_item("directions", a.into_pyarray(py))?;
            out.set_item("on_sphere", p.on_sphere)?;
            out.set_item("scale", p.scale)?;
            out.set_item("knots", array(py, &p.knots))?;
            out.set_item("weights", array(py, &p.weights))?;
            out.set_item("target", array(py, &p.target))?;
        }
        _ => {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "a plan of a kind this version of the package does not know",
            ));
        }
    }
    Ok(out)
}
