//! [MCA-Alloy]'s findings through the exhaustive explorer under both conflict-rule
//! sets (bid-time and [CBBA]), on the scenarios committed under experiments/mca/,
//! and random sub-modular scenarios through the synchronous runner (the
//! literature's guarantees: [MCA-Alloy] Remark 3 and §V, [CBBA]'s convergence and greedy-optimality results).

use brokerflow_solvers::mca::explore::Channels;
use brokerflow_solvers::mca::values::is_submodular;
use brokerflow_solvers::mca::{
    explore, run::Ended, run_synchronous, Exploration, ExploreOptions, Policy, Rules, Scenario,
    ScenarioFile, Verdict,
};
use proptest::prelude::*;

mod common;

/// Explores `s` under the policy named `policy` and `rules`.
fn explore_with(s: &Scenario, policy: &str, rules: Rules, options: &ExploreOptions) -> Exploration {
    explore(s, &Policy::parse(policy).unwrap(), rules, options).unwrap()
}

fn committed(name: &str) -> Scenario {
    let path = common::repo_file(&format!("experiments/mca/{name}"));
    let text = std::fs::read_to_string(&path).unwrap();
    Scenario::from_json_str(&text, &path.display().to_string()).unwrap()
}

fn verdicts(s: &Scenario, rules: Rules, channels: Channels) -> Vec<(Policy, Verdict)> {
    let options = ExploreOptions {
        channels,
        ..ExploreOptions::default()
    };
    Policy::all(s.items.len())
        .into_iter()
        .map(|p| (p, explore(s, &p, rules, &options).unwrap().verdict))
        .collect()
}

/// Sub-modular values without rebidding: every delivery order converges, under
/// every release policy and target bundle size, at 2 × 2, 3 × 2 (complete graph,
/// line, star) and 3 × 3, under both rule sets. With rebidding (Result 2): no policy
/// converges — under bid-time rules it oscillates; under [CBBA] rules the
/// re-asserted claim meets cell 1 (a lower bid: leave), nobody's view changes,
/// and the execution goes quiet without consensus.
#[test]
fn submodular_converges_without_rebidding_and_rebidding_breaks_it() {
    for name in [
        "submodular-2x2.json",
        "submodular-3x2-complete.json",
        "submodular-3x2-line.json",
        "submodular-3x2-star-deadlock.json",
        "submodular-3x3.json",
    ] {
        let s = committed(name);
        assert_eq!(s.is_submodular(), Some(true), "{name}");
        for rules in Rules::ALL {
            for channels in [Channels::Latest, Channels::Fifo] {
                if channels == Channels::Fifo && name != "submodular-2x2.json" {
                    continue; // FIFO queues grow under the attack: minutes, not a fast test
                }
                for (p, v) in verdicts(&s, rules, channels) {
                    let at = format!("{name} {} {rules:?} {channels:?}", p.name());
                    match (p.rebid_lost, rules) {
                        (false, _) => assert_eq!(v, Verdict::Converges, "{at}"),
                        (true, Rules::BidTime) => assert_eq!(v, Verdict::Oscillates, "{at}"),
                        (true, Rules::Cbba) => {
                            assert_eq!(v, Verdict::NoConsensusWithinBound, "{at}")
                        }
                    }
                }
            }
        }
    }
}

