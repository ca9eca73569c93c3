//! The synchronous runner: rounds in which every agent bids, then every message of
//! the round is delivered ([MCA-Alloy] §II-A's alternating bidding and agreement
//! phases).

use std::collections::HashMap;

use super::protocol::{
    assignment, assignment_value, consensus, rank_columns, AgentState, Entry, Rules,
};
use super::scenario::{Policy, Scenario};

/// Rounds after which the synchronous runner gives up, if the run neither goes
/// quiet nor repeats a state (it always does one or the other on the scopes tried;
/// the limit only keeps a run finite).
pub const SYNC_ROUND_LIMIT: usize = 10_000;

/// How a synchronous run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// A round in which nobody had anything new to send.
    Quiescent,
    /// The state after round `round` equals the state after round `first`: the
    /// run repeats forever (an oscillation).
    Repeats {
        /// The earlier round.
        first: usize,
        /// The round that repeated it.
        round: usize,
    },
    /// [`SYNC_ROUND_LIMIT`] reached.
    RoundLimit,
}

impl Ended {
    /// Short name for outputs.
    pub fn name(&self) -> &'static str {
        match self {
            Ended::Quiescent => "quiescent",
            Ended::Repeats { .. } => "repeats",
            Ended::RoundLimit => "round-limit",
        }
    }
}

/// The outcome of a synchronous run.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRun {
    /// The policy run.
    pub policy: Policy,
    /// The conflict rules run.
    pub rules: Rules,
    /// The run went quiet with every agent in agreement ([`consensus`]).
    pub consensus: bool,
    /// The last round in which some agent's belief about a winner or a bid changed
    /// (the rounds max-consensus needed; times moving alone do not count).
    pub rounds: usize,
    /// Messages sent in all.
    pub messages: usize,
    /// Item → winning agent (the one agent holding it), or `None`.
    pub assignment: Vec<Option<usize>>,
    /// Σ of the winners' bundle values.
    pub value: f64,
    /// The brute-force optimum at the same target bundle size (≤ 10 items).
    pub optimum: Option<f64>,
    /// D·|J|.
    pub bound: usize,
    /// How the run ended.
    pub ended: Ended,
    /// Every agent's final state.
    pub agents: Vec<AgentState>,
}

