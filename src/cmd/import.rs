//! `brokerflow import`: turn a network in another format into a market file.

use anyhow::Context;

use crate::cmd::census;
use crate::cmd::output::Outputs;
use brokerflow_graphs::formats::import;

/// `import`'s arguments: the library's.
pub type Args = brokerflow_graphs::commands::ImportCommand;

/// Runs `import`.
pub fn run(args: Args) -> anyhow::Result<()> {
    args.check()?;
    let mut outputs = Outputs::plan(&[&args.file], &[("-o", args.output.as_ref())])?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("{}: cannot read", args.file.display()))?;
    let origin = args.file.display().to_string();
    let market = import(args.format, &bytes, &origin, args.max_demands)?;
    let json = market.to_json_pretty();
    match &args.output {
        Some(path) => {
            outputs.stage(path, json);
            outputs.commit()?;
            eprintln!(
                "imported {origin}: {} -> {}",
                census(&market),
                path.display()
            );
        }
        None => print!("{json}"),
    }
    Ok(())
}
