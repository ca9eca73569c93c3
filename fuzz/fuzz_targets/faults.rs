//! The fault-schedule file of `run --faults` (design §5, "Faults"), read and resolved
//! against the bundled tiny market: Ok or a typed error.
#![no_main]
use brokerflow_graphs::{examples, ExpandedGraph};
use brokerflow_solvers::engine::faults::{parse, FaultPlan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = brokerflow_fuzz::text(data) else {
        return;
    };
    if let Ok(schedule) = parse(text, "fuzz.json") {
        let market = examples::tiny();
        let g = ExpandedGraph::new(&market);
        let _ = FaultPlan::new(&schedule, &market, &g, "fuzz.json");
    }
});
