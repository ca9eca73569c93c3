//! The flows CSV reader, against the bundled linked market (broker→broker links
//! both ways, finite and unlimited links): Ok or a typed error.
#![no_main]
use std::sync::OnceLock;

use brokerflow_graphs::{examples, formats::flows_csv, ExpandedGraph, ValidMarket};
use libfuzzer_sys::fuzz_target;

fn market() -> &'static (ValidMarket, ExpandedGraph) {
    static MARKET: OnceLock<(ValidMarket, ExpandedGraph)> = OnceLock::new();
    MARKET.get_or_init(|| {
        let m = examples::linked();
        let g = ExpandedGraph::new(&m);
        (m, g)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(text) = brokerflow_fuzz::text(data) else {
        return;
    };
    let (m, g) = market();
    let _ = flows_csv::read_flows(m, g, text, "fuzz.csv");
});
