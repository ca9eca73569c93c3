//! `brokerflow bench lp|engine|peers`: a thin adapter over `brokerflow_solvers::bench`
//! (its settings are the flags); `bench lp` measures each case in a child `bench
//! lp-one` so one over the time limit is killed cleanly.

use anyhow::Context;
use brokerflow_solvers::bench::command::{BenchCommand, BenchWhat};
use brokerflow_solvers::bench::lp;
use brokerflow_solvers::bench::peers::scipy_missing;
use brokerflow_solvers::bench::{BenchError, BenchRow, Sink};

/// `bench`'s arguments: the library's.
pub type Args = BenchCommand;

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
        BenchWhat::Lp(a) => a
            .bench
            .run(&exe()?, &["bench", "lp-one"], &mut printer(a.json))?,
        // A setting's error names its flag.
        BenchWhat::Engine(a) => a.bench.run(&mut printer(a.json)).map_err(|e| match e {
            BenchError::Setting(s) => anyhow::anyhow!("--{s}"),
            e => e.into(),
        })?,
        BenchWhat::Peers(a) => match scipy_missing(&a.python) {
            // Without python3, numpy and scipy it says so and skips (exit 0), so
            // nothing in the CI depends on them.
            Some(why) => println!("bench peers: skipped: {why}"),
            None => {
                let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
                let script = root.join("experiments/peers/scipy_welfare_lp.py");
                a.run(&exe()?, &script, &mut printer(false))?
            }
        },
        BenchWhat::LpOne(case) => println!("{}", serde_json::to_string(&lp::measure(&case)?)?),
    }
    Ok(())
}
