//! Graphviz DOT rendering of a market (not of G′): one node per participant, one
//! edge per link, labelled with capacities, bandwidths and costs — and of a routing
//! on it: the same drawing with every link's flow.

use std::fmt::Write;

use crate::market::Market;
use crate::usage::Usage;

/// An id escaped for a DOT string (labels are built from escaped parts and `\n`
/// line breaks).
fn esc(id: &str) -> String {
    id.replace('\\', "\\\\").replace('"', "\\\"")
}

/// An escaped string quoted.
fn q(escaped: &str) -> String {
    format!("\"{escaped}\"")
}

fn amount(c: Option<f64>) -> String {
    c.map_or("∞".to_string(), |c| format!("{c}"))
}

/// A flow amount for a label: at most 4 decimals, no trailing zeros, never "-0".
fn jobs(x: f64) -> String {
    let s = format!("{:.4}", x + 0.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0" } else { s }.to_string()
}

/// The market as a Graphviz `digraph`, users, brokers and providers in ranks.
pub fn to_dot(market: &Market) -> String {
    draw(market, None, &market.name)
}

/// A routing on the market as a Graphviz `digraph` named `title`: every link labelled
/// with its flow (of its bandwidth, and per user where several share it) and drawn
/// with a pen width by flow (links without flow dashed and grey); users labelled
/// with what they are served of their demand, brokers and providers with what they
/// use of their capacity; saturated links, brokers and providers in red and bold
/// ([`Usage::of`]'s rule).
pub fn flows_to_dot(market: &Market, usage: &Usage, title: &str) -> String {
    draw(market, Some(usage), title)
}

fn draw(market: &Market, usage: Option<&Usage>, title: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "digraph {} {{", q(&esc(title)));
    let _ = writeln!(s, "  rankdir=LR;");
    if let Some(u) = usage {
        let _ = writeln!(
            s,
            "  label={}; labelloc=t;",
            q(&format!(
                "{}\\nflows in jobs per time unit; red: saturated (within {:e} of capacity)",
                esc(title),
                u.tolerance
            ))
        );
    }
    let full = " color=red fontcolor=red penwidth=2";
    let _ = writeln!(s, "  subgraph users {{ rank=same; node [shape=box];");
    for (k, user) in market.users.iter().enumerate() {
        let mut label = format!(
            "{}\\nd={} r={} v={}{}",
            esc(&user.id),
            user.demand,
            user.requirement,
            user.valuation,
            user.eligible
                .as_ref()
                .map_or(String::new(), |e| format!("\\nonly {}", esc(&e.join(","))))
        );
        if let Some(f) = usage.and_then(|u| u.served.get(k)) {
            let _ = write!(label, "\\nserved {} of {}", jobs(*f), user.demand);
        }
        let _ = writeln!(s, "    {} [label={}];", q(&esc(&user.id)), q(&label));
    }
    let _ = writeln!(s, "  }}");
    let resource = |s: &mut String, id: &str, capacity: Option<f64>, cost: f64, found| {
        let mut label = format!("{}\\nR={} c={}", esc(id), amount(capacity), cost);
        let mut style = "";
        if let Some(r) = found {
            let r: &crate::usage::ResourceUsage = r;
            let _ = write!(label, "\\nuses {} of {}", jobs(r.used), amount(capacity));
            if r.saturated {
                style = full;
            }
        }
        let _ = writeln!(s, "    {} [label={}{style}];", q(&esc(id)), q(&label));
    };
    let _ = writeln!(s, "  subgraph brokers {{ node [shape=ellipse];");
    for (i, b) in market.brokers.iter().enumerate() {
        resource(
            &mut s,
            &b.id,
            b.capacity,
            b.cost,
            usage.map(|u| &u.brokers[i]),
        );
    }
    let _ = writeln!(s, "  }}");
    let _ = writeln!(s, "  subgraph providers {{ rank=same; node [shape=box3d];");
    for (i, p) in market.providers.iter().enumerate() {
        resource(
            &mut s,
            &p.id,
            p.capacity,
            p.cost,
            usage.map(|u| &u.providers[i]),
        );
    }
    let _ = writeln!(s, "  }}");
    let widest = usage.map_or(0.0, Usage::max_link_flow);
    for (i, l) in market.links.iter().enumerate() {
        let mut label = String::new();
        let mut style = String::new();
        match usage.map(|u| &u.links[i]) {
            None => {
                label = format!("B={}", amount(l.bandwidth));
                if l.cost != 0.0 {
                    let _ = write!(label, " c={}", l.cost);
                }
            }
            Some(lu) => {
                label.push_str(&jobs(lu.flow));
                if let Some(b) = l.bandwidth {
                    let _ = write!(label, " of {b}");
                }
                if l.cost != 0.0 {
                    let _ = write!(label, " c={}", l.cost);
                }
                if lu.by_commodity.len() > 1 {
                    for &(k, x) in &lu.by_commodity {
                        let id = market.users.get(k).map_or("?", |u| u.id.as_str());
                        let _ = write!(label, "\\n{} {}", esc(id), jobs(x));
                    }
                }
                if lu.flow <= 0.0 {
                    style = " style=dashed color=grey fontcolor=grey".to_string();
                } else {
                    let width = 1.0 + 5.0 * lu.flow / widest;
                    style = format!(" penwidth={width:.2}");
                    if lu.saturated {
                        style.push_str(" color=red fontcolor=red");
                    }
                }
            }
        }
        let _ = writeln!(
            s,
            "  {} -> {} [label={}{style}];",
            q(&esc(&l.from)),
            q(&esc(&l.to)),
            q(&label)
        );
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{examples, ExpandedGraph, Flow};

    #[test]
    fn amounts_are_short_and_never_negative_zero() {
        assert_eq!(jobs(8.0), "8");
        assert_eq!(jobs(2.5), "2.5");
        assert_eq!(jobs(-1e-9), "0");
        assert_eq!(jobs(1.0 / 3.0), "0.3333");
    }

    #[test]
    fn a_zero_flow_draws_every_link_dashed_and_nothing_saturated() {
        let m = examples::tiny();
        let g = ExpandedGraph::new(&m);
        let u = Usage::of(&m, &g, &Flow::zero(&g), 1e-6);
        let dot = flows_to_dot(&m, &u, "zero");
        let edges: Vec<&str> = dot.lines().filter(|l| l.contains(" -> ")).collect();
        assert_eq!(edges.len(), m.links.len());
        assert!(edges.iter().all(|l| l.contains("style=dashed")));
        assert!(!dot.contains("color=red"));
        assert!(dot.contains("served 0 of 10"));
    }
}
