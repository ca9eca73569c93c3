//! Settlement's reports: a [`Statement`] as the readable table, as CSV rows and as
//! the `--json` document, and a replicated run's ([Dist-Auctioneer]) outcome. The
//! command line prints or writes what these return; the provenance record is its
//! own (it names the input files).

use std::fmt::Write;

use serde_json::{json, Value};

use super::replicated::{Outcome, ReplicatedRun, Replication};
use super::{AllocationSource, Mechanism, Statement};

/// `x` with `decimals` decimals, without the sign of a value that rounds to zero
/// ("0.0000", never "-0.0000").
fn fixed(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
        _ => s,
    }
}

/// The statement as a table: a header naming the market, mechanism and allocation,
/// one row per participant (volume, pays, receives, utility), welfare at true
/// values, the market's surplus or deficit, and the mechanism's notes.
pub fn statement_text(market: &str, s: &Statement) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "settlement of market '{}': mechanism {}, allocation {}",
        market,
        s.mechanism,
        match &s.allocation {
            AllocationSource::Lp => "lp (P3's optimum at the declared bids)".to_string(),
            other => format!("{} (an engine run at the declared bids)", other.name()),
        }
    );
    let width = s
        .participants
        .iter()
        .map(|l| l.id.len())
        .max()
        .unwrap_or(2)
        .max(2);
    let _ = writeln!(
        out,
        "  {:<width$}  {:<8} {:>12} {:>12} {:>12} {:>12}",
        "id", "role", "volume", "pays", "receives", "utility"
    );
    for l in &s.participants {
        let _ = writeln!(
            out,
            "  {:<width$}  {:<8} {:>12} {:>12} {:>12} {:>12}",
            l.id,
            l.role.to_string(),
            fixed(l.volume, 4),
            fixed(l.pays, 4),
            fixed(l.receives, 4),
            fixed(l.utility, 4)
        );
    }
    let _ = writeln!(out, "  welfare (true values) W = {:.6}", s.welfare);
    let what = if s.surplus >= 0.0 {
        "surplus"
    } else {
        "deficit"
    };
    let _ = writeln!(
        out,
        "  market {what} = {:.6} (sum paid - sum received)",
        s.surplus.abs()
    );
    for n in &s.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    out
}

/// The statement as CSV: the header `id,role,volume,pays,receives,utility`, then one
/// row per participant in market order (ids quoted where they need it).
pub fn statement_csv(s: &Statement) -> String {
    let mut out = String::from("id,role,volume,pays,receives,utility\n");
    for l in &s.participants {
        let id = if l.id.contains([',', '"', '\n']) {
            format!("\"{}\"", l.id.replace('"', "\"\""))
        } else {
            l.id.clone()
        };
        let _ = writeln!(
            out,
            "{id},{},{},{},{},{}",
            l.role, l.volume, l.pays, l.receives, l.utility
        );
    }
    out
}

/// The statement as one JSON object: mechanism, allocation, participants, welfare
/// (true and declared), surplus, notes, the bids file and `provenance`.
pub fn statement_json(s: &Statement, bids: Option<&str>, provenance: Value) -> Value {
    json!({
        "mechanism": s.mechanism,
        "allocation": s.allocation.name(),
        "participants": s.participants,
        "welfare": s.welfare,
        "declared_welfare": s.declared_welfare,
        "surplus": s.surplus,
        "notes": s.notes,
        "bids": bids,
        "provenance": provenance,
    })
}

/// How a replicated run went, in two lines: replicas, resilience, transport,
/// payment groups, messages, bytes, wall-clock time, and who bid agreement excluded.
pub fn replication_text(r: &Replication) -> String {
    let mut out = format!(
        "  replicated by {} providers ({}), resilience k = {}, over {}: {} payment groups, {} messages, {} bytes, {:.3} s wall-clock\n",
        r.replicas,
        r.replica_ids.join(", "),
        r.resilience,
        r.transport.name(),
        r.groups.len(),
        r.messages,
        r.bytes,
        r.timing.wall_seconds
    );
    if !r.excluded.is_empty() {
        let _ = writeln!(
            out,
            "  excluded by bid agreement: {}",
            r.excluded.join(", ")
        );
    }
    out
}

/// A replicated run's outcome as text: the statement and the replication for a
/// settled run; the phase, the replicas pointed at and the evidence for an aborted one.
pub fn replicated_text(market: &str, run: &ReplicatedRun) -> String {
    let mut out = String::new();
    match &run.outcome {
        Outcome::Settled(statement) => out.push_str(&statement_text(market, statement)),
        Outcome::Aborted(abort) => {
            let _ = writeln!(
                out,
                "replicated settlement of market '{}' ABORTED in phase {}",
                market, abort.phase
            );
            let _ = writeln!(out, "  replicas pointed at: {}", abort.replicas.join(", "));
            let _ = writeln!(
                out,
                "  evidence: {}",
                serde_json::to_string(&abort.evidence).unwrap_or_default()
            );
        }
    }
    out.push_str(&replication_text(&run.replication));
    out
}

/// A replicated run's outcome as one JSON object: for a settled run the statement's
/// object ([`statement_json`]) with `outcome`, `replication` and `deviations`; for an
/// aborted one the mechanism, the abort, the replication, the files and `provenance`.
pub fn replicated_json(
    run: &ReplicatedRun,
    mechanism: &dyn Mechanism,
    bids: Option<&str>,
    deviations: Option<&str>,
    provenance: Value,
) -> Value {
    let replication = serde_json::to_value(&run.replication).unwrap_or(Value::Null);
    match &run.outcome {
        Outcome::Settled(statement) => {
            let mut out = statement_json(statement, bids, provenance);
            out["outcome"] = json!("settled");
            out["replication"] = replication;
            out["deviations"] = json!(deviations);
            out
        }
        Outcome::Aborted(abort) => json!({
            "outcome": "aborted",
            "mechanism": mechanism,
            "abort": abort,
            "replication": replication,
            "bids": bids,
            "deviations": deviations,
            "provenance": provenance,
        }),
    }
}
