//! # brokerflow-graphs
//!
//! The market model of brokerflow (design §2–§3, [MCF-Grid] §4.1): the market file and
//! its validation, the expanded multi-commodity flow graph G′ that every solver
//! consumes, random market generation (design §7), and file formats.
//!
//! Data flows one way: file → [`Market`] → [`ExpandedGraph`] → solver. This crate
//! knows no solver.
//!
//! ```
//! use brokerflow_graphs::{ExpandedGraph, Market};
//! let text = r#"{"name": "one path",
//!   "users": [{"id": "u", "demand": 10, "requirement": 1, "valuation": 5}],
//!   "brokers": [{"id": "b", "capacity": 8}], "providers": [{"id": "p"}],
//!   "links": [{"from": "u", "to": "b", "bandwidth": 6}, {"from": "b", "to": "p"}]}"#;
//! let market = Market::from_json_str(text, "inline")?;
//! let g = ExpandedGraph::new(&market);
//! // u, b, p, the bandwidth node u->b and the collection point t(u)
//! assert_eq!(g.graph.node_count(), 5);
//! assert_eq!(g.commodities[0].usable.len(), 4);
//! # Ok::<_, brokerflow_graphs::MarketError>(())
//! ```

pub mod commands;
pub mod error;
pub mod examples;
pub mod expanded;
pub mod flow;
pub mod formats;
pub mod generate;
pub mod json;
pub mod market;
pub mod order;
pub mod pairs;
mod read;
pub mod role;
pub mod summary;
pub mod text;
pub mod usage;
mod validate;

pub use error::{MarketError, Rule, MONEY_LIMIT};
pub use expanded::{Commodity, Edge, ExpandedGraph, Node, NodeKind};
pub use flow::Flow;
pub use market::{Broker, Link, Market, Prices, Provider, Role, User, ValidMarket};
pub use order::TotalOrder;
pub use pairs::UsablePairs;
pub use summary::Summary;
pub use usage::Usage;
pub use validate::id_problem;

/// This crate's version, recorded in every output's provenance (design §8).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// SHA-256 of an input's bytes as lowercase hex: the input hash in provenance records.
pub fn input_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
