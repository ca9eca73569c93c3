//! The LP benchmark: build and solve time, CPU time and peak memory of the LP
//! baselines of [MCF-Grid] §4.2 per backend, on the markets of
//! [`BenchMarket::lp_markets`]. Each measurement runs in a child process (a command
//! the caller builds, e.g. `brokerflow bench lp-one …`), so one that exceeds the time
//! limit is killed cleanly and larger sizes for that backend are skipped.

use std::fmt;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::machine::{machine, own_cpu_seconds, peak_rss_mib};
use super::markets::BenchMarket;
use super::{BenchError, BenchRow, Sink};
use crate::lp::{self, Backend, LpOptions, Objective};

/// The LP benchmark's settings.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct LpBench {
    /// Which LPs to time, comma-separated. On planar30 (valuations 0, so P3 serves
    /// nothing) `welfare` is replaced by `utility`, its min-cost flow.
    #[cfg_attr(
        feature = "clap",
        arg(
            long,
            value_delimiter = ',',
            default_value = "concurrent,welfare",
            value_enum
        )
    )]
    pub objective: Vec<Objective>,
    /// Seconds allowed per measurement.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 60.0))]
    pub time_limit: f64,
    /// Backends to time, comma-separated (default: every backend in this build).
    #[cfg_attr(feature = "clap", arg(long, value_delimiter = ','))]
    pub backends: Vec<Backend>,
    /// Generator seed of the benchmark markets.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1))]
    pub seed: u64,
}

impl Default for LpBench {
    fn default() -> Self {
        LpBench {
            objective: vec![Objective::Concurrent, Objective::Welfare],
            time_limit: 60.0,
            backends: Vec::new(),
            seed: 1,
        }
    }
}

/// One measurement: an LP on a benchmark market with a backend.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct LpCase {
    /// The LP.
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub objective: Objective,
    /// The backend.
    #[cfg_attr(feature = "clap", arg(long))]
    pub backend: Backend,
    /// `planar30` or `K,B,P`.
    #[cfg_attr(feature = "clap", arg(long))]
    pub market: BenchMarket,
    /// Generator seed of the market.
    #[cfg_attr(feature = "clap", arg(long))]
    pub seed: u64,
}

impl LpCase {
    /// The case as command-line flags (`--objective … --backend … --market … --seed …`),
    /// for the child process that measures it.
    pub fn args(&self) -> Vec<String> {
        [
            "--objective",
            self.objective.name(),
            "--backend",
            self.backend.name(),
            "--market",
            &self.market.to_string(),
            "--seed",
            &self.seed.to_string(),
        ]
        .map(String::from)
        .to_vec()
    }
}

/// One measured row of the LP benchmark (what a child process prints as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LpRow {
    /// The market's name ([`BenchMarket`]'s).
    pub market: String,
    /// The LP's name ([`Objective::name`]).
    pub objective: String,
    /// The backend's name ([`Backend::name`]).
    pub backend: String,
    /// LP variables.
    pub variables: usize,
    /// LP constraints.
    pub constraints: usize,
    /// Usable (edge, commodity) pairs of G′.
    pub usable_pairs: usize,
    /// Wall-clock seconds to build G′ and the LP.
    pub build_seconds: f64,
    /// Wall-clock seconds of the solve.
    pub solve_seconds: f64,
    /// δ* for P1, the welfare of the flow otherwise; `None`: unbounded.
    pub objective_value: Option<f64>,
    /// Peak resident memory of the measuring process (market, G′, LP, solve), MiB.
    #[serde(default)]
    pub max_rss_mib: Option<f64>,
    /// CPU seconds (user + system) of the solve, all threads: wall-clock times
    /// mislead on a shared machine.
    #[serde(default)]
    pub solve_cpu_seconds: f64,
}

/// Why a case of the LP benchmark has no measurement.
#[derive(Debug, Clone, PartialEq)]
pub enum Skip {
    /// The measurement ran over the time limit (seconds) and was stopped.
    Over(f64),
    /// The measuring process failed; its standard error, trimmed (another process's
    /// text, not an error of this one).
    Failed(String),
    /// A smaller market of the same LP and backend ran over the limit.
    SmallerOverLimit,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Over(limit) => write!(f, "over {limit} s"),
            Skip::Failed(stderr) => write!(f, "failed: {stderr}"),
            Skip::SmallerOverLimit => f.write_str("skipped: a smaller size exceeded the limit"),
        }
    }
}

impl Serialize for Skip {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A case of the LP benchmark without a measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LpSkipped {
    /// The market's name.
    pub market: String,
    /// The LP's name.
    pub objective: &'static str,
    /// The backend's name.
    pub backend: &'static str,
    /// Why.
    pub skipped: Skip,
}

/// One line of the LP benchmark: a measurement or a skipped case.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LpLine {
    /// Measured.
    Measured(LpRow),
    /// Not measured.
    Skipped(LpSkipped),
}

