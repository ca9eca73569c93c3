//! The `timely` runtime: the rounds on timely-dataflow \[Timely\], over worker threads
//! and over processes on several machines (design §5 "Protocol and runtimes", §12).
//!
//! G′'s nodes are cut into contiguous ranges, one per timely worker (every process
//! has the same number of workers), balanced by their usable out-pairs. A round is
//! three exchanges, each one epoch of a single timely stream, routed to the worker
//! that owns the receiver and closed by timely's progress tracking (the round's
//! barriers):
//! 1. **heights**: every node's announcement ([`crate::engine::node::Heights`]) goes
//!    to the workers owning its in-neighbours;
//! 2. **jobs**: every node steps with its out-neighbours' announcements
//!    ([`crate::engine::node::node_step`]) and its jobs go to the workers owning
//!    their receivers, which take delivery in the canonical order;
//! 3. **reports**: every worker's per-node reports (jobs held per node and commodity,
//!    discarded at sources, absorbed at collection points) and its largest capacity
//!    excess go to the first worker of every process.
//!
//! Every process runs the same engine driver on the same reports, reduced in node
//! order as every runtime reduces them ([`crate::engine::accounting`]), so every
//! process computes the same ledger, bit for bit, and so the same stop round; only
//! one process (index 0) should write outputs. The nodes run through the owned
//! per-node step ([`crate::engine::node`]), so the timely runtime computes exactly
//! what the `nodes` and `flat` runtimes compute, for any number of workers and
//! processes.
//!
//! Timely does not recover from a lost process: a process whose connection drops ends
//! the run everywhere with [`TimelyError::Lost`] naming it, and a peer that stops
//! answering ends it after [`Cluster::timeout`] ([`TimelyError::Stalled`]). Runs go
//! through [`with_cluster`], which turns those failures into errors.

pub mod launch;
mod network;
mod worker;

use std::cell::Cell;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brokerflow_graphs::{ExpandedGraph, Flow};
use petgraph::graph::NodeIndex;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::nodes::{empty_windows, load_owned, save_owned, Faulty};
use super::{Executor, Footprint, LoadError, NodesState, Runtime};
use crate::engine::accounting::{mean_of_zeros, Ring, RoundLedger};
use crate::engine::faults::{FaultOutcome, FaultPlan};
use crate::engine::node::{NodeConfig, NodeState, StepParams};
use crate::engine::setup::Setup;
use crate::engine::variants::PushPolicy;

use network::Network;
use worker::{Loaded, Means, Order, Part, Reply};

/// Where a run's timely workers are: worker threads per process, and the processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Timely worker threads in each process (at least 1).
    pub workers: usize,
    /// This process's index in `addresses` (0 without them).
    pub process: usize,
    /// One `host:port` per process, in process order; empty: this process alone.
    /// Every process must be given the same list.
    pub addresses: Vec<String>,
    /// The longest wait for peers: to connect, and for any exchange of a round. A
    /// peer that takes longer is taken as lost.
    pub timeout: Duration,
}

impl Default for Cluster {
    fn default() -> Cluster {
        Cluster::threads(1)
    }
}

impl Cluster {
    /// This process alone, with `workers` worker threads.
    pub fn threads(workers: usize) -> Cluster {
        Cluster {
            workers,
            process: 0,
            addresses: Vec::new(),
            timeout: Duration::from_secs(120),
        }
    }

    /// Process `process` of the processes at `addresses`, each with `workers` threads.
    pub fn processes(workers: usize, process: usize, addresses: Vec<String>) -> Cluster {
        Cluster {
            workers,
            process,
            addresses,
            ..Cluster::threads(workers)
        }
    }

    /// How many processes.
    pub fn process_count(&self) -> usize {
        self.addresses.len().max(1)
    }

    /// Timely workers over all processes.
    pub fn peers(&self) -> usize {
        self.workers * self.process_count()
    }

    /// Whether this process is the one that writes outputs (process 0).
    pub fn writes_outputs(&self) -> bool {
        self.process == 0
    }

