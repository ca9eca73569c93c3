//! Max-consensus auctions ([MCA-Alloy]): the hand examples with their traces worked
//! by hand under both rule sets (bid-time and [CBBA]), the conflict rules one by
//! one, and scenario validation.

use brokerflow_solvers::mca::protocol::{
    resolve, resolve_cbba, Action, AgentState, BidTimeRule, Entry, Rule, StepLog,
};
use brokerflow_solvers::mca::{run_synchronous, McaError, Policy, Rules, Scenario};

fn scenario(text: &str) -> Scenario {
    Scenario::from_json_str(text, "test.json").unwrap()
}

const SUBMODULAR: &str = r#"{"agents": ["1", "2"], "items": ["A", "C"],
  "values": {"1": {"A": 5, "C": 3}, "2": {"C": 6, "A": 4}},
  "policy": {"release_outbid": true, "target_bundle": 2, "rebid_lost": false}}"#;

const COMPLEMENTS: &str = r#"{"agents": ["1", "2"], "items": ["A", "C"],
  "values": {"1": {"A": 3, "C": 2, "A+C": 8}, "2": {"C": 4, "A": 1, "A+C": 10}},
  "policy": {"release_outbid": true, "target_bundle": 2, "rebid_lost": false}}"#;

fn winner_and_bid(
    r: &brokerflow_solvers::mca::SyncRun,
    agent: usize,
    item: usize,
) -> (Option<usize>, f64) {
    let e = r.agents[agent].view[item];
    (e.winner, e.bid)
}

/// Agent 1 (index 0) values A 5, C 3; agent 2 values C 6, A 4 (additive).
/// Round 1, bids: agent 1 bids A 5 (its best marginal), then C 3; agent 2 bids C 6,
/// then A 4. Exchange: at agent 1, A: rule 1, 4 < 5, keep; C: rule 1, 6 > 3,
/// update — outbid on C, the last item of its bundle, nothing to release. At
/// agent 2 the mirror image: A: 5 > 4, update; C kept. Round 2: nobody may bid
/// (each lost its other item), the echoed views change nothing (rule 2), round 3
/// nobody sends. So A to 1 at 5, C to 2 at 6, in one round; value 5 + 6 = 11, the
/// optimum. Under [CBBA] rules the same: round 1 at agent 1, A: cell 1 (k names
/// itself, i names itself), 4 < 5, leave; C: cell 1, 6 > 3, update; round 2's
/// echoes meet cells 2 (k names k, i names k: update, to the same) and 5 (k names
/// i, i names i: leave).
#[test]
fn hand_example_submodular_settles_in_one_round() {
    let s = scenario(SUBMODULAR);
    for (release, rules) in [true, false]
        .into_iter()
        .flat_map(|r| Rules::ALL.map(|x| (r, x)))
    {
        let policy = Policy {
            release_outbid: release,
            ..s.policy
        };
        let r = run_synchronous(&s, &policy, rules);
        assert!(r.consensus, "release {release} {rules:?}");
        assert_eq!(r.rounds, 1);
        assert_eq!(r.assignment, vec![Some(0), Some(1)]);
        for agent in 0..2 {
            assert_eq!(winner_and_bid(&r, agent, 0), (Some(0), 5.0));
            assert_eq!(winner_and_bid(&r, agent, 1), (Some(1), 6.0));
        }
        assert_eq!(r.value, 11.0);
        assert_eq!(r.optimum, Some(11.0));
        assert_eq!(r.bound, 2);
        // Two sends in round 1 (the bids), two in round 2 (the changed views).
        assert_eq!(r.messages, 4);
    }
}

