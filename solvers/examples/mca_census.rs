//! A census of the literature's guarantees ([MCA-Alloy] Remark 3, §V) for the
//! conflict rules as brokerflow states them: random sub-modular (budget-additive)
//! scenarios, 2–5 agents, 1–6 items, complete graphs or random trees, target
//! bundle |J| or less, release-outbid or not, no rebidding; synchronous runs.
//! Prints, per cell, the cases and how many end without consensus, need more than
//! D·|J| rounds, or reach less than (1 − 1/e) of the optimum.
//! `cargo run --release -p brokerflow-solvers --example mca_census [CASES] [SEED]`

use std::collections::BTreeMap;

use brokerflow_solvers::mca::{run_synchronous, Policy, Scenario, ScenarioFile};

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
    // [tree, complete][T < |J|, T = |J|] → [cases, no consensus, > D·|J|, < (1 − 1/e)].
    let mut c = [[[0usize; 4]; 2]; 2];
    for _ in 0..cases {
        let n = 2 + rnd(4) as usize;
        let m = 1 + rnd(6) as usize;
        let complete = rnd(2) == 0;
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
        let neighbours = (!complete).then(|| {
            (1..n)
                .map(|i| (ids[rnd(i as u64) as usize].clone(), ids[i].clone()))
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
            meta: None,
        };
        let s = match Scenario::from_file(&file, "census") {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                continue;
            }
        };
        let r = run_synchronous(&s, &s.policy);
        let cell = &mut c[usize::from(complete)][usize::from(t == m)];
        cell[0] += 1;
        if !r.consensus {
            cell[1] += 1;
        } else {
            if r.rounds > s.bound() {
                cell[2] += 1;
            }
            if r.optimum
                .is_some_and(|o| r.value < (1.0 - (-1f64).exp()) * o - 1e-9)
            {
                cell[3] += 1;
            }
        }
    }
    println!("graph     target   cases  no-consensus  rounds>D|J|  value<(1-1/e)opt");
    for (g, name) in ["tree", "complete"].iter().enumerate() {
        for (t, tname) in ["T<|J|", "T=|J|"].iter().enumerate() {
            let x = c[g][t];
            println!(
                "{name:<9} {tname:<7} {:>6} {:>13} {:>12} {:>17}",
                x[0], x[1], x[2], x[3]
            );
        }
    }
}
