//! Input checking and the projection of raw rows onto the sphere, with the chain
//! rule that carries a gradient on the sphere back to the raw rows.

use crate::error::{Error, Result};
use crate::numerics::{PARALLEL_ENTRIES, all_finite, lane_sum2, row_scale, vectorized};
use crate::real::Real;
use crate::workspace::{filled, sized};
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

/// Rows per block of a row-wise pass over an `n x d` matrix: all of them below
/// [`PARALLEL_ENTRIES`], else about 2^13 entries.
fn rows_per_block(n: usize, d: usize) -> usize {
    if n.saturating_mul(d) < PARALLEL_ENTRIES {
        n.max(1)
    } else {
        (8192 / d).max(1)
    }
}

/// Runs `f(first_row, rows_block, extra_block)` on matching blocks of `rows`
/// (`width` entries per row) and `extra` (one entry per row), in parallel when
/// there is more than one block, and returns the smallest row index any call
/// reported.
fn by_row_blocks<A: Send, B: Send>(
    rows: &mut [A],
    width: usize,
    extra: &mut [B],
    block: usize,
    f: impl Fn(usize, &mut [A], &mut [B]) -> Option<usize> + Sync,
) -> Option<usize> {
    if block >= extra.len() {
        return f(0, rows, extra);
    }
    rows.par_chunks_mut(block * width)
        .zip(extra.par_chunks_mut(block))
        .enumerate()
        .filter_map(|(b, (r, e))| f(b * block, r, e))
        .min()
}

/// The first row's contiguous entries, or a copy of them in `buf`.
pub(crate) fn row_slice<'a, F: Real>(row: &'a ArrayView1<'a, F>, buf: &'a mut Vec<F>) -> &'a [F] {
    match row.as_slice() {
        Some(s) => s,
        None => {
            buf.clear();
            buf.extend(row.iter().copied());
            buf
        }
    }
}

/// The position of the first entry of `z` (in row-major order) that is NaN or
/// infinite; one branch-free pass per row.
#[inline(always)]
fn first_non_finite<F: Real>(z: &ArrayView2<F>) -> Option<(usize, usize)> {
    let mut buf = Vec::new();
    z.rows().into_iter().enumerate().find_map(|(i, row)| {
        let v = row_slice(&row, &mut buf);
        if all_finite(v, F::to_f64) {
            return None;
        }
        let j = v.iter().position(|x| !x.to_f64().is_finite())?;
        Some((i, j))
    })
}

/// Writes the unit row `z / |z|` into `x` and returns `|z|` (`None` for a zero row).
#[inline(always)]
fn unit_row<F: Real, G: Real>(z: &[F], x: &mut [G]) -> Option<f64> {
    let (m, r) = row_scale(z, F::to_f64)?;
    let inv = 1.0 / r;
    if m == 1.0 {
        for (o, &v) in x.iter_mut().zip(z) {
            *o = G::from_f64(v.to_f64() * inv);
        }
    } else {
        for (o, &v) in x.iter_mut().zip(z) {
            *o = G::from_f64(v.to_f64() / m * inv);
        }
    }
    Some(m * r)
}

/// Checks that `z` is an `N x d` matrix of finite entries with `N >= min_rows`
/// and `d >= 2` (and `d == dim` when a dimension is required).
pub(crate) fn check_input<F: Real>(
    z: &ArrayView2<F>,
    min_rows: usize,
    dim: Option<usize>,
) -> Result<()> {
    let (n, d) = z.dim();
    check_shape(n, d, min_rows, dim)?;
    match vectorized(
        #[inline(always)]
        || first_non_finite(z),
    ) {
        Some((row, col)) => Err(Error::NonFinite { row, col }),
        None => Ok(()),
    }
}

/// The shape part of [`check_input`]: an `N x d` matrix with `N >= min_rows`,
/// `d >= 2` (and `d == dim` when a dimension is required).
pub(crate) fn check_shape(n: usize, d: usize, min_rows: usize, dim: Option<usize>) -> Result<()> {
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
        norms.resize(n, 0.0);
        let mut xv = sized(x, n, d)?;
        let xs = xv.as_slice_mut().expect("a work buffer is contiguous");
        let zero_row = by_row_blocks(xs, d, norms, rows_per_block(n, d), |first, xb, nb| {
            vectorized(
                #[inline(always)]
                || {
                    let mut buf = Vec::new();
                    let rows = xb.chunks_exact_mut(d).zip(nb.iter_mut());
                    for (k, (xr, norm)) in rows.enumerate() {
                        let row = z.row(first + k);
                        match unit_row(row_slice(&row, &mut buf), xr) {
                            Some(r) => *norm = r,
                            None => return Some(first + k),
                        }
                    }
                    None
                },
            )
        });
        if let Some(row) = zero_row {
            return Err(Error::ZeroRow { row });
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
        let (n, d) = self.x.dim();
        let (Some(gs), Some(xs)) = (g.as_slice_mut(), self.x.as_slice()) else {
            unreachable!("the gradient and the unit rows live in contiguous work buffers")
        };
        let mut scales: Vec<f64> = self.norms.iter().map(|r| factor / r).collect();
        by_row_blocks(gs, d, &mut scales, rows_per_block(n, d), |first, gb, sb| {
            vectorized(
                #[inline(always)]
                || {
                    let rows = gb.chunks_exact_mut(d).zip(xs[first * d..].chunks_exact(d));
                    for ((gr, xr), &inv) in rows.zip(sb.iter()) {
                        let radial = lane_sum2(gr, xr, |a, b| a.to_f64() * b.to_f64());
                        for (gv, &xv) in gr.iter_mut().zip(xr) {
                            *gv = G::from_f64((gv.to_f64() - radial * xv.to_f64()) * inv);
                        }
                    }
                },
            );
            None
        });
    }
}
