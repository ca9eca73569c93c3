//! The bundled real backbone, Abilene (\[SNDlib\], 12 PoPs, 32 demands; the network
//! serves 17 % of them at once): every variant converges in both injection modes
//! within 3 000 rounds at the engine's defaults, and welfare-seeking in demand mode
//! comes within 2 % of P3 (experiments/rounds.md, "Abilene: fair and utility-aware in
//! demand mode"). And the demand-mode source ceiling those rounds rest on is a queue
//! height: a source holds at most ceiling × its queues of k × d_k jobs, by hand.

use brokerflow_graphs::{ExpandedGraph, Market, ValidMarket};
use brokerflow_solvers::engine::session::injection;
use brokerflow_solvers::engine::{
    run, run_observed, EngineOptions, Injection, InjectionMode, ObserverMode, Observers, Trace,
    Variant,
};
use brokerflow_solvers::lp::{self, Backend, LpOptions};

/// The round count the issue asks for on Abilene, for every variant and mode.
const TARGET_ROUNDS: usize = 3_000;

fn abilene() -> ValidMarket {
    let path = format!(
        "{}/../graphs/markets/abilene.json",
        env!("CARGO_MANIFEST_DIR")
    );
    Market::load(&path).unwrap()
}

#[test]
fn every_variant_converges_on_abilene_within_3000_rounds_in_both_modes() {
    let m = abilene();
    let g = ExpandedGraph::new(&m);
    let mut slow = Vec::new();
    for mode in [InjectionMode::Feasible, InjectionMode::Demand] {
        let inject = injection(mode, &g, Backend::DEFAULT).unwrap();
        for variant in Variant::ALL {
            let o = EngineOptions::new(variant, inject);
            let r = run(&m, &g, &o).unwrap();
            if !r.converged || r.rounds > TARGET_ROUNDS {
                slow.push(format!(
                    "{} {:?}: {} rounds, converged {}",
                    variant.name(),
                    mode,
                    r.rounds,
                    r.converged
                ));
            }
        }
    }
    assert!(slow.is_empty(), "{slow:?}");
}

#[test]
fn welfare_seeking_demand_comes_within_2_percent_of_p3_on_abilene() {
    let m = abilene();
    let g = ExpandedGraph::new(&m);
    let p3 = lp::max_welfare(&g, &LpOptions::default()).unwrap();
    let optimum = p3.welfare(&g).unwrap();
    let o = EngineOptions::new(Variant::WelfareSeeking, Injection::Demand);
    let r = run(&m, &g, &o).unwrap();
    assert!(r.converged, "{} rounds", r.rounds);
    let percent = 100.0 * r.welfare(&g) / optimum;
    assert!(percent >= 98.0, "{percent} % of P3");
}

/// u1 links to two brokers (two queues of its commodity at its own node), u2 to one;
/// every link unlimited, so nothing else limits round 1.
fn two_sources() -> ValidMarket {
    Market::from_json_str(
        r#"{
          "name": "two-sources",
          "users": [{"id": "u1", "demand": 10, "requirement": 1, "valuation": 5},
                    {"id": "u2", "demand": 10, "requirement": 1, "valuation": 5}],
          "brokers": [{"id": "b1"}, {"id": "b2"}],
          "providers": [{"id": "p1"}],
          "links": [{"from": "u1", "to": "b1"}, {"from": "u1", "to": "b2"},
                    {"from": "u2", "to": "b1"},
                    {"from": "b1", "to": "p1"}, {"from": "b2", "to": "p1"}]
        }"#,
        "two-sources",
    )
    .unwrap()
}

#[test]
fn the_demand_mode_ceiling_is_a_queue_height_at_the_source() {
    let m = two_sources();
    let g = ExpandedGraph::new(&m);
    for variant in [Variant::Fair, Variant::UtilityAware] {
        let o = EngineOptions {
            ceiling: Some(0.25),
            max_rounds: 1,
            window: 1,
            ..EngineOptions::new(variant, Injection::Demand)
        };
        let mut trace = Trace::default();
        let mut observers = Observers::new();
        observers.push(&mut trace, ObserverMode::Always);
        run_observed(&m, &g, &o, &mut observers).unwrap();
        let discarded = |k: usize| {
            trace
                .rows
                .iter()
                .find(|r| r.round == 1 && r.commodity == k)
                .unwrap()
                .discarded
        };
        let k = |id: &str| g.commodities.iter().position(|c| c.id == id).unwrap();
        // Round 1 injects 10. u1 holds at most 0.25 × 2 queues × 10 = 5, u2 at most
        // 0.25 × 1 × 10 = 2.5: the rest is discarded.
        assert_eq!(discarded(k("u1")), 5.0, "{}", variant.name());
        assert_eq!(discarded(k("u2")), 7.5, "{}", variant.name());
    }
}

#[test]
fn the_default_ceiling_is_the_variants() {
    let o = EngineOptions::new(Variant::Fair, Injection::Demand);
    assert_eq!(o.effective_ceiling(), Variant::Fair.default_ceiling());
    let set = EngineOptions {
        ceiling: Some(7.0),
        ..o
    };
    assert_eq!(set.effective_ceiling(), 7.0);
    // A ceiling that is no positive height is refused before any run.
    let bad = EngineOptions {
        ceiling: Some(0.0),
        ..o
    };
    assert!(bad.check().is_err());
}
