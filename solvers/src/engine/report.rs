//! A run of the distributed algorithm ([MCF-Grid] §5) as the outputs show it: the
//! text summary, the JSON document, its provenance, the trace, routing and prices CSV
//! rows, the fault report and what resuming did. Every function returns the text or
//! JSON value; writing it is the caller's.

use std::fmt::Write;

use brokerflow_graphs::{ExpandedGraph, Flow, Market};
use serde_json::{json, Map, Value};

use super::faults::{FaultReport, RECOVERY_SHARE};
use super::replan::{ResumeMode, Resumed};
use super::session::{EngineSession, PriceComparison};
use super::{routing_table, EngineOptions, EngineRun, Runtime, Stop, TraceRow, Variant};
use crate::lp::{self, Backend};

/// The files a run read, for its provenance: the market file's name and the SHA-256 of
/// its bytes, and the fault file's, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// The market file as named.
    pub market: String,
    /// SHA-256 of its bytes.
    pub market_sha256: String,
    /// The fault file (name, SHA-256 of its bytes), if the run had one.
    pub faults: Option<(String, String)>,
    /// The state file the run resumed from, as named.
    pub resumed_from: Option<String>,
}

/// What made an output: the version, the LP backend and its tolerances, the market
/// file and its hash, and the engine's runtime (every runtime gives the same result;
/// the record says which one made it).
///
/// # Arguments
/// * `sources` — the files read; `backend` — the LP backend of any LP beside the run;
///   `runtime` — who ran the nodes.
///
/// # Returns
/// The `provenance` object of every JSON output of an engine run (with the fault
/// file's name and hash last, if there is one).
///
/// # Complexity
/// O(1).
///
/// # Example
/// ```
/// use brokerflow_solvers::engine::report::{provenance, Sources};
/// use brokerflow_solvers::engine::Runtime;
/// use brokerflow_solvers::lp::Backend;
///
/// let p = provenance(&Sources::default(), Backend::DEFAULT, Runtime::Nodes);
/// assert_eq!(p["engine_runtime"], "nodes");
/// ```
///
/// Paper: [MCF-Grid] §5 (the run it describes).
pub fn provenance(sources: &Sources, backend: Backend, runtime: Runtime) -> Value {
    let mut p = json!({
        "brokerflow": env!("CARGO_PKG_VERSION"),
        "market": sources.market,
        "market_sha256": sources.market_sha256,
        "lp_backend": backend.name(),
        "solver_tolerance": backend.tolerance(),
        "check_tolerance": lp::CHECK_TOLERANCE,
        "engine_runtime": runtime.name(),
    });
    if let Some((file, sha256)) = &sources.faults {
        p["faults"] = json!({"file": file, "sha256": sha256});
    }
    p
}

/// `x` with `decimals` decimals, without the sign of a value that rounds to zero.
fn fixed(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
        _ => s,
    }
}

/// `n` and the noun, in the plural unless `n` is 1.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Per user (commodity id) one value, in G′'s commodity order.
fn per_user<T: serde::Serialize>(g: &ExpandedGraph, values: &[T]) -> Map<String, Value> {
    g.commodities
        .iter()
        .zip(values)
        .map(|(c, x)| (c.id.clone(), json!(x)))
        .collect()
}

/// Node prices of a run by node name, in G′ node order (capacity-limited nodes only):
/// the window-averaged multipliers λ, money per resource unit in the welfare-seeking
/// variant.
pub fn named_prices<'g>(g: &'g ExpandedGraph, r: &EngineRun) -> Vec<(&'g str, f64)> {
    g.graph
        .node_indices()
        .filter_map(|n| Some((g.node(n).name.as_str(), r.prices[n.index()]?)))
        .collect()
}

