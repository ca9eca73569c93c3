//! What a solved LP baseline says, written out: the readable summary and the JSON
//! object of `brokerflow solve`, the LP itself in CPLEX LP format, and P3's resource
//! prices as CSV. The pictures (HTML report, Graphviz) are drawn by the experiments
//! crate's `report` module.

use std::fmt::Write;

use brokerflow_graphs::{ExpandedGraph, Market};
use serde_json::{json, Value};

use super::{
    concurrent_formulation, utility_amounts, utility_formulation, welfare_formulation, Formulation,
    LpSolution, LpStatus, Objective, Sense, CHECK_TOLERANCE,
};
use crate::causes::Causes;
use crate::certificate::CERTIFICATE_TOLERANCE;

/// Above this many users the readable summary gives totals only, unless verbose.
pub const PER_USER_TABLE_LIMIT: usize = 50;

/// `part` as a percentage of `whole`, or "no demand" when there is none.
fn percent_of(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.1} %", 100.0 * part / whole)
    } else {
        "no demand".to_string()
    }
}

/// The readable summary of one solved LP baseline of `market` (G′ `g`): δ*, welfare
/// W, served per user (only up to [`PER_USER_TABLE_LIMIT`] users unless `verbose`),
/// the resources at capacity with their prices, stranded users, and the independent
/// check's and the optimality certificate's numbers. `seconds` is the solve's wall
/// clock.
pub fn summary_text(
    market: &Market,
    g: &ExpandedGraph,
    s: &LpSolution,
    seconds: f64,
    verbose: bool,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} on market '{}'", s.objective.title(), market.name);
    let _ = writeln!(
        out,
        "  backend {} (check tolerance {:e}), LP {} variables x {} constraints, {:.3} s",
        s.backend, CHECK_TOLERANCE, s.variables, s.constraints, seconds
    );
    if s.status == LpStatus::Unbounded {
        let _ = writeln!(
            out,
            "  status: unbounded — every served user has a path of unlimited capacity, so nothing limits delta"
        );
        return out;
    }
    if let Some(d) = s.delta {
        let fits = if d >= 1.0 {
            "every demand fits"
        } else {
            "not every demand fits"
        };
        let _ = writeln!(out, "  delta* (P1) = {d:.6}  ({fits})");
    }
    if s.amount_backoff > 0.0 {
        let _ = writeln!(
            out,
            "  note: amounts backed off by a relative {:e} to stay feasible under round-off of delta*",
            s.amount_backoff
        );
    }
    if s.objective != Objective::Concurrent {
        if let Some(w) = s.welfare(g) {
            let _ = writeln!(out, "  welfare W = {w:.6}");
        }
    }
    if let Some(served) = s.served(g) {
        served_text(&mut out, g, &served, verbose);
    }
    binding_text(&mut out, g, s);
    let stranded: Vec<&str> = s
        .stranded
        .iter()
        .map(|&k| g.commodities[k].id.as_str())
        .collect();
    let _ = writeln!(
        out,
        "  stranded users: {}",
        if stranded.is_empty() {
            "none".to_string()
        } else {
            stranded.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "  independent check: conservation residual {:.1e}, capacity violation {:.1e}",
        s.max_conservation_residual, s.max_capacity_violation
    );
    if let Some(c) = &s.certificate {
        let _ = writeln!(
            out,
            "  optimality certificate: dual bound {:.6}, gap {:.1e} (allowed {:.1e}), reduced cost on flow {:.1e}, price x slack {:.1e}",
            c.bound, c.gap, c.allowed, c.max_reduced_cost, c.max_price_slack
        );
    }
    for &(k, cap) in &s.capped {
        let _ = writeln!(
            out,
            "  note: {}'s demand {} is more than the network can carry for it; the LP bounded it by {} (twice its maximum flow), which changes no optimum",
            g.commodities[k].id, g.commodities[k].demand, cap
        );
    }
    out
}

