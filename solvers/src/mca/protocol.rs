//! One agent's side of the protocol ([MCA-Alloy] §II-A): its view (a, b, t) and
//! bundle m, bidding by marginal utility, and resolving a neighbour's view by the
//! conflict rules.

use super::scenario::Policy;
use super::values::{BundleValues, ItemSet};

/// What an agent believes about one item: the winner a_ij (or none), the highest
/// bid b_ij it knows, and the time t_ij that bid was made ([MCA-Alloy] §II-A's
/// vectors a, b, t; a message carries one per item, §IV's bidTriple).
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// a_ij: the agent index believed to win, or none.
    pub winner: Option<usize>,
    /// b_ij (0 with no winner).
    pub bid: f64,
    /// t_ij, on the run's logical clock.
    pub time: u64,
}

impl Entry {
    /// The initial view of an item: no winner, bid 0, time 0.
    pub const NONE: Entry = Entry {
        winner: None,
        bid: 0.0,
        time: 0,
    };

    /// No winner, bid 0, made at `now` (a reset or a release).
    pub fn none_at(now: u64) -> Entry {
        Entry {
            winner: None,
            bid: 0.0,
            time: now,
        }
    }

    fn key(&self) -> (Option<usize>, u64, u64) {
        // Bids are finite and ≥ 0 (−0 normalised), so bit order is numeric order.
        (self.winner, (self.bid + 0.0).to_bits(), self.time)
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Entry) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}
impl std::hash::Hash for Entry {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

/// A full-view message: the sender's (a, b, t) for every item ([MCA-Alloy] §IV's
/// `message` signature: msgSender, msgReceiver, msgWinners, msgBids, msgBidTimes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Message {
    /// Sender agent index.
    pub from: usize,
    /// Receiver agent index.
    pub to: usize,
    /// The sender's view when it sent, per item.
    pub view: Vec<Entry>,
}

/// Which conflict rule matched one item on receipt (receiver i, sender k), in the
/// order they are tried; the first match wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// 1. i thinks it won and k names another winner: update if k's bid is higher
    ///    (equal bids: the lower winner id), else keep a and b with the newer time.
    ReceiverWon,
    /// 2. Both name the same winner and bid: leave.
    SameWinnerAndBid,
    /// 3. Different winners (not each other), equal bids: the lower winner id wins.
    EqualBids,
    /// 4. k names a third agent m: update if i names k or none, or another agent
    ///    with an older time.
    SenderNamesThird,
    /// 5. k names itself: update if i names none, names k with an older time, or
    ///    names another agent with a lower bid or an older time.
    SenderNamesItself,
    /// 6. k names none and i names k (k released it): update.
    SenderReleased,
    /// 7. k names none and i names a third agent with an older time: update.
    NewerRelease,
    /// 8. k names i while i names k: reset.
    Crossed,
    /// 9. k names i while i names none: keep, with t = now.
    ReceiverReleased,
    /// 10. Otherwise: leave.
    Otherwise,
}

impl Rule {
    /// The rule's number in the order of [MCA-Alloy]'s conflict resolution table as
    /// brokerflow states it (see the module documentation).
    pub fn number(self) -> usize {
        self as usize + 1
    }

    /// A short description for traces.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::ReceiverWon => "receiver won, sender names another winner",
            Rule::SameWinnerAndBid => "same winner and bid",
            Rule::EqualBids => "different winners, equal bids: lower id",
            Rule::SenderNamesThird => "sender names a third agent",
            Rule::SenderNamesItself => "sender names itself",
            Rule::SenderReleased => "sender names none, receiver names sender",
            Rule::NewerRelease => "sender names none, receiver names a third agent",
            Rule::Crossed => "each names the other",
            Rule::ReceiverReleased => "sender names receiver, receiver names none",
            Rule::Otherwise => "otherwise",
        }
    }
}

/// What a rule does to the receiver's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Take the sender's (a, b, t).
    Update,
    /// Keep (a, b, t).
    Leave,
    /// (none, 0, now).
    Reset,
    /// Keep a and b, t = max(t_i, t_k).
    KeepNewerTime,
    /// Keep a and b, t = now.
    KeepNow,
}

impl Action {
    /// Lower-case name for traces.
    pub fn name(self) -> &'static str {
        match self {
            Action::Update => "update",
            Action::Leave => "leave",
            Action::Reset => "reset",
            Action::KeepNewerTime => "keep (newer time)",
            Action::KeepNow => "keep (time now)",
        }
    }
}

