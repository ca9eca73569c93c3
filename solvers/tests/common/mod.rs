//! Shared by the engine's comparison tests: everything a run reports, as bits; the
//! bundled markets and every setting the runtimes are compared on.

// Each test crate that includes this module uses part of it.
#![allow(dead_code)]

use brokerflow_graphs::generate::{generate, GeneratorConfig, Range};
use std::path::PathBuf;

use brokerflow_graphs::{examples, ExpandedGraph, Market, ValidMarket};
use brokerflow_solvers::engine::{
    routing_table, EngineOptions, EngineRun, Injection, Potential, TraceRow, Variant,
};
use brokerflow_solvers::lp::{self, Backend, LpOptions};
use brokerflow_solvers::settle::{
    settle, Allocation, Declaration, Mechanism, SettleError, SettleOptions, Statement,
};
use proptest::prelude::*;

/// The workspace's file `rel` (a path from the workspace root, `experiments/mca/x.json`).
pub fn repo_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel)
}

/// The bundled market file `name` (`graphs/markets/NAME`), loaded.
pub fn bundled(name: &str) -> ValidMarket {
    Market::load(repo_file(&format!("graphs/markets/{name}"))).unwrap()
}

/// The bundled markets the runtimes are compared on, by name.
pub fn bundled_markets() -> [(&'static str, ValidMarket); 4] {
    [
        ("tiny", examples::tiny()),
        ("figure3", examples::figure3()),
        ("linked", examples::linked()),
        ("posted", examples::posted()),
    ]
}

/// The market `name` of [`bundled_markets`].
pub fn bundled_market(name: &str) -> ValidMarket {
    bundled_markets()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no bundled market {name}"))
        .1
}

/// Random generated markets, each with a label naming its configuration and seed:
/// few users, brokers and providers, with broker→broker cycles, eligibility lists,
/// posted prices, and scarce and plentiful capacity.
pub fn random_markets() -> impl Strategy<Value = (String, ValidMarket)> {
    (
        (2usize..14, 1usize..5, 1usize..5),
        prop::sample::select(vec![0.5, 1.0, 2.0, 4.0]),
        prop::sample::select(vec![0.0, 0.4, 0.8]),
        prop::sample::select(vec![0.0, 0.5, 1.0]),
        any::<bool>(),
        0u64..1_000_000,
    )
        .prop_map(
            |((users, brokers, providers), contention, links, eligibility, posted, seed)| {
                let config = GeneratorConfig {
                    users,
                    brokers,
                    providers,
                    contention,
                    broker_link_probability: links,
                    eligibility,
                    posted_prices: posted,
                    ..GeneratorConfig::default()
                };
                let market = generate(&config, seed).unwrap();
                (format!("{config:?} seed {seed}"), market)
            },
        )
}

/// Every variant × injection mode (feasible at P1's δ*, and demand) × potential on the
/// market `name` of `g`, with `rounds` and `window`, each with a label naming it.
pub fn every_setting(
    name: &str,
    g: &ExpandedGraph,
    rounds: usize,
    window: usize,
) -> Vec<(String, EngineOptions)> {
    let mut settings = Vec::new();
    for base in every_variant_and_injection(g) {
        for potential in [Potential::Quadratic, Potential::Exponential] {
            let mut o = base;
            o.potential = potential;
            o.max_rounds = rounds;
            o.window = window;
            let what = format!(
                "{name}, {} {} {potential:?}",
                o.variant.name(),
                o.injection.name()
            );
            settings.push((what, o));
        }
    }
    settings
}

/// The default options of every variant × injection mode (feasible at P1's δ* of `g`,
/// then demand), in that order.
pub fn every_variant_and_injection(g: &ExpandedGraph) -> Vec<EngineOptions> {
    let delta = lp::max_concurrent_flow(g, &LpOptions::default())
        .unwrap()
        .delta;
    Variant::ALL
        .into_iter()
        .flat_map(|variant| {
            [Injection::Feasible { delta }, Injection::Demand]
                .map(|injection| EngineOptions::new(variant, injection))
        })
        .collect()
}

/// Everything a run reports, one line per part, f64s by `to_bits` (so that 0.0 vs
/// −0.0 or the last ulp count): rounds, stop, window averages, ledger residuals, served
/// amounts, prices, the flows and moved amounts per commodity, every broker's routing
/// table and the trace.
pub fn fingerprint(g: &ExpandedGraph, r: &EngineRun, trace: &[TraceRow]) -> Vec<String> {
    let bits = |xs: &[f64]| {
        xs.iter()
            .map(|x| format!("{:016x}", x.to_bits()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = vec![
        format!(
            "rounds {} converged {} stop {:?}",
            r.rounds, r.converged, r.stop
        ),
        format!("injected {}", bits(&r.injected)),
        format!("discarded {}", bits(&r.discarded)),
        format!("injection {}", bits(&r.injection)),
        format!(
            "residuals {}",
            bits(&[r.max_ledger_residual, r.max_capacity_violation])
        ),
        format!(
            "served {}",
            bits(
                &(0..g.commodities.len())
                    .map(|k| r.served(g, k))
                    .collect::<Vec<_>>()
            )
        ),
        format!(
            "prices {}",
            bits(
                &r.prices
                    .iter()
                    .map(|p| p.unwrap_or(f64::NAN))
                    .collect::<Vec<_>>()
            )
        ),
    ];
    for (k, (flow, moved)) in r.flow.x.iter().zip(&r.moved.x).enumerate() {
        out.push(format!("flow {k}: {}", bits(flow)));
        out.push(format!("moved {k}: {}", bits(moved)));
    }
    for route in routing_table(g, &r.flow) {
        out.push(format!(
            "route {} {} {} {:016x}",
            route.broker,
            route.commodity,
            route.next_hop,
            route.fraction.to_bits()
        ));
    }
    for row in trace {
        out.push(format!(
            "trace {} {} {}",
            row.round,
            row.commodity,
            bits(&row.terms())
        ));
    }
    out
}

/// Fault schedules for a market, each with a label: every fault kind alone over rounds
/// 30..80 (at the first broker, on the first link), and one mixed schedule of every
/// kind over overlapping ranges (design §5, "Faults").
pub fn fault_schedules(
    market: &brokerflow_graphs::Market,
) -> Vec<(String, brokerflow_solvers::engine::faults::FaultSchedule)> {
    use brokerflow_solvers::engine::faults::{parse, FaultSchedule};
    let broker = &market.brokers[0].id;
    let last_broker = &market.brokers[market.brokers.len() - 1].id;
    let provider = &market.providers[0].id;
    let link = &market.links[0];
    let last = &market.links[market.links.len() - 1];
    let alone = [
        ("node-down", format!(r#""node": "{broker}""#)),
        (
            "link-cut",
            format!(r#""link": ["{}", "{}"]"#, link.from, link.to),
        ),
        ("message-loss", r#""probability": 0.2"#.to_string()),
        ("delay", r#""rounds": 3, "probability": 0.5"#.to_string()),
        ("duplicate", r#""probability": 0.3"#.to_string()),
        ("liar", format!(r#""node": "{broker}", "factor": 10"#)),
    ];
    let mut out: Vec<(String, FaultSchedule)> = alone
        .iter()
        .map(|(kind, fields)| {
            let text = format!(
                r#"{{"seed": 7, "faults": [{{"from": 30, "to": 80, "kind": "{kind}", {fields}}}]}}"#
            );
            (kind.to_string(), parse(&text, kind).unwrap())
        })
        .collect();
    let mixed = format!(
        r#"{{"seed": 11, "faults": [
            {{"from": 20, "to": 40, "kind": "node-down", "node": "{provider}"}},
            {{"from": 30, "to": 60, "kind": "link-cut", "link": ["{}", "{}"]}},
            {{"from": 40, "to": 70, "kind": "message-loss", "probability": 0.1, "node": "{broker}"}},
            {{"from": 50, "to": 90, "kind": "delay", "rounds": 2}},
            {{"from": 20, "to": 90, "kind": "duplicate", "probability": 0.2}},
            {{"from": 60, "to": 100, "kind": "liar", "node": "{last_broker}", "factor": 3}}
        ]}}"#,
        last.from, last.to
    );
    out.push(("mixed".to_string(), parse(&mixed, "mixed").unwrap()));
    out
}

/// The settlement property tests' random markets: 4 users, 2 brokers, 3 providers,
/// dense links so broker markets have several traders, a quarter of users with
/// eligibility lists, broker→broker links with probability 0.3, and posted prices (so
/// `posted` settles them too).
pub fn settle_config() -> GeneratorConfig {
    GeneratorConfig {
        users: 4,
        brokers: 2,
        providers: 3,
        link_probability: Some(0.6),
        broker_link_probability: 0.3,
        eligibility: 0.25,
        posted_prices: true,
        valuation: Range::new(1.0, 100.0),
        ..GeneratorConfig::default()
    }
}

/// Settles `declared` (bids applied to `truth`, or the truth itself) with `mechanism`
/// and the default options, at P3's optimum of `basis` (the declared market, or the truth).
pub fn settle_at_optimum<D: Declaration + ?Sized>(
    truth: &ValidMarket,
    declared: &D,
    basis: &ValidMarket,
    mechanism: &'static dyn Mechanism,
) -> Result<Statement, SettleError> {
    let allocation = Allocation::lp(&ExpandedGraph::new(basis), Backend::DEFAULT)?;
    settle(
        truth,
        declared,
        &allocation,
        mechanism,
        &SettleOptions::default(),
    )
}
