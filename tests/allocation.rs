//! `loss_and_grad_into` in steady state: after a warm-up call, no call allocates a
//! block of `N x d` elements or more, for every objective, in `f32` and `f64`.
//!
//! A counting global allocator records every allocation (and growth) of at least
//! `LIMIT` bytes, on any thread. This file is its own test binary with one test, so
//! nothing else allocates while it counts.
//!
//! The shape is `N = 1024`, `d = 256`: the pairwise engine keeps per-thread Gram and
//! weight tiles of `TILE x TILE` elements (`TILE = 256`) for the length of a call,
//! which are independent of `N` and `d`; at this shape they are a quarter of
//! `N x d`, so the test sees only what scales with the batch.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use unisphere::ndarray::Array2;
use unisphere::{
    KdeKl, Kernel, Ksd, Mmd, Real, Regularizer, Sigreg, SigregIntegrated, Susreg, SusregIntegrated,
};

struct Counting;

/// Allocations of at least this many bytes are counted (`usize::MAX`: none).
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);
static BIG: AtomicUsize = AtomicUsize::new(0);

fn record(size: usize) {
    if size >= LIMIT.load(Ordering::Relaxed) {
        BIG.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: the caller upholds `alloc`'s contract, which `System` shares.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            record(new_size);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const N: usize = 1024;
const D: usize = 256;

fn objectives<F: Real>() -> Vec<Box<dyn Regularizer<F>>> {
    let d = D as f64;
    vec![
        Box::new(Mmd::new(Kernel::heat(D, 5.0 / d).unwrap())),
        // Bandlimited L = 2 with N > d: the moment path.
        Box::new(Mmd::new(Kernel::bandlimited(D, 2).unwrap())),
        Box::new(Ksd::new(Kernel::heat(D, 5.0 / d).unwrap())),
        Box::new(KdeKl::new(Kernel::heat(D, 2.0 / d).unwrap()).unwrap()),
        Box::new(Sigreg::new(256, 1).unwrap()),
        Box::new(Susreg::new(1024, 1).unwrap()),
        Box::new(SigregIntegrated::new()),
        Box::new(SusregIntegrated::new()),
    ]
}

/// Big allocations made by `f`.
fn big_allocations(f: impl FnOnce()) -> usize {
    let before = BIG.load(Ordering::SeqCst);
    f();
    BIG.load(Ordering::SeqCst) - before
}

fn steady_state<F: Real>(z: &Array2<F>) -> Vec<String> {
    let mut grad = Array2::<F>::zeros((N, D));
    let mut failures = Vec::new();
    for mut reg in objectives::<F>() {
        reg.loss_and_grad_into(z.view(), grad.view_mut(), 1.0)
            .unwrap();
        LIMIT.store(N * D * size_of::<F>(), Ordering::SeqCst);
        let big = big_allocations(|| {
            for _ in 0..2 {
                reg.loss_and_grad_into(z.view(), grad.view_mut(), -0.5)
                    .unwrap();
            }
        });
        LIMIT.store(usize::MAX, Ordering::SeqCst);
        if big != 0 {
            failures.push(format!("{} ({}): {big}", reg.name(), F::NAME));
        }
    }
    failures
}

#[test]
fn no_batch_sized_allocation_after_the_first_call() {
    let z64 = Array2::from_shape_fn((N, D), |(i, j)| {
        (((i * 7919 + j * 104_729) % 1013) as f64 / 1013.0 - 0.5)
            + if j == i % D { 2.0 } else { 0.0 }
    });
    let z32 = z64.mapv(|v| v as f32);
    // The counter sees the blocks it should: one loss_and_grad allocates its result.
    let mut mmd = Mmd::new(Kernel::heat(D, 5.0 / D as f64).unwrap());
    LIMIT.store(N * D * size_of::<f32>(), Ordering::SeqCst);
    let big = big_allocations(|| {
        mmd.loss_and_grad(z32.view()).unwrap();
    });
    LIMIT.store(usize::MAX, Ordering::SeqCst);
    assert!(big >= 1, "the counting allocator saw no N x d block");

    let mut failures = steady_state(&z32);
    failures.extend(steady_state(&z64));
    assert!(
        failures.is_empty(),
        "allocations of N x d elements or more per two steady-state calls: {failures:?}"
    );
}
