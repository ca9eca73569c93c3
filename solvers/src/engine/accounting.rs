//! Accounting from per-node reports: the job ledger, capacity, the sliding window and
//! the convergence test (design §5). Runtimes report per node; everything here reduces
//! those reports in a fixed order (nodes in increasing G′ index, then commodities in
//! increasing index), so the sums are the same bits whichever runtime, thread count or
//! process produced the reports.

use super::EngineOptions;
use brokerflow_graphs::ExpandedGraph;

/// One round's ledger per commodity: what every node reported, summed in node order.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundLedger {
    /// Jobs injected this round.
    pub injected: Vec<f64>,
    /// Jobs discarded at the sources this round.
    pub discarded: Vec<f64>,
    /// Jobs absorbed at the collection points this round.
    pub absorbed: Vec<f64>,
    /// Jobs held anywhere after the round.
    pub queued: Vec<f64>,
    /// Jobs in flight after the round (sent, delayed by a fault, not yet delivered).
    pub in_flight: Vec<f64>,
    /// Jobs lost this round (in messages a fault lost).
    pub lost: Vec<f64>,
}

impl RoundLedger {
    /// All zero, for `commodities` commodities.
    pub fn new(commodities: usize) -> RoundLedger {
        RoundLedger {
            injected: vec![0.0; commodities],
            discarded: vec![0.0; commodities],
            absorbed: vec![0.0; commodities],
            queued: vec![0.0; commodities],
            in_flight: vec![0.0; commodities],
            lost: vec![0.0; commodities],
        }
    }

    /// The round's unsettled share, over all commodities: 1 − absorbed / (injected −
    /// discarded − lost), the part of the jobs admitted and still in the network this
    /// round that did not reach a collection point; 0 when nothing was admitted. Jobs a
    /// fault lost left the network and are not counted as unsettled. Queued and
    /// in-flight jobs are stocks, constant once the flow is steady, so they do not
    /// enter a per-round rate. A display figure (the progress line), not the
    /// convergence test.
    pub fn residual(&self) -> f64 {
        let admitted: f64 = (0..self.injected.len())
            .map(|k| self.injected[k] - self.discarded[k] - self.lost[k])
            .sum();
        let absorbed: f64 = self.absorbed.iter().sum();
        if admitted > 0.0 {
            1.0 - absorbed / admitted
        } else {
            0.0
        }
    }

    /// Back to zero, for the next round.
    pub fn clear(&mut self) {
        for v in [
            &mut self.injected,
            &mut self.discarded,
            &mut self.absorbed,
            &mut self.queued,
            &mut self.in_flight,
            &mut self.lost,
        ] {
            v.iter_mut().for_each(|x| *x = 0.0);
        }
    }

    /// Adds one node's report of commodity k. Call it for nodes in increasing G′ node
    /// index (each node's commodities in increasing k): the order of the sums.
    pub fn add(&mut self, k: usize, injected: f64, discarded: f64, absorbed: f64, held: f64) {
        self.injected[k] += injected;
        self.discarded[k] += discarded;
        self.absorbed[k] += absorbed;
        self.queued[k] += held;
    }
}

/// How far a node's resource use exceeds its capacity, relative to max(R, 1) (≤ 0
/// when it fits).
pub fn capacity_excess(used: f64, capacity: f64) -> f64 {
    (used - capacity) / capacity.max(1.0)
}

/// The last `size` rounds of `width` values each, oldest first: each round writes one
/// row (overwriting the oldest once full). Per-node windows of the runtimes (a node's
/// out-edges' amounts, its λ) and the driver's ledger window are rows of these.
#[derive(Debug, Clone)]
pub struct Ring {
    size: usize,
    width: usize,
    data: Vec<f64>,
    len: usize,
    next: usize,
}

impl Ring {
    /// An empty window of `size` rounds × `width` values.
    pub fn new(size: usize, width: usize) -> Ring {
        // Written once here, so the rounds do not fault the pages in one by one.
        let mut data = Vec::with_capacity(size * width);
        data.resize(size * width, 0.0);
        Ring {
            size,
            width,
            data,
            len: 0,
            next: 0,
        }
    }

    /// Rounds held (≤ size).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Rounds it holds at most.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether no round is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the window holds `size` rounds.
    pub fn full(&self) -> bool {
        self.len == self.size
    }

    /// The row the next round writes: the oldest round's while full (read it first if
    /// it is needed). [`Ring::commit`] makes it the newest.
    pub fn next_row(&mut self) -> &mut [f64] {
        let at = self.next * self.width;
        &mut self.data[at..at + self.width]
    }

    /// The row [`Ring::next_row`] hands out, to read.
    pub fn current(&self) -> &[f64] {
        let at = self.next * self.width;
        &self.data[at..at + self.width]
    }