/// The served total and, on small markets or when `verbose`, the per-user table.
fn served_text(out: &mut String, g: &ExpandedGraph, served: &[f64], verbose: bool) {
    let total: f64 = served.iter().sum();
    let demand: f64 = g.commodities.iter().map(|c| c.demand).sum();
    let _ = writeln!(
        out,
        "  served {total:.6} of a total demand of {demand} ({}), over {} users",
        percent_of(total, demand),
        g.commodities.len()
    );
    if !verbose && g.commodities.len() > PER_USER_TABLE_LIMIT {
        let _ = writeln!(
            out,
            "  (the per-user table has {} rows: --verbose prints it, --json and --flows give every number)",
            g.commodities.len()
        );
        return;
    }
    let _ = writeln!(out, "  served / demand per user:");
    let width = g.commodities.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for (c, f) in g.commodities.iter().zip(served) {
        let pct = if c.demand > 0.0 {
            format!("{:5.1}%", 100.0 * f / c.demand)
        } else {
            "   -  ".to_string()
        };
        let _ = writeln!(
            out,
            "    {:<width$}  {:>12.6} / {:<10} {pct}{}",
            c.id,
            f,
            c.demand,
            if c.is_stranded() { "  stranded" } else { "" }
        );
    }
}

/// The resources at capacity, with their prices where the solution has them.
fn binding_text(out: &mut String, g: &ExpandedGraph, s: &LpSolution) {
    let binding = s.binding(g);
    // Only P3's prices say which resources bind in every optimum; for the others the
    // list belongs to this one optimal flow.
    let which = if s.objective == Objective::Welfare {
        "binding resources"
    } else {
        "resources at capacity in this optimal flow (optima need not be unique)"
    };
    if binding.is_empty() {
        let _ = writeln!(out, "  {which}: none");
        return;
    }
    let _ = writeln!(out, "  {which}:");
    for (n, used) in binding {
        let node = g.node(n);
        let price = s
            .prices
            .as_ref()
            .map_or(String::new(), |p| format!(", price {:.6}", p[n.index()]));
        let _ = writeln!(
            out,
            "    {} uses {:.6} of {}{}",
            node.name,
            used,
            node.capacity.unwrap_or(f64::INFINITY),
            price
        );
    }
}

/// The summary's line for an LP that was not solved: its title and why.
pub fn not_solved_text(objective: Objective, market: &Market, why: &str) -> String {
    format!(
        "{} on market '{}'\n  not solved: {why}\n",
        objective.title(),
        market.name
    )
}

/// One solved LP baseline as a JSON object: everything the summary says, every
/// number in full, and `provenance` (what made it) as given.
pub fn summary_json(g: &ExpandedGraph, s: &LpSolution, seconds: f64, provenance: Value) -> Value {
    let served = s.served(g).map(|served| {
        g.commodities
            .iter()
            .zip(served)
            .map(|(c, f)| (c.id.clone(), json!(f)))
            .collect::<serde_json::Map<_, _>>()
    });
    let welfare = match s.objective {
        // P1's flow is only one of many δ*-optimal flows: its welfare means nothing.
        Objective::Concurrent => None,
        _ => s.welfare(g),
    };
    let binding: Vec<_> = s
        .binding(g)
        .into_iter()
        .map(|(n, used)| {
            json!({"node": g.node(n).name, "used": used, "capacity": g.node(n).capacity,
                   "price": s.prices.as_ref().map(|p| p[n.index()])})
        })
        .collect();
    json!({
        "objective": s.objective,
        "status": s.status,
        "delta": s.delta,
        "welfare": welfare,
        "served": served,
        "stranded": s.stranded.iter().map(|&k| g.commodities[k].id.clone()).collect::<Vec<_>>(),
        "binding": binding,
        "backend": s.backend,
        "tolerance": CHECK_TOLERANCE,
        "solver_tolerance": s.backend.tolerance(),
        "amount_backoff": s.amount_backoff,
        "duality_gap": s.duality_gap,
        "variables": s.variables,
        "constraints": s.constraints,
        "max_conservation_residual": s.max_conservation_residual,
        "max_capacity_violation": s.max_capacity_violation,
        "certificate": s.certificate,
        "certificate_tolerance": CERTIFICATE_TOLERANCE,
        "demand_caps": s.capped.iter()
            .map(|&(k, cap)| (g.commodities[k].id.clone(), json!(cap)))
            .collect::<serde_json::Map<_, _>>(),
        "seconds": seconds,
        "provenance": provenance,
    })
}

