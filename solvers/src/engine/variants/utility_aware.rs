//! `utility-aware`: w^k_{n,n′} = d_k × the utility moving one job of k over the edge
//! generates for its sender, floored at a positive value ([MCF-Grid] §6; design §5).
//!
//! The utility is known locally: with posted prices, the sender's own margin on that
//! edge; without them, v_k minus the costs the sender incurs by that move (its own
//! cost and the link's); a bandwidth node carries the weight of its link's sender.
//! The floor defaults to the smallest valuation (a floor of 1e-3 often fails to
//! converge). The ×d_k makes the priority at a contended node value per resource
//! unit, since heights are normalised by d_k. Weights matter only where a node is
//! saturated (λ > 0). A demand-mode source discards above the queue ceiling, by default
//! a height of 4 ([`UtilityAware::DEFAULT_CEILING`]).

use brokerflow_graphs::{ExpandedGraph, Market, NodeKind};
use petgraph::graph::{EdgeIndex, NodeIndex};
use serde::{Deserialize, Serialize};

use super::{Nothing, PushPolicy};
use crate::engine::protocol::Local;
use crate::engine::setup::Setup;

/// The utility-aware variant's policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UtilityAware;

/// An out-edge's push weight w^k_{n,n′}.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Weight {
    /// d_k × max(utility of the move, floor).
    pub weight: f64,
}

impl PushPolicy for UtilityAware {
    const NAME: &'static str = "utility-aware";
    const SUMMARY: &'static str = "Each move weighs the utility it makes for its sender (value or price minus costs), so contended resources favour valuable jobs";

    type Commodity = Nothing;
    type Edge = Weight;
    type Slot = Nothing;
    type Announce = Nothing;
    type Stamp = Nothing;
    type Push = ();

    /// Measured on Abilene (\[SNDlib\]) and welfare.toml's markets
    /// (experiments/rounds.md): at 20 utility-aware needed 12 748 rounds on Abilene, at
    /// 4 it needs about 2 100 with the same welfare (93 % of P3); below 3 its welfare
    /// there falls (76 % at 1).
    const DEFAULT_CEILING: f64 = 4.0;

    fn configure_commodity(_: &Setup<'_, '_>, _: usize) -> Nothing {
        Nothing {}
    }

    fn configure_edge(setup: &Setup<'_, '_>, e: EdgeIndex, k: usize) -> Weight {
        let g = setup.graph();
        Weight {
            weight: g.commodities[k].demand
                * utility_of_move(setup.market(), g, e, k).max(setup.weight_floor()),
        }
    }

    fn push(_: &Local, _: &Nothing, _: &Nothing) -> Option<()> {
        Some(())
    }

    fn term(_: &Local, _: &(), edge: &Weight, _: bool, _: &Nothing) -> Option<(f64, f64)> {
        Some((edge.weight, 0.0))
    }
}

/// The utility moving one job of k over G′ edge e generates for its sender (design §5):
/// with posted prices, the sender's margin; without, v_k minus the costs the sender
/// incurs (its own and the link's). A bandwidth node carries its link's sender's weight.
pub fn utility_of_move(market: &Market, g: &ExpandedGraph, e: EdgeIndex, k: usize) -> f64 {
    let c = &g.commodities[k];
    let (tail, head) = g.graph.edge_endpoints(e).expect("edge of G'");
    // The market-level move: sender u, receiver v, and the link's first G′ edge.
    let (sender, receiver, first) = match (g.node(tail).kind, g.node(head).kind) {
        (NodeKind::Bandwidth(l), _) => {
            let (first, _) = g.link_edges[l];
            let (u, _) = g.graph.edge_endpoints(first).expect("edge of G'");
            (u, head, first)
        }
        (_, NodeKind::Bandwidth(l)) => {
            let (_, second) = g.link_edges[l];
            let second = second.expect("a bandwidth node's link has two edges");
            let (_, v) = g.graph.edge_endpoints(second).expect("edge of G'");
            (tail, v, e)
        }
        _ => (tail, head, e),
    };
    let cost = g.unit_cost(first, k);
    let price = |n: NodeIndex| -> Option<f64> {
        let prices = market.prices.as_ref()?;
        let id = &g.node(n).name;
        let user = &c.id;
        match g.node(n).kind {
            NodeKind::Broker(_) => prices.broker.get(id)?.get(user).copied(),
            NodeKind::Provider(_) => prices.provider.get(id)?.get(user).copied(),
            _ => None,
        }
    };
    let gets = match g.node(sender).kind {
        NodeKind::User(_) => Some(c.valuation),
        _ => price(sender),
    };
    let pays = match g.node(receiver).kind {
        NodeKind::Collection(_) => Some(0.0),
        _ => price(receiver),
    };
    match (gets, pays) {
        (Some(gets), Some(pays)) => gets - pays - cost,
        _ => c.valuation - cost,
    }
}
