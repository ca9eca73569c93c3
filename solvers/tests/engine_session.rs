//! A session ([`brokerflow_solvers::engine::session::run`]) is the engine's run with
//! what comes around it; each part is checked against the same part done by hand with
//! the engine's own pieces (the independent sequence every command used to repeat).

use brokerflow_graphs::{examples, ExpandedGraph};
use brokerflow_solvers::engine::faults::{reference_run, FaultPlan, FaultReport, WelfareLog};
use brokerflow_solvers::engine::replan::{self, ResumeMode};
use brokerflow_solvers::engine::session::{self, SessionError, SessionOptions};
use brokerflow_solvers::engine::{
    self, EngineOptions, Injection, InjectionMode, ObserverMode, Observers, Trace, Variant,
};
use brokerflow_solvers::lp::{self, Backend, LpOptions};

mod common;

fn tiny() -> (brokerflow_graphs::ValidMarket, ExpandedGraph) {
    let m = examples::tiny();
    let g = ExpandedGraph::new(&m);
    (m, g)
}

#[test]
fn a_session_with_a_trace_is_the_plain_run_and_its_trace() {
    let (m, g) = tiny();
    for variant in Variant::ALL {
        let o = EngineOptions::new(variant, Injection::Demand);
        let mut trace = Trace::default();
        let mut observers = Observers::new();
        observers.push(&mut trace, ObserverMode::Always);
        let plain = engine::run_observed(&m, &g, &o, &mut observers).unwrap();
        drop(observers);
        let s = SessionOptions {
            trace: true,
            ..SessionOptions::default()
        };
        let done = session::run(&m, &g, &o, &s, &mut Observers::new()).unwrap();
        assert_eq!(done.run.rounds, plain.rounds, "{variant:?}");
        assert_eq!(done.run.flow, plain.flow, "{variant:?}");
        assert_eq!(done.run.prices, plain.prices, "{variant:?}");
        assert_eq!(done.trace, trace.rows, "{variant:?}");
        assert!(done.saved.is_none() && done.resumed.is_none() && done.faults.is_none());
        assert!(done.prices.is_none());
    }
}

#[test]
fn a_faulty_session_reports_what_the_run_and_its_reference_report() {
    let (m, g) = tiny();
    let o = EngineOptions::new(Variant::WelfareSeeking, Injection::Demand);
    for (kind, schedule) in common::fault_schedules(&m) {
        let plan = FaultPlan::new(&schedule, &m, &g, &kind).unwrap();
        let mut log = WelfareLog::from_round(plan.end());
        let mut observers = Observers::new();
        observers.push(&mut log, ObserverMode::Always);
        let r = engine::run_with_faults(&m, &g, &o, Some(&plan), &mut observers).unwrap();
        drop(observers);
        let mut reference = WelfareLog::from_round(plan.end());
        reference_run(&m, &g, &o, plan.end(), &mut reference).unwrap();
        let by_hand = FaultReport::new(&plan, r.faults.as_ref().unwrap(), &log, &reference);
        let s = SessionOptions {
            faults: Some(plan),
            ..SessionOptions::default()
        };
        let done = session::run(&m, &g, &o, &s, &mut Observers::new()).unwrap();
        assert_eq!(done.faults.as_ref(), Some(&by_hand), "{kind}");
        assert_eq!(done.run.flow, r.flow, "{kind}");
    }
}

#[test]
fn a_saved_session_resumes_on_the_same_market_as_a_continuation() {
    let (m, g) = tiny();
    let mut o = EngineOptions::new(Variant::Fair, Injection::Demand);
    o.max_rounds = 60;
    let s = SessionOptions {
        save_state: true,
        ..SessionOptions::default()
    };
    let first = session::run(&m, &g, &o, &s, &mut Observers::new()).unwrap();
    let text = replan::write_state(first.saved.as_ref().unwrap());
    o.max_rounds = 20_000;
    let s = SessionOptions {
        resume: Some(replan::read_state(&text).unwrap()),
        ..SessionOptions::default()
    };
    let resumed = session::run(&m, &g, &o, &s, &mut Observers::new()).unwrap();
    let r = resumed.resumed.unwrap();
    assert_eq!((r.mode, r.rounds_before), (ResumeMode::Continued, 60));
    // Continued exactly: the same rounds as one run from a cold start.
    let whole = engine::run(&m, &g, &o).unwrap();
    assert_eq!(resumed.run.rounds, whole.rounds);
    assert_eq!(resumed.run.flow, whole.flow);
}

