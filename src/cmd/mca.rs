//! `brokerflow mca`: max-consensus auctions on a scenario file — a synchronous run,
//! or an exhaustive exploration of every asynchronous delivery order ([MCA-Alloy]).
//! The runs and their reports are `brokerflow_solvers::mca::report`'s.

use std::path::{Path, PathBuf};

use brokerflow_solvers::mca::explore::{Channels, DEFAULT_MAX_DELIVERIES, DEFAULT_MAX_STATES};
use brokerflow_solvers::mca::report::{self, ExploreConfig, ScenarioInput};
use brokerflow_solvers::mca::ExploreOptions;

/// Max-consensus auctions: run a scenario, or explore every delivery order.
///
/// A scenario file (JSON) names `agents`, `items`, optional `neighbours` (pairs;
/// absent = complete graph), `values` (agent → {"A+B": value}; a bundle without an
/// entry is worth the sum of its items), `policy` (`release_outbid`,
/// `target_bundle`, `rebid_lost`) and optional `rules` (`cbba`, the default:
/// Choi–Brunet–How's information-time rules; or `bid-time`: the bid-time rules
/// that reproduce the Alloy model's findings). See experiments/mca/.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub mode: Mode,
}

/// `mca run` or `mca explore`.
#[derive(Debug, clap::Subcommand)]
pub enum Mode {
    /// Synchronous rounds (every agent bids, then every message of the round is
    /// delivered) until nobody has anything new to send.
    Run(RunArgs),
    /// Every asynchronous delivery order, breadth-first, with a verdict per policy
    /// combination: converges, oscillates, or no-consensus-within-bound.
    Explore(ExploreArgs),
}

/// Arguments of `mca run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (JSON).
    pub scenario: PathBuf,
    /// Run this policy instead of the file's (e.g. release-T2, keep-T1-rebid).
    #[arg(long)]
    pub policy: Option<String>,
    /// Conflict rules instead of the file's: cbba (information times, the
    /// default) or bid-time.
    #[arg(long)]
    pub rules: Option<String>,
    /// Print one JSON object: consensus, rounds, messages, assignment, value,
    /// optimum, bound, ended, provenance.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `mca explore`.
#[derive(Debug, clap::Args)]
pub struct ExploreArgs {
    /// Scenario file (JSON).
    pub scenario: PathBuf,
    /// `all` (release-outbid × target bundle 1…|J| × rebid-lost), a comma-separated
    /// list of names (release-T2, keep-T1-rebid, …), or by default the file's own
    /// policy.
    #[arg(long)]
    pub policies: Option<String>,
    /// Conflict rules: cbba, bid-time, or all (both, cbba first); by default the
    /// file's (cbba if it names none).
    #[arg(long)]
    pub rules: Option<String>,
    /// Executions are followed for at most this many deliveries; a state at the
    /// bound with messages still in flight counts as no consensus within the bound.
    #[arg(long, default_value_t = DEFAULT_MAX_DELIVERIES)]
    pub max_deliveries: usize,
    /// How links order messages: latest (a link holds only the sender's newest
    /// view; the default: a finite state space), fifo (each link delivers every
    /// view in send order) or unordered (any message may overtake another).
    #[arg(long, value_enum, default_value = "latest")]
    pub channels: Channels,
    /// Refuse an exploration beyond this many distinct states.
    #[arg(long, default_value_t = DEFAULT_MAX_STATES)]
    pub max_states: usize,
    /// Instead of every delivery order, run this many random ones (each message
    /// chosen uniformly among those deliverable) and count how they end: evidence
    /// where exhaustive search is too large, not a verdict.
    #[arg(long, value_name = "WALKS")]
    pub sample: Option<usize>,
    /// Seed of --sample's generator (xorshift64).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print JSON: for one policy and rule set {policy, rules, verdict, states,
    /// deliveries, trace}, for several {results: [...]}; with provenance.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mca`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let text = match args.mode {
        Mode::Run(a) => {
            let input = load(&a.scenario)?;
            report::run_report(&input, a.policy.as_deref(), a.rules.as_deref(), a.json)?
        }
        Mode::Explore(a) => {
            let input = load(&a.scenario)?;
            let config = ExploreConfig {
                policies: a.policies,
                rules: a.rules,
                options: ExploreOptions {
                    max_deliveries: a.max_deliveries,
                    max_states: a.max_states,
                    channels: a.channels,
                },
                sample: a.sample,
                seed: a.seed,
                json: a.json,
            };
            report::explore_report(&input, &config)?
        }
    };
    print!("{text}");
    Ok(())
}

/// Reads a scenario file (UTF-8 text), naming it in errors.
fn load(path: &Path) -> anyhow::Result<ScenarioInput> {
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{}: not UTF-8 text", path.display()))?;
    Ok(ScenarioInput::read(&text, &path.display().to_string())?)
}
