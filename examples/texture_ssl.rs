//! A miniature JEPA-style experiment: a small patch-based encoder learns 64-d
//! embeddings of procedural grey textures from two augmented views per instance,
//! with `loss = (1 - lambda) * invariance + lambda * regularizer`, for each of
//! unisphere's regularizers (through [`unisphere::candle::regularize`], one call
//! per view's batch) and without one, with the same seeds, budget and AdamW.
//! The invariance is LeJEPA's: the mean over views, instances and coordinates of
//! the squared deviation of the unit embeddings from their instance's mean
//! (`--sum-invariance`: summed over coordinates instead, `d` times larger).
//! Evaluation: instance retrieval Recall@1 on 200 held-out textures (one view as
//! query, the other as gallery, both ways) on the embeddings and on the encoder's
//! representation, and the Wang–Isola uniformity of the held-out embeddings.
//!
//! Run: `cargo run --release --features candle-example --example texture_ssl -- [--quick]
//! [--sum-invariance] [--csv PATH]`
//!
//! `--quick` (CI, about 30 s): one seed, 60 steps, and the check that the
//! unregularized run collapses while every regularized one does not and that every
//! uniformity is finite (exit code 1 otherwise). Full mode (about 10 minutes on 2
//! cores): three seeds, 600 steps; the table in the README.
//!
//! One CSV row per run, with the invariance mode (`mean` or `sum`). Without
//! `--csv` the rows go to `docs/texture_ssl.csv` (default invariance) or
//! `docs/texture_ssl_sum_invariance.csv` (`--sum-invariance`); quick runs write to
//! `target/texture_ssl_quick.csv` or `target/texture_ssl_quick_sum_invariance.csv`.

