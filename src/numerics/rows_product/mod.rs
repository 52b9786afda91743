//! The engine's `f32` tile products `C += A B` by the crate's own kernels, where
//! the CPU has one: `A` is read one entry at a time (broadcast) with any row and
//! column strides, so a weight tile serves as `W` and as `W^T` alike.
//!
//! - AVX-512F (x86-64, detected at run time): `B`'s rows read as they lie, no
//!   packing (`avx512`);
//! - AVX2 with FMA (x86-64, detected at run time) and NEON (aarch64, always):
//!   `B` copied into panels of 16 columns by up to [`KC`] rows (or read from
//!   panels the caller packed once for many products: [`PackedB`]), each panel's
//!   6 x 16 blocks of `C` summed in registers (`avx2`, `neon`); `A` read as it
//!   lies where its rows are contiguous, else (a transposed tile) first copied
//!   into groups of 6 rows, entries `k`-major.
//!
//! Elsewhere, and for `f64`, the caller uses its GEMM. The environment variable
//! `UNISPHERE_SIMD` (`avx2` or `none`, read once) holds the choice below what the
//! CPU has, so that one machine runs every path.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;

use super::{mirror_upper_f32, transpose_f32};
use std::sync::OnceLock;

/// Columns of a packed panel of `B`.
const NR: usize = 16;
/// Rows of `C` per block of the packed kernels.
const MR: usize = 6;
/// The most rows of `B` per packed panel (the sum over `k` is split at multiples
/// of this depth: 16 KiB of panel, which stays in the first-level cache).
const KC: usize = 256;

/// The operands and shape of a [`rows_product`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Product<'a> {
    /// Rows of `C` and `A`, columns of `C` and `B`, and the summed dimension.
    pub m: usize,
    pub n: usize,
    pub depth: usize,
    /// `A` and its strides `(row, column)`.
    pub a: &'a [f32],
    pub a_strides: (usize, usize),
    /// `B` and its strides `(row, column)`.
    pub b: &'a [f32],
    pub b_strides: (usize, usize),
    /// `C`'s row stride.
    pub ldc: usize,
    /// `B` already in panels (the packed kernels then read it there), if the
    /// caller packed it once for many products.
    pub packed_b: Option<PackedB<'a>>,
    /// Only the blocks of `C` holding entries on or above its diagonal are
    /// needed (set by [`symmetric_product`]); the packed kernels skip the others.
    pub upper: bool,
    /// `C = A B`: `C`'s entries in the shape are overwritten, not added to (the
    /// packed kernels store their first sums, so `C` need not be zeroed first).
    pub assign: bool,
}

/// `B` packed into panels as the packed kernels read it ([`pack_panels`]):
/// the panel of the product's columns `j NR .. (j + 1) NR` holds its row `k` at
/// `panels[(j stride + first + k) NR ..][..NR]`. Columns of a panel past the
/// product's last column may hold anything: they are summed but never stored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PackedB<'a> {
    pub panels: &'a [f32],
    /// Rows per panel.
    pub stride: usize,
    /// The product's first row of `B` in each panel.
    pub first: usize,
}

/// Columns per panel of [`PackedB`].
pub(crate) const PANEL_WIDTH: usize = NR;

/// The entries [`pack_panels`] writes for `B` of `depth x n`.
pub(crate) fn packed_len(depth: usize, n: usize) -> Option<usize> {
    n.div_ceil(NR).checked_mul(depth)?.checked_mul(NR)
}

/// Packs `B` (`depth x n`, strides `b_strides`, every entry within `b`) into
/// `out` ([`packed_len`] entries) as panels of [`PANEL_WIDTH`] columns, `depth` rows
/// each, the columns past `n` zero: the [`PackedB`] of its products has stride
/// `depth`. In parallel when large.
pub(crate) fn pack_panels(
    b: &[f32],
    b_strides: (usize, usize),
    depth: usize,
    n: usize,
    out: &mut [f32],
) {
    if depth == 0 || n == 0 {
        return;
    }
    let pack = |(j, panel): (usize, &mut [f32])| {
        let width = NR.min(n - j * NR);
        pack_panel(b, b_strides, (0, depth), (j * NR, width), panel);
    };
    let out = &mut out[..n.div_ceil(NR) * depth * NR];
    if out.len() >= super::PARALLEL_ENTRIES {
        use rayon::prelude::*;
        out.par_chunks_mut(depth * NR).enumerate().for_each(pack);
    } else {
        out.chunks_mut(depth * NR).enumerate().for_each(pack);
    }
}