/// Agent 1 values A 3, C 2, A+C 8; agent 2 values C 4, A 1, A+C 10 (complements).
/// With release-outbid:
/// - Round 1 bids: agent 1 A 3, then C 8 − 3 = 5; agent 2 C 4, then A 10 − 4 = 6.
/// - Agent 1 receives (A: 2 at 6, C: 2 at 4): A, rule 1, 6 > 3: update — outbid
///   on its first item, so C is released (none) at once; C then meets agent 2's
///   claim: rule 5, receiver names none: update, C: 2 at 4. Agent 2 receives
///   (A: 1 at 3, C: 1 at 5): A, rule 1, keep; C, rule 1, 5 > 4: update — outbid on
///   its first item, A released. Each was outbid on its first item and released
///   its second.
/// - Round 2 bids: agent 1 lost A, and C (4 known) is worth only 2 to it: no bid;
///   agent 2 lost C, bids A at 1. Agent 1 receives (A: 2 at 1, newer; C: 1 at 5):
///   A, rule 5, names 2 with an older time: update; C, rule 8 (1 names 2, 2 names
///   1): reset. Agent 2 receives (A: 2 at 6, C: 2 at 4): A, rule 10, leave; C,
///   rule 8: reset.
/// - Round 3: agent 1 bids C at 2; agent 2 takes it (rule 5). Consensus only now:
///   A to 2 at 1, C to 1 at 2, after 3 rounds > D·|J| = 2; value 1 + 2 = 3 of an
///   optimum of 10.
///
/// Under [CBBA] rules the same outcome by other cells (see
/// `complements_round_by_round_under_both_rule_sets` for the trace).
#[test]
fn hand_example_complements_with_release_misses_the_bound() {
    let s = scenario(COMPLEMENTS);
    for rules in Rules::ALL {
        complements_with_release(&s, rules);
    }
}

fn complements_with_release(s: &Scenario, rules: Rules) {
    let r = run_synchronous(s, &s.policy, rules);
    assert_eq!(r.bound, 2);
    assert_eq!(r.rounds, 3);
    assert!(r.rounds > r.bound);
    assert!(r.consensus);
    assert_eq!(r.assignment, vec![Some(1), Some(0)]);
    for agent in 0..2 {
        assert_eq!(winner_and_bid(&r, agent, 0), (Some(1), 1.0));
        assert_eq!(winner_and_bid(&r, agent, 1), (Some(0), 2.0));
    }
    assert_eq!(r.value, 3.0);
    assert_eq!(r.optimum, Some(10.0));
    // Sends: round 1 both, round 2 both, round 3 both (1's bid, 2's changed view),
    // round 4 agent 2 (changed by 1's bid).
    assert_eq!(r.messages, 7);
}

/// The same values without release-outbid: round 1 as above, but the outbid item
/// alone leaves the bundle: agent 1 keeps C at 5, agent 2 keeps A at 6, and each
/// takes the other's claim on its lost item. A to 2 at 6, C to 1 at 5 after one
/// round; round 2 bids nothing (the lost items are never rebid). Under [CBBA]
/// rules round 1 at agent 1 is A: cell 1, 6 > 3, update; C: cell 1, 4 < 5, leave;
/// round 2's echoes meet cells 2 and 5 and change nothing.
#[test]
fn hand_example_complements_without_release_ends_a_to_2_c_to_1() {
    let s = scenario(COMPLEMENTS);
    let policy = Policy {
        release_outbid: false,
        ..s.policy
    };
    for rules in Rules::ALL {
        complements_without_release(&s, &policy, rules);
    }
}

fn complements_without_release(s: &Scenario, policy: &Policy, rules: Rules) {
    let r = run_synchronous(s, policy, rules);
    assert!(r.consensus);
    assert_eq!(r.rounds, 1);
    assert_eq!(r.assignment, vec![Some(1), Some(0)]);
    for agent in 0..2 {
        assert_eq!(winner_and_bid(&r, agent, 0), (Some(1), 6.0));
        assert_eq!(winner_and_bid(&r, agent, 1), (Some(0), 5.0));
    }
    // The bundle values, not the stale bids: v_2({A}) + v_1({C}) = 1 + 2.
    assert_eq!(r.value, 3.0);
}

