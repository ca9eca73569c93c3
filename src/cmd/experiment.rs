//! `brokerflow experiment`: batch runs over random topologies and market files
//! (design §7), reproducible from one spec file, with CSV results, aggregates and SVG
//! figures ([MCF-Grid] Table 1 and Figs. 4–6).

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::Context;
use brokerflow_experiments::experiment::{emit_market, remove_stale_figures};
use brokerflow_experiments::runner::{out_dir, JOURNAL};
use brokerflow_experiments::{run_experiment, Options, Progress, Spec};
use indicatif::ProgressBar;

use crate::cmd::count;
use crate::cmd::output::Outputs;
use crate::cmd::write_atomically;

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
        let text = emit_market(&spec, &emit[0], &emit[1])?;
        let Some(path) = &args.output else {
            print!("{text}");
            return Ok(());
        };
        outputs.stage(path, text);
        return Ok(outputs.commit()?);
    }
    let options = Options {
        out: out_dir(&spec, args.out.as_deref()),
        jobs: args.jobs,
        resume: args.resume,
        force: args.force,
        stop_after: args.stop_after,
    };
    let done = run_experiment(&spec, &options, &Bar::default())?;
    let out = &options.out;
    remove_stale_figures(out, &done.files)?;
    for (name, text) in &done.files {
        let path = out.join(name);
        write_atomically(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let _ = std::fs::remove_file(out.join(JOURNAL));
    let (batch, failed) = (&done.batch, done.failed());
    eprintln!(
        "experiment '{}': {} run, {} resumed, {} ({} failed) in {:.1} s on {} -> {}",
        spec.name,
        count(batch.ran, "scenario"),
        batch.resumed,
        count(batch.records.len(), "row"),
        failed,
        batch.seconds,
        count(done.jobs, "thread"),
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

/// The progress line: scenarios finished of those run now.
#[derive(Default)]
struct Bar(OnceLock<ProgressBar>);

impl Progress for Bar {
    fn start(&self, scenarios: usize) {
        let _ = (self.0).set(crate::cmd::progress::counter(scenarios as u64, "scenarios"));
    }

    fn scenario_done(&self) {
        if let Some(b) = self.0.get() {
            b.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(b) = self.0.get() {
            b.finish_and_clear();
        }
    }
}
