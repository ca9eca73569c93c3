//! `brokerflow run` end to end, through the built binary: the JSON
//! fields, the trace CSV and its ledger, the flows CSV read back by `brokerflow
//! evaluate`, the routing table against the flows, and clear errors for bad options.

use std::collections::BTreeMap;

use crate::util::{json, market, ok, refused, scratch};

/// The market's users: id → demand, read from the file itself.
fn demands(path: &str) -> Vec<(String, f64)> {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    m["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap().to_string(),
                u["demand"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// A CSV without quoted fields (ids here have no commas), header included.
fn csv(path: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// `run --variant VARIANT --inject INJECT --json` on tiny has the documented fields.
fn documented_fields(inject: &str, variant: &str) {
    let t = market("tiny");
    let users = demands(&t);
    let v = json(&[
        "run",
        &t,
        "--variant",
        variant,
        "--inject",
        inject,
        "--json",
    ]);
    let what = format!("{variant} {inject}");
    assert!(
        v["converged"].is_boolean(),
        "{what}: converged {}",
        v["converged"]
    );
    assert!(
        v["converged"].as_bool().unwrap(),
        "{what}: tiny converges at the defaults"
    );
    let rounds = v["rounds"].as_u64().unwrap();
    // A run converges once its amounts have settled for a whole window, after
    // a whole window has been filled: two default windows of 50 rounds.
    assert!(
        rounds >= 99,
        "{what}: {rounds} rounds, fewer than two default windows"
    );
    assert!(
        v["welfare"].as_f64().unwrap().is_finite(),
        "{what}: welfare"
    );
    assert_eq!(
        v["stranded"],
        serde_json::json!([]),
        "{what}: nobody is stranded in tiny"
    );
    assert!(v["seconds"].as_f64().unwrap() >= 0.0, "{what}: seconds");
    let served = v["served"].as_object().unwrap();
    assert_eq!(
        served.len(),
        users.len(),
        "{what}: one served rate per user"
    );
    for (id, d) in &users {
        let s = served[id].as_f64().unwrap();
        // Never more than the demand (up to ε of queue drain in the window).
        assert!(
            (0.0..=1.03 * d).contains(&s),
            "{what}: {id} served {s} of {d}"
        );
        if inject == "feasible" {
            // tiny.md: δ* = 0.5; feasible mode serves ≥ (1 − η − ε)·δ*·d.
            assert!(s >= 0.95 * 0.5 * d - 1e-9, "{what}: {id} served {s}");
        }
    }
}

cases!(run_json_has_the_documented_fields, documented_fields, {
    feasible_fair: ("feasible", "fair"),
    feasible_utility_aware: ("feasible", "utility-aware"),
    demand_fair: ("demand", "fair"),
    demand_utility_aware: ("demand", "utility-aware"),
});

/// `run --inject INJECT` on a market whose u2 has no live broker names u2 stranded.
fn names_stranded(inject: &str) {
    // u2's only broker is down: it is stranded and served nothing.
    let path = scratch(&format!("stranded-{inject}.json"));
    std::fs::write(
        &path,
        r#"{"name": "stranded",
            "users": [{"id": "u1", "demand": 4, "requirement": 1, "valuation": 5},
                      {"id": "u2", "demand": 3, "requirement": 1, "valuation": 5}],
            "brokers": [{"id": "b1", "capacity": 10}, {"id": "b2", "capacity": 0}],
            "providers": [{"id": "p1", "capacity": 2}],
            "links": [{"from": "u1", "to": "b1"}, {"from": "u2", "to": "b2"},
                      {"from": "b1", "to": "p1"}, {"from": "b2", "to": "p1"}]}"#,
    )
    .unwrap();
    let v = json(&["run", &path, "--inject", inject, "--json"]);
    assert_eq!(v["stranded"], serde_json::json!(["u2"]), "{inject}");
    assert_eq!(v["served"]["u2"].as_f64(), Some(0.0), "{inject}");
    // u1 alone: the provider's 2 units are the bottleneck (demand mode serves 2).
    let s = v["served"]["u1"].as_f64().unwrap();
    assert!(s > 1.85 && s <= 2.0 + 1e-9, "{inject}: u1 served {s}");
}

cases!(run_json_names_stranded_users, names_stranded, {
    feasible: ("feasible"),
    demand: ("demand"),
});

/// The trace of `run --inject INJECT` on `name`: one balanced row per round and commodity.
fn balanced_trace(name: &str, inject: &str) {
    let m = market(name);
    let users = demands(&m);
    let trace = scratch(&format!("{name}-{inject}-trace.csv"));
    // A low ceiling in demand mode, so that the discard column is exercised.
    let v = json(&[
        "run",
        &m,
        "--inject",
        inject,
        "--ceiling",
        "2",
        "--trace",
        &trace,
        "--json",
    ]);
    let rounds = v["rounds"].as_u64().unwrap() as usize;
    let rows = csv(&trace);
    assert_eq!(
        rows[0].join(","),
        "round,commodity,injected,absorbed,queued,discarded,in_flight,lost"
    );
    assert_eq!(
        rows.len() - 1,
        rounds * users.len(),
        "{name} {inject}: rows"
    );
    let mut total: BTreeMap<&str, (f64, f64, f64)> = BTreeMap::new();
    let mut discarded_any = false;
    for (i, row) in rows[1..].iter().enumerate() {
        assert_eq!(row.len(), 8);
        assert_eq!(
            row[0].parse::<usize>().unwrap(),
            i / users.len() + 1,
            "{name}: round column"
        );
        let (id, d) = &users[i % users.len()];
        assert_eq!(&row[1], id, "{name}: commodity column in user order");
        let x: Vec<f64> = row[2..].iter().map(|f| f.parse().unwrap()).collect();
        let expected = if inject == "demand" {
            *d
        } else {
            0.98 * v_delta(name) * d
        };
        assert!(
            (x[0] - expected).abs() <= 1e-9 * d,
            "{name} {inject}: injected {} ≠ {expected}",
            x[0]
        );
        discarded_any |= x[3] > 0.0;
        let t = total.entry(id.as_str()).or_default();
        t.0 += x[0];
        t.1 += x[1];
        t.2 += x[3];
        let balance = t.0 - t.1 - x[2] - t.2;
        assert!(
            balance.abs() <= 1e-9 * t.0,
            "{name} {inject}, row {}: ledger off by {balance}",
            i + 1
        );
    }
    // Feasible mode never discards; demand mode discards only once a source's
    // queue reaches its ceiling, which a run that settles first never does.
    if inject == "feasible" {
        assert!(!discarded_any, "{name} {inject}: discards");
    }
}

cases!(trace_has_one_balanced_row_per_round_and_commodity, balanced_trace, {
    tiny_feasible: ("tiny", "feasible"),
    tiny_demand: ("tiny", "demand"),
    linked_feasible: ("linked", "feasible"),
    linked_demand: ("linked", "demand"),
});

/// min(δ*, 1) of the bundled markets: tiny.md (0.5), linked.json's meta (δ* ≈ 1.057).
fn v_delta(name: &str) -> f64 {
    match name {
        "tiny" => 0.5,
        "linked" => 1.0,
        _ => unreachable!(),
    }
}

/// The flows of `run --inject INJECT` on `name` are read by evaluate with the same
/// welfare, and the routing table matches them.
fn flows_evaluate_to_the_run(name: &str, inject: &str) {
    let m = market(name);
    let flows = scratch(&format!("{name}-{inject}-flows.csv"));
    let routing = scratch(&format!("{name}-{inject}-routing.csv"));
    let what = format!("{name} {inject}");
    let run = json(&[
        "run",
        &m,
        "--inject",
        inject,
        "--flows",
        &flows,
        "--routing",
        &routing,
        "--json",
    ]);
    let eval = json(&["evaluate", &m, "--flows", &flows, "--json"]);
    // The flows file is the steady flow with circulation cancelled; the engine's
    // welfare is that flow's minus the circulating jobs' costs (reported as
    // circulation_cost). The unsteady deliveries (jobs draining queues released) are
    // reported and counted in neither.
    let (w_run, w_eval) = (
        run["welfare"].as_f64().unwrap() + run["circulation_cost"].as_f64().unwrap(),
        eval["welfare"].as_f64().unwrap(),
    );
    assert!(
        (w_run - w_eval).abs() <= 1e-9 * w_run.abs().max(1.0),
        "{what}: run says W = {w_run}, evaluate of its flows {w_eval}"
    );
    for (id, s) in run["served"].as_object().unwrap() {
        let e = eval["served"][id].as_f64().unwrap();
        assert!(
            (s.as_f64().unwrap() - e).abs() <= 1e-9 * e.max(1.0),
            "{what}: {id} served"
        );
    }
    check_routing(&m, &flows, &routing, &what);
}

cases!(flows_are_read_by_evaluate_with_the_same_welfare_and_routing_matches_them, flows_evaluate_to_the_run, {
    tiny_feasible: ("tiny", "feasible"),
    tiny_demand: ("tiny", "demand"),
    linked_feasible: ("linked", "feasible"),
    linked_demand: ("linked", "demand"),
    figure3_feasible: ("figure3", "feasible"),
    figure3_demand: ("figure3", "demand"),
});

/// Fractions sum to 1 per (broker, commodity), name real next hops (a market link from
/// the broker), and equal the broker's share of its outflow in the flows file.
fn check_routing(market_path: &str, flows: &str, routing: &str, what: &str) {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(market_path).unwrap()).unwrap();
    let ids = |role: &str| -> Vec<String> {
        m[role]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (brokers, users) = (ids("brokers"), ids("users"));
    let links: Vec<(String, String)> = m["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["from"].as_str().unwrap().to_string(),
                l["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Broker outflows per (broker, commodity, next hop), from the flows file.
    let mut out: BTreeMap<(String, String), BTreeMap<String, f64>> = BTreeMap::new();
    let rows = csv(flows);
    assert_eq!(rows[0].join(","), "commodity,from,to,flow");
    for row in &rows[1..] {
        if brokers.contains(&row[1]) {
            *out.entry((row[1].clone(), row[0].clone()))
                .or_default()
                .entry(row[2].clone())
                .or_default() += row[3].parse::<f64>().unwrap();
        }
    }
    let rows = csv(routing);
    assert_eq!(rows[0].join(","), "broker,commodity,next_hop,fraction");
    assert!(rows.len() > 1, "{what}: empty routing table");
    let mut sums: BTreeMap<(String, String), f64> = BTreeMap::new();
    for row in &rows[1..] {
        let (broker, k, hop) = (&row[0], &row[1], &row[2]);
        let fraction: f64 = row[3].parse().unwrap();
        assert!(brokers.contains(broker), "{what}: {broker} is not a broker");
        assert!(users.contains(k), "{what}: {k} is not a user");
        assert!(
            links.contains(&(broker.clone(), hop.clone())),
            "{what}: {broker} has no link to next hop {hop}"
        );
        assert!(
            fraction > 0.0 && fraction <= 1.0 + 1e-12,
            "{what}: fraction {fraction}"
        );
        let hops = &out[&(broker.clone(), k.clone())];
        let expected = hops[hop] / hops.values().sum::<f64>();
        assert!(
            (fraction - expected).abs() <= 1e-9,
            "{what}: {broker} {k} → {hop}: {fraction} vs flows {expected}"
        );
        *sums.entry((broker.clone(), k.clone())).or_default() += fraction;
    }
    for ((broker, k), sum) in &sums {
        assert!(
            (sum - 1.0).abs() <= 1e-9,
            "{what}: {broker}'s fractions of {k} sum to {sum}"
        );
    }
    // Every broker that forwards a commodity has a table entry for it.
    for ((broker, k), hops) in &out {
        if hops.values().any(|&x| x > 0.0) {
            assert!(
                sums.contains_key(&(broker.clone(), k.clone())),
                "{what}: no routes of {broker} for {k}"
            );
        }
    }
}

#[test]
fn bad_options_are_refused_clearly() {
    let t = market("tiny");
    refused(&["run", &t, "--epsilon", "0"], "epsilon");
    refused(&["run", &t, "--epsilon=-0.1"], "epsilon");
    refused(&["run", &t, "--epsilon", "1"], "epsilon");
    refused(&["run", &t, "--epsilon", "NaN"], "epsilon");
    refused(&["run", &t, "--window", "0"], "window");
    refused(&["run", &t, "--eta", "1"], "eta");
    refused(&["run", &t, "--eta=-0.01"], "eta");
    refused(&["run", &t, "--ceiling", "0"], "ceiling");
    refused(&["run", &t, "--ceiling", "inf"], "ceiling");
    refused(&["run", &t, "--variant", "greedy"], "greedy");
    refused(&["run", &t, "--inject", "all"], "all");
    refused(&["run", &t, "--rounds", "many"], "rounds");
    refused(
        &["run", "/nonexistent/market.json"],
        "/nonexistent/market.json",
    );
    let bad = scratch("bad.json");
    std::fs::write(&bad, r#"{"name": "bad", "users": [], "brokers": [], "providers": [], "links": [{"from": "x", "to": "y"}]}"#).unwrap();
    refused(&["run", &bad], "bad.json");
}

/// Bad options (negative ε, zero rounds, …) get clear errors.
#[test]
fn zero_rounds_is_refused() {
    let t = market("tiny");
    refused(&["run", &t, "--rounds", "0"], "rounds");
}

/// `compare --json` reports `rounds_to_95` (brokerflow's own measure; defined in
/// `brokerflow_solvers::compare::run_with_checkpoints`): null on LP rows; on engine
/// rows a checkpoint (a multiple of 50 or the last round) when the run ends at
/// ≥ 95 % of the optimum, null when it ends below.
#[test]
fn compare_json_reports_rounds_to_95() {
    let v = json(&["compare", &market("tiny"), "--json"]);
    let rows = v["rows"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["method"] == "welfare-seeking"));
    for r in rows {
        assert!(r.get("rounds_to_95").is_some(), "{r}");
        let to = r["rounds_to_95"].as_u64();
        if r["method"] == "lp" {
            assert!(to.is_none(), "{r}");
            continue;
        }
        let pct = r["percent_of_optimum"].as_f64().unwrap();
        let rounds = r["rounds"].as_u64().unwrap();
        match to {
            Some(to) => assert!(
                pct > 95.0 - 1e-6 && to <= rounds && (to % 50 == 0 || to == rounds),
                "{r}"
            ),
            None => assert!(pct < 95.0 + 1e-6, "{r}"),
        }
    }
}

/// `bench engine` runs on tiny sizes and prints its columns: one row per (size,
/// variant), the rounds asked for, and the usable pairs that `inspect` counts on the
/// same generated market. Timings are not checked.
#[test]
fn bench_engine_runs_on_tiny_sizes_and_prints_its_columns() {
    let text =
        String::from_utf8(ok(&["bench", "engine", "--sizes", "5,10", "--rounds", "5"]).stdout)
            .unwrap();
    assert!(
        text.contains("| users | brokers | providers | variant | runtime | threads | processes | usable pairs | rounds | ns per round | ns per round per pair | speed-up | state bytes per pair | window bytes per pair | messages per round | remote bytes per round |"),
        "{text}"
    );
    // 2 sizes × 3 variants × 2 runtimes × 2 thread counts.
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with("| 5 |") || l.starts_with("| 10 |"))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 24, "{text}");
    let lines: Vec<serde_json::Value> = String::from_utf8(
        ok(&[
            "bench",
            "engine",
            "--sizes",
            "5,10",
            "--rounds",
            "5",
            "--runtimes",
            "flat,nodes",
            "--threads",
            "1,2",
            "--json",
        ])
        .stdout,
    )
    .unwrap()
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    assert_eq!(lines.len(), 24);
    for (users, chunk) in [(5, &lines[..12]), (10, &lines[12..])] {
        // The market `generate` makes with the same sizes and seed.
        let file = scratch(&format!("bench-{users}.json"));
        let u = users.to_string();
        ok(&[
            "generate",
            "--users",
            &u,
            "--brokers",
            "5",
            "--providers",
            "5",
            "--seed",
            "1",
            "-o",
            &file,
        ]);
        let pairs = json(&["inspect", &file, "--json"])["usable_pairs"]
            .as_u64()
            .unwrap();
        let runs: Vec<(&str, &str, u64)> = chunk
            .iter()
            .map(|r| {
                (
                    r["runtime"].as_str().unwrap(),
                    r["variant"].as_str().unwrap(),
                    r["threads"].as_u64().unwrap(),
                )
            })
            .collect();
        let mut expected = Vec::new();
        for runtime in ["flat", "nodes"] {
            for variant in ["fair", "utility-aware", "welfare-seeking"] {
                for threads in [1, 2] {
                    expected.push((runtime, variant, threads));
                }
            }
        }
        assert_eq!(runs, expected);
        for r in chunk {
            assert_eq!(r["users"], users);
            assert_eq!(
                (r["brokers"].as_u64(), r["providers"].as_u64()),
                (Some(5), Some(5))
            );
            assert_eq!(r["usable_pairs"].as_u64(), Some(pairs), "{r}");
            assert_eq!(r["rounds"], 5, "{r}");
            assert!(r["ns_per_round"].as_f64().unwrap() > 0.0, "{r}");
            assert!(r["ns_per_round_per_pair"].as_f64().unwrap() > 0.0, "{r}");
            assert!(r["speedup"].as_f64().unwrap() > 0.0, "{r}");
            if r["threads"] == 1 {
                assert_eq!(r["speedup"].as_f64(), Some(1.0), "{r}");
            }
            assert!(r["state_bytes_per_pair"].as_f64().unwrap() > 0.0, "{r}");
            assert!(r["window_bytes_per_pair"].as_f64().unwrap() > 0.0, "{r}");
        }
        for row in rows.iter().filter(|r| r[0] == u) {
            assert_eq!(row[7], pairs.to_string(), "{row:?}");
            assert_eq!(row[8], "5", "{row:?}");
        }
    }
    refused(&["bench", "engine", "--sizes", "0,5"], "--sizes");
    refused(&["bench", "engine", "--rounds", "0"], "--rounds");
    refused(&["bench", "engine", "--threads", "0"], "--threads");
}

/// The JSON of a run without its timing and provenance, and the runtime that the
/// provenance names.
fn strip(mut v: serde_json::Value) -> (String, serde_json::Value) {
    let runtime = v["provenance"]["engine_runtime"]
        .as_str()
        .unwrap()
        .to_string();
    let o = v.as_object_mut().unwrap();
    o.remove("seconds");
    o.remove("provenance");
    (runtime, v)
}

/// `run --runtime` with `variant`: the nodes runtime gives the same output as the flat
/// one, and the output records which runtime made it.
fn runtimes_agree(variant: &str) {
    let t = market("linked");
    let (flows_flat, flows_nodes) = (
        scratch(&format!("flat-flows-{variant}.csv")),
        scratch(&format!("nodes-flows-{variant}.csv")),
    );
    let run = |runtime: &str, flows: &str| {
        strip(json(&[
            "run",
            &t,
            "--variant",
            variant,
            "--runtime",
            runtime,
            "--flows",
            flows,
            "--json",
        ]))
    };
    let (a, flat) = run("flat", &flows_flat);
    let (b, nodes) = run("nodes", &flows_nodes);
    assert_eq!((a.as_str(), b.as_str()), ("flat", "nodes"));
    assert_eq!(flat, nodes, "{variant}");
    assert_eq!(
        std::fs::read_to_string(&flows_flat).unwrap(),
        std::fs::read_to_string(&flows_nodes).unwrap(),
        "{variant}"
    );
}

cases!(runtimes_give_the_same_run_and_say_which_they_are, runtimes_agree, {
    fair: ("fair"),
    welfare_seeking: ("welfare-seeking"),
});

/// Without `--runtime` a run is flat's; an unknown runtime is refused by name.
#[test]
fn the_default_runtime_is_flat_and_an_unknown_one_is_refused() {
    let t = market("linked");
    let (default, _) = strip(json(&["run", &t, "--json"]));
    assert_eq!(default, "flat");
    refused(&["run", &t, "--runtime", "warp"], "--runtime");
}

/// `run --prices`: the welfare-seeking run's node prices beside P3's exact
/// duals, one row per capacity-limited node of G′ (tiny.md §2: b1, b2, p1, p2 and the
/// three bandwidth nodes), the duals being tiny.md §6's hand prices (u1->b1 16, p1 3,
/// b1->b2 2, the rest 0), and `price_error` in the JSON; other variants are refused.
#[test]
fn run_prices_sit_beside_the_hand_duals() {
    let t = market("tiny");
    let path = scratch("prices.csv");
    let v = json(&[
        "run",
        &t,
        "--variant",
        "welfare-seeking",
        "--prices",
        &path,
        "--json",
    ]);
    let rows = csv(&path);
    assert_eq!(rows[0], ["node", "engine_price", "p3_price"]);
    let hand: BTreeMap<&str, f64> = [
        ("b1", 0.0),
        ("b2", 0.0),
        ("p1", 3.0),
        ("p2", 0.0),
        ("u1->b1", 16.0),
        ("b1->b2", 2.0),
        ("b2->p2", 0.0),
    ]
    .into();
    assert_eq!(rows.len() - 1, hand.len());
    let mut worst: f64 = 0.0;
    for r in &rows[1..] {
        let want = hand[r[0].as_str()];
        let dual: f64 = r[2].parse().unwrap();
        let engine: f64 = r[1].parse().unwrap();
        assert!((dual - want).abs() < 1e-6, "{r:?}");
        assert!(engine >= 0.0, "{r:?}");
        worst = worst.max((engine - dual).abs());
    }
    let e = v["price_error"]["value"].as_f64().unwrap();
    assert!((e - worst / 16.0).abs() < 1e-9, "{e} vs {worst}/16");
    assert!(v["prices"]["u1->b1"].as_f64().unwrap() > 0.0);
    refused(
        &["run", &t, "--variant", "utility-aware", "--prices", &path],
        "welfare-seeking",
    );
}
