//! One agent's side of the protocol ([MCA-Alloy] §II-A): its view (a, b, t) and
//! bundle m, bidding by marginal utility, and resolving a neighbour's view by one
//! of two sets of conflict rules ([`Rules`]).

use serde::{Deserialize, Serialize};

use super::scenario::{McaError, Policy};
use super::values::{BundleValues, ItemSet};

/// Which conflict rules resolve a neighbour's view ([MCA-Alloy] §II-A, \[CBBA\] Table I;
/// design §9): the seam between the two rule sets brokerflow implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rules {
    /// [MCA-Alloy]'s table as design §9 states it: each view entry carries the time
    /// its bid was made, and the rules compare bid times ([`resolve`]). Reproduces
    /// [MCA-Alloy]'s Results 1 and 2, but with sub-modular values it can oscillate
    /// (4 agents × 2 items) or go quiet without consensus on sparse graphs.
    BidTime,
    /// \[CBBA\] Table I: each agent keeps, per other agent, the time of the latest
    /// information it has from that agent (directly or relayed), and the rules
    /// compare those ([`resolve_cbba`]); bid times play no part. The default: the
    /// rule set for which \[CBBA\] proves consensus with sub-modular values.
    #[default]
    Cbba,
}

impl Rules {
    /// Both rule sets, the default first.
    pub const ALL: [Rules; 2] = [Rules::Cbba, Rules::BidTime];

    /// The name used in files and on the command line: `cbba` or `bid-time`.
    pub fn name(self) -> &'static str {
        match self {
            Rules::BidTime => "bid-time",
            Rules::Cbba => "cbba",
        }
    }

    /// Parses [`Rules::name`]'s form.
    pub fn parse(name: &str) -> Result<Rules, McaError> {
        Rules::ALL
            .into_iter()
            .find(|r| r.name() == name.trim())
            .ok_or_else(|| McaError::BadRules {
                name: name.to_string(),
            })
    }

    /// The time an entry made at `now` carries: `now` for bid-time rules; always 0
    /// under \[CBBA\], whose entries carry no time (so that states differing only in
    /// unused times are one state).
    pub fn entry_time(self, now: u64) -> u64 {
        match self {
            Rules::BidTime => now,
            Rules::Cbba => 0,
        }
    }
}

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
    /// Under \[CBBA\] rules, the sender's stamps s_k when it sent (its own entry:
    /// the send time); empty under bid-time rules.
    pub stamps: Vec<u64>,
}

/// Which bid-time conflict rule ([`Rules::BidTime`]) matched one item on receipt
/// (receiver i, sender k), in the order they are tried; the first match wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BidTimeRule {
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

impl BidTimeRule {
    /// The rule's number in the order of [MCA-Alloy]'s conflict resolution table as
    /// brokerflow states it (see the module documentation).
    pub fn number(self) -> usize {
        self as usize + 1
    }