use std::process::ExitCode;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use unisphere::candle::regularize;
use unisphere::{KdeKl, Kernel, Ksd, Mmd, Regularizer, Sigreg, Susreg, SusregIntegrated};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Embedding dimension (the projector's output).
const DIM: usize = 64;
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

#[path = "common/textures.rs"]
mod textures;

#[path = "common/views.rs"]
mod views;

mod model {
    //! The encoder and the projector, built from matrix products only (candle's CPU
    //! convolution backward is slow): overlapping 4x4 patches (stride 2) through a
    //! two-layer per-patch MLP, 3x3 groups of those (stride 2) through a linear
    //! layer, global average pooling and batch norm: the 128-d representation. The
    //! projector (linear, batch norm, ReLU, linear) maps it to `DIM`. Weights get a
    //! seeded initialisation (candle's CPU generator cannot be seeded).

    use super::DIM;
    use super::views::CROP;
    use candle_core::{Device, Module, ModuleT, Result, Tensor};
    use candle_nn::{BatchNorm, Linear, VarBuilder, VarMap, batch_norm, linear};
    use rand::{RngExt, SeedableRng, rngs::StdRng};
    use rand_distr::StandardNormal;

    /// Width of the representation the retrieval is also measured on.
    const REPR: usize = 128;
    /// Patch side and stride, and the patch grid's side (7).
    const PATCH: usize = 6;
    const PATCH_STRIDE: usize = 3;
    const GRID: usize = (CROP - PATCH) / PATCH_STRIDE + 1;
    /// Groups of 3x3 patches, stride 2: a 3x3 grid.
    const GROUP: usize = 3;
    const GROUP_STRIDE: usize = 2;
    const GROUPS: usize = (GRID - GROUP) / GROUP_STRIDE + 1;
    /// Channels per patch.
    const CH: usize = 32;

    /// Encoder and projector.
    pub struct Net {
        patch_index: Tensor,
        group_index: Tensor,
        patch: [Linear; 2],
        group: Linear,
        repr_norm: BatchNorm,
        proj: [Linear; 2],
        proj_norm: BatchNorm,
    }

    /// Flat indices of the `side x side` windows of a `grid x grid` array.
    fn windows(grid: usize, side: usize, stride: usize) -> Result<Tensor> {
        let out = (grid - side) / stride + 1;
        let mut index = Vec::with_capacity(out * out * side * side);
        for oy in 0..out {
            for ox in 0..out {
                for ky in 0..side {
                    for kx in 0..side {
                        index.push(((stride * oy + ky) * grid + stride * ox + kx) as u32);
                    }
                }
            }
        }
        Tensor::new(index, &Device::Cpu)
    }

    impl Net {
        /// The layers, registered in `vb`.
        pub fn new(vb: VarBuilder) -> Result<Net> {
            Ok(Net {
                patch_index: windows(CROP, PATCH, PATCH_STRIDE)?,
                group_index: windows(GRID, GROUP, GROUP_STRIDE)?,
                patch: [
                    linear(PATCH * PATCH, CH, vb.pp("patch1"))?,
                    linear(CH, CH, vb.pp("patch2"))?,
                ],
                group: linear(GROUP * GROUP * CH, REPR, vb.pp("group"))?,
                repr_norm: batch_norm(REPR, 1e-5, vb.pp("repr_norm"))?,
                proj: [
                    linear(REPR, 2 * REPR, vb.pp("proj1"))?,
                    linear(2 * REPR, DIM, vb.pp("proj2"))?,
                ],
                proj_norm: batch_norm(2 * REPR, 1e-5, vb.pp("proj_norm"))?,
            })
        }

        /// `(representation, raw projector output)` of a batch of flat views
        /// (`train`: batch statistics in the batch norms).
        pub fn forward(&self, views: &Tensor, train: bool) -> Result<(Tensor, Tensor)> {
            let n = views.dim(0)?;
            let patches = views
                .index_select(&self.patch_index, 1)?
                .reshape((n * GRID * GRID, PATCH * PATCH))?;
            let h = self.patch[0].forward(&patches)?.relu()?;
            let h = self.patch[1]
                .forward(&h)?
                .relu()?
                .reshape((n, GRID * GRID, CH))?;
            let groups = h
                .index_select(&self.group_index, 1)?
                .reshape((n * GROUPS * GROUPS, GROUP * GROUP * CH))?;
            let g = self.group.forward(&groups)?.relu()?;
            let pooled = g.reshape((n, GROUPS * GROUPS, REPR))?.mean(1)?;
            let repr = self.repr_norm.forward_t(&pooled, train)?;
            let hidden = self.proj[0].forward(&repr)?;
            let hidden = self.proj_norm.forward_t(&hidden, train)?.relu()?;
            Ok((repr, self.proj[1].forward(&hidden)?))
        }
    }

    /// Rows scaled to unit length.
    pub fn normalize(z: &Tensor) -> Result<Tensor> {
        z.broadcast_div(&(z.sqr()?.sum_keepdim(1)? + 1e-12)?.sqrt()?)
    }

    /// Re-initialises the linear layers from `seed`, in name order: weights Kaiming
    /// normal (fan in), biases zero. Batch-norm parameters keep their constant
    /// initialisation.
    pub fn seed_init(varmap: &VarMap, seed: u64) -> Result<()> {
        let mut rng = StdRng::seed_from_u64(seed);
        let data = varmap
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("the variable map's lock is poisoned".into()))?;
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        for name in names {
            let var = &data[name];
            let dims = var.dims().to_vec();
            if name.ends_with("weight") && dims.len() == 2 {
                let std = (2.0 / dims[1] as f32).sqrt();
                let values =
                    (0..var.elem_count()).map(|_| std * rng.sample::<f32, _>(StandardNormal));
                var.set(&Tensor::from_iter(values, var.device())?.reshape(dims)?)?;
            } else if name.ends_with("bias") && !name.contains("norm") {
                var.set(&var.zeros_like()?)?;
            }
        }
        Ok(())
    }
}

#[path = "common/metrics.rs"]
mod metrics;

/// The regularizers compared, with the paper's weights.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Method {
    None,
    Sigreg,
    Susreg,
    SusregIntegrated,
    MmdHeat,
    MmdSusregInduced,
    KsdHeat,
    KlHeat,
}

