//! The stream market's offers file (design §11): Ok or a typed error.
#![no_main]
use brokerflow_solvers::stream::offers::Offers;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = brokerflow_fuzz::text(data) else {
        return;
    };
    let _ = Offers::from_json_str(text, "fuzz.json");
});
