//! Runs every (configuration, scenario, method) of a spec in parallel and keeps a
//! journal, so an interrupted batch resumes where it stopped.
//!
//! The unit of parallel work is a scenario: its methods share the LP solves (P1, P2,
//! P2⁻, P3) that [`compare_market`] makes once. A scenario that cannot be built (an
//! invalid market file, a generator error) or whose computation panics gives one
//! `error` row per method; the batch goes on.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use brokerflow_graphs::generate::generate;
use brokerflow_graphs::{ExpandedGraph, ValidMarket};
use brokerflow_solvers::causes::Causes;
use brokerflow_solvers::compare::{compare_market, CompareOptions, Measures, MethodRow};
use brokerflow_solvers::lp::LpOptions;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{ExperimentError, ScenarioError};
use crate::files::write_atomically;
use crate::spec::{Configuration, Source, Spec};

/// One row of `scenarios.csv`: one method on one scenario. It reads as its
/// [`Measures`] (`record.welfare`).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Index of the configuration in the spec.
    pub config: usize,
    /// Index of the scenario in its configuration.
    pub scenario: usize,
    /// Index of the method in the configuration's methods.
    pub method: usize,
    /// Whether the method produced a result.
    pub ok: bool,
    /// The row's measures (`None` = empty cell).
    pub measures: Measures,
    /// Remarks, `; `-separated.
    pub notes: String,
    /// The failure, if any.
    pub error: String,
    /// Wall clock (timings.csv only).
    pub seconds: f64,
}

impl std::ops::Deref for Record {
    type Target = Measures;
    fn deref(&self) -> &Measures {
        &self.measures
    }
}

/// A `scenarios.csv` line as serde writes it: the configuration key, the status, the
/// measures (their own serde columns), the remarks and the failure. Its field names
/// are the file's header, in order.
#[derive(Serialize)]
struct Line<'a> {
    configuration: &'a str,
    scenario: String,
    method: String,
    status: &'static str,
    #[serde(flatten)]
    measures: &'a Measures,
    notes: &'a str,
    error: &'a str,
}

/// The columns of the key and status before the measures, and of the text after.
const KEY: [&str; 4] = ["configuration", "scenario", "method", "status"];
const TEXT: [&str; 2] = ["notes", "error"];

