//! The experiment driver: from a spec and options to every output file's text —
//! `scenarios.csv`, `timings.csv`, `summary.csv`, `summary.md` and the figures —
//! after the checks that make a batch safe to start.

use std::path::{Path, PathBuf};

use brokerflow_graphs::ExpandedGraph;
use brokerflow_solvers::lp::{Backend, CHECK_TOLERANCE};
use brokerflow_solvers::measures::OPTIMUM_TOLERANCE;
use brokerflow_solvers::workload;

use crate::error::ExperimentError;
use crate::files::remove_stale_temporaries;
use crate::runner::{
    columns, compare_options, csv_line, run_batch, scenario_market, Batch, BatchOptions, Progress,
};
use crate::spec::Spec;
use crate::summary;

/// The most worker threads: more than this only multiply the memory of the
/// scenarios held at once (README "Size limits").
pub const MAX_JOBS: usize = 256;

/// How to run an experiment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The output folder (created if missing).
    pub out: PathBuf,
    /// Worker threads (`None`: every core, at most [`MAX_JOBS`]).
    pub jobs: Option<usize>,
    /// Keep the rows a previous run of the same spec finished; run the rest.
    pub resume: bool,
    /// Replace an earlier run's results, and start a batch above the size limits.
    pub force: bool,
    /// Run at most this many scenarios, as an interruption would (tests).
    pub stop_after: Option<usize>,
}

/// A finished experiment: the batch and every output file, not yet written.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// The batch's records and counts.
    pub batch: Batch,
    /// The worker threads it ran on.
    pub jobs: usize,
    /// `(file name, text)` of every output, in write order: the CSV files, the
    /// summaries, then the figures (`.svg`).
    pub files: Vec<(String, String)>,
}

