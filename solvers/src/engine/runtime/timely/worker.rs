//! One timely worker: its range of nodes, owned as the `nodes` runtime owns them, and
//! the three exchanges of a round over one timely stream (see the module above).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely::communication::{Hooks, WorkerGuards};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Exchange, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};
use timely::worker::Worker;
use timely::WorkerConfig;

use super::network::Link;
use super::{owner, Cluster, TimelyError, Traffic};
use crate::engine::accounting::Ring;
use crate::engine::node::{
    announce, deliver, Announced, Heights, Jobs, NodeConfig, NodeScratch, NodeState, StepParams,
};
use crate::engine::runtime::nodes::{
    empty_windows, out_neighbours, owned_footprint, step_down, step_node, Faulty,
};
use crate::engine::variants::PushPolicy;

/// What the driver asks of its process's workers.
pub(super) enum Order<P: PushPolicy> {
    /// Run one round.
    Round,
    /// Send every node's window means.
    Gather,
    /// Send what every node sent over each out-edge in the last round.
    Newest,
    /// Send the memory held.
    Footprint,
    /// Send every node's state and window.
    Save,
    /// Take these states and windows for the worker's nodes, in node order (from a
    /// saved state, which every process reads).
    Load(Box<Loaded<P>>),
    /// The run is over.
    Stop,
}

/// A worker's nodes' states and windows, in node order, to resume from.
pub(super) struct Loaded<P: PushPolicy> {
    pub(super) states: Vec<NodeState<P>>,
    pub(super) sent: Vec<Ring>,
    pub(super) lambda: Vec<Ring>,
}

/// What the first worker of a process answers its driver (or any worker, failing).
pub(super) enum Reply {
    /// Every worker's report of the round, in worker order.
    Reports(Vec<Report>),
    /// Every worker's window means (or last round's amounts), in worker order.
    Means(Vec<Means>),
    /// Every worker's (state, window) bytes.
    Footprints(Vec<(usize, usize)>),
    /// Every worker's nodes' states and windows, in worker order.
    Saved(Vec<Saved>),
    /// The worker took the states it was given.
    Loaded,
    /// The run cannot go on.
    Failed(TimelyError),
}

/// One worker's per-node reports of a round, its nodes in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Report {
    worker: u32,
    /// Jobs held, per node and local commodity.
    pub(super) held: Vec<f64>,
    /// Per node and local commodity: discarded (at the commodity's source), then
    /// absorbed (at a collection point); nothing for other slots.
    pub(super) ends: Vec<f64>,
    /// The largest capacity excess of the worker's nodes (−∞ without capacities).
    pub(super) excess: f64,
    /// Under a fault schedule: what the worker's nodes sent over each out-edge this
    /// round, in node order (empty without faults).
    pub(super) sent: Vec<f64>,
    /// What the worker sent this round.
    pub(super) traffic: Traffic,
}

/// One worker's window means: every node's out-edges, then every node's λ.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Means {
    worker: u32,
    pub(super) sent: Vec<f64>,
    pub(super) lambda: Vec<f64>,
}

/// One worker's nodes' states and windows, in node order: the states CBOR-encoded
/// (the variant's state has fields bincode cannot decode), per node its window's rows
/// of jobs sent and its λ per round, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Saved {
    worker: u32,
    pub(super) states: Vec<u8>,
    pub(super) sent: Vec<Vec<Vec<f64>>>,
    pub(super) lambda: Vec<Vec<f64>>,
}

/// Announcements as tuples: (sender, [(k, height, what the variant announces)]).
type WireHeights<P> = (usize, Vec<(usize, f64, <P as PushPolicy>::Announce)>);
/// Jobs as tuples: (sender, edge, receiver, k, amount, stamp).
type WireJob<P> = (usize, usize, usize, usize, f64, <P as PushPolicy>::Stamp);

