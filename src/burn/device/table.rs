//! One of the crate's piecewise-polynomial tables ([`PlanTable`]) uploaded to a burn
//! device and evaluated there in `f32`: the interval of each argument by one
//! multiply and a floor, its coefficients by `select` (a gather), and the local
//! polynomial by Horner's rule.
//!
//! The tables cut `[lo, hi]` into `2^k` equal intervals, and every `[lo, hi]` the
//! objectives tabulate on (`[-1, 1]`, `[0, 1]`, `[0, 2^m]`) makes the interval width
//! `h` a power of two, so the interval's left end `lo + i h` is exact in `f32` and so
//! is the local coordinate `2 (x - lo - i h)/h - 1` of an `f32` argument `x`: the
//! lookup adds no rounding to the argument, whose own `f32` rounding is the
//! accuracy limit.

use crate::plan::PlanTable;
use burn_tensor::{Device, Tensor, TensorData};

/// Coefficients per polynomial.
const NC: usize = PlanTable::DEGREE + 1;

/// A [`PlanTable`] on a device: per coefficient degree, a tensor of that coefficient
/// for every interval, for the value and for the slope.
pub(super) struct DeviceTable {
    lo: f32,
    hi: f32,
    inv_h: f32,
    h: f32,
    last: f32,
    value: Vec<Tensor<1>>,
    slope: Vec<Tensor<1>>,
}

impl DeviceTable {
    /// Uploads `table` (`2 NC` tensors of one `f32` per interval) to `device`, its
    /// values shifted by `offset` (added in `f64`, before the rounding to `f32`, so
    /// that a function centred on its typical value keeps its relative accuracy).
    pub fn upload(table: &PlanTable, offset: f64, device: &Device) -> Self {
        let ((lo, hi), intervals) = (table.range(), table.intervals());
        let upload = |coefficients: Vec<f64>, shift: f64| -> Vec<Tensor<1>> {
            (0..NC)
                .map(|k| {
                    let column = (0..intervals)
                        .map(|i| {
                            (coefficients[i * NC + k] + if k == 0 { shift } else { 0.0 }) as f32
                        })
                        .collect::<Vec<_>>();
                    Tensor::<1>::from_data(TensorData::new(column, [intervals]), device)
                })
                .collect()
        };
        let h = (hi - lo) / intervals as f64;
        DeviceTable {
            lo: lo as f32,
            hi: hi as f32,
            inv_h: (1.0 / h) as f32,
            h: h as f32,
            last: (intervals - 1) as f32,
            value: upload(table.coefficients(false), offset),
            slope: upload(table.coefficients(true), 0.0),
        }
    }

    /// The value (and, if `slope`, the slope) at every entry of `x`, each clamped
    /// into `[lo, hi]`.
    pub fn eval(&self, x: Tensor<2>, slope: bool) -> (Tensor<2>, Option<Tensor<2>>) {
        let [b, n] = x.dims();
        let x = x.clamp(self.lo, self.hi).reshape([b * n]);
        let i = ((x.clone() - self.lo) * self.inv_h)
            .floor()
            .clamp(0.0, self.last);
        let t = (x - (i.clone() * self.h + self.lo)) * (2.0 * self.inv_h) - 1.0;
        let index = i.int();
        let horner = |coeffs: &[Tensor<1>]| {
            let gather = |k: usize| coeffs[k].clone().select(0, index.clone());
            let mut acc = gather(NC - 1);
            for k in (0..NC - 1).rev() {
                acc = acc * t.clone() + gather(k);
            }
            acc.reshape([b, n])
        };
        (horner(&self.value), slope.then(|| horner(&self.slope)))
    }
}
