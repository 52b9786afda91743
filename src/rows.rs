//! Input checking and the projection of raw rows onto the sphere, with the chain
//! rule that carries a gradient on the sphere back to the raw rows.

use crate::error::{Error, Result};
use crate::numerics::rescale_row;
use crate::real::Real;
use crate::workspace::{filled, zeroed};
use ndarray::{ArrayView2, ArrayViewMut2, Zip};

/// Checks that `z` is an `N x d` matrix of finite entries with `N >= min_rows`
/// and `d >= 2` (and `d == dim` when a dimension is required).
pub(crate) fn check_input<F: Real>(
    z: &ArrayView2<F>,
    min_rows: usize,
    dim: Option<usize>,
) -> Result<()> {
    let (n, d) = z.dim();
    if n == 0 || d == 0 {
        return Err(Error::Shape {
            expected: "a non-empty N x d matrix".into(),
            found: format!("{n} x {d}"),
        });
    }
    if d < 2 {
        return Err(Error::Shape {
            expected: "at least 2 columns (points in R^d, d >= 2)".into(),
            found: format!("{d} column"),
        });
    }
    if let Some(want) = dim
        && want != d
    {
        return Err(Error::Shape {
            expected: format!("{want} columns (the kernel's dimension d)"),
            found: format!("{d} columns"),
        });
    }
    if n < min_rows {
        return Err(Error::TooFewPoints { n, min: min_rows });
    }
    for ((i, j), v) in z.indexed_iter() {
        if !v.to_f64().is_finite() {
            return Err(Error::NonFinite { row: i, col: j });
        }
    }
    Ok(())
}

/// Raw rows projected onto the unit sphere, with their original norms, held in an
/// objective's work buffers.
#[derive(Debug, Clone)]
pub(crate) struct SphereRows<'a, G> {
    /// Unit rows `x_i = z_i / |z_i|`, in the precision the rows are computed in.
    pub x: ArrayView2<'a, G>,
    /// The norms `|z_i|` (in `f64`, never zero or infinite).
    pub norms: &'a [f64],
}

impl<'a, G: Real> SphereRows<'a, G> {
    /// Normalises every row of a checked matrix into the buffers `x` and `norms`.
    /// Robust to rows scaled by `1e300` or `1e-300`: each row is first divided by its
    /// largest magnitude.
    pub fn new<F: Real>(
        z: &ArrayView2<F>,
        x: &'a mut Vec<G>,
        norms: &'a mut Vec<f64>,
    ) -> Result<Self> {
        let (n, d) = z.dim();
        norms.clear();
        let mut buf = vec![0.0f64; d];
        let mut xv = zeroed(x, n, d)?;
        for (i, (zr, mut xr)) in z.rows().into_iter().zip(xv.rows_mut()).enumerate() {
            let (scale, r) = rescale_row(&mut buf, zr.iter().map(|v| v.to_f64()))
                .ok_or(Error::ZeroRow { row: i })?;
            for (xv, b) in xr.iter_mut().zip(&buf) {
                *xv = G::from_f64(b / r);
            }
            norms.push(scale * r);
        }
        Ok(SphereRows {
            x: filled(x, n, d)?,
            norms,
        })
    }

    /// The rows `range` alone (for the gradient of a shard's rows).
    pub fn restrict(&self, range: std::ops::Range<usize>) -> SphereRows<'_, G> {
        SphereRows {
            x: self.x.slice(ndarray::s![range.clone(), ..]),
            norms: &self.norms[range],
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.norms.len()
    }

    /// Carries `factor * g`, with `g = dL/dx` on the unit rows, back to the raw rows,
    /// in place: `g_i <- factor (I - x_i x_i^T) g_i / |z_i|`.
    pub fn chain(&self, g: &mut ArrayViewMut2<G>, factor: f64) {
        for (i, (mut gr, xr)) in g.rows_mut().into_iter().zip(self.x.rows()).enumerate() {
            let radial: f64 = gr
                .iter()
                .zip(xr)
                .map(|(a, b)| a.to_f64() * b.to_f64())
                .sum();
            let inv = factor / self.norms[i];
            Zip::from(&mut gr).and(&xr).for_each(|gv, &xv| {
                *gv = G::from_f64((gv.to_f64() - radial * xv.to_f64()) * inv);
            });
        }
    }
}
