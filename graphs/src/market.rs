//! The market as a user writes it (design §2–§3, [MCF-Grid] §4.1): users, brokers,
//! providers, links and optional posted prices.
//!
//! These types mirror the JSON file one to one. A [`Market`] obtained through
//! [`Market::from_json_str`] or [`Market::load`] has passed every rule of design §3;
//! one built by hand can be checked with [`Market::validate`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::role::Role;

/// A linked market-based grid ([MCF-Grid] §4.1): users, brokers, providers and the
/// links between them, the input of every brokerflow computation (file format:
/// design §3).
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

/// User k: the source s_k of one commodity ([MCF-Grid] §4.1.1, design §2).
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

/// Broker b: forwards jobs; every job through it uses one unit of R_b ([MCF-Grid]
/// §4.1.2, design §2).
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

/// Provider p: runs jobs; a job of user k uses r_k of R_p and costs c_p·r_k
/// ([MCF-Grid] §4.1.3, design §2).
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

/// A directed link (u, v) with bandwidth B_uv jobs and cost c_uv per job ([MCF-Grid]
/// §4.1.5, design §2).
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
pub struct ValidMarket(pub(crate) Market);

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
