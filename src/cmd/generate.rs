//! `brokerflow generate`: a random market as in [MCF-Grid] §6 / design §7, written as a
//! market file.

use brokerflow_graphs::generate::{generate, AsFlags};

use crate::cmd::output::Outputs;

/// `generate`'s arguments: the library's.
pub type Args = brokerflow_graphs::commands::GenerateCommand;

/// Runs `generate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config()?;
    let market = generate(&config, args.seed).map_err(|e| anyhow::anyhow!("{}", AsFlags(&e)))?;
    let text = market.to_json_pretty();
    match &args.output {
        Some(path) => {
            let mut outputs = Outputs::plan(&[], &[("-o", Some(path))])?;
            outputs.stage(path, text);
            outputs.commit()?;
            eprintln!(
                "generated market '{}' (seed {}): {} -> {}",
                market.name,
                args.seed,
                crate::cmd::census(&market),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}
