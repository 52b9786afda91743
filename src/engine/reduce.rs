//! Per-row reductions of pair values: plain sums, or log-sum-exp formed without
//! under- or overflow ([`LogSum`]), in a fixed order.

/// A running `ln sum exp(v)`: the largest value seen and the sum of `exp(v - max)`.
#[derive(Debug, Clone, Copy)]
pub(super) struct LogSum {
    max: f64,
    sum: f64,
}

impl LogSum {
    pub const EMPTY: LogSum = LogSum {
        max: f64::NEG_INFINITY,
        sum: 0.0,
    };

    #[inline]
    fn add(&mut self, v: f64) {
        if v <= self.max {
            if v > f64::NEG_INFINITY {
                self.sum += (v - self.max).exp();
            }
        } else {
            self.sum = self.sum * (self.max - v).exp() + 1.0;
            self.max = v;
        }
    }

    fn merge(&mut self, other: LogSum) {
        if other.max <= self.max {
            if other.max > f64::NEG_INFINITY {
                self.sum += other.sum * (other.max - self.max).exp();
            }
        } else {
            self.sum = self.sum * (self.max - other.max).exp() + other.sum;
            self.max = other.max;
        }
    }

    /// The log-sum-exp of a slice in two passes (maximum, then sum).
    fn of(v: &[f64]) -> LogSum {
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            return LogSum::EMPTY;
        }
        LogSum {
            max,
            sum: v.iter().map(|x| (x - max).exp()).sum(),
        }
    }

    fn ln(self) -> f64 {
        self.max + self.sum.ln()
    }
}

/// Per-row sums of one kind (plain or log-sum-exp), or none.
#[derive(Debug, Clone)]
pub(super) enum RowSums {
    None,
    Plain(Vec<f64>),
    Log(Vec<LogSum>),
}

impl RowSums {
    pub fn new(rows: usize, wanted: bool, log: bool) -> RowSums {
        match (wanted, log) {
            (false, _) => RowSums::None,
            (true, false) => RowSums::Plain(vec![0.0; rows]),
            (true, true) => RowSums::Log(vec![LogSum::EMPTY; rows]),
        }
    }

    pub fn clear(&mut self) {
        match self {
            RowSums::None => {}
            RowSums::Plain(v) => v.fill(0.0),
            RowSums::Log(v) => v.fill(LogSum::EMPTY),
        }
    }

    /// Row `a` receives the whole tile row `v`.
    #[inline]
    pub fn add_row(&mut self, a: usize, v: &[f64]) {
        match self {
            RowSums::None => {}
            // In order, as `add_columns` adds a column's values (and as the
            // rectangular pass adds a row's): a row's sum is then the same in both.
            RowSums::Plain(s) => s[a] += v.iter().sum::<f64>(),
            RowSums::Log(s) => s[a].merge(LogSum::of(v)),
        }
    }

    /// Each column `b` receives `v[b]`.
    #[inline]
    pub fn add_columns(&mut self, v: &[f64]) {
        match self {
            RowSums::None => {}
            RowSums::Plain(s) => s.iter_mut().zip(v).for_each(|(a, b)| *a += b),
            RowSums::Log(s) => s.iter_mut().zip(v).for_each(|(a, &b)| a.add(b)),
        }
    }

    /// Adds the sums of `other` (of the same kind).
    pub fn merge(&mut self, other: &RowSums) {
        match (self, other) {
            (RowSums::Plain(s), RowSums::Plain(o)) => {
                s.iter_mut().zip(o).for_each(|(a, b)| *a += b)
            }
            (RowSums::Log(s), RowSums::Log(o)) => {
                s.iter_mut().zip(o).for_each(|(a, b)| a.merge(*b))
            }
            _ => {}
        }
    }

    /// Appends the finished sums (log-sums as their logarithms) to `out`.
    pub fn finish(self, out: &mut Vec<f64>) {
        match self {
            RowSums::None => {}
            RowSums::Plain(v) => out.extend_from_slice(&v),
            RowSums::Log(v) => out.extend(v.into_iter().map(LogSum::ln)),
        }
    }
}