/// The rebidding attack on the sub-modular example with T = 2: agent 1 lost C and
/// re-asserts it at 3, agent 2 (rule 1, 3 < 6) keeps C with the newer time, which
/// changes its view and is sent back, agent 1 is outbid again… Under bid-time
/// rules the synchronous run repeats a state and never reaches consensus. Under
/// [CBBA] rules agent 2 meets cell 1 (3 < 6: leave), its view does not change, it
/// sends nothing, and the run goes quiet with agent 1 claiming C against everyone
/// else's view: no consensus either way.
#[test]
fn rebidding_attack_breaks_consensus_under_both_rule_sets() {
    let s = scenario(SUBMODULAR);
    let policy = Policy {
        rebid_lost: true,
        ..s.policy
    };
    let r = run_synchronous(&s, &policy, Rules::BidTime);
    assert!(!r.consensus);
    assert!(matches!(
        r.ended,
        brokerflow_solvers::mca::run::Ended::Repeats { .. }
    ));
    let r = run_synchronous(&s, &policy, Rules::Cbba);
    assert!(!r.consensus);
    assert_eq!(r.ended, brokerflow_solvers::mca::run::Ended::Quiescent);
    assert_eq!(r.agents[0].view[1].winner, Some(0));
    assert_eq!(
        r.agents[1].view[1],
        Entry {
            winner: Some(1),
            bid: 6.0,
            time: 0
        }
    );
}

/// One synchronous round by hand through the agent API: every agent bids, then
/// every agent whose view changed sends, then each receiver resolves in sender
/// order. Returns the logs of the receipts, by receiver (two agents: one each).
fn round(
    s: &Scenario,
    agents: &mut [AgentState],
    last_sent: &mut [Vec<Entry>],
    now: &mut u64,
) -> Vec<Option<StepLog>> {
    for (i, a) in agents.iter_mut().enumerate() {
        *now += 1;
        a.bid(i, s.values.as_ref(), &s.policy, *now, None);
    }
    *now += 1;
    let mut inbox = Vec::new();
    for i in 0..agents.len() {
        if agents[i].view != last_sent[i] {
            let (view, stamps) = agents[i].outgoing(i, *now);
            last_sent[i] = view.clone();
            inbox.push((1 - i, i, view, stamps));
        }
    }
    inbox.sort_by_key(|m| m.0);
    let mut logs = vec![None, None];
    for (to, from, view, stamps) in inbox {
        *now += 1;
        let mut log = StepLog::default();
        agents[to].receive(to, from, &view, &stamps, &s.policy, *now, Some(&mut log));
        logs[to] = Some(log);
    }
    logs
}

/// (winner, bid) per item of an agent's view.
fn wb(a: &AgentState) -> Vec<(Option<usize>, f64)> {
    a.view.iter().map(|e| (e.winner, e.bid)).collect()
}

