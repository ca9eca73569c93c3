//! `brokerflow bench lp|engine|peers`: a thin adapter over `brokerflow_solvers::bench`
//! (its settings are the flags); `bench lp` measures each case in a child `bench
//! lp-one` so one over the time limit is killed cleanly.

use anyhow::Context;
use brokerflow_solvers::bench::engine::EngineBench;
use brokerflow_solvers::bench::lp::{self, LpBench, LpCase};
use brokerflow_solvers::bench::peers::scipy_missing;
use brokerflow_solvers::bench::{BenchError, BenchRow, Sink};

/// Benchmarks: LP build and solve time per backend and market size.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

/// What to benchmark.
#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// LP build and solve time and peak memory (max RSS of the measuring process)
    /// for generated markets of (users, brokers, providers) = (20,5,5), (200,20,20),
    /// (1000,50,50), (5000,100,100), (20000,500,1000), (100000,2500,5000) and the
    /// imported planar30 benchmark, for every LP backend in this build, side by
    /// side. A measurement over the time limit is stopped and larger sizes for that
    /// backend skipped.
    Lp(Printed<LpBench>),
    /// brokerflow's P3 against an analyst's scipy script, whole processes side by
    /// side on the same generated markets (skipped without python3 and scipy).
    Peers(brokerflow_solvers::bench::peers::PeersBench),
    /// Engine cost per round: for generated markets of growing size (default
    /// economics; brokers and providers scaled with the users as in
    /// experiments/scale.toml), every variant in demand mode runs a fixed number of
    /// rounds on every runtime and thread count asked for; prints the usable (edge,
    /// commodity) pairs, ns per round, ns per round per pair, the speed-up over one
    /// thread and the engine's bytes per pair, so linearity in the pairs can be read
    /// off one run.
    Engine(Printed<EngineBench>),
    /// One measurement (used by `bench lp`; prints one JSON line).
    #[command(hide = true)]
    LpOne(LpCase),
}

/// A benchmark's settings and how its rows are printed.
#[derive(Debug, clap::Args)]
pub struct Printed<B: clap::Args> {
    #[command(flatten)]
    pub bench: B,
    /// Print the rows as JSON lines instead of a Markdown table.
    #[arg(long)]
    pub json: bool,
}

/// Prints a benchmark's rows as they come (a Markdown table or JSON lines) and its
/// progress on standard error.
pub struct Printer {
    /// JSON lines instead of a Markdown table.
    pub json: bool,
    /// The progress display (hidden until the benchmark starts).
    pub bar: indicatif::ProgressBar,
}

impl<R: BenchRow> Sink<R> for Printer {
    fn start(&mut self, caption: &str, cases: usize) -> Result<(), BenchError> {
        if !self.json {
            println!("{caption}");
        }
        self.bar = crate::cmd::progress::counter(cases as u64, "cases");
        Ok(())
    }
    fn case(&mut self, label: &str) {
        self.bar.set_message(label.to_string());
        self.bar.inc(1);
    }
    fn row(&mut self, row: &R) -> Result<(), BenchError> {
        println!("{}", row.line(self.json)?);
        Ok(())
    }
    fn finish(&mut self, notes: &str) -> Result<(), BenchError> {
        self.bar.finish_and_clear();
        if !self.json && !notes.is_empty() {
            println!("\n{notes}");
        }
        Ok(())
    }
}

/// A printer of JSON lines (`json`) or of a Markdown table.
pub fn printer(json: bool) -> Printer {
    let bar = indicatif::ProgressBar::hidden();
    Printer { json, bar }
}

/// Runs `bench`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let exe = || std::env::current_exe().context("finding the brokerflow executable");
    match args.what {
        What::Lp(a) => a
            .bench
            .run(&exe()?, &["bench", "lp-one"], &mut printer(a.json))?,
        // A setting's error names its flag.
        What::Engine(a) => a.bench.run(&mut printer(a.json)).map_err(|e| match e {
            BenchError::Setting(s) => anyhow::anyhow!("--{s}"),
            e => e.into(),
        })?,
        What::Peers(a) => match scipy_missing(&a.python) {
            // Without python3, numpy and scipy it says so and skips (exit 0), so
            // nothing in the CI depends on them.
            Some(why) => println!("bench peers: skipped: {why}"),
            None => {
                let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
                let script = root.join("experiments/peers/scipy_welfare_lp.py");
                a.run(&exe()?, &script, &mut printer(false))?
            }
        },
        What::LpOne(case) => println!("{}", serde_json::to_string(&lp::measure(&case)?)?),
    }
    Ok(())
}
