//! The independent check every solution must pass before it is reported.
//!
//! "Each solution is checked independently of the solver before it is reported:
//! conservation and capacity residuals from the sparse node–edge incidence matrix,
//! built from the market and G′ — not from the LP builder, so the two cannot share a
//! bug — and a corrupted solution must be rejected."
//!
//! This module shares no code with the LP formulation: it reads only the graph of G′
//! (edge endpoints, node capacities, r^k_n) and the flow's numbers.
//!
//! # Matrices and sign convention
//!
//! * **A**, the node–edge incidence matrix of G′ (`nodes × edges`, CSC): column e of
//!   edge u → v holds **+1 at its tail u** and **−1 at its head v**. So (A·x_k)\[n\] is the
//!   *net outflow* of commodity k at node n (outflow − inflow).
//! * **T**, A restricted to its tail entries (`nodes × edges`, CSC, +1 at the tail):
//!   (T·x_k)\[n\] is the *outflow* of k at n.
//! * **X** (`edges × commodities`, CSC): column k is x_k, nonzero only on the usable
//!   edges of k, so the two products A·X and T·X cost time linear in the number of
//!   (edge, commodity) pairs — the check runs on every solve, also on LPs with
//!   millions of variables.
//!
//! With f_k = −(A·x_k)\[t_k\] (what reaches t_k) and the supply vector b_k = +f_k at s_k,
//! −f_k at t_k, 0 elsewhere, conservation is A·x_k = b_k. The resource use of node n
//! is Σ_k r^k_n·(T·x_k)\[n\] and must stay ≤ R_n.
//!
//! # Tolerance semantics
//!
//! One relative tolerance `tol` ([`Tolerance::rel`]), scaled by the size of the
//! quantity it guards, never below an absolute `tol`:
//!
//! | check | violated when |
//! |---|---|
//! | conservation of k at node n | \|(A·x_k − b_k)\[n\]\| > tol·max(1, f_k, max_e \|x^k_e\|) |
//! | non-negativity of x^k_e | x^k_e < −tol·max(1, f_k, max_e \|x^k_e\|) |
//! | capacity of node n | Σ_k r^k_n·out^k_n − R_n > tol·max(1, R_n) |
//! | demand of k | f_k − L_k > tol·max(1, L_k), L_k = d_k by default ([`DemandLimit`]) |
//! | acyclicity of k | the edges with x^k_e > 0 (strictly) contain a directed cycle |
//! | finiteness | any x^k_e is NaN or infinite |
//!
//! Acyclicity is decided by petgraph's Tarjan strongly connected components on the
//! positive subgraph, not by the Kahn-based finder the cycle cancelling
//! ([`crate::cycles`]) removes cycles with, so a bug in one cannot hide in the other.
//!
//! The `max_*` fields of [`CheckReport`] are the raw (absolute) residuals, whatever
//! the tolerance.

use std::fmt;

use brokerflow_graphs::{ExpandedGraph, Flow, NodeKind};
use nalgebra_sparse::CscMatrix;
use petgraph::graph::{EdgeIndex, NodeIndex};
use thiserror::Error;

/// At most this many violations are listed in a [`CheckReport`]; the rest are counted
/// in [`CheckReport::omitted`].
pub const MAX_LISTED_VIOLATIONS: usize = 1000;

/// The relative tolerance of the independent check; see the module docs
/// for how each residual is scaled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// The relative tolerance. A negative or non-finite value counts as 0 (the
    /// strictest check), so a bad tolerance can never let a corrupted solution pass.
    pub rel: f64,
}

impl Tolerance {
    /// The default relative tolerance, 1e-6: loose enough for the primal feasibility
    /// tolerances of the LP backends (≈ 1e-7 to 1e-9), tight enough that any real
    /// corruption is caught.
    pub const DEFAULT_REL: f64 = 1e-6;

    /// No tolerance at all: residuals must be exactly 0 (hand-built flows, tests).
    pub const EXACT: Tolerance = Tolerance { rel: 0.0 };

    /// A tolerance with relative value `rel`.
    pub fn new(rel: f64) -> Tolerance {
        Tolerance { rel }
    }

    /// The allowed absolute residual for a quantity of size `scale`:
    /// rel·max(1, |scale|).
    pub fn allowed(self, scale: f64) -> f64 {
        let rel = if self.rel.is_finite() && self.rel > 0.0 {
            self.rel
        } else {
            0.0
        };
        rel * scale.abs().max(1.0)
    }
}

