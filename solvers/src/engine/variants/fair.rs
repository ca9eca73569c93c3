//! `fair`: w = 1 everywhere — the paper's standard feasible flow balancing ([MCF-Grid]
//! §5). Pushes go downhill by queue height alone; a demand-mode source discards above
//! the queue ceiling.

use petgraph::graph::EdgeIndex;

use super::{Nothing, PushPolicy};
use crate::engine::protocol::Local;
use crate::engine::setup::Setup;

/// The fair variant's policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fair;

impl PushPolicy for Fair {
    const NAME: &'static str = "fair";
    const SUMMARY: &'static str = "Every edge weighs the same: the paper's standard flow balancing";

    type Commodity = Nothing;
    type Edge = Nothing;
    type Slot = Nothing;
    type Announce = Nothing;
    type Stamp = Nothing;
    type Push = ();

    fn configure_commodity(_: &Setup<'_, '_>, _: usize) -> Nothing {
        Nothing {}
    }

    fn configure_edge(_: &Setup<'_, '_>, _: EdgeIndex, _: usize) -> Nothing {
        Nothing {}
    }

    fn push(_: &Local, _: &Nothing, _: &Nothing) -> Option<()> {
        Some(())
    }

    fn term(_: &Local, _: &(), _: &Nothing, _: bool, _: &Nothing) -> Option<(f64, f64)> {
        Some((1.0, 0.0))
    }
}
