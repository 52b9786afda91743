//! The engine against brute-force sums, across tile boundaries, with and without
//! the diagonal, the column copy and kept pairs, and with row sums or without
//! (diagonal tiles then by their upper triangle).

use super::config::{COLUMN_COPY_MAX, TILE};
use super::layout::transpose_tile;
use super::*;
use crate::numerics::transpose;
use crate::real::Real;
use ndarray::{Array2, s};

/// Every sum, with or without the diagonal.
fn every_sum(diagonal: bool) -> PairRequest {
    PairRequest {
        diagonal,
        row_values: true,
        row_weights: true,
        ..Default::default()
    }
}

/// `f = g^2 + g/2`, `w = 2 g + 1/2` (so `w = f'`).
fn quadratic_term(_: usize, _: usize, g: &mut [f64], f: &mut [f64], w: Option<&mut [f64]>) {
    for (fv, gv) in f.iter_mut().zip(g.iter()) {
        *fv = gv * gv + 0.5 * gv;
    }
    if let Some(w) = w {
        for (wv, gv) in w.iter_mut().zip(g.iter()) {
            *wv = 2.0 * gv + 0.5;
        }
    }
}

fn brute(x: &Array2<f64>, diagonal: bool) -> (f64, Vec<f64>, Vec<f64>, Array2<f64>) {
    let n = x.nrows();
    let f = |g: f64| (g * g + 0.5 * g, 2.0 * g + 0.5);
    let mut total = 0.0;
    let mut rv = vec![0.0; n];
    let mut rw = vec![0.0; n];
    let mut g = Array2::zeros(x.dim());
    for i in 0..n {
        for j in 0..n {
            if i == j && !diagonal {
                continue;
            }
            let (v, w) = f(x.row(i).dot(&x.row(j)));
            total += v;
            rv[i] += v;
            rw[i] += w;
            g.row_mut(i).scaled_add(w, &x.row(j));
        }
    }
    (total, rv, rw, g)
}

#[test]
fn matches_brute_force_across_tile_boundaries() {
    for &n in &[1usize, 5, TILE, TILE + 3, 2 * TILE + 17] {
        let x = Array2::from_shape_fn((n, 3), |(i, j)| ((i * 7 + j * 13) % 11) as f64 / 11.0 - 0.4);
        for diagonal in [true, false] {
            let req = every_sum(diagonal);
            let term = quadratic_term;
            let mut grad = Array2::zeros(x.dim());
            let out = pair_sums(x.view(), RowSet::All, &term, req, Some(grad.view_mut()));
            let (total, rv, rw, g) = brute(&x, diagonal);
            assert!((out.total - total).abs() <= 1e-9 * total.abs().max(1.0));
            for i in 0..n {
                assert!((out.row_values[i] - rv[i]).abs() < 1e-9);
                assert!((out.row_weights[i] - rw[i]).abs() < 1e-9);
            }
            let diff = (&grad - &g).mapv(f64::abs).fold(0.0f64, |m, &v| m.max(v));
            assert!(diff < 1e-9, "n={n}");
            // The total and the gradient alone (diagonal tiles by their upper
            // triangle), and the total alone (no weights).
            let req = PairRequest {
                diagonal,
                ..Default::default()
            };
            let mut grad = Array2::zeros(x.dim());
            let out = pair_sums(x.view(), RowSet::All, &term, req, Some(grad.view_mut()));
            assert!((out.total - total).abs() <= 1e-9 * total.abs().max(1.0));
            let diff = (&grad - &g).mapv(f64::abs).fold(0.0f64, |m, &v| m.max(v));
            assert!(diff < 1e-9, "n={n}, the gradient alone");
            let out = pair_sums(x.view(), RowSet::All, &term, req, None);
            assert!((out.total - total).abs() <= 1e-9 * total.abs().max(1.0));
        }
    }
}

