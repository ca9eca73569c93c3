//! The SNDlib native network reader: Ok or a typed error; whatever it accepts
//! expands into G′.
#![no_main]
use brokerflow_graphs::formats::sndlib::{self, SndlibOptions};
use brokerflow_graphs::ExpandedGraph;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = sndlib::parse_sndlib_bytes(data, "fuzz.txt", &SndlibOptions::default()) {
        let _ = ExpandedGraph::new(&m);
    }
});
