//! `brokerflow mca`: max-consensus auctions on a scenario file — a synchronous run,
//! or an exhaustive exploration of every asynchronous delivery order ([MCA-Alloy]).

use std::path::{Path, PathBuf};

use anyhow::Context;
use brokerflow_solvers::mca::explore::{Channels, DEFAULT_MAX_DELIVERIES, DEFAULT_MAX_STATES};
use brokerflow_solvers::mca::protocol::StepLog;
use brokerflow_solvers::mca::run::SYNC_ROUND_LIMIT;
use brokerflow_solvers::mca::{
    explore, run_synchronous, sample, AgentState, Entry, Exploration, ExploreOptions, Message,
    Policy, Rules, Scenario, Trace,
};
use serde_json::{json, Value};

/// Max-consensus auctions: run a scenario, or explore every delivery order.
///
/// A scenario file (JSON) names `agents`, `items`, optional `neighbours` (pairs;
/// absent = complete graph), `values` (agent → {"A+B": value}; a bundle without an
/// entry is worth the sum of its items), `policy` (`release_outbid`,
/// `target_bundle`, `rebid_lost`) and optional `rules` (`cbba`, the default:
/// Choi–Brunet–How's information-time rules; or `bid-time`: the bid-time rules
/// that reproduce the Alloy model's findings). See experiments/mca/.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub mode: Mode,
}

/// `mca run` or `mca explore`.
#[derive(Debug, clap::Subcommand)]
pub enum Mode {
    /// Synchronous rounds (every agent bids, then every message of the round is
    /// delivered) until nobody has anything new to send.
    Run(RunArgs),
    /// Every asynchronous delivery order, breadth-first, with a verdict per policy
    /// combination: converges, oscillates, or no-consensus-within-bound.
    Explore(ExploreArgs),
}

/// Arguments of `mca run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (JSON).
    pub scenario: PathBuf,
    /// Run this policy instead of the file's (e.g. release-T2, keep-T1-rebid).
    #[arg(long)]
    pub policy: Option<String>,
    /// Conflict rules instead of the file's: cbba (information times, the
    /// default) or bid-time.
    #[arg(long)]
    pub rules: Option<String>,
    /// Print one JSON object: consensus, rounds, messages, assignment, value,
    /// optimum, bound, ended, provenance.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `mca explore`.
#[derive(Debug, clap::Args)]
pub struct ExploreArgs {
    /// Scenario file (JSON).
    pub scenario: PathBuf,
    /// `all` (release-outbid × target bundle 1…|J| × rebid-lost), a comma-separated
    /// list of names (release-T2, keep-T1-rebid, …), or by default the file's own
    /// policy.
    #[arg(long)]
    pub policies: Option<String>,
    /// Conflict rules: cbba, bid-time, or all (both, cbba first); by default the
    /// file's (cbba if it names none).
    #[arg(long)]
    pub rules: Option<String>,
    /// Executions are followed for at most this many deliveries; a state at the
    /// bound with messages still in flight counts as no consensus within the bound.
    #[arg(long, default_value_t = DEFAULT_MAX_DELIVERIES)]
    pub max_deliveries: usize,
    /// How links order messages: latest (a link holds only the sender's newest
    /// view; the default: a finite state space), fifo (each link delivers every
    /// view in send order) or unordered (any message may overtake another).
    #[arg(long, value_enum, default_value = "latest")]
    pub channels: ChannelsArg,
    /// Refuse an exploration beyond this many distinct states.
    #[arg(long, default_value_t = DEFAULT_MAX_STATES)]
    pub max_states: usize,
    /// Instead of every delivery order, run this many random ones (each message
    /// chosen uniformly among those deliverable) and count how they end: evidence
    /// where exhaustive search is too large, not a verdict.
    #[arg(long, value_name = "WALKS")]
    pub sample: Option<usize>,
    /// Seed of --sample's generator (xorshift64).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print JSON: for one policy and rule set {policy, rules, verdict, states,
    /// deliveries, trace}, for several {results: [...]}; with provenance.
    #[arg(long)]
    pub json: bool,
}

/// Message order on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChannelsArg {
    /// Each link delivers in send order.
    Fifo,
    /// Any message in flight may be delivered next.
    Unordered,
    /// Each link holds only the sender's latest view (a newer one replaces it).
    Latest,
}

/// Runs `mca`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.mode {
        Mode::Run(a) => run_mode(a),
        Mode::Explore(a) => explore_mode(a),
    }
}