/// A serialised value as a CSV cell: empty for `None`, numbers in Rust's shortest
/// round-trip form (so reading them back is exact), text as is.
fn cell(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => u.to_string(),
            (None, Some(i), _) => i.to_string(),
            (None, None, Some(x)) => x.to_string(),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A serialisable row's (column, cell) pairs, in field order.
fn cells<T: Serialize>(row: &T) -> Vec<(String, String)> {
    match serde_json::to_value(row) {
        Ok(serde_json::Value::Object(map)) => {
            map.iter().map(|(k, v)| (k.clone(), cell(v))).collect()
        }
        _ => Vec::new(),
    }
}

/// The columns of `scenarios.csv`, in order: those of its serde line.
pub fn columns() -> Vec<String> {
    cells(&Line {
        configuration: "",
        scenario: String::new(),
        method: String::new(),
        status: "ok",
        measures: &Measures::default(),
        notes: "",
        error: "",
    })
    .into_iter()
    .map(|(c, _)| c)
    .collect()
}

/// The columns of [`Measures`], in order.
fn measure_columns() -> Vec<String> {
    cells(&Measures::default())
        .into_iter()
        .map(|(c, _)| c)
        .collect()
}

impl Record {
    fn from_row(config: usize, scenario: usize, method: usize, r: &MethodRow) -> Record {
        Record {
            config,
            scenario,
            method,
            ok: r.error.is_none(),
            measures: r.measures,
            notes: r.notes.join("; "),
            error: (r.error.as_ref())
                .map(|e| Causes(e).to_string())
                .unwrap_or_default(),
            seconds: r.seconds,
        }
    }

    fn failed(config: usize, scenario: usize, method: usize, error: &ScenarioError) -> Record {
        Record {
            config,
            scenario,
            method,
            ok: false,
            measures: Measures::default(),
            notes: String::new(),
            error: error.to_string(),
            seconds: 0.0,
        }
    }

    /// The record's `scenarios.csv` fields, in [`columns`] order.
    pub fn fields(&self, spec: &Spec) -> Vec<String> {
        let c = &spec.configurations[self.config];
        cells(&Line {
            configuration: &c.name,
            scenario: c.scenario_label(self.scenario),
            method: c.methods[self.method].label(),
            status: if self.ok { "ok" } else { "error" },
            measures: &self.measures,
            notes: &self.notes,
            error: &self.error,
        })
        .into_iter()
        .map(|(_, v)| v)
        .collect()
    }

    /// Reads a record back from its fields (and seconds); `None` if they do not fit
    /// the spec (another spec's row, or a damaged line).
    pub fn parse(spec: &Spec, f: &[String], seconds: f64) -> Option<Record> {
        let measures = measure_columns();
        if f.len() != KEY.len() + measures.len() + TEXT.len() {
            return None;
        }
        let config = spec.configurations.iter().position(|c| c.name == f[0])?;
        let c = &spec.configurations[config];
        let scenario = scenario_named(c, &f[1])?;
        let method = c.methods.iter().position(|m| m.label() == f[2])?;
        let ok = match f[3].as_str() {
            "ok" => true,
            "error" => false,
            _ => return None,
        };
        let end = KEY.len() + measures.len();
        let values = csv::StringRecord::from(f[KEY.len()..end].to_vec());
        let headers = csv::StringRecord::from(measures);
        Some(Record {
            config,
            scenario,
            method,
            ok,
            measures: values.deserialize(Some(&headers)).ok()?,
            notes: f[end].clone(),
            error: f[end + 1].clone(),
            seconds,
        })
    }

    /// The sort key: configuration, scenario, method (spec order).
    pub fn key(&self) -> (usize, usize, usize) {
        (self.config, self.scenario, self.method)
    }
}

/// The index of the scenario labelled `label`: for generated scenarios by binary
/// search over the ascending seeds (a resume reads one label per row, so a linear
/// search would make resuming quadratic in the scenarios).
fn scenario_named(c: &Configuration, label: &str) -> Option<usize> {
    match &c.source {
        Source::Generated { seeds, .. } => {
            let seed: u64 = label.parse().ok()?;
            // The label must be the seed as written, not another spelling of it.
            (seed.to_string() == label).then_some(())?;
            seeds.position(seed)
        }
        Source::Given(_) => c.scenario_index(label),
    }
}

/// The market of scenario `i` of a configuration: the random market of its seed as
/// [MCF-Grid] §6 draws them, or its i-th market file.
///
/// # Arguments
/// * `c`: the configuration (a generator with seeds, or market files).
/// * `i`: the scenario's index in it.
///
/// # Returns
/// The validated market.
///
/// # Errors
/// [`ScenarioError`]: the generator's or the market file's.
///
/// # Complexity
/// That of [`generate`], or of reading the file.
///
/// # Example
/// ```
/// use std::path::Path;
/// use brokerflow_experiments::{runner::scenario_market, Spec};
///
/// let text = "name = \"t\"\nmethods = [\"lp/welfare\"]\n[[configuration]]\nname = \"c\"\n\
///             seeds = 3\n[configuration.generator]\nusers = 4\nbrokers = 2\nproviders = 2\n";
/// let spec = Spec::parse(text, Path::new("t.toml"))?;
/// let c = &spec.configurations[0];
/// let m = scenario_market(c, 2)?;
/// assert_eq!((m.users.len(), m.brokers.len(), m.providers.len()), (4, 2, 2));
/// // The same scenario is the same market.
/// assert_eq!(m, scenario_market(c, 2)?);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
///
/// Paper: [MCF-Grid] §6.
pub fn scenario_market(c: &Configuration, i: usize) -> Result<ValidMarket, ScenarioError> {
    match &c.source {
        Source::Generated { config, seeds } => {
            let seed = seeds.get(i);
            generate(config, seed).map_err(|source| ScenarioError::Generate { seed, source })
        }
        Source::Given(files) => files[i].market().map_err(ScenarioError::MarketFile),
    }
}

/// The comparison options of a configuration's scenarios.
pub fn compare_options(spec: &Spec, c: &Configuration) -> CompareOptions {
    CompareOptions {
        methods: c.methods.clone(),
        lp: LpOptions {
            backend: spec.backend,
            prices: false,
        },
        engine: spec.engine,
        trace: false,
        faults: None,
    }
}

/// Every method's row on one scenario.
fn scenario_rows(spec: &Spec, ci: usize, si: usize) -> Result<Vec<MethodRow>, ScenarioError> {
    use brokerflow_solvers::engine::{faults::FaultPlan, runtime::timely, Runtime};
    let c = &spec.configurations[ci];
    let market = scenario_market(c, si)?;
    let g = ExpandedGraph::new(&market);
    let mut options = compare_options(spec, c);
    if let Some((file, schedule)) = &spec.faults {
        let origin = file.display().to_string();
        options.faults = Some(FaultPlan::new(schedule, &market, &g, &origin)?);
    }
    if spec.engine.runtime != Runtime::Timely {
        return Ok(compare_market(&market, &g, &options));
    }
    // Each scenario's engine runs on its own timely workers, in this process.
    let cluster = timely::Cluster::threads(spec.workers);
    let (rows, _) = timely::with_cluster(&cluster, || compare_market(&market, &g, &options))?;
    Ok(rows)
}

/// Runs one scenario: every method's record, or an error record per method (also
/// when the computation panics: one scenario's bug does not end the batch).
fn run_scenario(spec: &Spec, ci: usize, si: usize) -> Vec<Record> {
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario_rows(spec, ci, si)));
    let error = match result {
        Ok(Ok(rows)) => {
            return rows
                .iter()
                .enumerate()
                .map(|(m, r)| Record::from_row(ci, si, m, r))
                .collect()
        }
        Ok(Err(e)) => e,
        Err(panic) => ScenarioError::Panic(
            panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into()),
        ),
    };
    (0..spec.configurations[ci].methods.len())
        .map(|m| Record::failed(ci, si, m, &error))
        .collect()
}