/// The complements example with release-outbid, round by round, under both rule
/// sets: the rule applied to each item at each receipt, the losses and releases,
/// and the views after each round, as worked out by hand (agent 1 = index 0, A =
/// item 0). Rule numbers: bid-time rules 1–10 of design §9; [CBBA] Table I cells
/// 1–17 (row by row: k names k, i, m, none).
///
/// Round 1 (bids: 1 A 3, C 5; 2 C 4, A 6). At 1 from 2: A, i won and k's 6 > 3 —
/// bid-time rule 1 / cell 1: update, outbid on A, C released; C then meets k's
/// claim while i names none — rule 5 / cell 4: update. At 2 from 1: A, 3 < 6 —
/// rule 1 keeps with the newer time / cell 1 leaves; C, 5 > 4 — rule 1 / cell 1:
/// update, outbid on C, A released.
///
/// Round 2 (bids: 2 bids A at 1, its only bid). At 1 from 2: A, k names itself
/// anew — bid-time rule 5 (i names k with an older time) / cell 2 (i names k):
/// update; C, each names the other — rule 8 / cell 6: reset. At 2 from 1: A, k
/// names 2 at the stale 6 — rule 10 / cell 5: leave; C, crossed — rule 8 / cell 6:
/// reset.
///
/// Round 3 (bids: 1 bids C at 2). At 1 from 2 (A: 2 at 1, C: none): A — rule 2
/// (same winner and bid: leave) / cell 2 (update, to the same); C, k names none
/// while i names itself — rule 10 / cell 14: leave. At 2 from 1 (A: 2 at 1, C: 1
/// at 2): A — rule 2 / cell 5 (k names i, i names i): leave; C, k names itself, i
/// names none — rule 5 / cell 4: update. After round 3 both agree: A to 2 at 1, C
/// to 1 at 2.
#[test]
fn complements_round_by_round_under_both_rule_sets() {
    let s = scenario(COMPLEMENTS);
    let (up, leave, reset) = (Action::Update, Action::Leave, Action::Reset);
    for rules in Rules::ALL {
        let mut agents: Vec<AgentState> = (0..2)
            .map(|_| AgentState::new(2, 2, &s.policy, rules))
            .collect();
        let mut last_sent = vec![vec![Entry::NONE; 2]; 2];
        let mut now = 0;
        let cbba = rules == Rules::Cbba;
        let rule = |bid_time: usize, cell: usize| if cbba { cell } else { bid_time };
        let numbers = |log: &StepLog| -> Vec<(usize, Action)> {
            log.rules.iter().map(|(r, a)| (r.number(), *a)).collect()
        };
        let keep = if cbba { leave } else { Action::KeepNewerTime };

        let logs = round(&s, &mut agents, &mut last_sent, &mut now);
        let (at1, at2) = (logs[0].clone().unwrap(), logs[1].clone().unwrap());
        assert_eq!(
            numbers(&at1),
            vec![(rule(1, 1), up), (rule(5, 4), up)],
            "{rules:?}"
        );
        assert_eq!(
            (at1.outbid.clone(), at1.released.clone()),
            (vec![0], vec![1])
        );
        assert_eq!(
            numbers(&at2),
            vec![(rule(1, 1), keep), (rule(1, 1), up)],
            "{rules:?}"
        );
        assert_eq!(
            (at2.outbid.clone(), at2.released.clone()),
            (vec![1], vec![0])
        );
        assert_eq!(wb(&agents[0]), vec![(Some(1), 6.0), (Some(1), 4.0)]);
        assert_eq!(wb(&agents[1]), vec![(None, 0.0), (Some(0), 5.0)]);
        assert!(agents[0].bundle.is_empty() && agents[1].bundle.is_empty());

        let logs = round(&s, &mut agents, &mut last_sent, &mut now);
        let (at1, at2) = (logs[0].clone().unwrap(), logs[1].clone().unwrap());
        assert_eq!(
            numbers(&at1),
            vec![(rule(5, 2), up), (rule(8, 6), reset)],
            "{rules:?}"
        );
        assert_eq!(
            numbers(&at2),
            vec![(rule(10, 5), leave), (rule(8, 6), reset)],
            "{rules:?}"
        );
        assert_eq!(wb(&agents[0]), vec![(Some(1), 1.0), (None, 0.0)]);
        assert_eq!(wb(&agents[1]), vec![(Some(1), 1.0), (None, 0.0)]);
        assert_eq!(agents[1].bundle, vec![0]);

        let logs = round(&s, &mut agents, &mut last_sent, &mut now);
        let (at1, at2) = (logs[0].clone().unwrap(), logs[1].clone().unwrap());
        let same = if cbba { up } else { leave };
        assert_eq!(
            numbers(&at1),
            vec![(rule(2, 2), same), (rule(10, 14), leave)],
            "{rules:?}"
        );
        assert_eq!(
            numbers(&at2),
            vec![(rule(2, 5), leave), (rule(5, 4), up)],
            "{rules:?}"
        );
        for a in &agents {
            assert_eq!(wb(a), vec![(Some(1), 1.0), (Some(0), 2.0)], "{rules:?}");
        }
        assert_eq!(
            (agents[0].bundle.clone(), agents[1].bundle.clone()),
            (vec![1], vec![0])
        );
        // Under CBBA rules each agent's stamp of the other is the other's latest
        // send time, and newer than anything it knew before.
        if cbba {
            assert!(agents[0].stamps[1] > 0 && agents[1].stamps[0] > 0);
        } else {
            assert!(agents[0].stamps.is_empty());
        }
    }
}

fn e(winner: Option<usize>, bid: f64, time: u64) -> Entry {
    Entry { winner, bid, time }
}

