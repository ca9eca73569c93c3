//! The constraint families of [MCF-Grid] §4.2 on G′ with per-commodity pruning: variables
//! x^k_e exist only for edges commodity k can use, and only for commodities that are
//! served at all (positive demand, not stranded).

use brokerflow_graphs::{ExpandedGraph, Flow, NodeKind};
use petgraph::graph::{EdgeIndex, NodeIndex};

use super::program::{Cmp, Domain, LinearProgram, Sense};

/// An LP over G′ together with the map from its variables back to a [`Flow`].
#[derive(Debug, Clone)]
pub struct Formulation {
    /// The LP.
    pub lp: LinearProgram,
    /// Per usable (edge, commodity) pair of G′: its variable x^k_e, or [`NO_VARIABLE`]
    /// for pairs left out.
    variable_of: Vec<usize>,
    /// Index of each finite-capacity node's resource row, by node index.
    pub capacity_rows: Vec<Option<usize>>,
}

/// How a commodity's source row reads (the only difference between P1, P2 and P3).
#[derive(Debug, Clone, Copy)]
pub enum Supply {
    /// P1: out of s_k = δ·d_k, with δ the given variable.
    Concurrent {
        /// Index of δ.
        delta: usize,
    },
    /// P2 / P2⁻: out of s_k = the given amount of every commodity (per k).
    Fixed,
    /// P3: out of s_k ≤ the given bound of every commodity (per k): d_k capped at its
    /// maximum flow ([`super::demand_caps`]).
    UpToDemand,
}

/// The variable index of a pair that has none.
const NO_VARIABLE: usize = usize::MAX;

/// The longest name CPLEX LP readers accept.
const MAX_NAME: usize = 255;