    /// The row written by [`Ring::next_row`] becomes the newest.
    pub fn commit(&mut self) {
        self.len = (self.len + 1).min(self.size);
        self.next = (self.next + 1) % self.size;
    }

    /// The newest row, if any.
    pub fn newest(&self) -> Option<&[f64]> {
        (self.len > 0).then(|| {
            let at = ((self.next + self.size - 1) % self.size) * self.width;
            &self.data[at..at + self.width]
        })
    }

    /// The rows held, oldest first.
    pub fn rows(&self) -> impl Iterator<Item = &[f64]> {
        let start = if self.full() { self.next } else { 0 };
        (0..self.len).map(move |r| {
            let at = ((start + r) % self.size) * self.width;
            &self.data[at..at + self.width]
        })
    }

    /// Per column, the mean over the rows held: Σ oldest to newest (as an iterator's
    /// sum), divided by max(rows, 1).
    pub fn means(&self) -> Vec<f64> {
        let mut total = vec![-0.0; self.width];
        for row in self.rows() {
            for (t, x) in total.iter_mut().zip(row) {
                *t += x;
            }
        }
        let n = self.len.max(1) as f64;
        total.iter_mut().for_each(|t| *t /= n);
        total
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.data.len() * std::mem::size_of::<f64>()
    }

    /// A window of `size` rounds × `width` values holding `rows` (oldest first; at
    /// most `size` of them, each `width` long), as if they had been written in turn:
    /// its means are the same bits. `None` if the rows do not fit.
    pub fn from_rows(size: usize, width: usize, rows: &[Vec<f64>]) -> Option<Ring> {
        if rows.len() > size || rows.iter().any(|r| r.len() != width) {
            return None;
        }
        let mut ring = Ring::new(size, width);
        for row in rows {
            ring.next_row().copy_from_slice(row);
            ring.commit();
        }
        Some(ring)
    }
}

/// The mean of `len` rounds of zeros, as [`Ring::means`] computes it (−0 when no round
/// was run, as an empty sum is).
pub fn mean_of_zeros(len: usize) -> f64 {
    std::iter::repeat_n(0.0, len).sum::<f64>() / len.max(1) as f64
}

/// The floor, as a share of d_k per round, of the admitted amount the settled test
/// measures a commodity's imbalance against ([`Accounting::satisfied`]).
const ADMITTED_FLOOR: f64 = 0.1;

/// [`Accounting`] as plain numbers: the cumulative ledger (injected, discarded,
/// absorbed), the window's rows (discarded, absorbed; oldest first), the window sums
/// (injected, discarded, absorbed) and the two largest residuals.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AccountsSnapshot {
    pub(crate) cumulative: [Vec<f64>; 3],
    pub(crate) window: [Vec<Vec<f64>>; 2],
    pub(crate) sums: [Vec<f64>; 3],
    pub(crate) max_ledger_residual: f64,
    pub(crate) max_capacity_violation: f64,
}

impl AccountsSnapshot {
    /// A re-planned run's accounts before its first round: the jobs `carried` over
    /// into the network count as injected, so the ledger's identity holds from then
    /// on; the window holds a saved run's last rounds, `window` = [discarded,
    /// absorbed] per round and commodity, each round having injected `each` (none: the
    /// window starts afresh).
    pub(crate) fn replanned(
        carried: &[f64],
        each: &[f64],
        window: [Vec<Vec<f64>>; 2],
    ) -> AccountsSnapshot {
        let n = carried.len();
        let sum = |rows: &[Vec<f64>]| -> Vec<f64> {
            if rows.is_empty() {
                return vec![0.0; n];
            }
            (0..n)
                .map(|k| rows.iter().map(|r| r.get(k).copied().unwrap_or(0.0)).sum())
                .collect()
        };
        let injected = vec![each.to_vec(); window[0].len()];
        AccountsSnapshot {
            cumulative: [carried.to_vec(), vec![0.0; n], vec![0.0; n]],
            sums: [sum(&injected), sum(&window[0]), sum(&window[1])],
            window,
            max_ledger_residual: 0.0,
            max_capacity_violation: 0.0,
        }
    }
}

/// The driver's running accounts: cumulative ledger, the window's ledger sums, the
/// largest ledger residual and capacity excess, and the convergence test.
#[derive(Debug, Clone)]
pub(crate) struct Accounting {
    /// a_k.
    injection: Vec<f64>,
    cumulative_injected: Vec<f64>,
    cumulative_discarded: Vec<f64>,
    cumulative_absorbed: Vec<f64>,
    cumulative_lost: Vec<f64>,
    /// The window's injected, discarded and absorbed per round (injected is a_k but in
    /// rounds where a fault keeps the source down).
    injected: Ring,
    discarded: Ring,
    absorbed: Ring,
    sum_injected: Vec<f64>,
    sum_discarded: Vec<f64>,
    sum_absorbed: Vec<f64>,
    pub(crate) max_ledger_residual: f64,
    pub(crate) max_capacity_violation: f64,
}