/// What travels between workers; each exchange of a round carries one kind.
/// Announcements and jobs travel as tuples: timely encodes with bincode, which has no
/// flattened fields (the protocol's messages flatten the variant's data). To another
/// process the variant's parts go apart, CBOR-encoded: bincode is positional and
/// cannot decode fields a variant leaves out; to a worker of the same process they go
/// as they are (timely does not encode them).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound = "")]
enum Message<P: PushPolicy> {
    Heights(Vec<WireHeights<P>>),
    /// Announcements without the variant's parts, and those parts in entry order.
    RemoteHeights(Vec<(usize, Vec<(usize, f64)>)>, Vec<u8>),
    Jobs(Vec<WireJob<P>>),
    /// Jobs without their stamps, and the stamps in order.
    RemoteJobs(Vec<(usize, usize, usize, usize, f64)>, Vec<u8>),
    Report(Report),
    Means(Means),
    Footprint(u32, usize, usize),
    Saved(Saved),
}

/// A worker's nodes: a contiguous range of G′ nodes from `first`.
pub(super) struct Part<P: PushPolicy> {
    pub(super) first: usize,
    pub(super) configs: Vec<NodeConfig<P>>,
    /// Per node, the workers to send its announcement to (owners of in-neighbours).
    pub(super) tell: Vec<Vec<u32>>,
    /// The fault schedule's network over the worker's out-edges, if any.
    pub(super) faults: Option<Faulty>,
}

/// Everything to start a process's workers.
pub(super) struct Start<P: PushPolicy> {
    pub(super) cluster: Cluster,
    pub(super) sockets: Vec<Option<Link>>,
    pub(super) parts: Vec<Part<P>>,
    pub(super) receivers: Vec<Receiver<Order<P>>>,
    pub(super) reply: Sender<Reply>,
    pub(super) cuts: Vec<usize>,
    pub(super) params: StepParams,
    pub(super) window: usize,
}

/// A worker's share of a [`Start`].
struct Own<P: PushPolicy> {
    part: Part<P>,
    orders: Receiver<Order<P>>,
}

/// Starts this process's timely workers (over the connected sockets, with more than
/// one process).
pub(super) fn start<P: PushPolicy>(s: Start<P>) -> Result<WorkerGuards<()>, TimelyError> {
    let Start {
        cluster,
        sockets,
        parts,
        receivers,
        reply,
        cuts,
        params,
        window,
    } = s;
    let w = cluster.workers;
    let (builders, others): (Vec<AllocatorBuilder>, Box<dyn std::any::Any + Send>) =
        if cluster.process_count() == 1 {
            timely::CommunicationConfig::Process(w)
                .try_build()
                .map_err(TimelyError::Timely)?
        } else {
            let hooks = Hooks::default();
            let local =
                ProcessBuilder::new_typed_vector(w, hooks.refill.clone(), hooks.spill.clone());
            let (builders, guard) =
                initialize_networking_from_sockets(local, sockets, cluster.process, w, hooks)
                    .map_err(|source| TimelyError::Network {
                        during: "starting the network",
                        source,
                    })?;
            (
                builders.into_iter().map(AllocatorBuilder::Tcp).collect(),
                Box::new(guard),
            )
        };
    let own: Vec<Mutex<Option<Own<P>>>> = parts
        .into_iter()
        .zip(receivers)
        .map(|(part, orders)| Mutex::new(Some(Own { part, orders })))
        .collect();
    let reply = Mutex::new(reply);
    let cuts = Arc::new(cuts);
    timely::execute::execute_from(builders, others, WorkerConfig::default(), move |worker| {
        let local = worker.index() % w;
        let mine = own[local].lock().ok().and_then(|mut o| o.take());
        let reply = reply.lock().map(|r| r.clone());
        if let (Some(mine), Ok(reply)) = (mine, reply) {
            let context = Context {
                cluster: &cluster,
                cuts: &cuts,
                params,
                window,
            };
            work(worker, mine, &reply, &context);
        }
    })
    .map_err(TimelyError::Timely)
}

struct Context<'c> {
    cluster: &'c Cluster,
    cuts: &'c [usize],
    params: StepParams,
    window: usize,
}

