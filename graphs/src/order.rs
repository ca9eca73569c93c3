//! A total order on costs, for the binary heaps of the shortest-path searches
//! (Dijkstra over link costs, reach costs and job prices).

use std::cmp::Ordering;

/// A cost ordered by [`f64::total_cmp`], and equal exactly when that order says so,
/// so that it can key a [`std::collections::BinaryHeap`] (wrap it in
/// [`std::cmp::Reverse`] for cheapest first). Meant for finite costs, where the order
/// is the usual one.
#[derive(Debug, Clone, Copy)]
pub struct TotalOrder(pub f64);

impl PartialEq for TotalOrder {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for TotalOrder {}

impl PartialOrd for TotalOrder {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TotalOrder {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}
