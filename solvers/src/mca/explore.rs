//! The exhaustive explorer of asynchronous executions: what [MCA-Alloy] §IV–V check
//! with Alloy's SAT-based analyzer (up to a day at 3 agents × 2 items), here by
//! explicit breadth-first search over states with visited-state hashing.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use super::protocol::{consensus, rank_columns, AgentState, Entry, Message, Rules, StepLog};
use super::scenario::{McaError, Policy, Scenario};

/// Default bound on deliveries (`--max-deliveries`): states first reached after
/// this many deliveries are not expanded. Far above the longest converging
/// execution of the committed scenarios (22 deliveries, 3 agents × 3 items; see
/// `experiments/mca/README.md`), so that hitting it means executions that keep
/// going, not one that was about to end.
pub const DEFAULT_MAX_DELIVERIES: usize = 200;

/// Default limit on distinct states visited, beyond which an exploration is
/// refused ([`McaError::TooManyStates`]) rather than exhausting memory.
pub const DEFAULT_MAX_STATES: usize = 20_000_000;

/// How the links between neighbours order messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Channels {
    /// Each link (sender, receiver) delivers in the order sent; deliveries on
    /// different links interleave in every way. Like [`Channels::Latest`] it keeps
    /// views in order on a link: without that a stale view can overtake a newer
    /// one, and bid-time rule 6 (k names none, i names k: update), which carries
    /// no time check, lets it undo a newer bid — a failure of the network, not of
    /// the policies.
    Fifo,
    /// Any message in flight may be delivered next, even before an older one on
    /// the same link.
    Unordered,
    /// Each link holds at most the sender's latest view: a new view replaces one
    /// not yet delivered (state-based gossip). Executions interleave links in
    /// every way; the state space is finite, so every search ends. The default.
    Latest,
}

impl Channels {
    /// `fifo`, `unordered` or `latest`.
    pub fn name(self) -> &'static str {
        match self {
            Channels::Fifo => "fifo",
            Channels::Unordered => "unordered",
            Channels::Latest => "latest",
        }
    }
}

/// Settings of [`explore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExploreOptions {
    /// States at this many deliveries are not expanded further.
    pub max_deliveries: usize,
    /// Refuse beyond this many distinct states.
    pub max_states: usize,
    /// How links order messages.
    pub channels: Channels,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions {
            max_deliveries: DEFAULT_MAX_DELIVERIES,
            max_states: DEFAULT_MAX_STATES,
            channels: Channels::Latest,
        }
    }
}

/// The explorer's answer for one policy combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every maximal execution ends (nothing left in flight) in consensus.
    Converges,
    /// A reachable cycle of states: the protocol can run forever.
    Oscillates,
    /// Some execution ends without consensus, or is still running after the
    /// delivery bound.
    NoConsensusWithinBound,
}

impl Verdict {
    /// The name used in outputs: `converges`, `oscillates`,
    /// `no-consensus-within-bound`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Converges => "converges",
            Verdict::Oscillates => "oscillates",
            Verdict::NoConsensusWithinBound => "no-consensus-within-bound",
        }
    }
}

/// A whole system state: every agent's state and the messages in flight (a
/// multiset, kept sorted).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SystemState {
    /// Per agent.
    pub agents: Vec<AgentState>,
    /// Messages sent and not yet delivered, sorted.
    pub in_flight: Vec<Message>,
}

impl SystemState {
    /// Orders messages canonically (by link, in send order on each link, for
    /// FIFO links; fully sorted otherwise) and ranks times: equal behaviour ⇒
    /// equal state.
    fn canonicalise(&mut self, channels: Channels) {
        match channels {
            Channels::Fifo | Channels::Latest => self.in_flight.sort_by_key(|m| (m.from, m.to)),
            Channels::Unordered => self.in_flight.sort(),
        }
        let mut rows: Vec<(&mut [Entry], &mut [u64])> = self
            .agents
            .iter_mut()
            .map(|a| (&mut a.view[..], &mut a.stamps[..]))
            .chain(
                self.in_flight
                    .iter_mut()
                    .map(|m| (&mut m.view[..], &mut m.stamps[..])),
            )
            .collect();
        rank_columns(&mut rows);
    }

