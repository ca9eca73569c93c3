//! Re-planning measured (design §5): on generated markets of one size (by default
//! rounds.toml's largest configuration, 50 users / 10 brokers / 10 providers, the
//! generator's defaults otherwise, seeds 1–100), the welfare-seeking variant in demand
//! mode runs to convergence and saves its state; then a random 20 % of the users change
//! demand by ±50 % (each up or down with equal odds; drawn from the seed), and the
//! changed market is run twice — from a cold start and resumed from the saved state
//! (through the state file's text, as `run --resume` reads it). Writes
//! `scenarios.csv` (one row per seed; `window_carried`: rounds of the saved window the
//! resumed run's convergence test began on) and `summary.md` (rounds ratio resumed / cold:
//! median, p90 by nearest rank, mean; welfare of both) into OUT.
//!
//! `cargo run --release -p brokerflow-solvers --example replan -- OUT [SEEDS] [USERS BROKERS PROVIDERS]`

use std::fmt::Write as _;

use brokerflow_graphs::generate::{generate, GeneratorConfig};
use brokerflow_graphs::ExpandedGraph;
use brokerflow_solvers::engine::{
    self, replan, Engine, EngineOptions, Injection, Observers, Variant,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Share of users whose demand changes.
const CHANGED: f64 = 0.2;

/// One scenario's outcome.
struct Row {
    seed: u64,
    changed: usize,
    first_rounds: usize,
    cold_rounds: usize,
    cold_converged: bool,
    resumed_rounds: usize,
    resumed_converged: bool,
    cold_welfare: f64,
    resumed_welfare: f64,
    dropped: f64,
    window_carried: usize,
}

fn scenario(config: &GeneratorConfig, seed: u64) -> Row {
    let market = generate(config, seed).expect("a generated market");
    let g = ExpandedGraph::new(&market);
    let o = EngineOptions::new(Variant::WelfareSeeking, Injection::Demand);
    let mut first = Engine::new(&market, &g, &o).expect("engine");
    first.advance(usize::MAX, &mut Observers::new());
    let first_rounds = first.rounds();
    let text = replan::write_state(&first.save(&market).expect("save"));
    // A random 20 % of the users, each demand × 1.5 or × 0.5.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_2e91a);
    let mut changed = market.clone().into_market();
    let n = changed.users.len();
    let count = ((n as f64) * CHANGED).round() as usize;
    let mut order: Vec<usize> = (0..n).collect();
    for i in 0..count {
        let j = rng.random_range(i..n);
        order.swap(i, j);
    }
    for &u in &order[..count] {
        let up = rng.random_bool(0.5);
        changed.users[u].demand *= if up { 1.5 } else { 0.5 };
    }
    let changed = changed.validate().expect("the changed market is valid");
    let g2 = ExpandedGraph::new(&changed);
    let cold = engine::run(&changed, &g2, &o).expect("cold run");
    let saved = replan::read_state(&text).expect("the state reads back");
    let (resumed_engine, resumed) = replan::resume(&changed, &g2, &o, &saved).expect("resume");
    let resumed_run = resumed_engine
        .run(&mut Observers::new())
        .valid()
        .expect("resumed run");
    Row {
        seed,
        changed: count,
        first_rounds,
        cold_rounds: cold.rounds,
        cold_converged: cold.converged,
        resumed_rounds: resumed_run.rounds,
        resumed_converged: resumed_run.converged,
        cold_welfare: cold.welfare(&g2),
        resumed_welfare: resumed_run.welfare(&g2),
        dropped: resumed.dropped.iter().sum(),
        window_carried: resumed.window_carried,
    }
}

/// The p-th quantile by nearest rank of sorted `xs`.
fn nearest_rank(xs: &[f64], p: f64) -> f64 {
    let rank = ((p * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = std::path::PathBuf::from(args.first().map_or("experiments/replan", String::as_str));
    let seeds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let size = |i: usize, d: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let config = GeneratorConfig {
        users: size(2, 50),
        brokers: size(3, 10),
        providers: size(4, 10),
        ..GeneratorConfig::default()
    };
    let rows: Vec<Row> = (1..=seeds).map(|s| scenario(&config, s)).collect();
    let mut csv = String::from(
        "seed,users_changed,first_rounds,cold_rounds,cold_converged,resumed_rounds,resumed_converged,rounds_ratio,cold_welfare,resumed_welfare,welfare_ratio,dropped,window_carried\n",
    );
    for r in &rows {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.seed,
            r.changed,
            r.first_rounds,
            r.cold_rounds,
            r.cold_converged,
            r.resumed_rounds,
            r.resumed_converged,
            r.resumed_rounds as f64 / r.cold_rounds as f64,
            r.cold_welfare,
            r.resumed_welfare,
            r.resumed_welfare / r.cold_welfare,
            r.dropped,
            r.window_carried
        );
    }
    let sorted = |f: &dyn Fn(&Row) -> f64| {
        let mut v: Vec<f64> = rows.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let stats = |v: &[f64]| {
        (
            nearest_rank(v, 0.5),
            nearest_rank(v, 0.9),
            v.iter().sum::<f64>() / v.len() as f64,
        )
    };
    let ratio = sorted(&|r| r.resumed_rounds as f64 / r.cold_rounds as f64);
    let cold = sorted(&|r| r.cold_rounds as f64);
    let resumed = sorted(&|r| r.resumed_rounds as f64);
    let welfare = sorted(&|r| r.resumed_welfare / r.cold_welfare);
    let (rm, rp, ra) = stats(&ratio);
    let (cm, cp, ca) = stats(&cold);
    let (sm, sp, sa) = stats(&resumed);
    let (wm, _, wa) = stats(&welfare);
    let worse = rows
        .iter()
        .filter(|r| r.resumed_welfare < r.cold_welfare * (1.0 - 0.01))
        .count();
    let unconverged = rows
        .iter()
        .filter(|r| !r.cold_converged || !r.resumed_converged)
        .count();
    let carried = rows.iter().filter(|r| r.window_carried > 0).count();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Re-planning: resumed vs cold start\n\n{} scenarios: generated markets of {} users, {} brokers, {} providers (the generator's defaults otherwise), seeds 1–{}; welfare-seeking in demand mode at the engine's defaults. After a run to convergence, {} % of the users (drawn per seed) change demand by ±50 %; the changed market is run from a cold start and resumed from the saved state.\n",
        rows.len(), config.users, config.brokers, config.providers, seeds, CHANGED * 100.0
    );
    let _ = writeln!(md, "| measure | median | p90 | mean |\n|---|---|---|---|");
    let _ = writeln!(md, "| rounds, cold start | {cm:.0} | {cp:.0} | {ca:.1} |");
    let _ = writeln!(md, "| rounds, resumed | {sm:.0} | {sp:.0} | {sa:.1} |");
    let _ = writeln!(
        md,
        "| rounds ratio resumed / cold | {rm:.3} | {rp:.3} | {ra:.3} |"
    );
    let _ = writeln!(
        md,
        "| welfare ratio resumed / cold | {wm:.4} | — | {wa:.4} |\n"
    );
    let _ = writeln!(
        md,
        "Resumed welfare more than 1 % below the cold start's: {worse} of {}. Runs that hit the round limit: {unconverged}. A cold run needs at least two windows (100 rounds at the default window of 50) before it may stop: the window fills, then every commodity must stay settled for a window. A resumed run whose G′ kept its shape carries the saved window into the convergence test ({carried} of {} here), so it needs one window (50 rounds) of settled rounds on the new market; its reported averages are still of new rounds only.",
        rows.len(),
        rows.len()
    );
    std::fs::create_dir_all(&out).expect("output folder");
    std::fs::write(out.join("scenarios.csv"), csv).expect("scenarios.csv");
    std::fs::write(out.join("summary.md"), &md).expect("summary.md");
    print!("{md}");
}
