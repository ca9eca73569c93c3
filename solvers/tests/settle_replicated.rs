//! The replicated auctioneer (design §10; [Dist-Auctioneer]) against the centralised
//! settlement and against deviators.
//!
//! Honest runs must give the centralised statement bit for bit; with at most k
//! deviators the outcome is that statement or an abort, never a third; k + 1
//! colluders filling a whole payment group get a forged payment through (the
//! threshold); the coin is uniform while one replica is honest; a killed replica is
//! named within the timeout.
//!
//! Counts: 50 generated markets × every admissible (m, k) for m ∈ {3, 5, 8} × both
//! mechanisms, over channels and over TCP (900 runs each, about 10 s and 15 s on
//! the shared 2-core machine). The bundled markets run every fitting (m, k) over
//! both transports.

use brokerflow_solvers::settle::{mcafee::Mcafee, posted::Posted, vcg::Vcg};
use std::time::{Duration, Instant};

use brokerflow_graphs::generate::{generate, GeneratorConfig, Range};
use brokerflow_graphs::{examples, Market, Role, ValidMarket};
use brokerflow_solvers::settle::replicated::bid_agreement::{agreed_market, BidVector};
use brokerflow_solvers::settle::replicated::coin::{self, CoinShare};
use brokerflow_solvers::settle::replicated::{
    output, settle_replicated, Channels, Deviation, Evidence, Link, Outcome, Phase, ReplicatedRun,
    ReplicationConfig, ReplicationError, Transport, TransportKind,
};
use brokerflow_solvers::settle::vcg::VcgPayments;
use brokerflow_solvers::settle::{vcg, Allocation, Mechanism, Setting, SettleOptions, Statement};
use proptest::prelude::*;

mod common;

