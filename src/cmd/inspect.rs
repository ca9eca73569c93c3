//! `brokerflow inspect`: sizes, demand against capacity, stranded users, DOT export.

use std::path::PathBuf;

use brokerflow_graphs::{formats::dot, ExpandedGraph, Market, Summary};

use crate::cmd::count;
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
        print!("{}", render(&summary));
    }
    Ok(())
}

fn render(s: &Summary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "market {}", s.name);
    let _ = writeln!(
        out,
        "  participants: {}, {}, {}, {}",
        count(s.users, "user"),
        count(s.brokers, "broker"),
        count(s.providers, "provider"),
        count(s.links, "link")
    );
    let _ = writeln!(
        out,
        "  expanded graph G': {} nodes, {} edges, {} usable (edge, commodity) pairs{}",
        s.graph_nodes,
        s.graph_edges,
        s.usable_pairs,
        if s.cyclic {
            ", has cycles"
        } else {
            ", acyclic"
        }
    );
    let _ = writeln!(out, "  demand vs capacity per layer (per time unit):");
    for l in &s.layers {
        let cap = match (l.count, l.capacity) {
            (0, _) => "none in this market".to_string(),
            (_, None) => "unlimited".to_string(),
            (_, Some(c)) => format!("{} ({})", fmt_num(c), share_of_demand(c, l.demand)),
        };
        let _ = writeln!(
            out,
            "    {:<24} {:>4}  demand {:>12} {:<14}  capacity {}",
            l.name,
            l.count,
            fmt_num(l.demand),
            l.unit,
            cap
        );
    }
    if s.stranded.is_empty() {
        let _ = writeln!(out, "  stranded users: none");
    } else {
        let _ = writeln!(
            out,
            "  stranded users (reach no eligible provider with capacity): {}",
            s.stranded.join(", ")
        );
    }
    out
}

/// Capacity as a share of the layer's demand; "no demand" when there is none.
fn share_of_demand(c: f64, d: f64) -> String {
    if d > 0.0 {
        format!("{:.0}% of demand", 100.0 * c / d)
    } else {
        "no demand".to_string()
    }
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}