/// Result 1: non-sub-modular values with release-outbid do not converge (with
/// T = 2, where there is something after an outbid item to release), while
/// keeping the items converges; under both rule sets.
#[test]
fn complements_with_release_outbid_oscillate_under_bid_time_rules() {
    let s = committed("nonsubmodular-3x2-release.json");
    assert_eq!(s.is_submodular(), Some(false));
    let o = ExploreOptions::default();
    let release = explore_with(&s, "release-T2", Rules::BidTime, &o);
    assert_eq!(release.verdict, Verdict::Oscillates);
    let trace = release.trace.as_ref().unwrap();
    let start = trace.cycle_start.unwrap();
    assert!(start < trace.steps.len());
    assert_eq!(trace.steps.len(), release.deliveries);
    // Along the cycle some receiver changes its mind about an item's winner (here:
    // agent 3's released bid on A keeps coming back through the others, rule 4
    // taking a named third agent over "none" whatever its time).
    assert!(trace.steps[start..].iter().any(|st| st
        .before
        .view
        .iter()
        .zip(&st.after.view)
        .any(|(b, a)| b.winner != a.winner)));
    assert!(!brokerflow_solvers::mca::protocol::consensus(
        &trace.last.agents,
        &release.policy
    ));
    for rules in Rules::ALL {
        for keep in ["keep-T1", "keep-T2", "release-T1"] {
            let r = explore(&s, &Policy::parse(keep).unwrap(), rules, &o).unwrap();
            assert_eq!(r.verdict, Verdict::Converges, "{keep} {rules:?}");
            assert!(r.trace.is_none());
        }
    }
}

/// Result 1 under [CBBA] rules, as a dead end rather than a cycle. Values: 1: A 4,
/// C 3, A+C 9; 2: A 1, C 8, A+C 10; 3: A 3, C 5, A+C 10 (complements). Initial
/// bids: 1 A 4, C 5; 2 C 8, A 2; 3 C 5, A 5. Shortest failing order, by hand:
/// 1→2 (A: cell 1, 4 > 2, 2 outbid on A), 2→1 (C: cell 1, 8 > 5, 1 outbid on C),
/// 1→2 (nothing new), 1→3 (A: cell 1, 3's 5 beats 4: leave; C: cell 9, 2's 8
/// beats 3's 5 and is newer: update — 3 is outbid on C, its first item, and
/// releases A, forgetting 1's bid of 4; alone A is worth only 3 to it, which it
/// bids), 2→3, 3→1 (A: cell 1, 3 < 4: leave — 1's view does not change, so it
/// never tells 3), 3→2 (A: cell 3, 2 names 1 at 4, 3's 3 does not beat it:
/// leave). Nothing is in flight; 3 believes it wins A at 3, 1 and 2 that 1 does at
/// 4: no consensus. With sub-modular values this cannot happen: a released item's
/// marginal can only rise, so the fresh bid still beats what was forgotten.
#[test]
fn complements_with_release_outbid_go_quiet_under_cbba_rules() {
    let s = committed("nonsubmodular-3x2-release.json");
    let r = explore_with(&s, "release-T2", Rules::Cbba, &ExploreOptions::default());
    assert_eq!(r.verdict, Verdict::NoConsensusWithinBound);
    assert_eq!(r.deliveries, 7);
    let t = r.trace.unwrap();
    assert!(t.last.in_flight.is_empty());
    let route: Vec<(usize, usize)> = t
        .steps
        .iter()
        .map(|st| (st.message.from, st.message.to))
        .collect();
    assert_eq!(
        route,
        vec![(0, 1), (1, 0), (0, 1), (0, 2), (1, 2), (2, 0), (2, 1)]
    );
    let a = &t.last.agents;
    assert_eq!((a[2].view[0].winner, a[2].view[0].bid), (Some(2), 3.0));
    for x in &a[..2] {
        assert_eq!((x.view[0].winner, x.view[0].bid), (Some(0), 4.0));
    }
    assert_eq!(t.steps[3].log.released, vec![0]);
    assert_eq!(t.steps[3].log.bids, vec![(0, 3.0, false)]);
}

