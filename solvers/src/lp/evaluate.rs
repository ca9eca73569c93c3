//! A routing written by anyone (brokerflow, a spreadsheet, another solver), scored
//! against the market and against the welfare optimum P3 of [MCF-Grid] §4.2.3: is it
//! feasible, how much of each demand does it serve, what welfare W does it make, and
//! what percent of the optimum W* is that.

use std::fmt::Write;

use brokerflow_graphs::formats::flows_csv::FlowIssue;
use brokerflow_graphs::{ExpandedGraph, Flow, Market};
use serde_json::{json, Value};

use super::{max_welfare, Backend, LpError, LpOptions, CHECK_TOLERANCE};
use crate::check::{check_flow, CheckReport, Tolerance};
use crate::measures::{percent_of_optimum, served_fraction, Measure};

/// A routing's score.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Every broken constraint, named: the flows file's issues first, then the
    /// independent check's violations.
    pub violations: Vec<String>,
    /// The independent check of the routing ([`crate::check`]).
    pub check: CheckReport,
    /// f_k per commodity.
    pub served: Vec<f64>,
    /// Σ f_k / Σ d_k, `None` without demand.
    pub served_fraction: Option<f64>,
    /// W of the routing.
    pub welfare: f64,
    /// W*, P3's optimum.
    pub optimum: f64,
    /// W as a percentage of W*; undefined for an infeasible routing.
    pub percent_of_optimum: Measure,
    /// The backend that solved P3.
    pub backend: Backend,
}

/// Scores `flow` (read with `issues`) on G′ `g`: the independent check at
/// [`CHECK_TOLERANCE`], and P3 solved with `backend` for the optimum.
///
/// # Returns
/// The [`Evaluation`]; an error only if P3 cannot be solved.
///
/// # Complexity
/// One P3 solve plus O(usable pairs) for the check.
pub fn evaluate(
    g: &ExpandedGraph,
    flow: &Flow,
    issues: &[FlowIssue],
    backend: Backend,
) -> Result<Evaluation, LpError> {
    let check = check_flow(g, flow, Tolerance::new(CHECK_TOLERANCE));
    let mut violations: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
    violations.extend(check.violations.iter().map(|v| v.to_string()));
    if check.omitted > 0 {
        violations.push(format!("… and {} more violations", check.omitted));
    }
    let welfare = flow.welfare(g);
    let p3 = max_welfare(
        g,
        &LpOptions {
            backend,
            prices: false,
        },
    )?;
    let optimum = p3.welfare(g).expect("P3 is always bounded");
    // An infeasible routing's welfare is not comparable with the optimum: it may
    // exceed it by using capacity that does not exist.
    let percent = if violations.is_empty() {
        percent_of_optimum(welfare, optimum)
    } else {
        Measure {
            value: None,
            reason: Some("the routing is infeasible"),
        }
    };
    Ok(Evaluation {
        served: (0..g.commodities.len())
            .map(|k| flow.served(g, k))
            .collect(),
        served_fraction: served_fraction(g, flow),
        violations,
        check,
        welfare,
        optimum,
        percent_of_optimum: percent,
        backend: p3.backend,
    })
}

impl Evaluation {
    /// Whether the routing breaks no constraint.
    pub fn feasible(&self) -> bool {
        self.violations.is_empty()
    }

    /// The readable score of the routing `flows` (its file name) on `market`.
    pub fn to_text(&self, market: &Market, g: &ExpandedGraph, flows: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "routing {flows} on market '{}'", market.name);
        if self.feasible() {
            let _ = writeln!(
                out,
                "  feasible (conservation, capacities and demands hold within relative {CHECK_TOLERANCE:e})"
            );
        } else {
            let _ = writeln!(out, "  INFEASIBLE: {} violation(s):", self.violations.len());
            for v in &self.violations {
                let _ = writeln!(out, "    {v}");
            }
        }
        let _ = writeln!(out, "  served / demand per user:");
        for (c, f) in g.commodities.iter().zip(&self.served) {
            let _ = writeln!(out, "    {}  {:.6} / {}", c.id, f, c.demand);
        }
        let (welfare, optimum) = (self.welfare, self.optimum);
        if !self.feasible() {
            let _ = writeln!(out, "  welfare W = {welfare:.6} (of an infeasible routing: not compared with the optimum W* (P3) = {optimum:.6})");
            return out;
        }
        let _ = writeln!(out, "  welfare W = {welfare:.6}");
        let _ = match self.percent_of_optimum.value {
            Some(p) => writeln!(
                out,
                "  optimum W* (P3) = {optimum:.6}; this routing reaches {p:.2}% of it"
            ),
            None => writeln!(
                out,
                "  optimum W* (P3) = {optimum:.6}; percent of optimum undefined: {}",
                self.percent_of_optimum.reason.unwrap_or("")
            ),
        };
        out
    }

    /// The score as one JSON object, with the routing's file name `flows` and
    /// `provenance` (what made it) as given.
    pub fn to_json(&self, g: &ExpandedGraph, flows: &str, provenance: Value) -> Value {
        json!({
            "feasible": self.feasible(),
            "violations": self.violations,
            "max_conservation_residual": self.check.max_conservation_residual,
            "max_capacity_violation": self.check.max_capacity_violation,
            "max_demand_violation": self.check.max_demand_violation,
            "served": g.commodities.iter().zip(&self.served)
                .map(|(c, f)| (c.id.clone(), json!(f))).collect::<serde_json::Map<_, _>>(),
            "served_fraction": self.served_fraction,
            "welfare": self.welfare,
            "optimum": self.optimum,
            "percent_of_optimum": self.percent_of_optimum.value,
            "percent_of_optimum_reason": self.percent_of_optimum.reason,
            "tolerance": CHECK_TOLERANCE,
            "flows_file": flows,
            "provenance": provenance,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p3s_own_flow_is_feasible_and_reaches_all_of_the_optimum() {
        let m = brokerflow_graphs::examples::tiny();
        let g = ExpandedGraph::new(&m);
        let p3 = max_welfare(&g, &LpOptions::default()).unwrap();
        let flow = p3.flow.as_ref().unwrap();
        let e = evaluate(&g, flow, &[], Backend::Microlp).unwrap();
        assert!(e.feasible(), "{:?}", e.violations);
        assert!((e.welfare - e.optimum).abs() <= 1e-6 * e.optimum.abs().max(1.0));
        let pct = e.percent_of_optimum.value.unwrap();
        assert!((pct - 100.0).abs() < 1e-4, "{pct}");
    }

    #[test]
    fn a_routing_beyond_capacity_is_infeasible_and_not_compared() {
        let m = brokerflow_graphs::examples::tiny();
        let g = ExpandedGraph::new(&m);
        let p3 = max_welfare(&g, &LpOptions::default()).unwrap();
        let mut flow = p3.flow.clone().unwrap();
        // Ten times an optimal flow breaks a binding capacity (tiny has one).
        flow.x
            .iter_mut()
            .for_each(|xs| xs.iter_mut().for_each(|v| *v *= 10.0));
        let e = evaluate(&g, &flow, &[], Backend::Microlp).unwrap();
        assert!(!e.feasible());
        assert_eq!(e.percent_of_optimum.value, None);
        let text = e.to_text(&m, &g, "f.csv");
        assert!(text.contains("INFEASIBLE"), "{text}");
    }
}
