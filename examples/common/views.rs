//! Augmented views: a random 24x24 crop, horizontal and vertical flips, and
//! brightness/contrast jitter; pixels centred on 0.

use crate::textures::SIZE;
use rand::{Rng, RngExt};

/// Side of a view in pixels.
pub const CROP: usize = 24;

/// Appends one augmented view of `texture` to `out`.
pub fn push_view(texture: &[f32], rng: &mut impl Rng, out: &mut Vec<f32>) {
    let (ox, oy) = (
        rng.random_range(0..=SIZE - CROP),
        rng.random_range(0..=SIZE - CROP),
    );
    let (flip_x, flip_y) = (rng.random_bool(0.5), rng.random_bool(0.5));
    let contrast = rng.random_range(0.6..1.4f32);
    let brightness = rng.random_range(-0.2..0.2f32);
    for y in 0..CROP {
        for x in 0..CROP {
            let sx = if flip_x { CROP - 1 - x } else { x };
            let sy = if flip_y { CROP - 1 - y } else { y };
            let p = texture[(oy + sy) * SIZE + ox + sx];
            out.push((p - 0.5) * contrast + brightness);
        }
    }
}