/// Runs the protocol in synchronous rounds under `policy` and `rules`.
///
/// Round r: every agent bids in id order (each action takes the next tick of one
/// logical clock); every agent whose view differs from the last view it sent sends
/// it to all its neighbours (under \[CBBA\] rules with its stamps, its own stamped
/// with the send time); then every receiver resolves its messages in sender
/// order (a canonical order, never arrival order). The run ends in a round where
/// nobody sends, when a state repeats (the state after a round, with times ranked,
/// equals an earlier one: it oscillates), or at [`SYNC_ROUND_LIMIT`].
///
/// # Arguments
/// * `s`: the scenario (agents, items, neighbours, bundle values).
/// * `policy`: release outbid items, target bundle size T, rebidding.
/// * `rules`: the conflict rules.
///
/// # Returns
/// The [`SyncRun`]: consensus, rounds, messages, the assignment and its value beside
/// the brute-force optimum and the bound D·|J|.
///
/// # Complexity
/// O(R · (n·|J| + M·|J|)) time for R ≤ [`SYNC_ROUND_LIMIT`] rounds, n agents, |J|
/// items and M messages per round (each message a full view of |J| entries), plus
/// the states kept to detect a repeat, O(R · n · |J|) space.
///
/// # Example
/// ```
/// use brokerflow_solvers::mca::{run_synchronous, Rules, Scenario};
///
/// // Additive (so sub-modular) values: A is worth 5 to agent 1 and 4 to agent 2, C 3
/// // and 6, so the best assignment is A to 1, C to 2, worth 5 + 6 = 11.
/// let json = r#"{"name": "hand", "agents": ["1", "2"], "items": ["A", "C"],
///     "values": {"1": {"A": 5, "C": 3}, "2": {"C": 6, "A": 4}},
///     "policy": {"release_outbid": true, "target_bundle": 2, "rebid_lost": false}}"#;
/// let s = Scenario::from_json_str(json, "hand.json")?;
/// let r = run_synchronous(&s, &s.policy, Rules::Cbba);
/// assert!(r.consensus);
/// assert_eq!(r.assignment, vec![Some(0), Some(1)]);
/// assert_eq!((r.value, r.optimum), (11.0, Some(11.0)));
/// # Ok::<_, brokerflow_solvers::mca::McaError>(())
/// ```
///
/// Paper: [MCA-Alloy] §II-A (max-consensus) and \[CBBA\] Table I (the conflict rules).
pub fn run_synchronous(s: &Scenario, policy: &Policy, rules: Rules) -> SyncRun {
    let (n, m) = (s.agents.len(), s.items.len());
    let values = s.values.as_ref();
    let mut agents: Vec<AgentState> = (0..n)
        .map(|_| AgentState::new(n, m, policy, rules))
        .collect();
    let mut last_sent: Vec<Vec<Entry>> = vec![vec![Entry::NONE; m]; n];
    let mut now = 0u64;
    let mut seen: HashMap<(Vec<AgentState>, Vec<Vec<Entry>>), usize> = HashMap::new();
    let (mut rounds, mut messages) = (0usize, 0usize);
    let mut ended = Ended::RoundLimit;
    for round in 1..=SYNC_ROUND_LIMIT {
        let before: Vec<Vec<Entry>> = agents.iter().map(|a| a.view.clone()).collect();
        for (i, a) in agents.iter_mut().enumerate() {
            now += 1;
            a.bid(i, values, policy, now, None);
        }
        // (receiver, sender, view, stamps), sorted by receiver then sender.
        let mut inbox: Vec<(usize, usize, Vec<Entry>, Vec<u64>)> = Vec::new();
        now += 1;
        for i in 0..n {
            if agents[i].view != last_sent[i] {
                let (view, stamps) = agents[i].outgoing(i, now);
                last_sent[i] = view.clone();
                for &k in &s.neighbours[i] {
                    inbox.push((k, i, view.clone(), stamps.clone()));
                }
            }
        }
        if inbox.is_empty() {
            // Nobody to tell (an agent without neighbours) may still have bid.
            if agents.iter().zip(&before).any(|(a, b)| &a.view != b) {
                rounds = round;
            }
            ended = Ended::Quiescent;
            break;
        }
        messages += inbox.len();
        inbox.sort_by_key(|&(to, from, _, _)| (to, from));
        for (to, from, view, stamps) in &inbox {
            now += 1;
            agents[*to].receive(*to, *from, view, stamps, policy, now, None);
        }
        // Rounds count while some winner or bid changes; a time alone moving
        // (rule 1's newer time) is not progress towards max-consensus.
        let settled = |a: &AgentState, b: &Vec<Entry>| {
            a.view
                .iter()
                .zip(b)
                .all(|(x, y)| x.winner == y.winner && x.bid == y.bid)
        };
        if !agents.iter().zip(&before).all(|(a, b)| settled(a, b)) {
            rounds = round;
        }
        let mut key = (agents.clone(), last_sent.clone());
        {
            let (ka, ks) = (&mut key.0, &mut key.1);
            let mut rows: Vec<(&mut [Entry], &mut [u64])> = ka
                .iter_mut()
                .map(|a| (&mut a.view[..], &mut a.stamps[..]))
                .chain(ks.iter_mut().map(|v| (&mut v[..], &mut [][..])))
                .collect();
            rank_columns(&mut rows);
        }
        if let Some(&first) = seen.get(&key) {
            ended = Ended::Repeats { first, round };
            break;
        }
        seen.insert(key, round);
    }
    let assignment = assignment(&agents, m);
    SyncRun {
        policy: *policy,
        rules,
        consensus: ended == Ended::Quiescent && consensus(&agents, policy),
        rounds,
        messages,
        value: assignment_value(values, n, &assignment),
        assignment,
        optimum: s.optimum(policy),
        bound: s.bound(),
        ended,
        agents,
    }
}