/// The hand examples under the explorer: the sub-modular one converges in every
/// order; a lasso's replay ends where its cycle started.
#[test]
fn lasso_replay_returns_to_the_cycle_start() {
    let s = committed("submodular-2x2.json");
    let r = explore_with(
        &s,
        "keep-T2-rebid",
        Rules::BidTime,
        &ExploreOptions::default(),
    );
    assert_eq!(r.verdict, Verdict::Oscillates);
    let t = r.trace.unwrap();
    let start = t.cycle_start.unwrap();
    // Replaying from the initial state: the state before step `start` recurs at the end.
    let before_cycle: Vec<_> = {
        let mut a = t.initial.agents.clone();
        for st in &t.steps[..start] {
            a[st.message.to] = st.after.clone();
        }
        a
    };
    let winners = |a: &[brokerflow_solvers::mca::AgentState]| -> Vec<Vec<(Option<usize>, u64)>> {
        a.iter()
            .map(|x| x.view.iter().map(|e| (e.winner, e.bid.to_bits())).collect())
            .collect()
    };
    assert_eq!(winners(&before_cycle), winners(&t.last.agents));
    let hand = committed("hand-submodular.json");
    for p in Policy::all(2).into_iter().filter(|p| !p.rebid_lost) {
        for rules in Rules::ALL {
            let r = explore(&hand, &p, rules, &ExploreOptions::default()).unwrap();
            assert_eq!(r.verdict, Verdict::Converges);
        }
    }
}

/// The explorer stops at its delivery bound: states first reached after that many
/// deliveries are not expanded, so with a bound of 1 on a scenario that needs more,
/// the verdict is no consensus within the bound, shown by a 1-step execution that
/// still has messages in flight.
#[test]
fn the_delivery_bound_is_a_verdict() {
    let s = committed("submodular-3x2-line.json");
    let p = Policy::parse("release-T2").unwrap();
    for rules in Rules::ALL {
        let full = explore(&s, &p, rules, &ExploreOptions::default()).unwrap();
        assert_eq!(full.verdict, Verdict::Converges);
        assert!(full.deliveries > 1);
        let cut = ExploreOptions {
            max_deliveries: 1,
            ..ExploreOptions::default()
        };
        let r = explore(&s, &p, rules, &cut).unwrap();
        assert_eq!(r.verdict, Verdict::NoConsensusWithinBound);
        assert_eq!(r.deliveries, 1);
        assert!(!r.trace.unwrap().last.in_flight.is_empty());
    }
}

/// Budget-additive values v_i(S) = min(B_i, Σ_{j∈S} w_ij): sub-modular by
/// construction, written out as a full table.
fn budget_additive(
    agents: usize,
    items: usize,
    weights: &[u8],
    budgets: &[u8],
    edges: &[(usize, usize)],
    target: usize,
) -> ScenarioFile {
    let ids: Vec<String> = (0..agents).map(|i| format!("a{i}")).collect();
    let items_ids: Vec<String> = (0..items).map(|j| format!("j{j}")).collect();
    let mut values = std::collections::BTreeMap::new();
    for i in 0..agents {
        let mut table = std::collections::BTreeMap::new();
        for set in 1u64..(1 << items) {
            let sum: f64 = (0..items)
                .filter(|j| set & (1 << j) != 0)
                .map(|j| f64::from(weights[i * items + j]))
                .sum();
            let name: Vec<&str> = (0..items)
                .filter(|j| set & (1 << j) != 0)
                .map(|j| items_ids[j].as_str())
                .collect();
            table.insert(name.join("+"), sum.min(f64::from(budgets[i])));
        }
        values.insert(ids[i].clone(), table);
    }
    ScenarioFile {
        name: "random".into(),
        neighbours: Some(
            edges
                .iter()
                .map(|&(u, v)| (ids[u].clone(), ids[v].clone()))
                .collect(),
        ),
        agents: ids,
        items: items_ids,
        values,
        policy: Policy {
            release_outbid: true,
            target_bundle: target,
            rebid_lost: false,
        },
        rules: Rules::Cbba,
        meta: None,
    }
}

