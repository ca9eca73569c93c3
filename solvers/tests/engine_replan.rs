//! Re-planning (design §5): a run stopped, saved as text, read back and resumed on the
//! same market computes exactly what the run that never stopped computes, whichever
//! runtime saves and whichever resumes; a re-planned run keeps every job (carried or
//! dropped, counted); resuming refuses other participants, other options and
//! malformed files. And the engine's own defences against hostile markets: numbers
//! whose products overflow are refused by name, a capacity is never broken (and a
//! run that broke one would be an error), the exponential potential survives tall
//! queues.

mod common;

use brokerflow_graphs::{examples, ExpandedGraph, ValidMarket};
use brokerflow_solvers::engine::replan::{self, ResumeMode, StateError};
use brokerflow_solvers::engine::{
    self, Engine, EngineError, EngineOptions, Injection, Observers, Potential, Runtime, Variant,
};
use common::{bundled_market, every_setting, fingerprint};

fn graph(m: &ValidMarket) -> ExpandedGraph {
    ExpandedGraph::new(m)
}

/// Runs `rounds` rounds on `saver`, saves, writes the state as text, reads it back and
/// resumes on `resumer` to the end.
fn stopped_and_resumed(
    m: &ValidMarket,
    g: &ExpandedGraph,
    o: &EngineOptions,
    rounds: usize,
    saver: Runtime,
    resumer: Runtime,
) -> engine::EngineRun {
    let mut first = EngineOptions {
        runtime: saver,
        ..*o
    };
    first.max_rounds = o.max_rounds;
    let mut e = Engine::new(m, g, &first).unwrap();
    e.advance(rounds, &mut Observers::new());
    let text = replan::write_state(&e.save(m).unwrap());
    drop(e);
    let saved = replan::read_state(&text).unwrap();
    let second = EngineOptions {
        runtime: resumer,
        ..*o
    };
    let (e, resumed) = replan::resume(m, g, &second, &saved).unwrap();
    assert_eq!(resumed.mode, ResumeMode::Continued);
    assert_eq!(resumed.rounds_before, rounds.min(saved.rounds));
    e.run(&mut Observers::new())
}

/// Every bundled market × variant × injection × potential, stopped after 137 rounds
/// (mid-run: the window is full, nothing has converged) and resumed: the same bits
/// as the run that never stopped, saved and resumed on flat, on nodes, and across.
fn continues_bit_identically(name: &str) {
    let m = bundled_market(name);
    let g = graph(&m);
    for (what, o) in every_setting(name, &g, 1500, 50) {
        let whole = engine::run(&m, &g, &o).unwrap();
        let expected = fingerprint(&g, &whole, &[]);
        for (saver, resumer) in [
            (Runtime::Flat, Runtime::Flat),
            (Runtime::Nodes, Runtime::Nodes),
            (Runtime::Flat, Runtime::Nodes),
            (Runtime::Nodes, Runtime::Flat),
        ] {
            let resumed = stopped_and_resumed(&m, &g, &o, 137, saver, resumer);
            assert_eq!(
                fingerprint(&g, &resumed, &[]),
                expected,
                "{what}: saved on {saver:?}, resumed on {resumer:?}"
            );
        }
    }
}

#[test]
fn continuing_on_the_same_market_is_bit_identical_tiny() {
    continues_bit_identically("tiny");
}

#[test]
fn continuing_on_the_same_market_is_bit_identical_figure3() {
    continues_bit_identically("figure3");
}

#[test]
fn continuing_on_the_same_market_is_bit_identical_linked() {
    continues_bit_identically("linked");
}

#[test]
fn continuing_on_the_same_market_is_bit_identical_posted() {
    continues_bit_identically("posted");
}

/// A state saved after the run ended resumes as ended: nothing more runs, the same
/// result.
#[test]
fn a_finished_run_resumes_finished() {
    let m = examples::tiny();
    let g = graph(&m);
    let o = EngineOptions::new(Variant::WelfareSeeking, Injection::Demand);
    let mut e = Engine::new(&m, &g, &o).unwrap();
    e.advance(usize::MAX, &mut Observers::new());
    let rounds = e.rounds();
    let saved = replan::read_state(&replan::write_state(&e.save(&m).unwrap())).unwrap();
    let whole = e.finish();
    let (e, _) = replan::resume(&m, &g, &o, &saved).unwrap();
    let again = e.run(&mut Observers::new());
    assert_eq!(again.rounds, rounds);
    assert_eq!(fingerprint(&g, &again, &[]), fingerprint(&g, &whole, &[]));
}

