//! The stream market's outputs as text ([Stream-Market]): a matching's report (the
//! readable summary, its JSON and the allocations CSV) and the strategy experiment's
//! CSVs and summary, each with the provenance of what made it.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

use super::matching::ROUNDING_NOTE;
use super::simulate::{SimulationResult, SimulationSpec};
use super::{MatchOutcome, Offers};
use crate::lp::Backend;

/// The roles whose participants are in groups, in output order.
const ROLES: [&str; 2] = ["supplier", "customer"];

/// A matching of an offers file and what made it, ready to print or write.
#[derive(Debug, Clone)]
pub struct MatchReport<'a> {
    /// The offers matched.
    pub offers: &'a Offers,
    /// What [`super::match_offers`] made of them.
    pub outcome: &'a MatchOutcome,
    /// The offers file's name.
    pub origin: &'a str,
    /// Version, offers file and its SHA-256, LP backend and tolerance, parameters.
    pub provenance: serde_json::Value,
}

impl<'a> MatchReport<'a> {
    /// The report of `outcome`, matched from `offers` read from `text` (named
    /// `origin`) with the LP `backend`.
    pub fn new(
        offers: &'a Offers,
        outcome: &'a MatchOutcome,
        origin: &'a str,
        text: &str,
        backend: Backend,
    ) -> MatchReport<'a> {
        let provenance = json!({
            "brokerflow": env!("CARGO_PKG_VERSION"),
            "offers": origin,
            "offers_sha256": brokerflow_graphs::input_hash(text.as_bytes()),
            "lp_backend": backend.name(),
            "solver_tolerance": backend.tolerance(),
            "parameters": offers.parameters,
        });
        MatchReport {
            offers,
            outcome,
            origin,
            provenance,
        }
    }

    /// The JSON document: `allocations`, `void`, `slots`, `replicas` (per customer),
    /// `notes` and `provenance`.
    pub fn json(&self) -> serde_json::Value {
        let o = self.outcome;
        json!({
            "allocations": o.allocations.iter().map(|x| json!({
                "customer": x.customer,
                "suppliers": x.suppliers,
                "start": x.start,
                "end": x.end,
                "price": x.price,
            })).collect::<Vec<_>>(),
            "void": o.void.iter().map(|v| json!({
                "customer": v.customer,
                "start": v.start,
                "end": v.end,
                "reason": v.reason.name(),
            })).collect::<Vec<_>>(),
            "slots": o.slots,
            "replicas": self.offers.customers.iter().zip(&o.replicas)
                .map(|(c, r)| (c.id.clone(), json!(r)))
                .collect::<serde_json::Map<_, _>>(),
            "notes": [ROUNDING_NOTE],
            "provenance": self.provenance,
        })
    }

    /// What `stream match` prints: the JSON document pretty-printed (`json`) or the
    /// readable summary, ending in a newline.
    pub fn render(&self, json: bool) -> String {
        match json {
            // A `Value` of strings and numbers always prints.
            true => serde_json::to_string_pretty(&self.json()).unwrap_or_default() + "\n",
            false => self.text(),
        }
    }

    /// The readable summary: counts, one line per allocation and per void
    /// allocation, and the rounding note (each line ends in a newline).
    pub fn text(&self) -> String {
        let o = self.outcome;
        let mut s = format!(
            "{}: {} allocations, {} void, {} slot markets\n",
            self.origin,
            o.allocations.len(),
            o.void.len(),
            o.slots.len()
        );
        for x in &o.allocations {
            let _ = writeln!(
                s,
                "  {} [{}, {}] on {} at {} per MI (suppliers get {})",
                x.customer,
                x.start,
                x.end,
                x.suppliers.join(", "),
                x.price,
                x.supplier_price
            );
        }
        for v in &o.void {
            let _ = writeln!(
                s,
                "  {} [{}, {}] void: {}",
                v.customer,
                v.start,
                v.end,
                v.reason.name()
            );
        }
        let _ = writeln!(s, "note: {ROUNDING_NOTE}");
        s
    }

    /// The allocations and void allocations as CSV
    /// (`kind,customer,suppliers,start,end,price,supplier_price,slot,reason`), after
    /// `#` lines with the provenance and the rounding note.
    pub fn allocations_csv(&self) -> String {
        let mut s = format!(
            "# brokerflow {} stream match\n# provenance: {}\n",
            env!("CARGO_PKG_VERSION"),
            self.provenance
        );
        let _ = writeln!(s, "# note: {ROUNDING_NOTE}");
        s.push_str("kind,customer,suppliers,start,end,price,supplier_price,slot,reason\n");
        for x in &self.outcome.allocations {
            let _ = writeln!(
                s,
                "allocation,{},{},{},{},{},{},{},",
                csv_field(&x.customer),
                csv_field(&x.suppliers.join(";")),
                x.start,
                x.end,
                x.price,
                x.supplier_price,
                x.slot
            );
        }
        for v in &self.outcome.void {
            let _ = writeln!(
                s,
                "void,{},,{},{},,,,{}",
                csv_field(&v.customer),
                v.start,
                v.end,
                v.reason.name()
            );
        }
        s
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The strategy experiment's outputs: a simulation of a spec and what made it.
#[derive(Debug, Clone)]
pub struct SimulationReport<'a> {
    /// The spec.
    pub spec: &'a SimulationSpec,
    /// What [`super::simulate::simulate`] made of it.
    pub result: &'a SimulationResult,
    /// The spec file's name as given.
    pub origin: String,
    /// SHA-256 of the spec file's bytes.
    pub spec_sha256: String,
    /// The `#` lines every output starts with: version, spec, its hash, seed,
    /// backend and the matching's approximation.
    pub provenance: String,
}