/// The run as one JSON object (served per user, welfare, settings, checks, prices,
/// provenance); `seconds` is its wall-clock time.
pub fn run_json(g: &ExpandedGraph, r: &EngineRun, seconds: f64, sources: &Sources) -> Value {
    let o = &r.options;
    let welfare_seeking = o.variant == Variant::WelfareSeeking;
    let served: Vec<f64> = (0..g.commodities.len()).map(|k| r.served(g, k)).collect();
    json!({
        "variant": o.variant,
        "injection": o.injection.name(),
        "converged": r.converged,
        "stop": r.stop,
        "rounds": r.rounds,
        "served": per_user(g, &served),
        "welfare": r.welfare(g),
        "circulation_cost": r.circulation_cost(g),
        "stranded": g.stranded().map(|c| c.id.clone()).collect::<Vec<_>>(),
        "settings": {
            "eta": o.eta, "epsilon": o.epsilon, "window": o.window,
            "max_rounds": o.max_rounds, "ceiling": o.effective_ceiling(),
            "potential": o.potential, "welfare_scale": welfare_seeking.then(|| o.effective_welfare_scale()),
        },
        "approximate": "served and welfare are averages over the last window of rounds, trimmed to the steady flow they carry",
        "unsteady": per_user(g, &r.unsteady),
        "queue_drift": per_user(g, &r.queue_drift),
        "max_ledger_residual": r.max_ledger_residual,
        "max_capacity_violation": r.max_capacity_violation,
        "prices": welfare_seeking.then(|| {
            named_prices(g, r)
                .into_iter()
                .map(|(n, p)| (n.to_string(), json!(p)))
                .collect::<Map<_, _>>()
        }),
        "prices_approximate": welfare_seeking.then_some(
            "window-averaged multipliers λ per resource unit; they approach P3's dual prices like 1/welfare_scale"),
        "seconds": seconds,
        "provenance": provenance(sources, Backend::DEFAULT, o.runtime),
    })
}

/// The run in words: how it stopped, welfare, served per user, the checks and, for
/// welfare-seeking, the positive node prices.
pub fn run_text(market: &Market, g: &ExpandedGraph, r: &EngineRun, seconds: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} variant, {} injection on market '{}'",
        r.options.variant.name(),
        r.options.injection.name(),
        market.name
    );
    let _ = writeln!(
        out,
        "  {} after {} rounds ({:.3} s); averages over the last {} rounds",
        match r.stop {
            Stop::Converged => "converged",
            Stop::RoundLimit => "NOT converged: round limit reached",
            Stop::NothingToRoute => "nothing to route",
        },
        r.rounds,
        seconds,
        r.options.window.min(r.rounds)
    );
    let _ = writeln!(out, "  welfare W = {:.6}", r.welfare(g));
    let _ = writeln!(out, "  served (steady rate) / demand per user:");
    for (k, c) in g.commodities.iter().enumerate() {
        let _ = writeln!(
            out,
            "    {}  {:.6} / {}{}",
            c.id,
            r.served(g, k),
            c.demand,
            if c.is_stranded() { "  stranded" } else { "" }
        );
    }
    let largest = |v: &[f64]| v.iter().fold(0.0f64, |m, d| m.max(d.abs()));
    let _ = writeln!(
        out,
        "  ledger residual {:.1e}, capacity violation {:.1e}; largest queue drift {:.1e} jobs/round, largest unsteady delivery {:.1e} (not counted as served)",
        r.max_ledger_residual,
        r.max_capacity_violation,
        largest(&r.queue_drift),
        largest(&r.unsteady)
    );
    if r.options.variant == Variant::WelfareSeeking {
        let scarce: Vec<String> = named_prices(g, r)
            .into_iter()
            .filter(|&(_, p)| p > 0.0)
            .map(|(n, p)| format!("{n} {p:.4}"))
            .collect();
        let _ = writeln!(
            out,
            "  node prices (money per resource unit, window-averaged; approximate, like 1/welfare_scale): {}",
            if scarce.is_empty() { "none positive".to_string() } else { scarce.join(", ") }
        );
    }
    out
}

/// The trace as CSV: one row per (round, commodity) with the ledger's terms.
pub fn trace_csv(g: &ExpandedGraph, rows: &[TraceRow]) -> String {
    let mut s = String::from("round,commodity,injected,absorbed,queued,discarded,in_flight,lost\n");
    for row in rows {
        let _ = write!(s, "{},{}", row.round, g.commodities[row.commodity].id);
        for term in row.terms() {
            let _ = write!(s, ",{term}");
        }
        s.push('\n');
    }
    s
}

/// Every broker's routing table ([`routing_table`]) as CSV
/// `broker,commodity,next_hop,fraction`.
pub fn routing_csv(g: &ExpandedGraph, flow: &Flow) -> String {
    let mut csv = String::from("broker,commodity,next_hop,fraction\n");
    for r in routing_table(g, flow) {
        let _ = writeln!(
            csv,
            "{},{},{},{}",
            r.broker, r.commodity, r.next_hop, r.fraction
        );
    }
    csv
}