    /// Positions of the messages that may be delivered next, each distinct
    /// message once.
    fn deliverable(&self, channels: Channels) -> Vec<usize> {
        let f = &self.in_flight;
        (0..f.len())
            .filter(|&p| {
                p == 0
                    || match channels {
                        Channels::Fifo | Channels::Latest => {
                            (f[p].from, f[p].to) != (f[p - 1].from, f[p - 1].to)
                        }
                        Channels::Unordered => f[p] != f[p - 1],
                    }
            })
            .collect()
    }

    fn latest(&self) -> u64 {
        self.agents
            .iter()
            .flat_map(|a| {
                a.view
                    .iter()
                    .map(|e| e.time)
                    .chain(a.stamps.iter().copied())
            })
            .chain(self.in_flight.iter().flat_map(|m| {
                m.view
                    .iter()
                    .map(|e| e.time)
                    .chain(m.stamps.iter().copied())
            }))
            .max()
            .unwrap_or(0)
    }
}

/// One step of a trace: the message delivered, the receiver's state before and
/// after, and what each rule did.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The message delivered.
    pub message: Message,
    /// The receiver's state before.
    pub before: AgentState,
    /// The receiver's state after receipt and bidding.
    pub after: AgentState,
    /// Rules per item, losses, releases, bids.
    pub log: StepLog,
    /// Messages the receiver sent (its view changed: one per neighbour), else 0.
    pub sent: usize,
}

/// A counterexample: the initial state (every agent has bid once and sent) and the
/// deliveries from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The state after the initial bids.
    pub initial: SystemState,
    /// The deliveries, in order.
    pub steps: Vec<Step>,
    /// For a lasso, the step index where the cycle starts: the state before that
    /// step recurs after the last step.
    pub cycle_start: Option<usize>,
    /// The state after the last step.
    pub last: SystemState,
}

/// The result of exploring one policy combination.
#[derive(Debug, Clone, PartialEq)]
pub struct Exploration {
    /// The policy explored.
    pub policy: Policy,
    /// The conflict rules explored.
    pub rules: Rules,
    /// The verdict.
    pub verdict: Verdict,
    /// Distinct states visited.
    pub states: usize,
    /// Converges: the largest number of deliveries of any execution. Oscillates:
    /// the lasso's length. No consensus within the bound: the length of the
    /// shortest such execution.
    pub deliveries: usize,
    /// The bound used.
    pub max_deliveries: usize,
    /// The counterexample, where there is one.
    pub trace: Option<Trace>,
}