    /// A short description for traces.
    pub fn describe(self) -> &'static str {
        match self {
            BidTimeRule::ReceiverWon => "receiver won, sender names another winner",
            BidTimeRule::SameWinnerAndBid => "same winner and bid",
            BidTimeRule::EqualBids => "different winners, equal bids: lower id",
            BidTimeRule::SenderNamesThird => "sender names a third agent",
            BidTimeRule::SenderNamesItself => "sender names itself",
            BidTimeRule::SenderReleased => "sender names none, receiver names sender",
            BidTimeRule::NewerRelease => "sender names none, receiver names a third agent",
            BidTimeRule::Crossed => "each names the other",
            BidTimeRule::ReceiverReleased => "sender names receiver, receiver names none",
            BidTimeRule::Otherwise => "otherwise",
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

/// The bid-time conflict rules for one item ([MCA-Alloy] §II-A's agreement
/// mechanism as design §9 states it): receiver `i` holding `mine`, sender `k` whose
/// message says `theirs`.
///
/// # Arguments
/// * `i`: the receiver.
/// * `k`: the sender.
/// * `mine`: i's entry for the item.
/// * `theirs`: the entry k's message carries.
///
/// # Returns
/// The rule of the table that applies, and what it does to i's entry.
///
/// # Complexity
/// O(1).
///
/// # Example
/// ```
/// use brokerflow_solvers::mca::protocol::{resolve, Action};
/// use brokerflow_solvers::mca::Entry;
///
/// // k = 1 says it wins with 5; i = 0 knows no winner: i takes k's entry.
/// let theirs = Entry { winner: Some(1), bid: 5.0, time: 3 };
/// assert_eq!(resolve(0, 1, &Entry::NONE, &theirs).1, Action::Update);
/// // Both name k, the same bid and time: nothing to change.
/// assert_eq!(resolve(0, 1, &theirs, &theirs).1, Action::Leave);
/// ```
///
/// Paper: [MCA-Alloy] §II-A (the agreement table).
pub fn resolve(i: usize, k: usize, mine: &Entry, theirs: &Entry) -> (BidTimeRule, Action) {
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
            return (BidTimeRule::ReceiverWon, action);
        }
    }
    if a_i == a_k && mine.bid == theirs.bid {
        return (BidTimeRule::SameWinnerAndBid, Action::Leave);
    }
    if let (Some(n), Some(m)) = (a_i, a_k) {
        if n != m && mine.bid == theirs.bid && !(n == k && m == i) {
            return (BidTimeRule::EqualBids, choose(m < n));
        }
    }
    match a_k {
        Some(m) if m != i && m != k => {
            let update = a_i.is_none() || is(a_i, k) || older;
            (BidTimeRule::SenderNamesThird, choose(update))
        }
        Some(m) if m == k => {
            let update = match a_i {
                None => true,
                Some(n) if n == k => older,
                Some(_) => mine.bid < theirs.bid || older,
            };
            (BidTimeRule::SenderNamesItself, choose(update))
        }
        None if is(a_i, k) => (BidTimeRule::SenderReleased, Action::Update),
        None if a_i.is_some_and(|n| n != i && n != k) && older => {
            (BidTimeRule::NewerRelease, Action::Update)
        }
        Some(_) if is(a_i, k) => (BidTimeRule::Crossed, Action::Reset),
        Some(_) if a_i.is_none() => (BidTimeRule::ReceiverReleased, Action::KeepNow),
        _ => (BidTimeRule::Otherwise, Action::Leave),
    }
}

/// Whom one side of a \[CBBA\] Table I cell names as an item's winner (receiver i,
/// sender k): i, k, a third agent m, a fourth agent n (the receiver's, when the
/// sender names m), or nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Named {
    /// The receiver i.
    Receiver,
    /// The sender k.
    Sender,
    /// A third agent m ∉ {i, k}.
    Third,
    /// A fourth agent n ∉ {i, k, m} (the receiver's belief, when the sender names m).
    Fourth,
    /// No winner.
    Nobody,
}

impl Named {
    fn of(a: Option<usize>, i: usize, k: usize, m: Option<usize>) -> Named {
        match a {
            None => Named::Nobody,
            Some(x) if x == i => Named::Receiver,
            Some(x) if x == k => Named::Sender,
            Some(x) if m.is_some_and(|m| m != x) => Named::Fourth,
            Some(_) => Named::Third,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Named::Receiver => "i",
            Named::Sender => "k",
            Named::Third => "m",
            Named::Fourth => "n",
            Named::Nobody => "none",
        }
    }
}

/// Which cell of \[CBBA\] Table I matched one item: whom the sender k names, whom the
/// receiver i names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CbbaCell {
    /// z_kj.
    pub sender_names: Named,
    /// z_ij.
    pub receiver_names: Named,
}

impl CbbaCell {
    /// The cell's number, 1–17, reading \[CBBA\] Table I row by row (sender k, i,
    /// m, none; within each, receiver i, k, m, n, none).
    pub fn number(self) -> usize {
        use Named::*;
        let order: [(Named, &[Named]); 4] = [
            (Sender, &[Receiver, Sender, Third, Nobody]),
            (Receiver, &[Receiver, Sender, Third, Nobody]),
            (Third, &[Receiver, Sender, Third, Fourth, Nobody]),
            (Nobody, &[Receiver, Sender, Third, Nobody]),
        ];
        let mut n = 0;
        for (sender, receivers) in order {
            for &r in receivers {
                n += 1;
                if sender == self.sender_names && r == self.receiver_names {
                    return n;
                }
            }
        }
        0
    }
}

