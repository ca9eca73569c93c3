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
    /// Summarises a market and its expanded graph.
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
        // One id → role map, so the per-layer link counts are linear in the links.
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
