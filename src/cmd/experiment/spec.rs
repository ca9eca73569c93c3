//! Experiment specs (design §7): the schema, parsing and validation live in the
//! `brokerflow-experiments` crate; the CLI reads them from there.

pub use brokerflow_experiments::spec::*;
