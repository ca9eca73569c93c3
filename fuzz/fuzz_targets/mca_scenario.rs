//! The max-consensus auction scenario file (design §9): Ok or a typed error;
//! whatever it accepts has a diameter and a round bound.
#![no_main]
use brokerflow_solvers::mca::scenario::Scenario;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = brokerflow_fuzz::text(data) else {
        return;
    };
    if let Ok(s) = Scenario::from_json_str(text, "fuzz.json") {
        let _ = s.bound();
    }
});