/// `f32` rows through whichever products this CPU uses for the Gram tiles and
/// `W X` (the unpacked one on AVX-512F, for the Gram tiles from the column
/// copy), against the `f64` brute force, ragged tiles included.
#[test]
fn f32_gradient_matches_brute_force() {
    for &(n, d) in &[
        (5usize, 3usize),
        (70, 17),
        (TILE + 3, 40),
        (300, 100),
        (300, 600),
    ] {
        let x = Array2::from_shape_fn((n, d), |(i, j)| ((i * 7 + j * 13) % 11) as f64 / 11.0 - 0.4);
        let x32 = x.mapv(|v| v as f32);
        let x = x32.mapv(f64::from);
        let term = quadratic_term;
        let req = PairRequest {
            diagonal: true,
            ..Default::default()
        };
        let (total, _, _, want) = brute(&x, true);
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut buf = Vec::new();
        for rows in [
            x32.view().into(),
            PairRows::with_columns(x32.view(), &mut buf),
        ] {
            let mut grad = Array2::<f32>::zeros((n, d));
            let got = pair_sums(rows, RowSet::All, &term, req, Some(grad.view_mut())).total;
            let diff = (&grad.mapv(f64::from) - &want)
                .mapv(f64::abs)
                .fold(0.0f64, |m, &v| m.max(v));
            assert!(diff <= 1e-5 * scale, "n={n} d={d}: {diff:e} of {scale:e}");
            assert!(
                (got - total).abs() <= 1e-5 * total.abs(),
                "n={n} d={d}: {got} vs {total}"
            );
        }
    }
}

#[test]
fn log_rows_are_log_sum_exp_of_the_values() {
    for &n in &[3usize, TILE + 5, 2 * TILE + 1] {
        let x = Array2::from_shape_fn((n, 4), |(i, j)| ((i * 5 + j * 3) % 7) as f64 / 7.0 - 0.4);
        // Values far below f64's range: ln f = -2000 + 3 g.
        let term = |_: usize, _: usize, g: &mut [f64], f: &mut [f64], _: Option<&mut [f64]>| {
            for (fv, gv) in f.iter_mut().zip(g.iter()) {
                *fv = -2000.0 + 3.0 * gv;
            }
        };
        let req = PairRequest {
            row_values: true,
            log_rows: true,
            ..Default::default()
        };
        let out = pair_sums(x.view(), RowSet::All, &term, req, None);
        for i in 0..n {
            let want = (0..n)
                .filter(|&j| j != i)
                .map(|j| (3.0 * x.row(i).dot(&x.row(j))).exp())
                .sum::<f64>()
                .ln()
                - 2000.0;
            assert!((out.row_values[i] - want).abs() < 1e-12, "n={n} i={i}");
        }
    }
}

#[test]
fn row_pass_matches_brute_force_rows() {
    let n = 2 * TILE + 17;
    let x = Array2::from_shape_fn((n, 3), |(i, j)| ((i * 7 + j * 13) % 11) as f64 / 11.0 - 0.4);
    let term = quadratic_term;
    for diagonal in [true, false] {
        let (_, rv, rw, g) = brute(&x, diagonal);
        for rows in [0..n, 0..1, 5..6, TILE - 3..2 * TILE + 2, n - 1..n] {
            let req = every_sum(diagonal);
            let mut grad = Array2::zeros((rows.len(), 3));
            let out = pair_sums(
                x.view(),
                RowSet::Local(rows.clone()),
                &term,
                req,
                Some(grad.view_mut()),
            );
            let total: f64 = rv[rows.clone()].iter().sum();
            assert!((out.total - total).abs() <= 1e-9 * total.abs().max(1.0));
            for (a, i) in rows.clone().enumerate() {
                assert!((out.row_values[a] - rv[i]).abs() < 1e-9);
                assert!((out.row_weights[a] - rw[i]).abs() < 1e-9);
            }
            let want = g.slice(s![rows.clone(), ..]);
            let diff = (&grad - &want)
                .mapv(f64::abs)
                .fold(0.0f64, |m, &v| m.max(v));
            assert!(diff < 1e-9, "{rows:?}");
        }
    }
}

