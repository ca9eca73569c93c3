//! `mca`'s reports ([MCA-Alloy]): a synchronous run, an exhaustive exploration of the
//! delivery orders, or a sample of random ones, each as text or as one JSON document
//! with provenance. The command line reads the scenario and prints what these return.

use std::fmt::Write;

use serde_json::{json, Value};

use super::explore::ExploreOptions;
use super::protocol::StepLog;
use super::run::{Ended, SYNC_ROUND_LIMIT};
use super::{
    explore, run_synchronous, sample, AgentState, Entry, Exploration, McaError, Message, Policy,
    Rules, Scenario, Trace,
};

/// A scenario as read, with where it came from for the reports' provenance.
#[derive(Debug)]
pub struct ScenarioInput {
    /// The file, as the reports name it.
    pub path: String,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// The scenario.
    pub scenario: Scenario,
}

impl ScenarioInput {
    /// Parses the scenario `text` read from `path`.
    pub fn read(text: &str, path: &str) -> Result<ScenarioInput, McaError> {
        Ok(ScenarioInput {
            path: path.to_string(),
            sha256: brokerflow_graphs::input_hash(text.as_bytes()),
            scenario: Scenario::from_json_str(text, path)?,
        })
    }

    /// The provenance every report carries: version, scenario file and hash.
    fn provenance(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("brokerflow".into(), json!(env!("CARGO_PKG_VERSION")));
        m.insert("scenario".into(), json!(self.path));
        m.insert("scenario_sha256".into(), json!(self.sha256));
        m
    }
}

/// `value` as pretty JSON and a newline, as the reports print it.
fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// `mca run`: synchronous rounds under `policy` and `rules` (the scenario's own
/// where `None`), as text or as one JSON object (consensus, rounds, messages,
/// assignment, value, optimum, bound, ended, provenance).
///
/// Errors: a policy or rule-set name that does not parse.
pub fn run_report(
    input: &ScenarioInput,
    policy: Option<&str>,
    rules: Option<&str>,
    as_json: bool,
) -> Result<String, McaError> {
    let s = &input.scenario;
    let policy = match policy {
        Some(p) => Policy::parse(p)?,
        None => s.policy,
    };
    let rules = match rules {
        Some(r) => Rules::parse(r)?,
        None => s.rules,
    };
    let r = run_synchronous(s, &policy, rules);
    let mut out = String::new();
    if as_json {
        let assignment: serde_json::Map<String, Value> = s
            .items
            .iter()
            .zip(&r.assignment)
            .map(|(item, w)| (item.clone(), json!(w.map(|i| s.agents[i].clone()))))
            .collect();
        let mut prov = input.provenance();
        prov.insert("policy".into(), json!(policy.name()));
        prov.insert("rules".into(), json!(rules.name()));
        prov.insert("bound".into(), json!(r.bound));
        prov.insert("diameter".into(), json!(s.diameter()));
        prov.insert("round_limit".into(), json!(SYNC_ROUND_LIMIT));
        let doc = json!({
            "consensus": r.consensus,
            "rounds": r.rounds,
            "messages": r.messages,
            "assignment": assignment,
            "value": r.value,
            "optimum": r.optimum,
            "bound": r.bound,
            "ended": r.ended.name(),
            "provenance": prov,
        });
        return Ok(pretty(&doc));
    }
    let _ = writeln!(
        out,
        "scenario '{}': {} agents, {} items, D = {}, policy {}, rules {}, sub-modular: {}",
        s.name,
        s.agents.len(),
        s.items.len(),
        s.diameter(),
        policy.name(),
        rules.name(),
        yes_no(s.is_submodular())
    );
    let outcome = if r.consensus {
        let within = if r.rounds <= r.bound {
            "within"
        } else {
            "beyond"
        };
        format!(
            "consensus after {} rounds, {within} the bound D·|J| = {}",
            r.rounds, r.bound
        )
    } else {
        match r.ended {
            Ended::Repeats { first, round } => format!(
                "no consensus: the state after round {round} repeats round {first}, so the run oscillates forever (bound D·|J| = {})",
                r.bound
            ),
            Ended::RoundLimit => format!(
                "no consensus within the round limit {SYNC_ROUND_LIMIT} (bound D·|J| = {})",
                r.bound
            ),
            _ => format!(
                "quiet without consensus after {} rounds (bound D·|J| = {})",
                r.rounds, r.bound
            ),
        }
    };
    let _ = writeln!(out, "  {outcome}; {} messages", r.messages);
    for (j, w) in r.assignment.iter().enumerate() {
        let bid = w.map(|i| r.agents[i].view[j].bid);
        let _ = match (w, bid) {
            (Some(i), Some(b)) => writeln!(out, "  {} -> {} (bid {})", s.items[j], s.agents[*i], b),
            _ => writeln!(out, "  {} -> nobody", s.items[j]),
        };
    }
    let _ = match r.optimum {
        Some(o) if o > 0.0 => writeln!(
            out,
            "  value {} of optimum {} ({:.1} %; (1 - 1/e) = 63.2 %)",
            r.value,
            o,
            100.0 * r.value / o
        ),
        Some(o) => writeln!(out, "  value {} of optimum {o}", r.value),
        None => writeln!(
            out,
            "  value {} (optimum not computed above 10 items)",
            r.value
        ),
    };
    Ok(out)
}