impl Default for Tolerance {
    fn default() -> Tolerance {
        Tolerance::new(Tolerance::DEFAULT_REL)
    }
}

/// The upper bound L_k the check applies to f_k.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum DemandLimit {
    /// f_k ≤ d_k: P2, P2⁻, P3 and the distributed engine.
    #[default]
    Demand,
    /// f_k ≤ factor·d_k: P1's maximum concurrent flow, where f_k = δ·d_k and δ may
    /// exceed 1. A NaN factor counts as 1.
    Scaled(f64),
    /// No upper bound on f_k.
    Unbounded,
}

/// What a node of G′ stands for, as the check's messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeRole {
    /// A user (source s_k).
    User,
    /// A broker.
    Broker,
    /// A provider.
    Provider,
    /// The bandwidth node n_uv of a finite link u → v.
    Link,
    /// A collection point t_k.
    Collection,
}

impl NodeRole {
    fn of(kind: NodeKind) -> NodeRole {
        match kind {
            NodeKind::User(_) => NodeRole::User,
            NodeKind::Broker(_) => NodeRole::Broker,
            NodeKind::Provider(_) => NodeRole::Provider,
            NodeKind::Bandwidth(_) => NodeRole::Link,
            NodeKind::Collection(_) => NodeRole::Collection,
        }
    }
}

impl fmt::Display for NodeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeRole::User => "user",
            NodeRole::Broker => "broker",
            NodeRole::Provider => "provider",
            NodeRole::Link => "link",
            NodeRole::Collection => "collection point",
        })
    }
}

/// One way a flow breaks the rules of the market model and the LPs, named in the market's ids: users
/// (commodities), brokers, providers, links `u->v` and collection points `t(k)`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Violation {
    /// The flow does not have one number per usable (edge, commodity) pair of G′, or
    /// G′'s usable edge lists are malformed; the affected commodity is not checked.
    Shape {
        /// What does not match.
        detail: String,
    },
    /// x^k_e is NaN or infinite (it counts as 0 in the other checks).
    NonFinite {
        /// The commodity's (user's) id.
        commodity: String,
        /// The G′ edge, described in the market's ids.
        edge: String,
        /// The value.
        value: f64,
    },
    /// x^k_e < 0 beyond the tolerance.
    Negative {
        /// The commodity's (user's) id.
        commodity: String,
        /// The G′ edge, described in the market's ids.
        edge: String,
        /// The value.
        flow: f64,
    },
    /// (A·x_k)\[n\] ≠ b_k\[n\] beyond the tolerance: flow of k is created or lost at n.
    Conservation {
        /// The commodity's (user's) id.
        commodity: String,
        /// The node's G′ name (market id, `u->v` or `t(k)`).
        node: String,
        /// What the node stands for.
        role: NodeRole,
        /// Flow of k into n.
        inflow: f64,
        /// Flow of k out of n.
        outflow: f64,
        /// b_k\[n\]: f_k at s_k, −f_k at t_k, 0 elsewhere.
        supply: f64,
    },
    /// Σ_k r^k_n·(outflow of k at n) > R_n beyond the tolerance.
    Capacity {
        /// The node's G′ name (market id or `u->v`).
        node: String,
        /// What the node stands for.
        role: NodeRole,
        /// Resource units used.
        used: f64,
        /// R_n.
        capacity: f64,
    },
    /// f_k > L_k beyond the tolerance.
    Demand {
        /// The commodity's (user's) id.
        commodity: String,
        /// f_k, what reaches t_k.
        served: f64,
        /// L_k (d_k unless a [`DemandLimit`] says otherwise).
        limit: f64,
    },
    /// Commodity k's positive flow circulates (reported flows are acyclic).
    Cycle {
        /// The commodity's (user's) id.
        commodity: String,
        /// The cycle's nodes (G′ names) in flow order; the last node links back to the first.
        nodes: Vec<String>,
    },
}

impl Violation {
    /// For a conservation violation, (A·x_k − b_k)\[n\]; 0 for other kinds.
    pub fn residual(&self) -> f64 {
        match self {
            Violation::Conservation {
                inflow,
                outflow,
                supply,
                ..
            } => outflow - inflow - supply,
            _ => 0.0,
        }
    }

    /// The commodity (user id) the violation concerns, if it concerns one.
    pub fn commodity(&self) -> Option<&str> {
        match self {
            Violation::NonFinite { commodity, .. }
            | Violation::Negative { commodity, .. }
            | Violation::Conservation { commodity, .. }
            | Violation::Demand { commodity, .. }
            | Violation::Cycle { commodity, .. } => Some(commodity),
            Violation::Shape { .. } | Violation::Capacity { .. } => None,
        }
    }

