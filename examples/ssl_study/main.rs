//! The regularizers compared in self-supervised training, each at its own best
//! weight, with enough paired seeds to decide the paper's claims.
//!
//! A small JEPA-style encoder learns 64-d embeddings from two augmented views per
//! item with `loss = invariance + lambda * regularizer`, on two data sets: procedural
//! textures (unclustered: every item its own instance) and the 8x8 handwritten digits
//! (clustered: ten classes). Thirteen methods (`method.rs`): none, SIGReg (M = 256,
//! 1024) and its integrated twin, SUSReg (M = 1024) and its twin, MMD, KSD and
//! KDE-KL with the heat kernel at the paper's `t`, MMD and KSD with bandlimited
//! kernels (L = 2 and 6).
//!
//! 1. **Lambda**: every regularized method trains once per weight of a log grid
//!    (half decades from 1e-4 to 10) on the training items and is scored on the
//!    validation items (textures: instance Recall@1; digits: k-NN class accuracy);
//!    the best weight is kept.
//! 2. **Test**: every method trains with 10 seeds (0..9) at its weight and is scored
//!    on the test items. Seeds are paired across methods: the same seed gives the
//!    same initialisation, item order and views.
//!
//! One CSV row per run (`runs.csv`) and the held-out curves of the test runs
//! (`curves.csv`), appended as runs finish; a restarted run skips the rows already
//! there, so the study can be stopped and resumed. `examples/ssl_report.rs` turns the
//! CSVs into the figures and tables of `docs/ssl_study.md`.
//!
//! Run: `cargo run --release --features candle-example --example ssl_study --
//! [--quick] [--jobs N] [--out DIR]` (full study: about 3 hours on 2 cores, into
//! `docs/ssl_study/`). `--quick` (CI, under 2 minutes): one seed, 60 steps, a fixed
//! weight per method, into `target/ssl_study_quick/`, and exit code 1 unless the
//! unregularized runs collapse and no regularized run does.

use std::collections::{BTreeMap, HashSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Condvar, Mutex};

mod data;
mod measure;
mod method;
mod model;
mod train;

#[path = "../common/metrics.rs"]
mod metrics;
#[path = "../common/textures.rs"]
mod textures;
#[path = "../common/views.rs"]
mod views;

use data::{Data, Kind};
use method::Method;
use train::{Budget, Outcome};

/// Embedding dimension (the projector's output).
const DIM: usize = 64;
/// The weights tried for every regularized method: half decades, 1e-4 to 10.
const LAMBDAS: [f64; 11] = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0];
/// Seeds of the validation runs and of the test runs.
const VALIDATION_SEEDS: [u64; 1] = [100];
const TEST_SEEDS: [u64; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
/// Quick mode passes if the unregularized runs' uniformity is below the first value
/// (collapse) and every regularized run's above the second.
const COLLAPSED_BELOW: f64 = 0.25;
const SPREAD_ABOVE: f64 = 1.0;

const RUNS_HEADER: &str = "phase,dataset,method,lambda,seed,steps,r1,knn,purity,nn_angle,\
nn_angle_cv,uniformity,invariance,loss_roughness,invariance_roughness,steps_to_90,seconds";
const CURVES_HEADER: &str = "dataset,method,lambda,seed,step,r1,knn,loss";

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Which split a run is scored on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Phase {
    Validation,
    Test,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Validation => "validation",
            Phase::Test => "test",
        }
    }
}

/// One run to do. A test job's weight is chosen when it starts.
#[derive(Clone, Copy, Debug)]
struct Job {
    phase: Phase,
    kind: Kind,
    method: Method,
    lambda: Option<f64>,
    seed: u64,
}

/// The identity of a finished run in `runs.csv`.
type Key = (String, String, String, u64);

fn key(phase: Phase, kind: Kind, method: Method, seed: u64, lambda: f64) -> (Key, String) {
    (
        (
            phase.name().into(),
            kind.name().into(),
            method.name().into(),
            seed,
        ),
        format!("{lambda:e}"),
    )
}

/// What the study has recorded: per run, its weight and its validation score.
#[derive(Default)]
struct Ledger {
    done: HashSet<(Key, String)>,
    /// Validation scores per (data set, method, weight).
    scores: BTreeMap<(Kind, Method, String), Vec<f64>>,
    /// Validation runs still to finish, per (data set, method).
    pending: BTreeMap<(Kind, Method), usize>,
}

