//! How much of every link and every resource a flow uses, in the market's own terms
//! (participants and links, not G′'s nodes and edges): what pictures of a routing
//! draw (the flow DOT writer, the CLI's HTML report).

use crate::expanded::{ExpandedGraph, NodeKind};
use crate::flow::Flow;
use crate::market::Market;

/// One market link under a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkUsage {
    /// Index into `Market::links`.
    pub link: usize,
    /// Jobs per time unit on the link, all commodities together.
    pub flow: f64,
    /// The link's jobs per commodity (index into the commodities), zero ones left out,
    /// in commodity order.
    pub by_commodity: Vec<(usize, f64)>,
    /// B_uv, `None` when unlimited.
    pub bandwidth: Option<f64>,
    /// Whether the flow fills the bandwidth (see [`Usage::of`] for the rule).
    pub saturated: bool,
}

/// One broker's or provider's resource under a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceUsage {
    /// The participant's id.
    pub id: String,
    /// Resource units used: jobs at a broker, Σ_k r_k·jobs at a provider.
    pub used: f64,
    /// R_n, `None` when unlimited.
    pub capacity: Option<f64>,
    /// Whether the flow fills the capacity (see [`Usage::of`] for the rule).
    pub saturated: bool,
}

/// A flow seen link by link and participant by participant.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// Every market link, in the market's order.
    pub links: Vec<LinkUsage>,
    /// Every broker, in the market's order.
    pub brokers: Vec<ResourceUsage>,
    /// Every provider, in the market's order.
    pub providers: Vec<ResourceUsage>,
    /// f_k per commodity (what reaches t_k), in commodity order.
    pub served: Vec<f64>,
    /// The relative tolerance of the saturation rule.
    pub tolerance: f64,
}

impl Usage {
    /// The usage of `flow` on the market `market` and its G′ `g`.
    ///
    /// A link, broker or provider is *saturated* when it carries something and uses at
    /// least its capacity less `tolerance` × max(1, capacity) — the rule by which the
    /// LP baselines list binding resources, with their check tolerance; for an engine
    /// run's window-averaged flow a caller passes its convergence tolerance ε.
    ///
    /// # Arguments
    /// * `market`: the market `g` was expanded from.
    /// * `g`: its expanded graph G′.
    /// * `flow`: the flow on `g`.
    /// * `tolerance`: the relative tolerance of the saturation rule.
    ///
    /// # Returns
    /// Per market link its flow by commodity, per broker and provider its resource use,
    /// each with whether it is saturated, and f_k per commodity.
    ///
    /// # Complexity
    /// O(N + L + |P|) time and space for N nodes of G′, L links and |P| usable pairs.
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::{examples, ExpandedGraph, Flow, Usage};
    ///
    /// // tiny's u1 sends 5 on its one route u1 → `u1->b1` → b1 → p1, filling its access
    /// // link (bandwidth 5) but not b1 (25) or p1 (15): graphs/markets/tiny.md §3.
    /// let m = examples::tiny();
    /// let g = ExpandedGraph::new(&m);
    /// let r1 = Flow { x: vec![vec![5.0; 4], vec![0.0; 8], vec![0.0; 4]] };
    /// let u = Usage::of(&m, &g, &r1, 1e-9);
    /// assert!(u.links[0].saturated && u.links[0].flow == 5.0);
    /// assert!(u.brokers.iter().all(|b| !b.saturated));
    /// assert_eq!(u.served, vec![5.0, 0.0, 0.0]);
    /// ```
    ///
    /// Paper: [MCF-Grid] §4.1.5 (bandwidth and processing resources on one footing).
    pub fn of(market: &Market, g: &ExpandedGraph, flow: &Flow, tolerance: f64) -> Usage {
        let used = flow.resource_use(g);
        let full = |used: f64, capacity: Option<f64>| {
            capacity.is_some_and(|c| used > 0.0 && used >= c - tolerance * c.max(1.0))
        };
        let mut by_link: Vec<Vec<(usize, f64)>> = vec![Vec::new(); market.links.len()];
        for k in 0..g.commodities.len() {
            for (e, x) in flow.edges(g, k) {
                let Some(i) = g.graph[e].link else { continue };
                // A finite link is two edges; its flow is counted once, on the first.
                if x != 0.0 && g.link_edges.get(i).is_some_and(|&(first, _)| first == e) {
                    by_link[i].push((k, x));
                }
            }
        }
        let links = by_link
            .into_iter()
            .enumerate()
            .map(|(i, by_commodity)| {
                let total = by_commodity.iter().map(|&(_, x)| x).sum::<f64>() + 0.0;
                let bandwidth = market.links[i].bandwidth;
                LinkUsage {
                    link: i,
                    flow: total,
                    by_commodity,
                    bandwidth,
                    saturated: full(total, bandwidth),
                }
            })
            .collect();
        let mut brokers = Vec::with_capacity(market.brokers.len());
        let mut providers = Vec::with_capacity(market.providers.len());
        for n in g.graph.node_indices() {
            let node = g.node(n);
            let list = match node.kind {
                NodeKind::Broker(_) => &mut brokers,
                NodeKind::Provider(_) => &mut providers,
                _ => continue,
            };
            let u = used[n.index()] + 0.0;
            list.push(ResourceUsage {
                id: node.name.clone(),
                used: u,
                capacity: node.capacity,
                saturated: full(u, node.capacity),
            });
        }
        Usage {
            links,
            brokers,
            providers,
            served: (0..g.commodities.len())
                .map(|k| flow.served(g, k))
                .collect(),
            tolerance,
        }
    }