impl Method {
    const ALL: [Method; 8] = [
        Method::None,
        Method::Sigreg,
        Method::Susreg,
        Method::SusregIntegrated,
        Method::MmdHeat,
        Method::MmdSusregInduced,
        Method::KsdHeat,
        Method::KlHeat,
    ];

    fn label(self) -> &'static str {
        match self {
            Method::None => "none",
            Method::Sigreg => "SIGReg M=256",
            Method::Susreg => "SUSReg M=1024",
            Method::SusregIntegrated => "SUSReg integrated",
            Method::MmdHeat => "MMD heat t=5/d",
            Method::MmdSusregInduced => "MMD SUSReg-induced",
            Method::KsdHeat => "KSD heat t=5/d",
            Method::KlHeat => "KL heat t=2/d",
        }
    }

    /// The weight `lambda` of the regularizer.
    fn lambda(self) -> f64 {
        match self {
            Method::None => 0.0,
            Method::KlHeat => 0.5,
            _ => 0.05,
        }
    }

    /// The regularizer (`None` for the unregularized run); sliced ones seeded.
    fn regularizer(self, seed: u64) -> unisphere::Result<Option<Box<dyn Regularizer<f32>>>> {
        let d = DIM as f64;
        Ok(Some(match self {
            Method::None => return Ok(None),
            Method::Sigreg => Box::new(Sigreg::new(256, seed)?),
            Method::Susreg => Box::new(Susreg::new(1024, seed)?),
            Method::SusregIntegrated => Box::new(SusregIntegrated::new()),
            Method::MmdHeat => Box::new(Mmd::new(Kernel::heat(DIM, 5.0 / d)?)),
            Method::MmdSusregInduced => Box::new(Mmd::new(Kernel::susreg_induced(DIM)?)),
            Method::KsdHeat => Box::new(Ksd::new(Kernel::heat(DIM, 5.0 / d)?)),
            Method::KlHeat => Box::new(KdeKl::new(Kernel::heat(DIM, 2.0 / d)?)?),
        }))
    }
}

/// Budget of one mode.
struct Config {
    seeds: Vec<u64>,
    steps: usize,
    batch: usize,
    views: usize,
    lr: f64,
    /// 1: LeJEPA's invariance (mean over coordinates); `DIM`: summed over
    /// coordinates (the squared distance), with `--sum-invariance`.
    invariance_scale: f64,
}

/// The outcome of one run.
struct Outcome {
    method: Method,
    seed: u64,
    r1_embedding: f64,
    r1_representation: f64,
    uniformity: f64,
    invariance: f64,
    seconds: f64,
}

/// A batch of `views` augmented views of each of `textures`, view-major, as a tensor.
fn batch(textures: &[&[f32]], views: usize, rng: &mut StdRng) -> candle_core::Result<Tensor> {
    let mut flat = Vec::with_capacity(views * textures.len() * views::CROP * views::CROP);
    for _ in 0..views {
        for t in textures {
            views::push_view(t, rng, &mut flat);
        }
    }
    let rows = views * textures.len();
    Tensor::from_vec(flat, (rows, views::CROP * views::CROP), &Device::Cpu)
}