    fn validate(&self) -> Result<(), TimelyError> {
        let bad = |why: String| Err(TimelyError::Config(why));
        if self.workers == 0 {
            return bad("at least 1 worker per process".into());
        }
        if self.process >= self.process_count() {
            return bad(format!(
                "process {} of {} (processes count from 0)",
                self.process,
                self.process_count()
            ));
        }
        if u32::try_from(self.peers()).is_err() {
            return bad(format!("{} workers in all", self.peers()));
        }
        if self.timeout.is_zero() {
            return bad("a positive timeout".into());
        }
        Ok(())
    }
}

/// Why a timely run failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TimelyError {
    /// The cluster makes no sense: what it should be (built from its own numbers, not
    /// from another error).
    #[error("cluster: {0}")]
    Config(String),
    /// This process could not listen on its address (taken, or not its own).
    #[error("process {process} cannot listen on {address} (is the port taken?)")]
    Listen {
        /// This process.
        process: usize,
        /// Its address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// A process did not connect in time.
    #[error("process {process} at {address} did not connect within {seconds} s")]
    Connect {
        /// The missing process.
        process: usize,
        /// Its address.
        address: String,
        /// How long this process waited.
        seconds: u64,
    },
    /// A process runs something else: another market, options, worker count or list
    /// of addresses.
    #[error(
        "process {process} runs another market, options or cluster than process {me} (every process must run the same command)"
    )]
    Mismatch {
        /// The other process.
        process: usize,
        /// This process.
        me: usize,
    },
    /// A process's connection dropped: it died or was killed. Timely does not recover
    /// from a lost process; the run ends everywhere.
    #[error("lost process {process} ({address}) during {during}; timely does not recover from a lost process, so the run ends")]
    Lost {
        /// The lost process.
        process: usize,
        /// Its address.
        address: String,
        /// What the run was doing.
        during: String,
    },
    /// No progress within the timeout: some process stopped answering.
    #[error("no progress within {seconds} s during {during}: a process stopped answering")]
    Stalled {
        /// What the run was doing.
        during: String,
        /// The timeout.
        seconds: u64,
    },
    /// A socket of the cluster's network failed (listening, accepting, the handshake,
    /// starting timely's network over them).
    #[error("timely: {during}")]
    Network {
        /// What was being done.
        during: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A worker received message parts its variant cannot read.
    #[error("timely: decoding a variant's message parts")]
    Decode(#[source] ciborium::de::Error<std::io::Error>),
    /// Timely could not start (its own message, which timely gives only as text), or a
    /// worker stopped or answered out of turn (what the run was doing).
    #[error("timely: {0}")]
    Timely(String),
}

/// Messages and bytes the protocol exchanged, over all workers and rounds of the runs
/// of one [`with_cluster`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    /// Rounds run.
    pub rounds: u64,
    /// Announcements and job messages sent (to any worker, the sender's own included).
    pub messages: u64,
    /// Those of them sent to a worker of another process.
    pub remote_messages: u64,
    /// Payload bytes sent to other processes (bincode, as timely encodes them: the
    /// announcements, jobs and reports; without timely's headers and progress
    /// messages).
    pub remote_bytes: u64,
}

impl Traffic {
    fn add(&mut self, other: &Traffic) {
        self.rounds += other.rounds;
        self.messages += other.messages;
        self.remote_messages += other.remote_messages;
        self.remote_bytes += other.remote_bytes;
    }
}

/// What the runs of one [`with_cluster`] share: the cluster, and the traffic so far.
struct Scope {
    cluster: Cluster,
    traffic: Arc<Mutex<Traffic>>,
}