impl Product<'_> {
    /// Whether `a`, `b` and a `C` of `c_len` entries hold every entry the shape
    /// touches (products overflowing `usize` count as not).
    fn fits(&self, c_len: usize) -> bool {
        let last = |rows: usize, (rs, cs): (usize, usize), cols: usize| {
            (rows - 1)
                .checked_mul(rs)
                .and_then(|r| (cols - 1).checked_mul(cs).and_then(|c| r.checked_add(c)))
        };
        if self.m == 0 || self.n == 0 {
            return true;
        }
        // An empty sum reads nothing, but an assigned one still writes `C`.
        let c_end = last(self.m, (self.ldc, 1), self.n);
        if self.depth == 0 {
            return c_end.is_some_and(|c| c < c_len);
        }
        let a_end = last(self.m, self.a_strides, self.depth);
        let b_end = last(self.depth, self.b_strides, self.n);
        let packed_fits = self.packed_b.is_none_or(|pb| {
            let last_row = ((self.n - 1) / NR)
                .checked_mul(pb.stride)
                .and_then(|r| r.checked_add(pb.first))
                .and_then(|r| r.checked_add(self.depth));
            last_row
                .and_then(|rows| rows.checked_mul(NR))
                .is_some_and(|len| len <= pb.panels.len())
        });
        packed_fits
            && matches!((a_end, b_end, c_end), (Some(a), Some(b), Some(c))
            if a < self.a.len() && b < self.b.len() && c < c_len)
    }
}

/// The kernel this process uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "aarch64")]
    Neon,
    /// None: the caller's GEMM.
    Gemm,
}

impl Kernel {
    /// Whether the kernel reads `B` with any column stride (the packed kernels), not
    /// only by rows.
    pub fn takes_any_b(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => false,
            Kernel::Gemm => false,
            #[allow(unreachable_patterns)]
            _ => true,
        }
    }
}

/// The best kernel of this CPU, held below by `UNISPHERE_SIMD` (`avx2`, `none`).
pub(crate) fn kernel() -> Kernel {
    static KERNEL: OnceLock<Kernel> = OnceLock::new();
    *KERNEL.get_or_init(|| {
        let cap = std::env::var("UNISPHERE_SIMD").unwrap_or_default();
        if cap == "none" {
            return Kernel::Gemm;
        }
        #[cfg(target_arch = "x86_64")]
        {
            if cap != "avx2" && std::arch::is_x86_feature_detected!("avx512f") {
                return Kernel::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Kernel::Avx2;
            }
        }
        #[cfg(target_arch = "aarch64")]
        return Kernel::Neon;
        #[allow(unreachable_code)]
        Kernel::Gemm
    })
}

/// Whether [`rows_product`] works on this CPU (for well-sized slices).
pub(crate) fn has_rows_product() -> bool {
    kernel() != Kernel::Gemm
}