/// Appends `v` as a LEB128 variable-length integer: seven bits a byte, low first,
/// the high bit set on every byte but the last. Distinct sequences of values give
/// distinct byte strings, so packed states compare as the states do.
fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads one [`put`] integer from `w` at `*p`, advancing `*p`.
fn get(w: &[u8], p: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let b = w[*p];
        *p += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// Packs states into bytes (bids interned, every number a variable-length
/// integer: ranks, ids and bid indices are small), so that visited states cost
/// little.
struct Packer {
    bids: HashMap<u64, u64>,
    bid_values: Vec<u64>,
    agents: usize,
    items: usize,
    rebid: bool,
    rules: Rules,
}

impl Packer {
    fn bid(&mut self, bits: u64) -> u64 {
        if let Some(&b) = self.bids.get(&bits) {
            return b;
        }
        let b = self.bid_values.len() as u64;
        self.bid_values.push(bits);
        self.bids.insert(bits, b);
        b
    }

    fn entry(&mut self, out: &mut Vec<u8>, e: &Entry) {
        put(out, e.winner.map_or(0, |w| w as u64 + 1));
        let b = self.bid((e.bid + 0.0).to_bits());
        put(out, b);
        put(out, e.time);
    }

    fn pack(&mut self, s: &SystemState) -> Rc<[u8]> {
        let mut out = Vec::new();
        for a in &s.agents {
            for e in &a.view {
                self.entry(&mut out, e);
            }
            put(&mut out, a.bundle.len() as u64);
            for &j in &a.bundle {
                put(&mut out, j as u64);
            }
            put(&mut out, a.lost);
            for &o in &a.own {
                let b = self.bid(o);
                put(&mut out, b);
            }
            for &t in &a.stamps {
                put(&mut out, t);
            }
        }
        put(&mut out, s.in_flight.len() as u64);
        for msg in &s.in_flight {
            put(&mut out, msg.from as u64);
            put(&mut out, msg.to as u64);
            for e in &msg.view {
                self.entry(&mut out, e);
            }
            for &t in &msg.stamps {
                put(&mut out, t);
            }
        }
        out.into()
    }

    fn unpack(&self, w: &[u8]) -> SystemState {
        let mut p = 0;
        let mut next = || get(w, &mut p);
        let entry = |next: &mut dyn FnMut() -> u64| {
            let winner = next();
            let bid = f64::from_bits(self.bid_values[next() as usize]);
            let time = next();
            Entry {
                winner: (winner != 0).then(|| winner as usize - 1),
                bid,
                time,
            }
        };
        let stamped = if self.rules == Rules::Cbba {
            self.agents
        } else {
            0
        };
        let mut agents = Vec::with_capacity(self.agents);
        for _ in 0..self.agents {
            let view = (0..self.items).map(|_| entry(&mut next)).collect();
            let len = next() as usize;
            let bundle = (0..len).map(|_| next() as usize).collect();
            let lost = next();
            let own = if self.rebid {
                (0..self.items)
                    .map(|_| self.bid_values[next() as usize])
                    .collect()
            } else {
                Vec::new()
            };
            let stamps = (0..stamped).map(|_| next()).collect();
            agents.push(AgentState {
                rules: self.rules,
                view,
                bundle,
                lost,
                own,
                stamps,
            });
        }
        let count = next() as usize;
        let mut in_flight = Vec::with_capacity(count);
        for _ in 0..count {
            let from = next() as usize;
            let to = next() as usize;
            let view = (0..self.items).map(|_| entry(&mut next)).collect();
            let stamps = (0..stamped).map(|_| next()).collect();
            in_flight.push(Message {
                from,
                to,
                view,
                stamps,
            });
        }
        SystemState { agents, in_flight }
    }
}

/// The protocol as a transition system over [`SystemState`]s.
struct System<'a> {
    scenario: &'a Scenario,
    policy: Policy,
    rules: Rules,
    channels: Channels,
}

impl System<'_> {
    /// Every agent bids once (in id order, one clock tick each) and sends its view
    /// to its neighbours.
    fn initial(&self) -> SystemState {
        let (n, m) = (self.scenario.agents.len(), self.scenario.items.len());
        let mut agents: Vec<AgentState> = (0..n)
            .map(|_| AgentState::new(n, m, &self.policy, self.rules))
            .collect();
        let mut in_flight = Vec::new();
        for (i, a) in agents.iter_mut().enumerate() {
            let now = i as u64 + 1;
            a.bid(i, self.scenario.values.as_ref(), &self.policy, now, None);
            if a.view.iter().any(|e| *e != Entry::NONE) {
                let (view, stamps) = a.outgoing(i, now);
                for &k in &self.scenario.neighbours[i] {
                    in_flight.push(Message {
                        from: i,
                        to: k,
                        view: view.clone(),
                        stamps: stamps.clone(),
                    });
                }
            }
        }
        let mut s = SystemState { agents, in_flight };
        s.canonicalise(self.channels);
        s
    }

    /// Delivers the message at `pos` of `state.in_flight`: the receiver resolves it,
    /// bids, and if its view changed sends the new view to every neighbour.
    fn deliver(
        &self,
        state: &SystemState,
        pos: usize,
        log: Option<&mut StepLog>,
    ) -> (SystemState, usize) {
        let mut next = state.clone();
        let msg = next.in_flight.remove(pos);
        let now = state.latest() + 1;
        let i = msg.to;
        let before = next.agents[i].view.clone();
        let mut scratch = StepLog::default();
        let log = log.unwrap_or(&mut scratch);
        let agent = &mut next.agents[i];
        agent.receive(
            i,
            msg.from,
            &msg.view,
            &msg.stamps,
            &self.policy,
            now,
            Some(log),
        );
        agent.bid(
            i,
            self.scenario.values.as_ref(),
            &self.policy,
            now,
            Some(log),
        );
        let mut sent = 0;
        if agent.view != before {
            sent = self.scenario.neighbours[i].len();
            let (view, stamps) = agent.outgoing(i, now);
            for &k in &self.scenario.neighbours[i] {
                let queued = next.in_flight.iter_mut().find(|m| m.from == i && m.to == k);
                match queued {
                    Some(m) if self.channels == Channels::Latest => {
                        m.view = view.clone();
                        m.stamps = stamps.clone();
                    }
                    _ => next.in_flight.push(Message {
                        from: i,
                        to: k,
                        view: view.clone(),
                        stamps: stamps.clone(),
                    }),
                }
            }
        }
        next.canonicalise(self.channels);
        (next, sent)
    }

    fn step(&self, state: &SystemState, pos: usize) -> (Step, SystemState) {
        let mut log = StepLog::default();
        let message = state.in_flight[pos].clone();
        let before = state.agents[message.to].clone();
        let (next, sent) = self.deliver(state, pos, Some(&mut log));
        // Times in `after` are ranked afresh; compare views by winner and bid.
        let after = next.agents[message.to].clone();
        (
            Step {
                message,
                before,
                after,
                log,
                sent,
            },
            next,
        )
    }
}