thread_local! {
    static SCOPE: std::cell::RefCell<Option<Scope>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with every engine it creates on this thread with [`Runtime::Timely`] on
/// `cluster`; returns what `f` returns and the protocol's [`Traffic`], or the error that
/// ended a timely run (a lost or silent process, a taken port, a mismatched peer).
/// Every process of the cluster must run the same `f` on the same market and options.
/// Outside `with_cluster`, the timely runtime runs one process with one worker and a
/// failure panics.
pub fn with_cluster<R>(
    cluster: &Cluster,
    f: impl FnOnce() -> R,
) -> Result<(R, Traffic), TimelyError> {
    cluster.validate()?;
    let traffic = Arc::new(Mutex::new(Traffic::default()));
    let previous = SCOPE.with(|s| {
        s.replace(Some(Scope {
            cluster: cluster.clone(),
            traffic: Arc::clone(&traffic),
        }))
    });
    let result = catch_unwind(AssertUnwindSafe(f));
    SCOPE.with(|s| s.replace(previous));
    match result {
        Ok(r) => {
            let t = *traffic.lock().unwrap_or_else(|e| e.into_inner());
            Ok((r, t))
        }
        Err(payload) => match payload.downcast::<TimelyError>() {
            Ok(e) => Err(*e),
            Err(other) => resume_unwind(other),
        },
    }
}

/// Ends the run with `e`: unwinds to [`with_cluster`] (without the panic hook: it is
/// an error, not a bug).
fn fail(e: TimelyError) -> ! {
    resume_unwind(Box::new(e))
}

/// A global slot's data as the reduction needs it: the commodity, what its node
/// injects of it, and which ends it reports.
#[derive(Debug, Clone, Copy)]
struct SlotMeta {
    node: u32,
    k: u32,
    injection: f64,
    source: bool,
    collection: bool,
}

/// The driver of one process: hands every round to its local workers and reduces the
/// reports of all workers in node order.
pub struct Timely<'a, P: PushPolicy> {
    g: &'a ExpandedGraph,
    cluster: Cluster,
    /// First node of each worker, and the node count at the end.
    cuts: Vec<usize>,
    /// Per commodity, whether the engine carries it (a_k > 0).
    carried: Vec<bool>,
    /// Every (node, commodity) slot, in node order.
    slots: Vec<SlotMeta>,
    orders: Vec<Sender<Order<P>>>,
    replies: Receiver<Reply>,
    guards: Option<timely::communication::WorkerGuards<()>>,
    network: Arc<Network>,
    traffic: Arc<Mutex<Traffic>>,
    rounds: usize,
    window: usize,
    failed: Cell<bool>,
    /// Every G′ node's configuration, in node order (to save and resume).
    configs: Vec<NodeConfig<P>>,
    /// The fault schedule's network over every out-edge, as the `nodes` runtime keeps
    /// it: what the workers' reports of jobs sent go through, for the ledger's lost and
    /// in-flight jobs and the faults' counters.
    faults: Option<Faulty>,
    _policy: PhantomData<P>,
}

/// Cuts nodes 0..n into `parts` contiguous ranges of about equal work (one plus the
/// node's usable out-pairs): the first node of each, then n.
fn cuts(g: &ExpandedGraph, parts: usize) -> Vec<usize> {
    let pairs = g.pairs();
    let n = g.graph.node_count();
    let work = |i: usize| 1 + pairs.leaving(NodeIndex::new(i)).len();
    let total: usize = (0..n).map(work).sum();
    let mut cuts = vec![0];
    let mut done = 0;
    let mut node = 0;
    for part in 1..parts {
        let target = total * part / parts;
        while node < n && done < target {
            done += work(node);
            node += 1;
        }
        cuts.push(node);
    }
    cuts.push(n);
    cuts
}

/// The worker owning `node`.
fn owner(cuts: &[usize], node: usize) -> u32 {
    (cuts.partition_point(|&c| c <= node) - 1) as u32
}

impl<'a, P: PushPolicy> Timely<'a, P> {
    /// How often the driver, waiting for its workers, looks for a lost process.
    const POLL: Duration = Duration::from_millis(50);
    /// How long a reply may still come after a connection dropped (a peer that
    /// finished cleanly) before the run is taken as failed.
    const LOST_GRACE: Duration = Duration::from_secs(1);

