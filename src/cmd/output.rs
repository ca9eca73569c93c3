//! The files a command writes: planned before any work starts, written together or not
//! at all ([`brokerflow_experiments::files::Outputs`]).

pub use brokerflow_experiments::files::Outputs;