impl Experiment {
    /// How many rows failed.
    pub fn failed(&self) -> usize {
        self.batch.records.iter().filter(|r| !r.ok).count()
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs an experiment: checks that the output folder holds no finished run (unless
/// resuming or forced), the thread count and the size limits; runs the batch
/// ([`run_batch`], reporting to `progress`); and renders every output. Nothing but
/// the journal is written: the caller writes [`Experiment::files`] into `options.out`.
///
/// # Arguments
/// * `spec`: the experiment.
/// * `options`: the output folder, threads, resume, force and an early stop.
/// * `progress`: told as scenarios finish (`&()` for none).
///
/// # Returns
/// The [`Experiment`]: the batch, the thread count and every output file's contents
/// (scenarios.csv, summary.csv, summary.md, timings.csv, the figures of [MCF-Grid]
/// §6).
///
/// # Errors
/// [`ExperimentError`]: an occupied output folder, a bad thread count, a batch over
/// the size limits, the batch's own errors; a cut-short batch is
/// [`ExperimentError::Interrupted`] (its journal stays, for a resume). Failed
/// scenarios are rows, not errors.
///
/// # Complexity
/// That of [`run_batch`], plus rendering, linear in the records (with a sort per
/// percentile).
///
/// # Example
/// See [`run_batch`], which this wraps; a run writes files, so it has no doc-test here.
///
/// Paper: [MCF-Grid] §6.
pub fn run_experiment(
    spec: &Spec,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Experiment, ExperimentError> {
    let out = &options.out;
    if out.join("scenarios.csv").exists() && !options.resume && !options.force {
        return Err(ExperimentError::Occupied { out: out.clone() });
    }
    let jobs = match options.jobs {
        Some(0) => return Err(ExperimentError::NoJobs),
        Some(n) if n > MAX_JOBS => {
            return Err(ExperimentError::TooManyJobs {
                jobs: n,
                max: MAX_JOBS,
                cores: cores(),
            })
        }
        Some(n) => n,
        None => cores().min(MAX_JOBS),
    };
    within_batch_limits(spec, options.force)?;
    if out.exists() && !out.is_dir() {
        return Err(ExperimentError::OutIsFile { path: out.clone() });
    }
    std::fs::create_dir_all(out).map_err(ExperimentError::io("creating", out))?;
    remove_stale_temporaries(out).map_err(ExperimentError::io(
        "removing stale temporary files in",
        out,
    ))?;
    let batch_options = BatchOptions {
        out: out.clone(),
        jobs,
        resume: options.resume,
        stop_after: options.stop_after,
    };
    let batch = run_batch(spec, &batch_options, progress)?;
    if batch.interrupted {
        return Err(ExperimentError::Interrupted { ran: batch.ran });
    }
    let files = render(spec, &batch, jobs)?;
    Ok(Experiment { batch, jobs, files })
}

/// Every output file of a finished batch.
pub fn render(
    spec: &Spec,
    batch: &Batch,
    jobs: usize,
) -> Result<Vec<(String, String)>, ExperimentError> {
    let provenance = provenance(spec);
    let mut files = vec![
        (
            "scenarios.csv".into(),
            scenarios_csv(spec, batch, &provenance),
        ),
        (
            "timings.csv".into(),
            timings_csv(spec, batch, jobs, &provenance),
        ),
        (
            "summary.csv".into(),
            summary::summary_csv(spec, &batch.records, &provenance),
        ),
        (
            "summary.md".into(),
            summary::summary_md(spec, &batch.records, &provenance),
        ),
    ];
    files.extend(figures(spec, batch, &provenance)?);
    Ok(files)
}

#[cfg(feature = "figures")]
fn figures(
    spec: &Spec,
    batch: &Batch,
    provenance: &str,
) -> Result<Vec<(String, String)>, ExperimentError> {
    if !spec.figures {
        return Ok(Vec::new());
    }
    crate::figures::draw_all(spec, &batch.records, provenance)
}

/// Without the `figures` feature no figure is drawn.
#[cfg(not(feature = "figures"))]
fn figures(_: &Spec, _: &Batch, _: &str) -> Result<Vec<(String, String)>, ExperimentError> {
    Ok(Vec::new())
}

/// Removes the `.svg` files in `out` that are not among `files`: figures an earlier
/// run left that this one does not draw would pass for its own.
pub fn remove_stale_figures(out: &Path, files: &[(String, String)]) -> Result<(), ExperimentError> {
    let entries = std::fs::read_dir(out).map_err(ExperimentError::io("reading", out))?;
    for entry in entries {
        let path = entry.map_err(ExperimentError::io("reading", out))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().to_string());
        let is_svg = path.extension().is_some_and(|e| e == "svg");
        if is_svg && !files.iter().any(|(f, _)| Some(f) == name.as_ref()) {
            std::fs::remove_file(&path)
                .map_err(ExperimentError::io("removing the stale figure", &path))?;
        }
    }
    Ok(())
}

/// Refuses, unless `force`, a batch whose estimate is above the limits: each
/// configuration's first scenario is built and checked as `compare` checks a market
/// (its LPs and engine runs), and the batch's pair-runs are that scenario's usable
/// pairs × methods × the configuration's scenarios.
pub fn within_batch_limits(spec: &Spec, force: bool) -> Result<(), ExperimentError> {
    let limits = workload::Limits::DEFAULT;
    let mut batch = workload::BatchEstimate::default();
    for c in &spec.configurations {
        // A scenario that cannot be built is the batch's error row, not a refusal.
        let Ok(market) = scenario_market(c, 0) else {
            continue;
        };
        let g = ExpandedGraph::new(&market);
        let options = compare_options(spec, c);
        if let Err(limit) = workload::check_methods(&g, &c.methods, &options.engine, &limits) {
            if !force {
                return Err(ExperimentError::ScenarioTooLarge {
                    spec: spec.path.clone(),
                    configuration: c.name.clone(),
                    scenario: c.scenario_label(0),
                    limit,
                });
            }
        }
        batch.add(c.scenarios(), c.methods.len(), g.usable_pairs());
    }
    match batch.check(&limits) {
        Err(limit) if !force => Err(ExperimentError::BatchTooLarge {
            spec: spec.path.clone(),
            limit,
        }),
        _ => Ok(()),
    }
}

/// The market of scenario (`config`, `scenario`) — `scenario` is the seed of a
/// generated configuration or the file of a given one — as pretty JSON.
pub fn emit_market(spec: &Spec, config: &str, scenario: &str) -> Result<String, ExperimentError> {
    let c = (spec.configurations.iter().find(|c| c.name == config)).ok_or_else(|| {
        ExperimentError::NoConfiguration {
            spec: spec.path.clone(),
            name: config.to_string(),
        }
    })?;
    let i = c
        .scenario_index(scenario)
        .ok_or_else(|| ExperimentError::NoScenario {
            spec: spec.path.clone(),
            configuration: config.to_string(),
            scenario: scenario.to_string(),
        })?;
    Ok(scenario_market(c, i)?.to_json_pretty())
}

/// The provenance lines every output starts with: version, spec and its
/// hash, LP backend and tolerances, engine settings. No wall clock.
pub fn provenance(spec: &Spec) -> String {
    let e = &spec.engine;
    let backend = match spec.backend {
        Backend::Auto => format!(
            "auto (microlp up to {} variables, {} above)",
            Backend::AUTO_THRESHOLD,
            Backend::large().name()
        ),
        b => b.name().to_string(),
    };
    let tolerances: Vec<String> = match spec.backend {
        Backend::Auto => vec![Backend::Microlp, Backend::Clarabel],
        b => vec![b],
    }
    .into_iter()
    .map(|b| format!("{} {}", b.name(), b.tolerance()))
    .collect();
    format!(
        "# brokerflow {} experiment '{}' (spec file {})\n# spec_sha256: {}\n# lp_backend: {}; solver tolerance: {}; check tolerance: {}; optimum tolerance: {}\n# engine: eta {}, epsilon {}, window {}, rounds {}, ceiling {}, potential {:?}, weight floor {}, welfare scale {}, runtime {}, momentum {}\n",
        env!("CARGO_PKG_VERSION"),
        spec.name,
        spec.path.file_name().map_or(String::new(), |f| f.to_string_lossy().to_string()),
        spec.sha256,
        backend,
        tolerances.join(", "),
        CHECK_TOLERANCE,
        OPTIMUM_TOLERANCE,
        e.eta,
        e.epsilon,
        e.window,
        e.max_rounds,
        e.ceiling
            .map_or("variant default".to_string(), |c| c.to_string()),
        e.potential,
        e.weight_floor
            .map_or("smallest valuation".to_string(), |f| f.to_string()),
        e.welfare_scale
            .map_or("engine default".to_string(), |c| c.to_string()),
        e.runtime.name(),
        e.momentum
            .map_or("engine default".to_string(), |b| b.to_string()),
    )
}

/// `scenarios.csv`: provenance, the header, one line per record.
pub fn scenarios_csv(spec: &Spec, batch: &Batch, provenance: &str) -> String {
    let mut s = provenance.to_string();
    s.push_str(&csv_line(&columns()));
    for r in &batch.records {
        s.push_str(&csv_line(&r.fields(spec)));
    }
    s
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `timings.csv`: the wall clock of this invocation and of every row.
pub fn timings_csv(spec: &Spec, batch: &Batch, jobs: usize, provenance: &str) -> String {
    let mut s = provenance.to_string();
    s.push_str(&format!(
        "# wall clock of this invocation: {:.3} s on {} ({} run, {} resumed)\n",
        batch.seconds,
        plural(jobs, "thread"),
        plural(batch.ran, "scenario"),
        batch.resumed
    ));
    s.push_str("configuration,scenario,method,seconds\n");
    for r in &batch.records {
        let f = r.fields(spec);
        s.push_str(&csv_line(&[&f[0], &f[1], &f[2], &r.seconds.to_string()]));
    }
    s
}
