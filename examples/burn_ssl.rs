//! A small JEPA-style run in burn: an MLP encoder learns 64-d embeddings of the
//! procedural grey textures of `ssl_study` (the same generator, views and
//! metrics, from `examples/common/`) from two augmented views per instance, with
//! `loss = (1 - lambda) * invariance + lambda * regularizer`, for several of
//! unisphere's regularizers (through [`unisphere::burn::regularize`], one call per
//! view's batch) and without one, with the same seeds, budget and Adam.
//! The invariance is LeJEPA's: the mean over views, instances and coordinates of
//! the squared deviation of the unit embeddings from their instance's mean.
//! Evaluation: instance retrieval Recall@1 on 200 held-out textures (one view as
//! query, the other as gallery, both ways) and the Wang–Isola uniformity of the
//! held-out embeddings (0 at collapse, about 3.88 for uniform points on `S^63`).
//!
//! burn runs on its pure-Rust CPU backend (Flex) with autodiff here; the same code
//! runs on any burn device, since [`unisphere::burn::regularize`] reads the rows to
//! the host and puts the gradient back on the tensor's device.
//!
//! Run: `cargo run --release --features burn --example burn_ssl -- [--quick]`
//! (CI runs it in the test profile, `--profile test`, which its tests already
//! built.)
//!
//! `--quick` (CI, under a minute on 2 cores): one seed, 200 steps, and the check
//! that the unregularized run collapses while every regularized one does not and
//! that every uniformity is finite (exit code 1 otherwise). Full mode: three seeds,
//! 600 steps.

use std::process::ExitCode;
use std::time::Instant;

use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use unisphere::burn::regularize;
use unisphere::{KdeKl, Kernel, Ksd, Mmd, Regularizer, Sigreg, Susreg, SusregIntegrated};

