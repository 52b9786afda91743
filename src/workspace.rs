//! Buffers an objective keeps from call to call, so that once the first call has
//! sized them, later calls of the same shape allocate nothing of size `N x d`.

use crate::error::{Error, Result};
use crate::real::Real;
use ndarray::{ArrayView2, ArrayViewMut2};
use std::any::Any;
use std::fmt;

/// The buffers of one element type `G` (the type the rows are computed in).
#[derive(Debug)]
pub(crate) struct Buffers<G> {
    /// The unit rows `x_i` (`N x d`).
    pub rows: Vec<G>,
    /// The row norms `|z_i|`.
    pub norms: Vec<f64>,
    /// The gradient accumulator (`N x d`).
    pub grad: Vec<G>,
    /// The pairwise engine's copy of the rows laid out for its products.
    pub columns: Vec<G>,
    /// The moment path's work in `f64`.
    pub moments: MomentBuffers,
    /// Sliced objectives' directions and projections.
    pub slices: SliceBuffers<G>,
}

/// The moment path's work (quadratic zonal functions), in `f64`.
#[derive(Debug, Default)]
pub(crate) struct MomentBuffers {
    /// The unit rows (`N x d`).
    pub rows: Vec<f64>,
    /// The second moment `X^T X / N` (`d x d`).
    pub second_moment: Vec<f64>,
    /// The gradient on the unit rows (`N x d`).
    pub gradient: Vec<f64>,
}

/// A sliced objective's work.
#[derive(Debug)]
pub(crate) struct SliceBuffers<G> {
    /// The call's directions (`M x d`).
    pub directions: Vec<G>,
    /// One chunk of directions' projections and their derivatives.
    pub projections: Projections<G>,
}

/// The projections of the rows onto a chunk of directions (`CHUNK x N`) and the
/// statistic's derivatives with respect to them (the same shape).
#[derive(Debug)]
pub(crate) struct Projections<G> {
    pub values: Vec<G>,
    pub derivatives: Vec<G>,
}

impl<G> Default for Buffers<G> {
    fn default() -> Self {
        Buffers {
            rows: Vec::new(),
            norms: Vec::new(),
            grad: Vec::new(),
            columns: Vec::new(),
            moments: MomentBuffers::default(),
            slices: SliceBuffers {
                directions: Vec::new(),
                projections: Projections {
                    values: Vec::new(),
                    derivatives: Vec::new(),
                },
            },
        }
    }
}

/// `buf` as a zero-filled `rows x cols` matrix, grown if needed (never shrunk), or an
/// error if it cannot be allocated.
pub(crate) fn zeroed<G: Real>(
    buf: &mut Vec<G>,
    rows: usize,
    cols: usize,
) -> Result<ArrayViewMut2<'_, G>> {
    let too_big = || Error::NotRepresentable {
        what: format!("a {rows} x {cols} work buffer cannot be allocated"),
    };
    let len = rows.checked_mul(cols).ok_or_else(too_big)?;
    buf.clear();
    buf.try_reserve(len).map_err(|_| too_big())?;
    buf.resize(len, G::zero());
    ArrayViewMut2::from_shape((rows, cols), buf.as_mut_slice()).map_err(|_| too_big())
}

/// `buf` as a `rows x cols` matrix of unspecified (initialised) values, for a
/// caller that overwrites every entry: like [`zeroed`], but a buffer of the right
/// length is reused as it is, without a pass over it.
pub(crate) fn sized<G: Real>(
    buf: &mut Vec<G>,
    rows: usize,
    cols: usize,
) -> Result<ArrayViewMut2<'_, G>> {
    if rows.checked_mul(cols) == Some(buf.len()) {
        return ArrayViewMut2::from_shape((rows, cols), buf.as_mut_slice()).map_err(|e| {
            Error::NotRepresentable {
                what: format!("a {rows} x {cols} work buffer: {e}"),
            }
        });
    }
    zeroed(buf, rows, cols)
}

/// The first `rows x cols` entries of a buffer filled by [`zeroed`], read-only.
pub(crate) fn filled<G>(buf: &[G], rows: usize, cols: usize) -> Result<ArrayView2<'_, G>> {
    ArrayView2::from_shape((rows, cols), buf).map_err(|e| Error::NotRepresentable {
        what: format!("a {rows} x {cols} work buffer: {e}"),
    })
}

/// An objective's reusable buffers, for whichever element type it was last called
/// with (a call with the other type replaces them). Cloning an objective gives the
/// clone an empty workspace: buffers are scratch, not state.
#[derive(Default)]
pub(crate) struct Workspace(Option<Box<dyn Any + Send + Sync>>);

impl Workspace {
    /// Runs `f` on the buffers of element type `G`, created empty if absent.
    pub fn with<G: Real, R>(&mut self, f: impl FnOnce(&mut Buffers<G>) -> R) -> R {
        let mut buffers: Box<Buffers<G>> = self
            .0
            .take()
            .and_then(|b| b.downcast().ok())
            .unwrap_or_default();
        let out = f(&mut buffers);
        self.0 = Some(buffers);
        out
    }
}

impl Clone for Workspace {
    fn clone(&self) -> Self {
        Workspace(None)
    }
}

impl fmt::Debug for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Workspace")
    }
}
