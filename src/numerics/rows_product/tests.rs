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
                packed_b: None,
                upper: false,
                assign: false,
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

/// `B` packed once ([`pack_panels`]) and read from the panels at an offset gives
/// the bits of packing it per product, and panels too short are declined.
#[test]
fn packed_panels_give_the_same_bits() {
    for (m, n, depth, first) in [
        (7usize, 37usize, 300usize, 0usize),
        (13, 16, 9, 5),
        (6, 70, 600, 40),
    ] {
        let total = depth + first + 3;
        for by_columns in [false, true] {
            // The whole B has `total` rows; the product uses rows `first ..`.
            let b_strides = if by_columns { (1, total) } else { (n, 1) };
            let b: Vec<f32> = (0..total * n)
                .map(|v| ((v * 5 % 11) as f32 - 5.0) / 4.0)
                .collect();
            let mut panels = vec![f32::NAN; packed_len(total, n).unwrap()];
            pack_panels(&b, b_strides, total, n, &mut panels);
            let a: Vec<f32> = (0..m * depth)
                .map(|v| ((v * 7 % 13) as f32 - 6.0) / 8.0)
                .collect();
            let offset = first * b_strides.0;
            let mut p = Product {
                m,
                n,
                depth,
                a: &a,
                a_strides: (depth, 1),
                b: &b[offset..],
                b_strides,
                ldc: n,
                packed_b: None,
                upper: false,
                assign: false,
            };
            let (mut c1, mut c2) = (vec![0.5f32; m * n], vec![0.5f32; m * n]);
            let done = rows_product(&p, &mut c1);
            p.packed_b = Some(PackedB {
                panels: &panels,
                stride: total,
                first,
            });
            assert_eq!(rows_product(&p, &mut c2), done);
            let bits = |c: &[f32]| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&c1),
                bits(&c2),
                "{m}x{n}x{depth} by columns {by_columns}"
            );
            let short = &panels[..panels.len() - 1];
            p.packed_b = Some(PackedB {
                panels: short,
                stride: total,
                first: first + 3,
            });
            assert!(!rows_product(&p, &mut c2), "past the panels");
        }
    }
}

/// A Gram tile of rows with themselves by [`symmetric_product`] (the blocks above
/// the diagonal, then copies across it) has the bits of the whole product.
#[test]
fn symmetric_products_have_the_bits_of_whole_ones() {
    for (m, depth) in [
        (1usize, 3usize),
        (5, 7),
        (8, 16),
        (9, 300),
        (64, 256),
        (100, 33),
        (129, 260),
    ] {
        let x: Vec<f32> = (0..m * depth)
            .map(|v| ((v * 7 % 13) as f32 - 6.0) / 8.0 + (v % 5) as f32 * 1e-3)
            .collect();
        let ldc = m + 2;
        let p = Product {
            m,
            n: m,
            depth,
            a: &x,
            a_strides: (depth, 1),
            b: &x,
            b_strides: (1, depth),
            ldc,
            packed_b: None,
            upper: false,
            assign: false,
        };
        let (mut whole, mut symmetric) = (vec![0.0f32; m * ldc], vec![0.0f32; m * ldc]);
        let done = rows_product(&p, &mut whole);
        assert_eq!(symmetric_product(&p, &mut symmetric), done);
        let bits = |c: &[f32]| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&whole), bits(&symmetric), "m={m} depth={depth}");
    }
}

/// With `assign`, `C`'s entries in the shape end as `A B` whatever they held (NaN
/// here), with the bits of `C = 0` then `C += A B`, for one panel's depth and
/// more, for symmetric products, and for an empty sum; the gaps keep theirs.
#[test]
fn assigning_overwrites_whatever_c_held() {
    for (m, n, depth) in [
        (5usize, 5usize, 7usize),
        (13, 33, 600),
        (64, 64, 256),
        (20, 20, 600),
        (13, 13, 300),
        (4, 9, 0),
    ] {
        // B = A^T from the first n rows: symmetric when m = n.
        let a: Vec<f32> = (0..m.max(n) * depth.max(1))
            .map(|v| ((v * 7 % 13) as f32 - 6.0) / 8.0)
            .collect();
        let ldc = n + 2;
        // B also packed once into panels, as the engine's Gram tiles read it.
        let mut panels = vec![f32::NAN; packed_len(depth, n).unwrap()];
        pack_panels(&a, (1, depth.max(1)), depth, n, &mut panels);
        let product = |assign, packed: bool| Product {
            m,
            n,
            depth,
            a: &a,
            a_strides: (depth.max(1), 1),
            b: &a,
            b_strides: (1, depth.max(1)),
            ldc,
            packed_b: packed.then_some(PackedB {
                panels: &panels,
                stride: depth,
                first: 0,
            }),
            upper: false,
            assign,
        };
        let bits = |c: &[f32]| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let square = m == n;
        let cases = [(false, false), (true, false), (false, true), (true, true)];
        for (symmetric, packed) in cases.into_iter().filter(|&(s, _)| !s || square) {
            let run = |p: &Product<'_>, c: &mut [f32]| {
                if symmetric {
                    symmetric_product(p, c)
                } else {
                    rows_product(p, c)
                }
            };
            let mut zeroed = vec![0.0f32; m * ldc];
            let mut garbage = vec![f32::NAN; m * ldc];
            let done = run(&product(false, packed), &mut zeroed);
            assert_eq!(run(&product(true, packed), &mut garbage), done);
            assert_eq!(done, has_rows_product(), "{m}x{n}x{depth} packed {packed}");
            if !done {
                continue;
            }
            for (i, (z, g)) in zeroed.chunks(ldc).zip(garbage.chunks(ldc)).enumerate() {
                assert_eq!(bits(&z[..n]), bits(&g[..n]), "{m}x{n}x{depth} row {i}");
                assert!(g[n..].iter().all(|v| v.is_nan()), "gap written");
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
            packed_b: None,
            upper: false,
            assign: false,
        }
    }
    let a = vec![1.0f32; 4];
    assert!(!rows_product(&square(&a), &mut [0.0; 3]));
    // An empty sum reads nothing, but an assigned one writes C: C is checked.
    let empty = Product {
        depth: 0,
        assign: true,
        ..square(&a)
    };
    assert!(!rows_product(&empty, &mut [7.0; 3]));
    let mut c = [7.0f32; 4];
    assert!(rows_product(&empty, &mut c) == has_rows_product());
    if has_rows_product() {
        assert_eq!(c, [0.0; 4]);
    }
    assert!(rows_product(&square(&a), &mut [0.0; 4]) == has_rows_product());
    assert!(!rows_product(&square(&a[..3]), &mut [0.0; 4]));
}