/// How `mca explore` runs: which policies and rule sets, the exploration's bounds,
/// and whether it samples random executions instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExploreConfig {
    /// `all`, a comma-separated list of policy names, or `None`: the scenario's own.
    pub policies: Option<String>,
    /// `cbba`, `bid-time`, `all`, or `None`: the scenario's own.
    pub rules: Option<String>,
    /// Bounds and message order.
    pub options: ExploreOptions,
    /// Run this many random executions instead of every delivery order.
    pub sample: Option<usize>,
    /// Seed of the sample's generator.
    pub seed: u64,
    /// One JSON document instead of the text table.
    pub json: bool,
}

/// `mca explore`: every delivery order (or `config.sample` random ones) per rule set
/// and policy, as a text table (with the counterexample of a single result) or JSON.
///
/// Errors: a policy or rule-set name that does not parse; an exploration beyond
/// its state limit (named with the scenario and the rule set).
pub fn explore_report(input: &ScenarioInput, config: &ExploreConfig) -> Result<String, McaError> {
    let s = &input.scenario;
    let policies: Vec<Policy> = match config.policies.as_deref() {
        None => vec![s.policy],
        Some("all") => Policy::all(s.items.len()),
        Some(list) => list
            .split(',')
            .map(Policy::parse)
            .collect::<Result<_, _>>()?,
    };
    let rule_sets: Vec<Rules> = match config.rules.as_deref() {
        None => vec![s.rules],
        Some("all") => Rules::ALL.to_vec(),
        Some(r) => vec![Rules::parse(r)?],
    };
    let options = config.options;
    if let Some(walks) = config.sample {
        return Ok(sample_report(
            input,
            &policies,
            &rule_sets,
            &options,
            walks,
            config.seed,
            config.json,
        ));
    }
    let mut results = Vec::new();
    let mut seconds = Vec::new();
    for &rules in &rule_sets {
        for p in &policies {
            let start = std::time::Instant::now();
            let e = explore(s, p, rules, &options).map_err(|source| McaError::Exploration {
                origin: input.path.clone(),
                rules,
                source: Box::new(source),
            })?;
            seconds.push(start.elapsed().as_secs_f64());
            results.push(e);
        }
    }
    let mut out = String::new();
    let mut prov = input.provenance();
    prov.insert(
        "policies".into(),
        json!(policies.iter().map(Policy::name).collect::<Vec<_>>()),
    );
    prov.insert(
        "rules".into(),
        json!(rule_sets.iter().map(|r| r.name()).collect::<Vec<_>>()),
    );
    prov.insert("max_deliveries".into(), json!(options.max_deliveries));
    prov.insert("max_states".into(), json!(options.max_states));
    prov.insert("channels".into(), json!(options.channels.name()));
    if config.json {
        let doc = if results.len() == 1 {
            let mut one = result_json(s, &results[0]);
            if let Value::Object(m) = &mut one {
                m.insert("provenance".into(), Value::Object(prov));
            }
            one
        } else {
            json!({
                "results": results.iter().map(|e| result_json(s, e)).collect::<Vec<_>>(),
                "provenance": prov,
            })
        };
        return Ok(pretty(&doc));
    }
    let _ = writeln!(out,
        "scenario '{}': {} agents, {} items, D = {}, sub-modular: {}; {} links; executions followed for at most {} deliveries",
        s.name,
        s.agents.len(),
        s.items.len(),
        s.diameter(),
        yes_no(s.is_submodular()),
        options.channels.name(),
        options.max_deliveries
    );
    let _ = writeln!(
        out,
        "  {:<9} {:<16} {:<27} {:>10} {:>11} {:>9}",
        "rules", "policy", "verdict", "states", "deliveries", "seconds"
    );
    for (e, secs) in results.iter().zip(&seconds) {
        let _ = writeln!(
            out,
            "  {:<9} {:<16} {:<27} {:>10} {:>11} {:>9.3}",
            e.rules.name(),
            e.policy.name(),
            e.verdict.name(),
            e.states,
            e.deliveries,
            secs
        );
    }
    let _ =
        writeln!(out,
        "  (deliveries: the longest execution if it converges, else the counterexample's length)"
    );
    if let [only] = results.as_slice() {
        if let Some(t) = &only.trace {
            out.push_str(&render_trace(s, t));
        }
    }
    Ok(out)
}