/// Each conflict rule on a hand-picked case: receiver 0, sender 1, third agent 2.
#[test]
fn bid_time_conflict_rules_in_order() {
    let (i, k, m) = (0, 1, 2);
    let cases = [
        // 1. i won; k names another with a higher bid: update; lower: keep, newer time.
        (
            e(Some(i), 5.0, 1),
            e(Some(k), 6.0, 2),
            BidTimeRule::ReceiverWon,
            Action::Update,
        ),
        (
            e(Some(i), 5.0, 1),
            e(Some(m), 4.0, 3),
            BidTimeRule::ReceiverWon,
            Action::KeepNewerTime,
        ),
        // Equal bids: the lower id (i = 0) keeps it.
        (
            e(Some(i), 5.0, 1),
            e(Some(k), 5.0, 2),
            BidTimeRule::ReceiverWon,
            Action::KeepNewerTime,
        ),
        // 2. same winner and bid.
        (
            e(Some(m), 5.0, 1),
            e(Some(m), 5.0, 9),
            BidTimeRule::SameWinnerAndBid,
            Action::Leave,
        ),
        // 3. different winners, equal bids: lower id; k (1) < m (2).
        (
            e(Some(m), 5.0, 1),
            e(Some(k), 5.0, 0),
            BidTimeRule::EqualBids,
            Action::Update,
        ),
        // 4. k names m; i names k: update; i names m older: update; newer: leave.
        (
            e(Some(k), 5.0, 1),
            e(Some(m), 3.0, 0),
            BidTimeRule::SenderNamesThird,
            Action::Update,
        ),
        (
            e(Some(m), 5.0, 1),
            e(Some(m), 3.0, 2),
            BidTimeRule::SenderNamesThird,
            Action::Update,
        ),
        (
            e(Some(m), 5.0, 3),
            e(Some(m), 3.0, 2),
            BidTimeRule::SenderNamesThird,
            Action::Leave,
        ),
        // 5. k names itself: i names none: update; names m with a higher, newer bid: leave.
        (
            e(None, 0.0, 1),
            e(Some(k), 3.0, 0),
            BidTimeRule::SenderNamesItself,
            Action::Update,
        ),
        (
            e(Some(m), 5.0, 3),
            e(Some(k), 3.0, 2),
            BidTimeRule::SenderNamesItself,
            Action::Leave,
        ),
        (
            e(Some(m), 5.0, 1),
            e(Some(k), 3.0, 2),
            BidTimeRule::SenderNamesItself,
            Action::Update,
        ),
        // 6. k names none, i names k.
        (
            e(Some(k), 5.0, 3),
            e(None, 0.0, 1),
            BidTimeRule::SenderReleased,
            Action::Update,
        ),
        // 7. k names none, i names m with an older time.
        (
            e(Some(m), 5.0, 1),
            e(None, 0.0, 2),
            BidTimeRule::NewerRelease,
            Action::Update,
        ),
        // 8. k names i, i names k.
        (
            e(Some(k), 5.0, 1),
            e(Some(i), 4.0, 2),
            BidTimeRule::Crossed,
            Action::Reset,
        ),
        // 9. k names i, i names none.
        (
            e(None, 0.0, 1),
            e(Some(i), 4.0, 2),
            BidTimeRule::ReceiverReleased,
            Action::KeepNow,
        ),
        // 10. k names none, i names m with a newer time.
        (
            e(Some(m), 5.0, 3),
            e(None, 0.0, 2),
            BidTimeRule::Otherwise,
            Action::Leave,
        ),
    ];
    for (n, (mine, theirs, rule, action)) in cases.iter().enumerate() {
        assert_eq!(resolve(i, k, mine, theirs), (*rule, *action), "case {n}");
    }
}