/// The explored graph: states by index, BFS parents, edges.
struct Graph {
    packed: Vec<Rc<[u8]>>,
    depth: Vec<u32>,
    /// (parent state, position of the message delivered in the parent).
    parent: Vec<(u32, u32)>,
    /// Per expanded state, its successors' range in `succ` (`u32::MAX`: not
    /// expanded).
    succ_start: Vec<u32>,
    succ_end: Vec<u32>,
    succ: Vec<(u32, u32)>,
}

/// Explores every asynchronous execution of `scenario` under `policy` and `rules` up to
/// `options.max_deliveries` deliveries ([MCA-Alloy] §V's consensus assertion, in
/// breadth-first order).
///
/// A state is every agent's view, bundle, lost items and (under \[CBBA\] rules)
/// stamps plus the multiset of messages in flight, with times ranked column by
/// column ([`rank_columns`]) so that states that behave alike are equal. The initial state: every agent has bid once and sent.
/// A step delivers one in-flight message — on [`Channels::Fifo`] links the
/// oldest of some link, on [`Channels::Unordered`] any; the receiver resolves it, bids, and sends its view if it changed.
/// States are expanded in breadth-first order (messages in sorted order), each
/// distinct state once, level by level; the search stops at the end of the first
/// level at which a counterexample exists (a cycle, looked for whenever the
/// explored graph has doubled, or a failing execution). Then:
///
/// - a cycle among the explored states ⇒ [`Verdict::Oscillates`], with a lasso:
///   the shortest path to the first cycle state found by a depth-first search in
///   successor order, then the shortest way around from it;
/// - else an execution that ends (nothing in flight) without consensus, or a
///   state at the bound with messages still in flight ⇒
///   [`Verdict::NoConsensusWithinBound`], with the shortest such execution;
/// - else [`Verdict::Converges`], with the longest execution's length.
///
/// Deterministic: the same scenario, policy and bound give the same result.
///
/// # Arguments
/// * `scenario`: agents, items, neighbours, values.
/// * `policy`: the policy combination to explore.
/// * `rules`: the conflict rules.
/// * `options`: the delivery bound, the state limit and how links order messages.
///
/// # Returns
/// The [`Exploration`]: the verdict, the states visited and a counterexample trace
/// where there is one.
///
/// # Errors
/// [`McaError`] when the search would visit more than `options.max_states` states.
///
/// # Complexity
/// Linear in the states visited (each packed into a few words per item and
/// message), which grow exponentially with agents and items.
///
/// # Example
/// ```
/// use brokerflow_solvers::mca::{explore, ExploreOptions, Rules, Scenario, Verdict};
///
/// // \[CBBA\] proves consensus for sub-modular values under its rules, whatever the
/// // delivery order: so every asynchronous execution converges.
/// let json = r#"{"name": "hand", "agents": ["1", "2"], "items": ["A", "C"],
///     "values": {"1": {"A": 5, "C": 3}, "2": {"C": 6, "A": 4}},
///     "policy": {"release_outbid": true, "target_bundle": 2, "rebid_lost": false}}"#;
/// let s = Scenario::from_json_str(json, "hand.json")?;
/// let e = explore(&s, &s.policy, Rules::Cbba, &ExploreOptions::default())?;
/// assert_eq!(e.verdict, Verdict::Converges);
/// assert!(e.trace.is_none());
/// # Ok::<_, brokerflow_solvers::mca::McaError>(())
/// ```
///
/// Paper: [MCA-Alloy] §IV (the dynamic model) and §V (Results 1 and 2).
pub fn explore(
    scenario: &Scenario,
    policy: &Policy,
    rules: Rules,
    options: &ExploreOptions,
) -> Result<Exploration, McaError> {
    let system = System {
        scenario,
        policy: *policy,
        rules,
        channels: options.channels,
    };
    let mut packer = Packer {
        bids: HashMap::new(),
        bid_values: Vec::new(),
        agents: scenario.agents.len(),
        items: scenario.items.len(),
        rebid: policy.rebid_lost,
        rules,
    };
    let init = system.initial();
    let first = packer.pack(&init);
    let mut index: HashMap<Rc<[u8]>, u32> = HashMap::new();
    index.insert(first.clone(), 0);
    let mut g = Graph {
        packed: vec![first],
        depth: vec![0],
        parent: vec![(u32::MAX, 0)],
        succ_start: Vec::new(),
        succ_end: Vec::new(),
        succ: Vec::new(),
    };
    // The shortest failing execution found: (state, is a dead end without consensus).
    let mut failure: Option<u32> = None;
    let mut s = 0usize;
    let mut checked_at = 0usize;
    let mut cycle_found = None;
    while s < g.packed.len() {
        if s > 0 && g.depth[s] != g.depth[s - 1] {
            // Level g.depth[s − 1] is complete: stop at the first level with a
            // counterexample; look for cycles whenever the graph has doubled.
            if failure.is_some() || s >= 2 * checked_at.max(64) {
                checked_at = s;
                let (c, _) = cycle_or_longest(&g);
                if c.is_some() {
                    cycle_found = c;
                    break;
                }
                if failure.is_some() {
                    break;
                }
            }
        }
        let state = packer.unpack(&g.packed[s]);
        let start = g.succ.len() as u32;
        let depth = g.depth[s] as usize;
        if state.in_flight.is_empty() {
            if failure.is_none() && !consensus(&state.agents, policy) {
                failure = Some(s as u32);
            }
        } else if depth >= options.max_deliveries {
            if failure.is_none() {
                failure = Some(s as u32);
            }
        } else {
            for pos in state.deliverable(options.channels) {
                let (next, _) = system.deliver(&state, pos, None);
                let key = packer.pack(&next);
                let id = match index.get(&key) {
                    Some(&id) => id,
                    None => {
                        let id = g.packed.len() as u32;
                        if g.packed.len() >= options.max_states {
                            return Err(McaError::TooManyStates {
                                policy: policy.name(),
                                limit: options.max_states,
                                deliveries: depth + 1,
                            });
                        }
                        index.insert(key.clone(), id);
                        g.packed.push(key);
                        g.depth.push(depth as u32 + 1);
                        g.parent.push((s as u32, pos as u32));
                        id
                    }
                };
                g.succ.push((id, pos as u32));
            }
        }
        g.succ_start.push(start);
        g.succ_end.push(g.succ.len() as u32);
        s += 1;
    }
    drop(index);
    // States discovered but not expanded (the search stopped early) have no
    // successors recorded.
    while g.succ_start.len() < g.packed.len() {
        let end = g.succ.len() as u32;
        g.succ_start.push(end);
        g.succ_end.push(end);
    }
    let states = g.packed.len();
    let (cycle_at, longest) = match cycle_found {
        Some(c) => (Some(c), 0),
        None => cycle_or_longest(&g),
    };
    let unpack = |id: u32| packer.unpack(&g.packed[id as usize]);
    let (verdict, deliveries, trace) = if let Some(v) = cycle_at {
        let mut path = bfs_path(&g, v);
        let cycle_start = path.len();
        let around = cycle_path(&g, v);
        path.extend(around);
        let trace = build_trace(&system, unpack(0), &path, Some(cycle_start));
        (Verdict::Oscillates, path.len(), Some(trace))
    } else if let Some(f) = failure {
        let path = bfs_path(&g, f);
        let trace = build_trace(&system, unpack(0), &path, None);
        (Verdict::NoConsensusWithinBound, path.len(), Some(trace))
    } else {
        (Verdict::Converges, longest, None)
    };
    Ok(Exploration {
        policy: *policy,
        rules,
        verdict,
        states,
        deliveries,
        max_deliveries: options.max_deliveries,
        trace,
    })
}