#[test]
fn transpose_matches_indexing() {
    for (r, c) in [(1usize, 1usize), (3, 40), (17, 16), (33, 65)] {
        let a = Array2::from_shape_fn((r, c), |(i, j)| (i * 1000 + j) as f32);
        let mut t = Array2::zeros((c, r));
        transpose(
            a.as_slice().unwrap(),
            c,
            (r, c),
            t.as_slice_mut().unwrap(),
            r,
        );
        assert_eq!(t, a.t());
        // A block of a larger matrix, into a block of a larger one.
        let mut t = Array2::zeros((c + 2, r + 5));
        let a = Array2::from_shape_fn((r + 1, c + 3), |(i, j)| (i * 1000 + j) as f32);
        transpose_tile(&a, &mut t, (r, c));
        assert_eq!(t.slice(s![..c, ..r]), a.slice(s![..r, ..c]).t());
    }
}

/// The Gram tiles from the column-major copy, and `W_IJ X_J` from the transposed
/// weight tile, pack the same values: every result is the same, bit for bit,
/// with and without the diagonal, kept pairs included. Where the Gram tiles come
/// from the unpacked product instead (`f32` on AVX-512F), whose sums over `k`
/// are split differently from the GEMM's for large `d`, the same to within
/// `f32` rounding.
fn column_copy_gives_the_same_results<F: Real>() {
    let unpacked_gram = F::as_f32(&[]).is_some() && crate::numerics::has_rows_product();
    let same = |a: &Array2<F>, b: &Array2<F>, what: &str| {
        if !unpacked_gram {
            return assert_eq!(a, b, "{what}");
        }
        let scale = a.iter().fold(0.0f64, |m, v| m.max(v.to_f64().abs()));
        let diff = a
            .iter()
            .zip(b)
            .fold(0.0f64, |m, (x, y)| m.max((x.to_f64() - y.to_f64()).abs()));
        assert!(diff <= 1e-5 * scale, "{what}: {diff:e} of {scale:e}");
    };
    let close = |a: f64, b: f64, what: &str| {
        if !unpacked_gram {
            return assert_eq!(a.to_bits(), b.to_bits(), "{what}");
        }
        assert!(
            (a - b).abs() <= 1e-5 * a.abs().max(1e-30),
            "{what}: {a} vs {b}"
        );
    };
    for &(n, d) in &[
        (1usize, 3usize),
        (5, 3),
        (70, 17),
        (TILE + 3, 9),
        (600, 40),
        (1100, 64),
        (300, 600),
    ] {
        let x = Array2::from_shape_fn((n, d), |(i, j)| {
            F::from_f64((((i * 7 + j * 13) % 11) as f64 / 11.0 - 0.4) / (d as f64).sqrt())
        });
        let term = |_: usize, _: usize, g: &mut [f64], f: &mut [f64], w: Option<&mut [f64]>| {
            for (fv, gv) in f.iter_mut().zip(g.iter()) {
                *fv = (0.3 * gv).exp();
            }
            if let Some(w) = w {
                for (wv, gv) in w.iter_mut().zip(g.iter()) {
                    *wv = (1.0 + gv).sin();
                }
            }
        };
        let mut buf = Vec::new();
        let with = PairRows::with_columns(x.view(), &mut buf);
        let packed = F::as_f32(&[]).is_some() && crate::numerics::kernel().takes_any_b();
        assert_eq!(with.has_columns(), !packed && n > tile_rows(n), "n={n}");
        assert_eq!(with.has_packed(), packed && n > tile_rows(n), "n={n}");
        for diagonal in [true, false] {
            let req = every_sum(diagonal);
            let (mut g1, mut g2) = (Array2::<F>::zeros((n, d)), Array2::<F>::zeros((n, d)));
            let a = pair_sums(x.view(), RowSet::All, &term, req, Some(g1.view_mut()));
            let b = pair_sums(with, RowSet::All, &term, req, Some(g2.view_mut()));
            let what = format!("n={n} d={d}");
            close(a.total, b.total, &what);
            for (u, v) in [(a.row_values, b.row_values), (a.row_weights, b.row_weights)] {
                u.iter().zip(&v).for_each(|(&p, &q)| close(p, q, &what));
            }
            same(&g1, &g2, &what);
        }
        let (mut k1, mut k2) = (KeptPairs::default(), KeptPairs::default());
        let req = PairRequest::default();
        let a = pair_sums_keep(x.view(), &term, req, &mut k1);
        let b = pair_sums_keep(with, &term, req, &mut k2);
        close(a.total, b.total, "kept");
        let reweigh = |_: usize, _: usize, v: &[f64], w: &mut [f64]| {
            w.iter_mut().zip(v).for_each(|(w, v)| *w *= v);
        };
        let (mut g1, mut g2) = (Array2::<F>::zeros((n, d)), Array2::<F>::zeros((n, d)));
        reweigh_into(x.view(), &k1, &reweigh, g1.view_mut());
        reweigh_into(with, &k2, &reweigh, g2.view_mut());
        same(&g1, &g2, &format!("kept n={n} d={d}"));
    }
}