/// `mca explore --sample WALKS`: random executions per rule set and policy.
fn sample_report(
    l: &ScenarioInput,
    policies: &[Policy],
    rule_sets: &[Rules],
    options: &ExploreOptions,
    walks: usize,
    seed: u64,
    as_json: bool,
) -> String {
    let s = &l.scenario;
    let mut out = String::new();
    let samples: Vec<_> = rule_sets
        .iter()
        .flat_map(|&r| policies.iter().map(move |p| (r, *p)))
        .map(|(r, p)| sample(s, &p, r, options, walks, seed))
        .collect();
    if as_json {
        let mut prov = l.provenance();
        prov.insert("walks".into(), json!(walks));
        prov.insert("seed".into(), json!(seed));
        prov.insert("max_deliveries".into(), json!(options.max_deliveries));
        prov.insert("channels".into(), json!(options.channels.name()));
        let rows: Vec<Value> = samples
            .iter()
            .map(|x| {
                json!({
                    "policy": x.policy.name(),
                    "rules": x.rules.name(),
                    "walks": x.walks,
                    "consensus": x.consensus,
                    "no_consensus": x.no_consensus,
                    "cut_at_bound": x.cut_at_bound,
                    "longest": x.longest,
                })
            })
            .collect();
        return pretty(&json!({"samples": rows, "provenance": prov}));
    }
    let _ = writeln!(out,
        "scenario '{}': {} agents, {} items; {walks} random executions per row (seed {seed}), {} links, at most {} deliveries each; evidence, not a verdict",
        s.name,
        s.agents.len(),
        s.items.len(),
        options.channels.name(),
        options.max_deliveries
    );
    let _ = writeln!(
        out,
        "  {:<9} {:<16} {:>9} {:>12} {:>12} {:>8}",
        "rules", "policy", "consensus", "no-consensus", "cut-at-bound", "longest"
    );
    for x in &samples {
        let _ = writeln!(
            out,
            "  {:<9} {:<16} {:>9} {:>12} {:>12} {:>8}",
            x.rules.name(),
            x.policy.name(),
            x.consensus,
            x.no_consensus,
            x.cut_at_bound,
            x.longest
        );
    }
    out
}