/// `id` in the characters a CPLEX LP name may use: letters, digits and
/// `!"#$%&()/,.;?@_`'{}|~`; `->` becomes `~`, anything else `_`.
fn sanitise(id: &str) -> String {
    id.replace("->", "~")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "!\"#$%&()/,.;?@_`'{}|~".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `name` cut to fit [`MAX_NAME`] with room for a suffix, made distinct from every name
/// in `taken` by `#2`, `#3`, … (and added to it).
fn unique_name(name: String, taken: &mut std::collections::HashSet<String>) -> String {
    // All ASCII after sanitising, so byte lengths are character counts.
    let mut base = name;
    base.truncate(MAX_NAME - 8);
    let mut candidate = base.clone();
    let mut n = 1;
    while taken.contains(&candidate) {
        n += 1;
        candidate = format!("{base}#{n}");
    }
    taken.insert(candidate.clone());
    candidate
}

impl Formulation {
    /// Adds x^k_e ≥ 0 for every commodity in `active` and every usable edge, with
    /// objective coefficient `objective(k, e)`.
    pub fn new(
        g: &ExpandedGraph,
        sense: Sense,
        active: &[bool],
        objective: impl Fn(usize, EdgeIndex) -> f64,
    ) -> Formulation {
        Formulation::on_pairs(g, sense, |k, _| active[k], objective)
    }

    /// Adds x^k_e ≥ 0 for every usable (edge, commodity) pair of G′ (pair ids of
    /// [`brokerflow_graphs::UsablePairs`]) with `keep(k, pair)`, with objective
    /// coefficient `objective(k, e)`; the other pairs carry no flow.
    pub fn on_pairs(
        g: &ExpandedGraph,
        sense: Sense,
        keep: impl Fn(usize, usize) -> bool,
        objective: impl Fn(usize, EdgeIndex) -> f64,
    ) -> Formulation {
        let pairs = g.pairs();
        let mut lp = LinearProgram::new(sense);
        let mut variable_of = vec![NO_VARIABLE; pairs.len()];
        for k in 0..g.commodities.len() {
            for pair in pairs.range(k) {
                if keep(k, pair) {
                    let e = pairs.edge(pair);
                    variable_of[pair] = lp.add_variable(
                        format!("x_{k}_{}", e.index()),
                        Domain::NonNegative,
                        objective(k, e),
                    );
                }
            }
        }
        Formulation {
            lp,
            variable_of,
            capacity_rows: vec![None; g.graph.node_count()],
        }
    }

    /// The LP in CPLEX LP format with variables named by ids: x^k_e is
    /// `x.<user>.<from>.<to>` (G′'s node names: participant ids, `u->v` for a
    /// bandwidth node, `t(k)` for a collection point), sanitised to the format's
    /// characters (`->` becomes `~`, any other character the format does not allow
    /// `_`), at most 255 characters, made unique with `#2`, `#3`, …; after `comment`,
    /// a comment line per variable maps its name back to (user, edge, link).
    pub fn to_cplex_lp(&self, g: &ExpandedGraph, comment: &str) -> String {
        let (names, map) = self.export_names(g);
        self.lp
            .to_cplex_lp_named(&format!("{comment}\n{map}"), &names)
    }

    /// Export names of every variable, and the comment lines mapping them back.
    fn export_names(&self, g: &ExpandedGraph) -> (Vec<String>, String) {
        use std::collections::HashSet;
        use std::fmt::Write;
        let mut names = self.lp.names.clone();
        let mut taken: HashSet<String> = HashSet::new();
        let mut map = String::from("variables (name = flow of user on the G' edge from -> to):");
        let pairs = g.pairs();
        let mut wanted: Vec<(usize, String, String)> = Vec::new();
        for k in 0..g.commodities.len() {
            for pair in pairs.range(k) {
                let j = self.variable_of[pair];
                if j == NO_VARIABLE {
                    continue;
                }
                let (tail, head) = (g.node(pairs.tail(pair)), g.node(pairs.head(pair)));
                let user = &g.commodities[k].id;
                let name = format!(
                    "x.{}.{}.{}",
                    sanitise(user),
                    sanitise(&tail.name),
                    sanitise(&head.name)
                );
                let e = pairs.edge(pair);
                let link = g.graph[e]
                    .link
                    .map_or(String::new(), |i| format!(" (market link number {i})"));
                wanted.push((
                    j,
                    name,
                    format!("user {user} on {} -> {}{link}", tail.name, head.name),
                ));
            }
        }
        // Names that are not a pair's (such as P1's delta) keep theirs.
        let pair_vars: HashSet<usize> = wanted.iter().map(|(j, _, _)| *j).collect();
        for (j, n) in names.iter().enumerate() {
            if !pair_vars.contains(&j) {
                taken.insert(n.clone());
            }
        }
        for (j, name, what) in wanted {
            let unique = unique_name(name, &mut taken);
            let _ = write!(map, "\n{unique} = {what}");
            names[j] = unique;
        }
        (names, map)
    }

    /// Flow conservation per commodity and node ([MCF-Grid] §4.2): inflow = outflow at
    /// every node but s_k and t_k, and the source row given by `supply`
    /// (`amounts[k]` for [`Supply::Fixed`] and [`Supply::UpToDemand`]).
    pub fn add_conservation(&mut self, g: &ExpandedGraph, supply: Supply, amounts: &[f64]) {
        // Scratch per node: the terms of the node's row for the current commodity.
        let mut terms: Vec<Vec<(usize, f64)>> = vec![Vec::new(); g.graph.node_count()];
        let mut touched: Vec<NodeIndex> = Vec::new();
        let pairs = g.pairs();
        for (k, c) in g.commodities.iter().enumerate() {
            for pair in pairs.range(k) {
                let j = self.variable_of[pair];
                if j == NO_VARIABLE {
                    continue;
                }
                for (n, a) in [(pairs.tail(pair), 1.0), (pairs.head(pair), -1.0)] {
                    if terms[n.index()].is_empty() {
                        touched.push(n);
                    }
                    terms[n.index()].push((j, a));
                }
            }
            touched.sort_unstable();
            for &n in &touched {
                let row = std::mem::take(&mut terms[n.index()]);
                if n == c.sink {
                    continue;
                }
                let name = format!("flow_{k}_{}", n.index());
                if n == c.source {
                    match supply {
                        Supply::Concurrent { delta } => {
                            let mut row = row;
                            row.push((delta, -c.demand));
                            self.lp.add_row(name, row, Cmp::Eq, 0.0);
                        }
                        Supply::Fixed => {
                            self.lp.add_row(name, row, Cmp::Eq, amounts[k]);
                        }
                        Supply::UpToDemand => {
                            self.lp.add_row(name, row, Cmp::Le, amounts[k]);
                        }
                    }
                } else {
                    self.lp.add_row(name, row, Cmp::Eq, 0.0);
                }
            }
            touched.clear();
        }
    }

    /// The single resource constraint per node:
    /// Σ_k r^k_n · (flow of k out of n) ≤ R_n, for every node of finite capacity that
    /// some included commodity can use.
    pub fn add_capacity(&mut self, g: &ExpandedGraph) {
        let mut terms: Vec<Vec<(usize, f64)>> = vec![Vec::new(); g.graph.node_count()];
        let pairs = g.pairs();
        for k in 0..g.commodities.len() {
            for pair in pairs.range(k) {
                let j = self.variable_of[pair];
                let tail = pairs.tail(pair);
                if j != NO_VARIABLE && g.node(tail).capacity.is_some() {
                    terms[tail.index()].push((j, g.resource_use(tail, k)));
                }
            }
        }
        for (n, row) in terms.into_iter().enumerate() {
            let node = g.node(NodeIndex::new(n));
            if let (Some(cap), false) = (node.capacity, row.is_empty()) {
                let name = format!("cap_{}_{}", kind_tag(node.kind), n);
                self.capacity_rows[n] = Some(self.lp.add_row(name, row, Cmp::Le, cap));
            }
        }
    }

    /// The LP variable x^k_e of a usable (edge, commodity) pair of G′
    /// ([`brokerflow_graphs::UsablePairs`]); `None` if its commodity is left out.
    pub fn variable(&self, pair: usize) -> Option<usize> {
        self.variable_of
            .get(pair)
            .copied()
            .filter(|&j| j != NO_VARIABLE)
    }

    /// Reads x back into a [`Flow`] (commodities left out carry none).
    pub fn flow(&self, g: &ExpandedGraph, x: &[f64]) -> Flow {
        let pairs = g.pairs();
        let mut flow = Flow::zero(g);
        for (k, xs) in flow.x.iter_mut().enumerate() {
            for (pair, v) in pairs.range(k).zip(xs.iter_mut()) {
                if let Some(j) = self.variable(pair) {
                    *v = x[j];
                }
            }
        }
        flow
    }
}

fn kind_tag(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::User(_) => "user",
        NodeKind::Broker(_) => "broker",
        NodeKind::Provider(_) => "provider",
        NodeKind::Bandwidth(_) => "link",
        NodeKind::Collection(_) => "sink",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brokerflow_graphs::{examples, Market};

    /// A valid CPLEX LP name: the allowed characters, not starting with a digit or a
    /// period, at most 255 characters.
    fn valid(name: &str) -> bool {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "!\"#$%&()/,.;?@_`'{}|~".contains(c);
        !name.is_empty()
            && name.len() <= 255
            && name.chars().all(allowed)
            && !name.starts_with(|c: char| c.is_ascii_digit() || c == '.')
    }

    fn export(market: &brokerflow_graphs::ValidMarket) -> (String, Vec<String>) {
        let g = ExpandedGraph::new(market);
        let f = crate::lp::welfare_formulation(&g);
        let text = f.to_cplex_lp(&g, "test");
        (text, f.export_names(&g).0)
    }

    #[test]
    fn tiny_exports_its_ids_with_a_map_back_to_the_edges() {
        let (text, names) = export(&examples::tiny());
        assert!(names.iter().all(|n| valid(n)), "{names:?}");
        let distinct: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), names.len());
        // u1's access link is a bandwidth node: u1 -> u1->b1 -> b1 (tiny.md §2).
        assert!(
            text.contains("\\ x.u1.u1~b1.b1 = user u1 on u1->b1 -> b1 (market link number 0)"),
            "{text}"
        );
        assert!(
            text.contains("\\ x.u2.p1.t(u2) = user u2 on p1 -> t(u2)"),
            "{text}"
        );
        assert!(text.contains(" x.u1.u1~b1.b1"));
        assert!(!text.contains("x_0_"), "index names left: {text}");
    }

    #[test]
    fn odd_ids_become_valid_distinct_names() {
        let long = "b".repeat(300);
        let m = Market::from_json_str(
            &format!(
                r#"{{"name":"odd","users":[
                    {{"id":"u-1","demand":1,"requirement":1,"valuation":5}},
                    {{"id":"u_1","demand":1,"requirement":1,"valuation":5}},
                    {{"id":"1ü u","demand":1,"requirement":1,"valuation":5}}],
                "brokers":[{{"id":"{long}"}}],"providers":[{{"id":"p:1"}}],
                "links":[{{"from":"u-1","to":"{long}"}},{{"from":"u_1","to":"{long}"}},
                         {{"from":"1ü u","to":"{long}"}},{{"from":"{long}","to":"p:1"}}]}}"#
            ),
            "odd",
        )
        .unwrap();
        let (text, names) = export(&m);
        assert!(names.iter().all(|n| valid(n)), "{names:?}");
        let distinct: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{names:?}");
        // u-1 and u_1 sanitise alike: the second of them is told apart.
        assert!(
            text.contains("\\ x.u_1.p_1.t(u_1) = user u-1 on p:1 -> t(u-1)"),
            "{text}"
        );
        assert!(
            text.contains("\\ x.u_1.p_1.t(u_1)#2 = user u_1 on p:1 -> t(u_1)"),
            "{text}"
        );
        assert!(
            names.iter().any(|n| n.starts_with("x.1__u.p_1.")),
            "{names:?}"
        );
        // The 300-character broker id is cut to fit.
        assert!(names.iter().any(|n| n.len() > 240), "{names:?}");
    }
}
