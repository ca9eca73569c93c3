//! brokerflow's P3 ([MCF-Grid] §4.2) against an analyst's baseline, side by side —
//! `experiments/peers/scipy_welfare_lp.py`, the same welfare LP written with scipy and
//! solved by its HiGHS — as whole processes on the same generated markets. The two
//! optima must agree to [`AGREEMENT`] relative; the table gives each one's wall-clock
//! and CPU time and their ratio.
//!
//! The script needs python3 with numpy and scipy; [`scipy_missing`] says when it cannot
//! run, so a caller can skip without them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::Serialize;

use super::machine::{children_cpu_seconds, machine_with_memory, utc_now};
use super::markets::peers_size;
use super::{BenchError, BenchRow, Sink};
use crate::lp::Backend;

/// Relative agreement required between brokerflow's and the script's optimum.
pub const AGREEMENT: f64 = 1e-6;

/// The peers benchmark's settings.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct PeersBench {
    /// Users of each market, comma-separated; brokers = users/40 and providers =
    /// users/20 (at least 1 each), generator seed `--seed`.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_delimiter = ',', default_value = "200,1000,5000,20000")
    )]
    pub sizes: Vec<usize>,
    /// Generator seed of the markets.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 3))]
    pub seed: u64,
    /// LP backend for brokerflow's `solve` (as `solve --backend`).
    #[cfg_attr(feature = "clap", arg(long, default_value = "auto"))]
    pub backend: Backend,
    /// The Python interpreter that runs the script.
    #[cfg_attr(feature = "clap", arg(long, default_value = "python3"))]
    pub python: String,
    /// The analyst's script (default: experiments/peers/scipy_welfare_lp.py of
    /// this source tree).
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub script: Option<PathBuf>,
    /// Where the generated markets are written (default: a fresh directory under
    /// the system's temporary directory).
    #[cfg_attr(feature = "clap", arg(long, value_name = "DIR"))]
    pub dir: Option<PathBuf>,
}

/// One row of the peers benchmark: one market, both programs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeersRow {
    /// Users K.
    pub users: usize,
    /// Brokers B.
    pub brokers: usize,
    /// Providers P.
    pub providers: usize,
    /// The backend brokerflow's `solve` says it used.
    pub backend: String,
    /// brokerflow's wall-clock seconds (whole process).
    pub brokerflow_seconds: f64,
    /// The script's wall-clock seconds (whole process).
    pub script_seconds: f64,
    /// brokerflow's CPU seconds (user + system).
    pub brokerflow_cpu_seconds: f64,
    /// The script's CPU seconds (user + system).
    pub script_cpu_seconds: f64,
    /// brokerflow's P3 welfare W.
    pub brokerflow_welfare: f64,
    /// The script's P3 welfare W.
    pub script_welfare: f64,
    /// |W_brokerflow − W_script| / max(|W_script|, 1).
    pub relative_difference: f64,
    /// Whether the difference is within [`AGREEMENT`].
    pub agree: bool,
}

impl BenchRow for PeersRow {
    fn markdown(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.6} | {:.6} | {:.1e} | {} |",
            self.users,
            self.brokers,
            self.providers,
            self.backend,
            self.brokerflow_seconds,
            self.script_seconds,
            self.brokerflow_seconds / self.script_seconds,
            self.brokerflow_cpu_seconds,
            self.script_cpu_seconds,
            self.brokerflow_cpu_seconds / self.script_cpu_seconds,
            self.brokerflow_welfare,
            self.script_welfare,
            self.relative_difference,
            if self.agree { "yes" } else { "NO" }
        )
    }
}

/// Why the script cannot run: `python` cannot import numpy and scipy (what it
/// needs); `None` when it can.
pub fn scipy_missing(python: &str) -> Option<String> {
    let probe = Command::new(python)
        .args(["-c", "import numpy, scipy.optimize, scipy.sparse"])
        .output();
    (!probe.is_ok_and(|o| o.status.success())).then(|| {
        format!(
            "`{python} -c 'import numpy, scipy'` failed (install with `pip install scipy numpy`)"
        )
    })
}

/// One whole-process run: its wall-clock and CPU (user + system) seconds and the
/// JSON it printed.
struct Timed {
    seconds: f64,
    cpu_seconds: f64,
    json: serde_json::Value,
}

