//! The kernels against sums in `f64`, for ragged shapes, `A` as `W` and as `W^T`,
//! `B` by rows and by columns, and depths of more than one panel.

use super::*;

/// `C + A B` in `f64`, and the sum of the products' magnitudes, at `(i, l)`.
fn reference(p: &Product<'_>, c0: f32, i: usize, l: usize) -> (f64, f64) {
    let (ars, acs) = p.a_strides;
    let (brs, bcs) = p.b_strides;
    let terms = (0..p.depth).map(|k| p.a[i * ars + k * acs] as f64 * p.b[k * brs + l * bcs] as f64);
    let scale = terms.clone().map(f64::abs).sum::<f64>() + 1.0;
    (c0 as f64 + terms.sum::<f64>(), scale)
}

#[test]
fn matches_a_plain_sum() {
    for (m, n, depth) in [
        (1usize, 1usize, 1usize),
        (3, 17, 5),
        (4, 64, 64),
        (9, 100, 33),
        (64, 256, 64),
        (5, 3, 300),
        (6, 40, 7),
        (13, 33, 600),
    ] {
        for (transposed, by_columns) in [(false, false), (true, false), (false, true)] {
            let a: Vec<f32> = (0..m * depth)
                .map(|v| ((v * 7 % 13) as f32 - 6.0) / 8.0)
                .collect();
            let a_strides = if transposed { (1, m) } else { (depth, 1) };
            // B by rows (row stride n + 3) or by columns (column stride depth + 2).
            let b_strides = if by_columns {
                (1, depth + 2)
            } else {
                (n + 3, 1)
            };
            let b_len = (depth - 1) * b_strides.0 + (n - 1) * b_strides.1 + 1;
            let b: Vec<f32> = (0..b_len)
                .map(|v| ((v * 5 % 11) as f32 - 5.0) / 4.0)
                .collect();
            let ldc = n + 1;
            let mut c: Vec<f32> = (0..m * ldc).map(|v| (v % 3) as f32).collect();
            let before = c.clone();
            let p = Product {
                m,
                n,
                depth,
                a: &a,
                a_strides,
                b: &b,
                b_strides,
                ldc,
            };
            let done = rows_product(&p, &mut c);
            let expected = has_rows_product() && (kernel().takes_any_b() || !by_columns);
            assert_eq!(done, expected, "{:?} {m}x{n}x{depth}", kernel());
            if !done {
                assert_eq!(c, before, "declined, yet written");
                continue;
            }
            for i in 0..m {
                for l in 0..ldc {
                    let got = c[i * ldc + l];
                    if l >= n {
                        assert_eq!(got, before[i * ldc + l], "gap written");
                        continue;
                    }
                    let (want, scale) = reference(&p, before[i * ldc + l], i, l);
                    assert!(
                        (got as f64 - want).abs() <= 1e-6 * scale,
                        "{:?} {m}x{n}x{depth} ({i},{l}): {got} vs {want}",
                        kernel()
                    );
                }
            }
        }
    }
}

#[test]
fn short_slices_are_declined() {
    fn square(a: &[f32]) -> Product<'_> {
        Product {
            m: 2,
            n: 2,
            depth: 2,
            a,
            a_strides: (2, 1),
            b: a,
            b_strides: (2, 1),
            ldc: 2,
        }
    }
    let a = vec![1.0f32; 4];
    assert!(!rows_product(&square(&a), &mut [0.0; 3]));
    assert!(rows_product(&square(&a), &mut [0.0; 4]) == has_rows_product());
    assert!(!rows_product(&square(&a[..3]), &mut [0.0; 4]));
}

/// The kernel against matrixmultiply on the engine's shapes at N = 4096, d = 256
/// (tiles of 256), single-threaded, interleaved, best of 7 rounds.
/// `cargo test --release --lib rows_product::tests::speed -- --ignored --nocapture`
#[test]
#[ignore]
fn speed() {
    use ndarray::{ArrayView2, ArrayViewMut2, linalg::general_mat_mul};
    let (t, d, n) = (256usize, 256usize, 4096usize);
    let x: Vec<f32> = (0..n * d)
        .map(|v| ((v * 7 % 13) as f32 - 6.0) / 8.0)
        .collect();
    let w: Vec<f32> = (0..t * t)
        .map(|v| ((v * 5 % 11) as f32 - 5.0) / 4.0)
        .collect();
    let xs = ArrayView2::from_shape((n, d), &x[..]).unwrap();
    let ws = ArrayView2::from_shape((t, t), &w[..]).unwrap();
    let cases = [
        (
            "gram X_I X_J^T",
            Product {
                m: t,
                n: t,
                depth: d,
                a: &x[..],
                a_strides: (d, 1),
                b: &x[300 * d..],
                b_strides: (1, d),
                ldc: t,
            },
        ),
        (
            "W X",
            Product {
                m: t,
                n: d,
                depth: t,
                a: &w[..],
                a_strides: (t, 1),
                b: &x[..],
                b_strides: (d, 1),
                ldc: d,
            },
        ),
        (
            "W^T X",
            Product {
                m: t,
                n: d,
                depth: t,
                a: &w[..],
                a_strides: (1, t),
                b: &x[..],
                b_strides: (d, 1),
                ldc: d,
            },
        ),
    ];
    let mut best = [[f64::INFINITY; 2]; 3];
    let mut c = vec![0.0f32; t * t.max(d)];
    for _ in 0..7 {
        for (ci, (_, p)) in cases.iter().enumerate() {
            let reps = 30;
            let s = std::time::Instant::now();
            for _ in 0..reps {
                rows_product(p, &mut c);
            }
            best[ci][0] = best[ci][0].min(s.elapsed().as_secs_f64() / reps as f64);
            let s = std::time::Instant::now();
            for _ in 0..reps {
                let mut cv = ArrayViewMut2::from_shape((p.m, p.n), &mut c[..p.m * p.n]).unwrap();
                match ci {
                    0 => general_mat_mul(
                        1.0,
                        &xs.slice(ndarray::s![..t, ..]),
                        &xs.slice(ndarray::s![300..300 + t, ..]).t(),
                        1.0,
                        &mut cv,
                    ),
                    1 => general_mat_mul(1.0, &ws, &xs.slice(ndarray::s![..t, ..]), 1.0, &mut cv),
                    _ => {
                        general_mat_mul(1.0, &ws.t(), &xs.slice(ndarray::s![..t, ..]), 1.0, &mut cv)
                    }
                }
            }
            best[ci][1] = best[ci][1].min(s.elapsed().as_secs_f64() / reps as f64);
        }
    }
    for (ci, (name, p)) in cases.iter().enumerate() {
        let f = |s: f64| 2.0 * (p.m * p.n * p.depth) as f64 / s / 1e9;
        println!(
            "{name}: kernel {:.1}, matrixmultiply {:.1} GFLOP/s",
            f(best[ci][0]),
            f(best[ci][1])
        );
    }
}