/// The three products of a tile pair: a Gram tile, `W X` and `W^T X`, for tiles of
/// `t` rows of `x` (`n x d`) and the `t x t` weights `w`.
fn tile_products<'a>(
    x: &'a [f32],
    w: &'a [f32],
    t: usize,
    d: usize,
) -> [(&'static str, Product<'a>); 3] {
    let w_x = |a_strides| Product {
        m: t,
        n: d,
        depth: t,
        a: w,
        a_strides,
        b: x,
        b_strides: (d, 1),
        ldc: d,
        packed_b: None,
        upper: false,
        assign: false,
    };
    [
        (
            "gram X_I X_J^T",
            Product {
                m: t,
                n: t,
                depth: d,
                a: x,
                a_strides: (d, 1),
                b: &x[300 * d..],
                b_strides: (1, d),
                ldc: t,
                packed_b: None,
                upper: false,
                assign: false,
            },
        ),
        ("W X", w_x((t, 1))),
        ("W^T X", w_x((1, t))),
    ]
}

/// The same product as `tile_products(..)[case]` by matrixmultiply, into `c`.
fn reference_product(case: usize, x: &[f32], w: &[f32], t: usize, d: usize, c: &mut [f32]) {
    use ndarray::{ArrayView2, ArrayViewMut2, linalg::general_mat_mul, s};
    let xs = ArrayView2::from_shape((x.len() / d, d), x).unwrap();
    let ws = ArrayView2::from_shape((t, t), w).unwrap();
    let cols = if case == 0 { t } else { d };
    let mut cv = ArrayViewMut2::from_shape((t, cols), &mut c[..t * cols]).unwrap();
    let rows = xs.slice(s![..t, ..]);
    match case {
        0 => general_mat_mul(
            1.0,
            &rows,
            &xs.slice(s![300..300 + t, ..]).t(),
            1.0,
            &mut cv,
        ),
        1 => general_mat_mul(1.0, &ws, &rows, 1.0, &mut cv),
        _ => general_mat_mul(1.0, &ws.t(), &rows, 1.0, &mut cv),
    }
}

/// The kernel against matrixmultiply on the engine's shapes at N = 4096, d = 256
/// (tiles of 256), single-threaded, interleaved, best of 7 rounds.
/// `cargo test --release --lib rows_product::tests::speed -- --ignored --nocapture`
#[test]
#[ignore]
fn speed() {
    let (t, d, n) = (256usize, 256usize, 4096usize);
    let x: Vec<f32> = (0..n * d)
        .map(|v| ((v * 7 % 13) as f32 - 6.0) / 8.0)
        .collect();
    let w: Vec<f32> = (0..t * t)
        .map(|v| ((v * 5 % 11) as f32 - 5.0) / 4.0)
        .collect();
    let cases = tile_products(&x, &w, t, d);
    let mut best = [[f64::INFINITY; 2]; 3];
    let mut c = vec![0.0f32; t * t.max(d)];
    let reps = 30;
    for _ in 0..7 {
        for (ci, (_, p)) in cases.iter().enumerate() {
            let s = std::time::Instant::now();
            for _ in 0..reps {
                rows_product(p, &mut c);
            }
            best[ci][0] = best[ci][0].min(s.elapsed().as_secs_f64() / reps as f64);
            let s = std::time::Instant::now();
            for _ in 0..reps {
                reference_product(ci, &x, &w, t, d, &mut c);
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