/// The LP that `s` solved, rebuilt: P2/P2⁻ at exactly the amounts solved (including
/// any round-off back-off).
pub fn solved_formulation(g: &ExpandedGraph, s: &LpSolution) -> Formulation {
    match s.objective {
        Objective::Concurrent => concurrent_formulation(g),
        Objective::Utility | Objective::WorstUtility => {
            let sense = if s.objective == Objective::Utility {
                Sense::Maximise
            } else {
                Sense::Minimise
            };
            let amounts: Vec<f64> = utility_amounts(g, s.delta)
                .iter()
                .map(|a| a * (1.0 - s.amount_backoff))
                .collect();
            utility_formulation(g, sense, &amounts)
        }
        Objective::Welfare => welfare_formulation(g),
    }
}

/// The LP that `s` solved in CPLEX LP format, to re-solve it in any LP solver, with
/// a comment naming the LP, the market, `provenance` and the variables' names.
pub fn cplex_lp(market: &Market, g: &ExpandedGraph, s: &LpSolution, provenance: &Value) -> String {
    let pruning = match s.objective {
        Objective::Welfare => "\nonly pairs on a path of non-negative margin (value minus unit costs) get a variable: no optimal flow uses the others",
        _ => "",
    };
    let comment = format!(
        "{} LP ({}) of market '{}'\n{}\nvariables x.<user>.<from>.<to>: flow of the user on the G' edge from -> to (ids sanitised: -> is ~, other characters the format does not allow _; the map below gives every one){pruning}",
        s.objective.name(),
        s.objective.title(),
        market.name,
        provenance
    );
    solved_formulation(g, s).to_cplex_lp(g, &comment)
}

/// P3's resource prices as CSV `node,price`, one row per G′ node with a capacity
/// (bandwidth nodes named `u->v`); `prices` per node index.
pub fn prices_csv(g: &ExpandedGraph, prices: &[f64]) -> String {
    let mut csv = String::from("node,price\n");
    for n in g.graph.node_indices() {
        let node = g.node(n);
        if node.capacity.is_some() {
            let _ = writeln!(csv, "{},{}", node.name, prices[n.index()]);
        }
    }
    csv
}

/// One LP baseline as asked for: its solution with the seconds it took, or why it
/// was not solved (shown with its causes, [`Causes`]).
pub type LpOutcome<'s> = (
    Objective,
    Result<(&'s LpSolution, f64), &'s (dyn std::error::Error + 'static)>,
);

/// The readable summaries of several LPs of `market`, in the order asked, a blank
/// line between two; a failed one is its title and why ([`not_solved_text`]).
pub fn outcomes_text(
    market: &Market,
    g: &ExpandedGraph,
    outcomes: &[LpOutcome<'_>],
    verbose: bool,
) -> String {
    let texts: Vec<String> = outcomes
        .iter()
        .map(|(o, r)| match r {
            Ok((s, seconds)) => summary_text(market, g, s, *seconds, verbose),
            Err(why) => not_solved_text(*o, market, &Causes(*why).to_string()),
        })
        .collect();
    texts.join("\n")
}

/// The JSON objects of several LPs, in the order asked: [`summary_json`] for a
/// solved one (with `provenance` of the backend that solved it), `objective` and
/// `error` for a failed one.
pub fn outcomes_json(
    g: &ExpandedGraph,
    outcomes: &[LpOutcome<'_>],
    provenance: impl Fn(super::Backend) -> Value,
) -> Vec<Value> {
    outcomes
        .iter()
        .map(|(o, r)| match r {
            Ok((s, seconds)) => summary_json(g, s, *seconds, provenance(s.backend)),
            Err(why) => json!({"objective": o, "error": Causes(*why).to_string()}),
        })
        .collect()
}
