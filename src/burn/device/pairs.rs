//! The device path's work on burn tensors: reading back the row norms (the one
//! check of the input), the rows projected onto the sphere, the pair sums in row
//! blocks of the Gram matrix, and the chain rule back to the raw rows.

use super::table::DeviceTable;
use crate::error::{Error, Result};
use crate::rows::{SphereRows, check_input};
use burn_tensor::{Bool, Device, Tensor, TensorData};
use ndarray::ArrayView2;

/// Checked rows on their device, every tensor without autodiff.
pub struct Rows {
    /// The raw rows `z`, `N x d`.
    pub z: Tensor<2>,
    /// The unit rows `x_i = z_i / |z_i|` (objectives on the sphere only).
    pub x: Option<Tensor<2>>,
    /// `|z_i|` as an `N x 1` tensor.
    pub norms: Tensor<2>,
    /// `|z_i|` read back to the host.
    pub host_norms: Vec<f64>,
}

impl Rows {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.host_norms.len()
    }

    /// The unit rows (set for objectives on the sphere).
    pub fn unit(&self) -> &Tensor<2> {
        self.x
            .as_ref()
            .expect("objectives on the sphere check their rows with `unit`")
    }
}

/// An error for a tensor the device cannot read back.
fn unreadable(e: impl std::fmt::Display) -> Error {
    Error::InvalidParameter {
        name: "z",
        value: format!("a tensor that cannot be read back ({e})"),
        expected: "a tensor the device can copy to the host".into(),
    }
}

/// Checks `z` as the host path does (shape first, then entries), computing the
/// row norms on the device, robust to huge and tiny rows: each row is divided by
/// its largest magnitude first. Only the `N` norms come back to the host; a NaN or
/// infinite entry, or (with `unit`) a zero row, makes a norm NaN or zero, and then
/// `z` is read back once to name the entry as the host path does. With `unit` the
/// rows are projected onto the sphere.
pub fn check(z: &Tensor<2>, dim: Option<usize>, unit: bool) -> Result<Rows> {
    let [n, d] = z.dims();
    crate::rows::check_shape(n, d, 2, dim)?;
    let z = z.clone().without_autodiff();
    let largest = z.clone().abs().max_dim(1);
    // A zero row stays zero (and gets the norm 0) instead of becoming 0/0.
    let scaled = z.clone() / largest.clone().clamp_min(f32::MIN_POSITIVE);
    let r = (scaled.clone() * scaled.clone()).sum_dim(1).sqrt();
    let norms = largest * r.clone();
    let host = norms
        .clone()
        .try_into_data()
        .map_err(unreadable)?
        .try_to_vec::<f32>()
        .map_err(|e| unreadable(format!("{e:?}")))?;
    if host.iter().any(|v| !v.is_finite() || (unit && *v == 0.0)) {
        return Err(diagnose(&z, dim, unit));
    }
    Ok(Rows {
        x: unit.then(|| scaled / r),
        z,
        norms,
        host_norms: host.into_iter().map(f64::from).collect(),
    })
}

/// The host path's error for rows whose device norms are not usable: `z` read
/// back and checked as the host checks it.
fn diagnose(z: &Tensor<2>, dim: Option<usize>, unit: bool) -> Error {
    let [n, d] = z.dims();
    let data = match z.to_data().try_to_vec::<f32>() {
        Ok(v) => v,
        Err(e) => return unreadable(format!("{e:?}")),
    };
    let Ok(view) = ArrayView2::from_shape((n, d), &data[..]) else {
        return unreadable(format!("{} values for a ({n}, {d}) matrix", data.len()));
    };
    if let Err(e) = check_input(&view, 2, dim) {
        return e;
    }
    if unit && let Err(e) = SphereRows::<f32>::new(&view, &mut Vec::new(), &mut Vec::new()) {
        return e;
    }
    Error::NotRepresentable {
        what: "a row norm overflows f32 on the device; rescale the embeddings".into(),
    }
}

/// `[start, start + rows)` for every row block of `n` rows.
pub fn blocks(n: usize, block: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n)
        .step_by(block)
        .map(move |start| (start, block.min(n - start)))
}

/// Rows and their transpose, for blocks of their Gram matrix.
struct Gram<'a> {
    x: &'a Tensor<2>,
    xt: Tensor<2>,
    n: usize,
    device: Device,
}

impl<'a> Gram<'a> {
    fn of(x: &'a Tensor<2>) -> Self {
        Gram {
            x,
            xt: x.clone().transpose(),
            n: x.dims()[0],
            device: x.device(),
        }
    }

    /// The rows `[start, start + len)` of the Gram matrix.
    fn block(&self, start: usize, len: usize) -> Tensor<2> {
        self.x.clone().narrow(0, start, len).matmul(self.xt.clone())
    }

    /// True on the diagonal `j = start + a` of the block `[start, start + len) x [0, n)`.
    fn diagonal(&self, start: usize, len: usize) -> Tensor<2, Bool> {
        Tensor::<2, Bool>::diag_mask([len, self.n], start as i64, &self.device).bool_not()
    }
}

/// `factor (I - x_i x_i^T) g_i / |z_i|` for every row: a gradient with respect to
/// the unit rows carried back to the raw rows.
pub fn chain(rows: &Rows, g: Tensor<2>, factor: f64) -> Tensor<2> {
    let x = rows.unit();
    let radial = (g.clone() * x.clone()).sum_dim(1);
    (g - x.clone() * radial) * (rows.norms.clone().recip() * factor)
}

