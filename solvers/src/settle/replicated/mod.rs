//! The replicated auctioneer (design §10; [Dist-Auctioneer]): the settlement computed
//! by m of the market's providers, with no trusted centre, so that a coalition of at
//! most k deviating providers can make it abort but never bend it.
//!
//! Every replica is a separate worker (a thread) that talks to the others only
//! through a [`Transport`] — in-process [`Channels`] or loopback TCP ([`tcp`]) — and
//! runs the phases of [Dist-Auctioneer]'s framework in order:
//!
//! 1. [`bid_agreement`]: every bidder sends its bid to every replica; each replica
//!    broadcasts the vector it received, and a bid is agreed where at least m − k
//!    replicas echo the same value (at most one value can: m − k > m/2), otherwise
//!    its bidder is excluded. Deterministic in the echoes, which every replica
//!    receives alike, so every honest replica agrees on the same vector.
//! 2. [`input_validation`]: every replica broadcasts SHA-256 of its agreed vector;
//!    any two that differ → abort.
//! 3. [`coin`]: the common coin, commit–reveal over SHA-256; a reveal that does not
//!    match its commitment → abort.
//! 4. [`tasks`]: the allocation (P3, [`Allocation::lp`](crate::settle::Allocation::lp)) on every replica; for vcg
//!    the payments split over ⌊m/(k+1)⌋ [`PaymentGroup`]s of at least k + 1
//!    replicas each, which compute their share in parallel ([`VcgPayments`](crate::settle::vcg::VcgPayments)) and send
//!    it to every replica by data transfer; a receiver that sees two different
//!    values for one payment → abort. mcafee is one cheap task run by every replica
//!    ([Dist-Auctioneer] §V-B1: "every provider executes A locally").
//! 5. [`output`]: every replica broadcasts SHA-256 of its outcome; any mismatch →
//!    abort.
//!
//! The tasks call the centralised mechanism code itself, so an honest run's
//! statement is bit for bit the one `settle` computes in one process.
//!
//! **What the coin decides.** vcg and mcafee are deterministic (design §6: ties break
//! by market order), so no random number may change a statement that must equal the
//! centralised one. The coin decides which payment group computes whose payment: a
//! coalition cannot know before the coin which payments its group will compute.
//!
//! **The threshold.** With at most k deviators every payment group (≥ k + 1 members)
//! has an honest member, whose result exposes any forgery; k + 1 colluders that make
//! up a whole group send the same forged payment and it is accepted. That is why
//! groups have at least k + 1 replicas and why at most ⌊m/(k+1)⌋ run in parallel.
//!
//! **Timeouts.** The paper's model is asynchronous with reliable channels; a real
//! deployment needs a bound. Every wait for a step's messages lasts at most
//! [`ReplicationConfig::timeout`]; a replica that sends nothing by then is named as
//! silent, one whose connection closes (a killed process) as disconnected.

pub mod bid_agreement;
pub mod coin;
pub mod deviation;
pub mod input_validation;
pub mod link;
pub mod output;
mod replica;
pub mod settings;
pub mod tasks;
pub mod tcp;
pub mod transport;
pub mod wire;

use std::time::{Duration, Instant};

use brokerflow_graphs::Market;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{Mechanism, SettleOptions, Statement};
pub use bid_agreement::BidVector;
pub use deviation::{Deviation, DeviationError};
pub use link::Link;
pub use settings::{ReplicationSettings, ReplicationSettingsError};
pub use tasks::PaymentGroup;
pub use transport::{Channels, Event, Transport};

/// The phases of design §10, in protocol order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Bidders' bids echoed and agreed ([`bid_agreement`]).
    BidAgreement,
    /// The agreed vectors' hashes compared ([`input_validation`]).
    InputValidation,
    /// The common coin ([`coin`]).
    Coin,
    /// The task graph: allocation, payment groups, data transfer ([`tasks`]).
    Tasks,
    /// The outcomes' hashes compared ([`output`]).
    Output,
}

impl Phase {
    /// Every phase, in protocol order.
    pub const ALL: [Phase; 5] = [
        Phase::BidAgreement,
        Phase::InputValidation,
        Phase::Coin,
        Phase::Tasks,
        Phase::Output,
    ];

    /// The name used in deviation files and outputs.
    pub fn name(self) -> &'static str {
        match self {
            Phase::BidAgreement => "bid-agreement",
            Phase::InputValidation => "input-validation",
            Phase::Coin => "coin",
            Phase::Tasks => "tasks",
            Phase::Output => "output",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How the replicas talk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    /// In-process channels ([`Channels`]).
    Channels,
    /// TCP sockets on loopback, one listener per replica ([`tcp`]).
    Tcp,
}

impl TransportKind {
    /// The name used on the command line and in outputs.
    pub fn name(self) -> &'static str {
        match self {
            TransportKind::Channels => "channels",
            TransportKind::Tcp => "tcp",
        }
    }
}