/// The conflict rules for one item ([MCA-Alloy] §II-A's agreement mechanism):
/// receiver `i` holding `mine`, sender `k` whose message says `theirs`.
pub fn resolve(i: usize, k: usize, mine: &Entry, theirs: &Entry) -> (Rule, Action) {
    let (a_i, a_k) = (mine.winner, theirs.winner);
    let older = mine.time < theirs.time;
    let is = |a: Option<usize>, x: usize| a == Some(x);
    let choose = |c: bool| if c { Action::Update } else { Action::Leave };
    if is(a_i, i) {
        if let Some(w) = a_k.filter(|&w| w != i) {
            // Equal bids go to the lower agent id, as in bidding.
            let higher = theirs.bid > mine.bid || (theirs.bid == mine.bid && w < i);
            let action = if higher {
                Action::Update
            } else {
                Action::KeepNewerTime
            };
            return (Rule::ReceiverWon, action);
        }
    }
    if a_i == a_k && mine.bid == theirs.bid {
        return (Rule::SameWinnerAndBid, Action::Leave);
    }
    if let (Some(n), Some(m)) = (a_i, a_k) {
        if n != m && mine.bid == theirs.bid && !(n == k && m == i) {
            return (Rule::EqualBids, choose(m < n));
        }
    }
    match a_k {
        Some(m) if m != i && m != k => {
            let update = a_i.is_none() || is(a_i, k) || older;
            (Rule::SenderNamesThird, choose(update))
        }
        Some(m) if m == k => {
            let update = match a_i {
                None => true,
                Some(n) if n == k => older,
                Some(_) => mine.bid < theirs.bid || older,
            };
            (Rule::SenderNamesItself, choose(update))
        }
        None if is(a_i, k) => (Rule::SenderReleased, Action::Update),
        None if a_i.is_some_and(|n| n != i && n != k) && older => {
            (Rule::NewerRelease, Action::Update)
        }
        Some(_) if is(a_i, k) => (Rule::Crossed, Action::Reset),
        Some(_) if a_i.is_none() => (Rule::ReceiverReleased, Action::KeepNow),
        _ => (Rule::Otherwise, Action::Leave),
    }
}

/// What one receipt or bidding phase did, for traces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepLog {
    /// Per item, the rule that matched and its action (empty for a bidding phase
    /// alone).
    pub rules: Vec<(Rule, Action)>,
    /// Items the receiver was outbid on (lost).
    pub outbid: Vec<usize>,
    /// Items released because they were added after an outbid item.
    pub released: Vec<usize>,
    /// Bids made: (item, bid, whether it re-asserts a lost item).
    pub bids: Vec<(usize, f64, bool)>,
}

/// One agent's state: its view of every item, its bundle m_i in the order it added
/// the items, the items it has lost, and (for the rebidding attack) its own last
/// bid per item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgentState {
    /// Per item, (a_ij, b_ij, t_ij).
    pub view: Vec<Entry>,
    /// m_i, oldest first; always the items whose a_ij is the agent itself.
    pub bundle: Vec<usize>,
    /// Items this agent was outbid on (Remark 1: it does not bid on them again).
    pub lost: ItemSet,
    /// Own last bid per item, kept only under `rebid_lost` (empty otherwise, so
    /// that it never splits states that behave alike).
    pub own: Vec<u64>,
}

impl AgentState {
    /// An agent that knows nothing: every item (none, 0, 0), empty bundle.
    pub fn new(items: usize, policy: &Policy) -> AgentState {
        AgentState {
            view: vec![Entry::NONE; items],
            bundle: Vec::new(),
            lost: 0,
            own: if policy.rebid_lost {
                vec![0; items]
            } else {
                Vec::new()
            },
        }
    }

    fn bundle_set(&self) -> ItemSet {
        self.bundle.iter().fold(0, |s, &j| s | (1 << j))
    }

    /// The bidding phase of agent `me` at time `now` ([MCA-Alloy] §II-A): while
    /// |m_i| < T_i, add the item of highest marginal utility u_i(j | m_i) that
    /// beats b_ij (higher, or equal with a winner of higher id), never a lost item;
    /// ties between items go to the lower item index. Marginals must be positive.
    /// Under `rebid_lost`, lost items the agent does not hold are first re-asserted
    /// at its own last bid, whether or not that beats b_ij (the attack).
    pub fn bid(
        &mut self,
        me: usize,
        values: &dyn BundleValues,
        policy: &Policy,
        now: u64,
        mut log: Option<&mut StepLog>,
    ) {
        let target = policy.target_bundle;
        if policy.rebid_lost {
            for j in 0..self.view.len() {
                if self.bundle.len() >= target {
                    break;
                }
                if self.lost & (1 << j) != 0 && self.view[j].winner != Some(me) {
                    let bid = f64::from_bits(self.own[j]);
                    self.view[j] = Entry {
                        winner: Some(me),
                        bid,
                        time: now,
                    };
                    self.bundle.push(j);
                    if let Some(l) = log.as_deref_mut() {
                        l.bids.push((j, bid, true));
                    }
                }
            }
        }
        while self.bundle.len() < target {
            let held = self.bundle_set();
            let mut best: Option<(usize, f64)> = None;
            for j in 0..self.view.len() {
                if (held | self.lost) & (1 << j) != 0 {
                    continue;
                }
                let u = values.marginal(me, j, held) + 0.0;
                let e = &self.view[j];
                let beats =
                    u > 0.0 && (u > e.bid || (u == e.bid && e.winner.is_some_and(|w| me < w)));
                if beats && best.is_none_or(|(_, b)| u > b) {
                    best = Some((j, u));
                }
            }
            let Some((j, u)) = best else { break };
            self.view[j] = Entry {
                winner: Some(me),
                bid: u,
                time: now,
            };
            self.bundle.push(j);
            if !self.own.is_empty() {
                self.own[j] = u.to_bits();
            }
            if let Some(l) = log.as_deref_mut() {
                l.bids.push((j, u, false));
            }
        }
    }

