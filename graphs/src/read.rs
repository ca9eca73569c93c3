//! Reading a market file: JSON text → a validated market (design §3), with errors that
//! name the input, the JSON path and the rule.

use std::path::Path;

use crate::error::MarketError;
use crate::json::ParseError;
use crate::market::{Market, ValidMarket};

impl Market {
    /// Parses and validates a market from JSON text. `origin` names the input in
    /// error messages (usually the file name).
    pub fn from_json_str(text: &str, origin: &str) -> Result<ValidMarket, MarketError> {
        if let Some(hint) = not_a_market_hint(text.strip_prefix('\u{feff}').unwrap_or(text)) {
            return Err(MarketError::Parse(ParseError {
                origin: origin.to_string(),
                path: String::new(),
                message: hint,
            }));
        }
        // (The hint above answers an empty file, so the reader's own message is unused.)
        let market: Market = crate::json::read(text, origin, "market", "")?;
        market.validate_as(origin)
    }

    /// Reads, parses and validates a market file.
    pub fn load(path: impl AsRef<Path>) -> Result<ValidMarket, MarketError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| MarketError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Market::from_json_str(&text, &path.display().to_string())
    }
}

/// Why `text` cannot be a market file before parsing it as one, in words a user can act
/// on: empty, not a JSON object, or another format `brokerflow import` reads.
fn not_a_market_hint(text: &str) -> Option<String> {
    let body = text.trim_start();
    let first_line = body.lines().next().unwrap_or("").trim();
    if body.is_empty() {
        return Some(
            "the file is empty; a market is a JSON object {\"name\": …, \"users\": […], \"brokers\": […], \"providers\": […], \"links\": […]}".to_string(),
        );
    }
    if body.starts_with('{') {
        return None;
    }
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(body) {
        let kind = match value {
            serde_json::Value::Array(_) => "an array",
            serde_json::Value::String(_) => "a string",
            serde_json::Value::Number(_) => "a number",
            serde_json::Value::Bool(_) => "a boolean",
            _ => "null",
        };
        return Some(format!("a market is a JSON object ({{…}}), not {kind}"));
    }
    let sndlib = body.contains("NODES (") || first_line.starts_with("?SNDlib");
    if sndlib {
        return Some(
            "this is not JSON but looks like an SNDlib network; convert it with `brokerflow import --format sndlib FILE -o market.json`".to_string(),
        );
    }
    let mcf = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && *l != "c" && !l.starts_with("c "))
        .is_some_and(|l| l.starts_with("p mcf") || l.starts_with("p "));
    if mcf {
        return Some(
            "this is not JSON but looks like a multicommodity-flow benchmark (Larsson–Yuan format); convert it with `brokerflow import --format mcf FILE -o market.json`".to_string(),
        );
    }
    let key_value = first_line
        .split_once([':', '='])
        .is_some_and(|(k, _)| !k.trim().is_empty() && !k.contains(char::is_whitespace));
    if key_value || first_line.starts_with("---") || first_line.starts_with('#') {
        return Some(
            "a market file is JSON (an object starting with '{'), not YAML or TOML; see the README's \"The market file\"".to_string(),
        );
    }
    Some("not JSON: a market file is a JSON object starting with '{'".to_string())
}