const MECHANISMS: [&'static dyn Mechanism; 2] = [&Vcg, &Mcafee];

/// Every (m, k) with m ∈ {3, 5, 8} and m > 2k.
fn admissible() -> Vec<(usize, usize)> {
    [3usize, 5, 8]
        .into_iter()
        .flat_map(|m| (0..).take_while(move |k| m > 2 * k).map(move |k| (m, k)))
        .collect()
}

/// Small markets with 8 providers (so m = 8 fits), several brokers and dense links
/// so that VCG has many trading participants to split over groups.
fn config() -> GeneratorConfig {
    GeneratorConfig {
        users: 6,
        brokers: 2,
        providers: 8,
        link_probability: Some(0.6),
        valuation: Range::new(1.0, 100.0),
        ..GeneratorConfig::default()
    }
}

fn market(seed: u64) -> ValidMarket {
    generate(&config(), seed).expect("valid generator config")
}

/// `settle` in one process: P3's allocation at the declared bids, then the mechanism.
fn centralised(
    truth: &ValidMarket,
    declared: &ValidMarket,
    mechanism: &'static dyn Mechanism,
) -> Statement {
    common::settle_at_optimum(truth, declared, declared, mechanism).expect("centralised settlement")
}

fn cfg(
    mechanism: &'static dyn Mechanism,
    m: usize,
    k: usize,
    transport: TransportKind,
) -> ReplicationConfig {
    ReplicationConfig {
        transport,
        ..ReplicationConfig::new(mechanism, m, k)
    }
}

/// The run settled with exactly `expected` (also bitwise: the output digest covers
/// the sign of zeros and the trades), and every replica output the same.
fn assert_settled_with(run: &ReplicatedRun, expected: &Statement, what: &str) {
    let Outcome::Settled(s) = &run.outcome else {
        panic!("{what}: expected settled, got {:?}", run.outcome);
    };
    assert_eq!(**s, *expected, "{what}");
    assert_eq!(output::digest(s), output::digest(expected), "{what}");
    for r in run.replicas.iter().filter(|r| r.honest) {
        assert_eq!(r.outcome.as_ref(), Some(&run.outcome), "{what}: {}", r.id);
    }
}

fn honest_run(truth: &Market, config: &ReplicationConfig) -> ReplicatedRun {
    settle_replicated(truth, truth, config, &[]).expect("replicated run")
}

/// Honest replicated runs on the bundled market `m` (`name`) equal the centralised
/// statement, for every mechanism, admissible (m, k) and transport.
fn honest_runs_equal_centralised(name: &str, m: ValidMarket) {
    for mechanism in MECHANISMS {
        let expected = centralised(&m, &m, mechanism);
        for (r, k) in admissible() {
            for transport in [TransportKind::Channels, TransportKind::Tcp] {
                let config = cfg(mechanism, r, k, transport);
                let what = format!("{name} {mechanism} m={r} k={k} {}", transport.name());
                if r > m.providers.len() {
                    let e = settle_replicated(&m, &m, &config, &[]).unwrap_err();
                    assert!(
                        matches!(e, ReplicationError::TooManyReplicas { .. }),
                        "{what}: {e}"
                    );
                    continue;
                }
                let run = honest_run(&m, &config);
                assert_settled_with(&run, &expected, &what);
                // Honest traffic: one broadcast per step to m − 1 peers (5 steps,
                // plus the data transfer for vcg).
                let steps = if mechanism.name() == "vcg" { 6 } else { 5 };
                assert_eq!(
                    run.replication.messages,
                    (steps * r * (r - 1)) as u64,
                    "{what}"
                );
            }
        }
    }
}

#[test]
fn honest_runs_equal_centralised_on_bundled_markets_tiny() {
    honest_runs_equal_centralised("tiny", examples::tiny());
}

#[test]
fn honest_runs_equal_centralised_on_bundled_markets_figure3() {
    honest_runs_equal_centralised("figure3", examples::figure3());
}

#[test]
fn honest_runs_equal_centralised_on_bundled_markets_linked() {
    honest_runs_equal_centralised("linked", examples::linked());
}

#[test]
fn honest_runs_equal_centralised_on_bundled_markets_posted() {
    honest_runs_equal_centralised("posted", examples::posted());
}

#[test]
fn honest_runs_equal_centralised_on_generated_markets() {
    let configs = admissible();
    for seed in 0..50u64 {
        let m = market(seed);
        for mechanism in MECHANISMS {
            let expected = centralised(&m, &m, mechanism);
            for &(r, k) in &configs {
                let run = honest_run(&m, &cfg(mechanism, r, k, TransportKind::Channels));
                assert_settled_with(
                    &run,
                    &expected,
                    &format!("seed {seed} {mechanism} m={r} k={k}"),
                );
                if mechanism.name() == "vcg" {
                    // ⌊m/(k+1)⌋ groups of ≥ k + 1 replicas, every trading participant
                    // in exactly one group.
                    let groups = &run.replication.groups;
                    assert_eq!(groups.len(), r / (k + 1));
                    assert!(groups.iter().all(|g| g.replicas.len() > k));
                    let dealt: usize = groups.iter().map(|g| g.participants.len()).sum();
                    let trading = expected
                        .participants
                        .iter()
                        .filter(|l| l.volume > 0.0)
                        .count();
                    assert_eq!(dealt, trading, "seed {seed} m={r} k={k}");
                }
            }
        }
    }
}

/// Same input and seed → the same run, bit for bit, but for the wall clock; another
/// seed draws another coin (and so may deal the payments to other groups) but gives
/// the same statement.
#[test]
fn runs_are_reproducible_and_the_seed_never_changes_the_statement() {
    let m = market(7);
    let config = cfg(&Vcg, 8, 1, TransportKind::Channels);
    let strip = |mut r: ReplicatedRun| {
        r.replication.timing.wall_seconds = 0.0;
        r
    };
    let a = strip(honest_run(&m, &config));
    let b = strip(honest_run(
        &m,
        &ReplicationConfig {
            transport: TransportKind::Tcp,
            ..config.clone()
        },
    ));
    assert_eq!(a.outcome, b.outcome);
    assert_eq!(a.replicas, b.replicas);
    assert_eq!(a.replication.groups, b.replication.groups);
    assert_eq!(a.replication.messages, b.replication.messages);
    assert_eq!(a.replication.bytes, b.replication.bytes);
    assert_eq!(a, strip(honest_run(&m, &config)));
    let other = honest_run(&m, &ReplicationConfig { seed: 1, ..config });
    assert_ne!(other.replication.coin, a.replication.coin);
    assert_eq!(other.outcome, a.outcome);
}

/// Every admissible (m, k) over TCP on the 50 generated markets (900 runs, each
/// with m(m−1) loopback connections).
#[test]
fn honest_runs_equal_centralised_on_generated_markets_all_over_tcp() {
    for seed in 0..50u64 {
        let m = market(seed);
        for mechanism in MECHANISMS {
            let expected = centralised(&m, &m, mechanism);
            for (r, k) in admissible() {
                let run = honest_run(&m, &cfg(mechanism, r, k, TransportKind::Tcp));
                assert_settled_with(
                    &run,
                    &expected,
                    &format!("seed {seed} {mechanism} m={r} k={k} tcp"),
                );
            }
        }
    }
}

#[test]
fn refusals_name_the_rule() {
    let m = examples::figure3();
    let e = settle_replicated(&m, &m, &ReplicationConfig::new(&Vcg, 4, 2), &[]).unwrap_err();
    assert!(
        matches!(
            e,
            ReplicationError::TooFewReplicas {
                replicas: 4,
                resilience: 2
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("m > 4"), "{e}");
    let e = settle_replicated(&m, &m, &ReplicationConfig::new(&Vcg, 0, 0), &[]).unwrap_err();
    assert!(matches!(e, ReplicationError::TooFewReplicas { .. }), "{e}");
    let e = settle_replicated(&m, &m, &ReplicationConfig::new(&Mcafee, 6, 1), &[]).unwrap_err();
    assert!(
        matches!(
            e,
            ReplicationError::TooManyReplicas {
                replicas: 6,
                providers: 5
            }
        ),
        "{e}"
    );
    let e = settle_replicated(&m, &m, &ReplicationConfig::new(&Posted, 3, 1), &[]).unwrap_err();
    assert!(
        matches!(e, ReplicationError::UnsupportedMechanism(_)),
        "{e}"
    );
}

fn deviations(text: &str) -> Vec<Deviation> {
    Deviation::list_from_json_str(text, "test").expect("valid deviations")
}

/// A bidder that sends 40 to four replicas and 7 to one (m = 5, k = 1: a bid needs
/// m − k = 4 echoes) ends with 40 everywhere; split 3 / 2 it is excluded. Either way
/// the statement is the centralised one on the agreed bids, at every replica.
#[test]
fn equivocation_ends_in_one_agreed_bid_or_exclusion() {
    let m = examples::figure3();
    let ids: Vec<&str> = m.providers.iter().map(|p| p.id.as_str()).collect();
    let user = 1;
    let uid = m.users[user].id.clone();
    for mechanism in MECHANISMS {
        for transport in [TransportKind::Channels, TransportKind::Tcp] {
            let config = cfg(mechanism, 5, 1, transport);
            // 4 × 40, 1 × 7 → agreed 40.
            let d = deviations(&format!(
                r#"[{{"kind": "equivocate", "bidder": "{uid}", "bids": {{"{}": 7}}}}, {{"kind": "equivocate", "bidder": "{}", "bids": {{"{}": 40, "{}": 40, "{}": 40, "{}": 40}}}}]"#,
                ids[0], m.users[0].id, ids[1], ids[2], ids[3], ids[4]
            ));
            // Two entries for two bidders: u0 gets 40 at four replicas, its declared
            // value at the fifth; uid gets 7 at one replica, declared at four.
            let run = settle_replicated(&m, &m, &config, &d).unwrap();
            let agreed = honest_agreed(&run);
            assert_eq!(agreed[user], Some(m.users[user].valuation));
            assert_eq!(agreed[0], Some(40.0));
            let mut declared = m.clone().into_market();
            declared.users[0].valuation = 40.0;
            let declared = declared.validate().unwrap();
            assert_settled_with(&run, &centralised(&m, &declared, mechanism), "4 of 5 agree");
            // 3 × 7, 2 × declared → no value has 4 echoes → excluded.
            let d = deviations(&format!(
                r#"[{{"kind": "equivocate", "bidder": "{uid}", "bids": {{"{}": 7, "{}": 7, "{}": 7}}}}]"#,
                ids[0], ids[2], ids[4]
            ));
            let run = settle_replicated(&m, &m, &config, &d).unwrap();
            let agreed = honest_agreed(&run);
            assert_eq!(agreed[user], None);
            assert_eq!(run.replication.excluded, vec![uid.clone()]);
            let excluded = vcg::without(&m, Role::User, user);
            assert_eq!(agreed_market(&m, &agreed), excluded);
            let excluded = excluded.validate().unwrap();
            assert_settled_with(&run, &centralised(&m, &excluded, mechanism), "excluded");
        }
    }
}

/// The agreed vector, asserted identical at every honest replica.
fn honest_agreed(run: &ReplicatedRun) -> BidVector {
    let honest: Vec<&BidVector> = run
        .replicas
        .iter()
        .filter(|r| r.honest)
        .map(|r| r.agreed.as_ref().expect("agreed"))
        .collect();
    assert!(honest.windows(2).all(|w| w[0] == w[1]), "{honest:?}");
    honest[0].clone()
}

/// The threshold (design §10): m = 4, k = 1 gives two payment groups of exactly
/// k + 1 = 2 replicas. Both members of one group forging every payment they compute
/// by +5 get the forgery accepted: the run settles, and exactly the group's
/// participants are off by 5 (utility +5: t_i → t_i + 5), everyone else as honest.
/// One forger alone (≤ k) is caught by its honest group mate. This is why payment
/// groups have at least k + 1 replicas.
#[test]
fn k_plus_one_colluders_filling_a_group_get_a_forged_payment_accepted() {
    let m = examples::figure3();
    let config = ReplicationConfig::new(&Vcg, 4, 1);
    let honest = centralised(&m, &m, &Vcg);
    let groups = honest_run(&m, &config).replication.groups;
    assert_eq!(groups.len(), 2);
    let group = &groups[0];
    assert_eq!(group.replicas.len(), 2);
    assert!(!group.participants.is_empty());
    let forgers: Vec<String> = group
        .replicas
        .iter()
        .map(|r| format!(r#"{{"kind": "task-result", "replica": "{r}", "amount": 5}}"#))
        .collect();
    let run = settle_replicated(
        &m,
        &m,
        &config,
        &deviations(&format!("[{}]", forgers.join(","))),
    )
    .unwrap();
    let forged = run.outcome.statement().expect("the forgery is accepted");
    assert_eq!(run.replication.groups, groups, "same coin, same groups");
    for (h, f) in honest.participants.iter().zip(&forged.participants) {
        if group.participants.contains(&h.id) {
            assert!(
                (f.utility - h.utility - 5.0).abs() < 1e-9,
                "{}: {} vs {}",
                h.id,
                f.utility,
                h.utility
            );
        } else {
            assert_eq!(h, f);
        }
    }
    let n = group.participants.len() as f64;
    assert!((honest.surplus - forged.surplus - 5.0 * n).abs() < 1e-9);
    // Exactly: the centralised VCG steps with t_i + 5 for the group's participants
    // give the accepted statement bit for bit.
    let s = Setting::new(&m, &m);
    let allocation = Allocation::lp(&s.g_declared, SettleOptions::default().backend).unwrap();
    let payments = VcgPayments::new(&s, &allocation, &SettleOptions::default()).unwrap();
    let transfers: Vec<_> = (0..s.who.len())
        .map(|i| {
            let mut t = payments.transfer(&s, i).unwrap();
            if group.participants.contains(&s.who.id(&m, i)) {
                t.transfer += 5.0;
            }
            t
        })
        .collect();
    assert_eq!(payments.statement(&s, &allocation, &transfers), *forged);
    // One forger (k = 1) is exposed by the other member of its group.
    let run =
        settle_replicated(&m, &m, &config, &deviations(&format!("[{}]", forgers[0]))).unwrap();
    let abort = run.outcome.abort().expect("aborted");
    assert_eq!(abort.phase, Phase::Tasks);
    assert!(
        matches!(
            *abort.evidence,
            Evidence::ConflictingResults { group: 0, .. }
        ),
        "{abort:?}"
    );
    assert!(abort.replicas.contains(&group.replicas[0]), "{abort:?}");
}

/// Pearson's χ² over 16 bins of the coin's top 4 bits, `runs` tosses among three
/// replicas over channels; `honest` says whether replica 0 draws its share (the
/// others always reveal fixed shares, chosen before any commitment is seen).
fn coin_chi_square(runs: u64, honest: bool) -> f64 {
    let ids: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let mut bins = [0u64; 16];
    for run in 0..runs {
        let ends = Channels::connect(3);
        let us: Vec<u64> = std::thread::scope(|scope| {
            let handles: Vec<_> = ends
                .into_iter()
                .enumerate()
                .map(|(j, end)| {
                    let ids = ids.clone();
                    scope.spawn(move || {
                        let mut link = Link::new(
                            Box::new(end) as Box<dyn Transport>,
                            ids.clone(),
                            Duration::from_secs(10),
                        );
                        let share = if j == 0 && honest {
                            CoinShare::draw(run, &ids[0])
                        } else {
                            CoinShare {
                                share: 0x5555_5555_5555_5555 * j as u64,
                                nonce: [j as u8; 32],
                            }
                        };
                        coin::toss(&mut link, share, share).expect("honest reveals")
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            us.windows(2).all(|w| w[0] == w[1]),
            "every replica computes the same u"
        );
        bins[(us[0] >> 60) as usize] += 1;
    }
    let expected = runs as f64 / 16.0;
    bins.iter()
        .map(|&o| (o as f64 - expected).powi(2) / expected)
        .sum()
}

/// χ² with 15 degrees of freedom stays below 37.70 with probability 0.999. With the
/// one honest replica the coin passes; with none (all shares fixed) every toss lands
/// in one bin and χ² = 15·runs — the test can fail.
#[test]
fn the_coin_is_uniform_while_one_replica_is_honest() {
    let runs = 1600;
    let chi = coin_chi_square(runs, true);
    assert!(chi < 37.70, "chi-square {chi}");
    let chi = coin_chi_square(64, false);
    assert!((chi - 15.0 * 64.0).abs() < 1e-9, "{chi}");
}

#[test]
fn a_mismatched_reveal_aborts_naming_the_replica() {
    let m = examples::figure3();
    for transport in [TransportKind::Channels, TransportKind::Tcp] {
        let run = settle_replicated(
            &m,
            &m,
            &cfg(&Mcafee, 3, 1, transport),
            &deviations(r#"[{"kind": "coin-reveal", "replica": "p2"}]"#),
        )
        .unwrap();
        let abort = run.outcome.abort().expect("aborted");
        assert_eq!(abort.phase, Phase::Coin);
        assert_eq!(abort.replicas, vec!["p2".to_string()]);
        let Evidence::CommitmentMismatch { mismatches } = &*abort.evidence else {
            panic!("{abort:?}");
        };
        assert_eq!(mismatches.len(), 1);
        assert_ne!(mismatches[0].committed, mismatches[0].revealed);
        // Its commitment is SHA-256 of its drawn share, recomputed independently.
        let share = CoinShare::draw(0, "p2");
        let hex: String = share
            .commitment()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(mismatches[0].committed, hex);
    }
}

/// Over TCP, a replica killed in the middle of the run (its sockets closed as the
/// process dies) is named as disconnected well within the timeout; one that stays
/// connected but silent is named once the timeout passes. Nothing hangs.
#[test]
fn tcp_replica_killed_mid_run_aborts_within_the_timeout_naming_it() {
    let m = market(3);
    let timeout = Duration::from_secs(5);
    for mechanism in MECHANISMS {
        let config = ReplicationConfig {
            timeout,
            ..cfg(mechanism, 5, 2, TransportKind::Tcp)
        };
        let started = Instant::now();
        let run = settle_replicated(
            &m,
            &m,
            &config,
            &deviations(r#"[{"kind": "crash", "replica": "p4", "phase": "tasks"}]"#),
        )
        .unwrap();
        assert!(started.elapsed() < timeout, "{:?}", started.elapsed());
        let abort = run.outcome.abort().expect("aborted");
        assert_eq!(abort.replicas, vec!["p4".to_string()]);
        let expected_phase = if mechanism.name() == "vcg" {
            Phase::Tasks
        } else {
            Phase::Output
        };
        assert_eq!(abort.phase, expected_phase);
        assert!(
            matches!(&*abort.evidence, Evidence::Missing { disconnected, silent, .. } if disconnected == &vec!["p4".to_string()] && silent.is_empty()),
            "{abort:?}"
        );
    }
    let short = Duration::from_millis(800);
    let config = ReplicationConfig {
        timeout: short,
        ..cfg(&Vcg, 3, 1, TransportKind::Tcp)
    };
    let started = Instant::now();
    let run = settle_replicated(
        &m,
        &m,
        &config,
        &deviations(r#"[{"kind": "silent", "replica": "p2", "phase": "output"}]"#),
    )
    .unwrap();
    let took = started.elapsed();
    assert!(took >= short && took < short * 10, "{took:?}");
    let abort = run.outcome.abort().expect("aborted");
    assert_eq!(abort.phase, Phase::Output);
    assert!(
        matches!(&*abort.evidence, Evidence::Missing { silent, .. } if silent == &vec!["p2".to_string()]),
        "{abort:?}"
    );
}

/// Every deviation kind, by a coalition of 1 and of k = 2 replicas among m = 5, is
/// caught where design §10 says: a changed bid vector at input validation, a forged
/// result in the data transfer (vcg; mcafee's single task at the output), a bad
/// reveal at the coin, silence and crashes at the phase they start in; the abort
/// names exactly the coalition. A bidder's equivocation settles.
#[test]
fn each_deviation_kind_is_caught_where_the_protocol_says() {
    let m = examples::figure3();
    let ids: Vec<String> = m.providers.iter().map(|p| p.id.clone()).collect();
    let uid = &m.users[2].id;
    for mechanism in MECHANISMS {
        let config = ReplicationConfig {
            timeout: Duration::from_secs(1),
            ..cfg(mechanism, 5, 2, TransportKind::Channels)
        };
        let task_phase = if mechanism.name() == "vcg" {
            Phase::Tasks
        } else {
            Phase::Output
        };
        let cases: Vec<(String, Option<Phase>)> = vec![
            (
                format!(r#""kind": "bid-vector", "bidder": "{uid}", "amount": 2"#),
                Some(Phase::InputValidation),
            ),
            (
                r#""kind": "task-result", "amount": 0.5"#.to_string(),
                Some(task_phase),
            ),
            (r#""kind": "coin-reveal""#.to_string(), Some(Phase::Coin)),
            (
                r#""kind": "silent", "phase": "bid-agreement""#.to_string(),
                Some(Phase::BidAgreement),
            ),
            (
                r#""kind": "silent", "phase": "tasks""#.to_string(),
                Some(task_phase),
            ),
            (
                r#""kind": "crash", "phase": "input-validation""#.to_string(),
                Some(Phase::InputValidation),
            ),
            (
                r#""kind": "crash", "phase": "output""#.to_string(),
                Some(Phase::Output),
            ),
        ];
        for (body, phase) in cases {
            for c in [1, 2] {
                // The coalition: the last c replicas.
                let coalition: Vec<String> = ids[5 - c..].to_vec();
                let file = format!(
                    "[{}]",
                    coalition
                        .iter()
                        .map(|r| format!(r#"{{{body}, "replica": "{r}"}}"#))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let run = settle_replicated(&m, &m, &config, &deviations(&file)).unwrap();
                let abort = run
                    .outcome
                    .abort()
                    .unwrap_or_else(|| panic!("{mechanism} {file}: settled"));
                assert_eq!(Some(abort.phase), phase, "{mechanism} {file}");
                assert_eq!(abort.replicas, coalition, "{mechanism} {file}: {abort:?}");
            }
        }
        let run = settle_replicated(
            &m,
            &m,
            &config,
            &deviations(&format!(r#"[{{"kind": "equivocate", "bidder": "{uid}"}}]"#)),
        )
        .unwrap();
        assert!(run.outcome.statement().is_some(), "{:?}", run.outcome);
    }
}

/// A peer that sends bytes that are no protocol message is named as malformed at
/// the step that waited for it, at once (no timeout wait).
#[test]
fn a_malformed_message_aborts_naming_its_sender() {
    use brokerflow_solvers::settle::replicated::wire::Message;
    let ids = vec!["a".to_string(), "b".to_string()];
    let mut ends = Channels::connect(2);
    let mut rogue = ends.pop().unwrap();
    let honest = ends.pop().unwrap();
    rogue.broadcast(&[42, 1, 2, 3]);
    let mut link = Link::new(Box::new(honest), ids, Duration::from_secs(30));
    let started = Instant::now();
    let abort = link.exchange(Message::Echo(vec![Some(1.0)])).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(abort.phase, Phase::BidAgreement);
    assert_eq!(abort.replicas, vec!["b".to_string()]);
    assert!(
        matches!(&*abort.evidence, Evidence::Missing { malformed, .. } if malformed == &vec!["b".to_string()]),
        "{abort:?}"
    );
    drop(rogue);
}

/// A random deviation for proptest: kind, coalition size, amount, phase.
#[derive(Debug, Clone)]
struct Lie {
    kind: usize,
    coalition: usize,
    amount: f64,
    phase: Phase,
    target: usize,
}

fn lie() -> impl Strategy<Value = Lie> {
    (0usize..6, 1usize..=3, 1u32..50, 0usize..5, 0usize..100).prop_map(
        |(kind, coalition, amount, phase, target)| Lie {
            kind,
            coalition,
            amount: f64::from(amount) / 4.0,
            phase: Phase::ALL[phase],
            target,
        },
    )
}

/// The deviations file for `lie` with a coalition of `c` replicas among `ids`.
fn lie_file(lie: &Lie, c: usize, ids: &[String], market: &Market) -> String {
    let start = lie.target % ids.len();
    let coalition: Vec<&String> = (0..c).map(|x| &ids[(start + x) % ids.len()]).collect();
    let user = &market.users[lie.target % market.users.len()].id;
    let entries: Vec<String> = match lie.kind {
        0 => coalition
            .iter()
            .map(|r| format!(r#"{{"kind": "bid-vector", "replica": "{r}", "bidder": "{user}", "amount": {}}}"#, lie.amount))
            .collect(),
        1 => coalition
            .iter()
            .map(|r| format!(r#"{{"kind": "task-result", "replica": "{r}", "amount": {}}}"#, lie.amount))
            .collect(),
        2 => coalition
            .iter()
            .map(|r| format!(r#"{{"kind": "coin-reveal", "replica": "{r}"}}"#))
            .collect(),
        3 => coalition
            .iter()
            .map(|r| format!(r#"{{"kind": "silent", "replica": "{r}", "phase": "{}"}}"#, lie.phase))
            .collect(),
        4 => coalition
            .iter()
            .map(|r| format!(r#"{{"kind": "crash", "replica": "{r}", "phase": "{}"}}"#, lie.phase))
            .collect(),
        // A bidder's equivocation: the coalition's replicas receive a different bid.
        _ => {
            let bids: Vec<String> = coalition
                .iter()
                .map(|r| format!(r#""{r}": {}"#, lie.amount))
                .collect();
            vec![format!(r#"{{"kind": "equivocate", "bidder": "{user}", "bids": {{{}}}}}"#, bids.join(", "))]
        }
    };
    format!("[{}]", entries.join(", "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Random markets, random (m, k) with k ≥ 1, one random deviation kind with a
    /// coalition of 1..=k (for `equivocate`: the bidder sends another bid to 1..=k
    /// replicas): the outcome is the honest statement or an abort, and every honest
    /// replica outputs the same.
    #[test]
    fn at_most_k_deviators_give_the_honest_statement_or_an_abort(
        seed in 0u64..1000,
        which in 0usize..5,
        mechanism in 0usize..2,
        lie in lie(),
    ) {
        let configs: Vec<(usize, usize)> = admissible().into_iter().filter(|&(_, k)| k >= 1).collect();
        let (r, k) = configs[which % configs.len()];
        let c = 1 + (lie.coalition - 1) % k;
        let m = market(seed);
        let mechanism = MECHANISMS[mechanism];
        let ids: Vec<String> = m.providers[..r].iter().map(|p| p.id.clone()).collect();
        let file = lie_file(&lie, c, &ids, &m);
        let config = ReplicationConfig {
            timeout: Duration::from_secs(1),
            ..cfg(mechanism, r, k, TransportKind::Channels)
        };
        let run = settle_replicated(&m, &m, &config, &deviations(&file)).unwrap();
        for rep in run.replicas.iter().filter(|x| x.honest) {
            prop_assert_eq!(rep.outcome.as_ref(), Some(&run.outcome), "{}", file);
        }
        match &run.outcome {
            Outcome::Settled(s) => {
                // Validity: every bidder reached at least m − k replicas with its
                // declared bid (an equivocating one differs at ≤ k), so the agreed
                // bids are the declared ones and the statement the honest one.
                let agreed = honest_agreed(&run);
                prop_assert_eq!(&agreed_market(&m, &agreed), m.market(), "{}", file);
                prop_assert_eq!(&**s, &centralised(&m, &m, mechanism), "{}", file);
            }
            Outcome::Aborted(a) => {
                prop_assert!(*a.evidence != Evidence::HonestReplicasDisagree, "{}", file);
            }
        }
    }
}