/// A random connected graph: a random spanning tree (each agent links to an
/// earlier one) plus extra pairs.
fn connected(agents: usize, parents: &[usize], extra: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut edges: Vec<(usize, usize)> = (1..agents).map(|i| (parents[i] % i, i)).collect();
    for &(u, v) in extra {
        let (u, v) = (u % agents, v % agents);
        let (u, v) = (u.min(v), u.max(v));
        if u != v && !edges.iter().any(|&(a, b)| (a.min(b), a.max(b)) == (u, v)) {
            edges.push((u, v));
        }
    }
    edges
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// [CBBA] rules, sub-modular values, no rebidding, any release policy and
    /// target, random connected graphs of up to 5 agents and 6 items: the
    /// synchronous run reaches consensus within D·|J| rounds, at most one agent
    /// holds each item (and it is the agreed winner), no bundle exceeds T, and the
    /// value is at least half the brute-force optimum — greedy's bound, which
    /// [CBBA] inherits by reaching the sequential greedy result. Not (1 − 1/e): that fails, see `greedy_falls_below_1_minus_1_over_e`.
    #[test]
    fn cbba_on_random_connected_graphs_keeps_its_guarantees(
        agents in 2usize..=5,
        items in 1usize..=6,
        weights in proptest::collection::vec(0u8..20, 30),
        budgets in proptest::collection::vec(1u8..60, 5),
        parents in proptest::collection::vec(0usize..5, 5),
        extra in proptest::collection::vec((0usize..5, 0usize..5), 0..6),
        target in 1usize..=6,
        release in any::<bool>(),
    ) {
        let edges = connected(agents, &parents, &extra);
        let mut file = budget_additive(agents, items, &weights, &budgets, &edges, target.min(items));
        file.policy.release_outbid = release;
        let s = Scenario::from_file(&file, "random").unwrap();
        for i in 0..agents {
            prop_assert_eq!(is_submodular(s.values.as_ref(), i, items), Some(true));
        }
        let r = run_synchronous(&s, &s.policy, Rules::Cbba);
        prop_assert!(r.consensus, "no consensus: {:?}", r.ended);
        prop_assert!(r.rounds <= s.bound(), "{} rounds > D·|J| = {}", r.rounds, s.bound());
        for j in 0..items {
            let holders = r.agents.iter().filter(|a| a.bundle.contains(&j)).count();
            prop_assert!(holders <= 1, "item {} in {} bundles", j, holders);
            prop_assert_eq!(r.assignment[j], r.agents[0].view[j].winner);
        }
        for a in &r.agents {
            prop_assert!(a.bundle.len() <= s.policy.target_bundle);
        }
        let optimum = r.optimum.unwrap();
        prop_assert!(r.value <= optimum + 1e-9);
        prop_assert!(r.value >= 0.5 * optimum - 1e-9, "value {} < optimum {} / 2", r.value, optimum);
    }

    /// Bid-time rules on the complete graph: the synchronous run ends — in
    /// consensus, conflict-free, or in a detected oscillation or deadlock, never at
    /// the round limit — with bundles within T. Consensus itself is not guaranteed
    /// even here: proptest found 3 agents × 5 items that oscillate and 3 × 6 that
    /// go quiet without agreeing (kept in mca_explore.proptest-regressions); on
    /// sparser graphs see also
    /// `submodular-3x2-star-deadlock.json` and the census example.
    #[test]
    fn bid_time_rules_on_complete_graphs_end_without_conflicts(
        agents in 2usize..=5,
        items in 1usize..=6,
        weights in proptest::collection::vec(0u8..20, 30),
        budgets in proptest::collection::vec(1u8..60, 5),
        target in 1usize..=6,
        release in any::<bool>(),
    ) {
        let mut file = budget_additive(agents, items, &weights, &budgets, &[], target.min(items));
        file.neighbours = None;
        file.policy.release_outbid = release;
        let s = Scenario::from_file(&file, "random").unwrap();
        let r = run_synchronous(&s, &s.policy, Rules::BidTime);
        for a in &r.agents {
            prop_assert!(a.bundle.len() <= s.policy.target_bundle);
        }
        if !r.consensus {
            prop_assert!(!matches!(r.ended, Ended::RoundLimit), "{:?}", r.ended);
            return Ok(());
        }
        for (j, w) in r.assignment.iter().enumerate() {
            prop_assert_eq!(*w, r.agents[0].view[j].winner);
        }
        prop_assert!(r.value <= r.optimum.unwrap() + 1e-9);
    }
}