/// Every cell of [CBBA] Table I on a hand-picked case: receiver i = 0, sender
/// k = 1, third agent m = 2, fourth n = 3; "newer(q)" when k's stamp of q is above
/// i's.
#[test]
fn cbba_table_cells() {
    let (i, k, m, n) = (0, 1, 2, 3);
    let (up, leave, reset) = (Action::Update, Action::Leave, Action::Reset);
    let flat = [5, 5, 5, 5];
    // k's stamps newer about m only, about n only, about both.
    let (nm, nn, both) = ([5, 5, 9, 5], [5, 5, 5, 9], [5, 5, 9, 9]);
    // k's stamps older about m (i heard from m more recently).
    let older_m_newer_n = [5, 5, 1, 9];
    let none = e(None, 0.0, 0);
    let cases: Vec<(Entry, Entry, [u64; 4], usize, Action)> = vec![
        // k names itself.
        (e(Some(i), 5.0, 0), e(Some(k), 6.0, 0), flat, 1, up),
        (e(Some(i), 5.0, 0), e(Some(k), 4.0, 0), flat, 1, leave),
        // Equal bids: the lower id, i = 0, keeps it.
        (e(Some(i), 5.0, 0), e(Some(k), 5.0, 0), flat, 1, leave),
        (e(Some(k), 5.0, 0), e(Some(k), 2.0, 0), flat, 2, up),
        (e(Some(m), 7.0, 0), e(Some(k), 6.0, 0), nm, 3, up),
        (e(Some(m), 7.0, 0), e(Some(k), 6.0, 0), flat, 3, leave),
        (e(Some(m), 5.0, 0), e(Some(k), 6.0, 0), flat, 3, up),
        (none, e(Some(k), 1.0, 0), flat, 4, up),
        // k names i.
        (e(Some(i), 5.0, 0), e(Some(i), 3.0, 0), flat, 5, leave),
        (e(Some(k), 5.0, 0), e(Some(i), 3.0, 0), flat, 6, reset),
        (e(Some(m), 5.0, 0), e(Some(i), 3.0, 0), nm, 7, reset),
        (e(Some(m), 5.0, 0), e(Some(i), 3.0, 0), flat, 7, leave),
        (none, e(Some(i), 3.0, 0), nm, 8, leave),
        // k names m.
        (e(Some(i), 5.0, 0), e(Some(m), 6.0, 0), nm, 9, up),
        (e(Some(i), 5.0, 0), e(Some(m), 6.0, 0), flat, 9, leave),
        (e(Some(i), 5.0, 0), e(Some(m), 4.0, 0), nm, 9, leave),
        (e(Some(k), 5.0, 0), e(Some(m), 4.0, 0), nm, 10, up),
        (e(Some(k), 5.0, 0), e(Some(m), 4.0, 0), flat, 10, reset),
        (e(Some(m), 5.0, 0), e(Some(m), 4.0, 0), nm, 11, up),
        (e(Some(m), 5.0, 0), e(Some(m), 4.0, 0), flat, 11, leave),
        (e(Some(n), 5.0, 0), e(Some(m), 4.0, 0), both, 12, up),
        (e(Some(n), 5.0, 0), e(Some(m), 6.0, 0), nm, 12, up),
        (e(Some(n), 5.0, 0), e(Some(m), 4.0, 0), nm, 12, leave),
        (
            e(Some(n), 5.0, 0),
            e(Some(m), 4.0, 0),
            older_m_newer_n,
            12,
            reset,
        ),
        (e(Some(n), 5.0, 0), e(Some(m), 4.0, 0), nn, 12, leave),
        (none, e(Some(m), 4.0, 0), nm, 13, up),
        (none, e(Some(m), 4.0, 0), flat, 13, leave),
        // k names none.
        (e(Some(i), 5.0, 0), none, nm, 14, leave),
        (e(Some(k), 5.0, 0), none, flat, 15, up),
        (e(Some(m), 5.0, 0), none, nm, 16, up),
        (e(Some(m), 5.0, 0), none, flat, 16, leave),
        (none, none, nm, 17, leave),
    ];
    for (c, (mine, theirs, their_stamps, cell, action)) in cases.iter().enumerate() {
        let (got, act) = resolve_cbba(i, k, mine, theirs, &flat, their_stamps);
        assert_eq!((got.number(), act), (*cell, *action), "case {c}");
        assert_eq!(Rule::Cbba(got).number(), *cell);
    }
}