    /// The G′ node (market id, `u->v` or `t(k)`) the violation concerns, if it is one node.
    pub fn node(&self) -> Option<&str> {
        match self {
            Violation::Conservation { node, .. } | Violation::Capacity { node, .. } => Some(node),
            _ => None,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Shape { detail } => write!(f, "malformed flow: {detail}"),
            Violation::NonFinite {
                commodity,
                edge,
                value,
            } => write!(f, "commodity {commodity} on {edge}: flow {value} is not finite"),
            Violation::Negative {
                commodity,
                edge,
                flow,
            } => write!(f, "commodity {commodity} on {edge}: negative flow {flow}"),
            Violation::Conservation {
                commodity,
                node,
                role,
                inflow,
                outflow,
                supply,
            } => match role {
                NodeRole::User => write!(
                    f,
                    "commodity {commodity} at its source {node}: sends {} net but {supply} reaches its collection point",
                    outflow - inflow
                ),
                NodeRole::Collection => write!(
                    f,
                    "commodity {commodity} at {node}: receives {inflow} net but sends {outflow}"
                ),
                _ => write!(
                    f,
                    "commodity {commodity} at node {node}: inflow {inflow} ≠ outflow {outflow}"
                ),
            },
            Violation::Capacity {
                node,
                role,
                used,
                capacity,
            } => write!(f, "{role} {node}: uses {used} of capacity {capacity}"),
            Violation::Demand {
                commodity,
                served,
                limit,
            } => write!(
                f,
                "commodity {commodity}: {served} reaches its collection point, more than its bound {limit}"
            ),
            Violation::Cycle { commodity, nodes } => {
                write!(f, "commodity {commodity} circulates: ")?;
                for n in nodes {
                    write!(f, "{n} → ")?;
                }
                match nodes.first() {
                    Some(n) => write!(f, "{n}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// The outcome of the independent check: raw residuals and the violations
/// beyond tolerance.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    /// max over nodes n and commodities k of |(A·x_k − b_k)\[n\]| (absolute).
    pub max_conservation_residual: f64,
    /// max(0, max over nodes of Σ_k r^k_n·out^k_n − R_n) (absolute).
    pub max_capacity_violation: f64,
    /// max(0, max over commodities of f_k − L_k) (absolute).
    pub max_demand_violation: f64,
    /// The smallest x^k_e over usable pairs (0 when there are none; non-finite values
    /// are left out and reported as violations).
    pub min_flow: f64,
    /// f_k per commodity as the incidence matrix sees it: −(A·x_k)\[t_k\].
    pub served: Vec<f64>,
    /// The commodities (indices) whose positive flow has a directed cycle.
    pub cyclic: Vec<usize>,
    /// Everything beyond tolerance, in the order found (at most
    /// [`MAX_LISTED_VIOLATIONS`]).
    pub violations: Vec<Violation>,
    /// How many further violations were found but not listed.
    pub omitted: usize,
}

impl CheckReport {
    /// Whether the flow passed: no violation beyond tolerance.
    pub fn ok(&self) -> bool {
        self.violations.is_empty() && self.omitted == 0
    }

    /// The number of violations found (listed and omitted).
    pub fn violation_count(&self) -> usize {
        self.violations.len() + self.omitted
    }

    /// One line: "ok", or the count and the first few violations.
    pub fn summary(&self) -> String {
        if self.ok() {
            return "ok".to_string();
        }
        let shown: Vec<String> = self
            .violations
            .iter()
            .take(3)
            .map(|v| v.to_string())
            .collect();
        let more = self.violation_count() - shown.len();
        let mut s = format!(
            "{} violation(s): {}",
            self.violation_count(),
            shown.join("; ")
        );
        if more > 0 {
            s.push_str(&format!("; and {more} more"));
        }
        s
    }

    fn push(&mut self, v: Violation) {
        if self.violations.len() < MAX_LISTED_VIOLATIONS {
            self.violations.push(v);
        } else {
            self.omitted += 1;
        }
    }
}

/// A solution refused by the independent check.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CheckError {
    /// Some residual exceeds the tolerance; the full report is attached.
    #[error("solution rejected by the independent check: {}", .0.summary())]
    Rejected(Box<CheckReport>),
}

impl CheckError {
    /// The report of the rejected solution.
    pub fn report(&self) -> &CheckReport {
        match self {
            CheckError::Rejected(r) => r,
        }
    }
}

/// The independent feasibility check of a multi-commodity flow on G′: conservation
/// (A·x_k = b_k), x ≥ 0, f_k ≤ d_k, every node's one resource constraint
/// Σ_k r^k_n·out^k_n ≤ R_n and per-commodity acyclicity, with the tolerance semantics
/// of the module docs. Never panics; a flow of the wrong shape is reported as a
/// [`Violation::Shape`].
///
/// # Arguments
/// * `g`: the expanded graph G′.
/// * `flow`: the flow to check.
/// * `tol`: the relative tolerance ([`Tolerance::EXACT`] for hand-built flows).
///
/// # Returns
/// The [`CheckReport`]: the largest residual of each kind and the violations found.
///
/// # Complexity
/// O(N + E + |P|) time and space for N nodes and E edges of G′ and |P| usable pairs
/// (the sparse products A·X and T·X), plus the acyclicity test, linear in |P|.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph, Flow};
/// use brokerflow_solvers::check::{check_flow, Tolerance};
///
/// // u1's four usable edges are its one route u1 → `u1->b1` → b1 → p1 → t(u1)
/// // (graphs/markets/tiny.md §2), whose access link carries at most 5.
/// let g = ExpandedGraph::new(&examples::tiny());
/// let route = |a: f64| Flow { x: vec![vec![a; 4], vec![0.0; 8], vec![0.0; 4]] };
/// assert!(check_flow(&g, &route(5.0), Tolerance::EXACT).ok());
/// let over = check_flow(&g, &route(6.0), Tolerance::default());
/// assert!(!over.ok());
/// assert_eq!(over.max_capacity_violation, 1.0); // 6 jobs on a bandwidth of 5
/// ```
///
/// Paper: [MCF-Grid] §4.2 (the constraints of the LP on G′).
pub fn check_flow(g: &ExpandedGraph, flow: &Flow, tol: Tolerance) -> CheckReport {
    check_flow_with(g, flow, tol, DemandLimit::Demand)
}

/// [`check_flow`] with an explicit bound L_k on f_k (P1's flows exceed d_k when δ > 1).
///
/// # Arguments
/// * `g`, `flow`, `tol`: as for [`check_flow`].
/// * `limit`: the bound on f_k ([`DemandLimit`]).
///
/// # Returns
/// The [`CheckReport`].
///
/// # Complexity
/// As [`check_flow`].
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph, Flow};
/// use brokerflow_solvers::check::{check_flow, check_flow_with, DemandLimit, Tolerance};
///
/// // tiny's u3 (d = 10) sends 12 on its route u3 → b2 → `b2->p2` → p2 → t(u3):
/// // every capacity holds (b2 20, `b2->p2` 15, p2 19), only d_3 is exceeded.
/// let g = ExpandedGraph::new(&examples::tiny());
/// let flow = Flow { x: vec![vec![0.0; 4], vec![0.0; 8], vec![12.0; 4]] };
/// assert!(!check_flow(&g, &flow, Tolerance::EXACT).ok());
/// assert!(check_flow_with(&g, &flow, Tolerance::EXACT, DemandLimit::Scaled(1.2)).ok());
/// ```
///
/// Paper: [MCF-Grid] §4.2 (P1 serves δ·d_k).
pub fn check_flow_with(
    g: &ExpandedGraph,
    flow: &Flow,
    tol: Tolerance,
    limit: DemandLimit,
) -> CheckReport {
    Checker::new(g).run(flow, tol, limit)
}

/// [`check_flow`] as a gate: the independent check every solution passes before it is
/// reported.
///
/// # Arguments
/// * `g`, `flow`, `tol`: as for [`check_flow`].
///
/// # Returns
/// The report of a flow within the tolerance.
///
/// # Errors
/// [`CheckError::Rejected`] with the full report when any residual exceeds it.
///
/// # Complexity
/// As [`check_flow`].
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph, Flow};
/// use brokerflow_solvers::check::{verify, Tolerance};
///
/// let g = ExpandedGraph::new(&examples::tiny());
/// assert!(verify(&g, &Flow::zero(&g), Tolerance::EXACT).is_ok());
/// let mut negative = Flow::zero(&g);
/// negative.x[1][0] = -1.0; // x ≥ 0 is one of the constraints
/// assert!(verify(&g, &negative, Tolerance::default()).is_err());
/// ```
///
/// Paper: [MCF-Grid] §4.2.
pub fn verify(g: &ExpandedGraph, flow: &Flow, tol: Tolerance) -> Result<CheckReport, CheckError> {
    verify_with(g, flow, tol, DemandLimit::Demand)
}

/// [`verify`] with an explicit bound L_k on f_k (see [`check_flow_with`]).
///
/// # Arguments
/// * `g`, `flow`, `tol`: as for [`check_flow`].
/// * `limit`: the bound on f_k ([`DemandLimit`]).
///
/// # Returns
/// The report of a flow within the tolerance.
///
/// # Errors
/// [`CheckError::Rejected`] with the full report when any residual exceeds it.
///
/// # Complexity
/// As [`check_flow`].
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph, Flow};
/// use brokerflow_solvers::check::{verify_with, DemandLimit, Tolerance};
///
/// let g = ExpandedGraph::new(&examples::tiny());
/// // u3 served 12 of its demand 10 on its one route.
/// let flow = Flow { x: vec![vec![0.0; 4], vec![0.0; 8], vec![12.0; 4]] };
/// assert!(verify_with(&g, &flow, Tolerance::EXACT, DemandLimit::Unbounded).is_ok());
/// assert!(verify_with(&g, &flow, Tolerance::EXACT, DemandLimit::Demand).is_err());
/// ```
///
/// Paper: [MCF-Grid] §4.2.
pub fn verify_with(
    g: &ExpandedGraph,
    flow: &Flow,
    tol: Tolerance,
    limit: DemandLimit,
) -> Result<CheckReport, CheckError> {
    let report = check_flow_with(g, flow, tol, limit);
    if report.ok() {
        Ok(report)
    } else {
        Err(CheckError::Rejected(Box::new(report)))
    }
}

/// Whether commodity k's flow is acyclic: its positive-flow subgraph (edges with
/// x^k_e > 0) has no directed cycle (reported flows never circulate). An
/// out-of-range k has no flow and is acyclic.
///
/// # Arguments
/// * `g`: the expanded graph G′.
/// * `flow`: the flow.
/// * `k`: the commodity (user index).
///
/// # Returns
/// `true` when there is no cycle.
///
/// # Complexity
/// O(N + E + |U_k|) time: O(N + E) setup for N nodes and E edges of G′, then linear in
/// k's usable edges U_k (Tarjan's strongly connected components).
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph, Flow};
/// use brokerflow_solvers::check::is_acyclic;
///
/// // On an acyclic G′ (tiny) every flow is acyclic.
/// let g = ExpandedGraph::new(&examples::tiny());
/// let flow = Flow { x: vec![vec![1.0; 4], vec![1.0; 8], vec![1.0; 4]] };
/// assert!((0..3).all(|k| is_acyclic(&g, &flow, k)));
/// assert!(is_acyclic(&g, &flow, 99));
/// ```
///
/// Paper: [MCF-Grid] §4.2 (flows on G′); design §2 (reported flows never circulate).
pub fn is_acyclic(g: &ExpandedGraph, flow: &Flow, k: usize) -> bool {
    find_cycle(g, flow, k).is_none()
}

