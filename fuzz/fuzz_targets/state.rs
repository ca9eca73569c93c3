//! The saved engine state of `run --save-state` / `--resume` (design §5), read: Ok or
//! a typed error.
#![no_main]
use brokerflow_solvers::engine::replan::read_state;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = brokerflow_fuzz::text(data) else {
        return;
    };
    let _ = read_state(text);
});