#[test]
fn a_state_that_does_not_fit_the_options_is_a_resume_error() {
    let (m, g) = tiny();
    let o = EngineOptions::new(Variant::Fair, Injection::Demand);
    let s = SessionOptions {
        save_state: true,
        ..SessionOptions::default()
    };
    let saved = session::run(&m, &g, &o, &s, &mut Observers::new())
        .unwrap()
        .saved;
    let other = EngineOptions::new(Variant::WelfareSeeking, Injection::Demand);
    let s = SessionOptions {
        resume: saved,
        ..SessionOptions::default()
    };
    let e = session::run(&m, &g, &other, &s, &mut Observers::new()).unwrap_err();
    assert!(matches!(e, SessionError::Resume(_)), "{e:?}");
}

#[test]
fn prices_are_compared_with_p3s_own_duals() {
    let (m, g) = tiny();
    let o = EngineOptions::new(Variant::WelfareSeeking, Injection::Demand);
    let s = SessionOptions {
        prices: Some(Backend::DEFAULT),
        ..SessionOptions::default()
    };
    let done = session::run(&m, &g, &o, &s, &mut Observers::new()).unwrap();
    let p3 = lp::max_welfare(
        &g,
        &LpOptions {
            backend: Backend::DEFAULT,
            prices: true,
        },
    )
    .unwrap();
    let p = done.prices.unwrap();
    assert_eq!(Some(&p.duals), p3.prices.as_ref());
    // The largest gap over the largest dual price, by hand.
    let largest = p.duals.iter().cloned().fold(0.0, f64::max);
    let worst = done
        .run
        .prices
        .iter()
        .zip(&p.duals)
        .filter_map(|(e, y)| Some((e.as_ref()? - y).abs()))
        .fold(0.0, f64::max);
    assert_eq!(p.error.value, Some(worst / largest));
}

#[test]
fn what_cannot_go_together_is_refused_before_any_work() {
    // Every runtime saves and resumes now (timely's: engine_timely.rs).
    let (m, g) = tiny();
    let (_, schedule) = common::fault_schedules(&m).remove(0);
    let plan = FaultPlan::new(&schedule, &m, &g, "f").unwrap();
    let faulty_save = SessionOptions {
        faults: Some(plan),
        save_state: true,
        ..SessionOptions::default()
    };
    let e = faulty_save.check(Variant::WelfareSeeking, None);
    assert!(matches!(e, Err(SessionError::FaultsWithState)), "{e:?}");
    let plain = SessionOptions::default();
    let e = plain.check(Variant::Fair, Some(3.0));
    assert!(
        matches!(e, Err(SessionError::WelfareScaleWithout(Variant::Fair))),
        "{e:?}"
    );
    let prices = SessionOptions {
        prices: Some(Backend::DEFAULT),
        ..SessionOptions::default()
    };
    let e = prices.check(Variant::UtilityAware, None);
    assert!(matches!(e, Err(SessionError::PricesWithout)), "{e:?}");
    assert!(prices.check(Variant::WelfareSeeking, Some(3.0)).is_ok());
}

#[test]
fn feasible_injection_carries_p1s_delta() {
    let (_, g) = tiny();
    let p1 = lp::max_concurrent_flow(&g, &LpOptions::default()).unwrap();
    let a = session::injection(InjectionMode::Feasible, &g, Backend::DEFAULT).unwrap();
    assert_eq!(a, Injection::Feasible { delta: p1.delta });
    assert_eq!(a.mode(), InjectionMode::Feasible);
    let a = session::injection(InjectionMode::Demand, &g, Backend::DEFAULT).unwrap();
    assert_eq!(a, Injection::Demand);
}
