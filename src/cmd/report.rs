//! `--dot F.dot` and `--report R.html` of `run`, `solve` and `compare`: the pictures
//! are drawn by [`brokerflow_experiments::report`]; this module stages them.

use std::path::PathBuf;

use brokerflow_experiments::report;
use brokerflow_solvers::{compare::MethodRow, engine::EngineRun, engine::TraceRow, lp::Backend};

use crate::cmd::{args::engine_provenance, output::Outputs, LoadedMarket};

pub use report::WelfareCurve;

/// Stages `run`'s `--dot` and `--report` ([`report::run_dot`], [`report::run_html`]).
pub fn stage_run(
    loaded: &LoadedMarket,
    r: &EngineRun,
    welfare: &[(usize, f64)],
    trace: &[TraceRow],
    (dot, html): (Option<&PathBuf>, Option<&PathBuf>),
    outputs: &mut Outputs,
) {
    let (m, g) = (&loaded.market, &loaded.graph);
    if let Some(path) = dot {
        outputs.stage(path, report::run_dot(m, g, r));
    }
    if let Some(path) = html {
        let p = engine_provenance(loaded, Backend::DEFAULT, r.options.runtime);
        outputs.stage(path, report::run_html(m, g, r, welfare, trace, &p));
    }
}

/// Stages `compare`'s `--dot` and `--report` ([`report::compare_dot`],
/// [`report::compare_html`]).
pub fn stage_compare(
    loaded: &LoadedMarket,
    rows: &[MethodRow],
    epsilon: f64,
    provenance: &serde_json::Value,
    (dot, html): (Option<&PathBuf>, Option<&PathBuf>),
    outputs: &mut Outputs,
) {
    let (m, g) = (&loaded.market, &loaded.graph);
    if let Some(path) = dot {
        outputs.stage(path, report::compare_dot(m, g, rows, epsilon));
    }
    if let Some(path) = html {
        outputs.stage(path, report::compare_html(m, g, rows, epsilon, provenance));
    }
}