    /// Starts this process's workers on the cluster of the enclosing [`with_cluster`]
    /// (one worker, this process alone, without one) and connects to the other
    /// processes; configures the nodes of this process's workers ([`Setup::partition`]).
    pub fn new(setup: &Setup<'_, 'a>) -> Timely<'a, P> {
        Timely::with_faults(setup, None)
    }

    /// [`Timely::new`], running the fault schedule `faults` if given: every worker
    /// runs the faulty network over its own out-edges (the draws depend on the G′
    /// edge and the round only, so they are the `nodes` runtime's), holding delayed
    /// jobs until due and then sending them to their receiver's worker.
    pub fn with_faults(setup: &Setup<'_, 'a>, faults: Option<&FaultPlan>) -> Timely<'a, P> {
        let (cluster, traffic) = SCOPE.with(|s| match &*s.borrow() {
            Some(scope) => (scope.cluster.clone(), Arc::clone(&scope.traffic)),
            None => (Cluster::default(), Arc::new(Mutex::new(Traffic::default()))),
        });
        match Self::start(setup, cluster, traffic, faults) {
            Ok(t) => t,
            Err(e) => fail(e),
        }
    }

    fn start(
        setup: &Setup<'_, 'a>,
        cluster: Cluster,
        traffic: Arc<Mutex<Traffic>>,
        faults: Option<&FaultPlan>,
    ) -> Result<Timely<'a, P>, TimelyError> {
        cluster.validate()?;
        let g = setup.graph();
        let pairs = g.pairs();
        let (w, peers) = (cluster.workers, cluster.peers());
        let cuts = cuts(g, peers);
        let carried: Vec<bool> = (0..g.commodities.len())
            .map(|k| setup.injection(k) > 0.0)
            .collect();
        // Every slot's role, from every node's configuration (the local ones are kept).
        let mine = cluster.process * w..(cluster.process + 1) * w;
        let mut slots = Vec::new();
        let mut parts = Vec::with_capacity(w);
        let mut all = Vec::with_capacity(g.graph.node_count());
        for worker in 0..peers {
            let nodes = (cuts[worker]..cuts[worker + 1]).map(NodeIndex::new);
            let configs = setup.partition::<P>(nodes);
            for c in &configs {
                slots.extend(c.commodities.iter().map(|lc| SlotMeta {
                    node: c.node as u32,
                    k: lc.local.k as u32,
                    injection: lc.local.injection.max(0.0),
                    source: lc.local.injection > 0.0,
                    collection: c.collection,
                }));
            }
            if mine.contains(&worker) {
                // Who hears each node's announcement: the owners of its in-neighbours.
                let tell = configs
                    .iter()
                    .map(|c| {
                        let mut to: Vec<u32> = pairs
                            .entering(NodeIndex::new(c.node))
                            .iter()
                            .filter(|&&p| carried[pairs.commodity(p)])
                            .map(|&p| owner(&cuts, pairs.tail(p).index()))
                            .collect();
                        to.sort_unstable();
                        to.dedup();
                        to
                    })
                    .collect();
                parts.push(Part {
                    first: cuts[worker],
                    faults: faults.map(|plan| Faulty::new(plan, g, &configs)),
                    configs: configs.clone(),
                    tell,
                });
            }
            all.extend(configs);
        }
        let network = Arc::new(Network::new(&cluster));
        let key = network::run_key(g, setup.options(), &cluster, faults);
        let sockets = network.connect(key)?;
        let (orders, receivers): (Vec<_>, Vec<_>) = (0..w).map(|_| channel::<Order<P>>()).unzip();
        let (reply, replies) = channel::<Reply>();
        let guards = worker::start::<P>(worker::Start {
            cluster: cluster.clone(),
            sockets,
            parts,
            receivers,
            reply,
            cuts: cuts.clone(),
            params: StepParams {
                potential: setup.options().potential,
            },
            window: setup.options().window,
        })?;
        Ok(Timely {
            g,
            window: setup.options().window,
            cluster,
            cuts,
            carried,
            slots,
            orders,
            replies,
            guards: Some(guards),
            network,
            traffic,
            rounds: 0,
            failed: Cell::new(false),
            faults: faults.map(|plan| Faulty::new(plan, g, &all)),
            configs: all,
            _policy: PhantomData,
        })
    }

    /// Hands `order` to every local worker and waits for the first worker's answer.
    fn ask(&self, order: fn() -> Order<P>, during: impl Fn() -> String) -> Reply {
        self.ask_each((0..self.orders.len()).map(|_| order()).collect(), during)
    }

    /// Hands each local worker its order (in worker order) and waits for the first
    /// worker's answer.
    fn ask_each(&self, orders: Vec<Order<P>>, during: impl Fn() -> String) -> Reply {
        if self.failed.get() {
            fail(TimelyError::Timely(format!(
                "{}: the run already failed",
                during()
            )));
        }
        let failure = |e: TimelyError| -> ! {
            self.failed.set(true);
            // A dropped connection names the process that was lost.
            match self.network.lost() {
                Some((process, address)) => fail(TimelyError::Lost {
                    process,
                    address,
                    during: during(),
                }),
                None => fail(e),
            }
        };
        for (o, order) in self.orders.iter().zip(orders) {
            if o.send(order).is_err() {
                failure(TimelyError::Timely(format!(
                    "{}: a worker stopped",
                    during()
                )));
            }
        }
        // The workers give up after the timeout themselves; this is the backstop.
        let deadline = Instant::now() + self.cluster.timeout + Duration::from_secs(10);
        let mut lost_at: Option<Instant> = None;
        loop {
            match self.replies.recv_timeout(Self::POLL) {
                Ok(Reply::Failed(e)) => failure(e),
                Ok(reply) => return reply,
                Err(RecvTimeoutError::Disconnected) => failure(TimelyError::Timely(format!(
                    "{}: a worker failed",
                    during()
                ))),
                Err(RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    // A dropped connection ends the run at once, not at the timeout:
                    // timely's threads panic when a peer is lost, and the workers
                    // waiting for it may never answer.
                    if self.network.lost().is_some()
                        && now - *lost_at.get_or_insert(now) > Self::LOST_GRACE
                    {
                        failure(TimelyError::Timely(format!("{}: a peer dropped", during())));
                    }
                    if now > deadline {
                        failure(TimelyError::Stalled {
                            during: during(),
                            seconds: self.cluster.timeout.as_secs(),
                        });
                    }
                }
            }
        }
    }
}

