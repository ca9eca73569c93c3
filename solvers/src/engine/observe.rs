//! Observers: whatever watches a run attaches from outside the round loop (after
//! argmin's `Observe` and `ObserverMode::Every`): the per-round trace, checkpoints of
//! the window welfare, a progress display. The engine calls them after the rounds
//! their mode selects and once at the end; they read the engine, never change it, so a
//! run gives the same result with or without them.

use super::{Engine, TraceRow};

/// Something that watches a run (from the thread that runs the rounds).
pub trait Observe: Send {
    /// After every round its [`ObserverMode`] selects (rounds count from 1).
    fn observe_round(&mut self, _engine: &Engine<'_>) {}
    /// Once, after the last round (also when the run ran none).
    fn observe_final(&mut self, _engine: &Engine<'_>) {}
}

/// When an observer is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObserverMode {
    /// After every round.
    Always,
    /// After every n-th round (rounds n, 2n, …).
    Every(usize),
    /// Only at the end.
    Never,
}

impl ObserverMode {
    fn selects(self, round: usize) -> bool {
        match self {
            ObserverMode::Always => true,
            ObserverMode::Every(n) => n > 0 && round % n == 0,
            ObserverMode::Never => false,
        }
    }
}

/// The observers of one run, each with its mode.
#[derive(Default)]
pub struct Observers<'o> {
    list: Vec<(&'o mut dyn Observe, ObserverMode)>,
}

impl<'o> Observers<'o> {
    /// None yet.
    pub fn new() -> Observers<'o> {
        Observers { list: Vec::new() }
    }

    /// Adds an observer.
    pub fn push(&mut self, observer: &'o mut dyn Observe, mode: ObserverMode) -> &mut Self {
        self.list.push((observer, mode));
        self
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(crate) fn round(&mut self, engine: &Engine<'_>) {
        for (o, mode) in &mut self.list {
            if mode.selects(engine.rounds()) {
                o.observe_round(engine);
            }
        }
    }

    pub(crate) fn finish(&mut self, engine: &Engine<'_>) {
        for (o, _) in &mut self.list {
            o.observe_final(engine);
        }
    }
}

/// Observers nest: a caller's observers ride along with a run's own (each still
/// called after the rounds its mode selects).
impl Observe for Observers<'_> {
    fn observe_round(&mut self, engine: &Engine<'_>) {
        self.round(engine);
    }

    fn observe_final(&mut self, engine: &Engine<'_>) {
        self.finish(engine);
    }
}

/// The per-(round, commodity) trace: one row per commodity for every observed round
/// (attach with [`ObserverMode::Always`] for every round).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// Rows in round order, commodities in index order within a round.
    pub rows: Vec<TraceRow>,
}

impl Observe for Trace {
    fn observe_round(&mut self, engine: &Engine<'_>) {
        let l = engine.ledger();
        self.rows.extend((0..l.queued.len()).map(|k| TraceRow {
            round: engine.rounds(),
            commodity: k,
            injected: l.injected[k],
            absorbed: l.absorbed[k],
            queued: l.queued[k],
            discarded: l.discarded[k],
            in_flight: l.in_flight[k],
            lost: l.lost[k],
        }));
    }
}