impl Accounting {
    pub(crate) fn new(injection: Vec<f64>, window: usize) -> Accounting {
        let n = injection.len();
        Accounting {
            injection,
            cumulative_injected: vec![0.0; n],
            cumulative_discarded: vec![0.0; n],
            cumulative_absorbed: vec![0.0; n],
            cumulative_lost: vec![0.0; n],
            injected: Ring::new(window, n),
            discarded: Ring::new(window, n),
            absorbed: Ring::new(window, n),
            sum_injected: vec![0.0; n],
            sum_discarded: vec![0.0; n],
            sum_absorbed: vec![0.0; n],
            max_ledger_residual: 0.0,
            max_capacity_violation: 0.0,
        }
    }

    /// Books one round: the cumulative ledger and its residual, the window. The
    /// residual is cumulative injected − absorbed − queued − in flight − discarded −
    /// lost, in that order of subtraction (design §5, "Faults").
    pub(crate) fn book(&mut self, this: &RoundLedger, capacity_excess: f64) {
        self.max_capacity_violation = self.max_capacity_violation.max(capacity_excess);
        let commodities = self.injection.len();
        for k in 0..commodities {
            debug_assert!(this.injected[k] == self.injection[k] || this.injected[k] == 0.0);
            self.cumulative_injected[k] += this.injected[k];
            self.cumulative_discarded[k] += this.discarded[k];
            self.cumulative_absorbed[k] += this.absorbed[k];
            self.cumulative_lost[k] += this.lost[k];
            let residual = (self.cumulative_injected[k]
                - self.cumulative_absorbed[k]
                - this.queued[k]
                - this.in_flight[k]
                - self.cumulative_discarded[k]
                - self.cumulative_lost[k])
                .abs()
                / self.cumulative_injected[k].max(1.0);
            self.max_ledger_residual = self.max_ledger_residual.max(residual);
            debug_assert!(residual <= 1e-9, "ledger of commodity {k}: {residual}");
        }
        // The window sums run: add the new round, then subtract the one leaving.
        let full = self.discarded.full();
        let (injected, discarded, absorbed) = (
            self.injected.next_row(),
            self.discarded.next_row(),
            self.absorbed.next_row(),
        );
        for k in 0..commodities {
            let (i, d, a) = (this.injected[k], this.discarded[k], this.absorbed[k]);
            self.sum_injected[k] += i;
            self.sum_discarded[k] += d;
            self.sum_absorbed[k] += a;
            if full {
                self.sum_injected[k] -= injected[k];
                self.sum_discarded[k] -= discarded[k];
                self.sum_absorbed[k] -= absorbed[k];
            }
            injected[k] = i;
            discarded[k] = d;
            absorbed[k] = a;
        }
        self.injected.commit();
        self.discarded.commit();
        self.absorbed.commit();
    }

    /// Rounds in the window.
    pub(crate) fn window_len(&self) -> usize {
        self.discarded.len()
    }

    /// Whether the window holds a whole window of rounds.
    pub(crate) fn window_full(&self) -> bool {
        self.discarded.full()
    }

    /// Per commodity, window-averaged jobs injected and discarded per round.
    pub(crate) fn window_averages(&self) -> (Vec<f64>, Vec<f64>) {
        let n = self.window_len().max(1) as f64;
        (
            self.sum_injected.iter().map(|x| x / n).collect(),
            self.sum_discarded.iter().map(|x| x / n).collect(),
        )
    }

    /// Per commodity, the window-averaged growth of its queues per round: injected −
    /// discarded − absorbed (negative while queues drain). The ledger's identity makes
    /// this exactly the average change of what the network holds.
    pub(crate) fn window_drift(&self) -> Vec<f64> {
        let n = self.window_len().max(1) as f64;
        (0..self.sum_injected.len())
            .map(|k| (self.sum_injected[k] - self.sum_discarded[k] - self.sum_absorbed[k]) / n)
            .collect()
    }

    /// Whether every commodity's amounts have settled over the window (design §5):
    /// what reaches its collection point and what its source admitted (injected
    /// minus discarded) differ by at most ε of the admitted amount,
    /// |admitted − absorbed| ≤ ε·max(admitted, d_k·rounds / 10). Both ways: a queue
    /// still filling (jobs admitted, paid for on their way, not yet served) fails it
    /// as a queue draining does, whatever the injection mode; the floor of a tenth of
    /// the demand keeps a user that admits almost nothing from holding up the run over
    /// a trickle that matters to no one's welfare.
    pub(crate) fn satisfied(&self, g: &ExpandedGraph, o: &EngineOptions) -> bool {
        let rounds = self.window_len() as f64;
        (0..g.commodities.len()).all(|k| {
            if self.injection[k] <= 0.0 {
                return true;
            }
            let admitted = self.sum_injected[k] - self.sum_discarded[k];
            let absorbed = self.sum_absorbed[k];
            let floor = ADMITTED_FLOOR * g.commodities[k].demand * rounds;
            (admitted - absorbed).abs() <= o.epsilon * admitted.max(floor)
        })
    }