/// What arrived at a worker, with its epoch.
type Arrived<P> = Rc<RefCell<Vec<(u64, Message<P>)>>>;

type Input<P> = InputHandle<u64, CapacityContainerBuilder<Vec<(u32, Message<P>)>>>;

/// The worker's side of the exchanges: its input, the probe that closes each epoch,
/// and what arrived.
struct Exchanges<P: PushPolicy> {
    input: Input<P>,
    probe: ProbeHandle<u64>,
    /// What arrived, with its epoch: a faster worker's messages of the next exchange
    /// can arrive before this worker has seen the current one close.
    arrived: Arrived<P>,
    /// The process of every worker.
    process: Vec<usize>,
    me: usize,
    timeout: Duration,
}

impl<P: PushPolicy> Exchanges<P> {
    /// Counts one protocol message to worker `to` into `traffic`.
    fn count(&self, traffic: &mut Traffic, to: u32) {
        traffic.messages += 1;
        if self.process[to as usize] != self.process[self.me] {
            traffic.remote_messages += 1;
        }
    }

    /// Every worker's non-empty batch as one message to it: `local` to a worker of
    /// this process, `remote` (the variant's parts encoded apart) to another.
    fn batches<T>(
        &self,
        batches: Vec<Vec<T>>,
        local: impl Fn(Vec<T>) -> Message<P>,
        remote: impl Fn(Vec<T>) -> Message<P>,
    ) -> Vec<(u32, Message<P>)> {
        let here = self.process[self.me];
        batches
            .into_iter()
            .enumerate()
            .filter(|(_, b)| !b.is_empty())
            .map(|(to, b)| {
                let m = if self.process[to] == here {
                    local(b)
                } else {
                    remote(b)
                };
                (to as u32, m)
            })
            .collect()
    }

    /// Sends `out` (each to its worker), closes the epoch and steps until every
    /// worker's messages of it have arrived; returns what arrived here. Counts the
    /// payload bytes sent to other processes into `traffic`.
    fn exchange(
        &mut self,
        worker: &mut Worker,
        out: Vec<(u32, Message<P>)>,
        traffic: &mut Traffic,
        during: &str,
    ) -> Result<Vec<Message<P>>, TimelyError> {
        let here = self.process[self.me];
        for m in out {
            if self.process[m.0 as usize] != here {
                traffic.remote_bytes += bincode::serialized_size(&m.1).unwrap_or(0);
            }
            self.input.send(m);
        }
        let epoch = *self.input.time();
        let next = epoch + 1;
        self.input.advance_to(next);
        let deadline = Instant::now() + self.timeout;
        while self.probe.less_than(&next) {
            // Parking, not spinning: a worker that busy-steps starves timely's
            // network threads when cores are few.
            worker.step_or_park(Some(Duration::from_millis(1)));
            if Instant::now() > deadline {
                return Err(TimelyError::Stalled {
                    during: during.to_string(),
                    seconds: self.timeout.as_secs(),
                });
            }
        }
        let mut arrived = self.arrived.borrow_mut();
        let (now, later): (Vec<_>, Vec<_>) = arrived.drain(..).partition(|(t, _)| *t == epoch);
        *arrived = later;
        Ok(now.into_iter().map(|(_, m)| m).collect())
    }
}

