//! Instance retrieval Recall@1 and the Wang–Isola uniformity of embeddings.

/// Rows of a flat `n x d` buffer scaled to unit length.
pub fn unit_rows(flat: &[f32], d: usize) -> Vec<Vec<f64>> {
    flat.chunks(d)
        .map(|row| {
            let norm = row.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
            row.iter().map(|&x| x as f64 / norm.max(1e-300)).collect()
        })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Fraction of queries whose nearest gallery row (cosine) is their own
/// instance, averaged over both directions (a -> b and b -> a).
pub fn recall_at_1(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    let one_way = |q: &[Vec<f64>], g: &[Vec<f64>]| {
        let hits = q
            .iter()
            .enumerate()
            .filter(|(i, qi)| {
                let best = g.iter().map(|gj| dot(qi, gj)).enumerate().fold(
                    (0, f64::NEG_INFINITY),
                    |acc, (j, s)| if s > acc.1 { (j, s) } else { acc },
                );
                best.0 == *i
            })
            .count();
        hits as f64 / q.len() as f64
    };
    0.5 * (one_way(a, b) + one_way(b, a))
}

/// `-ln mean_{i != j} exp(-2 |x_i - x_j|^2)` of unit rows: 0 at collapse,
/// about 3.88 for points uniform on `S^63`.
pub fn uniformity(x: &[Vec<f64>]) -> f64 {
    let n = x.len();
    let mut terms = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            terms.push(-4.0 * (1.0 - dot(&x[i], &x[j])));
        }
    }
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = terms.iter().map(|t| (t - max).exp()).sum::<f64>() / terms.len() as f64;
    -(max + mean.ln())
}