/// A yes/no/unknown answer in words.
fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not checked (too many items)",
    }
}

/// One exploration as JSON: policy, rules, verdict, states, deliveries, and the
/// counterexample trace step by step (with each agent's view before and after).
pub fn result_json(s: &Scenario, e: &Exploration) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("policy".into(), json!(e.policy.name()));
    m.insert("rules".into(), json!(e.rules.name()));
    m.insert("verdict".into(), json!(e.verdict.name()));
    m.insert("states".into(), json!(e.states));
    m.insert("deliveries".into(), json!(e.deliveries));
    m.insert("max_deliveries".into(), json!(e.max_deliveries));
    if let Some(t) = &e.trace {
        m.insert(
            "initial".into(),
            json!({
                "agents": t.initial.agents.iter().map(|a| agent_json(s, a)).collect::<Vec<_>>(),
                "in_flight": t.initial.in_flight.iter().map(|m| message_json(s, m)).collect::<Vec<_>>(),
            }),
        );
        m.insert("cycle_start".into(), json!(t.cycle_start));
        let steps: Vec<Value> = t
            .steps
            .iter()
            .enumerate()
            .map(|(n, st)| {
                json!({
                    "step": n + 1,
                    "delivered": message_json(s, &st.message),
                    "before": agent_json(s, &st.before),
                    "after": agent_json(s, &st.after),
                    "rules": rules_json(s, &st.log),
                    "outbid": st.log.outbid.iter().map(|&j| s.items[j].clone()).collect::<Vec<_>>(),
                    "released": st.log.released.iter().map(|&j| s.items[j].clone()).collect::<Vec<_>>(),
                    "bids": st.log.bids.iter().map(|&(j, b, re)| json!({"item": s.items[j], "bid": b, "reasserted": re})).collect::<Vec<_>>(),
                    "sent": st.sent,
                })
            })
            .collect();
        m.insert("trace".into(), Value::Array(steps));
    }
    Value::Object(m)
}

/// An agent's view of every item as JSON: winner, bid, time.
fn view_json(s: &Scenario, view: &[Entry]) -> Value {
    named(&s.items, view.iter().map(|e| {
        json!({"winner": e.winner.map(|w| s.agents[w].clone()), "bid": e.bid, "time": e.time})
    }))
}

/// Under CBBA rules, agent → the time of the latest information from it.
fn stamps_json(s: &Scenario, stamps: &[u64]) -> Value {
    named(&s.agents, stamps.iter().map(|t| json!(t)))
}

/// A JSON object of `names` each paired with the next of `values`.
fn named(names: &[String], values: impl Iterator<Item = Value>) -> Value {
    Value::Object(names.iter().cloned().zip(values).collect())
}

/// An agent's state as JSON: view, bundle, and under CBBA its stamps.
fn agent_json(s: &Scenario, a: &AgentState) -> Value {
    let mut v = json!({
        "view": view_json(s, &a.view),
        "bundle": a.bundle.iter().map(|&j| s.items[j].clone()).collect::<Vec<_>>(),
    });
    if !a.stamps.is_empty() {
        v["stamps"] = stamps_json(s, &a.stamps);
    }
    v
}

/// A message in flight as JSON.
fn message_json(s: &Scenario, m: &Message) -> Value {
    let mut v =
        json!({"from": s.agents[m.from], "to": s.agents[m.to], "view": view_json(s, &m.view)});
    if !m.stamps.is_empty() {
        v["stamps"] = stamps_json(s, &m.stamps);
    }
    v
}

/// The rule applied per item at one delivery, as JSON.
fn rules_json(s: &Scenario, log: &StepLog) -> Value {
    let m: serde_json::Map<String, Value> = s
        .items
        .iter()
        .zip(&log.rules)
        .map(|(item, (rule, action))| {
            (
                item.clone(),
                json!({"rule": rule.number(), "name": rule.describe(), "action": action.name()}),
            )
        })
        .collect();
    Value::Object(m)
}