/// A replicated run's settings (design §10).
#[derive(Debug, Clone)]
pub struct ReplicationConfig {
    /// `vcg` or `mcafee`.
    pub mechanism: &'static dyn Mechanism,
    /// m: the first m providers of the market, in file order, are the replicas.
    pub replicas: usize,
    /// k: the largest coalition of deviators the run must withstand (m > 2k).
    pub resilience: usize,
    /// Channels or TCP.
    pub transport: TransportKind,
    /// The longest wait for one step's messages (and for TCP's connection set-up).
    pub timeout: Duration,
    /// Seeds every replica's coin share, so a run is reproducible (a real provider
    /// draws its share from its own entropy).
    pub seed: u64,
    /// LP backend, as for the centralised settlement.
    pub options: SettleOptions,
}

impl ReplicationConfig {
    /// m replicas, resilience k, channels, a 30 s timeout, seed 0, default backend.
    pub fn new(
        mechanism: &'static dyn Mechanism,
        replicas: usize,
        resilience: usize,
    ) -> ReplicationConfig {
        ReplicationConfig {
            mechanism,
            replicas,
            resilience,
            transport: TransportKind::Channels,
            timeout: Duration::from_secs(30),
            seed: 0,
            options: SettleOptions::default(),
        }
    }

    /// ⌊m/(k+1)⌋: how many payment groups of at least k + 1 replicas work in parallel.
    pub fn groups(&self) -> usize {
        (self.replicas / (self.resilience + 1)).max(1)
    }
}

/// Why a replicated run could not start (an aborted run is not an error: it is an
/// [`Outcome`]).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReplicationError {
    /// Only vcg and mcafee are replicated.
    #[error("the replicated auctioneer runs vcg or mcafee, not {0}")]
    UnsupportedMechanism(&'static dyn Mechanism),
    /// m ≤ 2k: bid agreement and the threshold need m > 2k.
    #[error("{replicas} replicas cannot withstand {resilience} deviators: the replicated auctioneer needs more than 2k replicas (m > {})", 2 * resilience)]
    TooFewReplicas {
        /// m.
        replicas: usize,
        /// k.
        resilience: usize,
    },
    /// m exceeds the market's providers.
    #[error("{replicas} replicas asked for, but the market has only {providers} providers (the replicas are its first m providers)")]
    TooManyReplicas {
        /// m.
        replicas: usize,
        /// Providers in the market.
        providers: usize,
    },
    /// The deviations file is wrong.
    #[error(transparent)]
    Deviation(#[from] DeviationError),
    /// Setting up the transport failed.
    #[error("transport: {what}")]
    Transport {
        /// What was being done (`binding`, `spawning a replica`, …).
        what: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A replica worker panicked (a bug, reported rather than propagated); the
    /// replica's id.
    #[error("replica {0} stopped unexpectedly")]
    ReplicaPanicked(String),
}

/// What a run ends in, the same at every honest replica (design §10).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The statement, equal to the centralised one on the agreed bids.
    Settled(Box<Statement>),
    /// The run aborted: where, and the evidence.
    Aborted(Abort),
}

impl Outcome {
    /// The statement, if the run settled.
    pub fn statement(&self) -> Option<&Statement> {
        match self {
            Outcome::Settled(s) => Some(s),
            Outcome::Aborted(_) => None,
        }
    }

    /// The abort, if the run aborted.
    pub fn abort(&self) -> Option<&Abort> {
        match self {
            Outcome::Settled(_) => None,
            Outcome::Aborted(a) => Some(a),
        }
    }
}

/// An abort: the phase, the evidence, and the replicas it points at (the ones that
/// disagreed with the most common value, or never answered).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Abort {
    /// Where the run stopped.
    pub phase: Phase,
    /// What was seen.
    pub evidence: Box<Evidence>,
    /// The replicas (provider ids) that disagreed or did not answer.
    pub replicas: Vec<String>,
}