/// A directed cycle of commodity k's positive flow, found independently of the cycle
/// cancelling ([`crate::cycles`]).
///
/// # Arguments
/// * `g`: the expanded graph G′.
/// * `flow`: the flow.
/// * `k`: the commodity (user index).
///
/// # Returns
/// The cycle as G′ nodes in flow order (the last links back to the first, the first
/// is the cycle's smallest node index), or `None` when k's flow is acyclic.
///
/// # Complexity
/// As [`is_acyclic`].
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph, Flow};
/// use brokerflow_solvers::{check::find_cycle, flows::add_flow};
///
/// // linked: ba1 ⇄ bb1 both ways; 1 job of ua1 goes around once.
/// let g = ExpandedGraph::new(&examples::linked());
/// let ring = ["ba1", "ba1->bb1", "bb1", "bb1->ba1"];
/// let n = |i: usize| g.node_named(ring[i % 4]).unwrap();
/// let mut flow = Flow::zero(&g);
/// for i in 0..4 {
///     let e = g.graph.find_edge(n(i), n(i + 1)).unwrap();
///     add_flow(&g, &mut flow, 0, e, 1.0);
/// }
/// let cycle = find_cycle(&g, &flow, 0).unwrap();
/// assert_eq!(cycle.len(), 4);
/// assert!(find_cycle(&g, &Flow::zero(&g), 0).is_none());
/// ```
///
/// Paper: [MCF-Grid] §4.2 (flows on G′); design §2 (reported flows never circulate).
pub fn find_cycle(g: &ExpandedGraph, flow: &Flow, k: usize) -> Option<Vec<NodeIndex>> {
    let (c, x) = (g.commodities.get(k)?, flow.x.get(k)?);
    positive_cycle(&Endpoints::new(g), &c.usable, x)
}

