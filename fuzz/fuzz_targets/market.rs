//! The market JSON reader (design §3): Ok or a typed error; whatever it accepts
//! expands into G′ and reads back from its own JSON.
#![no_main]
use brokerflow_graphs::{ExpandedGraph, Market};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = brokerflow_fuzz::text(data) else {
        return;
    };
    if let Ok(m) = Market::from_json_str(text, "fuzz.json") {
        let _ = ExpandedGraph::new(&m);
        let again = Market::from_json_str(&m.to_json_pretty(), "again.json");
        assert!(
            again.is_ok(),
            "an accepted market does not read back: {again:?}"
        );
    }
});
