//! `brokerflow inspect`: sizes, demand against capacity, stranded users, DOT export.

use std::path::PathBuf;

use brokerflow_graphs::{formats::dot, ExpandedGraph, Market, Summary};

use crate::cmd::output::Outputs;

/// Describe a market: participants, the expanded graph G′, demand against capacity
/// per layer, and stranded users (users that reach no eligible provider).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Market file (JSON, see README "The market file").
    pub market: PathBuf,
    /// Also write the market as a Graphviz DOT file (render with `dot -Tsvg`).
    #[arg(long, value_name = "FILE")]
    pub dot: Option<PathBuf>,
    /// Print the summary as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `inspect`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut outputs = Outputs::plan(&[&args.market], &[("--dot", args.dot.as_ref())])?;
    let market = Market::load(&args.market)?;
    let g = ExpandedGraph::new(&market);
    let summary = Summary::new(&market, &g);
    if let Some(path) = &args.dot {
        outputs.stage(path, dot::to_dot(&market));
        outputs.commit()?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary.to_text());
    }
    Ok(())
}