/// `C[i][l] += sum_k A[i ars + k acs] B[k brs + l bcs]` (or `=`, with
/// [`Product::assign`]) for `i < m`, `l < n`, `k < depth`, each sum formed in `k`
/// order (in pieces of [`KC`] for the packed kernels, each added to `C` in turn,
/// the first stored instead with `assign`);
/// `false` (and nothing done) where this CPU has no kernel, the kernel does not
/// take these strides (AVX-512: `bcs = 1`), or the slices are too short for the
/// shape.
pub(crate) fn rows_product(p: &Product<'_>, c: &mut [f32]) -> bool {
    let kernel = kernel();
    let takes = match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => p.b_strides.1 == 1,
        Kernel::Gemm => false,
        #[allow(unreachable_patterns)]
        _ => true,
    };
    if !takes || !p.fits(c.len()) {
        return false;
    }
    let empty = p.m == 0 || p.n == 0 || p.depth == 0;
    // The packed kernels store the first piece's sums; elsewhere (AVX-512, or no
    // sums at all) `C = A B` is `C = 0`, then `C += A B`.
    #[cfg(target_arch = "x86_64")]
    let stores_first = !empty && kernel != Kernel::Avx512;
    #[cfg(not(target_arch = "x86_64"))]
    let stores_first = !empty;
    if p.assign && !stores_first && p.n > 0 {
        for i in 0..p.m {
            c[i * p.ldc..][..p.n].fill(0.0);
        }
    }
    if empty {
        return true;
    }
    match kernel {
        // SAFETY (each arm): the kernel's instructions are present (`kernel`), and
        // `fits` checked that every entry the shape reads or writes lies within
        // the slices.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => unsafe { avx512::product(p, c) },
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => unsafe { packed_product::<avx2::Avx2>(p, c) },
        #[cfg(target_arch = "aarch64")]
        Kernel::Neon => unsafe { packed_product::<neon::Neon>(p, c) },
        Kernel::Gemm => return false,
    }
    true
}

/// [`rows_product`] for a product that is symmetric (`A B = (A B)^T`, a Gram tile
/// of a set of rows with itself; `m = n`) into a `C` that is symmetric on entry
/// (zero, say), or any `C` with [`Product::assign`]: the packed kernels form only
/// the blocks holding entries on or above the diagonal, and the entries below it
/// are copied across. The copies are the bits the kernels would have formed: each
/// entry's sum has the same terms, products of the same two numbers, in the same
/// order.
pub(crate) fn symmetric_product(p: &Product<'_>, c: &mut [f32]) -> bool {
    let upper = p.m == p.n && kernel().takes_any_b();
    if !rows_product(&Product { upper, ..*p }, c) {
        return false;
    }
    if upper {
        mirror_upper_f32(c, p.ldc, p.m);
    }
    true
}

/// A panel of `B`: up to [`KC`] rows of [`NR`] columns, row-major, aligned for
/// vector loads.
#[repr(C, align(64))]
pub(super) struct Panel(pub [f32; KC * NR]);

/// Rows of `A` per packed piece (the most rows of a tile).
const MC: usize = 256;

/// `A`'s rows packed for the kernels: groups of [`MR`] rows, each group's entries
/// `k`-major (`[k][r]`), so that a block reads one contiguous stream.
pub(super) struct PackedA {
    data: Vec<f32>,
}

/// Where a block reads its [`MR`] rows of `A`: entry `(r, k)` of the block at
/// `rows[r * rs + k * ks]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct ARows<'a> {
    pub rows: &'a [f32],
    pub rs: usize,
    pub ks: usize,
}

impl<'a> ARows<'a> {
    /// Whether the block's `R` rows of `kc` entries lie within `rows`.
    pub fn holds(&self, r: usize, kc: usize) -> bool {
        r == 0 || kc == 0 || (r - 1) * self.rs + (kc - 1) * self.ks < self.rows.len()
    }
}

/// One block of `C` for a packed kernel: `C`'s rows `i0 .. i0 + rows` (`rows <=
/// MR`) and columns `l0 .. l0 + cols` (`cols <= NR`), rows `ldc` apart, plus the
/// product of the block's rows of `A` (`kc <= KC` entries each) and the panel
/// (`kc` rows of [`NR`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Block<'a> {
    pub a: ARows<'a>,
    pub panel: &'a [f32],
    pub i0: usize,
    pub rows: usize,
    pub l0: usize,
    pub cols: usize,
    pub kc: usize,
    pub ldc: usize,
    /// Store the sums into `C` instead of adding them (the first piece of a
    /// [`Product::assign`]).
    pub assign: bool,
}

impl Block<'_> {
    /// Whether the block's operands hold what a kernel reads (`A`'s rows, the
    /// panel's rows) and its shape is a kernel's.
    fn is_well_formed(&self) -> bool {
        self.rows <= MR
            && self.cols <= NR
            && self.kc <= KC
            && self.a.holds(self.rows, self.kc)
            && self.panel.len() >= self.kc * NR
    }
}

