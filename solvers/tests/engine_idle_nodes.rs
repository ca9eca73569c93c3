//! The engine's cost follows the usable (edge, commodity) pairs, not G′'s node count
//! (design §12): a benchmark imported with a million network nodes and one
//! commodity that can use a handful of them (`p mcf 1000000 2 1`) cost 0.7 s and
//! 970 MB per round on the `nodes` runtime, which configured and stepped every node.
//! Property: two markets that differ only in nodes no commodity can use get the same
//! runtime footprint (state and window bytes), the same saved state, and the same
//! result bits, on both runtimes that run nodes in process.

mod common;

use brokerflow_graphs::formats::mcf::parse_mcf;
use brokerflow_graphs::ExpandedGraph;
use brokerflow_solvers::engine::{
    replan, Engine, EngineOptions, Injection, Observers, Runtime, Variant,
};
use common::fingerprint;

/// `p mcf N 2 1`: one commodity 0 → 2 over arcs 0 → 1 → 2, and N − 3 network nodes
/// that nothing links.
fn idle(nodes: usize) -> String {
    format!("p mcf {nodes} 2 1\nk 0 2 5\na 0 1 1 4\na 1 2 2 10\n")
}

#[test]
fn idle_nodes_cost_nothing() {
    let small = parse_mcf(&idle(10), "small.txt").unwrap();
    let large = parse_mcf(&idle(200_000), "large.txt").unwrap();
    let (gs, gl) = (ExpandedGraph::new(&small), ExpandedGraph::new(&large));
    assert!(gl.graph.node_count() > 20_000 * gs.graph.node_count() / 1000);
    assert_eq!(gs.usable_pairs(), gl.usable_pairs());
    for runtime in [Runtime::Flat, Runtime::Nodes] {
        for variant in Variant::ALL {
            let mut o = EngineOptions::new(variant, Injection::Demand);
            o.runtime = runtime;
            o.max_rounds = 400;
            let mut es = Engine::new(&small, &gs, &o).unwrap();
            let mut el = Engine::new(&large, &gl, &o).unwrap();
            let what = format!("{runtime:?} {}", variant.name());
            assert_eq!(es.footprint(), el.footprint(), "{what}: footprint");
            es.advance(100, &mut Observers::new());
            el.advance(100, &mut Observers::new());
            let (ss, sl) = (es.save(&small).unwrap(), el.save(&large).unwrap());
            // The whole file but its list of participants (one broker per network
            // node, so that resuming can refuse other participants) and provenance.
            let (mut ts, mut tl) = (ss.clone(), sl.clone());
            ts.participants.brokers.clear();
            tl.participants.brokers.clear();
            ts.provenance = tl.provenance.clone();
            assert_eq!(
                replan::write_state(&ts),
                replan::write_state(&tl),
                "{what}: state file"
            );
            let (rs, rl) = (es.run(&mut Observers::new()), el.run(&mut Observers::new()));
            // The same rounds and flows; the price list has one entry per G′ node.
            let strip = |f: Vec<String>| -> Vec<String> {
                f.into_iter().filter(|l| !l.starts_with("prices")).collect()
            };
            assert_eq!(
                strip(fingerprint(&gs, &rs, &[])),
                strip(fingerprint(&gl, &rl, &[])),
                "{what}"
            );
        }
    }
}
