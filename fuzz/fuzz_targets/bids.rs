//! The bids file of `settle` (design §6), read and applied to the bundled posted
//! market: Ok or a typed error.
#![no_main]
use brokerflow_graphs::examples;
use brokerflow_solvers::settle::Bids;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = brokerflow_fuzz::text(data) else {
        return;
    };
    if let Ok(bids) = Bids::from_json_str(text, "fuzz.json") {
        let _ = bids.apply(&examples::posted());
    }
});