/// A packed kernel's instruction set: sums one [`Block`] of `R` rows in registers.
pub(super) trait BlockKernel {
    /// `C += ` the block's product (`C =` with [`Block::assign`]), for a block of
    /// `R` rows.
    ///
    /// # Safety
    /// The kernel's instructions are present; the block has `R` rows and is well
    /// formed ([`Block::is_well_formed`]); `C`'s entries it touches lie within `c`.
    unsafe fn block<const R: usize>(b: &Block<'_>, c: &mut [f32]);
}

/// `C += A B` (`C = A B` with [`Product::assign`]) by the packed kernel `K`,
/// block by block.
///
/// # Safety
/// `K`'s instructions are present, and `p` fits `c` ([`Product::fits`]).
unsafe fn packed_product<K: BlockKernel>(p: &Product<'_>, c: &mut [f32]) {
    by_panels(p, |b| {
        debug_assert!(b.is_well_formed());
        // SAFETY: forwarded; `by_panels` forms well-formed blocks within the shape.
        unsafe {
            match b.rows {
                6 => K::block::<6>(&b, c),
                5 => K::block::<5>(&b, c),
                4 => K::block::<4>(&b, c),
                3 => K::block::<3>(&b, c),
                2 => K::block::<2>(&b, c),
                _ => K::block::<1>(&b, c),
            }
        }
    });
}

/// Columns of `B` per packed piece (16 panels: 256 KiB at the full depth).
const NC: usize = 256;

/// Copies `B`'s rows `k0 .. k0 + kc` and columns `l0 .. l0 + width`
/// (`width <= NR`) into `panel` (row `k` at `k NR`), the columns past `width` zero.
/// `B` is read along its rows (or, taken by columns, along its columns) as they
/// lie.
fn pack_panel(
    b: &[f32],
    (brs, bcs): (usize, usize),
    (k0, kc): (usize, usize),
    (l0, width): (usize, usize),
    panel: &mut [f32],
) {
    let first = l0 * bcs + k0 * brs;
    let panel = &mut panel[..kc * NR];
    if bcs == 1 {
        for (k, row) in panel.chunks_exact_mut(NR).enumerate() {
            row[..width].copy_from_slice(&b[first + k * brs..][..width]);
            row[width..].fill(0.0);
        }
        return;
    }
    if brs == 1 {
        // `B`'s columns are contiguous: the panel is a block of them transposed.
        transpose_f32(&b[first..], bcs, (width, kc), panel, NR);
    } else {
        for l in 0..width {
            for k in 0..kc {
                panel[k * NR + l] = b[first + l * bcs + k * brs];
            }
        }
    }
    if width < NR {
        for row in panel.chunks_exact_mut(NR) {
            row[width..].fill(0.0);
        }
    }
}

/// Packs `B`'s rows `k0 .. k0 + kc` and columns `l1 .. l1 + cols` (`cols <= NC`)
/// into `panels` (panel `j` holds the columns `l1 + j NR ..`).
fn pack_b(
    p: &Product<'_>,
    (k0, kc): (usize, usize),
    (l1, cols): (usize, usize),
    panels: &mut Vec<Panel>,
) {
    let count = cols.div_ceil(NR);
    while panels.len() < count {
        panels.push(Panel([0.0; KC * NR]));
    }
    for (j, panel) in panels.iter_mut().take(count).enumerate() {
        let width = NR.min(cols - j * NR);
        pack_panel(
            p.b,
            p.b_strides,
            (k0, kc),
            (l1 + j * NR, width),
            &mut panel.0,
        );
    }
}

/// Copies `A`'s rows `i0 .. i0 + rows` and columns `k0 .. k0 + kc` into `packed`,
/// the rows of a last partial group zero. Written in order, read along each row
/// (or, for a transposed tile, along each column) as they lie: where a group's
/// entries of one `k` are contiguous (`A`'s row stride 1, a transposed tile), as
/// one copy of up to [`MR`] entries.
fn pack_a(
    p: &Product<'_>,
    (i0, rows): (usize, usize),
    (k0, kc): (usize, usize),
    packed: &mut PackedA,
) {
    let (ars, acs) = p.a_strides;
    let groups = rows.div_ceil(MR);
    let len = groups * kc * MR;
    if packed.data.len() < len {
        packed.data.resize(len, 0.0);
    }
    for (g, group) in packed.data[..len].chunks_exact_mut(kc * MR).enumerate() {
        let first = (i0 + g * MR) * ars + k0 * acs;
        let in_group = MR.min(rows - g * MR);
        for (k, run) in group.chunks_exact_mut(MR).enumerate() {
            let at = first + k * acs;
            let (live, pad) = run.split_at_mut(in_group);
            if ars == 1 && in_group == MR {
                // A fixed-size copy (a call to `memmove` for six entries would cost
                // more than the copy).
                let (src, dst): (&[f32; MR], &mut [f32; MR]) = (
                    p.a[at..at + MR].try_into().expect("MR entries"),
                    live.try_into().expect("MR entries"),
                );
                *dst = *src;
            } else {
                for (r, v) in live.iter_mut().enumerate() {
                    *v = p.a[at + r * ars];
                }
            }
            pad.fill(0.0);
        }
    }
}

/// One thread's packing buffers, reused from call to call.
struct Scratch {
    a: PackedA,
    panels: Vec<Panel>,
}

thread_local! {
    /// Each thread's packing buffers (at most [`MC`] x [`KC`] entries of `A`, and
    /// [`NC`] / [`NR`] panels of `B`).
    static SCRATCH: std::cell::RefCell<Option<Scratch>> = const { std::cell::RefCell::new(None) };
}

/// The packed kernels' loops: `A` in pieces of [`MC`] rows by [`KC`] columns
/// (packed unless its rows are contiguous), `B` in pieces of [`KC`] rows by [`NC`]
/// columns, packed into panels of [`NR`] columns (unless the caller packed it:
/// [`Product::packed_b`]); each panel (`kc` rows of `NR`) applied to every
/// group of up to [`MR`] rows of `A`'s piece by
/// `block(its rows of A, panel, (i0, rows), (l0, cols), kc)`.
fn by_panels(p: &Product<'_>, mut block: impl FnMut(Block<'_>)) {
    let (ars, acs) = p.a_strides;
    SCRATCH.with_borrow_mut(|scratch| {
        let Scratch { a: packed, panels } = scratch.get_or_insert_with(|| Scratch {
            a: PackedA { data: Vec::new() },
            panels: Vec::new(),
        });
        for i1 in (0..p.m).step_by(MC) {
            let rows_piece = MC.min(p.m - i1);
            for k0 in (0..p.depth).step_by(KC) {
                let kc = KC.min(p.depth - k0);
                if acs != 1 {
                    pack_a(p, (i1, rows_piece), (k0, kc), packed);
                }
                let rows_of = |g: usize, i0: usize| match acs {
                    1 => ARows {
                        rows: &p.a[i0 * ars + k0..],
                        rs: ars,
                        ks: 1,
                    },
                    _ => ARows {
                        rows: &packed.data[g * kc * MR..(g + 1) * kc * MR],
                        rs: 1,
                        ks: MR,
                    },
                };
                for l1 in (0..p.n).step_by(NC) {
                    let cols_piece = NC.min(p.n - l1);
                    if p.packed_b.is_none() {
                        pack_b(p, (k0, kc), (l1, cols_piece), panels);
                    }
                    for (j, l0) in (l1..l1 + cols_piece).step_by(NR).enumerate() {
                        let cols = NR.min(l1 + cols_piece - l0);
                        let panel = match p.packed_b {
                            Some(pb) => {
                                let row = (l0 / NR) * pb.stride + pb.first + k0;
                                &pb.panels[row * NR..(row + kc) * NR]
                            }
                            None => &panels[j].0[..kc * NR],
                        };
                        for (g, i0) in (i1..i1 + rows_piece).step_by(MR).enumerate() {
                            if p.upper && i0 >= l0 + cols {
                                break; // this block and the rest lie below the diagonal
                            }
                            block(Block {
                                a: rows_of(g, i0),
                                panel,
                                i0,
                                rows: MR.min(i1 + rows_piece - i0),
                                l0,
                                cols,
                                kc,
                                ldc: p.ldc,
                                assign: p.assign && k0 == 0,
                            });
                        }
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests;
