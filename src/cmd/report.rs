//! `--dot F.dot` and `--report R.html` of `run`, `solve` and `compare`: the pictures
//! are drawn by [`brokerflow_experiments::report`]; this module stages them.

use std::path::PathBuf;

use brokerflow_experiments::report;
use brokerflow_solvers::compare::MethodRow;
use brokerflow_solvers::engine::{EngineRun, TraceRow};
use brokerflow_solvers::lp::Backend;

use crate::cmd::output::Outputs;
use crate::cmd::run::engine_provenance;
use crate::cmd::LoadedMarket;

pub use report::{num, Report, WelfareCurve};

/// The pictures' paths: (`--dot`, `--report`).
type Pictures<'a> = (Option<&'a PathBuf>, Option<&'a PathBuf>);

/// Stages `run`'s `--dot` and `--report` ([`report::run_dot`], [`report::run_html`]).
pub fn stage_run(
    loaded: &LoadedMarket,
    r: &EngineRun,
    welfare: &[(usize, f64)],
    trace: &[TraceRow],
    (dot, html): Pictures<'_>,
    outputs: &mut Outputs,
) {
    let (market, g) = (&loaded.market, &loaded.graph);
    if let Some(path) = dot {
        outputs.stage(path, report::run_dot(market, g, r));
    }
    if let Some(path) = html {
        let provenance = engine_provenance(loaded, Backend::DEFAULT, r.options.runtime);
        let text = report::run_html(market, g, r, welfare, trace, &provenance);
        outputs.stage(path, text);
    }
}

/// Stages `compare`'s `--dot` and `--report` ([`report::compare_dot`],
/// [`report::compare_html`]).
pub fn stage_compare(
    loaded: &LoadedMarket,
    rows: &[MethodRow],
    epsilon: f64,
    provenance: &serde_json::Value,
    (dot, html): Pictures<'_>,
    outputs: &mut Outputs,
) {
    let (market, g) = (&loaded.market, &loaded.graph);
    if let Some(path) = dot {
        outputs.stage(path, report::compare_dot(market, g, rows, epsilon));
    }
    if let Some(path) = html {
        outputs.stage(path, report::compare_html(market, g, rows, epsilon, provenance));
    }
}

/// The table (heading, id) of what every user is served of its demand.
pub fn served_table(report: &mut Report, section: (&str, &str), loaded: &LoadedMarket, served: &[f64]) {
    report.served(section, &loaded.graph, served);
}
