//! `brokerflow evaluate` as the independent judge of every routing brokerflow writes
//! (design §4, §5): the engine's `run --flows` of every variant and injection mode, on
//! the bundled markets and on 50 generated ones, must come out FEASIBLE; an infeasible
//! routing exits with code 4 and gets no percentage of the optimum.

use brokerflow_graphs::generate::{generate, GeneratorConfig};

use crate::util::{assert_ok, market, run, scratch};

const VARIANTS: [&str; 3] = ["fair", "utility-aware", "welfare-seeking"];
const MODES: [&str; 2] = ["feasible", "demand"];

/// Runs `variant` in `mode` on `market` and evaluates its `--flows` file.
fn run_is_feasible(market: &str, tag: &str, variant: &str, mode: &str) {
    let flows = scratch(&format!("{tag}-{variant}-{mode}.csv"));
    let flows = flows.as_str();
    let out = run(&[
        "run",
        market,
        "--variant",
        variant,
        "--inject",
        mode,
        "--flows",
        flows,
    ]);
    assert_ok(&out, &format!("{tag} {variant} {mode}"));
    let out = run(&["evaluate", market, "--flows", flows, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{tag} {variant} {mode}: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        v["feasible"], true,
        "{tag} {variant} {mode}: {}",
        v["violations"]
    );
    assert_eq!(out.status.code(), Some(0), "{tag} {variant} {mode}");
    // Served never exceeds demand, and the welfare is at most the optimum.
    let w = v["welfare"].as_f64().unwrap();
    let opt = v["optimum"].as_f64().unwrap();
    assert!(
        w <= opt + 1e-6 * opt.abs().max(1.0),
        "{tag} {variant} {mode}: {w} > {opt}"
    );
}

/// Runs every variant and mode on `market` and evaluates each `--flows` file.
fn every_run_is_feasible(market: &str, tag: &str) {
    for variant in VARIANTS {
        for mode in MODES {
            run_is_feasible(market, tag, variant, mode);
        }
    }
}

/// The bundled market `name`, `variant` in `mode`.
fn bundled_run_is_feasible(name: &str, variant: &str, mode: &str) {
    run_is_feasible(&market(name), name, variant, mode);
}

cases!(engine_routings_on_the_bundled_markets_pass_evaluate, bundled_run_is_feasible, {
    tiny_fair_feasible: ("tiny", "fair", "feasible"),
    tiny_fair_demand: ("tiny", "fair", "demand"),
    tiny_utility_aware_feasible: ("tiny", "utility-aware", "feasible"),
    tiny_utility_aware_demand: ("tiny", "utility-aware", "demand"),
    tiny_welfare_seeking_feasible: ("tiny", "welfare-seeking", "feasible"),
    tiny_welfare_seeking_demand: ("tiny", "welfare-seeking", "demand"),
    figure3_fair_feasible: ("figure3", "fair", "feasible"),
    figure3_fair_demand: ("figure3", "fair", "demand"),
    figure3_utility_aware_feasible: ("figure3", "utility-aware", "feasible"),
    figure3_utility_aware_demand: ("figure3", "utility-aware", "demand"),
    figure3_welfare_seeking_feasible: ("figure3", "welfare-seeking", "feasible"),
    figure3_welfare_seeking_demand: ("figure3", "welfare-seeking", "demand"),
    linked_fair_feasible: ("linked", "fair", "feasible"),
    linked_fair_demand: ("linked", "fair", "demand"),
    linked_utility_aware_feasible: ("linked", "utility-aware", "feasible"),
    linked_utility_aware_demand: ("linked", "utility-aware", "demand"),
    linked_welfare_seeking_feasible: ("linked", "welfare-seeking", "feasible"),
    linked_welfare_seeking_demand: ("linked", "welfare-seeking", "demand"),
    posted_fair_feasible: ("posted", "fair", "feasible"),
    posted_fair_demand: ("posted", "fair", "demand"),
    posted_utility_aware_feasible: ("posted", "utility-aware", "feasible"),
    posted_utility_aware_demand: ("posted", "utility-aware", "demand"),
    posted_welfare_seeking_feasible: ("posted", "welfare-seeking", "feasible"),
    posted_welfare_seeking_demand: ("posted", "welfare-seeking", "demand"),
});

#[test]
fn engine_routings_on_50_generated_markets_pass_evaluate() {
    for seed in 0..50u64 {
        let config = GeneratorConfig {
            users: 3 + (seed % 6) as usize,
            brokers: 2 + (seed % 3) as usize,
            providers: 2 + ((seed / 3) % 3) as usize,
            broker_link_probability: if seed % 3 == 0 { 0.3 } else { 0.0 },
            eligibility: if seed % 2 == 0 { 0.5 } else { 0.0 },
            contention: [0.5, 1.0, 2.0, 4.0][(seed % 4) as usize],
            ..GeneratorConfig::default()
        };
        let market = generate(&config, seed).unwrap();
        let path = scratch(&format!("generated-{seed}.json"));
        std::fs::write(&path, serde_json::to_string(&market).unwrap()).unwrap();
        every_run_is_feasible(&path, &format!("seed {seed}"));
    }
}

#[test]
fn an_infeasible_routing_exits_4_without_a_percentage() {
    // u1 sends 10 jobs over u1->b1, whose bandwidth is 5: conservation holds, the
    // capacity does not. Its welfare 10 × (20 − 1) = 190 exceeds the optimum 141,
    // which is exactly why no percentage may be printed for it.
    let tiny = market("tiny");
    let flows = scratch("over-capacity.csv");
    std::fs::write(
        &flows,
        "commodity,from,to,flow\nu1,u1,b1,10\nu1,b1,p1,10\nu1,p1,sink,10\n",
    )
    .unwrap();
    let (tiny, flows) = (tiny.as_str(), flows.as_str());
    let out = run(&["evaluate", tiny, "--flows", flows]);
    assert_eq!(out.status.code(), Some(4));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("INFEASIBLE"), "{text}");
    assert!(
        text.contains("u1->b1"),
        "the violated link is named: {text}"
    );
    assert!(
        !text.contains('%'),
        "no percentage for an infeasible routing: {text}"
    );
    let out = run(&["evaluate", tiny, "--flows", flows, "--json"]);
    assert_eq!(out.status.code(), Some(4));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["feasible"], false);
    assert!(v["percent_of_optimum"].is_null());
    assert_eq!(v["percent_of_optimum_reason"], "the routing is infeasible");
    assert!((v["welfare"].as_f64().unwrap() - 190.0).abs() < 1e-9);
    // The same routing within capacity (5 jobs) is feasible: exit 0, 95 / 141.
    std::fs::write(
        flows,
        "commodity,from,to,flow\nu1,u1,b1,5\nu1,b1,p1,5\nu1,p1,sink,5\n",
    )
    .unwrap();
    let out = run(&["evaluate", tiny, "--flows", flows, "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pct = v["percent_of_optimum"].as_f64().unwrap();
    assert!((pct - 100.0 * 95.0 / 141.0).abs() < 1e-9, "{pct}");
}