/// The evidence behind an abort.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Evidence {
    /// Input validation or output: the replicas' hashes differ.
    DifferingHashes {
        /// What was hashed (`agreed bid vector`, `outcome`).
        what: String,
        /// Each distinct hash and who sent it, the most common first.
        hashes: Vec<Holders>,
    },
    /// Common coin: reveals that do not match their commitments.
    CommitmentMismatch {
        /// Per offending replica: its commitment and the hash of what it revealed.
        mismatches: Vec<Mismatch>,
    },
    /// Data transfer: the members of a payment group sent different values.
    ConflictingResults {
        /// The payment group.
        group: usize,
        /// The participant whose payment differs.
        participant: String,
        /// Each distinct value and who sent it, the most common first.
        values: Vec<Holders>,
    },
    /// Some replicas' messages never came: still connected but mute until the
    /// timeout (`silent`), connection closed (`disconnected`), or announced their
    /// own abort (`aborted`).
    Missing {
        /// Mute until the timeout.
        silent: Vec<String>,
        /// Closed their connection.
        disconnected: Vec<String>,
        /// Sent an abort notice.
        aborted: Vec<String>,
        /// Sent bytes that are not a protocol message, or the wrong message.
        malformed: Vec<String>,
        /// The timeout waited, in seconds (a setting, not a measurement).
        timeout_seconds: f64,
    },
    /// The mechanism itself failed (the same failure at every honest replica).
    Mechanism {
        /// The error.
        message: String,
    },
    /// The honest replicas' outputs differ (cannot happen while deviators broadcast;
    /// reported rather than hidden).
    HonestReplicasDisagree,
}

/// A value seen in an abort and the replicas that sent it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Holders {
    /// The value: a hash in hex, or a payment as `transfer` (with its clamp and
    /// fallback flag when they differ).
    pub value: String,
    /// Who sent it.
    pub replicas: Vec<String>,
}

/// A coin reveal that does not match its commitment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mismatch {
    /// The replica.
    pub replica: String,
    /// SHA-256(r ‖ nonce) as committed.
    pub committed: String,
    /// SHA-256 of what it revealed.
    pub revealed: String,
}

/// One replica's view of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaReport {
    /// Its provider id.
    pub id: String,
    /// Whether it followed the protocol (no deviation names it).
    pub honest: bool,
    /// What it output; `None` for a replica that crashed or went silent.
    pub outcome: Option<Outcome>,
    /// The bid vector it agreed on, if it got that far.
    pub agreed: Option<BidVector>,
    /// The coin u it computed, if it got that far.
    pub coin: Option<u64>,
    /// The payment groups it computed (vcg), if it got that far.
    pub groups: Vec<PaymentGroup>,
    /// Messages it sent (one per peer per broadcast).
    pub messages: u64,
    /// Bytes it sent (encoded messages, framing excluded).
    pub bytes: u64,
}

/// The replication block of a run's output (design §10).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replication {
    /// m.
    pub replicas: usize,
    /// k.
    pub resilience: usize,
    /// The replicas' provider ids, in order.
    pub replica_ids: Vec<String>,
    /// Channels or TCP.
    pub transport: TransportKind,
    /// Payment groups: members and the participants whose payments they computed
    /// (vcg; empty for mcafee, one task run by every replica).
    pub groups: Vec<GroupReport>,
    /// The common coin u (hex), if the honest replicas reached it.
    pub coin: Option<String>,
    /// Bidders excluded by bid agreement.
    pub excluded: Vec<String>,
    /// Messages sent, all replicas together.
    pub messages: u64,
    /// Bytes sent, all replicas together.
    pub bytes: u64,
    /// Wall-clock measurements (vary run to run).
    pub timing: Timing,
}

/// A payment group as reported: provider ids and participant ids.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupReport {
    /// Its replicas.
    pub replicas: Vec<String>,
    /// The participants whose VCG payments it computed.
    pub participants: Vec<String>,
}

/// Wall-clock time of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Timing {
    /// From spawning the replicas to the last one finishing, in seconds.
    pub wall_seconds: f64,
}

/// A replicated run: the outcome every honest replica output, the replication block,
/// and each replica's own view.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicatedRun {
    /// The honest replicas' common outcome.
    pub outcome: Outcome,
    /// m, k, groups, messages, bytes, timing.
    pub replication: Replication,
    /// Per replica, in replica order.
    pub replicas: Vec<ReplicaReport>,
}

