//! `brokerflow stream match|simulate` ([Stream-Market]): a thin adapter over
//! `brokerflow_solvers::stream` and `brokerflow_experiments::stream`.

use std::path::PathBuf;

use brokerflow_experiments::settings::write_files;
use brokerflow_solvers::lp::Backend;
use brokerflow_solvers::stream::{match_offers, report::MatchReport, MatchOptions, Offers};

use crate::cmd::{output::Outputs, read_text};

/// The stream-computation market ([Stream-Market]): offers with time windows,
/// replicas, minimum service time, deposits and spot checks.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: StreamCommand,
}

#[derive(Debug, clap::Subcommand)]
enum StreamCommand {
    Match(MatchArgs),
    Simulate(SimulateArgs),
}

/// Match an offers file over time: per slot a market solved for welfare (P3), priced
/// by McAfee's double auction, rounded to whole replicas; void allocations say why.
#[derive(Debug, clap::Args)]
struct MatchArgs {
    /// The offers file (JSON: suppliers, customers, parameters).
    offers: PathBuf,
    /// Print JSON (`allocations`, `void`, `slots`, `notes`, `provenance`).
    #[arg(long)]
    json: bool,
    /// Also write the allocations and void allocations as CSV.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// LP backend for each slot's P3.
    #[arg(long, default_value = "auto")]
    backend: Backend,
}

/// Run the strategy experiment: suppliers processing each input with probability
/// P(s), customers verifying with probability P(c); CSVs and SVG figures.
#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// The spec (TOML).
    spec: PathBuf,
    /// Output directory (default: the spec's path without its extension).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Runs `brokerflow stream …`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        StreamCommand::Match(a) => {
            let mut outputs = Outputs::plan(&[&a.offers], &[("--out", a.out.as_ref())])?;
            let text = read_text(&a.offers)?;
            let origin = a.offers.display().to_string();
            let offers = Offers::from_json_str(&text, &origin)?;
            let outcome = match_offers(&offers, &MatchOptions { backend: a.backend })?;
            let report = MatchReport::new(&offers, &outcome, &origin, &text, a.backend);
            if let Some(path) = &a.out {
                outputs.stage(path, report.allocations_csv());
                outputs.commit()?;
            }
            print!("{}", report.render(a.json));
        }
        StreamCommand::Simulate(a) => {
            let run = brokerflow_experiments::stream::run_spec(&read_text(&a.spec)?, &a.spec)?;
            let dir = a.out.unwrap_or_else(|| a.spec.with_extension(""));
            write_files(&dir, &run.files)?;
            println!("{}", run.summary_line(&dir));
        }
    }
    Ok(())
}
