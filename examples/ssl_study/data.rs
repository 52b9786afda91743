//! The two data sets, split into training, validation and test items, with their
//! augmented views and class labels:
//!
//! - **textures** (unclustered): procedural 32x32 grey textures of four families,
//!   each texture its own instance; views are 24x24 crops with flips and
//!   brightness/contrast jitter. The family is recorded as a (coarse) class.
//! - **digits** (clustered, object-centric): the 1,797 8x8 handwritten digits of
//!   the UCI repository (`examples/data/digits`, CC BY 4.0), ten classes; views
//!   shift the digit by up to one pixel, jitter its contrast and add noise.

use crate::{textures, views};
use rand::{Rng, RngExt, SeedableRng, rngs::StdRng, seq::SliceRandom};
use rand_distr::StandardNormal;

/// Seed of the procedural textures and of the digits' split (fixed: every run
/// sees the same items in the same splits).
const DATA_SEED: u64 = 2024;

/// Which data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Textures,
    Digits,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Textures, Kind::Digits];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Textures => "textures",
            Kind::Digits => "digits",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Pixels per view.
    pub fn view_len(self) -> usize {
        match self {
            Kind::Textures => views::CROP * views::CROP,
            Kind::Digits => DIGIT * DIGIT,
        }
    }
}

/// Side of a digit image.
const DIGIT: usize = 8;

/// Items and their class labels.
pub struct Split {
    pub items: Vec<Vec<f32>>,
    pub labels: Vec<usize>,
}

/// A data set cut into training, validation and test items.
pub struct Data {
    pub kind: Kind,
    pub train: Split,
    pub validation: Split,
    pub test: Split,
}

impl Data {
    /// The data set `kind`: textures 1000 / 200 / 200 (the four families in turn);
    /// digits 1197 / 300 / 300 after a fixed shuffle.
    pub fn load(kind: Kind) -> Result<Data, String> {
        let (items, labels, validation) = match kind {
            Kind::Textures => {
                let items = textures::generate(1400, DATA_SEED);
                let labels = (0..items.len()).map(|i| i % 4).collect();
                (items, labels, 200)
            }
            Kind::Digits => {
                let (items, labels) = digits()?;
                (items, labels, 300)
            }
        };
        let mut order: Vec<usize> = (0..items.len()).collect();
        if kind == Kind::Digits {
            order.shuffle(&mut StdRng::seed_from_u64(DATA_SEED));
        }
        let take = |range: std::ops::Range<usize>| Split {
            items: order[range.clone()]
                .iter()
                .map(|&i| items[i].clone())
                .collect(),
            labels: order[range].iter().map(|&i| labels[i]).collect(),
        };
        let n = items.len();
        let (val_start, test_start) = (n - 2 * validation, n - validation);
        Ok(Data {
            kind,
            train: take(0..val_start),
            validation: take(val_start..test_start),
            test: take(test_start..n),
        })
    }

    /// Appends one augmented view of `item` to `out`.
    pub fn push_view(&self, item: &[f32], rng: &mut impl Rng, out: &mut Vec<f32>) {
        match self.kind {
            Kind::Textures => views::push_view(item, rng, out),
            Kind::Digits => digit_view(item, rng, out),
        }
    }
}

/// The digits and their labels, pixels scaled to `[0, 1]`.
fn digits() -> Result<(Vec<Vec<f32>>, Vec<usize>), String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/digits/digits.csv"
    );
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut items = Vec::new();
    let mut labels = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        let values: Vec<u8> = line
            .split(',')
            .map(|v| v.trim().parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{path}:{}: {e}", line_no + 1))?;
        if values.len() != DIGIT * DIGIT + 1 || values[DIGIT * DIGIT] > 9 {
            return Err(format!(
                "{path}:{}: expected 64 pixels and a label 0..9",
                line_no + 1
            ));
        }
        items.push(
            values[..DIGIT * DIGIT]
                .iter()
                .map(|&p| p as f32 / 16.0)
                .collect(),
        );
        labels.push(values[DIGIT * DIGIT] as usize);
    }
    if items.len() != 1797 {
        return Err(format!(
            "{path}: expected 1797 digits, found {}",
            items.len()
        ));
    }
    Ok((items, labels))
}

/// A view of a digit: shifted by up to one pixel in each direction (zeros enter
/// at the edge), contrast scaled by 0.7..1.3, Gaussian noise of sd 0.1, centred.
fn digit_view(item: &[f32], rng: &mut impl Rng, out: &mut Vec<f32>) {
    let (dx, dy) = (rng.random_range(-1i32..=1), rng.random_range(-1i32..=1));
    let contrast = rng.random_range(0.7..1.3f32);
    for y in 0..DIGIT as i32 {
        for x in 0..DIGIT as i32 {
            let (sx, sy) = (x - dx, y - dy);
            let inside = (0..DIGIT as i32).contains(&sx) && (0..DIGIT as i32).contains(&sy);
            let p = if inside {
                item[(sy as usize) * DIGIT + sx as usize]
            } else {
                0.0
            };
            let noise: f32 = rng.sample(StandardNormal);
            out.push(p * contrast + 0.1 * noise - 0.3);
        }
    }
}