fn timed(cmd: &mut Command, what: &str) -> Result<Timed, BenchError> {
    let cpu = children_cpu_seconds();
    let start = Instant::now();
    let out = cmd
        .output()
        .map_err(BenchError::io(format!("starting {what}")))?;
    let seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = children_cpu_seconds() - cpu;
    if !out.status.success() {
        return Err(BenchError::Failed {
            what: what.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(text.trim()).map_err(|source| BenchError::Unreadable {
        what: format!("reading {what}'s output"),
        source,
    })?;
    Ok(Timed {
        seconds,
        cpu_seconds,
        json,
    })
}

impl PeersBench {
    /// Runs the benchmark: per size, `exe generate` writes the market, then `exe
    /// solve --objective welfare --json` and the script solve it, each timed as a
    /// whole process; rows go to `sink` as they are measured. Call it only where
    /// [`scipy_missing`] says nothing is.
    ///
    /// # Arguments
    /// * `exe` — the brokerflow executable.
    /// * `default_script` — the script when [`PeersBench::script`] is not set.
    /// * `sink` — where the caption, progress and rows go.
    ///
    /// # Returns
    /// `Ok(())` when every optimum agrees; [`BenchError::Disagree`] after the last
    /// row when one does not; an error when a process fails or the script is not
    /// there.
    ///
    /// # Complexity
    /// Three processes per size; the LP solves dominate.
    ///
    /// Paper: [MCF-Grid] §4.2 (P3).
    pub fn run(
        &self,
        exe: &Path,
        default_script: &Path,
        sink: &mut impl Sink<PeersRow>,
    ) -> Result<(), BenchError> {
        let script = self.script.as_deref().unwrap_or(default_script);
        if !script.is_file() {
            return Err(BenchError::NoScript(script.to_path_buf()));
        }
        let dir = match &self.dir {
            Some(d) => d.clone(),
            None => std::env::temp_dir().join(format!("brokerflow-peers-{}", std::process::id())),
        };
        std::fs::create_dir_all(&dir)
            .map_err(BenchError::io(format!("creating {}", dir.display())))?;
        let caption = format!(
            "P3 (maximum welfare) side by side, whole processes: `brokerflow solve --objective welfare --json --backend {}` vs `{} {}` (scipy.optimize.linprog, method=highs); generator seed {}; brokerflow {}; {} UTC; {}\n\n\
             Times are whole processes (start, read the market, build, solve, print): wall-clock and CPU (user + system) seconds; ratio = brokerflow / script.\n\n\
             | users | brokers | providers | brokerflow backend | brokerflow wall s | script wall s | wall ratio | brokerflow CPU s | script CPU s | CPU ratio | brokerflow W | script W | rel. diff | agree |\n\
             |---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            self.backend,
            self.python,
            script.display(),
            self.seed,
            env!("CARGO_PKG_VERSION"),
            utc_now(),
            machine_with_memory()
        );
        sink.start(&caption, self.sizes.len())?;
        let mut all_agree = true;
        for &k in &self.sizes {
            let (k, b, p) = peers_size(k);
            sink.case(&format!("{k} users"));
            let market = dir.join(format!("peers-K{k}-seed{}.json", self.seed));
            let status = Command::new(exe)
                .args(["generate", "--users", &k.to_string(), "--brokers"])
                .args([b.to_string(), "--providers".into(), p.to_string()])
                .args(["--seed", &self.seed.to_string(), "--output"])
                .arg(&market)
                .status()
                .map_err(BenchError::io("generating a market"))?;
            if !status.success() {
                return Err(BenchError::GenerateFailed(k));
            }
            let ours = timed(
                Command::new(exe)
                    .args(["solve", "--objective", "welfare", "--json", "--backend"])
                    .arg(self.backend.name())
                    .arg(&market),
                "brokerflow solve",
            )?;
            let theirs = timed(
                Command::new(&self.python).arg(script).arg(&market),
                "the scipy script",
            )?;
            let w_ours = ours.json["welfare"].as_f64().unwrap_or(f64::NAN);
            let w_theirs = theirs.json["welfare"].as_f64().unwrap_or(f64::NAN);
            let diff = (w_ours - w_theirs).abs() / w_theirs.abs().max(1.0);
            let agree = diff <= AGREEMENT;
            all_agree &= agree;
            sink.row(&PeersRow {
                users: k,
                brokers: b,
                providers: p,
                backend: ours.json["backend"].as_str().unwrap_or("?").to_string(),
                brokerflow_seconds: ours.seconds,
                script_seconds: theirs.seconds,
                brokerflow_cpu_seconds: ours.cpu_seconds,
                script_cpu_seconds: theirs.cpu_seconds,
                brokerflow_welfare: w_ours,
                script_welfare: w_theirs,
                relative_difference: diff,
                agree,
            })?;
        }
        sink.finish("")?;
        if self.dir.is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        if !all_agree {
            return Err(BenchError::Disagree);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ratios are brokerflow / script; the difference prints in scientific notation.
    #[test]
    fn a_row_prints_its_ratios() {
        let row = PeersRow {
            users: 200,
            brokers: 5,
            providers: 10,
            backend: "microlp".into(),
            brokerflow_seconds: 0.5,
            script_seconds: 2.0,
            brokerflow_cpu_seconds: 0.25,
            script_cpu_seconds: 1.0,
            brokerflow_welfare: 10.0,
            script_welfare: 10.0,
            relative_difference: 0.0,
            agree: true,
        };
        assert_eq!(
            row.markdown(),
            "| 200 | 5 | 10 | microlp | 0.500 | 2.000 | 0.250 | 0.250 | 1.000 | 0.250 | 10.000000 | 10.000000 | 0.0e0 | yes |"
        );
    }

    #[test]
    fn a_missing_interpreter_has_no_scipy() {
        let why = scipy_missing("/nonexistent/python3").unwrap();
        assert!(why.contains("pip install scipy numpy"), "{why}");
    }
}
