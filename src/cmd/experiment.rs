//! `brokerflow experiment`: batch runs over random topologies and market files
//! (design §7), reproducible from one spec file, with CSV results, aggregates and SVG
//! figures ([MCF-Grid] Table 1 and Figs. 4–6).

pub mod figures;
pub mod runner;
pub mod spec;
pub mod summary;

use std::path::PathBuf;

use anyhow::Context;
use brokerflow_solvers::lp::{Backend, CHECK_TOLERANCE};
use brokerflow_solvers::measures::OPTIMUM_TOLERANCE;
use brokerflow_solvers::workload;

use crate::cmd::output::Outputs;
use crate::cmd::write_atomically;
use runner::{csv_line, out_dir, run_batch, scenario_market, Batch, COLUMNS, JOURNAL};
use spec::Spec;

/// Run an experiment spec: every (configuration, scenario, method) in parallel, then
/// write into the output folder `scenarios.csv` (one row per configuration, scenario
/// and method, failures included), `timings.csv` (wall clock), `summary.csv` and
/// `summary.md` (means with 95 % Student-t intervals, medians and 90th percentiles,
/// rounds to converge and rounds to reach and keep 95 % of the optimum, paired
/// utility-aware − fair differences, [MCF-Grid] Table 1 beside the paper's numbers) and
/// SVG figures.
///
/// `scenarios.csv` and `summary.csv` are byte-identical for any `--jobs`. Spec
/// format: experiments/README.md.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Experiment spec (TOML), e.g. experiments/table1.toml.
    pub spec: PathBuf,
    /// Output folder (default: <spec folder>/<spec name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores; at most 256).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Keep the rows a previous, interrupted run of the same spec finished; run the rest.
    #[arg(long)]
    pub resume: bool,
    /// Replace the results of an earlier run in the output folder (without it, a
    /// folder that already holds a finished run's scenarios.csv is refused, so the
    /// committed results under experiments/ are never overwritten by accident); also
    /// start a batch whose size estimate is above the limits of README "Size limits"
    /// (10⁹ pair-runs per batch; per scenario those of `solve` and `run`).
    #[arg(long)]
    pub force: bool,
    /// Instead of running: write the market of scenario (CONFIG, SEED) — SEED is the
    /// seed of a generated configuration or the file of a given one — to `-o FILE`.
    #[arg(long, num_args = 2, value_names = ["CONFIG", "SEED"])]
    pub emit: Option<Vec<String>>,
    /// With --emit: where to write the market (JSON).
    #[arg(short = 'o', long = "output", value_name = "FILE", requires = "emit")]
    pub output: Option<PathBuf>,
    /// Testing: stop after this many scenarios, as an interruption would.
    #[arg(long, hide = true)]
    pub stop_after: Option<usize>,
}

/// Runs `experiment`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let spec = Spec::load(&args.spec)?;
    if let Some(emit) = &args.emit {
        let mut outputs = Outputs::plan(&[&args.spec], &[("-o", args.output.as_ref())])?;
        return emit_market(
            &spec,
            &emit[0],
            &emit[1],
            args.output.as_ref(),
            &mut outputs,
        );
    }
    let out = out_dir(&spec, args.out.as_ref());
    if out.join("scenarios.csv").exists() && !args.resume && !args.force {
        anyhow::bail!(
            "{} already holds the results of an earlier run (scenarios.csv): write this run elsewhere with --out DIR, keep its finished rows with --resume, or replace them with --force",
            out.display()
        );
    }
    let jobs = match args.jobs {
        Some(0) => anyhow::bail!("--jobs must be at least 1"),
        Some(n) if n > MAX_JOBS => anyhow::bail!(
            "--jobs {n}: at most {MAX_JOBS} (each job holds a whole scenario in memory; this machine has {})",
            crate::cmd::count(cores(), "core")
        ),
        Some(n) => n,
        None => cores().min(MAX_JOBS),
    };
    within_batch_limits(&spec, args.force)?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    crate::cmd::output::remove_stale_temporaries(&out)
        .with_context(|| format!("removing stale temporary files in {}", out.display()))?;
    let batch = run_batch(&spec, &out, jobs, args.resume, args.stop_after)?;
    if batch.interrupted {
        anyhow::bail!(
            "stopped after {} scenarios (--stop-after); rerun with --resume to finish",
            batch.ran
        );
    }
    let provenance = provenance(&spec);
    let write = |name: &str, text: &str| {
        let path = out.join(name);
        write_atomically(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))
    };
    write("scenarios.csv", &scenarios_csv(&spec, &batch, &provenance))?;
    write(
        "timings.csv",
        &timings_csv(&spec, &batch, jobs, &provenance),
    )?;
    write(
        "summary.csv",
        &summary::summary_csv(&spec, &batch.records, &provenance),
    )?;
    write(
        "summary.md",
        &summary::summary_md(&spec, &batch.records, &provenance),
    )?;
    let figures = if spec.figures {
        figures::draw_all(&spec, &batch.records, &provenance)?
    } else {
        Vec::new()
    };
    // Figures an earlier run left that this one does not draw would pass for its own.
    remove_stale_figures(&out, &figures)?;
    for (name, svg) in &figures {
        write(name, svg)?;
    }
    let _ = std::fs::remove_file(out.join(JOURNAL));
    let failed = batch.records.iter().filter(|r| !r.ok).count();
    eprintln!(
        "experiment '{}': {} run, {} resumed, {} ({} failed) in {:.1} s on {} -> {}",
        spec.name,
        crate::cmd::count(batch.ran, "scenario"),
        batch.resumed,
        crate::cmd::count(batch.records.len(), "row"),
        failed,
        batch.seconds,
        crate::cmd::count(jobs, "thread"),
        out.display()
    );
    if failed > 0 {
        return Err(crate::cmd::Verdict {
            code: crate::cmd::EXIT_FAILED_ROWS,
            message: format!(
                "{failed} of {} rows failed (status \"error\" in {}); the outputs are complete otherwise",
                batch.records.len(),
                out.join("scenarios.csv").display()
            ),
        }
        .into());
    }
    Ok(())
}