/// A worker's rounds until the driver stops it; a failure is answered to the driver.
fn work<P: PushPolicy>(worker: &mut Worker, own: Own<P>, reply: &Sender<Reply>, c: &Context<'_>) {
    let arrived = Rc::new(RefCell::new(Vec::new()));
    let mut input: Input<P> = InputHandle::new();
    let probe = ProbeHandle::new();
    {
        let arrived = Rc::clone(&arrived);
        worker.dataflow::<u64, _, _>(|scope| {
            input
                .to_stream(scope)
                .exchange(|m: &(u32, Message<P>)| u64::from(m.0))
                .unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
                    Pipeline,
                    "Arrive",
                    move |_, _| {
                        move |input, _output| {
                            input.for_each(|cap, data| {
                                let epoch = cap.least().copied().unwrap_or(u64::MAX);
                                arrived
                                    .borrow_mut()
                                    .extend(data.drain(..).map(|(_, m)| (epoch, m)));
                            });
                        }
                    },
                )
                .probe_with(&probe);
        });
    }
    let w = c.cluster.workers;
    let mut ex = Exchanges {
        input,
        probe,
        arrived,
        process: (0..c.cluster.peers()).map(|i| i / w).collect(),
        me: worker.index(),
        timeout: c.cluster.timeout,
    };
    let mut nodes = Nodes::new(own.part, c);
    let leader = worker.index() % w == 0;
    let mut round = 0u64;
    while let Ok(order) = own.orders.recv() {
        let answer = match order {
            Order::Stop => break,
            Order::Round => {
                round += 1;
                nodes.round(worker, &mut ex, round).map(Reply::Reports)
            }
            Order::Gather => nodes.gather(worker, &mut ex, false).map(Reply::Means),
            Order::Newest => nodes.gather(worker, &mut ex, true).map(Reply::Means),
            Order::Footprint => nodes.footprint(worker, &mut ex).map(Reply::Footprints),
            Order::Save => nodes.save(worker, &mut ex).map(Reply::Saved),
            Order::Load(loaded) => {
                nodes.states = loaded.states;
                nodes.sent = loaded.sent;
                nodes.lambda = loaded.lambda;
                Ok(Reply::Loaded)
            }
        };
        match answer {
            Ok(a) if leader => {
                if reply.send(a).is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => {
                let _ = reply.send(Reply::Failed(e));
                return;
            }
        }
    }
}

/// The variant's parts of a batch, CBOR-encoded (self-describing).
fn encode<T: Serialize>(parts: &[T]) -> Vec<u8> {
    let mut bytes = Vec::new();
    // Writing into memory fails only if a part cannot be serialised at all, which the
    // protocol's messages can.
    let _ = ciborium::into_writer(parts, &mut bytes);
    bytes
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<Vec<T>, TimelyError> {
    ciborium::from_reader(bytes).map_err(TimelyError::Decode)
}

/// A worker's nodes with their states and windows, as the `nodes` runtime keeps them.
struct Nodes<'c, P: PushPolicy> {
    part: Part<P>,
    states: Vec<NodeState<P>>,
    /// Per node, its out-neighbours (sorted), whose announcements it steps with.
    neighbours: Vec<Vec<usize>>,
    sent: Vec<Ring>,
    lambda: Vec<Ring>,
    scratch: NodeScratch<P>,
    outbox: Vec<Jobs<P>>,
    cuts: &'c [usize],
    params: StepParams,
    /// The first worker of every process: who gets the reports.
    leaders: Vec<u32>,
    worker: u32,
    /// The fault schedule's network over this worker's out-edges, if any.
    faults: Option<Faulty>,
}

