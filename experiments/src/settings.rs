//! `brokerflow experiment`'s settings as a command line gives them (the spec, the
//! output folder, threads, resuming and replacing, `--emit`'s scenario) and `brokerflow
//! stream`'s (\[Stream-Market\]); and the writing of a finished batch's files into its
//! folder.

use std::path::{Path, PathBuf};

use brokerflow_solvers::lp::Backend;

use crate::experiment::remove_stale_figures;
use crate::runner::{out_dir, JOURNAL};
use crate::{ExperimentError, Options, Spec};

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
// `<spec folder>` in the help is a placeholder the user reads, not HTML.
#[allow(rustdoc::invalid_html_tags)]
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ExperimentSettings {
    /// Experiment spec (TOML), e.g. experiments/table1.toml.
    pub spec: PathBuf,
    /// Output folder (default: <spec folder>/<spec name>).
    #[cfg_attr(feature = "clap", arg(long, value_name = "DIR"))]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores; at most 256).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub jobs: Option<usize>,
    /// Keep the rows a previous, interrupted run of the same spec finished; run the rest.
    #[cfg_attr(feature = "clap", arg(long))]
    pub resume: bool,
    /// Replace the results of an earlier run in the output folder (without it, a
    /// folder that already holds a finished run's scenarios.csv is refused, so the
    /// committed results under experiments/ are never overwritten by accident); also
    /// start a batch whose size estimate is above the limits of README "Size limits"
    /// (10⁹ pair-runs per batch; per scenario those of `solve` and `run`).
    #[cfg_attr(feature = "clap", arg(long))]
    pub force: bool,
    /// Instead of running: write the market of scenario (CONFIG, SEED) — SEED is the
    /// seed of a generated configuration or the file of a given one — to `-o FILE`.
    #[cfg_attr(feature = "clap", arg(long, num_args = 2, value_names = ["CONFIG", "SEED"]))]
    pub emit: Option<Vec<String>>,
    /// With --emit: where to write the market (JSON).
    #[cfg_attr(
        feature = "clap",
        arg(short = 'o', long = "output", value_name = "FILE", requires = "emit")
    )]
    pub output: Option<PathBuf>,
    /// Testing: stop after this many scenarios, as an interruption would.
    #[cfg_attr(feature = "clap", arg(long, hide = true))]
    pub stop_after: Option<usize>,
}

/// The stream-computation market ([Stream-Market]): offers with time windows,
/// replicas, minimum service time, deposits and spot checks.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct StreamCommand {
    /// Which mode.
    #[cfg_attr(feature = "clap", command(subcommand))]
    pub command: StreamMode,
}

/// `stream match` or `stream simulate`.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Subcommand))]
pub enum StreamMode {
    /// Match an offers file over time: per slot a market solved for welfare (P3), priced
    /// by McAfee's double auction, rounded to whole replicas; void allocations say why.
    Match(MatchSettings),
    /// Run the strategy experiment: suppliers processing each input with probability
    /// P(s), customers verifying with probability P(c); CSVs and SVG figures.
    Simulate(SimulateSettings),
}

/// `stream match`'s flags: the offers file, the output and the LP backend.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct MatchSettings {
    /// The offers file (JSON: suppliers, customers, parameters).
    pub offers: PathBuf,
    /// Print JSON (`allocations`, `void`, `slots`, `notes`, `provenance`).
    #[cfg_attr(feature = "clap", arg(long))]
    pub json: bool,
    /// Also write the allocations and void allocations as CSV.
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub out: Option<PathBuf>,
    /// LP backend for each slot's P3.
    #[cfg_attr(feature = "clap", arg(long, default_value = "auto"))]
    pub backend: Backend,
}

/// `stream simulate`'s flags: the spec and the output folder.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct SimulateSettings {
    /// The spec (TOML).
    pub spec: PathBuf,
    /// Output directory (default: the spec's path without its extension).
    #[cfg_attr(feature = "clap", arg(long, value_name = "DIR"))]
    pub out: Option<PathBuf>,
}

impl ExperimentSettings {
    /// The batch's [`Options`] for `spec` (its output folder defaulting to the spec's
    /// folder and name, [`out_dir`]).
    pub fn options(&self, spec: &Spec) -> Options {
        Options {
            out: out_dir(spec, self.out.as_deref()),
            jobs: self.jobs,
            resume: self.resume,
            force: self.force,
            stop_after: self.stop_after,
        }
    }
}

/// Writes a finished batch's `files` (name, text) into `out`, each atomically; removes
/// figures of an earlier run that this one no longer draws, and the journal of the
/// interrupted runs it completes.
///
/// # Errors
/// [`ExperimentError::Io`] naming the file that could not be written or removed.
pub fn write_batch(out: &Path, files: &[(String, String)]) -> Result<(), ExperimentError> {
    remove_stale_figures(out, files)?;
    write_files(out, files)?;
    let _ = std::fs::remove_file(out.join(JOURNAL));
    Ok(())
}

/// Writes `files` (name, text) into the folder `dir` (created if missing), each
/// atomically ([`crate::files::write_atomically`]).
///
/// # Errors
/// [`ExperimentError::Io`] naming the folder or file that could not be written.
pub fn write_files<N: AsRef<str>>(
    dir: &Path,
    files: &[(N, String)],
) -> Result<(), ExperimentError> {
    if dir.exists() && !dir.is_dir() {
        return Err(ExperimentError::OutIsFile {
            path: dir.to_path_buf(),
        });
    }
    std::fs::create_dir_all(dir).map_err(ExperimentError::io("creating", dir))?;
    for (name, text) in files {
        let path = dir.join(name.as_ref());
        crate::files::write_atomically(&path, text.as_bytes())
            .map_err(ExperimentError::io("writing", &path))?;
    }
    Ok(())
}
