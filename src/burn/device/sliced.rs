//! The sliced objectives' work on burn tensors: the projections onto a chunk of
//! the call's directions by `matmul`, the Epps–Pulley sums over the rows at every
//! knot, the statistic of every direction, and its gradient (one more `matmul` per
//! chunk).

use super::pairs::blocks;
use crate::plan::SlicedPlan;
use burn_tensor::{Tensor, TensorData};

/// The mean over the call's `M` directions of the Epps–Pulley statistic of the
/// projections `u_n = scale x_n . a_m` against the call's target, and with
/// `gradient` its gradient with respect to the rows `x`, directions `chunk` at a
/// time (the device holds a few `N x chunk` matrices).
///
/// With the centred sums `D_k = sum_n (cos(t_k u_n) - psi_k)` and
/// `S_k = sum_n sin(t_k u_n)` (centred, so that a statistic near its minimum keeps
/// its relative accuracy in `f32`), a direction's statistic is
/// `EP = (1/N) sum_k omega_k (D_k^2 + S_k^2)` and
/// `dEP/du_n = (2/N) sum_k omega_k t_k (S_k cos(t_k u_n) - D_k sin(t_k u_n))`; the
/// gradient is `(scale/M) sum_m dEP_m/du_nm a_m`, one `matmul` per chunk.
pub fn statistic(
    x: &Tensor<2>,
    call: &SlicedPlan,
    chunk: usize,
    gradient: bool,
) -> (Tensor<1>, Option<Tensor<2>>) {
    let [n, d] = x.dims();
    let m = call.slices;
    // Rounded to f32 as the host path rounds them for f32 rows.
    let directions: Vec<f32> = call.directions.iter().map(|&v| v as f32).collect();
    let a = Tensor::<2>::from_data(TensorData::new(directions, [m, d]), &x.device());
    let (knots, weights) = (&call.knots, &call.weights);
    let nf = n as f64;
    let (mut stats, mut grad) = (Vec::new(), None);
    for (start, len) in blocks(m, chunk) {
        let ac = a.clone().narrow(0, start, len);
        let p = x.clone().matmul(ac.clone().transpose());
        // t_k u_n for the whole chunk: N x len.
        let angles = |k: usize| p.clone() * (knots[k] * call.scale);
        let mut sums = Vec::with_capacity(knots.len());
        let mut ep = Tensor::<2>::zeros([1, len], &x.device());
        for (k, (&w, &psi)) in weights.iter().zip(&call.target).enumerate() {
            let t = angles(k);
            let c = (t.clone().cos() - psi).sum_dim(0);
            let s = t.sin().sum_dim(0);
            ep = ep + (c.clone() * c.clone() + s.clone() * s.clone()) * (w / nf);
            sums.push((c, s));
        }
        stats.push(ep);
        if gradient {
            let mut du = Tensor::<2>::zeros([n, len], &x.device());
            for (k, (c, s)) in sums.into_iter().enumerate() {
                let f = 2.0 * weights[k] * knots[k] / nf;
                let t = angles(k);
                du = du + t.clone().cos() * (s * f) - t.sin() * (c * f);
            }
            let g = du.matmul(ac) * (call.scale / m as f64);
            grad = Some(match grad {
                None => g,
                Some(sum) => sum + g,
            });
        }
    }
    let total = Tensor::cat(stats, 1).sum() * (1.0 / m as f64);
    (total, grad)
}