/// What [`sample`] found: how random asynchronous executions ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// The policy run.
    pub policy: Policy,
    /// The conflict rules run.
    pub rules: Rules,
    /// Executions run.
    pub walks: usize,
    /// Executions that ended (nothing in flight) in consensus.
    pub consensus: usize,
    /// Executions that ended without consensus.
    pub no_consensus: usize,
    /// Executions still running at the delivery bound.
    pub cut_at_bound: usize,
    /// The most deliveries any execution that ended needed.
    pub longest: usize,
}

/// Random asynchronous executions where exhaustive search is too large: `walks`
/// executions from [`explore`]'s initial state, each delivering a message chosen
/// uniformly among the deliverable ones (xorshift64 seeded with `seed`, so the same
/// arguments give the same answer) until nothing is in flight or
/// `options.max_deliveries` deliveries. Evidence, not a verdict: an execution
/// that no walk takes is not checked.
///
/// # Arguments
/// * `scenario`, `policy`, `rules`, `options`: as for [`explore`].
/// * `walks`: how many random executions.
/// * `seed`: the random stream's seed.
///
/// # Returns
/// The [`Sample`]: how many walks ended in consensus, without it, or at the bound.
///
/// # Complexity
/// O(walks · B · (n + |J|)) time for B = `options.max_deliveries`, n agents and |J|
/// items (each delivery resolves one view and rebids).
///
/// # Example
/// ```
/// use brokerflow_solvers::mca::{sample, ExploreOptions, Rules, Scenario};
///
/// let json = r#"{"name": "hand", "agents": ["1", "2"], "items": ["A", "C"],
///     "values": {"1": {"A": 5, "C": 3}, "2": {"C": 6, "A": 4}},
///     "policy": {"release_outbid": true, "target_bundle": 2, "rebid_lost": false}}"#;
/// let s = Scenario::from_json_str(json, "hand.json")?;
/// let walks = sample(&s, &s.policy, Rules::Cbba, &ExploreOptions::default(), 20, 7);
/// assert_eq!(walks.walks, 20);
/// // Sub-modular values under \[CBBA\]'s rules: no execution ends without consensus.
/// assert_eq!(walks.no_consensus, 0);
/// assert_eq!(walks.consensus + walks.cut_at_bound, 20);
/// # Ok::<_, brokerflow_solvers::mca::McaError>(())
/// ```
///
/// Paper: [MCA-Alloy] §IV (asynchronous executions).
pub fn sample(
    scenario: &Scenario,
    policy: &Policy,
    rules: Rules,
    options: &ExploreOptions,
    walks: usize,
    seed: u64,
) -> Sample {
    let system = System {
        scenario,
        policy: *policy,
        rules,
        channels: options.channels,
    };
    let mut x = seed.max(1);
    let mut rnd = |m: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % m as u64) as usize
    };
    let initial = system.initial();
    let mut out = Sample {
        policy: *policy,
        rules,
        walks,
        consensus: 0,
        no_consensus: 0,
        cut_at_bound: 0,
        longest: 0,
    };
    for _ in 0..walks {
        let mut state = initial.clone();
        let mut depth = 0;
        while !state.in_flight.is_empty() && depth < options.max_deliveries {
            let choices = state.deliverable(options.channels);
            let pos = choices[rnd(choices.len())];
            state = system.deliver(&state, pos, None).0;
            depth += 1;
        }
        if !state.in_flight.is_empty() {
            out.cut_at_bound += 1;
            continue;
        }
        out.longest = out.longest.max(depth);
        if consensus(&state.agents, policy) {
            out.consensus += 1;
        } else {
            out.no_consensus += 1;
        }
    }
    out
}