impl Ledger {
    /// The rows of an existing `runs.csv`.
    fn read(path: &Path) -> Res<Ledger> {
        let mut ledger = Ledger::default();
        let Ok(text) = std::fs::read_to_string(path) else {
            return Ok(ledger);
        };
        for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split(',').collect();
            let (Some(kind), Some(method)) = (Kind::parse(f[1]), Method::parse(f[2])) else {
                return Err(format!("{}: unknown row {line:?}", path.display()).into());
            };
            let lambda: f64 = f[3].parse()?;
            let seed: u64 = f[4].parse()?;
            let phase = if f[0] == "validation" {
                Phase::Validation
            } else {
                Phase::Test
            };
            ledger.done.insert(key(phase, kind, method, seed, lambda));
            if phase == Phase::Validation {
                let score: f64 = f[primary_column(kind)].parse()?;
                ledger
                    .scores
                    .entry((kind, method, format!("{lambda:e}")))
                    .or_default()
                    .push(score);
            }
        }
        Ok(ledger)
    }

    /// The weight with the best mean validation score.
    fn best_lambda(&self, kind: Kind, method: Method) -> f64 {
        LAMBDAS
            .iter()
            .copied()
            .filter_map(|l| {
                let s = self.scores.get(&(kind, method, format!("{l:e}")))?;
                Some((l, s.iter().sum::<f64>() / s.len() as f64))
            })
            .fold(
                (f64::NAN, f64::NEG_INFINITY),
                |a, b| if b.1 > a.1 { b } else { a },
            )
            .0
    }
}

/// The column of `runs.csv` that chooses the weight: R@1 for textures (instances),
/// k-NN accuracy for digits (classes).
fn primary_column(kind: Kind) -> usize {
    match kind {
        Kind::Textures => 6,
        Kind::Digits => 7,
    }
}

fn main() -> ExitCode {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: nothing else runs yet (no other thread reads the environment).
        // candle's CPU pool spin-waits between small ops; one thread per run is
        // faster here, and runs go in parallel instead (--jobs).
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
    match study() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ssl_study: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The command line.
struct Args {
    quick: bool,
    jobs: usize,
    out: PathBuf,
    only: Option<Kind>,
}

fn parse_args() -> Res<Args> {
    let mut args = Args {
        quick: false,
        jobs: 2,
        out: PathBuf::new(),
        only: None,
    };
    let mut out = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => args.quick = true,
            "--jobs" => args.jobs = it.next().ok_or("--jobs needs a number")?.parse()?,
            "--out" => out = Some(PathBuf::from(it.next().ok_or("--out needs a folder")?)),
            "--only" => {
                let name = it.next().ok_or("--only needs a data set")?;
                args.only = Some(Kind::parse(&name).ok_or("--only takes textures or digits")?);
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}; use [--quick] [--jobs N] [--out DIR] [--only textures|digits]"
                )
                .into());
            }
        }
    }
    args.jobs = args.jobs.max(1);
    args.out = out.unwrap_or_else(|| {
        PathBuf::from(if args.quick {
            "target/ssl_study_quick"
        } else {
            "docs/ssl_study"
        })
    });
    Ok(args)
}

fn study() -> Res<ExitCode> {
    let args = parse_args()?;
    let budget = Budget {
        steps: if args.quick { 60 } else { 600 },
        batch: 128,
        views: 2,
        lr: 2e-3,
        eval_every: if args.quick { 30 } else { 50 },
    };
    std::fs::create_dir_all(&args.out)?;
    let runs_path = args.out.join("runs.csv");
    let curves_path = args.out.join("curves.csv");
    if args.quick {
        // Quick runs start afresh every time.
        let _ = std::fs::remove_file(&runs_path);
        let _ = std::fs::remove_file(&curves_path);
    }
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| args.only.is_none_or(|o| o == *k))
        .collect();
    let datasets: Vec<Data> = kinds
        .iter()
        .map(|&k| Data::load(k))
        .collect::<Result<_, _>>()?;
    let mut ledger = Ledger::read(&runs_path)?;
    let jobs = plan(&kinds, args.quick, &mut ledger);
    println!(
        "ssl_study: {} runs to do ({} already in {}), {} at a time; {} steps of batch {} x {} views",
        jobs.len(),
        ledger.done.len(),
        runs_path.display(),
        args.jobs,
        budget.steps,
        budget.batch,
        budget.views
    );
    let writer = Writer::open(&runs_path, &curves_path)?;
    let state = Shared {
        queue: Mutex::new(jobs.into_iter().rev().collect()),
        ledger: Mutex::new(ledger),
        validated: Condvar::new(),
        failed: Mutex::new(None),
    };
    std::thread::scope(|s| {
        for _ in 0..args.jobs {
            s.spawn(|| worker(&state, &datasets, &budget, &writer, args.quick));
        }
    });
    if let Some(e) = state.failed.into_inner().map_err(|_| "a worker panicked")? {
        return Err(e.into());
    }
    if args.quick {
        return quick_check(&runs_path);
    }
    Ok(ExitCode::SUCCESS)
}