    /// The largest flow on any link (0 without links).
    pub fn max_link_flow(&self) -> f64 {
        self.links.iter().fold(0.0, |m, l| m.max(l.flow))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examples;

    /// tiny's P3 optimum worked by hand (tiny.md §7): u1 5 via p1; u2 5 via p1 and 8
    /// via b1 → b2 → p2; u3 nothing.
    fn tiny_p3(g: &ExpandedGraph) -> Flow {
        let mut f = Flow::zero(g);
        let mut put = |k: usize, path: &[&str], x: f64| {
            for w in path.windows(2) {
                let (a, b) = (g.node_named(w[0]).unwrap(), g.node_named(w[1]).unwrap());
                let e = g.graph.find_edge(a, b).unwrap();
                let pairs = g.pairs();
                let p = pairs.find(k, e).unwrap() - pairs.range(k).start;
                f.x[k][p] += x;
            }
        };
        put(0, &["u1", "u1->b1", "b1", "p1", "t(u1)"], 5.0);
        put(1, &["u2", "b1", "p1", "t(u2)"], 5.0);
        put(
            1,
            &["u2", "b1", "b1->b2", "b2", "b2->p2", "p2", "t(u2)"],
            8.0,
        );
        f
    }

    #[test]
    fn tiny_p3_loads_are_the_hand_loads() {
        let m = examples::tiny();
        let g = ExpandedGraph::new(&m);
        let u = Usage::of(&m, &g, &tiny_p3(&g), 1e-6);
        // tiny.md §7: u1->b1 5/5, p1 15/15, b1->b2 8/8 bind; b1 18/25, b2 8/20,
        // b2->p2 8/15, p2 16/19 are slack.
        let link = |from: &str, to: &str| {
            u.links
                .iter()
                .find(|l| m.links[l.link].from == from && m.links[l.link].to == to)
                .unwrap()
        };
        assert_eq!(
            (link("u1", "b1").flow, link("u1", "b1").saturated),
            (5.0, true)
        );
        assert_eq!(
            (link("b1", "b2").flow, link("b1", "b2").saturated),
            (8.0, true)
        );
        assert_eq!(
            (link("b2", "p2").flow, link("b2", "p2").saturated),
            (8.0, false)
        );
        assert_eq!(link("u2", "b1").flow, 13.0);
        assert!(
            !link("u2", "b1").saturated,
            "an unlimited link is never full"
        );
        assert_eq!(
            (link("u3", "b2").flow, link("u3", "b2").by_commodity.len()),
            (0.0, 0)
        );
        assert_eq!(link("b1", "p1").by_commodity, vec![(0, 5.0), (1, 5.0)]);
        let res = |id: &str| {
            u.brokers
                .iter()
                .chain(&u.providers)
                .find(|r| r.id == id)
                .unwrap()
        };
        assert_eq!((res("p1").used, res("p1").saturated), (15.0, true));
        assert_eq!((res("p2").used, res("p2").saturated), (16.0, false));
        assert_eq!((res("b1").used, res("b2").used), (18.0, 8.0));
        assert_eq!(u.served, vec![5.0, 13.0, 0.0]);
        assert_eq!(u.max_link_flow(), 13.0);
    }
}
