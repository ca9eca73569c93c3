//! `brokerflow bench peers`: brokerflow's P3 against an analyst's baseline, side by
//! side — `experiments/peers/scipy_welfare_lp.py`, the same welfare LP written with
//! scipy and solved by its HiGHS — as whole processes on the same generated markets.
//! The two optima must agree to [`AGREEMENT`] relative; the table gives each one's
//! wall-clock time and their ratio.
//!
//! The script needs python3 with numpy and scipy; without them the mode says so and
//! skips (exit 0), so nothing in the CI depends on them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;

/// Relative agreement required between brokerflow's and the script's optimum.
pub const AGREEMENT: f64 = 1e-6;

/// Options of `bench peers`.
#[derive(Debug, clap::Args)]
pub struct PeersArgs {
    /// Users of each market, comma-separated; brokers = users/40 and providers =
    /// users/20 (at least 1 each), generator seed `--seed`.
    #[arg(long, value_delimiter = ',', default_value = "200,1000,5000,20000")]
    pub sizes: Vec<usize>,
    /// Generator seed of the markets.
    #[arg(long, default_value_t = 3)]
    pub seed: u64,
    /// LP backend for brokerflow's `solve` (as `solve --backend`).
    #[arg(long, default_value = "auto")]
    pub backend: String,
    /// The Python interpreter that runs the script.
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// The analyst's script (default: experiments/peers/scipy_welfare_lp.py of
    /// this source tree).
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
    /// Where the generated markets are written (default: a fresh directory under
    /// the system's temporary directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// One whole-process run: its wall-clock and CPU (user + system) seconds and what
/// it printed.
struct Timed {
    seconds: f64,
    cpu_seconds: f64,
    json: serde_json::Value,
}

/// CPU seconds (user + system) used so far by this process's finished children.
fn children_cpu_seconds() -> f64 {
    cpu_seconds_of(libc::RUSAGE_CHILDREN)
}

/// CPU seconds (user + system) used so far by this process (all threads).
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds_of(libc::RUSAGE_SELF)
}

fn cpu_seconds_of(who: libc::c_int) -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut r) } != 0 {
        return f64::NAN;
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    t(r.ru_utime) + t(r.ru_stime)
}

fn timed(cmd: &mut Command, what: &str) -> anyhow::Result<Timed> {
    let cpu = children_cpu_seconds();
    let start = Instant::now();
    let out = cmd.output().with_context(|| format!("starting {what}"))?;
    let seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = children_cpu_seconds() - cpu;
    if !out.status.success() {
        anyhow::bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let json =
        serde_json::from_str(text.trim()).with_context(|| format!("reading {what}'s output"))?;
    Ok(Timed {
        seconds,
        cpu_seconds,
        json,
    })
}

/// Runs `bench peers`.
pub fn run(a: PeersArgs) -> anyhow::Result<()> {
    let script = a.script.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/peers/scipy_welfare_lp.py")
    });
    let probe = Command::new(&a.python)
        .args(["-c", "import numpy, scipy.optimize, scipy.sparse"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!(
            "bench peers: skipped: `{} -c 'import numpy, scipy'` failed (install with `pip install scipy numpy`)",
            a.python
        );
        return Ok(());
    }
    if !script.is_file() {
        anyhow::bail!("the analyst's script {} is not there", script.display());
    }
    let exe = std::env::current_exe().context("finding the brokerflow executable")?;
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("brokerflow-peers-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    println!(
        "P3 (maximum welfare) side by side, whole processes: `brokerflow solve --objective welfare --json --backend {}` vs `{} {}` (scipy.optimize.linprog, method=highs); generator seed {}; brokerflow {}; {} UTC; {}",
        a.backend,
        a.python,
        script.display(),
        a.seed,
        env!("CARGO_PKG_VERSION"),
        utc_now(),
        machine()
    );
    println!();
    println!("Times are whole processes (start, read the market, build, solve, print): wall-clock and CPU (user + system) seconds; ratio = brokerflow / script.");
    println!();
    println!("| users | brokers | providers | brokerflow backend | brokerflow wall s | script wall s | wall ratio | brokerflow CPU s | script CPU s | CPU ratio | brokerflow W | script W | rel. diff | agree |");
    println!("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut all_agree = true;
    for &k in &a.sizes {
        let (b, p) = ((k / 40).max(1), (k / 20).max(1));
        let market = dir.join(format!("peers-K{k}-seed{}.json", a.seed));
        let status = Command::new(&exe)
            .args(["generate", "--users", &k.to_string(), "--brokers"])
            .args([b.to_string(), "--providers".into(), p.to_string()])
            .args(["--seed", &a.seed.to_string(), "--output"])
            .arg(&market)
            .status()
            .context("generating a market")?;
        if !status.success() {
            anyhow::bail!("generating the {k}-user market failed");
        }
        let ours = timed(
            Command::new(&exe)
                .args(["solve", "--objective", "welfare", "--json", "--backend"])
                .arg(&a.backend)
                .arg(&market),
            "brokerflow solve",
        )?;
        let theirs = timed(
            Command::new(&a.python).arg(&script).arg(&market),
            "the scipy script",
        )?;
        let w_ours = ours.json["welfare"].as_f64().unwrap_or(f64::NAN);
        let w_theirs = theirs.json["welfare"].as_f64().unwrap_or(f64::NAN);
        let diff = (w_ours - w_theirs).abs() / w_theirs.abs().max(1.0);
        let agree = diff <= AGREEMENT;
        all_agree &= agree;
        println!(
            "| {k} | {b} | {p} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {w_ours:.6} | {w_theirs:.6} | {diff:.1e} | {} |",
            ours.json["backend"].as_str().unwrap_or("?"),
            ours.seconds,
            theirs.seconds,
            ours.seconds / theirs.seconds,
            ours.cpu_seconds,
            theirs.cpu_seconds,
            ours.cpu_seconds / theirs.cpu_seconds,
            if agree { "yes" } else { "NO" }
        );
    }
    if a.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if !all_agree {
        anyhow::bail!("brokerflow and the scipy script disagree beyond {AGREEMENT:e} relative");
    }
    Ok(())
}

/// Peak resident memory of this process so far in MiB (Linux `VmHWM`), `None`
/// where /proc is not available.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU model and core count, for the table's caption.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        let kib: f64 = s.lines().next()?.split_whitespace().nth(1)?.parse().ok()?;
        Some(format!(", {:.0} GiB", kib / 1024.0 / 1024.0))
    });
    format!("{cpu}, {cores} cores{}", mem.unwrap_or_default())
}

/// The current UTC time as `YYYY-MM-DD HH:MM` (days to civil date after H. Hinnant).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    utc(secs)
}

/// Seconds since the Unix epoch as a UTC `YYYY-MM-DD HH:MM`.
fn utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference dates from `date -u -d @SECS`.
    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00");
        assert_eq!(utc(951_825_600), "2000-02-29 12:00");
        assert_eq!(utc(1_796_083_200), "2026-12-01 00:00");
    }

    #[test]
    fn peak_rss_is_positive_on_linux() {
        if Path::new("/proc/self/status").exists() {
            assert!(peak_rss_mib().is_some_and(|m| m > 0.0));
        }
    }
}
