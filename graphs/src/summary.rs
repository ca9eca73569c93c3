//! What `brokerflow inspect` reports: sizes of the market and of G′, and demand
//! against capacity layer by layer.

use serde::Serialize;

use crate::expanded::ExpandedGraph;
use crate::market::{Market, Role};

/// Total demand against total capacity of one layer of the market.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Layer {
    /// Layer name, e.g. `brokers` or `broker->provider links`.
    pub name: &'static str,
    /// Unit of both numbers: `jobs` or `resource units` (per time unit).
    pub unit: &'static str,
    /// How many brokers, providers or links form the layer.
    pub count: usize,
    /// Σ_k d_k (jobs) or Σ_k d_k·r_k (resource units, providers).
    pub demand: f64,
    /// Σ capacity, `None` if any member is unlimited.
    pub capacity: Option<f64>,
}

/// Counts and totals of a market and its G′.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Market name.
    pub name: String,
    /// Number of users.
    pub users: usize,
    /// Number of brokers.
    pub brokers: usize,
    /// Number of providers.
    pub providers: usize,
    /// Number of links.
    pub links: usize,
    /// Nodes of G′.
    pub graph_nodes: usize,
    /// Edges of G′.
    pub graph_edges: usize,
    /// Σ_k |usable edges of k|.
    pub usable_pairs: usize,
    /// Whether G′ has a directed cycle (broker→broker links both ways).
    pub cyclic: bool,
    /// Demand vs capacity per layer, source to sink.
    pub layers: Vec<Layer>,
    /// Ids of stranded users (no eligible provider reachable through positive capacity).
    pub stranded: Vec<String>,
}

impl Summary {
    /// Summarises a market and its expanded graph G′: sizes, and per layer of the
    /// market (user → broker links, brokers, broker → broker links, broker →
    /// provider links, providers) the users' total demand against the layer's total
    /// capacity.
    ///
    /// # Arguments
    /// * `market`: the market.
    /// * `g`: its expanded graph G′.
    ///
    /// # Returns
    /// The [`Summary`].
    ///
    /// # Complexity
    /// O(N + L + K) expected time for N participants, L links and K stranded users.
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::{examples, ExpandedGraph, Summary};
    ///
    /// // tiny (graphs/markets/tiny.md §1, §2): demand 10 + 20 + 10 = 40 jobs and
    /// // 10·1 + 20·2 + 10·1 = 60 resource units; brokers hold 25 + 20 jobs, providers
    /// // 15 + 19 units; u2's and u3's access links are unlimited.
    /// let m = examples::tiny();
    /// let s = Summary::new(&m, &ExpandedGraph::new(&m));
    /// assert_eq!((s.graph_nodes, s.graph_edges, s.usable_pairs), (13, 13, 16));
    /// let layer = |name: &str| s.layers.iter().find(|l| l.name == name).unwrap();
    /// assert_eq!((layer("brokers").demand, layer("brokers").capacity), (40.0, Some(45.0)));
    /// assert_eq!((layer("providers").demand, layer("providers").capacity), (60.0, Some(34.0)));
    /// assert_eq!(layer("user->broker links").capacity, None);
    /// ```
    ///
    /// Paper: [MCF-Grid] §4.1 (the market's layers), §6 (contention: demand over
    /// capacity).
    pub fn new(market: &Market, g: &ExpandedGraph) -> Summary {
        // `+ 0.0` turns the empty sum's -0.0 into 0.
        let jobs: f64 = market.users.iter().map(|u| u.demand).sum::<f64>() + 0.0;
        let units: f64 = market
            .users
            .iter()
            .map(|u| u.demand * u.requirement)
            .sum::<f64>()
            + 0.0;
        let total = |caps: Vec<Option<f64>>| -> (usize, Option<f64>) {
            let n = caps.len();
            (n, caps.into_iter().sum::<Option<f64>>().map(|c| c + 0.0))
        };
        // One role table, not a scan of every participant per link end.
        let roles: std::collections::HashMap<&str, Role> = (market.users.iter())
            .map(|u| (u.id.as_str(), Role::User))
            .chain(market.brokers.iter().map(|b| (b.id.as_str(), Role::Broker)))
            .chain(
                market
                    .providers
                    .iter()
                    .map(|p| (p.id.as_str(), Role::Provider)),
            )
            .collect();
        let role_of = |id: &str| roles.get(id).copied();
        let links = |from: Role, to: Role| {
            total(
                market
                    .links
                    .iter()
                    .filter(|l| role_of(&l.from) == Some(from) && role_of(&l.to) == Some(to))
                    .map(|l| l.bandwidth)
                    .collect(),
            )
        };
        let layer = |name, unit, demand, (count, capacity): (usize, Option<f64>)| Layer {
            name,
            unit,
            count,
            demand,
            capacity,
        };
        let layers = vec![
            layer(
                "user->broker links",
                "jobs",
                jobs,
                links(Role::User, Role::Broker),
            ),
            layer(
                "brokers",
                "jobs",
                jobs,
                total(market.brokers.iter().map(|b| b.capacity).collect()),
            ),
            layer(
                "broker->broker links",
                "jobs",
                jobs,
                links(Role::Broker, Role::Broker),
            ),
            layer(
                "broker->provider links",
                "jobs",
                jobs,
                links(Role::Broker, Role::Provider),
            ),
            layer(
                "providers",
                "resource units",
                units,
                total(market.providers.iter().map(|p| p.capacity).collect()),
            ),
        ];
        Summary {
            name: market.name.clone(),
            users: market.users.len(),
            brokers: market.brokers.len(),
            providers: market.providers.len(),
            links: market.links.len(),
            graph_nodes: g.graph.node_count(),
            graph_edges: g.graph.edge_count(),
            usable_pairs: g.usable_pairs(),
            cyclic: g.is_cyclic(),
            layers,
            stranded: g.stranded().map(|c| c.id.clone()).collect(),
        }
    }
}