    /// Receipt by agent `me` of sender `from`'s view at time `now`: every item
    /// resolved by [`resolve`] in item order; an item the agent held and no longer
    /// wins is lost, leaves the bundle, and under `release_outbid` releases the
    /// items added after it — at once, so items resolved later in the same receipt
    /// see the release.
    pub fn receive(
        &mut self,
        me: usize,
        from: usize,
        theirs: &[Entry],
        policy: &Policy,
        now: u64,
        mut log: Option<&mut StepLog>,
    ) {
        for (j, their) in theirs.iter().enumerate().take(self.view.len()) {
            let mine = self.view[j];
            let (rule, action) = resolve(me, from, &mine, their);
            self.view[j] = match action {
                Action::Update => *their,
                Action::Leave => mine,
                Action::Reset => Entry::none_at(now),
                Action::KeepNewerTime => Entry {
                    time: mine.time.max(their.time),
                    ..mine
                },
                Action::KeepNow => Entry { time: now, ..mine },
            };
            if let Some(l) = log.as_deref_mut() {
                l.rules.push((rule, action));
            }
            if mine.winner == Some(me) && self.view[j].winner != Some(me) {
                self.lost |= 1 << j;
                if let Some(l) = log.as_deref_mut() {
                    l.outbid.push(j);
                }
                if let Some(p) = self.bundle.iter().position(|&x| x == j) {
                    self.bundle.remove(p);
                    if policy.release_outbid {
                        for r in self.bundle.drain(p..) {
                            self.view[r] = Entry::none_at(now);
                            if let Some(l) = log.as_deref_mut() {
                                l.released.push(r);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Whether the agents have reached consensus ([MCA-Alloy] §V's consensusPred, with
/// the conflict-free conditions): every agent agrees on every item's winner and
/// bid, each item's winner holds it and nobody else does, no bundle exceeds T.
pub fn consensus(agents: &[AgentState], policy: &Policy) -> bool {
    let Some(first) = agents.first() else {
        return true;
    };
    for (j, e) in first.view.iter().enumerate() {
        for a in agents {
            if a.view[j].winner != e.winner || a.view[j].bid != e.bid {
                return false;
            }
        }
        for (i, a) in agents.iter().enumerate() {
            if a.bundle.contains(&j) != (e.winner == Some(i)) {
                return false;
            }
        }
    }
    agents
        .iter()
        .all(|a| a.bundle.len() <= policy.target_bundle)
}

/// Item → the agent holding it in its bundle, if exactly one does (`None`: nobody,
/// or a conflict).
pub fn assignment(agents: &[AgentState], items: usize) -> Vec<Option<usize>> {
    (0..items)
        .map(|j| {
            let mut holders = agents
                .iter()
                .enumerate()
                .filter(|(_, a)| a.bundle.contains(&j));
            match (holders.next(), holders.next()) {
                (Some((i, _)), None) => Some(i),
                _ => None,
            }
        })
        .collect()
}

/// Σ_i v_i(items assigned to i): the network utility of an assignment.
pub fn assignment_value(values: &dyn BundleValues, agents: usize, a: &[Option<usize>]) -> f64 {
    (0..agents)
        .map(|i| {
            let set = a
                .iter()
                .enumerate()
                .filter(|(_, w)| **w == Some(i))
                .fold(0u64, |s, (j, _)| s | (1 << j));
            values.value(i, set)
        })
        .sum()
}

/// Replaces every time in `times` by its rank among the distinct times (0 stays 0,
/// the others become 1, 2, …). The rules compare times only by order and `now`
/// is always newer than every time in the system, so this changes no behaviour and
/// makes the state space finite.
pub fn rank_times<'a>(times: impl Iterator<Item = &'a mut u64>) {
    let mut all: Vec<&'a mut u64> = times.collect();
    let mut distinct: Vec<u64> = all.iter().map(|t| **t).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let offset = u64::from(distinct.first() != Some(&0));
    for t in all.iter_mut() {
        let r = distinct.binary_search(t).unwrap_or(0) as u64;
        **t = r + offset;
    }
}