/// The \[CBBA\] Table I rules for one item: receiver `i` holding `mine`, sender `k`
/// whose message says `theirs`; `mine_stamps[q]` and `their_stamps[q]` are i's
/// and k's times of the latest information from agent q, i's as before this
/// message. "newer(m)" is s_km > s_im. A bid *beats* another when it is higher, or
/// equal with a lower winner id (the bidding tie rule).
///
/// | k names | i names | action |
/// |---|---|---|
/// | k | i | update if k's bid beats i's, else leave |
/// | k | k | update |
/// | k | m | update if newer(m) or k's bid beats m's |
/// | k | none | update |
/// | i | i | leave |
/// | i | k | reset |
/// | i | m | reset if newer(m), else leave |
/// | i | none | leave |
/// | m | i | update if newer(m) and m's bid beats i's, else leave |
/// | m | k | update if newer(m), else reset |
/// | m | m | update if newer(m), else leave |
/// | m | n | update if newer(m) and newer(n), or newer(m) and m's bid beats n's; reset if newer(n) and s_im > s_km; else leave |
/// | m | none | update if newer(m), else leave |
/// | none | i | leave |
/// | none | k | update |
/// | none | m | update if newer(m), else leave |
/// | none | none | leave |
///
/// # Arguments
/// * `i`, `k`: the receiver and the sender.
/// * `mine`, `theirs`: i's entry for the item and the one k's message carries.
/// * `mine_stamps`, `their_stamps`: the per-agent times of the latest information.
///
/// # Returns
/// The rule of the table that applies, and what it does to i's entry.
///
/// # Complexity
/// O(1).
///
/// # Example
/// ```
/// use brokerflow_solvers::mca::protocol::{resolve_cbba, Action};
/// use brokerflow_solvers::mca::Entry;
///
/// // Rows "k names k, i names none: update" and "i names i, k names i: leave".
/// let k_wins = Entry { winner: Some(1), bid: 5.0, time: 3 };
/// let i_wins = Entry { winner: Some(0), bid: 4.0, time: 2 };
/// let stamps = [0, 0];
/// assert_eq!(resolve_cbba(0, 1, &Entry::NONE, &k_wins, &stamps, &stamps).1, Action::Update);
/// assert_eq!(resolve_cbba(0, 1, &i_wins, &i_wins, &stamps, &stamps).1, Action::Leave);
/// ```
///
/// Paper: \[CBBA\] Table I.
pub fn resolve_cbba(
    i: usize,
    k: usize,
    mine: &Entry,
    theirs: &Entry,
    mine_stamps: &[u64],
    their_stamps: &[u64],
) -> (CbbaCell, Action) {
    use Named::*;
    let stamp = |v: &[u64], q: usize| v.get(q).copied().unwrap_or(0);
    let newer = |q: usize| stamp(their_stamps, q) > stamp(mine_stamps, q);
    let older = |q: usize| stamp(their_stamps, q) < stamp(mine_stamps, q);
    let beats = match (theirs.winner, mine.winner) {
        (Some(w), Some(v)) => theirs.bid > mine.bid || (theirs.bid == mine.bid && w < v),
        _ => theirs.bid > mine.bid,
    };
    let m = theirs.winner.filter(|&x| x != i && x != k);
    let cell = CbbaCell {
        sender_names: Named::of(theirs.winner, i, k, None),
        receiver_names: Named::of(mine.winner, i, k, m),
    };
    let choose = |c: bool| if c { Action::Update } else { Action::Leave };
    let action = match (cell.sender_names, cell.receiver_names) {
        (Sender, Receiver) => choose(beats),
        (Sender, Sender) | (Sender, Nobody) => Action::Update,
        (Sender, _) => choose(mine.winner.is_some_and(newer) || beats),
        (Receiver, Sender) => Action::Reset,
        (Receiver, Third) | (Receiver, Fourth) => {
            if mine.winner.is_some_and(newer) {
                Action::Reset
            } else {
                Action::Leave
            }
        }
        (Receiver, _) => Action::Leave,
        (Third, r) => {
            let nm = m.is_some_and(newer);
            match r {
                Receiver => choose(nm && beats),
                Sender => {
                    if nm {
                        Action::Update
                    } else {
                        Action::Reset
                    }
                }
                Third | Nobody => choose(nm),
                Fourth => {
                    let n = mine.winner.unwrap_or(usize::MAX);
                    if nm && (newer(n) || beats) {
                        Action::Update
                    } else if newer(n) && m.is_some_and(older) {
                        Action::Reset
                    } else {
                        Action::Leave
                    }
                }
            }
        }
        (Nobody, Sender) => Action::Update,
        (Nobody, Third) | (Nobody, Fourth) => choose(mine.winner.is_some_and(newer)),
        (Nobody, _) | (Fourth, _) => Action::Leave,
    };
    (cell, action)
}