/// The engine's node prices beside P3's dual prices as CSV
/// `node,engine_price,p3_price` (capacity-limited nodes only, in G′ node order).
pub fn prices_csv(g: &ExpandedGraph, r: &EngineRun, duals: &[f64]) -> String {
    let mut csv = String::from("node,engine_price,p3_price\n");
    for n in g.graph.node_indices() {
        if let Some(price) = r.prices[n.index()] {
            let _ = writeln!(csv, "{},{},{}", g.node(n).name, price, duals[n.index()]);
        }
    }
    csv
}

/// The price comparison in one line: the price_error measure, or why it is undefined.
pub fn price_error_text(p: &PriceComparison) -> String {
    match p.error.value {
        Some(v) => format!(
            "  price_error {v:.4}: largest |engine - P3 dual| / largest P3 price (the engine's prices approach the duals like 1/welfare_scale)\n"
        ),
        None => format!(
            "  price_error undefined: {}\n",
            p.error.reason.unwrap_or("")
        ),
    }
}

/// The fault report in words: per fault what it cost, then the recovery (against ε
/// of `o`'s convergence test).
pub fn faults_text(report: &FaultReport, o: &EngineOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  faults (against the fault-free run of the same market and options):"
    );
    for f in &report.faults {
        let c = &f.counters;
        let _ = writeln!(
            out,
            "    [{}] {}: {} jobs lost in {}, {} jobs delayed, {} ignored, welfare lost over its rounds {}",
            f.fault,
            f.fault_text,
            fixed(c.jobs_lost, 4),
            count(c.messages_lost as usize, "message"),
            fixed(c.jobs_delayed, 4),
            count(c.duplicates_ignored as usize, "duplicate"),
            fixed(f.welfare_lost, 4)
        );
    }
    let r = &report.recovery;
    let _ = writeln!(
        out,
        "  recovery: {} (window welfare {} vs fault-free {}, gross amount {}; ε = {} of the convergence test)",
        match r.rounds {
            Some(n) => format!(
                "window welfare within {} % of the gross amount of the fault-free run's {} after the last fault ended (round {})",
                RECOVERY_SHARE * 100.0,
                count(n, "round"),
                r.faults_end
            ),
            None => format!(
                "NOT back within {} % of the gross amount of the fault-free run's window welfare by the end of the run",
                RECOVERY_SHARE * 100.0
            ),
        },
        fixed(r.final_welfare, 4),
        fixed(r.reference_welfare, 4),
        fixed(r.reference_gross, 4),
        o.epsilon
    );
    out
}

/// The fault report as JSON, with the jobs lost per user and the recovery share.
pub fn faults_json(g: &ExpandedGraph, report: &FaultReport, r: &EngineRun) -> Value {
    let mut value = serde_json::to_value(report).unwrap_or(Value::Null);
    let lost = r.faults.as_ref().map_or(vec![], |f| f.lost.clone());
    value["lost"] = Value::Object(per_user(g, &lost));
    value["recovery_share"] = json!(RECOVERY_SHARE);
    value
}

/// What resuming did, as JSON (`from`: the state file as named).
pub fn resumed_json(g: &ExpandedGraph, r: &Resumed, from: &str) -> Value {
    json!({
        "from": from,
        "mode": r.mode,
        "rounds_before": r.rounds_before,
        "carried": per_user(g, &r.carried),
        "dropped": per_user(g, &r.dropped),
        "window_carried": r.window_carried,
    })
}

/// What resuming did, in one line (`from`: the state file as named).
pub fn resumed_text(r: &Resumed, from: &str) -> String {
    match r.mode {
        ResumeMode::Continued => format!(
            "  resumed from {from} after {} rounds: the same market, continued exactly (rounds count from the cold start)\n",
            r.rounds_before
        ),
        ResumeMode::Replanned => format!(
            "  re-planned from {from} (saved after {} rounds): {:.6} jobs carried over, {:.6} dropped (no use in the new market); rounds count from the resume{}\n",
            r.rounds_before,
            r.carried.iter().sum::<f64>(),
            r.dropped.iter().sum::<f64>(),
            match r.window_carried {
                0 => String::new(),
                n => format!("; the convergence test began on the saved window ({}), each replaced by a new round, and the averages are of new rounds only", count(n, "round")),
            }
        ),
    }
}

/// A whole session ([`super::session::run`]) as `run --json` prints it: the run, and
/// beside it the price comparison, the fault report and what resuming did.
pub fn session_json(g: &ExpandedGraph, s: &EngineSession, sources: &Sources) -> Value {
    let mut value = run_json(g, &s.run, s.seconds, sources);
    if let Some(p) = &s.prices {
        value["price_error"] = serde_json::to_value(&p.error).unwrap_or(Value::Null);
    }
    if let Some(report) = &s.faults {
        value["faults"] = faults_json(g, report, &s.run);
    }
    if let (Some(r), Some(from)) = (&s.resumed, &sources.resumed_from) {
        value["resumed"] = resumed_json(g, r, from);
    }
    value
}