/// `sum_{i,j} f(x_i . x_j)` over all ordered pairs (diagonal included), and with
/// `gradient` the gradient of `factor mean_{i,j} f(x_i . x_j)` with respect to the
/// raw rows, from `2/N^2 sum_j f'(c_ij) x_j` on the unit rows.
pub fn zonal(
    rows: &Rows,
    f: &DeviceTable,
    block: usize,
    gradient: Option<f64>,
) -> (Tensor<1>, Option<Tensor<2>>) {
    let (x, n) = (rows.unit(), rows.len());
    let gram = Gram::of(x);
    let (mut sums, mut wx) = (Vec::new(), Vec::new());
    for (start, len) in blocks(n, block) {
        let (v, w) = f.eval(gram.block(start, len), gradient.is_some());
        sums.push(v.sum_dim(1));
        if let Some(w) = w {
            // The pair (i, i) adds f'(1) x_i to row i: radial, so the chain rule
            // removes it; left in, its rounding (f'(1) is the largest weight)
            // would be all that remains of a small tangent gradient.
            let w = w.mask_fill(gram.diagonal(start, len), 0.0);
            wx.push(w.matmul(x.clone()));
        }
    }
    let total = Tensor::cat(sums, 0).sum();
    let nf = n as f64;
    let grad = gradient.map(|factor| chain(rows, Tensor::cat(wx, 0), factor * 2.0 / (nf * nf)));
    (total, grad)
}

/// KDE-KL in the log domain: `sum_i (ln S_i + shift)`, `S_i = sum_{j != i} phi(c_ij)`, with
/// `ln phi` and `phi'/phi` from `f` in the half-angle coordinate, each `ln S_i` a
/// log-sum-exp over its row; with `gradient`, the gradient of
/// `factor mean_i ln S_i` with respect to the raw rows from the weights
/// `W_ij = (phi'/phi)(c_ij) (exp(ln phi_ij - ln S_i) + exp(ln phi_ij - ln S_j))`.
pub fn kdekl(
    rows: &Rows,
    f: &DeviceTable,
    block: usize,
    shift: f64,
    gradient: Option<f64>,
) -> (Tensor<1>, Option<Tensor<2>>) {
    let (x, n) = (rows.unit(), rows.len());
    let gram = Gram::of(x);
    // ln phi and phi'/phi on a block, the diagonal's ln phi set to -inf.
    let block_values = |start: usize, len: usize, slope: bool| {
        let half = ((gram.block(start, len).clamp(-1.0, 1.0) + 1.0) * 0.5).sqrt();
        let (ln_phi, s) = f.eval(half, slope);
        let ln_phi = ln_phi.mask_fill(gram.diagonal(start, len), f32::NEG_INFINITY);
        (ln_phi, s)
    };
    let mut ln_s = Vec::new();
    for (start, len) in blocks(n, block) {
        let (ln_phi, _) = block_values(start, len, false);
        let max = ln_phi.clone().max_dim(1);
        ln_s.push(max.clone() + (ln_phi - max).exp().sum_dim(1).log());
    }
    let ln_s = Tensor::cat(ln_s, 0);
    let total = (ln_s.clone() + shift).sum();
    let grad = gradient.map(|factor| {
        let ln_s_cols = ln_s.clone().reshape([1, n]);
        let mut wx = Vec::new();
        for (start, len) in blocks(n, block) {
            let (ln_phi, s) = block_values(start, len, true);
            let s = s.expect("slopes were asked for");
            let ln_s_rows = ln_s.clone().narrow(0, start, len);
            let w = s * ((ln_phi.clone() - ln_s_rows).exp() + (ln_phi - ln_s_cols.clone()).exp());
            wx.push(w.matmul(x.clone()));
        }
        chain(rows, Tensor::cat(wx, 0), factor / n as f64)
    });
    (total, grad)
}

/// SIGReg's twin's centred pair sum `sum_{i,j} (h(|z_i - z_j|^2) - delta_i - delta_j)`
/// (`h` with its offset in the table) from the Gram matrix of the raw rows and their
/// squared norms; with `radial` (`radial_i` of the middle terms), the gradient
/// `(4/N)(sum_j h'_ij z_i - sum_j h'_ij z_j) + radial_i z_i` with respect to `z`.
pub fn sigreg_twin(
    rows: &Rows,
    h: &DeviceTable,
    delta: &[f64],
    block: usize,
    radial: Option<&[f64]>,
) -> (Tensor<1>, Option<Tensor<2>>) {
    let (z, n) = (&rows.z, rows.len());
    let gram = Gram::of(z);
    let column = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [n, 1]), &gram.device);
    let sq = column(rows.host_norms.iter().map(|r| (r * r) as f32).collect());
    let sq_cols = sq.clone().reshape([1, n]);
    let delta = column(delta.iter().map(|v| *v as f32).collect());
    let delta_cols = delta.clone().reshape([1, n]);
    let (mut sums, mut row_w, mut wz) = (Vec::new(), Vec::new(), Vec::new());
    for (start, len) in blocks(n, block) {
        let g = gram.block(start, len);
        let s = (sq.clone().narrow(0, start, len) + sq_cols.clone() - g * 2.0).clamp_min(0.0);
        let (v, w) = h.eval(s, radial.is_some());
        let v = v - delta.clone().narrow(0, start, len) - delta_cols.clone();
        sums.push(v.sum_dim(1));
        if let Some(w) = w {
            row_w.push(w.clone().sum_dim(1));
            wz.push(w.matmul(z.clone()));
        }
    }
    let total = Tensor::cat(sums, 0).sum();
    let grad = radial.map(|radial| {
        let c = 4.0 / n as f64;
        let radial = column(radial.iter().map(|v| *v as f32).collect());
        let a = Tensor::cat(row_w, 0) * c + radial;
        z.clone() * a - Tensor::cat(wz, 0) * c
    });
    (total, grad)
}
