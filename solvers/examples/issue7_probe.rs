//! Issue 7 exploration: for each market file, P3's welfare and, for an engine variant
//! in demand mode, the window welfare every 50 rounds; prints the first round from
//! which it stays ≥ 95 % of P3, the rounds to converge and the final percent.
//! Usage: issue7_probe VARIANT market.json…   (VARIANT: fair, utility-aware, welfare-seeking)
use brokerflow_graphs::{ExpandedGraph, Market};
use brokerflow_solvers::engine::{Engine, EngineOptions, Injection, Variant};
use brokerflow_solvers::lp::{self, LpOptions, Objective};

fn main() {
    let mut args = std::env::args().skip(1);
    let variant = match args.next().as_deref() {
        Some("fair") => Variant::Fair,
        Some("utility-aware") => Variant::UtilityAware,
        _ => Variant::WelfareSeeking,
    };
    for path in args {
        let market = Market::load(&path).expect("market");
        let g = ExpandedGraph::new(&market);
        let p3 = lp::solve(&g, Objective::Welfare, &LpOptions::default())
            .expect("P3")
            .welfare(&g)
            .unwrap_or(0.0);
        let o = EngineOptions::new(variant, Injection::Demand);
        let mut e = Engine::new(&market, &g, &o).expect("engine");
        let mut trace = Vec::new();
        while e.next_round() {
            if e.rounds() % 50 == 0 {
                trace.push((e.rounds(), 100.0 * e.window_welfare() / p3));
            }
        }
        let rounds = e.rounds();
        let last = 100.0 * e.window_welfare() / p3;
        trace.push((rounds, last));
        let mut stays = None;
        for &(r, pct) in trace.iter().rev() {
            if pct >= 95.0 {
                stays = Some(r);
            } else {
                break;
            }
        }
        let run = e.finish();
        println!(
            "{path}\tp3={p3:.3}\trounds={rounds}\tconverged={}\tfinal={last:.2}\tstays95={}",
            run.converged,
            stays.map_or("never".to_string(), |r| r.to_string())
        );
    }
}