/// A view as text; bid times only where the rules use them (not under CBBA, whose
/// stamps follow instead).
fn view_text(s: &Scenario, view: &[Entry], stamps: &[u64]) -> String {
    let timed = stamps.is_empty();
    let mut text = s
        .items
        .iter()
        .zip(view)
        .map(|(item, e)| match (e.winner, timed) {
            (Some(w), true) => format!("{item}: {} bid {} t{}", s.agents[w], e.bid, e.time),
            (Some(w), false) => format!("{item}: {} bid {}", s.agents[w], e.bid),
            (None, true) => format!("{item}: none t{}", e.time),
            (None, false) => format!("{item}: none"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    if !timed {
        let st: Vec<String> = s
            .agents
            .iter()
            .zip(stamps)
            .map(|(a, t)| format!("{a} t{t}"))
            .collect();
        text.push_str(&format!("; heard from {}", st.join(", ")));
    }
    text
}

/// An agent's state as text: its view and bundle.
fn agent_text(s: &Scenario, a: &AgentState) -> String {
    let bundle: Vec<&str> = a.bundle.iter().map(|&j| s.items[j].as_str()).collect();
    format!(
        "{}; bundle [{}]",
        view_text(s, &a.view, &a.stamps),
        bundle.join(", ")
    )
}

/// A counterexample as text: per step the message delivered, the receiver's view
/// before and after, and the rule applied per item.
pub fn render_trace(s: &Scenario, t: &Trace) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "counterexample (times are ranks on one logical clock, per item and per agent):\n  after the initial bids:"
    );
    for (i, a) in t.initial.agents.iter().enumerate() {
        let _ = writeln!(out, "    {}: {}", s.agents[i], agent_text(s, a));
    }
    let _ = writeln!(out, "    {} messages in flight", t.initial.in_flight.len());
    for (n, st) in t.steps.iter().enumerate() {
        if t.cycle_start == Some(n) {
            let _ = writeln!(
                out,
                "  -- cycle starts here: the state before this step recurs after the last step --"
            );
        }
        let to = &s.agents[st.message.to];
        let _ = writeln!(
            out,
            "  step {}: deliver {} -> {} [{}]",
            n + 1,
            s.agents[st.message.from],
            to,
            view_text(s, &st.message.view, &st.message.stamps)
        );
        let _ = writeln!(out, "    {to} before: {}", agent_text(s, &st.before));
        let rules: Vec<String> = s
            .items
            .iter()
            .zip(&st.log.rules)
            .map(|(item, (r, act))| {
                format!(
                    "{item}: rule {} ({}) -> {}",
                    r.number(),
                    r.describe(),
                    act.name()
                )
            })
            .collect();
        let _ = writeln!(out, "    rules: {}", rules.join("; "));
        let names = |js: &[usize]| {
            js.iter()
                .map(|&j| s.items[j].clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !st.log.outbid.is_empty() {
            let _ = writeln!(out, "    outbid on: {}", names(&st.log.outbid));
        }
        if !st.log.released.is_empty() {
            let _ = writeln!(out, "    released: {}", names(&st.log.released));
        }
        for &(j, b, re) in &st.log.bids {
            let how = if re {
                " (re-asserted after losing it)"
            } else {
                ""
            };
            let _ = writeln!(out, "    bids {} on {}{how}", b, s.items[j]);
        }
        let _ = writeln!(out, "    {to} after:  {}", agent_text(s, &st.after));
        let _ = writeln!(out, "    sent {} messages", st.sent);
    }
    let _ = writeln!(out, "  final state:");
    for (i, a) in t.last.agents.iter().enumerate() {
        let _ = writeln!(out, "    {}: {}", s.agents[i], agent_text(s, a));
    }
    let _ = writeln!(out, "    {} messages in flight", t.last.in_flight.len());
    out
}