/// The rule that matched one item on receipt, under either rule set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// A bid-time rule ([`resolve`]).
    BidTime(BidTimeRule),
    /// A \[CBBA\] Table I cell ([`resolve_cbba`]).
    Cbba(CbbaCell),
}

impl Rule {
    /// The rule's number within its rule set.
    pub fn number(self) -> usize {
        match self {
            Rule::BidTime(r) => r.number(),
            Rule::Cbba(c) => c.number(),
        }
    }

    /// A short description for traces.
    pub fn describe(self) -> String {
        match self {
            Rule::BidTime(r) => r.describe().to_string(),
            Rule::Cbba(c) => format!(
                "cbba: sender names {}, receiver names {}",
                c.sender_names.word(),
                c.receiver_names.word()
            ),
        }
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
/// the items, the items it has lost, under \[CBBA\] rules its time of the latest
/// information from every agent, and (for the rebidding attack) its own last bid
/// per item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgentState {
    /// The conflict rules this agent follows.
    pub rules: Rules,
    /// Per item, (a_ij, b_ij, t_ij); t_ij is 0 throughout under \[CBBA\] rules.
    pub view: Vec<Entry>,
    /// m_i, oldest first; always the items whose a_ij is the agent itself.
    pub bundle: Vec<usize>,
    /// Items this agent was outbid on (Remark 1: it does not bid on them again).
    pub lost: ItemSet,
    /// Own last bid per item, kept only under `rebid_lost` (empty otherwise, so
    /// that it never splits states that behave alike).
    pub own: Vec<u64>,
    /// \[CBBA\]'s s_i: per agent q, the time of the latest information this agent
    /// has from q, directly or relayed (its own entry: when it last sent). Empty
    /// under bid-time rules.
    pub stamps: Vec<u64>,
}

impl AgentState {
    /// An agent that knows nothing: every item (none, 0, 0), empty bundle, no
    /// information from anyone (all stamps 0).
    pub fn new(agents: usize, items: usize, policy: &Policy, rules: Rules) -> AgentState {
        AgentState {
            rules,
            view: vec![Entry::NONE; items],
            bundle: Vec::new(),
            lost: 0,
            own: if policy.rebid_lost {
                vec![0; items]
            } else {
                Vec::new()
            },
            stamps: match rules {
                Rules::Cbba => vec![0; agents],
                Rules::BidTime => Vec::new(),
            },
        }
    }