impl<P: PushPolicy> Executor for Timely<'_, P> {
    fn runtime(&self) -> Runtime {
        Runtime::Timely
    }

    fn round(&mut self, ledger: &mut RoundLedger) -> f64 {
        let round = self.rounds + 1;
        let Reply::Reports(reports) = self.ask(|| Order::Round, || format!("round {round}")) else {
            fail(TimelyError::Timely(format!(
                "round {round}: unexpected answer"
            )));
        };
        self.rounds = round;
        // Workers own contiguous node ranges: their reports in worker order are the
        // slots in node order.
        ledger.clear();
        let mut excess = f64::NEG_INFINITY;
        let mut traffic = Traffic {
            rounds: 1,
            ..Traffic::default()
        };
        // Under faults the network carries what every worker's nodes sent, in the
        // global out-edge numbering (workers in order), as the `nodes` runtime's does.
        if let Some(f) = &mut self.faults {
            f.begin();
            let mut at = 0;
            for r in &reports {
                let Some(row) = f.sent.get_mut(at..at + r.sent.len()) else {
                    fail(TimelyError::Timely(format!(
                        "round {round}: a worker reported more jobs sent than out-edges"
                    )));
                };
                row.copy_from_slice(&r.sent);
                at += r.sent.len();
            }
            f.net.transmit(&f.sent, &mut f.arrive);
        }
        let down = self.faults.as_ref().map(|f| &f.net.down);
        let mut slots = self.slots.iter();
        for r in &reports {
            excess = excess.max(r.excess);
            traffic.add(&r.traffic);
            let mut ends = r.ends.iter();
            for &held in &r.held {
                let m = slots.next().expect("a report per slot");
                let discarded = if m.source {
                    *ends.next().expect("an end")
                } else {
                    0.0
                };
                let absorbed = if m.collection {
                    *ends.next().expect("an end")
                } else {
                    0.0
                };
                // A down node injects nothing.
                let injected = match down {
                    Some(d) if d[m.node as usize] => 0.0,
                    _ => m.injection,
                };
                ledger.add(m.k as usize, injected, discarded, absorbed, held);
            }
        }
        if let Some(f) = &self.faults {
            ledger.in_flight.copy_from_slice(&f.net.in_flight_now);
            ledger.lost.copy_from_slice(&f.net.lost);
        }
        traffic.rounds = 1;
        self.traffic
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(&traffic);
        excess
    }

    fn moved(&self) -> Flow {
        let Reply::Means(means) = self.ask(|| Order::Gather, || "gathering the flow".into()) else {
            fail(TimelyError::Timely("gathering: unexpected answer".into()));
        };
        let zero = mean_of_zeros(self.rounds.min(self.window));
        self.flow_of(&means, zero, "gathering the flow")
    }

    fn last_round(&self) -> Option<Flow> {
        let Reply::Means(newest) = self.ask(|| Order::Newest, || "gathering the last round".into())
        else {
            fail(TimelyError::Timely(
                "gathering the last round: unexpected answer".into(),
            ));
        };
        Some(self.flow_of(&newest, 0.0, "gathering the last round"))
    }

    fn fault_outcome(&self) -> Option<FaultOutcome> {
        self.faults.as_ref().map(|f| f.net.outcome())
    }

    fn save(&self) -> Option<NodesState> {
        let Reply::Saved(saved) = self.ask(|| Order::Save, || "saving the state".into()) else {
            fail(TimelyError::Timely("saving: unexpected answer".into()));
        };
        let mut states: Vec<NodeState<P>> = Vec::with_capacity(self.configs.len());
        let (mut sent, mut lambda) = (Vec::new(), Vec::new());
        for s in saved {
            match worker::decode::<NodeState<P>>(&s.states) {
                Ok(part) => states.extend(part),
                Err(e) => fail(e),
            }
            sent.extend(s.sent);
            lambda.extend(s.lambda);
        }
        if states.len() != self.configs.len()
            || sent.len() != self.configs.len()
            || lambda.len() != self.configs.len()
        {
            fail(TimelyError::Timely(
                "saving: the workers sent another number of nodes than G′ has".into(),
            ));
        }
        let rings = |rows: Vec<Vec<Vec<f64>>>| -> Vec<Ring> {
            rows.iter()
                .zip(&self.configs)
                .map(|(r, c)| {
                    Ring::from_rows(self.window, c.out.len(), r)
                        .unwrap_or_else(|| Ring::new(self.window, c.out.len()))
                })
                .collect()
        };
        let sent = rings(sent);
        let lambda: Vec<Ring> = lambda
            .iter()
            .map(|r| {
                let rows: Vec<Vec<f64>> = r.iter().map(|&l| vec![l]).collect();
                Ring::from_rows(self.window, 1, &rows).unwrap_or_else(|| Ring::new(self.window, 1))
            })
            .collect();
        Some(save_owned(&self.configs, &states, &sent, &lambda))
    }

    fn load(&mut self, state: &mut NodesState, window: bool) -> Result<(), LoadError> {
        // Every process holds the whole saved state: it takes every node's part as the
        // `nodes` runtime would (the same checks, the same leftovers), and hands its
        // workers theirs.
        let mut states: Vec<NodeState<P>> = self.configs.iter().map(NodeState::new).collect();
        let (mut sent, mut lambda) = empty_windows(&self.configs, self.window);
        load_owned(
            &self.configs,
            &mut states,
            &mut sent,
            &mut lambda,
            state,
            window,
        )?;
        let first = self.cluster.process * self.cluster.workers;
        let mut orders = Vec::with_capacity(self.orders.len());
        for w in first..first + self.cluster.workers {
            let nodes = self.cuts[w]..self.cuts[w + 1];
            orders.push(Order::Load(Box::new(Loaded {
                states: states[nodes.clone()].to_vec(),
                sent: sent[nodes.clone()].to_vec(),
                lambda: lambda[nodes].to_vec(),
            })));
        }
        match self.ask_each(orders, || "resuming".into()) {
            Reply::Loaded => Ok(()),
            _ => fail(TimelyError::Timely("resuming: unexpected answer".into())),
        }
    }

    fn prices(&self) -> Vec<Option<f64>> {
        let Reply::Means(means) = self.ask(|| Order::Gather, || "gathering the prices".into())
        else {
            fail(TimelyError::Timely("gathering: unexpected answer".into()));
        };
        let lambda: Vec<f64> = means.into_iter().flat_map(|m: Means| m.lambda).collect();
        self.g
            .graph
            .node_indices()
            .zip(lambda)
            .map(|(n, l)| self.g.node(n).capacity.map(|_| l))
            .collect()
    }

    fn footprint(&self) -> Footprint {
        let Reply::Footprints(f) = self.ask(|| Order::Footprint, || "measuring memory".into())
        else {
            fail(TimelyError::Timely("measuring: unexpected answer".into()));
        };
        let (state, window) = f.iter().fold((0, 0), |(s, w), &(a, b)| (s + a, w + b));
        Footprint { state, window }
    }
}