/// The jobs not yet in the ledger: every validation run, then every test run.
fn plan(kinds: &[Kind], quick: bool, ledger: &mut Ledger) -> Vec<Job> {
    let mut jobs = Vec::new();
    for &kind in kinds {
        for method in Method::ALL {
            if quick || method == Method::None {
                continue;
            }
            for &lambda in &LAMBDAS {
                for &seed in &VALIDATION_SEEDS {
                    if !ledger
                        .done
                        .contains(&key(Phase::Validation, kind, method, seed, lambda))
                    {
                        *ledger.pending.entry((kind, method)).or_default() += 1;
                        jobs.push(Job {
                            phase: Phase::Validation,
                            kind,
                            method,
                            lambda: Some(lambda),
                            seed,
                        });
                    }
                }
            }
        }
    }
    let seeds: &[u64] = if quick { &[0] } else { &TEST_SEEDS };
    for &kind in kinds {
        for method in Method::ALL {
            for &seed in seeds {
                let fixed = (quick || method == Method::None).then(|| method.quick_lambda());
                let finished = ledger
                    .done
                    .iter()
                    .any(|(k, _)| *k == key(Phase::Test, kind, method, seed, 0.0).0);
                if !finished {
                    jobs.push(Job {
                        phase: Phase::Test,
                        kind,
                        method,
                        lambda: fixed,
                        seed,
                    });
                }
            }
        }
    }
    jobs
}

/// What the workers share.
struct Shared {
    /// Jobs in reverse order (popped from the end).
    queue: Mutex<Vec<Job>>,
    ledger: Mutex<Ledger>,
    /// Signalled whenever a validation run finishes.
    validated: Condvar,
    failed: Mutex<Option<String>>,
}

/// Takes jobs until none is left (or one failed).
fn worker(state: &Shared, datasets: &[Data], budget: &Budget, writer: &Writer, quick: bool) {
    loop {
        if state.failed.lock().map_or(true, |f| f.is_some()) {
            return;
        }
        let Some(mut job) = state.queue.lock().ok().and_then(|mut q| q.pop()) else {
            return;
        };
        if job.lambda.is_none() {
            // A test run waits for its method's validation runs.
            let Ok(mut ledger) = state.ledger.lock() else {
                return;
            };
            while ledger
                .pending
                .get(&(job.kind, job.method))
                .copied()
                .unwrap_or(0)
                > 0
            {
                ledger = match state.validated.wait(ledger) {
                    Ok(l) => l,
                    Err(_) => return,
                };
            }
            job.lambda = Some(ledger.best_lambda(job.kind, job.method));
        }
        let lambda = job.lambda.unwrap_or(f64::NAN);
        let data = datasets
            .iter()
            .find(|d| d.kind == job.kind)
            .expect("loaded");
        let held_out = match job.phase {
            Phase::Validation => &data.validation,
            Phase::Test => &data.test,
        };
        // A run that fails in training (a weight so large that the embeddings
        // diverge, say) is recorded with NaN scores: it loses the weight search.
        let outcome = train::run(data, held_out, job.method, lambda, job.seed, budget)
            .unwrap_or_else(|e| {
                eprintln!(
                    "  {} {} lambda {lambda:e} seed {}: training failed: {e}",
                    job.kind.name(),
                    job.method.name(),
                    job.seed
                );
                Outcome::failed()
            });
        let result = writer
            .record(&job, lambda, budget.steps, &outcome)
            .map(|()| outcome);
        match result {
            Ok(o) => {
                println!(
                    "  {:<10} {:<8} {:<20} lambda {:<6e} seed {:<3} R@1 {:5.1}%  kNN {:5.1}%  uniformity {:.3}  ({:.0} s)",
                    job.phase.name(),
                    job.kind.name(),
                    job.method.name(),
                    lambda,
                    job.seed,
                    100.0 * o.scores.r1,
                    100.0 * o.scores.knn,
                    o.scores.uniformity,
                    o.seconds
                );
                if job.phase == Phase::Validation
                    && let Ok(mut ledger) = state.ledger.lock()
                {
                    let score = match job.kind {
                        Kind::Textures => o.scores.r1,
                        Kind::Digits => o.scores.knn,
                    };
                    ledger
                        .scores
                        .entry((job.kind, job.method, format!("{lambda:e}")))
                        .or_default()
                        .push(score);
                    if let Some(p) = ledger.pending.get_mut(&(job.kind, job.method)) {
                        *p -= 1;
                    }
                    state.validated.notify_all();
                }
            }
            Err(e) => {
                let msg = format!(
                    "{} {} seed {}: {e}",
                    job.kind.name(),
                    job.method.name(),
                    job.seed
                );
                if let Ok(mut f) = state.failed.lock() {
                    f.get_or_insert(msg);
                }
                state.validated.notify_all();
                if !quick {
                    return;
                }
            }
        }
    }
}

