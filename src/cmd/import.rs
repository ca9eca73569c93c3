//! `brokerflow import`: turn a network in another format into a market file.

use std::path::PathBuf;

use anyhow::Context;
use brokerflow_graphs::formats::mcf;

/// Convert a network in another format into a brokerflow market (JSON).
///
/// Formats:
///
/// mcf — the classic multicommodity-flow benchmark format (as used for the
/// Larsson–Yuan grid and planar instances): a line `p mcf <nodes> <arcs>
/// <commodities>`, then lines `k <origin> <destination> <demand>` and
/// `a <source> <target> <cost> <capacity>`; `c` lines are comments, nodes are
/// numbered from 0. The network becomes a market whose best routing is the
/// instance's minimum-cost flow: every node i becomes a broker n<i> (unlimited,
/// free); every arc a link between two brokers with the arc's capacity as
/// bandwidth and its cost per job (an arc repeating another's endpoints, or a
/// loop, passes through a broker a<j> of its own); every commodity, the j-th k
/// line, becomes a user k<j> at broker n<origin> with the demand, requirement 1
/// and valuation 0, whose only eligible provider is d<destination> (unlimited,
/// free, reached from broker n<destination>). The market's `meta` records the
/// input's file name and SHA-256 and the brokerflow version.
///
/// Example: brokerflow import --format mcf graphs/markets/mcf/grid1.txt -o grid1.json
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Format of the input file.
    #[arg(long, value_enum)]
    pub format: Format,
    /// The file to import.
    pub file: PathBuf,
    /// Write the market here (JSON) instead of to standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Input formats of `import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Multicommodity-flow benchmark format: `p mcf n m k`, `k origin dest demand`, `a src dst cost capacity`.
    Mcf,
}

/// Runs `import`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("{}: cannot read", args.file.display()))?;
    let origin = args.file.display().to_string();
    let market = match args.format {
        Format::Mcf => mcf::parse_mcf_bytes(&bytes, &origin)?,
    };
    let json = market.to_json_pretty();
    match &args.output {
        Some(path) => {
            crate::cmd::write_atomically(path, json.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "imported {origin}: {} brokers, {} links, {} users, {} providers -> {}",
                market.brokers.len(),
                market.links.len(),
                market.users.len(),
                market.providers.len(),
                path.display()
            );
        }
        None => print!("{json}"),
    }
    Ok(())
}
