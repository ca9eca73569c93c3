//! The replicated auctioneer's deviations file (design §10), read and resolved
//! against the bundled posted market's providers as replicas: Ok or a typed error.
#![no_main]
use brokerflow_graphs::examples;
use brokerflow_solvers::settle::replicated::deviation::Plan;
use brokerflow_solvers::settle::replicated::Deviation;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = brokerflow_fuzz::text(data) else {
        return;
    };
    if let Ok(list) = Deviation::list_from_json_str(text, "fuzz.json") {
        let m = examples::posted();
        let ids: Vec<String> = m.providers.iter().map(|p| p.id.clone()).collect();
        let _ = Plan::resolve(&list, &m, &ids);
    }
});