impl<'c, P: PushPolicy> Nodes<'c, P> {
    fn new(mut part: Part<P>, c: &Context<'c>) -> Nodes<'c, P> {
        let faults = part.faults.take();
        let configs = &part.configs;
        let w = c.cluster.workers;
        let (sent, lambda) = empty_windows(configs, c.window);
        Nodes {
            states: configs.iter().map(NodeState::new).collect(),
            neighbours: out_neighbours(configs),
            sent,
            lambda,
            scratch: NodeScratch::default(),
            outbox: Vec::new(),
            cuts: c.cuts,
            params: c.params,
            leaders: (0..c.cluster.process_count())
                .map(|p| (p * w) as u32)
                .collect(),
            worker: 0,
            faults,
            part,
        }
    }

    /// To every process's first worker.
    fn to_leaders(&self, m: Message<P>) -> Vec<(u32, Message<P>)> {
        self.leaders.iter().map(|&l| (l, m.clone())).collect()
    }

    fn round(
        &mut self,
        worker: &mut Worker,
        ex: &mut Exchanges<P>,
        round: u64,
    ) -> Result<Vec<Report>, TimelyError> {
        self.worker = worker.index() as u32;
        let peers = worker.peers();
        let here = ex.process[ex.me];
        let mut traffic = Traffic::default();
        let during = |phase: &str| format!("round {round} ({phase})");
        if let Some(f) = &mut self.faults {
            f.begin();
        }
        // 1. Every node announces to the workers of its in-neighbours.
        let mut batches: Vec<Vec<WireHeights<P>>> = vec![Vec::new(); peers];
        for ((config, state), tell) in self
            .part
            .configs
            .iter()
            .zip(&self.states)
            .zip(&self.part.tell)
        {
            if config.commodities.is_empty() || tell.is_empty() {
                continue;
            }
            let h = match &self.faults {
                Some(f) => f.announce(config, state),
                None => announce(config, state),
            };
            let heights: WireHeights<P> = (
                h.from,
                h.heights
                    .iter()
                    .map(|a| (a.k, a.height, a.policy))
                    .collect(),
            );
            for &to in tell {
                batches[to as usize].push(heights.clone());
                ex.count(&mut traffic, to);
            }
        }
        let out = ex.batches(batches, Message::Heights, |b| {
            let parts: Vec<P::Announce> =
                b.iter().flat_map(|(_, h)| h.iter().map(|e| e.2)).collect();
            let plain = b
                .into_iter()
                .map(|(from, h)| (from, h.into_iter().map(|e| (e.0, e.1)).collect()))
                .collect();
            Message::RemoteHeights(plain, encode(&parts))
        });
        let mut heard: Vec<Heights<P>> = Vec::new();
        for m in ex.exchange(worker, out, &mut traffic, &during("announcements"))? {
            let wire: Vec<WireHeights<P>> = match m {
                Message::Heights(h) => h,
                Message::RemoteHeights(plain, parts) => {
                    let mut parts = decode::<P::Announce>(&parts)?.into_iter();
                    plain
                        .into_iter()
                        .map(|(from, h)| {
                            let h = h
                                .into_iter()
                                .map(|(k, x)| (k, x, parts.next().unwrap_or_default()))
                                .collect();
                            (from, h)
                        })
                        .collect()
                }
                _ => Vec::new(),
            };
            heard.extend(wire.into_iter().map(|(from, heights)| {
                Heights {
                    from,
                    heights: heights
                        .into_iter()
                        .map(|(k, height, policy)| Announced { k, height, policy })
                        .collect(),
                }
            }));
        }
        // One announcement per neighbour and round, however often it came.
        heard.sort_unstable_by_key(|h| h.from);
        heard.dedup_by_key(|h| h.from);
        // 2. Every node steps with its out-neighbours' announcements; its jobs go to
        //    the workers of their receivers.
        let mut batches: Vec<Vec<WireJob<P>>> = vec![Vec::new(); peers];
        let mut excess = f64::NEG_INFINITY;
        let mut from_neighbours: Vec<&Heights<P>> = Vec::new();
        for (i, (config, state)) in self.part.configs.iter().zip(&mut self.states).enumerate() {
            from_neighbours.clear();
            from_neighbours.extend(self.neighbours[i].iter().filter_map(|&m| {
                heard
                    .binary_search_by_key(&m, |h| h.from)
                    .ok()
                    .map(|at| &heard[at])
            }));
            // Under faults a down node does not step, and closed out-edges get no push.
            let open = match &self.faults {
                Some(f) => f.open(i, config.node),
                None => Some(&[][..]),
            };
            let e = match open {
                Some(open) => step_node(
                    config,
                    state,
                    &from_neighbours,
                    &self.params,
                    &mut self.scratch,
                    &mut self.outbox,
                    &mut self.sent[i],
                    &mut self.lambda[i],
                    open,
                ),
                None => step_down(
                    state,
                    &mut self.outbox,
                    &mut self.sent[i],
                    &mut self.lambda[i],
                ),
            };
            excess = excess.max(e);
            if self.faults.is_none() {
                for job in self.outbox.drain(..) {
                    let to = owner(self.cuts, job.to);
                    ex.count(&mut traffic, to);
                    batches[to as usize]
                        .push((job.from, job.edge, job.to, job.k, job.amount, job.stamp));
                }
            }
        }
        drop(from_neighbours);
        // Under faults the network carries what was sent: lost, delayed (held here
        // until due, then sent to the receiver's worker, in whatever process) or
        // duplicated (both copies sent; the receiver applies one).
        if let Some(f) = &mut self.faults {
            f.carry(&self.sent);
            for job in f.arrivals(&self.part.configs, &self.states, true) {
                let to = owner(self.cuts, job.to);
                ex.count(&mut traffic, to);
                batches[to as usize]
                    .push((job.from, job.edge, job.to, job.k, job.amount, job.stamp));
            }
        }
        let out = ex.batches(batches, Message::Jobs, |b| {
            let stamps: Vec<P::Stamp> = b.iter().map(|j| j.5).collect();
            let plain = b.into_iter().map(|j| (j.0, j.1, j.2, j.3, j.4)).collect();
            Message::RemoteJobs(plain, encode(&stamps))
        });
        let mut wire: Vec<WireJob<P>> = Vec::new();
        for m in ex.exchange(worker, out, &mut traffic, &during("jobs"))? {
            match m {
                Message::Jobs(j) => wire.extend(j),
                Message::RemoteJobs(plain, stamps) => {
                    let stamps = decode::<P::Stamp>(&stamps)?;
                    wire.extend(
                        plain
                            .into_iter()
                            .zip(stamps)
                            .map(|(j, s)| (j.0, j.1, j.2, j.3, j.4, s)),
                    );
                }
                _ => {}
            }
        }
        let mut arrivals: Vec<Jobs<P>> = wire
            .into_iter()
            .map(|(from, edge, to, k, amount, stamp)| Jobs {
                from,
                edge,
                to,
                k,
                amount,
                stamp,
            })
            .collect();
        // Each node applies its arrivals in its own canonical order, whatever order
        // they came in, and each message once: a job message is keyed by its round
        // (this exchange), sender, edge and commodity, so a copy is dropped.
        arrivals.sort_unstable_by_key(|j| (j.to, j.from, j.edge, j.k));
        arrivals.dedup_by_key(|j| (j.to, j.from, j.edge, j.k));
        let mut rest = &arrivals[..];
        let mut jobs: Vec<&Jobs<P>> = Vec::new();
        // Down nodes take no delivery (as in the `nodes` runtime's [`deliver_all`],
        // here on the worker's own thread).
        let down = self.faults.as_ref().map(|f| &f.net.down);
        for (i, (config, state)) in self.part.configs.iter().zip(&mut self.states).enumerate() {
            let n = self.part.first + i;
            let count = rest.iter().take_while(|j| j.to == n).count();
            jobs.clear();
            jobs.extend(&rest[..count]);
            rest = &rest[count..];
            if down.is_some_and(|d| d[config.node]) {
                state.absorbed.iter_mut().for_each(|x| *x = 0.0);
            } else {
                deliver(config, state, &jobs);
            }
        }
        // 3. Every node's report, to every process.
        let mut report = Report {
            worker: self.worker,
            held: Vec::new(),
            ends: Vec::new(),
            excess,
            sent: self
                .faults
                .as_ref()
                .map_or_else(Vec::new, |f| f.sent.clone()),
            traffic: Traffic::default(),
        };
        for (config, state) in self.part.configs.iter().zip(&self.states) {
            for (i, lc) in config.commodities.iter().enumerate() {
                report.held.push(state.held[i]);
                if lc.local.injection > 0.0 {
                    report.ends.push(state.discarded[i]);
                }
                if config.collection {
                    report.ends.push(state.absorbed[i]);
                }
            }
        }
        // The report's own bytes count too (fixed-size fields: its size does not
        // depend on the counts it carries).
        let remote_leaders = self
            .leaders
            .iter()
            .filter(|&&l| ex.process[l as usize] != here)
            .count() as u64;
        traffic.remote_bytes += remote_leaders
            * bincode::serialized_size(&Message::<P>::Report(report.clone())).unwrap_or(0);
        report.traffic = traffic;
        let reports = Message::Report(report);
        self.at_leaders(worker, ex, reports, &during("reports"), |m| match m {
            Message::Report(r) => Some((r.worker, r)),
            _ => None,
        })
    }

    /// Sends `m` to the first worker of every process and, there, returns what every
    /// worker sent, in worker order (`pick` takes a message's worker and content).
    fn at_leaders<T>(
        &self,
        worker: &mut Worker,
        ex: &mut Exchanges<P>,
        m: Message<P>,
        during: &str,
        pick: impl Fn(Message<P>) -> Option<(u32, T)>,
    ) -> Result<Vec<T>, TimelyError> {
        let out = self.to_leaders(m);
        let mut got: Vec<(u32, T)> = ex
            .exchange(worker, out, &mut Traffic::default(), during)?
            .into_iter()
            .filter_map(pick)
            .collect();
        got.sort_unstable_by_key(|(w, _)| *w);
        Ok(got.into_iter().map(|(_, t)| t).collect())
    }

    /// Every worker's window means at the leaders, or (`newest`) what its nodes sent
    /// in the last round (0 before the first), without λ.
    fn gather(
        &mut self,
        worker: &mut Worker,
        ex: &mut Exchanges<P>,
        newest: bool,
    ) -> Result<Vec<Means>, TimelyError> {
        let means = if newest {
            Means {
                worker: worker.index() as u32,
                sent: self
                    .sent
                    .iter()
                    .zip(&self.part.configs)
                    .flat_map(|(r, c)| {
                        r.newest()
                            .map_or_else(|| vec![0.0; c.out.len()], <[f64]>::to_vec)
                    })
                    .collect(),
                lambda: Vec::new(),
            }
        } else {
            Means {
                worker: worker.index() as u32,
                sent: self.sent.iter().flat_map(Ring::means).collect(),
                lambda: self.lambda.iter().map(|l| l.means()[0]).collect(),
            }
        };
        self.at_leaders(
            worker,
            ex,
            Message::Means(means),
            "gathering",
            |m| match m {
                Message::Means(m) => Some((m.worker, m)),
                _ => None,
            },
        )
    }

    /// Every worker's nodes' states and windows at the leaders.
    fn save(
        &mut self,
        worker: &mut Worker,
        ex: &mut Exchanges<P>,
    ) -> Result<Vec<Saved>, TimelyError> {
        let saved = Saved {
            worker: worker.index() as u32,
            states: encode(&self.states),
            sent: self
                .sent
                .iter()
                .map(|r| r.rows().map(<[f64]>::to_vec).collect())
                .collect(),
            lambda: self
                .lambda
                .iter()
                .map(|r| r.rows().map(|row| row[0]).collect())
                .collect(),
        };
        self.at_leaders(
            worker,
            ex,
            Message::Saved(saved),
            "saving the state",
            |m| match m {
                Message::Saved(s) => Some((s.worker, s)),
                _ => None,
            },
        )
    }

    fn footprint(
        &mut self,
        worker: &mut Worker,
        ex: &mut Exchanges<P>,
    ) -> Result<Vec<(usize, usize)>, TimelyError> {
        let owned = owned_footprint(
            &self.part.configs,
            &self.states,
            &self.neighbours,
            &self.sent,
            &self.lambda,
        );
        let state = owned.state + self.part.tell.iter().map(|t| t.len() * 4).sum::<usize>();
        let m = Message::Footprint(worker.index() as u32, state, owned.window);
        self.at_leaders(worker, ex, m, "measuring memory", |m| match m {
            Message::Footprint(w, s, b) => Some((w, (s, b))),
            _ => None,
        })
    }
}