#[test]
fn column_copy_gives_the_same_results_f32() {
    column_copy_gives_the_same_results::<f32>();
}

#[test]
fn column_copy_gives_the_same_results_f64() {
    column_copy_gives_the_same_results::<f64>();
}

#[test]
fn column_copy_is_skipped_above_its_size_limit() {
    let x = Array2::<f32>::zeros((COLUMN_COPY_MAX / 64 + 1, 64));
    let mut buf = Vec::new();
    let rows = PairRows::with_columns(x.view(), &mut buf);
    assert!(!rows.has_columns() && !rows.has_packed());
    assert!(buf.capacity() == 0);
}

#[test]
fn second_pass_over_kept_pairs_is_bit_for_bit_a_full_pass() {
    // A value term, then weights made of the values and two per-row factors:
    // once through the kept pairs, once evaluated again with the Gram matrix.
    for &n in &[2usize, 5, 100, TILE + 3, 2 * TILE + 17] {
        let x = Array2::from_shape_fn((n, 7), |(i, j)| {
            (((i * 7 + j * 13) % 11) as f32 / 11.0 - 0.4) * (1.0 + (i % 3) as f32)
        });
        let factor: Vec<f64> = (0..n).map(|i| 1.0 + (i % 5) as f64 / 3.0).collect();
        let term = |_: usize, _: usize, g: &mut [f64], f: &mut [f64], w: Option<&mut [f64]>| {
            for (fv, gv) in f.iter_mut().zip(g.iter()) {
                *fv = (0.3 * gv).exp();
            }
            if let Some(w) = w {
                for (wv, gv) in w.iter_mut().zip(g.iter()) {
                    *wv = gv.sin();
                }
            }
        };
        let reweigh = |i: usize, j0: usize, v: &[f64], w: &mut [f64]| {
            for (b, (wv, fv)) in w.iter_mut().zip(v).enumerate() {
                *wv *= fv * (factor[i] + factor[j0 + b]);
            }
        };
        let full = |i: usize, j0: usize, g: &mut [f64], f: &mut [f64], w: Option<&mut [f64]>| {
            let w = w.expect("weights");
            term(i, j0, g, f, Some(&mut *w));
            reweigh(i, j0, f, w);
        };
        let req = PairRequest {
            row_values: true,
            ..Default::default()
        };
        let mut kept = KeptPairs::default();
        // Twice, the second time into the blocks of the first.
        for _ in 0..2 {
            let first = pair_sums_keep(x.view(), &term, req, &mut kept);
            let plain = pair_sums(x.view(), RowSet::All, &term, req, None);
            assert_eq!(first.total.to_bits(), plain.total.to_bits(), "n={n}");
            assert_eq!(first.row_values, plain.row_values, "n={n}");
            let mut g1 = Array2::<f32>::zeros(x.dim());
            reweigh_into(x.view(), &kept, &reweigh, g1.view_mut());
            let mut g2 = Array2::<f32>::zeros(x.dim());
            pair_sums(
                x.view(),
                RowSet::All,
                &full,
                PairRequest::default(),
                Some(g2.view_mut()),
            );
            assert_eq!(g1, g2, "n={n}");
            assert!(g1.iter().any(|v| *v != 0.0));
        }
    }
}