    /// The accounts as plain numbers, to save exactly ([`super::replan`]).
    pub(crate) fn snapshot(&self) -> AccountsSnapshot {
        AccountsSnapshot {
            cumulative: [
                self.cumulative_injected.clone(),
                self.cumulative_discarded.clone(),
                self.cumulative_absorbed.clone(),
            ],
            window: [
                self.discarded.rows().map(<[f64]>::to_vec).collect(),
                self.absorbed.rows().map(<[f64]>::to_vec).collect(),
            ],
            sums: [
                self.sum_injected.clone(),
                self.sum_discarded.clone(),
                self.sum_absorbed.clone(),
            ],
            max_ledger_residual: self.max_ledger_residual,
            max_capacity_violation: self.max_capacity_violation,
        }
    }

    /// The accounts restored from a snapshot ([`Accounting::snapshot`], or
    /// [`AccountsSnapshot::replanned`]), for injections `injection` and a window of
    /// `window` rounds, every round of the snapshot's window having injected `each`
    /// (without faults, which a saved state never carries, every round injects the
    /// a_k of its run); `None` if the sizes do not fit.
    pub(crate) fn restored(
        injection: Vec<f64>,
        window: usize,
        s: &AccountsSnapshot,
        each: &[f64],
    ) -> Option<Accounting> {
        let n = injection.len();
        let sized = |v: &Vec<f64>| (v.len() == n).then(|| v.clone());
        let [ci, cd, ca] = &s.cumulative;
        let [si, sd, sa] = &s.sums;
        let [wd, wa] = &s.window;
        if wd.len() != wa.len() || each.len() != n {
            return None;
        }
        let injected_rows: Vec<Vec<f64>> = (0..wd.len()).map(|_| each.to_vec()).collect();
        Some(Accounting {
            cumulative_lost: vec![0.0; n],
            injected: Ring::from_rows(window, n, &injected_rows)?,
            cumulative_injected: sized(ci)?,
            cumulative_discarded: sized(cd)?,
            cumulative_absorbed: sized(ca)?,
            discarded: Ring::from_rows(window, n, wd)?,
            absorbed: Ring::from_rows(window, n, wa)?,
            sum_injected: sized(si)?,
            sum_discarded: sized(sd)?,
            sum_absorbed: sized(sa)?,
            max_ledger_residual: s.max_ledger_residual,
            max_capacity_violation: s.max_capacity_violation,
            injection,
        })
    }

    /// Bytes of the window.
    pub(crate) fn window_bytes(&self) -> usize {
        self.injected.bytes() + self.discarded.bytes() + self.absorbed.bytes()
    }
}

#[cfg(test)]
mod residual_tests {
    use super::RoundLedger;

    #[test]
    fn the_residual_leaves_lost_jobs_out_of_what_was_admitted() {
        let mut l = RoundLedger::new(2);
        // Commodity 0: 10 injected, 2 discarded, 8 absorbed: settled.
        l.injected[0] = 10.0;
        l.discarded[0] = 2.0;
        l.absorbed[0] = 8.0;
        // Commodity 1: 6 injected, 1 lost, 5 absorbed, 3 in flight: settled too.
        l.injected[1] = 6.0;
        l.lost[1] = 1.0;
        l.absorbed[1] = 5.0;
        l.in_flight[1] = 3.0;
        assert_eq!(l.residual(), 0.0);
        // Half of commodity 1's admitted jobs stay in the network: 1 − 10.5 / 13.
        l.absorbed[1] = 2.5;
        assert!((l.residual() - (1.0 - 10.5 / 13.0)).abs() < 1e-15);
        assert_eq!(RoundLedger::new(3).residual(), 0.0);
    }

    #[test]
    fn the_residual_is_what_was_admitted_and_not_absorbed() {
        let l = RoundLedger {
            injected: vec![10.0, 4.0],
            discarded: vec![2.0, 0.0],
            absorbed: vec![6.0, 3.0],
            queued: vec![0.0, 0.0],
            in_flight: vec![0.0, 0.0],
            lost: vec![0.0, 0.0],
        };
        // admitted 8 + 4 = 12, absorbed 9: 1 - 9/12.
        assert_eq!(l.residual(), 0.25);
    }
}
