//! Input checking and the projection of raw rows onto the sphere, with the chain
//! rule that carries a gradient on the sphere back to the raw rows.

use crate::error::{Error, Result};
use crate::numerics::rescale_row;
use crate::real::Real;
use ndarray::{Array2, ArrayView2, Zip};

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

/// Raw rows projected onto the unit sphere, with their original norms.
#[derive(Debug, Clone)]
pub(crate) struct SphereRows<F> {
    /// Unit rows `x_i = z_i / |z_i|`, in the input's precision.
    pub x: Array2<F>,
    /// The norms `|z_i|` (in `f64`, never zero or infinite).
    pub norms: Vec<f64>,
}

impl<F: Real> SphereRows<F> {
    /// Normalises every row of a checked matrix. Robust to rows scaled by `1e300`
    /// or `1e-300`: each row is first divided by its largest magnitude.
    pub fn new(z: &ArrayView2<F>) -> Result<Self> {
        let (n, d) = z.dim();
        let mut x = Array2::<F>::zeros((n, d));
        let mut norms = Vec::with_capacity(n);
        let mut buf = vec![0.0f64; d];
        for (i, (zr, mut xr)) in z.rows().into_iter().zip(x.rows_mut()).enumerate() {
            let (scale, r) = rescale_row(&mut buf, zr.iter().map(|v| v.to_f64()))
                .ok_or(Error::ZeroRow { row: i })?;
            for (xv, b) in xr.iter_mut().zip(&buf) {
                *xv = F::from_f64(b / r);
            }
            norms.push(scale * r);
        }
        Ok(SphereRows { x, norms })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.norms.len()
    }

    /// Carries `factor * g`, with `g = dL/dx` on the unit rows, back to the raw rows:
    /// `dL/dz_i = factor (I - x_i x_i^T) g_i / |z_i|`.
    pub fn chain(&self, g: &Array2<F>, factor: f64) -> Result<Array2<F>> {
        let mut out = Array2::<F>::zeros(g.dim());
        for (i, ((gr, xr), mut orow)) in g
            .rows()
            .into_iter()
            .zip(self.x.rows())
            .zip(out.rows_mut())
            .enumerate()
        {
            let radial: f64 = gr
                .iter()
                .zip(xr)
                .map(|(a, b)| a.to_f64() * b.to_f64())
                .sum();
            let inv = factor / self.norms[i];
            Zip::from(&mut orow)
                .and(&gr)
                .and(&xr)
                .for_each(|o, &gv, &xv| {
                    *o = F::from_f64((gv.to_f64() - radial * xv.to_f64()) * inv);
                });
        }
        check_finite_output(&out)?;
        Ok(out)
    }
}

/// Fails if a result does not fit the element type (e.g. overflows `f32`).
pub(crate) fn check_finite_output<F: Real>(g: &Array2<F>) -> Result<()> {
    if g.iter().all(|v| v.to_f64().is_finite()) {
        Ok(())
    } else {
        Err(Error::NotRepresentable {
            what: format!(
                "the gradient overflows {} (rows of tiny norm have huge gradients); rescale the input",
                F::NAME
            ),
        })
    }
}
