//! `brokerflow experiment`: batch runs over random topologies and market files
//! (design §7), a thin adapter over `brokerflow_experiments` (its settings are the
//! flags).

use std::sync::OnceLock;

use brokerflow_experiments::experiment::emit_market;
use brokerflow_experiments::settings::{write_batch, ExperimentSettings};
use brokerflow_experiments::{run_experiment, Progress, Spec};
use indicatif::ProgressBar;

use crate::cmd::count;
use crate::cmd::output::Outputs;

/// `experiment`'s arguments: the library's.
pub type Args = ExperimentSettings;

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
    let options = args.options(&spec);
    let done = run_experiment(&spec, &options, &Bar::default())?;
    let out = &options.out;
    write_batch(out, &done.files)?;
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
