//! Size limits up front (README "Size limits"): an LP or an engine run whose estimate
//! is above the limits is refused before any work, naming the file, the estimate, the
//! limit and `--force`; the bundled markets are far below them.

use std::sync::OnceLock;

use crate::util::{bin, market, ok, refused, run, scratch, scratch_file};

/// A 300-broker complete market with 10 users (every broker linked to every other
/// both ways): each user can use about 2 × 300 × 299 pairs, so P1 has about 1.8
/// million variables, above the limit of 1 000 000. Written once for every case that
/// reads it (they run in parallel).
fn complete_market() -> String {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(write_complete_market).clone()
}

fn write_complete_market() -> String {
    let path = scratch("complete300.json");
    ok(&[
        "generate",
        "--users",
        "10",
        "--brokers",
        "300",
        "--providers",
        "10",
        "--broker-link-probability",
        "1",
        "--seed",
        "1",
        "-o",
        &path,
    ]);
    path
}

/// `command` with `rest` on the complete market is refused before it starts, naming
/// the file, the estimate, the limit and `--force`.
fn oversized_refused(command: &str, rest: &[&str]) {
    let m = complete_market();
    let mut args = vec![command, m.as_str()];
    args.extend_from_slice(rest);
    let out = bin().args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} was accepted");
    assert!(out.stdout.is_empty(), "{args:?} printed a result");
    for part in [
        m.as_str(),
        "variables",
        "the limit is 1000000 variables",
        "pass --force",
    ] {
        assert!(stderr.contains(part), "{args:?}: no {part:?} in {stderr}");
    }
}

cases!(oversized_lps_and_engine_runs_are_refused_before_they_start, oversized_refused, {
    solve: ("solve", &[]),
    solve_utility: ("solve", &["--objective", "utility"]),
    evaluate: ("evaluate", &["--flows", "nowhere.csv"]),
    compare: ("compare", &["--methods", "welfare-seeking/demand"]),
    settle: ("settle", &["--mechanism", "vcg"]),
    run: ("run", &["--inject", "feasible"]),
});

#[test]
fn a_window_of_a_trillion_rounds_is_refused_by_its_memory_estimate() {
    let tiny = market("tiny");
    let args = [
        "run",
        &tiny,
        "--window",
        "1000000000000",
        "--rounds",
        "1000000000000",
    ];
    refused(&args, "a window of 1000000000000 rounds");
    refused(&args, "the limit is 4.0 GiB; pass --force");
    // --force passes the estimate; the window is still longer than the run can use.
    let forced = ["run", &tiny, "--window", "1000000000000", "--force"];
    refused(
        &forced,
        "--window 1000000000000 is longer than the round limit",
    );
}

/// P1 of the bundled market `name` is within the limits.
fn within_the_limits(name: &str) {
    ok(&["solve", &market(name), "--json"]);
}

cases!(the_bundled_markets_are_within_the_limits, within_the_limits, {
    tiny: ("tiny"),
    figure3: ("figure3"),
    linked: ("linked"),
    posted: ("posted"),
    abilene: ("abilene"),
});

#[test]
fn compare_on_tiny_is_within_the_limits() {
    ok(&["compare", &market("tiny"), "--json"]);
}

/// A spec of `seeds` scenarios of a market of `users` users, 2 brokers and 2
/// providers, two LP and two engine methods.
fn spec(name: &str, seeds: u64, users: usize) -> String {
    scratch_file(
        &format!("{name}.toml"),
        &format!(
            r#"name = "{name}"
methods = ["lp/concurrent", "lp/welfare", "fair/demand", "utility-aware/demand"]
[engine]
rounds = 300
[[configuration]]
name = "K3"
seeds = {seeds}
[configuration.generator]
users = {users}
brokers = 2
providers = 2
"#
        ),
    )
}

/// Ten million scenarios of 4 methods on 20-user markets are above 10⁹ pair-runs:
/// 10⁷ × 4 × at least 80 pairs, since each user has a path user → broker → bandwidth
/// node → provider → collection point (the generator links every user to a broker and
/// every broker to a provider, and broker → provider links have finite bandwidth).
/// Refused before a row is written.
#[test]
fn a_batch_above_the_limit_is_refused_before_it_starts() {
    let s = spec("huge", 10_000_000, 20);
    let out = scratch("huge-out");
    let args = ["experiment", &s, "--out", &out];
    refused(&args, "the batch would run 10000000 scenarios");
    refused(&args, "the limit is 1000000000 pair-runs; pass --force");
    assert!(!std::path::Path::new(&out).join(".journal.csv").exists());
}

#[test]
fn jobs_are_bounded() {
    let s = spec("jobs", 1, 3);
    refused(
        &["experiment", &s, "--jobs", "100000"],
        "--jobs 100000: at most 256",
    );
}

/// A process killed between writing a temporary and renaming it leaves
/// `.NAME.tmpPID` behind; the next run in that folder (here a `--resume`) removes it.
/// 4 194 305 is above the largest pid Linux hands out (2²²), so no live writer owns it.
#[test]
fn resume_removes_the_temporaries_of_killed_runs() {
    let s = spec("resume", 2, 3);
    let out = scratch("resume-out");
    let first = run(&["experiment", &s, "--out", &out, "--stop-after", "1"]);
    assert!(!first.status.success());
    let dir = std::path::Path::new(&out);
    for name in [".journal.csv.tmp4194305", ".scenarios.csv.tmp4194305"] {
        std::fs::write(dir.join(name), "cut short").unwrap();
    }
    ok(&["experiment", &s, "--out", &out, "--resume"]);
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(dir.join("scenarios.csv").exists());
}