#[test]
fn rule_set_names_round_trip_and_bad_ones_are_refused() {
    for r in Rules::ALL {
        assert_eq!(Rules::parse(r.name()).unwrap(), r);
    }
    assert_eq!(Rules::default(), Rules::Cbba);
    assert!(matches!(
        Rules::parse("alloy"),
        Err(McaError::BadRules { .. })
    ));
    // In a scenario file: optional, "cbba" by default, unknown names refused.
    let base = r#"{"agents": ["1"], "items": ["A"], "values": {}, "policy": {"release_outbid": true, "target_bundle": 1, "rebid_lost": false}"#;
    assert_eq!(scenario(&format!("{base}}}")).rules, Rules::Cbba);
    assert_eq!(
        scenario(&format!(r#"{base}, "rules": "bid-time"}}"#)).rules,
        Rules::BidTime
    );
    assert!(refused(&format!(r#"{base}, "rules": "alloy"}}"#)).contains("rules"));
}

fn refused(text: &str) -> String {
    match Scenario::from_json_str(text, "bad.json") {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_scenarios_are_refused_with_file_place_and_rule() {
    let policy = r#""policy": {"release_outbid": true, "target_bundle": 2, "rebid_lost": false}"#;
    let cases = [
        (
            format!(r#"{{"agents": ["1","2"], "items": ["A"], "neighbours": [["1","3"]], "values": {{}}, {policy}}}"#),
            "unknown agent '3'",
        ),
        (
            format!(r#"{{"agents": ["1","2","3"], "items": ["A"], "neighbours": [["1","2"]], "values": {{}}, {policy}}}"#),
            "must be connected: '3'",
        ),
        (
            format!(r#"{{"agents": ["1","2"], "items": ["A"], "neighbours": [["1","1"]], "values": {{}}, {policy}}}"#),
            "cannot neighbour itself",
        ),
        (
            format!(r#"{{"agents": ["1","2"], "items": ["A"], "neighbours": [["1","2"],["2","1"]], "values": {{}}, {policy}}}"#),
            "duplicate pair",
        ),
        (
            format!(r#"{{"agents": ["1","1"], "items": ["A"], "values": {{}}, {policy}}}"#),
            "duplicate agent id",
        ),
        (
            format!(r#"{{"agents": ["1"], "items": ["A+B"], "values": {{}}, {policy}}}"#),
            "must not contain '+'",
        ),
        (
            format!(r#"{{"agents": ["1"], "items": ["A"], "values": {{"9": {{"A": 1}}}}, {policy}}}"#),
            "values.9: unknown agent",
        ),
        (
            format!(r#"{{"agents": ["1"], "items": ["A"], "values": {{"1": {{"A+B": 1}}}}, {policy}}}"#),
            "unknown item 'B'",
        ),
        (
            format!(r#"{{"agents": ["1"], "items": ["A"], "values": {{"1": {{"A+A": 1}}}}, {policy}}}"#),
            "appears twice",
        ),
        (
            format!(r#"{{"agents": ["1"], "items": ["A","B"], "values": {{"1": {{"A+B": 1, "B+A": 2}}}}, {policy}}}"#),
            "given twice",
        ),
        (
            format!(r#"{{"agents": ["1"], "items": ["A"], "values": {{"1": {{"A": -1}}}}, {policy}}}"#),
            "must be finite and >= 0",
        ),
        (
            r#"{"agents": ["1"], "items": ["A"], "values": {}, "policy": {"release_outbid": true, "target_bundle": 0, "rebid_lost": false}}"#.to_string(),
            "policy.target_bundle",
        ),
        (
            format!(r#"{{"agents": ["1"], "items": ["A"], "values": {{}}, "colour": 1, {policy}}}"#),
            "unknown field `colour`",
        ),
        (
            r#"{"agents": ["1"], "items": ["A"], "values": {}}"#.to_string(),
            "missing field `policy`",
        ),
        (
            format!(r#"{{"agents": [], "items": ["A"], "values": {{}}, {policy}}}"#),
            "at least one agent",
        ),
        (
            format!(r#"{{"agents": ["1"], "items": ["A"], "values": {{"1": {{"A": "x"}}}}, {policy}}}"#),
            "values.1.A",
        ),
    ];
    for (text, expected) in &cases {
        let msg = refused(text);
        assert!(msg.starts_with("bad.json: "), "{msg}");
        assert!(msg.contains(expected), "{msg} should say {expected}");
    }
}

#[test]
fn policy_names_round_trip_and_bad_ones_are_refused() {
    for p in Policy::all(3) {
        assert_eq!(Policy::parse(&p.name()).unwrap(), p);
    }
    assert_eq!(Policy::all(2).len(), 8);
    for bad in [
        "",
        "release",
        "release-T0",
        "keep-2",
        "keep-T1-x",
        "keep-T1-rebid-x",
    ] {
        assert!(
            matches!(Policy::parse(bad), Err(McaError::BadPolicy { .. })),
            "{bad}"
        );
    }
}
