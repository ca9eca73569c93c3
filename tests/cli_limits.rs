//! Size limits up front (README "Size limits"): an LP or an engine run whose estimate
//! is above the limits is refused before any work, naming the file, the estimate, the
//! limit and `--force`; the bundled markets are far below them.

mod common;

use common::{bin, market, refused, run, scratch};

/// A 300-broker complete market with 10 users (every broker linked to every other
/// both ways): each user can use about 2 × 300 × 299 pairs, so P1 has about 1.8
/// million variables, above the limit of 1 000 000.
fn complete_market() -> String {
    let path = scratch("complete300.json");
    let out = run(&[
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

#[test]
fn oversized_lps_and_engine_runs_are_refused_before_they_start() {
    let m = complete_market();
    for args in [
        vec!["solve", &m],
        vec!["solve", &m, "--objective", "utility"],
        vec!["evaluate", &m, "--flows", "nowhere.csv"],
        vec!["compare", &m, "--methods", "welfare-seeking/demand"],
        vec!["settle", &m, "--mechanism", "vcg"],
        vec!["run", &m, "--inject", "feasible"],
    ] {
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
}

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

#[test]
fn the_bundled_markets_are_within_the_limits() {
    for name in ["tiny", "figure3", "linked", "posted", "abilene"] {
        let out = bin()
            .args(["solve", &market(name), "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = bin()
        .args(["compare", &market("tiny"), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
