//! The comparison as `brokerflow compare` prints it: a text table whose measure
//! columns come from [`Measure::ALL`], and JSON rows whose measure keys come from
//! [`Measures`]'s serde columns.

use brokerflow_graphs::text::fixed;
use std::fmt::Write;

use serde::Serialize;

use super::{Measure, Measures, Method, MethodRow};

/// One row of `compare --json`: the method, its measures, the fault costs under a
/// fault schedule, its time and remarks.
#[derive(Serialize)]
struct JsonRow<'a> {
    method: &'static str,
    mode: &'static str,
    #[serde(flatten)]
    measures: &'a Measures,
    /// Under a fault schedule: jobs lost, and the recovery rounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    jobs_lost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery: Option<serde_json::Value>,
    seconds: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

/// The row's notes, and under a fault schedule one more: the jobs lost and whether
/// the window welfare came back within 1 % of the gross amount (values plus costs) of
/// the fault-free run's ([`crate::engine::faults::Recovery`]).
pub fn remarks(row: &MethodRow) -> Vec<String> {
    let mut notes = row.notes.clone();
    if let Some(f) = &row.faults {
        let back = match f.recovery.rounds {
            Some(n) => format!(
                "window welfare back within 1 % (of the gross amount) of the fault-free run's {n} round{} after round {}",
                if n == 1 { "" } else { "s" },
                f.recovery.faults_end
            ),
            None => "window welfare NOT back within 1 % (of the gross amount) of the fault-free run's"
                .to_string(),
        };
        notes.push(format!(
            "faults: {} jobs lost; {back}",
            fixed(f.jobs_lost, 4)
        ));
    }
    notes
}

/// The rows of `brokerflow compare --json`, in order.
pub fn compare_json_rows(rows: &[MethodRow]) -> serde_json::Value {
    let rows: Vec<JsonRow> = rows
        .iter()
        .map(|r| JsonRow {
            method: r.method.name(),
            mode: r.method.mode(),
            measures: &r.measures,
            jobs_lost: r.faults.as_ref().map(|f| f.jobs_lost),
            recovery: (r.faults.as_ref()).and_then(|f| serde_json::to_value(&f.recovery).ok()),
            seconds: r.seconds,
            notes: remarks(r),
        })
        .collect();
    serde_json::to_value(rows).unwrap_or_default()
}

/// The comparison as a text table: a title line naming the market (`name`, read
/// from `origin`), one line per row with the [`Measure::ALL`] columns that have a
/// [`table`](Measure::table) column, then what the columns mean.
pub fn compare_table(name: &str, origin: &str, rows: &[MethodRow]) -> String {
    let columns: Vec<_> = Measure::ALL
        .iter()
        .filter_map(|m| Some((m, m.table?)))
        .collect();
    let mut out = String::new();
    let _ = writeln!(out, "market '{name}' ({origin})");
    let _ = write!(out, "  {:<15} {:<14}", "method", "mode");
    for (_, c) in &columns {
        let _ = write!(out, " {:>w$}", c.header, w = c.width);
    }
    let _ = writeln!(out, " {:>8}", "seconds");
    for r in rows {
        let _ = write!(out, "  {:<15} {:<14}", r.method.name(), r.method.mode());
        for (m, c) in &columns {
            let _ = write!(out, " {:>w$}", c.format.show((m.read)(r)), w = c.width);
        }
        let notes = remarks(r);
        let _ = write!(out, " {:>8.3}", r.seconds);
        if !notes.is_empty() {
            let _ = write!(out, "  ({})", notes.join("; "));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "  % opt: welfare as a percentage of the matching optimum (feasible mode: P2 at the injected amounts; demand mode: P3). gap: share of the gap between the worst (P2-) and best (P2) routing of the amounts a row serves that its routing closes (engine rows: at the served rates of their steady flow). to 95%: the first round, checked every 50 rounds and at the last, from which the engine's window welfare stays >= 95 % of the optimum. Engine rows are averages over the last window of rounds."
    );
    out
}

/// Why a list of method labels was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MethodListError {
    /// A label that names no method.
    #[error("unknown method '{0}' (known: {known})", known = known())]
    Unknown(String),
    /// A label given twice.
    #[error("'{0}' is listed twice")]
    Twice(String),
    /// No label at all.
    #[error("give at least one method")]
    Empty,
}

fn known() -> String {
    let known: Vec<String> = Method::ALL.iter().map(|m| m.label()).collect();
    known.join(", ")
}

impl Method {
    /// The methods of a list of [`label`](Method::label)s: each once, every one
    /// known, at least one.
    pub fn parse_list<S: AsRef<str>>(labels: &[S]) -> Result<Vec<Method>, MethodListError> {
        let mut methods: Vec<Method> = Vec::new();
        for label in labels {
            let label = label.as_ref();
            let m = Method::from_label(label.trim())
                .ok_or_else(|| MethodListError::Unknown(label.to_string()))?;
            if methods.contains(&m) {
                return Err(MethodListError::Twice(label.to_string()));
            }
            methods.push(m);
        }
        if methods.is_empty() {
            return Err(MethodListError::Empty);
        }
        Ok(methods)
    }
}
