//! The market as a user writes it (design §2–§3, [MCF-Grid] §4.1): users, brokers,
//! providers, links and optional posted prices.
//!
//! These types mirror the JSON file one to one. A [`Market`] obtained through
//! [`Market::from_json_str`] or [`Market::load`] has passed every rule of design §3;
//! one built by hand can be checked with [`Market::validate`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::MarketError;

/// A linked grid market: the input of every brokerflow computation (design §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Market {
    /// A human name for the market, printed in reports.
    pub name: String,
    /// Users, one commodity (job stream) each.
    pub users: Vec<User>,
    /// Brokers: forward jobs from users (or linked brokers) to providers.
    pub brokers: Vec<Broker>,
    /// Providers: run jobs, each needing the user's requirement in resource units.
    pub providers: Vec<Provider>,
    /// Directed links user→broker, broker→broker or broker→provider.
    pub links: Vec<Link>,
    /// Posted prices per job, charged by brokers and providers ([MCF-Grid] §4.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<Prices>,
    /// Free-form provenance (generator, seed, version, hand-derived optima).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
}

/// User k: the source s_k of one commodity (design §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct User {
    /// Unique id across all roles.
    pub id: String,
    /// d_k: jobs per time unit the user wants run.
    pub demand: f64,
    /// r_k: resource units one job needs at a provider (positive).
    pub requirement: f64,
    /// v_k: the user's value (its bid) per job processed.
    pub valuation: f64,
    /// The only providers able to run this user's jobs; `None` means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligible: Option<Vec<String>>,
}

/// Broker b: forwards jobs; every job through it uses one unit of R_b (design §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Broker {
    /// Unique id across all roles.
    pub id: String,
    /// R_b in jobs per time unit; `None` is unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<f64>,
    /// c_b per job forwarded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cost: f64,
}

/// Provider p: runs jobs; a job of user k uses r_k of R_p and costs c_p·r_k (design §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Provider {
    /// Unique id across all roles.
    pub id: String,
    /// R_p in resource units per time unit; `None` is unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<f64>,
    /// c_p per resource unit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cost: f64,
}

/// A directed link (u, v) with bandwidth B_uv jobs and cost c_uv per job (design §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Link {
    /// Sending endpoint u.
    pub from: String,
    /// Receiving endpoint v.
    pub to: String,
    /// B_uv in jobs per time unit; `None` is unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<f64>,
    /// c_uv per job sent, paid by the sender.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cost: f64,
}

/// Posted prices π^k_n per job: `broker[b][k]` and `provider[p][k]` ([MCF-Grid] §4.1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Prices {
    /// Broker id → user id → price per job.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub broker: BTreeMap<String, BTreeMap<String, f64>>,
    /// Provider id → user id → price per job.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provider: BTreeMap<String, BTreeMap<String, f64>>,
}

// Every record of the file is read from a JSON object only (crate::json).
crate::object_only!(Market, "the market", serialize);
crate::object_only!(User, "a user", serialize);
crate::object_only!(Broker, "a broker", serialize);
crate::object_only!(Provider, "a provider", serialize);
crate::object_only!(Link, "a link", serialize);
crate::object_only!(Prices, "the prices table", serialize);

/// The role of a market participant (design §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A user (job source).
    User,
    /// A broker.
    Broker,
    /// A provider.
    Provider,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::User => "user",
            Role::Broker => "broker",
            Role::Provider => "provider",
        })
    }
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// A market that passed every rule of design §3: the only input G′
/// ([`crate::ExpandedGraph::new`]) and the solvers accept, so code that edits a market
/// cannot reach a panic or a wrong answer — it must validate again
/// ([`ValidMarket::into_market`], edit, [`Market::validate`]).
///
/// Reads as a [`Market`] (it dereferences to one); cannot be changed in place.
///
/// ```
/// use brokerflow_graphs::examples;
/// let mut m = examples::tiny().into_market();
/// m.users[0].demand = -1.0;
/// assert!(m.validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ValidMarket(Market);

impl std::ops::Deref for ValidMarket {
    type Target = Market;
    fn deref(&self) -> &Market {
        &self.0
    }
}

impl ValidMarket {
    /// The market itself, to edit (then [`Market::validate`] it again).
    pub fn into_market(self) -> Market {
        self.0
    }

    /// The market, read-only.
    pub fn market(&self) -> &Market {
        &self.0
    }
}

impl Market {
    /// Parses and validates a market from JSON text. `origin` names the input in
    /// error messages (usually the file name).
    pub fn from_json_str(text: &str, origin: &str) -> Result<ValidMarket, MarketError> {
        // A byte-order mark is not part of JSON, but editors write one: skip it.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let parse_error = |path: String, message: String| MarketError::Parse {
            origin: origin.to_string(),
            path,
            message,
        };
        if let Some(hint) = not_a_market_hint(text) {
            return Err(parse_error(String::new(), hint));
        }
        let de = &mut serde_json::Deserializer::from_str(text);
        let market: Market = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
            let inner = e.inner();
            let message = if inner.is_eof() {
                format!("the text ends before the market is complete (a truncated file?): {inner}")
            } else {
                inner.to_string()
            };
            // Where the text ends inside a key the path reader answers "?": name the
            // enclosing value rather than that.
            let path = e.path().to_string();
            let path = path.trim_end_matches('?').trim_end_matches('.').to_string();
            parse_error(path, message)
        })?;
        // Trailing text after the object is an error too, not silently ignored.
        de.end().map_err(|e| {
            parse_error(
                String::new(),
                format!("unexpected text after the market object: {e}"),
            )
        })?;
        crate::json::unique_keys(text).map_err(|e| parse_error(e.path, e.message))?;
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

    /// Checks every rule of design §3 and returns the market as a [`ValidMarket`]; the
    /// error names the offender and the rule.
    pub fn validate(self) -> Result<ValidMarket, MarketError> {
        self.validate_as("<market>")
    }

    /// Checks every rule of design §3 without taking the market (for a yes/no answer;
    /// to build G′, [`Market::validate`] it).
    pub fn check(&self) -> Result<(), MarketError> {
        crate::validate::validate(self, "<market>")
    }

    /// Like [`Market::validate`], naming the input `origin` in the error.
    pub fn validate_as(self, origin: &str) -> Result<ValidMarket, MarketError> {
        crate::validate::validate(&self, origin)?;
        Ok(ValidMarket(self))
    }

    /// The market as pretty-printed JSON, in the file format it was read from.
    pub fn to_json_pretty(&self) -> String {
        // Serialising plain structs of strings and finite floats cannot fail.
        let mut s = serde_json::to_string_pretty(self).expect("market serialises");
        s.push('\n');
        s
    }

    /// The role of the participant with this id, if any.
    pub fn role_of(&self, id: &str) -> Option<Role> {
        if self.users.iter().any(|u| u.id == id) {
            Some(Role::User)
        } else if self.brokers.iter().any(|b| b.id == id) {
            Some(Role::Broker)
        } else if self.providers.iter().any(|p| p.id == id) {
            Some(Role::Provider)
        } else {
            None
        }
    }

    /// Whether provider `provider` may run jobs of `user` (its `eligible` list).
    pub fn is_eligible(user: &User, provider: &str) -> bool {
        match &user.eligible {
            None => true,
            Some(list) => list.iter().any(|p| p == provider),
        }
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
