//! Benchmarks of the LP baselines of [MCF-Grid] §4.2 and of the distributed engine of
//! [MCF-Grid] §5 (after [Awerbuch–Leighton]; its timely runtime on \[Timely\]), and a
//! side-by-side run against an analyst's scipy script, as library functions that
//! return typed rows.
//!
//! - [`markets`]: the benchmark markets (generated sizes, the imported planar30 of
//!   [`brokerflow_graphs::formats::mcf`]), shared with the criterion benches;
//! - [`lp`]: LP build and solve times per backend, each measurement in a child
//!   process under a time limit;
//! - [`engine`]: the engine's cost per round against the usable (edge, commodity)
//!   pairs of G′, per variant, runtime and thread count;
//! - [`peers`]: P3 against `experiments/peers/scipy_welfare_lp.py`, whole processes;
//! - [`machine`]: what the tables' captions say about the machine, and the CPU time
//!   and peak memory a measurement took.
//!
//! Every benchmark reports through one seam, [`Sink`]: its caption, the progress of
//! its cases and its rows, so a caller decides where they go (the command line prints
//! Markdown or JSON lines).

pub mod command;
pub mod engine;
pub mod lp;
pub mod machine;
pub mod markets;
pub mod peers;

use std::path::PathBuf;

use serde::Serialize;
use thiserror::Error;

use crate::engine::runtime::timely::TimelyError;
use crate::engine::EngineError;
use crate::lp::LpError;

/// One row of a benchmark's table.
pub trait BenchRow: Serialize {
    /// The row as a line of the benchmark's Markdown table.
    fn markdown(&self) -> String;

    /// The row as one JSON line (`json`) or as a line of the Markdown table.
    fn line(&self, json: bool) -> Result<String, BenchError> {
        match json {
            true => Ok(serde_json::to_string(self)?),
            false => Ok(self.markdown()),
        }
    }
}

/// Where a benchmark's caption, progress and rows go, as they are measured.
pub trait Sink<R: BenchRow> {
    /// The benchmark starts: `caption` is its Markdown caption and table header
    /// (without a trailing newline), `cases` the number of [`Sink::case`] calls to
    /// come.
    fn start(&mut self, caption: &str, cases: usize) -> Result<(), BenchError>;
    /// A case (one market, LP or engine setting) starts; `label` names it.
    fn case(&mut self, label: &str);
    /// A row is measured (or skipped, for [`lp::LpLine::Skipped`]).
    fn row(&mut self, row: &R) -> Result<(), BenchError>;
    /// The benchmark is over; `notes` is what the table's columns mean (empty: no
    /// notes).
    fn finish(&mut self, notes: &str) -> Result<(), BenchError>;
}

/// A benchmark setting out of range (named by its field).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SettingError {
    /// A market without users, or no market at all.
    #[error("sizes: every market needs at least 1 user (got {0:?})")]
    Sizes(Vec<usize>),
    /// No rounds to time.
    #[error("rounds must be at least 1")]
    Rounds,
    /// A thread count of 0, or none.
    #[error("threads: every count must be at least 1 (got {0:?})")]
    Threads(Vec<usize>),
    /// A process count of 0, or none.
    #[error("processes: every count must be at least 1")]
    Processes,
}

/// Why a benchmark could not run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A setting out of range.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// A market name that is neither `planar30` nor three counts `K,B,P`.
    #[error("bad market size '{0}': expected K,B,P")]
    MarketShape(String),
    /// A count of a market name that is not a number.
    #[error("bad market size '{name}'")]
    MarketSize {
        /// The market name.
        name: String,
        /// Why the count did not parse.
        source: std::num::ParseIntError,
    },
    /// The generator refused a benchmark market.
    #[error(transparent)]
    Generate(#[from] brokerflow_graphs::generate::GenerateError),
    /// The generator refused a benchmark market of the engine benchmark.
    #[error("generating {users},{brokers},{providers}")]
    GenerateSized {
        /// Users K.
        users: usize,
        /// Brokers B.
        brokers: usize,
        /// Providers P.
        providers: usize,
        /// The generator's refusal.
        source: brokerflow_graphs::generate::GenerateError,
    },
    /// The bundled planar30 benchmark did not import.
    #[error(transparent)]
    Mcf(#[from] brokerflow_graphs::formats::mcf::McfError),
    /// An LP baseline failed.
    #[error(transparent)]
    Lp(#[from] LpError),
    /// The engine refused a run.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A timely run failed.
    #[error(transparent)]
    Timely(#[from] TimelyError),
    /// A timely process of the benchmark (a thread of this program) panicked.
    #[error("a timely process of the benchmark panicked")]
    TimelyPanicked,
    /// The rayon pools of the thread counts could not start.
    #[error("starting the thread pools")]
    ThreadPool(#[source] rayon::ThreadPoolBuildError),
    /// An operating-system step (`what`) failed: a process, a port, a directory.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The failure.
        source: std::io::Error,
    },
    /// A child process printed something other than its JSON answer.
    #[error("{what}")]
    Unreadable {
        /// What was being read (and, for a measurement, what it printed).
        what: String,
        /// Why it is not the expected JSON.
        source: serde_json::Error,
    },
    /// A child process of [`peers`] failed.
    #[error("{what} failed: {stderr}")]
    Failed {
        /// Which process.
        what: String,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// `brokerflow generate` of [`peers`] failed for the market of `0` users.
    #[error("generating the {0}-user market failed")]
    GenerateFailed(usize),
    /// The analyst's script of [`peers`] is not there.
    #[error("the analyst's script {} is not there", .0.display())]
    NoScript(PathBuf),
    /// brokerflow's P3 optimum and the analyst's differ beyond [`peers::AGREEMENT`].
    #[error(
        "brokerflow and the scipy script disagree beyond {:e} relative",
        peers::AGREEMENT
    )]
    Disagree,
    /// A row did not serialise.
    #[error("writing a row: {0}")]
    Json(#[from] serde_json::Error),
}

impl BenchError {
    /// An [`BenchError::Io`] saying what was being done.
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
        let what = what.into();
        move |source| BenchError::Io { what, source }
    }
}

/// `n` and the noun, in the plural unless `n` is 1: "1 thread", "2 threads".
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
