//! Graphviz DOT rendering of a market (not of G′): one node per participant, one
//! edge per link, labelled with capacities, bandwidths and costs.

use std::fmt::Write;

use crate::market::Market;

/// The market as a Graphviz `digraph`, users, brokers and providers in ranks.
pub fn to_dot(market: &Market) -> String {
    let mut s = String::new();
    // Ids are escaped once; labels are built from escaped parts and `\n` line breaks.
    let esc = |id: &str| id.replace('\\', "\\\\").replace('"', "\\\"");
    let q = |escaped: &str| format!("\"{escaped}\"");
    let amount = |c: Option<f64>| c.map_or("∞".to_string(), |c| format!("{c}"));
    let _ = writeln!(s, "digraph {} {{", q(&esc(&market.name)));
    let _ = writeln!(s, "  rankdir=LR;");
    let _ = writeln!(s, "  subgraph users {{ rank=same; node [shape=box];");
    for u in &market.users {
        let label = format!(
            "{}\\nd={} r={} v={}{}",
            esc(&u.id),
            u.demand,
            u.requirement,
            u.valuation,
            u.eligible
                .as_ref()
                .map_or(String::new(), |e| format!("\\nonly {}", esc(&e.join(","))))
        );
        let _ = writeln!(s, "    {} [label={}];", q(&esc(&u.id)), q(&label));
    }
    let _ = writeln!(s, "  }}");
    let _ = writeln!(s, "  subgraph brokers {{ node [shape=ellipse];");
    for b in &market.brokers {
        let label = format!("{}\\nR={} c={}", esc(&b.id), amount(b.capacity), b.cost);
        let _ = writeln!(s, "    {} [label={}];", q(&esc(&b.id)), q(&label));
    }
    let _ = writeln!(s, "  }}");
    let _ = writeln!(s, "  subgraph providers {{ rank=same; node [shape=box3d];");
    for p in &market.providers {
        let label = format!("{}\\nR={} c={}", esc(&p.id), amount(p.capacity), p.cost);
        let _ = writeln!(s, "    {} [label={}];", q(&esc(&p.id)), q(&label));
    }
    let _ = writeln!(s, "  }}");
    for l in &market.links {
        let mut label = format!("B={}", amount(l.bandwidth));
        if l.cost != 0.0 {
            let _ = write!(label, " c={}", l.cost);
        }
        let _ = writeln!(
            s,
            "  {} -> {} [label={}];",
            q(&esc(&l.from)),
            q(&esc(&l.to)),
            q(&label)
        );
    }
    s.push_str("}\n");
    s
}
