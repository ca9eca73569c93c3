//! Max-consensus auctions ([MCA-Alloy]): the hand examples with their traces worked
//! by hand, the conflict rules one by one, and scenario validation.

use brokerflow_solvers::mca::protocol::{resolve, Action, Entry, Rule};
use brokerflow_solvers::mca::{run_synchronous, McaError, Policy, Scenario};

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
/// optimum.
#[test]
fn hand_example_submodular_settles_in_one_round() {
    let s = scenario(SUBMODULAR);
    for release in [true, false] {
        let policy = Policy {
            release_outbid: release,
            ..s.policy
        };
        let r = run_synchronous(&s, &policy);
        assert!(r.consensus, "release {release}");
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
#[test]
fn hand_example_complements_with_release_misses_the_bound() {
    let s = scenario(COMPLEMENTS);
    let r = run_synchronous(&s, &s.policy);
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
/// round; round 2 bids nothing (the lost items are never rebid).
#[test]
fn hand_example_complements_without_release_ends_a_to_2_c_to_1() {
    let s = scenario(COMPLEMENTS);
    let policy = Policy {
        release_outbid: false,
        ..s.policy
    };
    let r = run_synchronous(&s, &policy);
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
/// changes its view and is sent back, agent 1 is outbid again… The synchronous
/// run repeats a state and never reaches consensus.
#[test]
fn rebidding_attack_oscillates_synchronously() {
    let s = scenario(SUBMODULAR);
    let policy = Policy {
        rebid_lost: true,
        ..s.policy
    };
    let r = run_synchronous(&s, &policy);
    assert!(!r.consensus);
    assert!(matches!(
        r.ended,
        brokerflow_solvers::mca::run::Ended::Repeats { .. }
    ));
}

fn e(winner: Option<usize>, bid: f64, time: u64) -> Entry {
    Entry { winner, bid, time }
}

/// Each conflict rule on a hand-picked case: receiver 0, sender 1, third agent 2.
#[test]
fn conflict_rules_in_order() {
    let (i, k, m) = (0, 1, 2);
    let cases = [
        // 1. i won; k names another with a higher bid: update; lower: keep, newer time.
        (
            e(Some(i), 5.0, 1),
            e(Some(k), 6.0, 2),
            Rule::ReceiverWon,
            Action::Update,
        ),
        (
            e(Some(i), 5.0, 1),
            e(Some(m), 4.0, 3),
            Rule::ReceiverWon,
            Action::KeepNewerTime,
        ),
        // Equal bids: the lower id (i = 0) keeps it.
        (
            e(Some(i), 5.0, 1),
            e(Some(k), 5.0, 2),
            Rule::ReceiverWon,
            Action::KeepNewerTime,
        ),
        // 2. same winner and bid.
        (
            e(Some(m), 5.0, 1),
            e(Some(m), 5.0, 9),
            Rule::SameWinnerAndBid,
            Action::Leave,
        ),
        // 3. different winners, equal bids: lower id; k (1) < m (2).
        (
            e(Some(m), 5.0, 1),
            e(Some(k), 5.0, 0),
            Rule::EqualBids,
            Action::Update,
        ),
        // 4. k names m; i names k: update; i names m older: update; newer: leave.
        (
            e(Some(k), 5.0, 1),
            e(Some(m), 3.0, 0),
            Rule::SenderNamesThird,
            Action::Update,
        ),
        (
            e(Some(m), 5.0, 1),
            e(Some(m), 3.0, 2),
            Rule::SenderNamesThird,
            Action::Update,
        ),
        (
            e(Some(m), 5.0, 3),
            e(Some(m), 3.0, 2),
            Rule::SenderNamesThird,
            Action::Leave,
        ),
        // 5. k names itself: i names none: update; names m with a higher, newer bid: leave.
        (
            e(None, 0.0, 1),
            e(Some(k), 3.0, 0),
            Rule::SenderNamesItself,
            Action::Update,
        ),
        (
            e(Some(m), 5.0, 3),
            e(Some(k), 3.0, 2),
            Rule::SenderNamesItself,
            Action::Leave,
        ),
        (
            e(Some(m), 5.0, 1),
            e(Some(k), 3.0, 2),
            Rule::SenderNamesItself,
            Action::Update,
        ),
        // 6. k names none, i names k.
        (
            e(Some(k), 5.0, 3),
            e(None, 0.0, 1),
            Rule::SenderReleased,
            Action::Update,
        ),
        // 7. k names none, i names m with an older time.
        (
            e(Some(m), 5.0, 1),
            e(None, 0.0, 2),
            Rule::NewerRelease,
            Action::Update,
        ),
        // 8. k names i, i names k.
        (
            e(Some(k), 5.0, 1),
            e(Some(i), 4.0, 2),
            Rule::Crossed,
            Action::Reset,
        ),
        // 9. k names i, i names none.
        (
            e(None, 0.0, 1),
            e(Some(i), 4.0, 2),
            Rule::ReceiverReleased,
            Action::KeepNow,
        ),
        // 10. k names none, i names m with a newer time.
        (
            e(Some(m), 5.0, 3),
            e(None, 0.0, 2),
            Rule::Otherwise,
            Action::Leave,
        ),
    ];
    for (n, (mine, theirs, rule, action)) in cases.iter().enumerate() {
        assert_eq!(resolve(i, k, mine, theirs), (*rule, *action), "case {n}");
    }
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
