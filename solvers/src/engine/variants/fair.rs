//! `fair`: w = 1 everywhere — the paper's standard feasible flow balancing ([MCF-Grid]
//! §5). Pushes go downhill by queue height alone; a demand-mode source discards above
//! the queue ceiling, by default a height of 1.25 ([`Fair::DEFAULT_CEILING`]).

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

    /// Measured on Abilene (\[SNDlib\]) and welfare.toml's markets
    /// (experiments/rounds.md): at 20 fair did not converge on Abilene within 20 000
    /// rounds, at 1.25 it does in about 2 000 and serves as much on the generated
    /// markets (within 2 %); at 1 a market where every demand fits (figure3) is no
    /// longer served whole.
    const DEFAULT_CEILING: f64 = 1.25;

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
