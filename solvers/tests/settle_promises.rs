//! Every registered mechanism keeps the promises it declares
//! ([`Mechanism::promises`]), checked on random generated markets at truthful bids:
//!
//! * individual rationality: every participant of a promised role ends with
//!   utility ≥ −tolerance;
//! * budget balance: surplus = 0 (strong) or ≥ 0 (weak) within the tolerance;
//! * money conserved, whatever is promised: Σ pays − Σ receives = surplus, and
//!   Σ utility = W − surplus (utilities are true values plus transfers).
//!
//! The harness iterates [`MECHANISMS`], so a new mechanism is checked here by
//! declaring its promises. Allocations: P3's optimum for the mechanisms that take it;
//! a welfare-seeking engine run (which brings node prices) for those that need one.

use brokerflow_graphs::generate::generate;
use brokerflow_graphs::{ExpandedGraph, ValidMarket};
use brokerflow_solvers::engine::{EngineOptions, Injection, Variant};
use brokerflow_solvers::lp::Backend;
use brokerflow_solvers::settle::{
    mechanism, settle, Allocation, Allocations, BudgetBalance, Mechanism, SettleOptions, MECHANISMS,
};

mod common;
use common::settle_config;

const TOL: f64 = 1e-6;

/// The allocation a mechanism's promises are made on.
fn allocation(m: &ValidMarket, g: &ExpandedGraph, on: Allocations) -> Allocation {
    match on {
        Allocations::EnginePrices => {
            let options = EngineOptions::new(Variant::WelfareSeeking, Injection::Demand);
            Allocation::engine(m, g, &options).expect("engine run").0
        }
        _ => Allocation::lp(g, Backend::DEFAULT).expect("P3"),
    }
}

/// What one mechanism broke on one market (empty: nothing).
fn broken(m: &ValidMarket, mechanism: &'static dyn Mechanism) -> Vec<String> {
    let g = ExpandedGraph::new(m);
    let promises = mechanism.promises();
    let alloc = allocation(m, &g, promises.allocations);
    let s = settle(m, m, &alloc, mechanism, &SettleOptions::default())
        .unwrap_or_else(|e| panic!("{mechanism} on {}: {e}", m.name));
    let tol = TOL * s.welfare.abs().max(1.0);
    let mut out = Vec::new();
    for l in &s.participants {
        if promises.individually_rational.contains(&l.role) && l.utility < -tol {
            out.push(format!(
                "IR: {} ({}) has utility {}",
                l.id, l.role, l.utility
            ));
        }
    }
    match promises.budget_balance {
        BudgetBalance::Strong if s.surplus.abs() > tol => {
            out.push(format!("strong budget balance: surplus {}", s.surplus))
        }
        BudgetBalance::Weak if s.surplus < -tol => {
            out.push(format!("weak budget balance: deficit {}", -s.surplus))
        }
        _ => {}
    }
    let pays: f64 = s.participants.iter().map(|l| l.pays).sum();
    let receives: f64 = s.participants.iter().map(|l| l.receives).sum();
    if (pays - receives - s.surplus).abs() > tol {
        out.push(format!(
            "money: paid {pays} − received {receives} ≠ surplus {}",
            s.surplus
        ));
    }
    let utility: f64 = s.participants.iter().map(|l| l.utility).sum();
    if (utility - (s.welfare - s.surplus)).abs() > tol {
        out.push(format!(
            "money: Σ utility {utility} ≠ W {} − surplus {}",
            s.welfare, s.surplus
        ));
    }
    out
}

#[test]
fn every_registered_mechanism_keeps_its_declared_promises() {
    for &m in MECHANISMS {
        // Engine runs are slower than P3: fewer markets for the mechanisms needing one.
        let markets = match m.promises().allocations {
            Allocations::EnginePrices => 10,
            _ => 40,
        };
        let mut failures = Vec::new();
        for seed in 0..markets {
            let market = generate(&settle_config(), seed).expect("valid configuration");
            for f in broken(&market, m) {
                failures.push(format!("seed {seed}: {f}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{m} breaks its declared promises {:?}:\n{}",
            m.promises(),
            failures.join("\n")
        );
    }
}

/// The registry names every mechanism once, `mechanism` and `FromStr` find each by
/// its name, and an unknown name's error lists every registered name.
#[test]
fn the_registry_resolves_names_both_ways() {
    let names: Vec<&str> = MECHANISMS.iter().map(|m| m.name()).collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    for &m in MECHANISMS {
        assert_eq!(mechanism(m.name()).map(|x| x.name()), Some(m.name()));
        let parsed: &dyn Mechanism = m.name().parse().expect("a registered name");
        assert_eq!(parsed, m);
        assert!(!m.summary().is_empty());
    }
    assert!(mechanism("pay-as-bid?").is_none());
    let e = "nope"
        .parse::<&'static dyn Mechanism>()
        .unwrap_err()
        .to_string();
    assert!(e.contains("'nope'"), "{e}");
    for name in &names {
        assert!(e.contains(name), "{e} omits {name}");
    }
    assert!(e.contains("engine-prices"), "{e}");
}
