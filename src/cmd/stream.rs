//! `brokerflow stream match|simulate` ([Stream-Market]): a thin adapter over
//! `brokerflow_solvers::stream` and `brokerflow_experiments::stream`.

use brokerflow_experiments::settings::{write_files, StreamCommand, StreamMode};
use brokerflow_solvers::stream::{match_offers, report::MatchReport, MatchOptions, Offers};

use crate::cmd::{output::Outputs, read_text};

/// `stream`'s arguments: the library's.
pub type Args = StreamCommand;

/// Runs `brokerflow stream …`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        StreamMode::Match(a) => {
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
        StreamMode::Simulate(a) => {
            let run = brokerflow_experiments::stream::run_spec(&read_text(&a.spec)?, &a.spec)?;
            let dir = a.out.unwrap_or_else(|| a.spec.with_extension(""));
            write_files(&dir, &run.files)?;
            println!("{}", run.summary_line(&dir));
        }
    }
    Ok(())
}
