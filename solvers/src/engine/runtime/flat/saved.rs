//! Saving and resuming the flat runtime's state ([`crate::engine::replan`]): its
//! arrays read out into, and written back from, the runtimes' common
//! [`NodesState`], so a state saved on one runtime resumes on another.

use brokerflow_graphs::ExpandedGraph;

use super::{Flat, Layout};
use crate::engine::accounting::Ring;
use crate::engine::runtime::{LoadError, NodesState};
use crate::engine::variants::PushPolicy;

/// Per out-edge of the layout, its G′ edge index: the out-edges of every node are its
/// leaving pairs of the commodities the engine carries, in the same order.
fn out_edges<P: PushPolicy>(g: &ExpandedGraph, l: &Layout<P>) -> Vec<usize> {
    let pairs = g.pairs();
    let carried = |k: usize| l.k_start[k] < l.k_start[k + 1];
    let mut edges = Vec::with_capacity(l.out_len());
    for &n in &l.node {
        for &p in pairs.leaving(petgraph::graph::NodeIndex::new(n as usize)) {
            if carried(pairs.commodity(p)) {
                edges.push(pairs.edge(p).index());
            }
        }
    }
    debug_assert_eq!(edges.len(), l.out_len());
    edges
}

/// Per node with a capacity, whether it carries a commodity (its λ is saved).
fn saved_lambda<P: PushPolicy>(l: &Layout<P>, n: usize) -> bool {
    l.capacity(n).is_some() && l.node_slot[n] < l.node_slot[n + 1]
}

impl<P: PushPolicy> Flat<'_, P> {
    pub(super) fn save_state(&self) -> NodesState {
        let (l, s) = (&self.layout, &self.state);
        let edges = out_edges(self.g, l);
        let mut saved = NodesState::default();
        for n in 0..l.node.len() {
            for x in l.node_slot[n] as usize..l.node_slot[n + 1] as usize {
                let k = l.local[x].k as usize;
                let policy = serde_json::to_value(s.slots[x]).unwrap_or_default();
                let node = l.node[n] as usize;
                saved.queues.insert((node, k), (s.held[x], policy));
                let outs = l.slot_out[x] as usize..l.slot_out[x + 1] as usize;
                for (&e, &push) in edges[outs.clone()].iter().zip(&s.pushed[outs]) {
                    saved.pushed.insert((node, k, e), push);
                }
            }
        }
        saved.sent = self.sent.rows().map(<[f64]>::to_vec).collect();
        let columns: Vec<usize> = (0..l.node.len())
            .filter(|&n| saved_lambda(l, n))
            .map(|n| l.node_cap[n] as usize)
            .collect();
        saved.lambda = self
            .lambda
            .rows()
            .map(|row| columns.iter().map(|&c| row[c]).collect())
            .collect();
        saved
    }

    pub(super) fn load_state(
        &mut self,
        saved: &mut NodesState,
        window: bool,
    ) -> Result<(), LoadError> {
        let edges = out_edges(self.g, &self.layout);
        let (l, s) = (&self.layout, &mut self.state);
        for n in 0..l.node.len() {
            for x in l.node_slot[n] as usize..l.node_slot[n + 1] as usize {
                let local = &l.local[x];
                let k = local.k as usize;
                let node = l.node[n] as usize;
                let outs = (l.slot_out[x + 1] - l.slot_out[x]) as usize;
                // Jobs can only be held where some usable edge brings them (or at the
                // source): anywhere else they could never be announced, so they are
                // left to be counted as dropped.
                let reachable = local.is_source() || local.queues() as usize > outs;
                if reachable {
                    if let Some((held, policy)) = saved.queues.remove(&(node, k)) {
                        s.slots[x] =
                            serde_json::from_value(policy).map_err(|source| LoadError::Policy {
                                commodity: k,
                                node,
                                source,
                            })?;
                        s.held[x] = held;
                    }
                }
                let range = l.slot_out[x] as usize..l.slot_out[x + 1] as usize;
                for (&e, push) in edges[range.clone()].iter().zip(&mut s.pushed[range]) {
                    *push = saved.pushed.remove(&(node, k, e)).unwrap_or(0.0);
                }
                // What delivery would have announced after the saved round.
                if local.queues() as usize > outs {
                    s.heights[x] = l.height(x, s.held[x]);
                }
                s.announced[x] = P::announce(&s.slots[x]);
            }
        }
        if window {
            // Both rings are built before either is kept: a window that does not fit
            // leaves the window empty.
            let size = self.sent.size();
            let sent =
                Ring::from_rows(size, l.out_len(), &saved.sent).ok_or(LoadError::SentRows {
                    rows: saved.sent.len(),
                    out_edges: l.out_len(),
                })?;
            let width = *l.node_cap.last().unwrap_or(&0) as usize;
            let columns: Vec<usize> = (0..l.node.len())
                .filter(|&n| saved_lambda(l, n))
                .map(|n| l.node_cap[n] as usize)
                .collect();
            let mut rows = Vec::with_capacity(saved.lambda.len());
            for row in &saved.lambda {
                if row.len() != columns.len() {
                    return Err(LoadError::PriceColumns {
                        prices: row.len(),
                        priced: columns.len(),
                    });
                }
                let mut full = vec![0.0; width];
                for (&c, &x) in columns.iter().zip(row) {
                    full[c] = x;
                }
                rows.push(full);
            }
            if rows.len() != saved.sent.len() {
                return Err(LoadError::PriceRounds);
            }
            self.lambda = Ring::from_rows(size, width, &rows).ok_or(LoadError::TooLong)?;
            self.sent = sent;
        }
        Ok(())
    }
}