/// The (1 − 1/e) bound of design §9 is false for this protocol; shrunk by proptest
/// (`submodular-2x2-greedy-gap.json`) and checked by hand. a0 values A and B at 7
/// each, but both together also at 7 (a budget: sub-modular); a1 values A at 5.
/// a0's best marginal is a tie, 7 on A or B; ties go to the lower item, so a0 bids
/// A at 7, and then B is worth nothing more to it. a1 bids A at 5, is outbid, and
/// values nothing else. So A goes to a0 at 7, B to nobody: value 7. The optimum
/// gives B to a0 and A to a1: 7 + 5 = 12. 7/12 ≈ 0.583 < 1 − 1/e ≈ 0.632, and
/// ≥ 1/2, the bound greedy assignment keeps with sub-modular values ([CBBA]: its
/// result is the sequential greedy one). The same under every policy
/// without rebidding and both rule sets; as a1's value of A approaches 7 the ratio
/// approaches 1/2.
#[test]
fn greedy_falls_below_1_minus_1_over_e() {
    let s = committed("submodular-2x2-greedy-gap.json");
    assert_eq!(s.is_submodular(), Some(true));
    for p in Policy::all(2).into_iter().filter(|p| !p.rebid_lost) {
        for rules in Rules::ALL {
            let r = run_synchronous(&s, &p, rules);
            assert!(r.consensus, "{} {rules:?}", p.name());
            assert_eq!(r.assignment, vec![Some(0), None]);
            assert_eq!(r.value, 7.0);
            assert_eq!(r.optimum, Some(12.0));
            assert!(r.value < (1.0 - (-1f64).exp()) * 12.0);
            assert!(r.value >= 0.5 * 12.0);
        }
    }
}

/// The shrunk counterexample: sub-modular values on a star (a1 - a0 - a2, all
/// wanting j0: a1 at 5, a0 at 4, a2 at 3), yet the stated rules go quiet without
/// consensus. The mechanism: a2, outbid by a0's 4 while a0 already names a2
/// (a0 took a2's newer, lower claim by rule 5's "older time"), meets the crossed
/// case and resets (rule 8) at time now; that "none" is newer than a1's winning
/// bid, so it spreads (rule 7) and wipes it at a0 and a2. a1 itself hears only
/// "none", which rule 10 leaves unchanged, so it never re-sends: a1 holds j0, the
/// others believe nobody does.
#[test]
fn star_deadlock_is_reproduced() {
    let s = committed("submodular-3x2-star-deadlock.json");
    assert_eq!(s.is_submodular(), Some(true));
    let r = run_synchronous(&s, &s.policy, Rules::BidTime);
    assert!(!r.consensus);
    assert_eq!(r.ended, brokerflow_solvers::mca::run::Ended::Quiescent);
    assert_eq!(r.agents[1].view[0].winner, Some(1));
    assert_eq!(r.agents[0].view[0].winner, None);
    assert_eq!(r.agents[2].view[0].winner, None);
    // Under CBBA rules the reset does not outlive the winner's news: a0 heard from
    // a1 after a2's claim, so a1's bid survives (cell 11 or 12 needs newer
    // information to overturn it). j0 goes to a1, the highest bidder.
    let r = run_synchronous(&s, &s.policy, Rules::Cbba);
    assert!(r.consensus);
    assert!(r.rounds <= s.bound());
    assert_eq!(r.assignment[0], Some(1));
}