/// Trains one model and evaluates it on the held-out textures.
fn run(
    method: Method,
    seed: u64,
    cfg: &Config,
    train: &[Vec<f32>],
    held_out: &[Vec<f32>],
) -> Res<Outcome> {
    let start = Instant::now();
    let varmap = VarMap::new();
    let net = model::Net::new(VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu))?;
    model::seed_init(&varmap, seed)?;
    let params = ParamsAdamW {
        lr: cfg.lr,
        ..Default::default()
    };
    let mut opt = AdamW::new(varmap.all_vars(), params)?;
    let mut reg = method.regularizer(seed)?;
    let lambda = method.lambda();
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
        let x = batch(&picked, cfg.views, &mut rng)?;
        let (_, raw) = net.forward(&x, true)?;
        let z = model::normalize(&raw)?;
        // Views of one instance sit cfg.batch rows apart. LeJEPA's invariance: the
        // mean over views, instances and coordinates of the squared deviation from
        // the instance's mean embedding (times `invariance_scale`).
        let z = z.reshape((cfg.views, cfg.batch, DIM))?;
        let inv =
            (z.broadcast_sub(&z.mean_keepdim(0)?)?.sqr()?.mean_all()? * cfg.invariance_scale)?;
        invariance = inv.to_scalar::<f32>()? as f64;
        let loss = match reg.as_deref_mut() {
            None => inv,
            Some(reg) => {
                // Each view's batch is regularized on its own; the sphere objectives
                // normalise inside, SIGReg tests the raw output against N(0, I).
                let mut total = Tensor::zeros((), DType::F32, &Device::Cpu)?;
                for v in 0..cfg.views {
                    let raw_v = raw.narrow(0, v * cfg.batch, cfg.batch)?;
                    total = (total + regularize(reg, &raw_v)?)?;
                }
                ((inv * (1.0 - lambda))? + (total * (lambda / cfg.views as f64))?)?
            }
        };
        opt.backward_step(&loss)?;
    }
    // Evaluation: two fixed views of every held-out texture.
    let mut eval_rng = StdRng::seed_from_u64(EVAL_SEED);
    let refs: Vec<&[f32]> = held_out.iter().map(Vec::as_slice).collect();
    let x = batch(&refs, 2, &mut eval_rng)?;
    let (repr, raw) = net.forward(&x, false)?;
    let n = held_out.len();
    let rows = |t: &Tensor, v: usize| -> candle_core::Result<Vec<Vec<f64>>> {
        let part = t.narrow(0, v * n, n)?.contiguous()?;
        Ok(metrics::unit_rows(
            &part.flatten_all()?.to_vec1::<f32>()?,
            part.dim(1)?,
        ))
    };
    let (ea, eb) = (rows(&raw, 0)?, rows(&raw, 1)?);
    Ok(Outcome {
        method,
        seed,
        r1_embedding: metrics::recall_at_1(&ea, &eb),
        r1_representation: metrics::recall_at_1(&rows(&repr, 0)?, &rows(&repr, 1)?),
        uniformity: metrics::uniformity(&ea),
        invariance,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Mean and sample standard deviation.
fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

fn main() -> ExitCode {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: nothing else runs yet (no other thread reads the environment).
        // candle's CPU pool spin-waits between small ops; one thread is faster
        // here, by 4x on two shared cores. Set CANDLE_NUM_THREADS to override.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
    match experiment() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("texture_ssl: {e}");
            ExitCode::FAILURE
        }
    }
}

