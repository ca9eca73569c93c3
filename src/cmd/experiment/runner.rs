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

use anyhow::Context;
use brokerflow_graphs::generate::generate;
use brokerflow_graphs::{ExpandedGraph, ValidMarket};
use brokerflow_solvers::compare::{compare_market, CompareOptions, MethodRow};
use brokerflow_solvers::lp::LpOptions;
use indicatif::ProgressBar;
use rayon::prelude::*;

use super::spec::{Configuration, Source, Spec};

/// The columns of `scenarios.csv`, in order.
pub const COLUMNS: [&str; 17] = [
    "configuration",
    "scenario",
    "method",
    "status",
    "served_fraction",
    "welfare",
    "optimum",
    "percent_of_optimum",
    "gap_closed",
    "rounds",
    "converged",
    "rounds_to_95",
    "gap_closed_served",
    "price_error",
    "delta",
    "notes",
    "error",
];

/// One row of `scenarios.csv`: one method on one scenario.
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
    /// design §8 measures and the row's other numbers (`None` = empty cell).
    pub served_fraction: Option<f64>,
    /// W.
    pub welfare: Option<f64>,
    /// W*.
    pub optimum: Option<f64>,
    /// 100·W/W*.
    pub percent_of_optimum: Option<f64>,
    /// (W − W⁻)/(W* − W⁻).
    pub gap_closed: Option<f64>,
    /// Engine rounds.
    pub rounds: Option<usize>,
    /// Engine convergence.
    pub converged: Option<bool>,
    /// Engine rows: the first checkpoint round from which the window welfare stays
    /// ≥ 95 % of the optimum (`brokerflow_solvers::compare::run_with_checkpoints`;
    /// defined there; design §8 has no such measure).
    pub rounds_to_95: Option<usize>,
    /// An alias of `gap_closed` (`brokerflow_solvers::compare::MethodRow::gap_closed_served`),
    /// kept so older outputs keep their columns.
    pub gap_closed_served: Option<f64>,
    /// Welfare-seeking demand rows: the node prices' error against P3's duals
    /// (`brokerflow_solvers::measures::price_error`).
    pub price_error: Option<f64>,
    /// P1's δ* where the method needed it.
    pub delta: Option<f64>,
    /// Remarks, `; `-separated.
    pub notes: String,
    /// The failure, if any.
    pub error: String,
    /// Wall clock (timings.csv only).
    pub seconds: f64,
}

impl Record {
    fn from_row(config: usize, scenario: usize, method: usize, r: &MethodRow) -> Record {
        Record {
            config,
            scenario,
            method,
            ok: r.error.is_none(),
            served_fraction: r.served_fraction,
            welfare: r.welfare,
            optimum: r.optimum,
            percent_of_optimum: r.percent_of_optimum,
            gap_closed: r.gap_closed,
            rounds: r.rounds,
            converged: r.converged,
            rounds_to_95: r.rounds_to_95,
            gap_closed_served: r.gap_closed_served,
            price_error: r.price_error,
            delta: r.delta,
            notes: r.notes.join("; "),
            error: r.error.clone().unwrap_or_default(),
            seconds: r.seconds,
        }
    }

    fn failed(config: usize, scenario: usize, method: usize, error: &str) -> Record {
        Record {
            config,
            scenario,
            method,
            ok: false,
            served_fraction: None,
            welfare: None,
            optimum: None,
            percent_of_optimum: None,
            gap_closed: None,
            rounds: None,
            converged: None,
            rounds_to_95: None,
            gap_closed_served: None,
            price_error: None,
            delta: None,
            notes: String::new(),
            error: error.to_string(),
            seconds: 0.0,
        }
    }