/// Σ held per commodity in a saved state, in the market's user order.
fn held(g: &ExpandedGraph, saved: &replan::SavedState) -> Vec<f64> {
    g.commodities
        .iter()
        .map(|c| {
            saved
                .queues
                .iter()
                .filter(|q| q.commodity == c.id)
                .map(|q| q.held.0)
                .sum()
        })
        .collect()
}

fn saved_after(m: &ValidMarket, o: &EngineOptions, rounds: usize) -> replan::SavedState {
    let g = graph(m);
    let mut e = Engine::new(m, &g, o).unwrap();
    e.advance(rounds, &mut Observers::new());
    replan::read_state(&replan::write_state(&e.save(m).unwrap())).unwrap()
}

/// Demands changed (u1 × 1.5, u2 × 0.5, u3 to 0) and a bandwidth made unlimited: every
/// job the saved state held is carried over or dropped, to round-off (conservation);
/// u3's jobs (no demand any more) and the jobs on the vanished bandwidth node are
/// dropped; the resumed run keeps its ledger and capacities.
#[test]
fn replanning_carries_or_drops_every_job() {
    let m = examples::tiny();
    let g = graph(&m);
    for variant in Variant::ALL {
        let o = EngineOptions::new(variant, Injection::Demand);
        let saved = saved_after(&m, &o, 300);
        let before = held(&g, &saved);
        let mut changed = m.clone().into_market();
        changed.users[0].demand *= 1.5;
        changed.users[1].demand *= 0.5;
        changed.users[2].demand = 0.0;
        unlimit_b1_b2(&mut changed);
        let changed = changed.validate().unwrap();
        let g2 = graph(&changed);
        let (e, resumed) = replan::resume(&changed, &g2, &o, &saved).unwrap();
        assert_eq!(resumed.mode, ResumeMode::Replanned);
        for (k, &held) in before.iter().enumerate() {
            let total = resumed.carried[k] + resumed.dropped[k];
            assert!(
                (total - held).abs() <= 1e-12 * held.max(1.0),
                "{}: commodity {k} held {held} before, carried {} + dropped {}",
                variant.name(),
                resumed.carried[k],
                resumed.dropped[k]
            );
        }
        assert_eq!(resumed.carried[2], 0.0, "u3 has no demand now");
        let on_b1b2: f64 = saved
            .queues
            .iter()
            .filter(|q| q.node == "b1->b2")
            .map(|q| q.held.0)
            .sum();
        let dropped: f64 = resumed.dropped.iter().sum();
        assert!(dropped >= before[2] + on_b1b2 - 1e-9, "{resumed:?}");
        let r = e.run(&mut Observers::new());
        assert!(r.max_ledger_residual <= 1e-9, "{}", r.max_ledger_residual);
        assert!(r.max_capacity_violation <= 1e-9);
    }
}

/// Resuming with other participants names what appeared and what vanished.
#[test]
fn other_participants_are_refused_by_name() {
    let m = examples::tiny();
    let o = EngineOptions::new(Variant::WelfareSeeking, Injection::Demand);
    let saved = saved_after(&m, &o, 40);
    let mut other = m.clone().into_market();
    let mut u4 = other.users[2].clone();
    u4.id = "u4".into();
    other.users.push(u4);
    other.links.retain(|l| !(l.from == "b1" && l.to == "p1"));
    let mut link = other.links[2].clone();
    link.from = "u4".into();
    other.links.push(link);
    let other = other.validate().unwrap();
    let g = graph(&other);
    let Err(e) = replan::resume(&other, &g, &o, &saved) else {
        panic!("other participants resumed");
    };
    let text = e.to_string();
    for part in [
        "user u4 appeared",
        "link b1 -> p1 vanished",
        "link u4 -> b2 appeared",
    ] {
        assert!(text.contains(part), "{text}");
    }
}

