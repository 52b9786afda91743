//! One training run: a seeded model trained with `loss = invariance + lambda *
//! regularizer` by AdamW, evaluated on held-out items along the way and at the end.
//!
//! The invariance is LeJEPA's: the mean over views, instances and coordinates of the
//! squared deviation of the unit embeddings from their instance's mean embedding.
//! The regularizer sees each view's batch on its own (through
//! [`unisphere::candle::regularize`]) and the mean over views enters the loss; the
//! sphere objectives normalise inside, SIGReg tests the raw projector output.
//!
//! Seeds pair runs across methods: a run's seed fixes the initialisation, the order
//! of the training items and every view, whatever the method (the sliced
//! regularizers draw their directions from the same seed).

use crate::data::{Data, Split};
use crate::method::Method;
use crate::{DIM, measure, metrics, model};
use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use unisphere::candle::regularize;

/// Seed of the held-out views (the same for every run and evaluation).
const EVAL_SEED: u64 = 77;
/// Neighbours of the k-NN classifier.
const K: usize = 5;

/// The budget of a run.
#[derive(Clone, Debug)]
pub struct Budget {
    pub steps: usize,
    pub batch: usize,
    pub views: usize,
    pub lr: f64,
    /// Held-out retrieval is measured every this many steps (for the convergence
    /// measure and the curves).
    pub eval_every: usize,
}

/// Held-out measures of a model.
#[derive(Clone, Debug, Default)]
pub struct Scores {
    /// Instance retrieval Recall@1 between two views (both ways).
    pub r1: f64,
    /// k-NN class accuracy (memory: one view of every training item).
    pub knn: f64,
    /// Class purity of nearest neighbours, mean and CV of nearest-neighbour angles.
    pub purity: f64,
    pub nn_angle: f64,
    pub nn_angle_cv: f64,
    /// Wang–Isola uniformity (`-ln mean exp(-2 |x - y|^2)`).
    pub uniformity: f64,
}

/// The outcome of one run.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub scores: Scores,
    /// The last step's invariance term.
    pub invariance: f64,
    /// Roughness of the total loss and of the invariance over the second half.
    pub loss_roughness: f64,
    pub invariance_roughness: f64,
    /// The first evaluated step at which R@1 reached 90% of its final value.
    pub steps_to_90: usize,
    /// `(step, R@1, k-NN accuracy, loss)` at every evaluation.
    pub curve: Vec<(usize, f64, f64, f64)>,
    pub seconds: f64,
}

impl Outcome {
    /// The record of a run that failed: every measure NaN.
    pub fn failed() -> Outcome {
        Outcome {
            scores: Scores {
                r1: f64::NAN,
                knn: f64::NAN,
                purity: f64::NAN,
                nn_angle: f64::NAN,
                nn_angle_cv: f64::NAN,
                uniformity: f64::NAN,
            },
            invariance: f64::NAN,
            loss_roughness: f64::NAN,
            invariance_roughness: f64::NAN,
            steps_to_90: 0,
            curve: Vec::new(),
            seconds: 0.0,
        }
    }
}

/// A batch of `views` augmented views of each of `items`, view-major, as a tensor.
fn batch(
    data: &Data,
    items: &[&[f32]],
    views: usize,
    rng: &mut StdRng,
) -> candle_core::Result<Tensor> {
    let width = data.kind.view_len();
    let mut flat = Vec::with_capacity(views * items.len() * width);
    for _ in 0..views {
        for t in items {
            data.push_view(t, rng, &mut flat);
        }
    }
    Tensor::from_vec(flat, (views * items.len(), width), &Device::Cpu)
}

/// Unit rows of the `v`-th block of `n` rows of `t`.
fn unit_block(t: &Tensor, v: usize, n: usize) -> candle_core::Result<Vec<Vec<f64>>> {
    let part = t.narrow(0, v * n, n)?.contiguous()?;
    Ok(metrics::unit_rows(
        &part.flatten_all()?.to_vec1::<f32>()?,
        part.dim(1)?,
    ))
}