impl<'a> SimulationReport<'a> {
    /// The outputs of `result`, simulated from `spec` read from `text` at
    /// `spec_path`.
    pub fn new(
        spec: &'a SimulationSpec,
        result: &'a SimulationResult,
        spec_path: &Path,
        text: &str,
    ) -> SimulationReport<'a> {
        let spec_sha256 = brokerflow_graphs::input_hash(text.as_bytes());
        let provenance = format!(
            "# brokerflow {} stream simulate '{}' (spec file {})\n# spec_sha256: {}\n# seed: {}; lp_backend: auto; matching approximation: {}\n",
            env!("CARGO_PKG_VERSION"),
            spec.name,
            spec_path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            spec_sha256,
            spec.seed,
            ROUNDING_NOTE,
        );
        SimulationReport {
            spec,
            result,
            origin: spec_path.display().to_string(),
            spec_sha256,
            provenance,
        }
    }

    /// The text outputs, named: `participants.csv`, `groups.csv`, `cumulative.csv`,
    /// `sweep.csv` and `summary.json`.
    pub fn files(&self) -> Vec<(&'static str, String)> {
        vec![
            ("participants.csv", self.participants_csv()),
            ("groups.csv", self.groups_csv()),
            ("cumulative.csv", self.cumulative_csv()),
            ("sweep.csv", self.sweep_csv()),
            ("summary.json", self.summary_json()),
        ]
    }

    /// One row per participant: contracts, fines, money, costs, benefit, utility.
    pub fn participants_csv(&self) -> String {
        let mut s = self.provenance.clone();
        s.push_str(
            "id,role,group,contracts,fined,money,costs,benefit,utility,utility_per_contract\n",
        );
        for p in &self.result.participants {
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{},{},{}",
                p.id,
                p.role,
                p.group.map(|g| g.to_string()).unwrap_or_default(),
                p.contracts,
                p.fined,
                p.money,
                p.costs,
                p.benefit,
                p.utility,
                if p.contracts > 0 {
                    p.utility_per_contract.to_string()
                } else {
                    String::new()
                }
            );
        }
        s
    }

    /// One row per (role, group): mean, least and most utility, and the means per
    /// contract; then one row per participant outside the groups.
    pub fn groups_csv(&self) -> String {
        let r = self.result;
        let mut s = self.provenance.clone();
        s.push_str("role,group,participants,mean_utility,min_utility,max_utility,mean_utility_per_contract,mean_contracts,mean_fined\n");
        for role in ROLES {
            for (g, idx) in group_members(self.spec, r, role) {
                let u = || idx.iter().map(|&i| r.participants[i].utility);
                let _ = writeln!(
                    s,
                    "{role},{g},{},{},{},{},{},{},{}",
                    idx.len(),
                    mean(u()),
                    u().fold(f64::INFINITY, f64::min),
                    u().fold(f64::NEG_INFINITY, f64::max),
                    mean(idx.iter().map(|&i| r.participants[i].utility_per_contract)),
                    mean(idx.iter().map(|&i| r.participants[i].contracts as f64)),
                    mean(idx.iter().map(|&i| r.participants[i].fined as f64)),
                );
            }
        }
        for p in r.participants.iter().filter(|p| p.group.is_none()) {
            let _ = writeln!(
                s,
                "{},,1,{},{},{},,{},{}",
                p.role, p.utility, p.utility, p.utility, p.contracts, p.fined
            );
        }
        s
    }

    /// Per round, role and group, the group's mean cumulative utility.
    pub fn cumulative_csv(&self) -> String {
        let r = self.result;
        let mut s = self.provenance.clone();
        s.push_str("round,role,group,mean_cumulative_utility\n");
        for round in 0..self.spec.rounds {
            for role in ROLES {
                for (g, idx) in group_members(self.spec, r, role) {
                    let _ = writeln!(
                        s,
                        "{},{role},{g},{}",
                        round + 1,
                        mean(idx.iter().map(|&i| r.cumulative[i][round]))
                    );
                }
            }
        }
        s
    }

    /// The sweep ([Stream-Market] Fig. 6): per P(s), verifying and non-verifying
    /// customers' utility per contract.
    pub fn sweep_csv(&self) -> String {
        let mut s = self.provenance.clone();
        s.push_str("supplier_probability,verifying_customer_utility_per_contract,non_verifying_customer_utility_per_contract\n");
        for p in &self.result.sweep {
            let _ = writeln!(
                s,
                "{},{},{}",
                p.supplier_probability, p.verifying, p.not_verifying
            );
        }
        s
    }

    /// `summary.json`: provenance, contracts, mediations, void allocations by reason,
    /// the ledger's total and the notes (pretty-printed, with a final newline).
    pub fn summary_json(&self) -> String {
        let r = self.result;
        let summary = json!({
            "provenance": {
                "brokerflow": env!("CARGO_PKG_VERSION"),
                "spec": self.origin,
                "spec_sha256": self.spec_sha256,
                "seed": self.spec.seed,
                "lp_backend": "auto",
            },
            "contracts": r.contracts,
            "mediations": r.mediations,
            "void": r.void.iter().map(|(r, n)| (r.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "ledger_total_units": r.ledger_total.to_string(),
            "notes": [ROUNDING_NOTE, "customers with r > 1 draw the inputs some replica processed as one binomial (approximation)"],
        });
        // A `Value` of strings and numbers always prints.
        serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n"
    }
}

/// Per group of `role` (`supplier` or `customer`), in the spec's group order: the
/// group's probability and the indices of its participants in `r`.
pub fn group_members(
    spec: &SimulationSpec,
    r: &SimulationResult,
    role: &str,
) -> Vec<(f64, Vec<usize>)> {
    spec.groups
        .iter()
        .map(|&g| {
            let idx = r
                .participants
                .iter()
                .enumerate()
                .filter(|(_, p)| p.role == role && p.group == Some(g))
                .map(|(i, _)| i)
                .collect();
            (g, idx)
        })
        .collect()
}

/// The arithmetic mean; `NaN` of nothing.
pub fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_separators_are_quoted() {
        assert_eq!(csv_field("c1"), "c1");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn the_mean_of_nothing_is_nan() {
        assert!(mean(std::iter::empty()).is_nan());
        assert_eq!(mean([1.0, 2.0, 6.0].into_iter()), 3.0);
    }
}
