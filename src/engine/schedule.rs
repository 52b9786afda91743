//! The order in which tile pairs are visited: rounds of a round-robin tournament,
//! so that the pairs of a round touch disjoint tiles and run in parallel without
//! sharing an accumulator.

/// The rounds of a round-robin tournament on `n` tiles, preceded by the round of
/// diagonal pairs `(I, I)`. Within a round no tile appears twice.
pub(super) fn schedule(n: usize) -> Vec<Vec<(usize, usize)>> {
    let mut rounds = vec![(0..n).map(|i| (i, i)).collect::<Vec<_>>()];
    if n < 2 {
        return rounds;
    }
    // Circle method: with m even players, fix player m-1 and rotate the others.
    let m = n + n % 2;
    for r in 0..m - 1 {
        let mut round = Vec::with_capacity(m / 2);
        for k in 0..m / 2 {
            let (a, b) = if k == 0 {
                (m - 1, r)
            } else {
                ((r + k) % (m - 1), (r + m - 1 - k) % (m - 1))
            };
            if a < n && b < n {
                round.push((a.min(b), a.max(b)));
            }
        }
        rounds.push(round);
    }
    rounds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_covers_each_pair_once_and_rounds_are_disjoint() {
        for n in 1..12 {
            let rounds = schedule(n);
            let mut seen = std::collections::HashSet::new();
            for round in &rounds {
                let mut used = std::collections::HashSet::new();
                for &(a, b) in round {
                    assert!(a <= b && b < n);
                    assert!(seen.insert((a, b)), "pair twice");
                    assert!(used.insert(a));
                    if a != b {
                        assert!(used.insert(b));
                    }
                }
            }
            assert_eq!(seen.len(), n * (n + 1) / 2);
        }
    }
}
