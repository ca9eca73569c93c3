//! `mca run` and `mca explore` as a command line gives them (\[MCA-Alloy\]): the
//! scenario file, the policy and rule overrides, the explorer's bounds and message
//! order, sampling; turned into [`report`]'s calls. Each field's doc is its flag's help.

use std::path::{Path, PathBuf};

use super::explore::Channels;
#[cfg(feature = "clap")]
use super::explore::{DEFAULT_MAX_DELIVERIES, DEFAULT_MAX_STATES};
use super::report::{self, ExploreConfig, ScenarioInput};
use super::{ExploreOptions, McaError};

/// Max-consensus auctions: run a scenario, or explore every delivery order.
///
/// A scenario file (JSON) names `agents`, `items`, optional `neighbours` (pairs;
/// absent = complete graph), `values` (agent → {"A+B": value}; a bundle without an
/// entry is worth the sum of its items), `policy` (`release_outbid`,
/// `target_bundle`, `rebid_lost`) and optional `rules` (`cbba`, the default:
/// Choi–Brunet–How's information-time rules; or `bid-time`: the bid-time rules
/// that reproduce the Alloy model's findings). See experiments/mca/.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct McaCommand {
    /// Which mode.
    #[cfg_attr(feature = "clap", command(subcommand))]
    pub mode: McaMode,
}

/// `mca run` or `mca explore`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::Subcommand))]
pub enum McaMode {
    /// Synchronous rounds (every agent bids, then every message of the round is
    /// delivered) until nobody has anything new to send.
    Run(RunSettings),
    /// Every asynchronous delivery order, breadth-first, with a verdict per policy
    /// combination: converges, oscillates, or no-consensus-within-bound.
    Explore(ExploreSettings),
}

/// Arguments of `mca run`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct RunSettings {
    /// Scenario file (JSON).
    pub scenario: PathBuf,
    /// Run this policy instead of the file's (e.g. release-T2, keep-T1-rebid).
    #[cfg_attr(feature = "clap", arg(long))]
    pub policy: Option<String>,
    /// Conflict rules instead of the file's: cbba (information times, the
    /// default) or bid-time.
    #[cfg_attr(feature = "clap", arg(long))]
    pub rules: Option<String>,
    /// Print one JSON object: consensus, rounds, messages, assignment, value,
    /// optimum, bound, ended, provenance.
    #[cfg_attr(feature = "clap", arg(long))]
    pub json: bool,
}

/// Arguments of `mca explore`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ExploreSettings {
    /// Scenario file (JSON).
    pub scenario: PathBuf,
    /// `all` (release-outbid × target bundle 1…|J| × rebid-lost), a comma-separated
    /// list of names (release-T2, keep-T1-rebid, …), or by default the file's own
    /// policy.
    #[cfg_attr(feature = "clap", arg(long))]
    pub policies: Option<String>,
    /// Conflict rules: cbba, bid-time, or all (both, cbba first); by default the
    /// file's (cbba if it names none).
    #[cfg_attr(feature = "clap", arg(long))]
    pub rules: Option<String>,
    /// Executions are followed for at most this many deliveries; a state at the
    /// bound with messages still in flight counts as no consensus within the bound.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = DEFAULT_MAX_DELIVERIES))]
    pub max_deliveries: usize,
    /// How links order messages: latest (a link holds only the sender's newest
    /// view; the default: a finite state space), fifo (each link delivers every
    /// view in send order) or unordered (any message may overtake another).
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "latest"))]
    pub channels: Channels,
    /// Refuse an exploration beyond this many distinct states.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = DEFAULT_MAX_STATES))]
    pub max_states: usize,
    /// Instead of every delivery order, run this many random ones (each message
    /// chosen uniformly among those deliverable) and count how they end: evidence
    /// where exhaustive search is too large, not a verdict.
    #[cfg_attr(feature = "clap", arg(long, value_name = "WALKS"))]
    pub sample: Option<usize>,
    /// Seed of --sample's generator (xorshift64).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1))]
    pub seed: u64,
    /// Print JSON: for one policy and rule set {policy, rules, verdict, states,
    /// deliveries, trace}, for several {results: [...]}; with provenance.
    #[cfg_attr(feature = "clap", arg(long))]
    pub json: bool,
}

impl McaCommand {
    /// The scenario file the mode reads.
    pub fn scenario(&self) -> &Path {
        match &self.mode {
            McaMode::Run(a) => &a.scenario,
            McaMode::Explore(a) => &a.scenario,
        }
    }

    /// The mode's report on the scenario `input` ([`report::run_report`] or
    /// [`report::explore_report`]): text, or JSON when asked for.
    ///
    /// # Errors
    /// A policy or rule-set name that does not parse; an exploration beyond its state
    /// limit.
    pub fn report(&self, input: &ScenarioInput) -> Result<String, McaError> {
        match &self.mode {
            McaMode::Run(a) => {
                report::run_report(input, a.policy.as_deref(), a.rules.as_deref(), a.json)
            }
            McaMode::Explore(a) => {
                let config = ExploreConfig {
                    policies: a.policies.clone(),
                    rules: a.rules.clone(),
                    options: ExploreOptions {
                        max_deliveries: a.max_deliveries,
                        max_states: a.max_states,
                        channels: a.channels,
                    },
                    sample: a.sample,
                    seed: a.seed,
                    json: a.json,
                };
                report::explore_report(input, &config)
            }
        }
    }
}