/// Settles `declared`'s bids with the replicated auctioneer (design §10).
///
/// `truth` has the true values (for utilities, as in [`super::settle`]); `declared`
/// is `truth` with the bids applied — the bids honest bidders send to every replica.
/// `deviations` (see [`Deviation`]) make named replicas or bidders deviate, for
/// tests and demonstrations. The statement of a settled run equals
/// `settle(truth, agreed, lp allocation, mechanism)` where `agreed` is `declared` with
/// the agreed bids (equal to `declared` unless a bidder equivocated).
///
/// Errors: an unsupported mechanism, m ≤ 2k, m above the providers, a bad
/// deviation, a transport that cannot be set up. An aborted run is `Ok`.
pub fn settle_replicated(
    truth: &Market,
    declared: &Market,
    config: &ReplicationConfig,
    deviations: &[Deviation],
) -> Result<ReplicatedRun, ReplicationError> {
    if ![super::vcg::Vcg.name(), super::mcafee::Mcafee.name()].contains(&config.mechanism.name()) {
        return Err(ReplicationError::UnsupportedMechanism(config.mechanism));
    }
    let (m, k) = (config.replicas, config.resilience);
    if m <= 2 * k {
        return Err(ReplicationError::TooFewReplicas {
            replicas: m,
            resilience: k,
        });
    }
    if m > declared.providers.len() {
        return Err(ReplicationError::TooManyReplicas {
            replicas: m,
            providers: declared.providers.len(),
        });
    }
    let ids: Vec<String> = declared.providers[..m]
        .iter()
        .map(|p| p.id.clone())
        .collect();
    let plan = deviation::Plan::resolve(deviations, declared, &ids)?;
    let context = replica::Context {
        truth,
        base: declared,
        ids: &ids,
        config,
        plan: &plan,
    };
    let started = Instant::now();
    let reports = match config.transport {
        TransportKind::Channels => {
            let ends: Vec<Box<dyn Transport>> = Channels::connect(m)
                .into_iter()
                .map(|c| Box::new(c) as Box<dyn Transport>)
                .collect();
            run_workers(&context, ends.into_iter().map(Ok).collect())?
        }
        TransportKind::Tcp => {
            let setups = tcp::Listeners::bind(m)?.into_setups();
            run_workers(&context, setups.into_iter().map(Err).collect())?
        }
    };
    let wall_seconds = started.elapsed().as_secs_f64();
    Ok(combine(&context, reports, wall_seconds))
}

/// Runs one worker thread per replica; a TCP replica connects inside its worker
/// (every replica must accept its peers at the same time).
fn run_workers(
    context: &replica::Context<'_>,
    ends: Vec<Result<Box<dyn Transport>, tcp::TcpSetup>>,
) -> Result<Vec<ReplicaReport>, ReplicationError> {
    let timeout = context.config.timeout;
    std::thread::scope(|scope| {
        let handles: Vec<_> = ends
            .into_iter()
            .enumerate()
            .map(|(me, end)| {
                std::thread::Builder::new()
                    .name(format!("replica {}", context.ids[me]))
                    .spawn_scoped(scope, move || {
                        let transport: Box<dyn Transport> = match end {
                            Ok(t) => t,
                            Err(setup) => Box::new(setup.connect(timeout)),
                        };
                        replica::run(context, me, transport)
                    })
                    .map_err(|source| ReplicationError::Transport {
                        what: "spawning a replica",
                        source,
                    })
            })
            .collect();
        handles
            .into_iter()
            .enumerate()
            .map(|(me, h)| {
                h?.join()
                    .map_err(|_| ReplicationError::ReplicaPanicked(context.ids[me].clone()))
            })
            .collect()
    })
}

/// The run's outcome from the honest replicas' outputs, and the replication block.
fn combine(
    context: &replica::Context<'_>,
    reports: Vec<ReplicaReport>,
    wall_seconds: f64,
) -> ReplicatedRun {
    let honest: Vec<&ReplicaReport> = reports.iter().filter(|r| r.honest).collect();
    let first = honest.first().and_then(|r| r.outcome.clone());
    let agree = honest.iter().all(|r| r.outcome == first);
    let outcome = match first {
        Some(o) if agree => o,
        _ => Outcome::Aborted(Abort {
            phase: Phase::Output,
            evidence: Box::new(Evidence::HonestReplicasDisagree),
            replicas: honest.iter().map(|r| r.id.clone()).collect(),
        }),
    };
    let lead = honest.first();
    let who = super::Participants::of(context.base);
    let groups = lead
        .map(|r| {
            r.groups
                .iter()
                .map(|g| GroupReport {
                    replicas: g.replicas.iter().map(|&j| context.ids[j].clone()).collect(),
                    participants: g
                        .participants
                        .iter()
                        .map(|&i| who.id(context.base, i))
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    let excluded = lead
        .and_then(|r| r.agreed.as_ref())
        .map(|a| {
            a.iter()
                .enumerate()
                .filter(|(_, b)| b.is_none())
                .map(|(i, _)| who.id(context.base, i))
                .collect()
        })
        .unwrap_or_default();
    let replication = Replication {
        replicas: context.config.replicas,
        resilience: context.config.resilience,
        replica_ids: context.ids.to_vec(),
        transport: context.config.transport,
        groups,
        coin: lead.and_then(|r| r.coin).map(|u| format!("{u:016x}")),
        excluded,
        messages: reports.iter().map(|r| r.messages).sum(),
        bytes: reports.iter().map(|r| r.bytes).sum(),
        timing: Timing { wall_seconds },
    };
    ReplicatedRun {
        outcome,
        replication,
        replicas: reports,
    }
}