/// The most `--jobs`: more threads than this only multiply the memory of the
/// scenarios held at once (README "Size limits").
pub const MAX_JOBS: usize = 256;

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Refuses, unless `force`, a batch whose estimate is above the limits: each
/// configuration's first scenario is built and checked as `compare` checks a market
/// (its LPs and engine runs), and the batch's pair-runs are that scenario's usable pairs
/// × methods × the configuration's scenarios.
fn within_batch_limits(spec: &Spec, force: bool) -> anyhow::Result<()> {
    let limits = workload::Limits::DEFAULT;
    let mut batch = workload::BatchEstimate::default();
    for c in &spec.configurations {
        // A scenario that cannot be built is the batch's error row, not a refusal.
        let Ok(market) = scenario_market(c, 0) else {
            continue;
        };
        let g = brokerflow_graphs::ExpandedGraph::new(&market);
        let options = runner::compare_options(spec, c);
        if let Err(e) = workload::check_methods(&g, &c.methods, &options.engine, &limits) {
            if !force {
                anyhow::bail!(
                    "{}: configuration '{}', scenario {}: {e}; pass --force to start it anyway",
                    spec.path.display(),
                    c.name,
                    c.scenario_label(0)
                );
            }
        }
        batch.add(c.scenarios(), c.methods.len(), g.usable_pairs());
    }
    let checked = batch.check(&limits);
    crate::cmd::within_limits(&spec.path, checked, force)
}

/// Removes the `.svg` files in `out` that are not among `figures`.
fn remove_stale_figures(out: &std::path::Path, figures: &[(String, String)]) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))?;
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().to_string());
        let is_svg = path.extension().is_some_and(|e| e == "svg");
        if is_svg && !figures.iter().any(|(f, _)| Some(f) == name.as_ref()) {
            std::fs::remove_file(&path)
                .with_context(|| format!("removing the stale figure {}", path.display()))?;
        }
    }
    Ok(())
}

/// The provenance lines every output starts with (design §8): version, spec and its
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
        e.ceiling,
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

fn scenarios_csv(spec: &Spec, batch: &Batch, provenance: &str) -> String {
    let mut s = provenance.to_string();
    let head: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    s.push_str(&csv_line(&head));
    for r in &batch.records {
        s.push_str(&csv_line(&r.fields(spec)));
    }
    s
}

fn timings_csv(spec: &Spec, batch: &Batch, jobs: usize, provenance: &str) -> String {
    let mut s = provenance.to_string();
    s.push_str(&format!(
        "# wall clock of this invocation: {:.3} s on {} ({} run, {} resumed)\n",
        batch.seconds,
        crate::cmd::count(jobs, "thread"),
        crate::cmd::count(batch.ran, "scenario"),
        batch.resumed
    ));
    s.push_str("configuration,scenario,method,seconds\n");
    for r in &batch.records {
        let f = r.fields(spec);
        s.push_str(&csv_line(&[
            f[0].clone(),
            f[1].clone(),
            f[2].clone(),
            r.seconds.to_string(),
        ]));
    }
    s
}

fn emit_market(
    spec: &Spec,
    config: &str,
    scenario: &str,
    output: Option<&PathBuf>,
    outputs: &mut Outputs,
) -> anyhow::Result<()> {
    let file = spec.path.display();
    let c = spec
        .configurations
        .iter()
        .find(|c| c.name == config)
        .ok_or_else(|| anyhow::anyhow!("{file}: no configuration is named '{config}'"))?;
    let i = c.scenario_index(scenario).ok_or_else(|| {
        anyhow::anyhow!("{file}: configuration '{config}' has no scenario '{scenario}'")
    })?;
    let market = scenario_market(c, i).map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = market.to_json_pretty();
    match output {
        Some(path) => {
            outputs.stage(path, text);
            std::mem::take(outputs).commit()
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
