//! What the study measures of held-out embeddings beyond instance retrieval and
//! uniformity (`common/metrics.rs`): k-NN class accuracy, and the local geometry
//! (the class purity of nearest neighbours and the spread of nearest-neighbour
//! angles), and of a training run: how rough its loss curve is.

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The fraction of `queries` whose `k` nearest `memory` rows (cosine) vote for
/// their own class (ties go to the class of the nearer neighbour).
pub fn knn_accuracy(
    memory: &[Vec<f64>],
    memory_labels: &[usize],
    queries: &[Vec<f64>],
    query_labels: &[usize],
    k: usize,
) -> f64 {
    let classes = memory_labels.iter().max().map_or(0, |m| m + 1);
    let mut hits = 0usize;
    for (q, &label) in queries.iter().zip(query_labels) {
        let mut sims: Vec<(f64, usize)> = memory
            .iter()
            .zip(memory_labels)
            .map(|(m, &l)| (dot(q, m), l))
            .collect();
        sims.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut votes = vec![0usize; classes];
        for &(_, l) in sims.iter().take(k) {
            votes[l] += 1;
        }
        let top = votes.iter().copied().max().unwrap_or(0);
        // The nearest neighbour among the tied classes.
        let vote = sims
            .iter()
            .take(k)
            .find(|(_, l)| votes[*l] == top)
            .map(|(_, l)| *l);
        hits += usize::from(vote == Some(label));
    }
    hits as f64 / queries.len().max(1) as f64
}

/// Local geometry of unit rows `x` with classes `labels`: the fraction whose nearest
/// other row has the same class (purity), and the mean and coefficient of variation
/// of the angle (radians) to the nearest other row. Locally clustered embeddings
/// have high purity and many small nearest-neighbour angles (a large variation);
/// instance-separated ones keep every point at a similar, larger distance.
pub fn neighbour_geometry(x: &[Vec<f64>], labels: &[usize]) -> (f64, f64, f64) {
    let n = x.len();
    let mut same = 0usize;
    let mut angles = Vec::with_capacity(n);
    for i in 0..n {
        let (j, c) = (0..n)
            .filter(|&j| j != i)
            .map(|j| (j, dot(&x[i], &x[j])))
            .fold((i, f64::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
        same += usize::from(labels[j] == labels[i]);
        angles.push(c.clamp(-1.0, 1.0).acos());
    }
    let mean = angles.iter().sum::<f64>() / n as f64;
    let var = angles.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n as f64;
    (same as f64 / n as f64, mean, var.sqrt() / mean.max(1e-300))
}

/// The step-to-step roughness of a curve over its second half: the standard
/// deviation of successive differences over the mean absolute value (a
/// dimensionless number, so curves of different scales compare).
pub fn roughness(curve: &[f64]) -> f64 {
    let tail = &curve[curve.len() / 2..];
    if tail.len() < 3 {
        return f64::NAN;
    }
    let diffs: Vec<f64> = tail.windows(2).map(|w| w[1] - w[0]).collect();
    let m = diffs.iter().sum::<f64>() / diffs.len() as f64;
    let sd = (diffs.iter().map(|d| (d - m).powi(2)).sum::<f64>() / (diffs.len() - 1) as f64).sqrt();
    let level = tail.iter().map(|v| v.abs()).sum::<f64>() / tail.len() as f64;
    sd / level.max(1e-300)
}