    /// Agent `me` is about to send its view at `now`: under \[CBBA\] rules its own
    /// stamp becomes `now` (what it sends is its information as of now). Returns
    /// the view and the stamps the message carries.
    pub fn outgoing(&mut self, me: usize, now: u64) -> (Vec<Entry>, Vec<u64>) {
        if let Some(own) = self.stamps.get_mut(me) {
            *own = now;
        }
        (self.view.clone(), self.stamps.clone())
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
    ///
    /// # Arguments
    /// * `me`: the agent's index i.
    /// * `values`: the bundle values.
    /// * `policy`: the target bundle size T and rebidding.
    /// * `now`: the logical time of the bids.
    /// * `log`: records the bids made, if given.
    ///
    /// # Returns
    /// Nothing; the agent's view and bundle hold its bids.
    ///
    /// # Complexity
    /// O(T · |J|) marginal-utility evaluations for |J| items.
    ///
    /// # Example
    /// ```
    /// use brokerflow_solvers::mca::{AgentState, Rules, Scenario};
    ///
    /// let json = r#"{"name": "hand", "agents": ["1", "2"], "items": ["A", "C"],
    ///     "values": {"1": {"A": 5, "C": 3}, "2": {"C": 6, "A": 4}},
    ///     "policy": {"release_outbid": true, "target_bundle": 2, "rebid_lost": false}}"#;
    /// let s = Scenario::from_json_str(json, "hand.json")?;
    /// // Agent 1 alone: A first (5), then C (its marginal 3 beats the empty bid 0).
    /// let mut a = AgentState::new(2, 2, &s.policy, Rules::Cbba);
    /// a.bid(0, s.values.as_ref(), &s.policy, 1, None);
    /// assert_eq!(a.bundle, vec![0, 1]);
    /// assert_eq!((a.view[0].winner, a.view[0].bid), (Some(0), 5.0));
    /// # Ok::<_, brokerflow_solvers::mca::McaError>(())
    /// ```
    ///
    /// Paper: [MCA-Alloy] §II-A (the bidding phase) and Remark 1.
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
                        time: self.rules.entry_time(now),
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
                time: self.rules.entry_time(now),
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

    /// Receipt by agent `me` of sender `from`'s view (and, under \[CBBA\] rules, its
    /// stamps) at time `now`: every item resolved by the agent's rules ([`resolve`]
    /// or [`resolve_cbba`], against the stamps as they were before this message) in
    /// item order; an item the agent held and no longer wins is lost, leaves the
    /// bundle, and under `release_outbid` releases the items added after it — at
    /// once, so items resolved later in the same receipt see the release. Then,
    /// under \[CBBA\] rules, s_iq = max(s_iq, s_kq) for every q ≠ i.
    ///
    /// # Arguments
    /// * `me`, `from`: the receiver i and the sender k.
    /// * `theirs`, `their_stamps`: k's view and stamps.
    /// * `policy`: for `release_outbid`.
    /// * `now`: the logical time of the receipt.
    /// * `log`: records the rules applied, if given.
    ///
    /// # Returns
    /// Nothing; the agent's view, bundle and lost items are updated.
    ///
    /// # Complexity
    /// O(|J| · (n + |m|)) for |J| items, n agents (the stamps) and bundles of |m|.
    ///
    /// # Example
    /// ```
    /// use brokerflow_solvers::mca::{AgentState, Rules, Scenario};
    ///
    /// let json = r#"{"name": "hand", "agents": ["1", "2"], "items": ["A", "C"],
    ///     "values": {"1": {"A": 5, "C": 3}, "2": {"C": 6, "A": 4}},
    ///     "policy": {"release_outbid": true, "target_bundle": 2, "rebid_lost": false}}"#;
    /// let s = Scenario::from_json_str(json, "hand.json")?;
    /// let (values, p) = (s.values.as_ref(), &s.policy);
    /// let mut one = AgentState::new(2, 2, p, Rules::Cbba);
    /// let mut two = AgentState::new(2, 2, p, Rules::Cbba);
    /// one.bid(0, values, p, 1, None); // A 5, C 3
    /// two.bid(1, values, p, 2, None); // C 6, A 4
    /// let (view, stamps) = two.outgoing(1, 3);
    /// one.receive(0, 1, &view, &stamps, p, 4, None);
    /// // Agent 1 keeps A (5 beats 4) and loses C to agent 2 (6 beats 3).
    /// assert_eq!(one.bundle, vec![0]);
    /// assert_eq!(one.view[1].winner, Some(1));
    /// # Ok::<_, brokerflow_solvers::mca::McaError>(())
    /// ```
    ///
    /// Paper: [MCA-Alloy] §II-A (the agreement phase), \[CBBA\] Table I.
    #[allow(clippy::too_many_arguments)]
    pub fn receive(
        &mut self,
        me: usize,
        from: usize,
        theirs: &[Entry],
        their_stamps: &[u64],
        policy: &Policy,
        now: u64,
        mut log: Option<&mut StepLog>,
    ) {
        let stamp_now = self.rules.entry_time(now);
        for (j, their) in theirs.iter().enumerate().take(self.view.len()) {
            let mine = self.view[j];
            let (rule, action) = match self.rules {
                Rules::BidTime => {
                    let (r, a) = resolve(me, from, &mine, their);
                    (Rule::BidTime(r), a)
                }
                Rules::Cbba => {
                    let (c, a) = resolve_cbba(me, from, &mine, their, &self.stamps, their_stamps);
                    (Rule::Cbba(c), a)
                }
            };
            self.view[j] = match action {
                Action::Update => *their,
                Action::Leave => mine,
                Action::Reset => Entry::none_at(stamp_now),
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
                            self.view[r] = Entry::none_at(stamp_now);
                            if let Some(l) = log.as_deref_mut() {
                                l.released.push(r);
                            }
                        }
                    }
                }
            }
        }
        for (q, s) in self.stamps.iter_mut().enumerate() {
            if q != me {
                *s = (*s).max(their_stamps.get(q).copied().unwrap_or(0));
            }
        }
    }
}