fn experiment() -> Res<ExitCode> {
    let (mut quick, mut csv, mut sum_invariance) = (false, None, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--sum-invariance" => sum_invariance = true,
            "--csv" => csv = Some(args.next().ok_or("--csv needs a path")?),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; use [--quick] [--sum-invariance] [--csv PATH]"
                )
                .into());
            }
        }
    }
    let cfg = Config {
        seeds: if quick { vec![0] } else { vec![0, 1, 2] },
        steps: if quick { 60 } else { 600 },
        batch: 128,
        views: 2,
        lr: 2e-3,
        invariance_scale: if sum_invariance { DIM as f64 } else { 1.0 },
    };
    let mode = if sum_invariance { "sum" } else { "mean" };
    let csv = csv.unwrap_or_else(|| {
        let stem = if quick {
            "target/texture_ssl_quick"
        } else {
            "docs/texture_ssl"
        };
        let suffix = if sum_invariance {
            "_sum_invariance"
        } else {
            ""
        };
        format!("{stem}{suffix}.csv")
    });
    let all = textures::generate(TRAIN + HELD_OUT, DATA_SEED);
    let (train, held_out) = all.split_at(TRAIN);
    println!(
        "texture_ssl: {TRAIN} training / {HELD_OUT} held-out textures, d = {DIM}, {} views, \
         batch {}, {} AdamW steps (lr {}), invariance x{}, seeds {:?}",
        cfg.views, cfg.batch, cfg.steps, cfg.lr, cfg.invariance_scale, cfg.seeds
    );
    let mut outcomes = Vec::new();
    for method in Method::ALL {
        for &seed in &cfg.seeds {
            let o = run(method, seed, &cfg, train, held_out)?;
            println!(
                "  {:<20} seed {seed}: R@1 emb {:5.1}%  repr {:5.1}%  uniformity {:.3}  invariance {:.4}  ({:.1} s)",
                method.label(),
                100.0 * o.r1_embedding,
                100.0 * o.r1_representation,
                o.uniformity,
                o.invariance,
                o.seconds
            );
            outcomes.push(o);
        }
    }
    write_csv(&csv, &outcomes, mode)?;
    println!(
        "\n| regularizer | lambda | R@1 embedding (%) | R@1 representation (%) | uniformity |"
    );
    println!("|---|---|---|---|---|");
    for method in Method::ALL {
        let of = |f: fn(&Outcome) -> f64| {
            mean_sd(
                &outcomes
                    .iter()
                    .filter(|o| o.method == method)
                    .map(f)
                    .collect::<Vec<_>>(),
            )
        };
        let (r1e, r1e_sd) = of(|o| 100.0 * o.r1_embedding);
        let (r1r, r1r_sd) = of(|o| 100.0 * o.r1_representation);
        let (u, u_sd) = of(|o| o.uniformity);
        println!(
            "| {} | {} | {r1e:.1} ± {r1e_sd:.1} | {r1r:.1} ± {r1r_sd:.1} | {u:.3} ± {u_sd:.3} |",
            method.label(),
            method.lambda()
        );
    }
    println!(
        "(mean ± sample sd over seeds {:?}; per-run rows in {csv})",
        cfg.seeds
    );
    if !quick {
        return Ok(ExitCode::SUCCESS);
    }
    let failures: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            if !o.uniformity.is_finite() {
                return Some(format!("{} has uniformity {}", o.method.label(), o.uniformity));
            }
            let collapsed = o.uniformity < COLLAPSED_BELOW;
            match (o.method == Method::None, collapsed) {
                (true, false) => Some(format!("the unregularized run did not collapse (uniformity {:.3} >= {COLLAPSED_BELOW})", o.uniformity)),
                (false, _) if o.uniformity <= SPREAD_ABOVE => Some(format!("{} collapsed (uniformity {:.3} <= {SPREAD_ABOVE})", o.method.label(), o.uniformity)),
                _ => None,
            }
        })
        .collect();
    if failures.is_empty() {
        // The margins: how far the closest runs stayed from the thresholds.
        let margin = |unregularized: bool, gap: fn(f64) -> f64| {
            outcomes
                .iter()
                .filter(|o| (o.method == Method::None) == unregularized)
                .map(|o| gap(o.uniformity))
                .fold(f64::INFINITY, f64::min)
        };
        let collapse_margin = margin(true, |u| COLLAPSED_BELOW - u);
        let spread_margin = margin(false, |u| u - SPREAD_ABOVE);
        println!(
            "quick check passed: every uniformity is finite, the unregularized run collapses \
             (uniformity < {COLLAPSED_BELOW}, margin {collapse_margin:.3}), every regularized run \
             stays spread (uniformity > {SPREAD_ABOVE}, margin {spread_margin:.3})"
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "texture_ssl --quick: expected finite uniformities, collapse without a regularizer \
             and none with one:"
        );
        failures.iter().for_each(|f| eprintln!("  {f}"));
        Ok(ExitCode::FAILURE)
    }
}

/// Writes one row per run; `mode` is the invariance mode (`mean` or `sum`).
fn write_csv(path: &str, outcomes: &[Outcome], mode: &str) -> Res<()> {
    let mut text = String::from(
        "regularizer,lambda,seed,r1_embedding,r1_representation,uniformity,invariance,seconds,invariance_mode\n",
    );
    for o in outcomes {
        text += &format!(
            "{},{},{},{:.4},{:.4},{:.4},{:.6},{:.1},{mode}\n",
            o.method.label(),
            o.method.lambda(),
            o.seed,
            o.r1_embedding,
            o.r1_representation,
            o.uniformity,
            o.invariance,
            o.seconds
        );
    }
    if let Some(dir) = std::path::Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)?;
    Ok(())
}