/// The journal beside the outputs: `scenarios.csv` rows plus seconds, appended as
/// scenarios finish; removed when the batch completes.
pub const JOURNAL: &str = ".journal.csv";

/// Reads finished records for a resume: from a completed run's `scenarios.csv` and
/// `timings.csv`, and from the journal of an interrupted one. Refuses files written
/// for another spec (another spec hash).
pub fn load_finished(
    spec: &Spec,
    out: &Path,
) -> Result<BTreeMap<(usize, usize, usize), Record>, ExperimentError> {
    let mut found = BTreeMap::new();
    let mut seconds: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    let timings = out.join("timings.csv");
    if let Ok(text) = std::fs::read_to_string(&timings) {
        for line in csv_rows(&text).into_iter().skip(1) {
            if line.len() == 4 {
                if let Ok(s) = line[3].parse() {
                    seconds.insert((line[0].clone(), line[1].clone(), line[2].clone()), s);
                }
            }
        }
    }
    let width = columns().len();
    for (file, has_seconds) in [
        (out.join("scenarios.csv"), false),
        (out.join(JOURNAL), true),
    ] {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let hash = text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .find_map(|l| l.strip_prefix("# spec_sha256: "))
            .map(str::trim);
        if hash != Some(spec.sha256.as_str()) {
            return Err(ExperimentError::OtherSpec {
                found: hash.map(str::to_string),
                file,
                spec: spec.sha256.clone(),
            });
        }
        for line in csv_rows(&text).into_iter().skip(1) {
            let (fields, secs) = if has_seconds {
                if line.len() != width + 1 {
                    continue; // a line cut short by the interruption
                }
                let s = line[width].parse().unwrap_or(0.0);
                (line[..width].to_vec(), s)
            } else {
                let s = seconds
                    .get(&(line[0].clone(), line[1].clone(), line[2].clone()))
                    .copied()
                    .unwrap_or(0.0);
                (line, s)
            };
            if let Some(r) = Record::parse(spec, &fields, secs) {
                found.insert(r.key(), r);
            }
        }
    }
    Ok(found)
}

/// CSV records of a text, `#` comment lines skipped; a damaged record ends the read.
pub fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .comment(Some(b'#'))
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for r in reader.records() {
        match r {
            Ok(r) => out.push(r.iter().map(str::to_string).collect()),
            Err(_) => break,
        }
    }
    out
}

/// One CSV line (RFC 4180 quoting where needed).
pub fn csv_line<S: AsRef<str>>(fields: &[S]) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    // Writing strings to memory cannot fail.
    let _ = w.write_record(fields.iter().map(AsRef::as_ref));
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// How to run a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOptions {
    /// The output folder (it must exist): the journal goes there, and a resume reads
    /// the finished rows from there.
    pub out: PathBuf,
    /// Worker threads.
    pub jobs: usize,
    /// Keep the rows a previous, interrupted or finished run of the same spec left in
    /// `out`; run the rest.
    pub resume: bool,
    /// Run at most this many pending scenarios, as an interruption would (tests).
    pub stop_after: Option<usize>,
}