/// A directed cycle among the usable edges with x^k_e > 0, found with code the cycle
/// cancelling does not use (so the two cannot share a bug): petgraph's Tarjan
/// strongly connected components on the positive subgraph, then a walk inside a
/// component that has an edge (every node of such a component has a successor in it,
/// so the walk must repeat a node). Linear in the commodity's usable edges.
fn positive_cycle(ends: &Endpoints, usable: &[EdgeIndex], x: &[f64]) -> Option<Vec<NodeIndex>> {
    let mut sub: petgraph::graph::DiGraph<usize, ()> = petgraph::graph::DiGraph::new();
    let mut local: std::collections::HashMap<usize, NodeIndex> = std::collections::HashMap::new();
    let mut at = |sub: &mut petgraph::graph::DiGraph<usize, ()>, n: usize| {
        *local.entry(n).or_insert_with(|| sub.add_node(n))
    };
    for (&e, &v) in usable.iter().zip(x) {
        if v > 0.0 {
            if let Some((t, h)) = ends.get(e) {
                let (lt, lh) = (at(&mut sub, t), at(&mut sub, h));
                sub.add_edge(lt, lh, ());
            }
        }
    }
    let mut component = vec![usize::MAX; sub.node_count()];
    let mut best: Option<usize> = None;
    for (i, scc) in petgraph::algo::tarjan_scc(&sub).into_iter().enumerate() {
        for &n in &scc {
            component[n.index()] = i;
        }
        let cyclic = scc.len() > 1 || sub.contains_edge(scc[0], scc[0]);
        if cyclic {
            let smallest = scc.iter().map(|&n| sub[n]).min()?;
            if best.is_none_or(|b| smallest < b) {
                best = Some(smallest);
            }
        }
    }
    let start = local[&best?];
    let inside = component[start.index()];
    let mut seen = std::collections::HashMap::new();
    let mut path = Vec::new();
    let mut n = start;
    while !seen.contains_key(&n) {
        seen.insert(n, path.len());
        path.push(sub[n]);
        n = sub
            .neighbors(n)
            .filter(|m| component[m.index()] == inside)
            .min_by_key(|&m| sub[m])?;
    }
    let mut cycle = path.split_off(seen[&n]);
    if let Some(pos) = (0..cycle.len()).min_by_key(|&i| cycle[i]) {
        cycle.rotate_left(pos);
    }
    Some(cycle.into_iter().map(NodeIndex::new).collect())
}