#[path = "common/metrics.rs"]
mod metrics;
#[path = "common/textures.rs"]
mod textures;
#[path = "common/views.rs"]
mod views;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Embedding dimension (the projector's output).
const DIM: usize = 64;
/// Width of the representation (the encoder's output).
const REPR: usize = 128;
/// Training and held-out instances.
const TRAIN: usize = 1000;
const HELD_OUT: usize = 200;
/// Seed of the texture data set (fixed: every run sees the same textures).
const DATA_SEED: u64 = 2024;
/// Seed of the held-out views used for evaluation (the same for every run).
const EVAL_SEED: u64 = 77;
/// Quick mode passes if every uniformity is finite, the unregularized run's is
/// below the first value (collapse) and every regularized run's is above the second.
const COLLAPSED_BELOW: f64 = 0.25;
const SPREAD_ABOVE: f64 = 1.0;

/// The encoder (a two-layer MLP on the flat view) and the projector (a two-layer
/// MLP to `DIM`).
#[derive(Module, Debug)]
struct Net {
    encoder: [Linear; 2],
    projector: [Linear; 2],
}

impl Net {
    fn new(device: &Device) -> Net {
        let pixels = views::CROP * views::CROP;
        Net {
            encoder: [
                LinearConfig::new(pixels, 2 * REPR).init(device),
                LinearConfig::new(2 * REPR, REPR).init(device),
            ],
            projector: [
                LinearConfig::new(REPR, 2 * REPR).init(device),
                LinearConfig::new(2 * REPR, DIM).init(device),
            ],
        }
    }

    /// `(representation, raw projector output)` of a batch of flat views.
    fn forward(&self, views: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let repr = self.encoder[1].forward(relu(self.encoder[0].forward(views)));
        let hidden = relu(self.projector[0].forward(relu(repr.clone())));
        (repr, self.projector[1].forward(hidden))
    }
}

/// Rows scaled to unit length.
fn normalize(z: Tensor<2>) -> Tensor<2> {
    let norms = z.clone().square().sum_dim(1).add_scalar(1e-12).sqrt();
    z / norms
}

/// The regularizer of a run, if any.
type Built = unisphere::Result<Option<Box<dyn Regularizer<f32>>>>;

/// A run of the comparison: its label, weight and regularizer (seeded; `None` for
/// the unregularized run).
struct Method {
    label: &'static str,
    lambda: f64,
    build: fn(u64) -> Built,
}

/// The runs compared, the unregularized one first.
const METHODS: [Method; 7] = [
    Method {
        label: "none",
        lambda: 0.0,
        build: |_| Ok(None),
    },
    Method {
        label: "SIGReg M=256",
        lambda: 0.05,
        build: |seed| Ok(Some(Box::new(Sigreg::new(256, seed)?))),
    },
    Method {
        label: "MMD heat t=5/d",
        lambda: 0.05,
        build: |_| {
            Ok(Some(Box::new(Mmd::new(Kernel::heat(
                DIM,
                5.0 / DIM as f64,
            )?))))
        },
    },
    Method {
        label: "KL heat t=2/d",
        lambda: 0.5,
        build: |_| {
            Ok(Some(Box::new(KdeKl::new(Kernel::heat(
                DIM,
                2.0 / DIM as f64,
            )?)?)))
        },
    },
    Method {
        label: "SUSReg M=1024",
        lambda: 0.05,
        build: |seed| Ok(Some(Box::new(Susreg::new(1024, seed)?))),
    },
    Method {
        label: "SUSReg integrated",
        lambda: 0.05,
        build: |_| Ok(Some(Box::new(SusregIntegrated::new()))),
    },
    Method {
        label: "KSD heat t=5/d",
        lambda: 0.05,
        build: |_| {
            Ok(Some(Box::new(Ksd::new(Kernel::heat(
                DIM,
                5.0 / DIM as f64,
            )?))))
        },
    },
];

/// Budget of one mode.
struct Config {
    seeds: Vec<u64>,
    steps: usize,
    batch: usize,
    views: usize,
    lr: f64,
}

/// The outcome of one run.
struct Outcome {
    label: &'static str,
    regularized: bool,
    r1_embedding: f64,
    r1_representation: f64,
    uniformity: f64,
    invariance: f64,
    seconds: f64,
}

/// A batch of `views` augmented views of each of `textures`, view-major, on `device`.
fn batch(textures: &[&[f32]], views: usize, rng: &mut StdRng, device: &Device) -> Tensor<2> {
    let side = views::CROP * views::CROP;
    let mut flat = Vec::with_capacity(views * textures.len() * side);
    for _ in 0..views {
        for t in textures {
            views::push_view(t, rng, &mut flat);
        }
    }
    let rows = views * textures.len();
    Tensor::from_data(TensorData::new(flat, [rows, side]), device)
}

/// Trains one model and evaluates it on the held-out textures.
fn run(
    method: &Method,
    seed: u64,
    cfg: &Config,
    train: &[Vec<f32>],
    held_out: &[Vec<f32>],
) -> Res<Outcome> {
    let start = Instant::now();
    let device = Device::flex().autodiff();
    device.seed(seed);
    let mut net = Net::new(&device);
    let mut opt = AdamConfig::new().init();
    let mut reg = (method.build)(seed)?;
    let regularized = reg.is_some();
    let lambda = method.lambda;
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 1);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut cursor = order.len();
    let mut invariance = 0.0;
    for _ in 0..cfg.steps {
        if cursor + cfg.batch > order.len() {
            order.shuffle(&mut rng);
            cursor = 0;
        }
        let picked: Vec<&[f32]> = order[cursor..cursor + cfg.batch]
            .iter()
            .map(|&i| train[i].as_slice())
            .collect();
        cursor += cfg.batch;
        let x = batch(&picked, cfg.views, &mut rng, &device);
        let (_, raw) = net.forward(x);
        // Views of one instance sit cfg.batch rows apart.
        let z = normalize(raw.clone()).reshape([cfg.views, cfg.batch, DIM]);
        let inv = (z.clone() - z.mean_dim(0)).square().mean();
        invariance = inv.to_data().try_to_vec::<f32>()?[0] as f64;
        let loss = match reg.as_deref_mut() {
            None => inv,
            Some(reg) => {
                // Each view's batch is regularized on its own; the sphere objectives
                // normalise inside, SIGReg tests the raw output against N(0, I).
                let mut total = Tensor::<1>::zeros([1], &device);
                for v in 0..cfg.views {
                    let raw_v = raw.clone().narrow(0, v * cfg.batch, cfg.batch);
                    total = total + regularize(reg, &raw_v)?;
                }
                inv.mul_scalar(1.0 - lambda) + total.mul_scalar(lambda / cfg.views as f64)
            }
        };
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = opt.step(cfg.lr, net, grads);
    }
    // Evaluation: two fixed views of every held-out texture.
    let mut eval_rng = StdRng::seed_from_u64(EVAL_SEED);
    let refs: Vec<&[f32]> = held_out.iter().map(Vec::as_slice).collect();
    let (repr, raw) = net.forward(batch(&refs, 2, &mut eval_rng, &device).detach());
    let n = held_out.len();
    let rows = |t: &Tensor<2>, v: usize| -> Res<Vec<Vec<f64>>> {
        let part = t.clone().narrow(0, v * n, n);
        let width = part.dims()[1];
        Ok(metrics::unit_rows(
            &part.to_data().try_to_vec::<f32>()?,
            width,
        ))
    };
    let (ea, eb) = (rows(&raw, 0)?, rows(&raw, 1)?);
    Ok(Outcome {
        label: method.label,
        regularized,
        r1_embedding: metrics::recall_at_1(&ea, &eb),
        r1_representation: metrics::recall_at_1(&rows(&repr, 0)?, &rows(&repr, 1)?),
        uniformity: metrics::uniformity(&ea),
        invariance,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn main() -> ExitCode {
    match experiment() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("burn_ssl: {e}");
            ExitCode::FAILURE
        }
    }
}

fn experiment() -> Res<ExitCode> {
    let quick = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--quick") => true,
        Some(other) => return Err(format!("unknown argument {other:?}; use [--quick]").into()),
    };
    let cfg = Config {
        seeds: if quick { vec![0] } else { vec![0, 1, 2] },
        steps: if quick { 200 } else { 600 },
        batch: 128,
        views: 2,
        lr: 2e-3,
    };
    let all = textures::generate(TRAIN + HELD_OUT, DATA_SEED);
    let (train, held_out) = all.split_at(TRAIN);
    println!(
        "burn_ssl (burn Flex + autodiff): {TRAIN} training / {HELD_OUT} held-out textures, \
         d = {DIM}, {} views, batch {}, {} Adam steps (lr {}), seeds {:?}",
        cfg.views, cfg.batch, cfg.steps, cfg.lr, cfg.seeds
    );
    let mut outcomes = Vec::new();
    for method in &METHODS {
        for &seed in &cfg.seeds {
            let o = run(method, seed, &cfg, train, held_out)?;
            println!(
                "  {:<18} seed {seed}: R@1 emb {:5.1}%  repr {:5.1}%  uniformity {:.3}  \
                 invariance {:.4}  ({:.1} s)",
                o.label,
                100.0 * o.r1_embedding,
                100.0 * o.r1_representation,
                o.uniformity,
                o.invariance,
                o.seconds
            );
            outcomes.push(o);
        }
    }
    if !quick {
        return Ok(ExitCode::SUCCESS);
    }
    let failures: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            let u = o.uniformity;
            if !u.is_finite() {
                Some(format!("{} has uniformity {u}", o.label))
            } else if !o.regularized && u >= COLLAPSED_BELOW {
                Some(format!(
                    "the unregularized run did not collapse (uniformity {u:.3} >= {COLLAPSED_BELOW})"
                ))
            } else if o.regularized && u <= SPREAD_ABOVE {
                Some(format!(
                    "{} collapsed (uniformity {u:.3} <= {SPREAD_ABOVE})",
                    o.label
                ))
            } else {
                None
            }
        })
        .collect();
    if failures.is_empty() {
        // The margins: how far the closest runs stayed from the thresholds.
        let margin = |regularized: bool, gap: fn(f64) -> f64| {
            outcomes
                .iter()
                .filter(|o| o.regularized == regularized)
                .map(|o| gap(o.uniformity))
                .fold(f64::INFINITY, f64::min)
        };
        let collapse_margin = margin(false, |u| COLLAPSED_BELOW - u);
        let spread_margin = margin(true, |u| u - SPREAD_ABOVE);
        println!(
            "quick check passed: every uniformity is finite, the unregularized run collapses \
             (uniformity < {COLLAPSED_BELOW}, margin {collapse_margin:.3}), every regularized \
             run stays spread (uniformity > {SPREAD_ABOVE}, margin {spread_margin:.3})"
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "burn_ssl --quick: expected finite uniformities, collapse without a regularizer \
             and none with one:"
        );
        failures.iter().for_each(|f| eprintln!("  {f}"));
        Ok(ExitCode::FAILURE)
    }
}