/// A scenario as read, with the hash of its bytes.
struct Loaded {
    path: PathBuf,
    scenario: Scenario,
    sha256: String,
}

fn load(path: &Path) -> anyhow::Result<Loaded> {
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{}: not UTF-8 text", path.display()))?;
    let scenario = Scenario::from_json_str(&text, &path.display().to_string())?;
    Ok(Loaded {
        path: path.to_path_buf(),
        sha256: brokerflow_graphs::input_hash(text.as_bytes()),
        scenario,
    })
}

fn provenance(l: &Loaded) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("brokerflow".into(), json!(env!("CARGO_PKG_VERSION")));
    m.insert("scenario".into(), json!(l.path.display().to_string()));
    m.insert("scenario_sha256".into(), json!(l.sha256));
    m
}

fn run_mode(a: RunArgs) -> anyhow::Result<()> {
    let l = load(&a.scenario)?;
    let s = &l.scenario;
    let policy = match &a.policy {
        Some(p) => Policy::parse(p)?,
        None => s.policy,
    };
    let rules = match &a.rules {
        Some(r) => Rules::parse(r)?,
        None => s.rules,
    };
    let r = run_synchronous(s, &policy, rules);
    if a.json {
        let assignment: serde_json::Map<String, Value> = s
            .items
            .iter()
            .zip(&r.assignment)
            .map(|(item, w)| (item.clone(), json!(w.map(|i| s.agents[i].clone()))))
            .collect();
        let mut prov = provenance(&l);
        prov.insert("policy".into(), json!(policy.name()));
        prov.insert("rules".into(), json!(rules.name()));
        prov.insert("bound".into(), json!(r.bound));
        prov.insert("diameter".into(), json!(s.diameter()));
        prov.insert("round_limit".into(), json!(SYNC_ROUND_LIMIT));
        let out = json!({
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
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
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
            brokerflow_solvers::mca::run::Ended::Repeats { first, round } => format!(
                "no consensus: the state after round {round} repeats round {first}, so the run oscillates forever (bound D·|J| = {})",
                r.bound
            ),
            brokerflow_solvers::mca::run::Ended::RoundLimit => format!(
                "no consensus within the round limit {SYNC_ROUND_LIMIT} (bound D·|J| = {})",
                r.bound
            ),
            _ => format!(
                "quiet without consensus after {} rounds (bound D·|J| = {})",
                r.rounds, r.bound
            ),
        }
    };
    println!("  {outcome}; {} messages", r.messages);
    for (j, w) in r.assignment.iter().enumerate() {
        let bid = w.map(|i| r.agents[i].view[j].bid);
        match (w, bid) {
            (Some(i), Some(b)) => println!("  {} -> {} (bid {})", s.items[j], s.agents[*i], b),
            _ => println!("  {} -> nobody", s.items[j]),
        }
    }
    match r.optimum {
        Some(o) if o > 0.0 => println!(
            "  value {} of optimum {} ({:.1} %; (1 - 1/e) = 63.2 %)",
            r.value,
            o,
            100.0 * r.value / o
        ),
        Some(o) => println!("  value {} of optimum {o}", r.value),
        None => println!("  value {} (optimum not computed above 10 items)", r.value),
    }
    Ok(())
}

fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not checked (too many items)",
    }
}