/// Whether the agents have reached consensus ([MCA-Alloy] §V's consensusPred, with
/// the conflict-free conditions): every agent agrees on every item's winner and
/// bid, each item's winner holds it and nobody else does, no bundle exceeds T.
///
/// # Arguments
/// * `agents`: every agent's state.
/// * `policy`: for the target bundle size T.
///
/// # Returns
/// Whether the agents agree on a conflict-free assignment.
///
/// # Complexity
/// O(n · |J| · |m|) for n agents, |J| items and bundles of at most |m| items.
///
/// # Example
/// See [`crate::mca::run_synchronous`], whose result reports it.
///
/// Paper: [MCA-Alloy] §V (consensusPred).
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

/// The assignment the agents' bundles make: item → the agent holding it in its
/// bundle, if exactly one does (`None`: nobody, or a conflict).
///
/// # Arguments
/// * `agents`: every agent's state.
/// * `items`: |J|.
///
/// # Returns
/// One entry per item.
///
/// # Complexity
/// O(|J| · n · |m|) for n agents and bundles of |m| items.
///
/// # Example
/// See [`crate::mca::run_synchronous`], whose result carries it.
///
/// Paper: [MCA-Alloy] §II-A (conflict-free assignments).
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
///
/// # Arguments
/// * `values`: the bundle values.
/// * `agents`: n.
/// * `a`: item → winning agent.
///
/// # Returns
/// The sum of the winners' bundle values.
///
/// # Complexity
/// O(n · |J|).
///
/// # Example
/// ```
/// use brokerflow_solvers::mca::protocol::assignment_value;
/// use brokerflow_solvers::mca::Scenario;
///
/// let json = r#"{"name": "hand", "agents": ["1", "2"], "items": ["A", "C"],
///     "values": {"1": {"A": 5, "C": 3}, "2": {"C": 6, "A": 4}},
///     "policy": {"release_outbid": true, "target_bundle": 2, "rebid_lost": false}}"#;
/// let s = Scenario::from_json_str(json, "hand.json")?;
/// // A to agent 1 (5) and C to agent 2 (6); or both to agent 2 (6 + 4).
/// assert_eq!(assignment_value(s.values.as_ref(), 2, &[Some(0), Some(1)]), 11.0);
/// assert_eq!(assignment_value(s.values.as_ref(), 2, &[Some(1), Some(1)]), 10.0);
/// # Ok::<_, brokerflow_solvers::mca::McaError>(())
/// ```
///
/// Paper: [MCA-Alloy] §II-A (network utility).
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

/// Ranks the times of a system column by column ([`rank_times`] per column): the
/// bid times of each item, and the stamps about each agent, over `rows` (every
/// agent's and every message's (view, stamps)). The rules compare times only
/// within a column (an item's bid times with each other, \[CBBA\]'s s_kq with s_iq),
/// and `now` is newer than every time, so this changes no behaviour; it merges
/// states that differ only in how columns interleave.
pub fn rank_columns(rows: &mut [(&mut [Entry], &mut [u64])]) {
    let items = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for j in 0..items {
        rank_times(
            rows.iter_mut()
                .filter_map(|r| r.0.get_mut(j).map(|e| &mut e.time)),
        );
    }
    let agents = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    for q in 0..agents {
        rank_times(rows.iter_mut().filter_map(|r| r.1.get_mut(q)));
    }
}
