//! `brokerflow import`: turn a network in another format into a market file.

use std::path::PathBuf;

use anyhow::Context;

use crate::cmd::census;
use crate::cmd::output::Outputs;
use brokerflow_graphs::formats::{import, Format};

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
/// sndlib — SNDlib's native network format (real backbones: sections NODES,
/// LINKS, DEMANDS). It becomes a linked-broker market: every PoP a broker of the
/// node's id (unlimited, free); every link two broker->broker links, one each way,
/// with bandwidth = the pre-installed capacity (or, if 0, the largest module's
/// capacity) and cost per unit = the routing cost plus the cheapest module cost per
/// capacity unit; every demand a user of the demand's id at its source, demand =
/// routing unit x demand value, requirement 1, whose only eligible provider is the
/// data centre dc-<target> (unlimited, free) at its target. SNDlib has no
/// valuations: each user is given 2 x the cost of its cheapest path per unit (1 if
/// that path is free), so serving it on its cheapest path earns its cost again.
/// Setup costs, hop limits and admissible paths are not modelled.
///
/// Examples:
///   brokerflow import --format mcf graphs/markets/mcf/grid1.txt -o grid1.json
///   brokerflow import --format sndlib --max-demands 32 graphs/markets/sndlib/abilene.txt -o abilene.json
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Format of the input file.
    #[arg(long, value_enum)]
    pub format: Format,
    /// The file to import.
    pub file: PathBuf,
    /// sndlib: keep only the first N demands of the file (in file order).
    #[arg(long, value_name = "N")]
    pub max_demands: Option<usize>,
    /// Write the market here (JSON) instead of to standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `import`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.max_demands.is_some() && args.format != Format::Sndlib {
        anyhow::bail!("--max-demands applies to --format sndlib only");
    }
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