/// Edge endpoints of G′ as plain indices, read once from the graph.
struct Endpoints {
    tail: Vec<usize>,
    head: Vec<usize>,
}

impl Endpoints {
    fn new(g: &ExpandedGraph) -> Endpoints {
        let edges = g.graph.raw_edges();
        Endpoints {
            tail: edges.iter().map(|e| e.source().index()).collect(),
            head: edges.iter().map(|e| e.target().index()).collect(),
        }
    }

    fn get(&self, e: EdgeIndex) -> Option<(usize, usize)> {
        Some((*self.tail.get(e.index())?, *self.head.get(e.index())?))
    }
}

/// The check's state: G′'s incidence matrices and per-node scratch.
struct Checker<'g> {
    g: &'g ExpandedGraph,
    ends: Endpoints,
}

impl<'g> Checker<'g> {
    fn new(g: &'g ExpandedGraph) -> Checker<'g> {
        Checker {
            g,
            ends: Endpoints::new(g),
        }
    }

    /// A (±1) and T (+1 at tails), both nodes × edges in CSC form.
    fn incidence(&self) -> Result<(CscMatrix<f64>, CscMatrix<f64>), String> {
        let (n, m) = (self.g.graph.node_count(), self.ends.tail.len());
        let mut a_rows = Vec::with_capacity(2 * m);
        let mut a_vals = Vec::with_capacity(2 * m);
        for (&t, &h) in self.ends.tail.iter().zip(&self.ends.head) {
            // Row indices sorted within the column; G′ has no self-loops.
            if t < h {
                a_rows.extend([t, h]);
                a_vals.extend([1.0, -1.0]);
            } else {
                a_rows.extend([h, t]);
                a_vals.extend([-1.0, 1.0]);
            }
        }
        let a =
            CscMatrix::try_from_csc_data(n, m, (0..=m).map(|j| 2 * j).collect(), a_rows, a_vals)
                .map_err(|e| format!("incidence matrix of G′: {e}"))?;
        let t = CscMatrix::try_from_csc_data(
            n,
            m,
            (0..=m).collect(),
            self.ends.tail.clone(),
            vec![1.0; m],
        )
        .map_err(|e| format!("tail matrix of G′: {e}"))?;
        Ok((a, t))
    }

    fn describe_edge(&self, e: EdgeIndex) -> String {
        let g = self.g;
        let Some((t, h)) = self.ends.get(e) else {
            return format!("edge {} (not in G′)", e.index());
        };
        let name = |n: usize| g.graph[NodeIndex::new(n)].name.as_str();
        match g.graph[e].link {
            Some(i) => match g.link_edges.get(i) {
                Some(&(first, Some(_))) if first == e => {
                    format!("link {} (into its bandwidth node)", name(h))
                }
                Some(&(_, Some(second))) if second == e => {
                    format!("link {} (out of its bandwidth node)", name(t))
                }
                _ => format!("link {}->{}", name(t), name(h)),
            },
            None => format!("delivery {}->{}", name(t), name(h)),
        }
    }

    fn run(&self, flow: &Flow, tol: Tolerance, limit: DemandLimit) -> CheckReport {
        let g = self.g;
        let nodes = g.graph.node_count();
        let edges = self.ends.tail.len();
        let kc = g.commodities.len();
        let mut report = CheckReport {
            max_conservation_residual: 0.0,
            max_capacity_violation: 0.0,
            max_demand_violation: 0.0,
            min_flow: f64::INFINITY,
            served: vec![0.0; kc],
            cyclic: Vec::new(),
            violations: Vec::new(),
            omitted: 0,
        };
        if flow.x.len() != kc {
            report.push(Violation::Shape {
                detail: format!("the flow has {} commodities, G′ has {kc}", flow.x.len()),
            });
        }

        // X: edges × commodities, column k over k's usable pairs of G′ (the shared
        // index); a commodity of the wrong shape gets an empty column.
        let pairs = g.pairs();
        let mut col_offsets = Vec::with_capacity(kc + 1);
        let mut rows = Vec::with_capacity(pairs.len());
        let mut vals = Vec::with_capacity(pairs.len());
        let mut checked = vec![false; kc];
        col_offsets.push(0);
        for (k, c) in g.commodities.iter().enumerate() {
            let Some(x) = flow.x.get(k) else {
                col_offsets.push(rows.len());
                continue;
            };
            let usable = if k < pairs.commodities() {
                pairs.edges_of(k)
            } else {
                &[]
            };
            if usable != c.usable.as_slice() {
                report.push(Violation::Shape {
                    detail: format!(
                        "commodity {}: its usable edges disagree with G′'s pair index",
                        c.id
                    ),
                });
            } else if x.len() != usable.len() {
                report.push(Violation::Shape {
                    detail: format!(
                        "commodity {} has {} flow values for {} usable edges",
                        c.id,
                        x.len(),
                        usable.len()
                    ),
                });
            } else if !usable.windows(2).all(|w| w[0] < w[1])
                || usable.last().is_some_and(|e| e.index() >= edges)
            {
                report.push(Violation::Shape {
                    detail: format!(
                        "commodity {}: its usable edges are not sorted, distinct edges of G′",
                        c.id
                    ),
                });
            } else {
                checked[k] = true;
                for (&e, &v) in usable.iter().zip(x) {
                    let v = if v.is_finite() {
                        v
                    } else {
                        report.push(Violation::NonFinite {
                            commodity: c.id.clone(),
                            edge: self.describe_edge(e),
                            value: v,
                        });
                        0.0
                    };
                    rows.push(e.index());
                    vals.push(v);
                }
            }
            col_offsets.push(rows.len());
        }

        let matrices = self.incidence().and_then(|(a, t)| {
            let x = CscMatrix::try_from_csc_data(edges, kc, col_offsets, rows, vals)
                .map_err(|e| format!("flow matrix: {e}"))?;
            // A·X: net outflow per (node, commodity); T·X: outflow.
            Ok((&a * &x, &t * &x, x))
        });
        let (net, out, x) = match matrices {
            Ok(m) => m,
            Err(detail) => {
                report.push(Violation::Shape { detail });
                report.min_flow = 0.0;
                return report;
            }
        };

        let mut usage = vec![0.0f64; nodes];
        let mut outflow = vec![0.0f64; nodes];
        for (k, c) in g.commodities.iter().enumerate() {
            if !checked[k] {
                continue;
            }
            let (net_k, out_k, x_k) = (net.col(k), out.col(k), x.col(k));
            let (source, sink) = (c.source.index(), c.sink.index());
            let served = net_k
                .row_indices()
                .binary_search(&sink)
                .map_or(0.0, |i| -net_k.values()[i])
                + 0.0;
            report.served[k] = served;
            let bound = match limit {
                DemandLimit::Demand => c.demand,
                DemandLimit::Scaled(f) if f.is_nan() => c.demand,
                DemandLimit::Scaled(f) => f * c.demand,
                DemandLimit::Unbounded => f64::INFINITY,
            };
            // The flow's own size, not the demand's: a demand of 10¹⁰ must not loosen
            // the check on a flow of 5.
            let scale = x_k
                .values()
                .iter()
                .fold(served.abs(), |m, v| m.max(v.abs()));
            let allowed = tol.allowed(scale);

            // x ≥ 0.
            for (&e, &v) in x_k.row_indices().iter().zip(x_k.values()) {
                report.min_flow = report.min_flow.min(v);
                if v < -allowed {
                    report.push(Violation::Negative {
                        commodity: c.id.clone(),
                        edge: self.describe_edge(EdgeIndex::new(e)),
                        flow: v,
                    });
                }
            }

            // Conservation: A·x_k = b_k.
            for (&n, &o) in out_k.row_indices().iter().zip(out_k.values()) {
                outflow[n] = o;
                usage[n] += g.resource_use(NodeIndex::new(n), k) * o;
            }
            let mut source_seen = false;
            for (&n, &y) in net_k.row_indices().iter().zip(net_k.values()) {
                let supply = if n == source {
                    source_seen = true;
                    served
                } else if n == sink {
                    -served
                } else {
                    0.0
                };
                let residual = (y - supply).abs();
                report.max_conservation_residual = report.max_conservation_residual.max(residual);
                if residual > allowed {
                    let node = &g.graph[NodeIndex::new(n)];
                    report.push(Violation::Conservation {
                        commodity: c.id.clone(),
                        node: node.name.clone(),
                        role: NodeRole::of(node.kind),
                        inflow: outflow[n] - y,
                        outflow: outflow[n],
                        supply,
                    });
                }
            }
            if !source_seen && served.abs() > 0.0 {
                report.max_conservation_residual =
                    report.max_conservation_residual.max(served.abs());
                if served.abs() > allowed {
                    report.push(Violation::Conservation {
                        commodity: c.id.clone(),
                        node: g.graph[c.source].name.clone(),
                        role: NodeRole::User,
                        inflow: 0.0,
                        outflow: 0.0,
                        supply: served,
                    });
                }
            }
            for &n in out_k.row_indices() {
                outflow[n] = 0.0;
            }

            // f_k ≤ L_k.
            let excess = served - bound;
            if excess > 0.0 {
                report.max_demand_violation = report.max_demand_violation.max(excess);
                if excess > tol.allowed(bound) {
                    report.push(Violation::Demand {
                        commodity: c.id.clone(),
                        served,
                        limit: bound,
                    });
                }
            }

            // Acyclicity of the positive flow.
            if let Some(cycle) = positive_cycle(&self.ends, &c.usable, &flow.x[k]) {
                report.cyclic.push(k);
                report.push(Violation::Cycle {
                    commodity: c.id.clone(),
                    nodes: cycle.into_iter().map(|n| g.graph[n].name.clone()).collect(),
                });
            }
        }

        // Node resource constraints: Σ_k r^k_n · out^k_n ≤ R_n.
        for (n, &used) in usage.iter().enumerate() {
            let node = &g.graph[NodeIndex::new(n)];
            let Some(capacity) = node.capacity else {
                continue;
            };
            let excess = used - capacity;
            if excess > 0.0 {
                report.max_capacity_violation = report.max_capacity_violation.max(excess);
                if excess > tol.allowed(capacity) {
                    report.push(Violation::Capacity {
                        node: node.name.clone(),
                        role: NodeRole::of(node.kind),
                        used,
                        capacity,
                    });
                }
            }
        }
        if report.min_flow == f64::INFINITY {
            report.min_flow = 0.0;
        }
        report
    }
}