impl Summary {
    /// The summary as `brokerflow inspect` prints it: participants, G′'s size, demand
    /// against capacity per layer (capacity also as a share of the layer's demand),
    /// and the stranded users.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(out, "market {}", self.name);
        let _ = writeln!(
            out,
            "  participants: {}, {}, {}, {}",
            count(self.users, "user"),
            count(self.brokers, "broker"),
            count(self.providers, "provider"),
            count(self.links, "link")
        );
        let _ = writeln!(
            out,
            "  expanded graph G': {} nodes, {} edges, {} usable (edge, commodity) pairs{}",
            self.graph_nodes,
            self.graph_edges,
            self.usable_pairs,
            if self.cyclic {
                ", has cycles"
            } else {
                ", acyclic"
            }
        );
        let _ = writeln!(out, "  demand vs capacity per layer (per time unit):");
        for l in &self.layers {
            let cap = match (l.count, l.capacity) {
                (0, _) => "none in this market".to_string(),
                (_, None) => "unlimited".to_string(),
                (_, Some(c)) => format!("{} ({})", number(c), share_of_demand(c, l.demand)),
            };
            let _ = writeln!(
                out,
                "    {:<24} {:>4}  demand {:>12} {:<14}  capacity {}",
                l.name,
                l.count,
                number(l.demand),
                l.unit,
                cap
            );
        }
        if self.stranded.is_empty() {
            let _ = writeln!(out, "  stranded users: none");
        } else {
            let _ = writeln!(
                out,
                "  stranded users (reach no eligible provider with capacity): {}",
                self.stranded.join(", ")
            );
        }
        out
    }
}

/// `n` and the noun, in the plural unless `n` is 1: "1 broker", "2 brokers".
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Capacity as a share of the layer's demand; "no demand" when there is none.
fn share_of_demand(c: f64, d: f64) -> String {
    if d > 0.0 {
        format!("{:.0}% of demand", 100.0 * c / d)
    } else {
        "no demand".to_string()
    }
}

/// A whole number without decimals, anything else with 3.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_of_tiny_names_its_participants_and_layers() {
        let m = crate::examples::tiny();
        let text = Summary::new(&m, &ExpandedGraph::new(&m)).to_text();
        assert!(text.starts_with(&format!("market {}\n", m.name)), "{text}");
        let participants = format!(
            "  participants: {}, {}, {}, {}\n",
            count(m.users.len(), "user"),
            count(m.brokers.len(), "broker"),
            count(m.providers.len(), "provider"),
            count(m.links.len(), "link")
        );
        assert!(text.contains(&participants), "{text}");
        assert!(text.contains("  demand vs capacity per layer (per time unit):\n"));
    }

    #[test]
    fn counts_numbers_and_shares_read_as_words() {
        assert_eq!(count(1, "user"), "1 user");
        assert_eq!(count(3, "user"), "3 users");
        assert_eq!(number(12.0), "12");
        assert_eq!(number(0.5), "0.500");
        assert_eq!(share_of_demand(1.0, 2.0), "50% of demand");
        assert_eq!(share_of_demand(1.0, 0.0), "no demand");
    }
}
