//! The experiment spec reader (design §7): Ok or a typed error. The spec sits in a
//! folder that does not exist, so relative market paths match nothing.
#![no_main]
use std::path::Path;

use brokerflow_experiments::Spec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = brokerflow_fuzz::text(data) else {
        return;
    };
    let _ = Spec::parse(text, Path::new("/nonexistent-brokerflow-fuzz/spec.toml"));
});
