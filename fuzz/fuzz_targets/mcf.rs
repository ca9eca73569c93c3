//! The multicommodity-flow benchmark reader (`p mcf n m k`): Ok or a typed error;
//! whatever it accepts expands into G′.
#![no_main]
use brokerflow_graphs::{formats::mcf, ExpandedGraph};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = mcf::parse_mcf_bytes(data, "fuzz.txt") {
        let _ = ExpandedGraph::new(&m);
    }
});
