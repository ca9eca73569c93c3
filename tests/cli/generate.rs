//! `brokerflow generate` end to end: the built binary, its bytes, its errors.

use std::path::PathBuf;
use std::process::{Command, Output};

use brokerflow_graphs::Market;

fn brokerflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brokerflow"))
        .args(args)
        .output()
        .expect("run brokerflow")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "brokerflow-cli-generate-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const ARGS: &[&str] = &[
    "generate",
    "--users",
    "20",
    "--brokers",
    "5",
    "--providers",
    "5",
    "--seed",
    "7",
];

#[test]
fn same_arguments_give_identical_bytes_and_a_loadable_market() {
    let a = brokerflow(ARGS);
    let b = brokerflow(ARGS);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(!a.stdout.is_empty());
    assert_eq!(
        a.stdout, b.stdout,
        "same arguments must give the same bytes"
    );

    // -o writes the same bytes, and the file loads as a valid market.
    let dir = temp_dir("same");
    let file = dir.join("market.json");
    let mut with_o = ARGS.to_vec();
    with_o.extend(["-o", file.to_str().unwrap()]);
    let c = brokerflow(&with_o);
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    assert!(c.stdout.is_empty(), "nothing on stdout with -o");
    assert_eq!(std::fs::read(&file).unwrap(), a.stdout);
    let market = Market::load(&file).unwrap();
    assert_eq!(market.name, "generated-K20-B5-P5-seed7");
    assert_eq!(
        (
            market.users.len(),
            market.brokers.len(),
            market.providers.len()
        ),
        (20, 5, 5)
    );
    let meta = market.meta.clone().unwrap();
    assert_eq!(meta["generator"], "brokerflow generate");
    assert_eq!(meta["seed"], 7);
    assert_eq!(meta["config"]["contention"], 2.0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn options_reach_the_market() {
    let mut args = ARGS.to_vec();
    args.extend([
        "--posted-prices",
        "--eligibility",
        "0.5",
        "--broker-link-probability",
        "1",
        "--contention",
        "4",
        "--demand",
        "10,10",
        "--valuation",
        "2,50",
        "--valuation-alpha",
        "1.5",
    ]);
    let out = brokerflow(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let market = Market::from_json_str(&String::from_utf8(out.stdout).unwrap(), "stdout").unwrap();
    assert!(market.prices.is_some());
    assert_eq!(
        market.users.iter().filter(|u| u.eligible.is_some()).count(),
        10
    );
    assert!(market.users.iter().all(|u| u.demand == 10.0));
    assert!(market
        .users
        .iter()
        .all(|u| (2.0..=50.0).contains(&u.valuation)));
    // 5 brokers, all 20 ordered pairs linked.
    let bb = market
        .links
        .iter()
        .filter(|l| l.from.starts_with('b') && l.to.starts_with('b'))
        .count();
    assert_eq!(bb, 20);
    // Σ broker capacity = Σ demand / contention = 200 / 4, up to rounding.
    let total: f64 = market.brokers.iter().map(|b| b.capacity.unwrap()).sum();
    assert!((total - 50.0).abs() <= 5.0 * 0.0005 + 1e-9, "{total}");
    let meta = market.meta.clone().unwrap();
    assert_eq!(meta["config"]["demand"], serde_json::json!([10.0, 10.0]));
    assert_eq!(meta["config"]["posted_prices"], true);

    // A different seed gives a different market.
    let mut other = ARGS.to_vec();
    *other.last_mut().unwrap() = "8";
    assert_ne!(brokerflow(&other).stdout, brokerflow(ARGS).stdout);
}

#[test]
fn bad_arguments_give_a_clear_error_and_no_panic() {
    let cases: &[(&[&str], &str)] = &[
        (&["--contention", "0"], "--contention"),
        (&["--contention", "-2"], "--contention"),
        (&["--contention", "NaN"], "--contention"),
        (&["--demand", "20,5"], "--demand"),
        (&["--demand", "-1,5"], "--demand"),
        (&["--demand", "five"], "--demand"),
        (&["--requirement", "0,1"], "--requirement"),
        (&["--valuation", "0,1000"], "--valuation"),
        (&["--valuation-alpha", "0"], "--valuation-alpha"),
        (&["--eligibility", "1.5"], "--eligibility"),
        (&["--link-probability", "2"], "--link-probability"),
        (&["--brokers", "0"], "--brokers"),
        (&["--providers", "0"], "--providers"),
    ];
    for (extra, flag) in cases {
        let mut args = ARGS.to_vec();
        args.extend_from_slice(extra);
        let out = brokerflow(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?} succeeded");
        assert!(out.stdout.is_empty(), "{extra:?} wrote output");
        assert!(!stderr.contains("panicked"), "{extra:?} panicked: {stderr}");
        assert!(
            stderr.contains(flag),
            "{extra:?}: message should name {flag}: {stderr}"
        );
    }
    // A missing required argument is a usage error.
    let out = brokerflow(&[
        "generate",
        "--users",
        "3",
        "--brokers",
        "2",
        "--providers",
        "2",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--seed"));
    // A failed run with -o leaves no file behind.
    let dir = temp_dir("bad");
    let file = dir.join("m.json");
    let mut args = ARGS.to_vec();
    args.extend(["--contention", "0", "-o", file.to_str().unwrap()]);
    assert!(!brokerflow(&args).status.success());
    assert!(!file.exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn help_explains_the_knobs() {
    let out = brokerflow(&["generate", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--users",
        "--contention",
        "Bounded Pareto",
        "[default: 2]",
        "[default: 5,20]",
        "[default: 0.1,5]",
        "ln(n)/n",
        "per resource unit",
        "jobs per time unit",
        "--posted-prices",
        "--price-margin",
    ] {
        assert!(help.contains(needle), "help lacks {needle:?}:\n{help}");
    }
}