/// The Markdown caption and header of the LP benchmark's table.
const HEADER: &str = "| market (K,B,P) | LP | backend | variables | constraints | build s | solve s | solve CPU s | max RSS MiB | objective |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|";

impl BenchRow for LpLine {
    fn markdown(&self) -> String {
        match self {
            LpLine::Measured(row) => format!(
                "| {} | {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {} | {} |",
                row.market,
                row.objective,
                row.backend,
                row.variables,
                row.constraints,
                row.build_seconds,
                row.solve_seconds,
                row.solve_cpu_seconds,
                row.max_rss_mib
                    .map_or("?".to_string(), |m| format!("{m:.0}")),
                row.objective_value
                    .map_or("unbounded".to_string(), |v| format!("{v:.6}"))
            ),
            LpLine::Skipped(s) => format!(
                "| {} | {} | {} | | | | | | | {} |",
                s.market, s.objective, s.backend, s.skipped
            ),
        }
    }
}

impl LpBench {
    /// Runs the benchmark: every LP × backend × market of
    /// [`BenchMarket::lp_markets`] (planar30 with `utility` for `welfare`), each
    /// measured by a child process `program leading_args… case.args()…` (which must
    /// print [`measure`]'s row as one JSON line), stopped after
    /// [`LpBench::time_limit`] seconds; after
    /// one runs over, the larger sizes of that LP and backend are skipped (planar30,
    /// small, is always tried). Rows go to `sink` as they are measured.
    ///
    /// # Arguments
    /// * `program`, `leading_args` — the measuring command without the case's flags
    ///   ([`LpCase::args`]), e.g. the brokerflow executable and `bench lp-one`.
    /// * `sink` — where the caption, progress and rows go.
    ///
    /// # Returns
    /// `Ok(())` once every case is measured or skipped; an error when a child cannot
    /// be started or prints something other than a row.
    ///
    /// # Complexity
    /// One child process per case; each LP's own solve time dominates.
    ///
    /// Paper: [MCF-Grid] §4.2 (the LPs).
    pub fn run(
        &self,
        program: &std::path::Path,
        leading_args: &[&str],
        sink: &mut impl Sink<LpLine>,
    ) -> Result<(), BenchError> {
        let markets = BenchMarket::lp_markets();
        let backends = if self.backends.is_empty() {
            Backend::available()
        } else {
            self.backends.clone()
        };
        let caption = format!(
            "LP benchmark: seed {}, limit {} s per measurement; brokerflow {} on {}\n\n{HEADER}",
            self.seed,
            self.time_limit,
            env!("CARGO_PKG_VERSION"),
            machine()
        );
        sink.start(
            &caption,
            self.objective.len() * backends.len() * markets.len(),
        )?;
        for &objective in &self.objective {
            for &backend in &backends {
                let mut timed_out = false;
                for &market in &markets {
                    let objective = match (market, objective) {
                        (BenchMarket::Planar30, Objective::Welfare) => Objective::Utility,
                        (_, o) => o,
                    };
                    sink.case(&format!("{market} {} {backend}", objective.name()));
                    let skipped = |skipped| {
                        LpLine::Skipped(LpSkipped {
                            market: market.to_string(),
                            objective: objective.name(),
                            backend: backend.name(),
                            skipped,
                        })
                    };
                    if timed_out && market != BenchMarket::Planar30 {
                        sink.row(&skipped(Skip::SmallerOverLimit))?;
                        continue;
                    }
                    let case = LpCase {
                        objective,
                        backend,
                        market,
                        seed: self.seed,
                    };
                    match measure_in_child(
                        Command::new(program).args(leading_args).args(case.args()),
                        self.time_limit,
                    )? {
                        Ok(row) => sink.row(&LpLine::Measured(row))?,
                        Err(skip) => {
                            timed_out |= matches!(skip, Skip::Over(_));
                            sink.row(&skipped(skip))?;
                        }
                    }
                }
            }
        }
        sink.finish("")
    }
}

