//! The bundled example markets (`graphs/markets/*.json`), compiled into the crate so
//! doc-tests, unit tests and other crates' tests can use them without touching the
//! file system.
//!
//! - [`tiny`]: 3 users, 2 brokers, 2 providers; every LP optimum of design §4 (δ*,
//!   P2, P2⁻, P3 with its prices) is worked out by hand in `graphs/markets/tiny.md`
//!   and recorded in the file's `meta.hand_optima`.
//! - [`figure3`]: 5 users, 5 brokers, 5 providers, shaped like [MCF-Grid]'s Figure 3.
//! - [`linked`]: two broker markets linked both ways, so G′ has a directed cycle.
//! - [`posted`]: 2 users, 1 broker, 2 providers with a posted-price table ([MCF-Grid]
//!   §4.1), so `settle --mechanism posted` has an example; its statement is worked
//!   out by hand in `solvers/tests/settle_hand.rs`.
//!
//! ```
//! use brokerflow_graphs::{examples, ExpandedGraph};
//! let g = ExpandedGraph::new(&examples::tiny());
//! // 3 users + 2 brokers + 2 providers + 3 bandwidth nodes + 3 collection points
//! assert_eq!(g.graph.node_count(), 13);
//! assert!(!g.is_cyclic());
//! assert!(ExpandedGraph::new(&examples::linked()).is_cyclic());
//! ```

use crate::market::{Market, ValidMarket};

/// The JSON text of `graphs/markets/tiny.json`.
pub const TINY_JSON: &str = include_str!("../markets/tiny.json");
/// The JSON text of `graphs/markets/figure3.json`.
pub const FIGURE3_JSON: &str = include_str!("../markets/figure3.json");
/// The JSON text of `graphs/markets/linked.json`.
pub const LINKED_JSON: &str = include_str!("../markets/linked.json");
/// The JSON text of `graphs/markets/posted.json`.
pub const POSTED_JSON: &str = include_str!("../markets/posted.json");

/// Parses one bundled file. These files ship with the crate and are checked by its
/// tests, so failing here is a build defect, not an input error.
fn bundled(text: &str, origin: &str) -> ValidMarket {
    Market::from_json_str(text, origin)
        .unwrap_or_else(|e| panic!("bundled example market {origin} is invalid: {e}"))
}

/// `tiny`: the hand-solved market (see `graphs/markets/tiny.md`).
pub fn tiny() -> ValidMarket {
    bundled(TINY_JSON, "graphs/markets/tiny.json")
}

/// `figure3`: 5 users, 5 brokers, 5 providers in the shape of [MCF-Grid] Figure 3.
pub fn figure3() -> ValidMarket {
    bundled(FIGURE3_JSON, "graphs/markets/figure3.json")
}

/// `linked`: two broker markets linked both ways by broker→broker links.
pub fn linked() -> ValidMarket {
    bundled(LINKED_JSON, "graphs/markets/linked.json")
}

/// `posted`: a one-broker market with posted prices per job ([MCF-Grid] §4.1, design
/// §2), the bundled example for `settle --mechanism posted`.
pub fn posted() -> ValidMarket {
    bundled(POSTED_JSON, "graphs/markets/posted.json")
}
