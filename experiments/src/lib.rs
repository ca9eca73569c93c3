//! brokerflow's experiments: spec files (`experiments/*.toml`), the
//! resumable parallel batch over their scenarios, its aggregates and its figures —
//! callable from Rust; `brokerflow experiment` is a thin adapter over
//! [`run_experiment`].
//!
//! The one result row is [`brokerflow_solvers::compare::Measures`]; its measure list
//! [`brokerflow_solvers::compare::Measure::ALL`] drives `scenarios.csv` and the
//! summaries alike.
//!
//! [`stream`] runs the strategy experiment of [Stream-Market] §5.2 from its own spec
//! file (`brokerflow stream simulate`).

pub mod error;
pub mod experiment;
#[cfg(feature = "figures")]
pub mod figures;
pub mod files;
pub mod report;
pub mod runner;
pub mod settings;
pub mod spec;
pub mod stream;
pub mod summary;

pub use error::{ExperimentError, ScenarioError};
pub use experiment::{run_experiment, Experiment, Options, MAX_JOBS};
pub use runner::{run_batch, Batch, BatchOptions, Progress, Record};
pub use spec::{Spec, SpecError};