fn explore_mode(a: ExploreArgs) -> anyhow::Result<()> {
    let l = load(&a.scenario)?;
    let s = &l.scenario;
    let policies: Vec<Policy> = match a.policies.as_deref() {
        None => vec![s.policy],
        Some("all") => Policy::all(s.items.len()),
        Some(list) => list
            .split(',')
            .map(Policy::parse)
            .collect::<Result<_, _>>()?,
    };
    let rule_sets: Vec<Rules> = match a.rules.as_deref() {
        None => vec![s.rules],
        Some("all") => Rules::ALL.to_vec(),
        Some(r) => vec![Rules::parse(r)?],
    };
    let options = ExploreOptions {
        max_deliveries: a.max_deliveries,
        max_states: a.max_states,
        channels: match a.channels {
            ChannelsArg::Fifo => Channels::Fifo,
            ChannelsArg::Unordered => Channels::Unordered,
            ChannelsArg::Latest => Channels::Latest,
        },
    };
    if let Some(walks) = a.sample {
        return sample_mode(&l, &policies, &rule_sets, &options, walks, a.seed, a.json);
    }
    let mut results = Vec::new();
    let mut seconds = Vec::new();
    for &rules in &rule_sets {
        for p in &policies {
            let start = std::time::Instant::now();
            let e = explore(s, p, rules, &options)
                .with_context(|| format!("{} ({} rules)", l.path.display(), rules.name()))?;
            seconds.push(start.elapsed().as_secs_f64());
            results.push(e);
        }
    }
    let mut prov = provenance(&l);
    prov.insert(
        "policies".into(),
        json!(policies.iter().map(Policy::name).collect::<Vec<_>>()),
    );
    prov.insert(
        "rules".into(),
        json!(rule_sets.iter().map(|r| r.name()).collect::<Vec<_>>()),
    );
    prov.insert("max_deliveries".into(), json!(a.max_deliveries));
    prov.insert("max_states".into(), json!(a.max_states));
    prov.insert("channels".into(), json!(options.channels.name()));
    if a.json {
        let out = if results.len() == 1 {
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
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "scenario '{}': {} agents, {} items, D = {}, sub-modular: {}; {} links; executions followed for at most {} deliveries",
        s.name,
        s.agents.len(),
        s.items.len(),
        s.diameter(),
        yes_no(s.is_submodular()),
        options.channels.name(),
        a.max_deliveries
    );
    println!(
        "  {:<9} {:<16} {:<27} {:>10} {:>11} {:>9}",
        "rules", "policy", "verdict", "states", "deliveries", "seconds"
    );
    for (e, secs) in results.iter().zip(&seconds) {
        println!(
            "  {:<9} {:<16} {:<27} {:>10} {:>11} {:>9.3}",
            e.rules.name(),
            e.policy.name(),
            e.verdict.name(),
            e.states,
            e.deliveries,
            secs
        );
    }
    println!(
        "  (deliveries: the longest execution if it converges, else the counterexample's length)"
    );
    if let [only] = results.as_slice() {
        if let Some(t) = &only.trace {
            print!("{}", render_trace(s, t));
        }
    }
    Ok(())
}

/// `mca explore --sample WALKS`: random executions per rule set and policy.
fn sample_mode(
    l: &Loaded,
    policies: &[Policy],
    rule_sets: &[Rules],
    options: &ExploreOptions,
    walks: usize,
    seed: u64,
    as_json: bool,
) -> anyhow::Result<()> {
    let s = &l.scenario;
    let samples: Vec<_> = rule_sets
        .iter()
        .flat_map(|&r| policies.iter().map(move |p| (r, *p)))
        .map(|(r, p)| sample(s, &p, r, options, walks, seed))
        .collect();
    if as_json {
        let mut prov = provenance(l);
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
        let out = json!({"samples": rows, "provenance": prov});
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "scenario '{}': {} agents, {} items; {walks} random executions per row (seed {seed}), {} links, at most {} deliveries each; evidence, not a verdict",
        s.name,
        s.agents.len(),
        s.items.len(),
        options.channels.name(),
        options.max_deliveries
    );
    println!(
        "  {:<9} {:<16} {:>9} {:>12} {:>12} {:>8}",
        "rules", "policy", "consensus", "no-consensus", "cut-at-bound", "longest"
    );
    for x in &samples {
        println!(
            "  {:<9} {:<16} {:>9} {:>12} {:>12} {:>8}",
            x.rules.name(),
            x.policy.name(),
            x.consensus,
            x.no_consensus,
            x.cut_at_bound,
            x.longest
        );
    }
    Ok(())
}

fn result_json(s: &Scenario, e: &Exploration) -> Value {
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

fn view_json(s: &Scenario, view: &[Entry]) -> Value {
    let m: serde_json::Map<String, Value> = s
        .items
        .iter()
        .zip(view)
        .map(|(item, e)| {
            (
                item.clone(),
                json!({"winner": e.winner.map(|w| s.agents[w].clone()), "bid": e.bid, "time": e.time}),
            )
        })
        .collect();
    Value::Object(m)
}

/// Under CBBA rules, agent → the time of the latest information from it.
fn stamps_json(s: &Scenario, stamps: &[u64]) -> Value {
    let m: serde_json::Map<String, Value> = s
        .agents
        .iter()
        .zip(stamps)
        .map(|(a, t)| (a.clone(), json!(t)))
        .collect();
    Value::Object(m)
}

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

fn message_json(s: &Scenario, m: &Message) -> Value {
    let mut v =
        json!({"from": s.agents[m.from], "to": s.agents[m.to], "view": view_json(s, &m.view)});
    if !m.stamps.is_empty() {
        v["stamps"] = stamps_json(s, &m.stamps);
    }
    v
}

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
fn render_trace(s: &Scenario, t: &Trace) -> String {
    use std::fmt::Write;
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