/// Appends rows to the two CSVs, one line per write, under a lock.
struct Writer {
    files: Mutex<(std::fs::File, std::fs::File)>,
}

impl Writer {
    fn open(runs: &Path, curves: &Path) -> Res<Writer> {
        let open = |path: &Path, header: &str| -> Res<std::fs::File> {
            let fresh = std::fs::metadata(path).map_or(true, |m| m.len() == 0);
            let mut f = OpenOptions::new().create(true).append(true).open(path)?;
            if fresh {
                writeln!(f, "{header}")?;
            }
            Ok(f)
        };
        Ok(Writer {
            files: Mutex::new((open(runs, RUNS_HEADER)?, open(curves, CURVES_HEADER)?)),
        })
    }

    fn record(&self, job: &Job, lambda: f64, steps: usize, o: &Outcome) -> Res<()> {
        let s = &o.scores;
        let row = format!(
            "{},{},{},{lambda:e},{},{steps},{:.4},{:.4},{:.4},{:.5},{:.5},{:.4},{:.6e},{:.5},{:.5},{},{:.1}\n",
            job.phase.name(),
            job.kind.name(),
            job.method.name(),
            job.seed,
            s.r1,
            s.knn,
            s.purity,
            s.nn_angle,
            s.nn_angle_cv,
            s.uniformity,
            o.invariance,
            o.loss_roughness,
            o.invariance_roughness,
            o.steps_to_90,
            o.seconds
        );
        let mut curve = String::new();
        if job.phase == Phase::Test {
            for (step, r1, knn, loss) in &o.curve {
                curve += &format!(
                    "{},{},{lambda:e},{},{step},{r1:.4},{knn:.4},{loss:.6e}\n",
                    job.kind.name(),
                    job.method.name(),
                    job.seed
                );
            }
        }
        let mut files = self.files.lock().map_err(|_| "the CSV lock is poisoned")?;
        // The curve first: a row in runs.csv marks the run as done.
        files.1.write_all(curve.as_bytes())?;
        files.1.flush()?;
        files.0.write_all(row.as_bytes())?;
        files.0.flush()?;
        Ok(())
    }
}

/// Quick mode's verdict from its `runs.csv`: unregularized runs collapse, no
/// regularized run does, every uniformity is finite.
fn quick_check(runs: &Path) -> Res<ExitCode> {
    let text = std::fs::read_to_string(runs)?;
    let mut failures = Vec::new();
    let mut rows = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let uniformity: f64 = f[11].parse()?;
        rows += 1;
        let none = f[2] == Method::None.name();
        if !uniformity.is_finite() {
            failures.push(format!("{} {}: uniformity {uniformity}", f[1], f[2]));
        } else if none && uniformity >= COLLAPSED_BELOW {
            failures.push(format!(
                "{}: the unregularized run did not collapse (uniformity {uniformity:.3} >= {COLLAPSED_BELOW})",
                f[1]
            ));
        } else if !none && uniformity <= SPREAD_ABOVE {
            failures.push(format!(
                "{} {} collapsed (uniformity {uniformity:.3} <= {SPREAD_ABOVE})",
                f[1], f[2]
            ));
        }
    }
    if rows != Kind::ALL.len() * Method::ALL.len() {
        failures.push(format!(
            "{rows} runs recorded, expected {}",
            Kind::ALL.len() * Method::ALL.len()
        ));
    }
    if failures.is_empty() {
        println!(
            "quick check passed: every uniformity is finite, the unregularized runs collapse \
             (uniformity < {COLLAPSED_BELOW}) and every regularized run stays spread (> {SPREAD_ABOVE})"
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("ssl_study --quick: expected collapse without a regularizer and none with one:");
    failures.iter().for_each(|f| eprintln!("  {f}"));
    Ok(ExitCode::FAILURE)
}