/// A state saved with other options is refused, naming them; the round limit and the
/// runtime may differ.
#[test]
fn other_options_are_refused_by_name() {
    let m = examples::tiny();
    let g = graph(&m);
    // An explicit ceiling of 20 (fair's default is lower), so the message names both.
    let o = EngineOptions {
        ceiling: Some(20.0),
        ..EngineOptions::new(Variant::Fair, Injection::Demand)
    };
    let saved = saved_after(&m, &o, 40);
    let mut other = o;
    other.ceiling = Some(4.0);
    other.momentum = Some(0.5);
    let Err(EngineError::State(StateError::Options(why))) = replan::resume(&m, &g, &other, &saved)
    else {
        panic!("other options resumed");
    };
    assert!(
        why.contains("ceiling 20 (now 4)") && why.contains("momentum 0.98 (now 0.5)"),
        "{why}"
    );
    let Err(EngineError::State(StateError::Options(why))) = replan::resume(
        &m,
        &g,
        &EngineOptions::new(Variant::UtilityAware, Injection::Demand),
        &saved,
    ) else {
        panic!("another variant resumed");
    };
    assert!(why.contains("variant fair (now utility-aware)"), "{why}");
    let mut free = o;
    free.max_rounds = 7;
    free.runtime = Runtime::Nodes;
    assert!(replan::resume(&m, &g, &free, &saved).is_ok());
}

/// Malformed, truncated and positional files are refused with the place named.
#[test]
fn malformed_states_are_refused_where_they_break() {
    let m = examples::tiny();
    let o = EngineOptions::new(Variant::WelfareSeeking, Injection::Demand);
    let good = replan::write_state(&saved_after(&m, &o, 60));
    let value: serde_json::Value = serde_json::from_str(&good).unwrap();
    let edited = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = value.clone();
        f(&mut v);
        serde_json::to_string(&v).unwrap()
    };
    let cases: Vec<(String, &str)> = vec![
        (good[..good.len() / 2].to_string(), "truncated"),
        (String::new(), "(top level): the file is empty"),
        ("[1, 2]".into(), "(top level): must be a JSON object"),
        (
            edited(&|v| v["queues"][0] = serde_json::json!(["b1", "u1", "1.0", {}])),
            "queues[0]: must be a JSON object",
        ),
        (
            edited(&|v| v["provenance"] = serde_json::json!(["x"])),
            "provenance: must be a JSON object",
        ),
        (
            edited(&|v| v["queues"][0]["held"] = "-1.0".into()),
            "queues[0].held: jobs held cannot be negative",
        ),
        (
            edited(&|v| v["queues"][0]["held"] = "NaN".into()),
            "queues[0].held",
        ),
        (
            edited(&|v| v["queues"][0]["held"] = 1.5.into()),
            "queues[0].held",
        ),
        (
            edited(&|v| v["format"] = "something else".into()),
            "format: must be",
        ),
        (
            edited(&|v| v["version"] = 2.into()),
            "version: this build reads version 1",
        ),
        (edited(&|v| v["extra"] = 1.into()), "unknown field `extra`"),
        (
            edited(&|v| {
                let q = v["queues"][0].clone();
                v["queues"].as_array_mut().unwrap().push(q);
            }),
            "listed twice",
        ),
        (
            edited(&|v| v["window"]["lambda"].as_array_mut().unwrap().clear()),
            "window: sent, lambda, discarded and absorbed must hold the same number of rounds",
        ),
    ];
    for (text, expected) in cases {
        let Err(e) = replan::read_state(&text) else {
            panic!("accepted a state that should fail with {expected}");
        };
        assert!(
            e.to_string().contains(expected),
            "{e} (expected {expected})"
        );
    }
}

/// The state is read by the shared JSON reader: a byte-order mark is skipped, and an
/// empty file, a truncated one, text after the state and a key named twice are refused
/// with the place named.
#[test]
fn a_state_is_read_like_every_other_json_file() {
    let m = examples::tiny();
    let o = EngineOptions::new(Variant::Fair, Injection::Demand);
    let saved = saved_after(&m, &o, 40);
    let value: serde_json::Value = serde_json::from_str(&replan::write_state(&saved)).unwrap();
    // Compact, keys in order: the first "held" is queues[0]'s.
    let good = serde_json::to_string(&value).unwrap();
    assert_eq!(
        replan::read_state(&format!("\u{feff}{good}")).unwrap(),
        saved
    );
    let refused = |text: &str| replan::read_state(text).unwrap_err().to_string();
    for blank in ["", " \n\t"] {
        let e = refused(blank);
        assert!(e.starts_with("(top level): the file is empty"), "{e}");
    }
    // Cut right after queues[0]'s key "held": the text ends inside that queue.
    let cut = &good[..good.find("\"held\"").unwrap() + "\"held\"".len()];
    let e = refused(cut);
    assert!(e.starts_with("queues[0]"), "{e}");
    assert!(
        e.contains("the text ends before the saved state is complete"),
        "{e}"
    );
    let e = refused(&format!("{good} {{}}"));
    assert!(
        e.starts_with("(top level): unexpected text after the saved state object"),
        "{e}"
    );
    // serde_json keeps the last of two equal keys: queues[0] would hold 0 jobs.
    let twice = good.replacen("\"held\":", "\"held\":\"0.0\",\"held\":", 1);
    let e = refused(&twice);
    assert!(e.starts_with("queues[0]: duplicate key"), "{e}");
    assert!(e.contains("held"), "{e}");
}

