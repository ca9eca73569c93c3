//! The roles of market participants (design §2), shared by the market types and
//! their errors.

use serde::{Deserialize, Serialize};

/// The role of a market participant: user, broker or provider ([MCF-Grid] §4.1,
/// design §2).
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

impl Role {
    /// The three roles of [MCF-Grid]'s market in their order along a job's path: users
    /// submit jobs, brokers forward them, providers run them (also the order of a
    /// market file's sections and of `Ord`).
    pub const ALL: [Role; 3] = [Role::User, Role::Broker, Role::Provider];
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
