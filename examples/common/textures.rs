//! Procedural 32x32 grey textures in `[0, 1]`: value noise at a random
//! frequency, orientation and anisotropy; oriented stripes (Gabor-like
//! gratings, sine or square profile, with a slow warp); rotated checkers; dots.

use rand::{Rng, RngExt, SeedableRng, rngs::StdRng};
use rand_distr::StandardNormal;
use std::f32::consts::PI;

/// Side of a texture in pixels.
pub const SIZE: usize = 32;

/// `count` textures (cycling through the four families), from `seed`.
pub fn generate(count: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let mut img = match i % 4 {
                0 => value_noise(&mut rng),
                1 => stripes(&mut rng),
                2 => checkers(&mut rng),
                _ => dots(&mut rng),
            };
            for p in img.iter_mut() {
                *p = (*p + 0.03 * rng.sample::<f32, _>(StandardNormal)).clamp(0.0, 1.0);
            }
            img
        })
        .collect()
}

/// A random rotation of the pixel grid, with `u` multiplied by `stretch`.
fn frame(rng: &mut impl Rng, stretch: f32) -> Frame {
    Frame {
        angle: rng.random_range(0.0..PI).sin_cos(),
        stretch,
    }
}

/// A rotation and a stretch of the pixel grid.
struct Frame {
    angle: (f32, f32),
    stretch: f32,
}

impl Frame {
    /// `(u, v)` of pixel `k` (row-major).
    fn at(&self, k: usize) -> (f32, f32) {
        let ((s, c), stretch) = (self.angle, self.stretch);
        let (x, y) = ((k % SIZE) as f32, (k / SIZE) as f32);
        ((x * c + y * s) * stretch, -x * s + y * c)
    }
}

/// Rescales to span `[lo, hi]`.
fn stretch_to(mut img: Vec<f32>, lo: f32, hi: f32) -> Vec<f32> {
    let min = img.iter().copied().fold(f32::INFINITY, f32::min);
    let max = img.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let range = (max - min).max(1e-6);
    img.iter_mut()
        .for_each(|p| *p = lo + (hi - lo) * (*p - min) / range);
    img
}

/// Two octaves of smooth value noise on a periodic random lattice.
fn value_noise(rng: &mut impl Rng) -> Vec<f32> {
    const P: usize = 16;
    let lattice: Vec<f32> = (0..P * P).map(|_| rng.random::<f32>()).collect();
    let at = |i: i64, j: i64| {
        lattice[(i.rem_euclid(P as i64) as usize) * P + j.rem_euclid(P as i64) as usize]
    };
    let smooth = |t: f32| t * t * (3.0 - 2.0 * t);
    let noise = |u: f32, v: f32| {
        let (i, j) = (u.floor() as i64, v.floor() as i64);
        let (a, b) = (smooth(u - u.floor()), smooth(v - v.floor()));
        let top = at(i, j) * (1.0 - b) + at(i, j + 1) * b;
        let bottom = at(i + 1, j) * (1.0 - b) + at(i + 1, j + 1) * b;
        top * (1.0 - a) + bottom * a
    };
    let cells = rng.random_range(2.0..7.0) / SIZE as f32;
    let stretch = rng.random_range(1.0..3.0);
    let frame = frame(rng, stretch);
    let img = (0..SIZE * SIZE)
        .map(|k| {
            let (u, v) = frame.at(k);
            let (u, v) = (u * cells, v * cells);
            noise(u, v) + 0.5 * noise(2.0 * u + 5.3, 2.0 * v + 1.7)
        })
        .collect();
    stretch_to(img, rng.random_range(0.0..0.3), rng.random_range(0.7..1.0))
}

/// An oriented grating with a slow transverse warp, sine or square profile.
fn stripes(rng: &mut impl Rng) -> Vec<f32> {
    let freq = rng.random_range(1.0 / 12.0..1.0 / 3.0) * 2.0 * PI;
    let phase = rng.random_range(0.0..2.0 * PI);
    let (warp, warp_freq) = (rng.random_range(0.0..2.0), rng.random_range(0.05..0.3));
    let sharp = if rng.random_bool(0.5) { 1.0 } else { 6.0 };
    let frame = frame(rng, 1.0);
    let img = (0..SIZE * SIZE)
        .map(|k| {
            let (u, v) = frame.at(k);
            (sharp * (freq * u + phase + warp * (warp_freq * v).sin()).sin()).tanh()
        })
        .collect();
    stretch_to(img, rng.random_range(0.0..0.3), rng.random_range(0.7..1.0))
}

/// Rotated checkers with soft edges and two random grey levels.
fn checkers(rng: &mut impl Rng) -> Vec<f32> {
    let size = rng.random_range(3.0..9.0);
    let (du, dv) = (rng.random_range(0.0..size), rng.random_range(0.0..size));
    let frame = frame(rng, 1.0);
    let img = (0..SIZE * SIZE)
        .map(|k| {
            let (u, v) = frame.at(k);
            (4.0 * (PI * (u + du) / size).sin() * (PI * (v + dv) / size).sin()).tanh()
        })
        .collect();
    let lo = rng.random_range(0.0..0.35);
    stretch_to(img, lo, rng.random_range(lo + 0.3..1.0))
}

/// Round dots of one radius at random places (wrapping around), soft edges.
fn dots(rng: &mut impl Rng) -> Vec<f32> {
    let radius = rng.random_range(1.2..3.5);
    let count = rng.random_range(6..40);
    let centres: Vec<(f32, f32)> = (0..count)
        .map(|_| {
            (
                rng.random_range(0.0..SIZE as f32),
                rng.random_range(0.0..SIZE as f32),
            )
        })
        .collect();
    let wrap = |d: f32| d.abs().min(SIZE as f32 - d.abs());
    let coverage: Vec<f32> = (0..SIZE * SIZE)
        .map(|k| {
            let (x, y) = ((k % SIZE) as f32, (k / SIZE) as f32);
            centres
                .iter()
                .map(|&(cx, cy)| {
                    let r = wrap(x - cx).hypot(wrap(y - cy));
                    (2.0 * (radius - r)).clamp(0.0, 1.0)
                })
                .fold(0.0, f32::max)
        })
        .collect();
    let (bg, fg) = if rng.random_bool(0.5) {
        (0.1, 0.9)
    } else {
        (0.9, 0.1)
    };
    coverage.into_iter().map(|a| bg + (fg - bg) * a).collect()
}