/// Embeddings of fixed views: two of each `held_out` item, one of each training item.
fn evaluate(
    net: &model::Net,
    data: &Data,
    held_out: &Split,
    full: bool,
) -> candle_core::Result<Scores> {
    let mut rng = StdRng::seed_from_u64(EVAL_SEED);
    let refs: Vec<&[f32]> = held_out.items.iter().map(Vec::as_slice).collect();
    let (_, raw) = net.forward(&batch(data, &refs, 2, &mut rng)?, false)?;
    let n = refs.len();
    let (ea, eb) = (unit_block(&raw, 0, n)?, unit_block(&raw, 1, n)?);
    let memory: Vec<&[f32]> = data.train.items.iter().map(Vec::as_slice).collect();
    let (_, mem_raw) = net.forward(&batch(data, &memory, 1, &mut rng)?, false)?;
    let mem = unit_block(&mem_raw, 0, memory.len())?;
    let mut scores = Scores {
        r1: metrics::recall_at_1(&ea, &eb),
        knn: measure::knn_accuracy(&mem, &data.train.labels, &ea, &held_out.labels, K),
        ..Scores::default()
    };
    if full {
        (scores.purity, scores.nn_angle, scores.nn_angle_cv) =
            measure::neighbour_geometry(&ea, &held_out.labels);
        scores.uniformity = metrics::uniformity(&ea);
    }
    Ok(scores)
}

/// Trains one model with `method` at weight `lambda` from `seed`, evaluating on
/// `held_out` (the validation or the test items).
pub fn run(
    data: &Data,
    held_out: &Split,
    method: Method,
    lambda: f64,
    seed: u64,
    budget: &Budget,
) -> Result<Outcome, Box<dyn std::error::Error + Send + Sync>> {
    let start = std::time::Instant::now();
    let varmap = VarMap::new();
    let net = model::Net::new(
        data.kind,
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
    )?;
    model::seed_init(&varmap, seed)?;
    let params = ParamsAdamW {
        lr: budget.lr,
        ..Default::default()
    };
    let mut opt = AdamW::new(varmap.all_vars(), params)?;
    let mut reg = method.regularizer(seed)?;
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 1);
    let train = &data.train.items;
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut cursor = order.len();
    let (mut losses, mut invariances) = (Vec::new(), Vec::new());
    let mut curve = Vec::new();
    for step in 1..=budget.steps {
        if cursor + budget.batch > order.len() {
            order.shuffle(&mut rng);
            cursor = 0;
        }
        let picked: Vec<&[f32]> = order[cursor..cursor + budget.batch]
            .iter()
            .map(|&i| train[i].as_slice())
            .collect();
        cursor += budget.batch;
        let x = batch(data, &picked, budget.views, &mut rng)?;
        let (_, raw) = net.forward(&x, true)?;
        let z = model::normalize(&raw)?.reshape((budget.views, budget.batch, DIM))?;
        let inv = z.broadcast_sub(&z.mean_keepdim(0)?)?.sqr()?.mean_all()?;
        invariances.push(inv.to_scalar::<f32>()? as f64);
        let loss = match reg.as_deref_mut() {
            None => inv,
            Some(reg) => {
                let mut total = Tensor::zeros((), DType::F32, &Device::Cpu)?;
                for v in 0..budget.views {
                    let raw_v = raw.narrow(0, v * budget.batch, budget.batch)?;
                    total = (total + regularize(reg, &raw_v)?)?;
                }
                (inv + (total * (lambda / budget.views as f64))?)?
            }
        };
        let value = loss.to_scalar::<f32>()? as f64;
        losses.push(value);
        opt.backward_step(&loss)?;
        if step % budget.eval_every == 0 || step == budget.steps {
            let s = evaluate(&net, data, held_out, false)?;
            curve.push((step, s.r1, s.knn, value));
        }
    }
    let scores = evaluate(&net, data, held_out, true)?;
    let target = 0.9 * scores.r1;
    let steps_to_90 = curve
        .iter()
        .find(|c| c.1 >= target)
        .map_or(budget.steps, |c| c.0);
    Ok(Outcome {
        scores,
        invariance: invariances.last().copied().unwrap_or(f64::NAN),
        loss_roughness: measure::roughness(&losses),
        invariance_roughness: measure::roughness(&invariances),
        steps_to_90,
        curve,
        seconds: start.elapsed().as_secs_f64(),
    })
}