/// Told how a batch advances, from the worker threads: for a progress display.
pub trait Progress: Sync {
    /// The batch will run this many scenarios now.
    fn start(&self, _scenarios: usize) {}
    /// One more scenario finished.
    fn scenario_done(&self) {}
    /// Every scenario finished.
    fn finish(&self) {}
}

/// No progress display.
impl Progress for () {}

/// What [`run_batch`] did.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Every record, sorted by (configuration, scenario, method).
    pub records: Vec<Record>,
    /// Scenarios run now (not resumed).
    pub ran: usize,
    /// Scenarios taken from a previous run.
    pub resumed: usize,
    /// Wall-clock seconds of this invocation.
    pub seconds: f64,
    /// Whether `stop_after` cut the batch short.
    pub interrupted: bool,
}

/// Runs the random scenarios of an experiment as [MCF-Grid] §6 does (every method on
/// every scenario, for averages over scenarios), resumably: on a pool of
/// `options.jobs` threads, journaling each scenario as it finishes. With
/// `options.resume`, finished rows are read back and their scenarios skipped. A
/// scenario that fails gives `error` records; only the journal's I/O and the thread
/// pool can fail the batch.
///
/// # Arguments
/// * `spec`: the experiment: configurations (scenarios) and their methods.
/// * `options`: the output folder (it must exist), threads, resume, an early stop.
/// * `progress`: told as scenarios finish (`&()` for none).
///
/// # Returns
/// The [`Batch`]: every record sorted by (configuration, scenario, method), and how
/// many scenarios ran now and were resumed.
///
/// # Errors
/// [`ExperimentError`]: the journal could not be read or written, a resumed file
/// belongs to another spec, or the thread pool could not start.
///
/// # Complexity
/// S × M method runs for S scenarios and M methods per configuration, each that
/// method's cost (an LP solve, or R engine rounds of O(|P|) each), spread over
/// `options.jobs` threads; O(S × M) records in memory.
///
/// # Example
/// ```
/// use std::path::Path;
/// use brokerflow_experiments::{run_batch, BatchOptions, Spec};
///
/// let text = "name = \"t\"\nmethods = [\"lp/welfare\"]\n[[configuration]]\nname = \"c\"\n\
///             seeds = 2\n[configuration.generator]\nusers = 2\nbrokers = 1\nproviders = 1\n";
/// let spec = Spec::parse(text, Path::new("t.toml"))?;
/// let out = std::env::temp_dir().join(format!("brokerflow-doc-batch-{}", std::process::id()));
/// std::fs::create_dir_all(&out)?;
/// let options = BatchOptions { out: out.clone(), jobs: 1, resume: false, stop_after: None };
/// let batch = run_batch(&spec, &options, &())?;
/// // 2 seeds × 1 method; P3 judged against P3 is 100 % of the optimum.
/// assert_eq!((batch.records.len(), batch.ran, batch.resumed), (2, 2, 0));
/// for r in &batch.records {
///     assert!(r.ok);
///     assert!(r.percent_of_optimum.map_or(true, |p| (p - 100.0).abs() < 1e-6));
/// }
/// std::fs::remove_dir_all(&out)?;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
///
/// Paper: [MCF-Grid] §6.
pub fn run_batch(
    spec: &Spec,
    options: &BatchOptions,
    progress: &dyn Progress,
) -> Result<Batch, ExperimentError> {
    let start = Instant::now();
    let out = &options.out;
    let mut finished = if options.resume {
        load_finished(spec, out)?
    } else {
        BTreeMap::new()
    };
    // Scenarios are streamed to the workers, never listed: a batch of a billion seeds
    // must not allocate a billion entries before its first row.
    let done = |ci: usize, si: usize| {
        let methods = spec.configurations[ci].methods.len();
        (0..methods).all(|m| finished.contains_key(&(ci, si, m)))
    };
    let scenarios = || {
        (spec.configurations.iter().enumerate())
            .flat_map(|(ci, c)| (0..c.scenarios()).map(move |si| (ci, si)))
    };
    let to_run = scenarios().filter(|&(ci, si)| !done(ci, si)).count();
    let resumed = scenarios().count() - to_run;
    let stop_after = options.stop_after;
    let interrupted = stop_after.is_some_and(|n| n < to_run);
    let ran = stop_after.map_or(to_run, |n| n.min(to_run));
    // The journal: kept records first (so it stays complete), then new ones.
    let journal_path = out.join(JOURNAL);
    let journal_line = |r: &Record| {
        let mut f = r.fields(spec);
        f.push(r.seconds.to_string());
        csv_line(&f)
    };
    let mut text = format!("# spec_sha256: {}\n", spec.sha256);
    let mut header = columns();
    header.push("seconds".into());
    text.push_str(&csv_line(&header));
    for r in finished.values() {
        text.push_str(&journal_line(r));
    }
    write_atomically(&journal_path, text.as_bytes())
        .map_err(ExperimentError::io("writing", &journal_path))?;
    let journal = Mutex::new(
        std::fs::OpenOptions::new()
            .append(true)
            .open(&journal_path)
            .map_err(ExperimentError::io("opening", &journal_path))?,
    );
    progress.start(ran);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs)
        .build()
        .map_err(ExperimentError::ThreadPool)?;
    let pending = scenarios().filter(|&(ci, si)| !done(ci, si)).take(ran);
    let results: Vec<Result<Vec<Record>, ExperimentError>> = pool.install(|| {
        pending
            .par_bridge()
            .map(|(ci, si)| {
                let records = run_scenario(spec, ci, si);
                let lines: String = records.iter().map(journal_line).collect();
                {
                    let mut j = journal.lock().unwrap_or_else(|p| p.into_inner());
                    j.write_all(lines.as_bytes())
                        .and_then(|_| j.flush())
                        .map_err(ExperimentError::io("appending to", &journal_path))?;
                }
                progress.scenario_done();
                Ok(records)
            })
            .collect()
    });
    progress.finish();
    for r in results {
        for rec in r? {
            finished.insert(rec.key(), rec);
        }
    }
    Ok(Batch {
        records: finished.into_values().collect(),
        ran,
        resumed,
        seconds: start.elapsed().as_secs_f64(),
        interrupted,
    })
}