impl<P: PushPolicy> Timely<'_, P> {
    /// The flow of every worker's per-out-edge values `means` (in worker order), with
    /// `zero` on the pairs of commodities the engine does not carry.
    fn flow_of(&self, means: &[Means], zero: f64, during: &str) -> Flow {
        let g = self.g;
        let pairs = g.pairs();
        let mut flow = Flow::zero(g);
        flow.x.iter_mut().for_each(|xs| xs.fill(zero));
        // A node's out-edges are its leaving pairs of the carried commodities, in order.
        for (w, m) in means.iter().enumerate() {
            let mut sent = m.sent.iter();
            for n in self.cuts[w]..self.cuts[w + 1] {
                for &p in pairs.leaving(NodeIndex::new(n)) {
                    let k = pairs.commodity(p);
                    if self.carried[k] {
                        // A worker that failed mid-gather answers short: an error, not a panic.
                        let Some(&mean) = sent.next() else {
                            fail(TimelyError::Timely(format!(
                                "{during}: a worker sent fewer means than its out-edges"
                            )));
                        };
                        flow.x[k][p - pairs.range(k).start] = mean;
                    }
                }
            }
        }
        flow
    }
}

impl<P: PushPolicy> Drop for Timely<'_, P> {
    fn drop(&mut self) {
        let Some(guards) = self.guards.take() else {
            return;
        };
        if !self.failed.get() {
            for o in &self.orders {
                let _ = o.send(Order::Stop);
            }
            // Workers finish once every process has stopped; a peer that never does is
            // not waited for past the timeout.
            let deadline = Instant::now() + self.cluster.timeout;
            while Instant::now() < deadline && !guards.guards().iter().all(|g| g.is_finished()) {
                std::thread::sleep(Duration::from_millis(2));
            }
            if guards.guards().iter().all(|g| g.is_finished()) {
                let _ = guards.join();
                return;
            }
        }
        // Workers that failed or hang are left to the end of the process: joining
        // could block forever.
        std::mem::forget(guards);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brokerflow_graphs::examples;

    #[test]
    fn cuts_cover_every_node_once_in_order() {
        let g = ExpandedGraph::new(&examples::figure3());
        for parts in [1, 2, 3, 4, 7] {
            let c = cuts(&g, parts);
            assert_eq!(c.len(), parts + 1);
            assert_eq!((c[0], c[parts]), (0, g.graph.node_count()));
            assert!(c.windows(2).all(|w| w[0] <= w[1]), "{c:?}");
            for n in 0..g.graph.node_count() {
                let o = owner(&c, n) as usize;
                assert!(c[o] <= n && n < c[o + 1], "node {n} owner {o} of {c:?}");
            }
        }
    }

    #[test]
    fn a_bad_cluster_is_an_error() {
        let mut c = Cluster::threads(0);
        assert!(matches!(
            with_cluster(&c, || ()),
            Err(TimelyError::Config(_))
        ));
        c = Cluster::processes(1, 2, vec!["a:1".into(), "b:2".into()]);
        assert!(matches!(
            with_cluster(&c, || ()),
            Err(TimelyError::Config(_))
        ));
    }
}