/// Measures one case in this process: builds the market, G′ and the LP (timed), then
/// solves it (wall-clock and CPU time), and reads the peak memory.
///
/// # Example
/// ```
/// use brokerflow_solvers::bench::lp::{measure, LpCase};
/// use brokerflow_solvers::lp::{Backend, Objective};
/// let case = LpCase {
///     objective: Objective::Welfare,
///     backend: Backend::Microlp,
///     market: "20,5,5".parse().unwrap(),
///     seed: 1,
/// };
/// let row = measure(&case).unwrap();
/// assert!(row.objective_value.unwrap() > 0.0);
/// ```
///
/// Paper: [MCF-Grid] §4.2.
pub fn measure(case: &LpCase) -> Result<LpRow, BenchError> {
    let market = case.market.market(case.seed)?;
    let objective = case.objective;
    let start = Instant::now();
    let g = brokerflow_graphs::ExpandedGraph::new(&market);
    let f = match objective {
        Objective::Concurrent => lp::concurrent_formulation(&g),
        Objective::Utility | Objective::WorstUtility => {
            lp::utility_formulation(&g, lp::Sense::Maximise, &lp::utility_amounts(&g, Some(1.0)))
        }
        Objective::Welfare => lp::welfare_formulation(&g),
    };
    let build_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let cpu = own_cpu_seconds();
    let solution = lp::solve(
        &g,
        objective,
        &LpOptions {
            backend: case.backend,
            prices: false,
        },
    )?;
    let solve_seconds = start.elapsed().as_secs_f64();
    let solve_cpu_seconds = own_cpu_seconds() - cpu;
    let objective_value = match objective {
        Objective::Concurrent => solution.delta,
        _ => solution.welfare(&g),
    };
    Ok(LpRow {
        market: case.market.to_string(),
        objective: objective.name().to_string(),
        backend: case.backend.name().to_string(),
        variables: f.lp.variables(),
        constraints: f.lp.rows.len(),
        usable_pairs: g.usable_pairs(),
        build_seconds,
        solve_seconds,
        objective_value,
        max_rss_mib: peak_rss_mib(),
        solve_cpu_seconds,
    })
}

/// Runs one measuring command, killed after `limit` seconds: its row, or why there is
/// none.
pub fn measure_in_child(
    command: &mut Command,
    limit: f64,
) -> Result<Result<LpRow, Skip>, BenchError> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(BenchError::io("starting a measurement"))?;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child
            .try_wait()
            .map_err(BenchError::io("waiting for a measurement"))?
        {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs_f64(limit) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.stdout.take() {
        s.read_to_string(&mut out)
            .map_err(BenchError::io("reading a measurement"))?;
    }
    if let Some(mut s) = child.stderr.take() {
        s.read_to_string(&mut err)
            .map_err(BenchError::io("reading a measurement"))?;
    }
    Ok(match status {
        None => Err(Skip::Over(limit)),
        Some(s) if !s.success() => Err(Skip::Failed(err.trim().to_string())),
        Some(_) => {
            Ok(
                serde_json::from_str(out.trim()).map_err(|source| BenchError::Unreadable {
                    what: format!("reading a measurement: {out}"),
                    source,
                })?,
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON lines keep their keys and order: measured rows as the struct, skipped
    /// cases as `market, objective, backend, skipped` with the reason in words.
    #[test]
    fn lines_serialise_in_the_documented_shape() {
        let skipped = LpLine::Skipped(LpSkipped {
            market: "planar30".into(),
            objective: "utility",
            backend: "microlp",
            skipped: Skip::Over(2.0),
        });
        assert_eq!(
            serde_json::to_string(&skipped).unwrap(),
            r#"{"market":"planar30","objective":"utility","backend":"microlp","skipped":"over 2 s"}"#
        );
        assert_eq!(
            skipped.markdown(),
            "| planar30 | utility | microlp | | | | | | | over 2 s |"
        );
        let row = LpRow {
            market: "20,5,5".into(),
            objective: "concurrent".into(),
            backend: "clarabel".into(),
            variables: 3,
            constraints: 4,
            usable_pairs: 5,
            build_seconds: 0.0004,
            solve_seconds: 1.5,
            objective_value: None,
            max_rss_mib: None,
            solve_cpu_seconds: 0.25,
        };
        assert_eq!(
            LpLine::Measured(row.clone()).markdown(),
            "| 20,5,5 | concurrent | clarabel | 3 | 4 | 0.000 | 1.500 | 0.250 | ? | unbounded |"
        );
        let back: LpRow = serde_json::from_str(&serde_json::to_string(&row).unwrap()).unwrap();
        assert_eq!(back, row);
    }

    #[test]
    fn a_case_round_trips_through_its_flags() {
        let case = LpCase {
            objective: Objective::WorstUtility,
            backend: Backend::Clarabel,
            market: BenchMarket::Planar30,
            seed: 9,
        };
        assert_eq!(
            case.args(),
            [
                "--objective",
                "worst-utility",
                "--backend",
                "clarabel",
                "--market",
                "planar30",
                "--seed",
                "9"
            ]
        );
    }

    /// A command that fails is a skip with its standard error; one that sleeps past
    /// the limit is stopped.
    #[test]
    fn children_that_fail_or_run_over_are_skipped() {
        let failed =
            measure_in_child(Command::new("sh").args(["-c", "echo no >&2; exit 3"]), 10.0).unwrap();
        assert_eq!(failed, Err(Skip::Failed("no".into())));
        let over = measure_in_child(Command::new("sleep").arg("5"), 0.1).unwrap();
        assert_eq!(over, Err(Skip::Over(0.1)));
    }
}
