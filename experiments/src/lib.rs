//! brokerflow's experiments (design §7): the spec files of `experiments/*.toml` —
//! their schema, parsing and validation — read by `brokerflow experiment`.
//!
//! The batch runner, summaries and figures still live in the CLI; this crate holds
//! what a reader of spec files needs without the binary (the fuzz targets, for one).

pub mod report;
pub mod spec;

pub use spec::{Spec, SpecError};
