//! The imported Larsson–Yuan benchmarks reproduce their published min-cost optima as
//! −(P2 welfare) (design §4): grid1 827 319 and planar30 44 350 624. Every demand fits
//! (δ* ≥ 1) and valuations are 0, so P2's welfare is minus the min-cost flow's cost.

use brokerflow_graphs::formats::mcf::parse_mcf;
use brokerflow_graphs::ExpandedGraph;
use brokerflow_solvers::lp::{self, LpOptions};

fn min_cost(file: &str, text: &str) -> f64 {
    let market = parse_mcf(text, file).unwrap();
    let g = ExpandedGraph::new(&market);
    let p2 = lp::max_utility_flow(&g, &LpOptions::default()).unwrap();
    assert!(p2.delta.unwrap() >= 1.0, "{file}: every demand should fit");
    -p2.welfare(&g).unwrap()
}

#[test]
fn grid1_reaches_its_published_optimum() {
    let cost = min_cost(
        "grid1.txt",
        include_str!("../../graphs/markets/mcf/grid1.txt"),
    );
    assert!(
        (cost - 827_319.0).abs() <= 1e-6 * 827_319.0,
        "grid1: {cost}"
    );
}

#[test]
fn planar30_reaches_its_published_optimum() {
    let cost = min_cost(
        "planar30.txt",
        include_str!("../../graphs/markets/mcf/planar30.txt"),
    );
    assert!(
        (cost - 44_350_624.0).abs() <= 1e-6 * 44_350_624.0,
        "planar30: {cost}"
    );
}
