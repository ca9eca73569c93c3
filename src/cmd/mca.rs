//! `brokerflow mca`: max-consensus auctions on a scenario file ([MCA-Alloy]), a thin
//! adapter over `brokerflow_solvers::mca::settings` (the flags and the runs).

use brokerflow_solvers::mca::report::ScenarioInput;
use brokerflow_solvers::mca::settings::McaCommand;

use crate::cmd::read_text;

/// `mca`'s arguments: the library's.
pub type Args = McaCommand;

/// Runs `mca`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let path = args.scenario();
    let input = ScenarioInput::read(&read_text(path)?, &path.display().to_string())?;
    print!("{}", args.report(&input)?);
    Ok(())
}
