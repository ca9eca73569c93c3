//! Shared by the graphs crate's integration tests: the bundled files under
//! `graphs/markets/` and the refusal of a market text.

// Each test crate that includes this module uses part of it.
#![allow(dead_code)]

use brokerflow_graphs::{Market, MarketError};

/// The path of `rel` under the bundled `graphs/markets/` (`mcf/grid1.txt`).
pub fn bundled_path(rel: &str) -> String {
    format!("{}/markets/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// The text of the bundled file `rel`, panicking with its path if unreadable.
pub fn bundled_text(rel: &str) -> String {
    let path = bundled_path(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The error of a market `text` (read as file `origin`) that must be refused.
pub fn refuse(text: &str, origin: &str) -> MarketError {
    match Market::from_json_str(text, origin) {
        Ok(m) => panic!("accepted a bad market: {m:?}\n{text}"),
        Err(e) => e,
    }
}