    /// The record's `scenarios.csv` fields, in [`COLUMNS`] order. Numbers are written
    /// in Rust's shortest round-trip form, so reading them back is exact.
    pub fn fields(&self, spec: &Spec) -> Vec<String> {
        let c = &spec.configurations[self.config];
        let num = |x: Option<f64>| x.map_or(String::new(), |x| x.to_string());
        vec![
            c.name.clone(),
            c.scenario_label(self.scenario),
            c.methods[self.method].label(),
            if self.ok { "ok" } else { "error" }.to_string(),
            num(self.served_fraction),
            num(self.welfare),
            num(self.optimum),
            num(self.percent_of_optimum),
            num(self.gap_closed),
            self.rounds.map_or(String::new(), |r| r.to_string()),
            self.converged.map_or(String::new(), |c| c.to_string()),
            self.rounds_to_95.map_or(String::new(), |r| r.to_string()),
            num(self.gap_closed_served),
            num(self.price_error),
            num(self.delta),
            self.notes.clone(),
            self.error.clone(),
        ]
    }

    /// Reads a record back from its fields (and seconds); `None` if they do not fit
    /// the spec (another spec's row, or a damaged line).
    pub fn parse(spec: &Spec, f: &[String], seconds: f64) -> Option<Record> {
        if f.len() != COLUMNS.len() {
            return None;
        }
        let config = spec.configurations.iter().position(|c| c.name == f[0])?;
        let c = &spec.configurations[config];
        let scenario = scenario_named(c, &f[1])?;
        let method = c.methods.iter().position(|m| m.label() == f[2])?;
        let num = |s: &str| -> Option<Option<f64>> {
            if s.is_empty() {
                Some(None)
            } else {
                s.parse().ok().map(Some)
            }
        };
        Some(Record {
            config,
            scenario,
            method,
            ok: match f[3].as_str() {
                "ok" => true,
                "error" => false,
                _ => return None,
            },
            served_fraction: num(&f[4])?,
            welfare: num(&f[5])?,
            optimum: num(&f[6])?,
            percent_of_optimum: num(&f[7])?,
            gap_closed: num(&f[8])?,
            rounds: if f[9].is_empty() {
                None
            } else {
                Some(f[9].parse().ok()?)
            },
            converged: if f[10].is_empty() {
                None
            } else {
                Some(f[10].parse().ok()?)
            },
            rounds_to_95: if f[11].is_empty() {
                None
            } else {
                Some(f[11].parse().ok()?)
            },
            gap_closed_served: num(&f[12])?,
            price_error: num(&f[13])?,
            delta: num(&f[14])?,
            notes: f[15].clone(),
            error: f[16].clone(),
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

/// The market of scenario `i` of a configuration.
pub fn scenario_market(c: &Configuration, i: usize) -> Result<ValidMarket, String> {
    match &c.source {
        Source::Generated { config, seeds } => generate(config, seeds.get(i))
            .map_err(|e| format!("generating seed {}: {e}", seeds.get(i))),
        Source::Given(files) => files[i].market(),
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

/// Runs one scenario: every method's record, or an error record per method.
fn run_scenario(spec: &Spec, ci: usize, si: usize) -> Vec<Record> {
    let c = &spec.configurations[ci];
    let fail = |e: &str| {
        (0..c.methods.len())
            .map(|m| Record::failed(ci, si, m, e))
            .collect()
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let market = scenario_market(c, si)?;
        let g = ExpandedGraph::new(&market);
        let mut options = compare_options(spec, c);
        if let Some((file, schedule)) = &spec.faults {
            let plan = brokerflow_solvers::engine::faults::FaultPlan::new(
                schedule,
                &market,
                &g,
                &file.display().to_string(),
            )
            .map_err(|e| e.to_string())?;
            options.faults = Some(plan);
        }
        if spec.engine.runtime != brokerflow_solvers::engine::Runtime::Timely {
            return Ok::<_, String>(compare_market(&market, &g, &options));
        }
        // Each scenario's engine runs on its own timely workers, in this process.
        let cluster = brokerflow_solvers::engine::runtime::timely::Cluster::threads(spec.workers);
        brokerflow_solvers::engine::runtime::timely::with_cluster(&cluster, || {
            compare_market(&market, &g, &options)
        })
        .map(|(rows, _)| rows)
        .map_err(|e| e.to_string())
    }));
    match result {
        Ok(Ok(rows)) => rows
            .iter()
            .enumerate()
            .map(|(m, r)| Record::from_row(ci, si, m, r))
            .collect(),
        Ok(Err(e)) => fail(&e),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            fail(&format!("internal error (panic): {msg}"))
        }
    }
}

/// The journal beside the outputs: `scenarios.csv` rows plus seconds, appended as
/// scenarios finish; removed when the batch completes.
pub const JOURNAL: &str = ".journal.csv";

/// Reads finished records for `--resume`: from a completed run's `scenarios.csv` and
/// `timings.csv`, and from the journal of an interrupted one. Refuses files written
/// for another spec (another spec hash).
pub fn load_finished(
    spec: &Spec,
    out: &Path,
) -> anyhow::Result<BTreeMap<(usize, usize, usize), Record>> {
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
            anyhow::bail!(
                "{}: written for another spec (spec_sha256 {}, this spec {}); rerun without --resume",
                file.display(),
                hash.unwrap_or("missing"),
                spec.sha256
            );
        }
        for line in csv_rows(&text).into_iter().skip(1) {
            let (fields, secs) = if has_seconds {
                if line.len() != COLUMNS.len() + 1 {
                    continue; // a line cut short by the interruption
                }
                let s = line[COLUMNS.len()].parse().unwrap_or(0.0);
                (line[..COLUMNS.len()].to_vec(), s)
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
pub fn csv_line(fields: &[String]) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    // Writing strings to memory cannot fail.
    let _ = w.write_record(fields);
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// What [`run_batch`] did.
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

/// Runs every pending scenario on a pool of `jobs` threads, journaling each as it
/// finishes. With `resume`, finished rows are read back and their scenarios skipped.
/// `stop_after` (tests) runs at most that many pending scenarios, as an interruption.
pub fn run_batch(
    spec: &Spec,
    out: &Path,
    jobs: usize,
    resume: bool,
    stop_after: Option<usize>,
) -> anyhow::Result<Batch> {
    let start = Instant::now();
    let mut finished = if resume {
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
    let interrupted = stop_after.is_some_and(|n| n < to_run);
    let ran = stop_after.map_or(to_run, |n| n.min(to_run));
    // The journal: kept records first (so it stays complete), then new ones.
    let journal_path = out.join(JOURNAL);
    let mut text = format!("# spec_sha256: {}\n", spec.sha256);
    let mut header: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
    header.push("seconds".into());
    text.push_str(&csv_line(&header));
    for r in finished.values() {
        let mut f = r.fields(spec);
        f.push(r.seconds.to_string());
        text.push_str(&csv_line(&f));
    }
    crate::cmd::write_atomically(&journal_path, text.as_bytes())
        .with_context(|| format!("writing {}", journal_path.display()))?;
    let journal = Mutex::new(
        std::fs::OpenOptions::new()
            .append(true)
            .open(&journal_path)
            .with_context(|| format!("opening {}", journal_path.display()))?,
    );
    let bar = progress_bar(ran as u64);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("starting the thread pool")?;
    let pending = scenarios().filter(|&(ci, si)| !done(ci, si)).take(ran);
    let results: Vec<anyhow::Result<Vec<Record>>> = pool.install(|| {
        pending
            .par_bridge()
            .map(|(ci, si)| {
                let records = run_scenario(spec, ci, si);
                let mut lines = String::new();
                for r in &records {
                    let mut f = r.fields(spec);
                    f.push(r.seconds.to_string());
                    lines.push_str(&csv_line(&f));
                }
                {
                    let mut j = journal.lock().unwrap_or_else(|p| p.into_inner());
                    j.write_all(lines.as_bytes())
                        .and_then(|_| j.flush())
                        .with_context(|| format!("appending to {}", journal_path.display()))?;
                }
                bar.inc(1);
                Ok(records)
            })
            .collect()
    });
    bar.finish_and_clear();
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

fn progress_bar(len: u64) -> ProgressBar {
    crate::cmd::progress::counter(len, "scenarios")
}

/// The output folder: `--out`, or `<spec folder>/<spec name>`.
pub fn out_dir(spec: &Spec, out: Option<&PathBuf>) -> PathBuf {
    out.cloned()
        .unwrap_or_else(|| spec.path.parent().unwrap_or(Path::new("")).join(&spec.name))
}
