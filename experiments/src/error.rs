//! What can stop a batch, and why one scenario has no result.

use std::path::PathBuf;

use brokerflow_solvers::compare::RowError;
use brokerflow_solvers::workload::TooLarge;

use crate::spec::SpecError;

/// Why an experiment did not run, or stopped: the batch's own errors. A scenario that
/// fails is not one of them — it is recorded as `error` rows ([`ScenarioError`]) and
/// the batch goes on.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The spec file cannot be read or is not a valid spec.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A file of the output folder could not be read or written.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done (`writing`, `opening`, …).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `--out` names a file, not a folder.
    #[error("--out {}: a file of that name exists, and --out names the folder the results go into: choose another folder with --out DIR, or move the file away", path.display())]
    OutIsFile {
        /// The path given.
        path: PathBuf,
    },
    /// The output folder holds a finished run and neither resuming nor replacing it
    /// was asked for (so committed results are never overwritten by accident).
    #[error("{} already holds the results of an earlier run (scenarios.csv): write this run elsewhere with --out DIR, keep its finished rows with --resume, or replace them with --force", out.display())]
    Occupied {
        /// The output folder.
        out: PathBuf,
    },
    /// Resuming from files another spec wrote (another spec hash).
    #[error("{}: written for another spec (spec_sha256 {}, this spec {spec}); rerun without --resume", file.display(), found.as_deref().unwrap_or("missing"))]
    OtherSpec {
        /// The file read.
        file: PathBuf,
        /// Its spec hash, if it has one.
        found: Option<String>,
        /// This spec's hash.
        spec: String,
    },
    /// No worker threads asked for.
    #[error("--jobs must be at least 1")]
    NoJobs,
    /// More worker threads than the most a batch takes.
    #[error("--jobs {jobs}: at most {max} (each job holds a whole scenario in memory; this machine has {cores} core{})", if *cores == 1 { "" } else { "s" })]
    TooManyJobs {
        /// Threads asked for.
        jobs: usize,
        /// The most.
        max: usize,
        /// Cores of this machine.
        cores: usize,
    },
    /// One configuration's scenario is above a size limit (its LPs or engine runs).
    #[error("{}: configuration '{configuration}', scenario {scenario}: {limit}; pass --force to start it anyway", spec.display())]
    ScenarioTooLarge {
        /// The spec file.
        spec: PathBuf,
        /// The configuration.
        configuration: String,
        /// Its first scenario's label.
        scenario: String,
        /// The limit broken (quoted in the message, so not also its source).
        limit: TooLarge,
    },
    /// The whole batch is above a size limit (pair-runs).
    #[error("{}: {limit}; pass --force to start it anyway", spec.display())]
    BatchTooLarge {
        /// The spec file.
        spec: PathBuf,
        /// The limit broken (quoted in the message, so not also its source).
        limit: TooLarge,
    },
    /// The worker pool could not start.
    #[error("starting the thread pool")]
    ThreadPool(#[source] rayon::ThreadPoolBuildError),
    /// The batch was cut short on purpose (a test's interruption).
    #[error("stopped after {ran} scenarios (--stop-after); rerun with --resume to finish")]
    Interrupted {
        /// Scenarios run before stopping.
        ran: usize,
    },
    /// No configuration of the spec has this name.
    #[error("{}: no configuration is named '{name}'", spec.display())]
    NoConfiguration {
        /// The spec file.
        spec: PathBuf,
        /// The name asked for.
        name: String,
    },
    /// The configuration has no scenario of this label.
    #[error("{}: configuration '{configuration}' has no scenario '{scenario}'", spec.display())]
    NoScenario {
        /// The spec file.
        spec: PathBuf,
        /// The configuration.
        configuration: String,
        /// The label asked for.
        scenario: String,
    },
    /// A scenario's market could not be built.
    #[error(transparent)]
    Scenario(Box<ScenarioError>),
    /// A figure could not be drawn: the drawing library's message (plotters' errors
    /// hold its backend's error, which is not `Send`, so only their text is kept).
    #[error("drawing a figure: {0}")]
    Figure(String),
    /// The trace figures' scenario has no market (a [`ScenarioError`]'s text already
    /// names its cause).
    #[error("drawing a figure: {0}")]
    TraceMarket(Box<ScenarioError>),
    /// An engine row of the trace figures' scenario failed.
    #[error("drawing a figure: the trace scenario failed")]
    TraceScenario(#[source] RowError),
}

impl From<ScenarioError> for ExperimentError {
    fn from(e: ScenarioError) -> Self {
        ExperimentError::Scenario(Box::new(e))
    }
}

impl ExperimentError {
    /// An I/O error while doing `action` on `path`.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| ExperimentError::Io {
            action,
            path,
            source,
        }
    }
}

/// Why a scenario has no result: each of its methods gets an `error` row with this
/// text.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The generator refused the configuration at this seed.
    #[error("generating seed {seed}")]
    Generate {
        /// The seed.
        seed: u64,
        /// The generator's error.
        source: brokerflow_graphs::generate::GenerateError,
    },
    /// A given market file is not a valid market.
    #[error(transparent)]
    MarketFile(#[from] crate::spec::MarketFileError),
    /// The spec's fault schedule does not fit the scenario's market.
    #[error(transparent)]
    Faults(#[from] brokerflow_solvers::engine::faults::FaultError),
    /// The scenario's timely workers failed.
    #[error(transparent)]
    Cluster(#[from] brokerflow_solvers::engine::runtime::timely::TimelyError),
    /// The computation panicked (a bug); the batch goes on.
    #[error("internal error (panic): {0}")]
    Panic(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use brokerflow_graphs::generate::GenerateError;
    use brokerflow_solvers::causes::Causes;
    use std::error::Error;

    /// Each layer says its own part once: the scenario names the seed, the generator
    /// the rule, and the line joins them (a layer that also quoted its source would
    /// hide the chain's structure behind one string).
    #[test]
    fn a_generator_refusal_reads_seed_then_rule_each_once() {
        let e = ScenarioError::Generate {
            seed: 3,
            source: GenerateError::NoBrokers { users: 5 },
        };
        assert_eq!(e.to_string(), "generating seed 3");
        assert!(e.source().is_some());
        assert_eq!(
            Causes(&e).to_string(),
            "generating seed 3: 5 users need at least one broker to send their jobs to (brokers is 0)"
        );
    }
}