/// A demand of 1e308 (valid for the reader) is refused by the engine, naming the user
/// and the field, in every variant and mode; before, the fair variant's water-fill
/// panicked (`min > max, or either was NaN`) and the others reported a capacity
/// violation of 2e307 as a result.
#[test]
fn numbers_that_overflow_the_rounds_are_refused_by_name() {
    let mut huge = examples::tiny().into_market();
    huge.users[0].demand = 1e200;
    let huge = huge.validate().unwrap();
    let g = graph(&huge);
    for variant in Variant::ALL {
        for injection in [Injection::Demand, Injection::Feasible { delta: Some(0.5) }] {
            let o = EngineOptions::new(variant, injection);
            let Err(e) = engine::run(&huge, &g, &o) else {
                panic!("a demand of 1e200 ran");
            };
            assert_eq!(
                e.to_string(),
                "user u1: demand = 1e200 is out of the engine's range: the rounds multiply market numbers, so each must be 0 or between 1e-100 and 1e100 in magnitude"
            );
        }
    }
    let mut tiny_cost = examples::tiny().into_market();
    tiny_cost.links[3].cost = 1e-200;
    let tiny_cost = tiny_cost.validate().unwrap();
    let e = engine::run(
        &tiny_cost,
        &graph(&tiny_cost),
        &EngineOptions::new(Variant::Fair, Injection::Demand),
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("link b1 -> b2: cost = 1e-200"),
        "{e}"
    );
}

/// The exponential potential with a ceiling of 1 000 on tiny: every queue height at
/// the sources reaches hundreds, e^y overflowed, and the run sent 25.1 jobs over u1's
/// bandwidth-5 link (capacity violation 2.7e3, reported as a normal result). Now no
/// node exceeds its capacity, in any variant.
#[test]
fn exponential_potential_with_a_tall_ceiling_keeps_every_capacity() {
    let m = examples::tiny();
    let g = graph(&m);
    let u1b1 = g.node_named("u1->b1").unwrap();
    for variant in Variant::ALL {
        let mut o = EngineOptions::new(variant, Injection::Demand);
        o.potential = Potential::Exponential;
        o.ceiling = Some(1000.0);
        o.max_rounds = 3000;
        let r = engine::run(&m, &g, &o).unwrap();
        assert!(
            r.max_capacity_violation <= 1e-9,
            "{}: {}",
            variant.name(),
            r.max_capacity_violation
        );
        // What left the bandwidth node u1->b1 (capacity 5) per round, on average.
        let out: f64 = g
            .graph
            .edges(u1b1)
            .map(|e| {
                (0..3)
                    .map(|k| r.moved.get(&g, k, petgraph::visit::EdgeRef::id(&e)))
                    .sum::<f64>()
            })
            .sum();
        assert!(
            out <= 5.0 * (1.0 + 1e-9),
            "{}: {out} on a bandwidth of 5",
            variant.name()
        );
    }
}

/// A run that broke a capacity is an error, never a result.
#[test]
fn a_capacity_violation_fails_the_run() {
    let m = examples::tiny();
    let g = graph(&m);
    let mut r = engine::run(
        &m,
        &g,
        &EngineOptions::new(Variant::Fair, Injection::Demand),
    )
    .unwrap();
    r.max_capacity_violation = 2.7e3;
    let Err(EngineError::CapacityViolated { excess }) = r.clone().valid() else {
        panic!("a violation passed");
    };
    assert_eq!(excess, 2.7e3);
    r.max_capacity_violation = f64::NAN;
    assert!(r.valid().is_err());
}

