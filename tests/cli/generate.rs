//! `brokerflow generate` end to end: the built binary, its bytes, its errors.

use brokerflow_graphs::Market;
use proptest::prelude::*;

use crate::util::{assert_ok, run as brokerflow, scratch, temp_dir};

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
    assert_ok(&a, "");
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
    assert_ok(&c, "");
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
    assert_ok(&out, "");
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

/// ARGS with `extra` fail with a message naming `flag`, no panic and no output.
fn bad_argument(extra: &[&str], flag: &str) {
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

cases!(bad_arguments_give_a_clear_error_and_no_panic, bad_argument, {
    contention_zero: (&["--contention", "0"], "--contention"),
    contention_negative: (&["--contention", "-2"], "--contention"),
    contention_nan: (&["--contention", "NaN"], "--contention"),
    demand_reversed: (&["--demand", "20,5"], "--demand"),
    demand_negative: (&["--demand", "-1,5"], "--demand"),
    demand_not_a_number: (&["--demand", "five"], "--demand"),
    requirement_zero: (&["--requirement", "0,1"], "--requirement"),
    valuation_zero: (&["--valuation", "0,1000"], "--valuation"),
    valuation_alpha_zero: (&["--valuation-alpha", "0"], "--valuation-alpha"),
    eligibility_above_one: (&["--eligibility", "1.5"], "--eligibility"),
    link_probability_above_one: (&["--link-probability", "2"], "--link-probability"),
    no_brokers: (&["--brokers", "0"], "--brokers"),
    no_providers: (&["--providers", "0"], "--providers"),
});

#[test]
fn a_missing_seed_is_a_usage_error() {
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
}

#[test]
fn a_failed_run_with_o_leaves_no_file() {
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

proptest! {
    // Each case runs the binary three times: few cases keep the suite fast.
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Any sizes and seed: `generate` prints the same bytes twice, and they are a
    /// market that `inspect` accepts with the asked-for sizes.
    #[test]
    fn any_sizes_and_seed_give_the_same_bytes_twice_and_a_market_inspect_accepts(
        users in 1usize..40,
        brokers in 1usize..8,
        providers in 1usize..8,
        seed in any::<u64>(),
    ) {
        let (u, b, p, s) = (users.to_string(), brokers.to_string(), providers.to_string(), seed.to_string());
        let args = ["generate", "--users", &u, "--brokers", &b, "--providers", &p, "--seed", &s];
        let first = brokerflow(&args);
        prop_assert!(first.status.success(), "{args:?}: {}", String::from_utf8_lossy(&first.stderr));
        prop_assert_eq!(&first.stdout, &brokerflow(&args).stdout, "{:?}", args);
        let file = scratch("any-sizes.json");
        std::fs::write(&file, &first.stdout).unwrap();
        let inspect = brokerflow(&["inspect", &file, "--json"]);
        prop_assert!(inspect.status.success(), "{args:?}: {}", String::from_utf8_lossy(&inspect.stderr));
        let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
        let sizes = (v["users"].as_u64(), v["brokers"].as_u64(), v["providers"].as_u64());
        let asked = (users as u64, brokers as u64, providers as u64);
        prop_assert_eq!(sizes, (Some(asked.0), Some(asked.1), Some(asked.2)), "{}", v);
        let market = Market::load(std::path::Path::new(&file)).unwrap();
        prop_assert_eq!((market.users.len(), market.brokers.len(), market.providers.len()), (users, brokers, providers));
    }
}