/// Unordered links let a stale view overtake a newer one on the same link: at 2 × 2
/// with T = 1, p1's first view ("B: none") reaches p2 after p1's bid on B, and rule
/// 6 (sender names none, receiver names sender: update) undoes the bid; p1 never
/// re-sends, so the execution ends without consensus.
#[test]
fn unordered_links_break_even_submodular_values() {
    let s = committed("submodular-2x2.json");
    let options = ExploreOptions {
        channels: Channels::Unordered,
        ..ExploreOptions::default()
    };
    let r = explore_with(&s, "keep-T1", Rules::BidTime, &options);
    assert_eq!(r.verdict, Verdict::NoConsensusWithinBound);
    let t = r.trace.unwrap();
    assert!(t.last.in_flight.is_empty());
    assert!(t
        .steps
        .iter()
        .any(|st| st.log.rules.iter().any(|(rule, _)| *rule
            == brokerflow_solvers::mca::protocol::Rule::BidTime(
                brokerflow_solvers::mca::protocol::BidTimeRule::SenderReleased
            ))));
}

/// 4 agents × 2 items, where cbba's state space is beyond exhaustive search:
/// random delivery orders. Without rebidding every sampled order ends in consensus
/// under cbba rules; the rebidding attack never does (each order goes quiet with
/// the attacker's claim left standing). Under bid-time rules the attack keeps
/// every order busy up to the bound (the oscillation the explorer shows). The same
/// seed gives the same counts.
#[test]
fn sampled_orders_at_4x2() {
    let s = committed("submodular-4x2.json");
    let o = ExploreOptions::default();
    for p in ["keep-T1", "release-T2"] {
        let p = Policy::parse(p).unwrap();
        let x = brokerflow_solvers::mca::sample(&s, &p, Rules::Cbba, &o, 150, 3);
        assert_eq!((x.consensus, x.walks), (150, 150), "{}", p.name());
        assert!(x.longest > 0);
        assert_eq!(
            x,
            brokerflow_solvers::mca::sample(&s, &p, Rules::Cbba, &o, 150, 3)
        );
    }
    let attack = Policy::parse("release-T2-rebid").unwrap();
    let x = brokerflow_solvers::mca::sample(&s, &attack, Rules::Cbba, &o, 50, 3);
    assert_eq!(x.no_consensus, 50);
    let short = ExploreOptions {
        max_deliveries: 60,
        ..o
    };
    let x = brokerflow_solvers::mca::sample(&s, &attack, Rules::BidTime, &short, 20, 3);
    assert_eq!(x.cut_at_bound, 20);
}

/// 4 agents × 2 items with sub-modular values and no rebidding: under bid-time
/// rules some delivery order cycles — the lasso keeps changing some receiver's
/// belief about a winner (a later, lower bid displacing a higher, older one at a
/// third party by rule 4, and coming back by rule 5), so the protocol can run
/// forever. One policy (the smallest search, about a quarter of a million states).
#[test]
fn bid_time_rules_oscillate_at_4x2() {
    let s = committed("submodular-4x2.json");
    assert_eq!(s.is_submodular(), Some(true));
    let r = explore_with(&s, "keep-T1", Rules::BidTime, &ExploreOptions::default());
    assert_eq!(r.verdict, Verdict::Oscillates);
    let t = r.trace.unwrap();
    let start = t.cycle_start.unwrap();
    let rules_used: Vec<_> = t.steps[start..]
        .iter()
        .flat_map(|st| st.log.rules.iter().map(|(rule, _)| rule.number()))
        .collect();
    assert!(t.steps[start..].iter().any(|st| st
        .before
        .view
        .iter()
        .zip(&st.after.view)
        .any(|(b, a)| b.winner != a.winner)));
    assert!(
        rules_used.contains(&4) && rules_used.contains(&5),
        "{rules_used:?}"
    );
}