/// Demands changed, G′ unchanged (the same usable pairs and priced nodes): the saved
/// window goes into the convergence test, and the run still stops only after a whole
/// window of rounds on the new market (so every round it reports is a new one). A
/// change of G′'s shape (a bandwidth made unlimited: its node vanishes) starts the
/// window afresh.
#[test]
fn a_replan_on_the_same_graph_carries_the_window_into_the_test() {
    let m = examples::tiny();
    for variant in Variant::ALL {
        let o = EngineOptions::new(variant, Injection::Demand);
        let saved = saved_after(&m, &o, 300);
        let mut changed = m.clone().into_market();
        changed.users[0].demand *= 1.5;
        changed.users[1].demand *= 0.5;
        let numbers = changed.clone().validate().unwrap();
        let g2 = graph(&numbers);
        let (e, resumed) = replan::resume(&numbers, &g2, &o, &saved).unwrap();
        assert_eq!(resumed.mode, ResumeMode::Replanned);
        assert_eq!(resumed.window_carried, o.window, "{}", variant.name());
        let r = e.run(&mut Observers::new());
        assert!(
            r.rounds >= o.window,
            "{}: {} rounds",
            variant.name(),
            r.rounds
        );
        assert!(r.max_ledger_residual <= 1e-9, "{}", r.max_ledger_residual);
        unlimit_b1_b2(&mut changed);
        let shape = changed.validate().unwrap();
        let g3 = graph(&shape);
        let (_, resumed) = replan::resume(&shape, &g3, &o, &saved).unwrap();
        assert_eq!(resumed.window_carried, 0, "{}", variant.name());
    }
}

/// Makes the b1→b2 link's bandwidth unlimited: its bandwidth node leaves G′, so G′
/// changes shape while the participants stay the same.
fn unlimit_b1_b2(m: &mut brokerflow_graphs::Market) {
    let b1b2 = m
        .links
        .iter_mut()
        .find(|l| l.from == "b1" && l.to == "b2")
        .unwrap();
    b1b2.bandwidth = None;
}

/// A saved window that does not fit a re-plan — its rows of jobs sent or of prices a
/// column short (an edited file), or pushes on pairs the new market cannot use (a bandwidth set to 0) — is
/// left out: on either runtime the run is the same, bit for bit, as one resumed from
/// the same state without its window.
#[test]
fn a_window_that_does_not_fit_a_replan_is_left_out() {
    let m = examples::tiny();
    for variant in Variant::ALL {
        for runtime in [Runtime::Flat, Runtime::Nodes] {
            let o = EngineOptions {
                runtime,
                ..EngineOptions::new(variant, Injection::Demand)
            };
            let saved = saved_after(&m, &o, 300);
            let mut no_window = saved.clone();
            no_window.window = replan::SavedWindow {
                sent: vec![],
                lambda: vec![],
                discarded: vec![],
                absorbed: vec![],
            };
            let mut short = saved.clone();
            for row in &mut short.window.sent {
                row.pop();
            }
            let mut prices_short = saved.clone();
            for row in &mut prices_short.window.lambda {
                row.pop();
            }
            let mut changed = m.clone().into_market();
            changed.users[0].demand *= 1.5;
            let numbers = changed.clone().validate().unwrap();
            let b1b2 = changed
                .links
                .iter_mut()
                .find(|l| l.from == "b1" && l.to == "b2")
                .unwrap();
            b1b2.bandwidth = Some(0.0);
            let cut = changed.validate().unwrap();
            for (what, market, state) in [
                ("rows a column short", &numbers, &short),
                ("prices a column short", &numbers, &prices_short),
                ("b1 -> b2 bandwidth 0", &cut, &saved),
            ] {
                let what = format!("{}, {runtime:?}, {what}", variant.name());
                let g2 = graph(market);
                let (e, resumed) = replan::resume(market, &g2, &o, state).unwrap();
                assert_eq!(resumed.mode, ResumeMode::Replanned, "{what}");
                assert_eq!(resumed.window_carried, 0, "{what}");
                let (without, _) = replan::resume(market, &g2, &o, &no_window).unwrap();
                assert_eq!(
                    fingerprint(&g2, &e.run(&mut Observers::new()), &[]),
                    fingerprint(&g2, &without.run(&mut Observers::new()), &[]),
                    "{what}"
                );
            }
        }
    }
}
