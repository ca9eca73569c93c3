//! A census of the literature's guarantees ([MCA-Alloy] Remark 3, §V; [CBBA]'s
//! convergence and greedy-optimality results) for both conflict-rule sets of design §9: random sub-modular
//! (budget-additive) scenarios, 2–5 agents, 1–6 items, random trees, random
//! connected graphs (a tree plus extra pairs) or complete graphs, target bundle |J|
//! or less, release-outbid or not, no rebidding; synchronous runs. Every scenario
//! runs under both rule sets. Prints, per rule set, graph and target, the cases and
//! how many end without consensus, need more than D·|J| rounds, reach less than
//! (1 − 1/e) or less than 1/2 of the optimum, and the smallest value / optimum.
//! `cargo run --release -p brokerflow-solvers --example mca_census [CASES] [SEED]`

use std::collections::BTreeMap;

use brokerflow_solvers::mca::{run_synchronous, Policy, Rules, Scenario, ScenarioFile};

/// Per cell: cases, no consensus, rounds > D·|J|, value < (1 − 1/e)·opt,
/// value < opt / 2 (the last three among runs that reached consensus), and the
/// smallest value / optimum.
#[derive(Clone, Copy)]
struct Cell {
    cases: usize,
    no_consensus: usize,
    slow: usize,
    below_1_1e: usize,
    below_half: usize,
    worst: f64,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let cases: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4000);
    let mut seed: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(987_654_321)
        .max(1);
    // xorshift64: a fixed, documented generator, so the census is reproducible.
    let mut rnd = |m: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % m
    };
    let graphs = ["tree", "connected", "complete"];
    let empty = Cell {
        cases: 0,
        no_consensus: 0,
        slow: 0,
        below_1_1e: 0,
        below_half: 0,
        worst: f64::INFINITY,
    };
    // [rules][graph][T < |J|, T = |J|].
    let mut c = [[[empty; 2]; 3]; 2];
    let ratio_1_1e = 1.0 - (-1f64).exp();
    for _ in 0..cases {
        let n = 2 + rnd(4) as usize;
        let m = 1 + rnd(6) as usize;
        let graph = rnd(3) as usize;
        let t = if rnd(2) == 0 {
            m
        } else {
            1 + rnd(m as u64) as usize
        };
        let release = rnd(2) == 0;
        let ids: Vec<String> = (0..n).map(|i| format!("a{i}")).collect();
        let items: Vec<String> = (0..m).map(|j| format!("j{j}")).collect();
        let mut values = BTreeMap::new();
        for id in &ids {
            let w: Vec<f64> = (0..m).map(|_| rnd(20) as f64).collect();
            let budget = 1.0 + rnd(60) as f64;
            let mut table = BTreeMap::new();
            for set in 1u64..(1 << m) {
                let in_set: Vec<usize> = (0..m).filter(|j| set & (1 << j) != 0).collect();
                let sum: f64 = in_set.iter().map(|&j| w[j]).sum();
                let name: Vec<&str> = in_set.iter().map(|&j| items[j].as_str()).collect();
                table.insert(name.join("+"), sum.min(budget));
            }
            values.insert(id.clone(), table);
        }
        let neighbours = (graph < 2).then(|| {
            let mut pairs: Vec<(usize, usize)> =
                (1..n).map(|i| (rnd(i as u64) as usize, i)).collect();
            if graph == 1 {
                for _ in 0..rnd(n as u64 + 1) {
                    let (u, v) = (rnd(n as u64) as usize, rnd(n as u64) as usize);
                    let (u, v) = (u.min(v), u.max(v));
                    if u != v && !pairs.contains(&(u, v)) {
                        pairs.push((u, v));
                    }
                }
            }
            pairs
                .into_iter()
                .map(|(u, v)| (ids[u].clone(), ids[v].clone()))
                .collect()
        });
        let file = ScenarioFile {
            name: String::new(),
            agents: ids,
            items,
            neighbours,
            values,
            policy: Policy {
                release_outbid: release,
                target_bundle: t,
                rebid_lost: false,
            },
            rules: Rules::default(),
            meta: None,
        };
        let s = match Scenario::from_file(&file, "census") {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                continue;
            }
        };
        for (ri, rules) in Rules::ALL.into_iter().enumerate() {
            let r = run_synchronous(&s, &s.policy, rules);
            let cell = &mut c[ri][graph][usize::from(t == m)];
            cell.cases += 1;
            if !r.consensus {
                cell.no_consensus += 1;
                continue;
            }
            if r.rounds > s.bound() {
                cell.slow += 1;
            }
            if let Some(o) = r.optimum.filter(|&o| o > 0.0) {
                let q = r.value / o;
                cell.worst = cell.worst.min(q);
                if q < ratio_1_1e - 1e-9 {
                    cell.below_1_1e += 1;
                }
                if q < 0.5 - 1e-9 {
                    cell.below_half += 1;
                }
            }
        }
    }
    println!(
        "rules     graph      target   cases  no-consensus  rounds>D|J|  value<(1-1/e)opt  value<opt/2  worst value/opt"
    );
    for (ri, rules) in Rules::ALL.iter().enumerate() {
        for (g, name) in graphs.iter().enumerate() {
            for (t, tname) in ["T<|J|", "T=|J|"].iter().enumerate() {
                let x = c[ri][g][t];
                println!(
                    "{:<9} {name:<10} {tname:<7} {:>6} {:>13} {:>12} {:>17} {:>12} {:>16.3}",
                    rules.name(),
                    x.cases,
                    x.no_consensus,
                    x.slow,
                    x.below_1_1e,
                    x.below_half,
                    x.worst
                );
            }
        }
    }
}