/// Iterative depth-first search from state 0 in successor order: the first state
/// found on a cycle (the head of a back edge), or else the longest path length.
fn cycle_or_longest(g: &Graph) -> (Option<u32>, usize) {
    let n = g.packed.len();
    // Successor range of u; states not expanded yet have none.
    let range = |u: u32| match (g.succ_start.get(u as usize), g.succ_end.get(u as usize)) {
        (Some(&a), Some(&b)) => (a, b),
        _ => (0, 0),
    };
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut colour = vec![0u8; n];
    let mut longest = vec![0u32; n];
    let mut stack: Vec<(u32, u32)> = vec![(0, range(0).0)];
    colour[0] = 1;
    while let Some(&mut (u, ref mut next)) = stack.last_mut() {
        let (start, end) = range(u);
        if *next < end {
            let (v, _) = g.succ[*next as usize];
            *next += 1;
            match colour[v as usize] {
                0 => {
                    colour[v as usize] = 1;
                    stack.push((v, range(v).0));
                }
                1 => return (Some(v), 0),
                _ => {}
            }
        } else {
            let best = (start..end)
                .map(|e| longest[g.succ[e as usize].0 as usize] + 1)
                .max()
                .unwrap_or(0);
            longest[u as usize] = best;
            colour[u as usize] = 2;
            stack.pop();
        }
    }
    (None, longest[0] as usize)
}