/// The output folder: the one given, or `<spec folder>/<spec name>`.
pub fn out_dir(spec: &Spec, out: Option<&Path>) -> PathBuf {
    out.map(Path::to_path_buf)
        .unwrap_or_else(|| spec.path.parent().unwrap_or(Path::new("")).join(&spec.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use brokerflow_solvers::compare::Measure;

    /// The measure list and the row's serde columns agree: every measure names a
    /// `scenarios.csv` column, and every column is a measure, a key column or text.
    #[test]
    fn measures_name_the_columns() {
        let cols = columns();
        for m in Measure::ALL {
            assert_eq!(
                cols.iter().filter(|c| *c == m.name).count(),
                1,
                "{}",
                m.name
            );
        }
        for c in &cols {
            let known = Measure::named(c).is_some()
                || KEY.contains(&c.as_str())
                || TEXT.contains(&c.as_str());
            assert!(known, "column {c} is no measure, key or text");
        }
        assert_eq!(cols.len(), KEY.len() + Measure::ALL.len() + TEXT.len());
        assert_eq!(&cols[..KEY.len()], KEY);
        assert_eq!(&cols[cols.len() - TEXT.len()..], TEXT);
        // The committed results' header.
        assert_eq!(
            cols.join(","),
            "configuration,scenario,method,status,served_fraction,welfare,optimum,percent_of_optimum,gap_closed,rounds,converged,rounds_to_95,gap_closed_served,price_error,delta,notes,error"
        );
    }

    /// A record's fields read back as the same record, numbers exactly.
    #[test]
    fn fields_round_trip() {
        let spec = Spec::parse(
            "name = \"t\"\nmethods = [\"lp/welfare\"]\n[[configuration]]\nname = \"c\"\nseeds = 2\n[configuration.generator]\nusers = 2\nbrokers = 1\nproviders = 1\n",
            Path::new("t.toml"),
        )
        .unwrap();
        let r = Record {
            config: 0,
            scenario: 1,
            method: 0,
            ok: true,
            measures: Measures {
                welfare: Some(0.1 + 0.2),
                optimum: Some(100.0),
                rounds: Some(12),
                converged: Some(false),
                delta: Some(1e-300),
                ..Measures::default()
            },
            notes: "a, \"quoted\"; note".into(),
            error: String::new(),
            seconds: 0.5,
        };
        let f = r.fields(&spec);
        assert_eq!(f[5], (0.1 + 0.2).to_string());
        assert_eq!(f[6], "100");
        let line = csv_line(&f);
        let back = &csv_rows(&line)[0];
        assert_eq!(Record::parse(&spec, back, 0.5), Some(r));
    }
}
