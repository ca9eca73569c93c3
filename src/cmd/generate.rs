//! `brokerflow generate`: a random market as in [MCF-Grid] §6 / design §7, written as a
//! market file.

use anyhow::Context;
use brokerflow_graphs::generate::{generate, AsFlags};

/// `generate`'s arguments: the library's.
pub type Args = brokerflow_graphs::commands::GenerateCommand;

/// Runs `generate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config()?;
    let market = generate(&config, args.seed).map_err(|e| anyhow::anyhow!("{}", AsFlags(&e)))?;
    let text = market.to_json_pretty();
    match &args.output {
        Some(path) => {
            crate::cmd::write_atomically(path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
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