/// A whole session in words, as `run` prints it: the run, the fault report, what
/// resuming did and the price comparison.
pub fn session_text(
    market: &Market,
    g: &ExpandedGraph,
    s: &EngineSession,
    sources: &Sources,
) -> String {
    let mut out = run_text(market, g, &s.run, s.seconds);
    if let Some(report) = &s.faults {
        out.push_str(&faults_text(report, &s.run.options));
    }
    if let (Some(r), Some(from)) = (&s.resumed, &sources.resumed_from) {
        out.push_str(&resumed_text(r, from));
    }
    if let Some(p) = &s.prices {
        out.push_str(&price_error_text(p));
    }
    out
}

/// The progress line of a run under way: the last round's residual (the share of what
/// the sources admitted that did not reach a collection point) and how long every
/// commodity has been satisfied, against the window.
pub fn progress_message(e: &super::Engine<'_>) -> String {
    format!(
        "residual {}, satisfied for {} of {} rounds",
        fixed(e.ledger().residual(), 4),
        e.satisfied_for(),
        e.options().window
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::replan::{ResumeMode, Resumed};
    use brokerflow_graphs::examples;

    #[test]
    fn a_trace_row_is_one_csv_line_under_the_ledgers_header() {
        let g = ExpandedGraph::new(&examples::tiny());
        let row = TraceRow {
            round: 7,
            commodity: 1,
            injected: 2.5,
            absorbed: 1.0,
            queued: 1.5,
            discarded: 0.0,
            in_flight: 0.0,
            lost: 0.0,
        };
        let id = &g.commodities[1].id;
        assert_eq!(
            trace_csv(&g, &[row]),
            format!("round,commodity,injected,absorbed,queued,discarded,in_flight,lost\n7,{id},2.5,1,1.5,0,0,0\n")
        );
    }

    #[test]
    fn every_brokers_routing_shares_sum_to_one() {
        let m = examples::tiny();
        let g = ExpandedGraph::new(&m);
        let o = EngineOptions::new(Variant::WelfareSeeking, crate::engine::Injection::Demand);
        let r = crate::engine::run(&m, &g, &o).unwrap();
        let csv = routing_csv(&g, &r.flow);
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("broker,commodity,next_hop,fraction"));
        let mut sums = std::collections::BTreeMap::<(String, String), f64>::new();
        for line in lines {
            let f: Vec<&str> = line.split(',').collect();
            *sums.entry((f[0].into(), f[1].into())).or_default() += f[3].parse::<f64>().unwrap();
        }
        assert!(!sums.is_empty());
        for (at, sum) in sums {
            assert!((sum - 1.0).abs() < 1e-12, "{at:?}: {sum}");
        }
    }

    #[test]
    fn a_replanned_resume_sums_what_it_carried_and_dropped() {
        let r = Resumed {
            mode: ResumeMode::Replanned,
            rounds_before: 40,
            carried: vec![1.5, 0.5],
            dropped: vec![0.25, 0.0],
            window_carried: 0,
        };
        assert_eq!(
            resumed_text(&r, "s.json"),
            "  re-planned from s.json (saved after 40 rounds): 2.000000 jobs carried over, 0.250000 dropped (no use in the new market); rounds count from the resume\n"
        );
    }

    #[test]
    fn numbers_in_words_have_no_negative_zero_and_plural_counts() {
        assert_eq!(fixed(-1e-12, 4), "0.0000");
        assert_eq!(fixed(-0.0001, 4), "-0.0001");
        assert_eq!(count(1, "round"), "1 round");
        assert_eq!(count(0, "round"), "0 rounds");
    }

    #[test]
    fn the_fault_file_comes_last_in_the_provenance() {
        let sources = Sources {
            faults: Some(("f.json".into(), "abc".into())),
            ..Sources::default()
        };
        let p = provenance(&sources, Backend::DEFAULT, Runtime::Flat);
        let keys: Vec<&String> = p.as_object().unwrap().keys().collect();
        assert_eq!(keys.last().map(|k| k.as_str()), Some("faults"));
        assert_eq!(p["faults"], json!({"file": "f.json", "sha256": "abc"}));
        assert_eq!(p["engine_runtime"], "flat");
    }
}