/// The BFS-tree path from state 0 to `target`: (parent state, message position)
/// per step.
fn bfs_path(g: &Graph, target: u32) -> Vec<(u32, u32)> {
    let mut path = Vec::new();
    let mut v = target;
    while v != 0 {
        let (p, pos) = g.parent[v as usize];
        path.push((p, pos));
        v = p;
    }
    path.reverse();
    path
}

/// The shortest way from `v` back to `v` over explored edges.
fn cycle_path(g: &Graph, v: u32) -> Vec<(u32, u32)> {
    let n = g.packed.len();
    let mut back: Vec<Option<(u32, u32)>> = vec![None; n];
    let mut queue = VecDeque::from([v]);
    let mut seen = vec![false; n];
    seen[v as usize] = true;
    while let Some(u) = queue.pop_front() {
        for e in g.succ_start[u as usize]..g.succ_end[u as usize] {
            let (w, pos) = g.succ[e as usize];
            if w == v {
                let mut path = vec![(u, pos)];
                let mut x = u;
                while x != v {
                    let Some((p, ppos)) = back[x as usize] else {
                        break;
                    };
                    path.push((p, ppos));
                    x = p;
                }
                path.reverse();
                return path;
            }
            if !seen[w as usize] {
                seen[w as usize] = true;
                back[w as usize] = Some((u, pos));
                queue.push_back(w);
            }
        }
    }
    Vec::new()
}

/// Replays `path` from the initial state, recording each step.
fn build_trace(
    system: &System<'_>,
    initial: SystemState,
    path: &[(u32, u32)],
    cycle_start: Option<usize>,
) -> Trace {
    let mut state = initial.clone();
    let mut steps = Vec::with_capacity(path.len());
    for &(_, pos) in path {
        let (step, next) = system.step(&state, pos as usize);
        steps.push(step);
        state = next;
    }
    Trace {
        initial,
        steps,
        cycle_start,
        last: state,
    }
}
