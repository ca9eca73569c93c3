//! The usable (edge, commodity) pairs of G′ as one compressed index (CSR): the layout
//! that the LP formulation, [`Flow`](crate::Flow), the independent checker and the
//! distributed engine share, instead of each re-deriving it.
//!
//! A *pair* is an edge e of G′ that commodity k can use (it lies on some s_k → t_k
//! path through nodes of positive capacity; design §4's pruning). Pairs are numbered
//! commodity-major: commodity k's pairs are `range(k)`, in increasing edge order,
//! which is exactly the order of `Commodity::usable`. Per node, the index lists the
//! pairs leaving it and the pairs entering it, sorted by (commodity, edge), so a node's
//! local view of every commodity is a contiguous run.

use std::ops::Range;

use petgraph::graph::{EdgeIndex, NodeIndex};

/// The CSR index of G′'s usable (edge, commodity) pairs.
///
/// Built once with G′ ([`ExpandedGraph::pairs`](crate::ExpandedGraph::pairs)); memory
/// is O(nodes + usable pairs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsablePairs {
    /// Commodity k's pairs are `offsets[k]..offsets[k + 1]`.
    offsets: Vec<usize>,
    /// Per pair: its edge.
    edge: Vec<EdgeIndex>,
    /// Per pair: its commodity.
    commodity: Vec<u32>,
    /// Per pair: the edge's tail and head.
    tail: Vec<NodeIndex>,
    head: Vec<NodeIndex>,
    /// Node n's outgoing pairs are `out[out_start[n]..out_start[n + 1]]`.
    out_start: Vec<usize>,
    out: Vec<usize>,
    /// Node n's incoming pairs are `into[in_start[n]..in_start[n + 1]]`.
    in_start: Vec<usize>,
    into: Vec<usize>,
}

impl UsablePairs {
    /// Builds the index from each commodity's sorted usable edges and the edges'
    /// endpoints. O(nodes + pairs).
    pub fn new(
        nodes: usize,
        usable: &[&[EdgeIndex]],
        endpoints: impl Fn(EdgeIndex) -> (NodeIndex, NodeIndex),
    ) -> UsablePairs {
        let total: usize = usable.iter().map(|u| u.len()).sum();
        let mut p = UsablePairs {
            offsets: Vec::with_capacity(usable.len() + 1),
            edge: Vec::with_capacity(total),
            commodity: Vec::with_capacity(total),
            tail: Vec::with_capacity(total),
            head: Vec::with_capacity(total),
            ..UsablePairs::default()
        };
        p.offsets.push(0);
        for (k, edges) in usable.iter().enumerate() {
            for &e in *edges {
                let (t, h) = endpoints(e);
                p.edge.push(e);
                p.commodity.push(k as u32);
                p.tail.push(t);
                p.head.push(h);
            }
            p.offsets.push(p.edge.len());
        }
        // Counting sort by node; pairs are visited in id order, i.e. by (commodity,
        // edge), so each node's run keeps that order.
        let csr = |ends: &[NodeIndex]| -> (Vec<usize>, Vec<usize>) {
            let mut start = vec![0usize; nodes + 1];
            for n in ends {
                start[n.index() + 1] += 1;
            }
            for i in 0..nodes {
                start[i + 1] += start[i];
            }
            let mut fill = start.clone();
            let mut list = vec![0usize; ends.len()];
            for (pair, n) in ends.iter().enumerate() {
                list[fill[n.index()]] = pair;
                fill[n.index()] += 1;
            }
            (start, list)
        };
        (p.out_start, p.out) = csr(&p.tail);
        (p.in_start, p.into) = csr(&p.head);
        p
    }

    /// Σ_k |usable_k|: the number of pairs.
    pub fn len(&self) -> usize {
        self.edge.len()
    }

    /// Whether no commodity can use any edge.
    pub fn is_empty(&self) -> bool {
        self.edge.is_empty()
    }

    /// Number of commodities.
    pub fn commodities(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The pair ids of commodity k, in increasing edge order.
    pub fn range(&self, k: usize) -> Range<usize> {
        self.offsets[k]..self.offsets[k + 1]
    }

    /// Commodity k's usable edges, sorted (the same slice as `Commodity::usable`).
    pub fn edges_of(&self, k: usize) -> &[EdgeIndex] {
        &self.edge[self.range(k)]
    }

    /// The pair id of (commodity k, edge e), if k can use e. O(log |usable_k|).
    pub fn find(&self, k: usize, e: EdgeIndex) -> Option<usize> {
        let r = self.range(k);
        self.edge[r.clone()]
            .binary_search(&e)
            .ok()
            .map(|i| r.start + i)
    }

    /// The pair's edge.
    pub fn edge(&self, pair: usize) -> EdgeIndex {
        self.edge[pair]
    }

    /// The pair's commodity.
    pub fn commodity(&self, pair: usize) -> usize {
        self.commodity[pair] as usize
    }

    /// The pair's edge's tail node.
    pub fn tail(&self, pair: usize) -> NodeIndex {
        self.tail[pair]
    }

    /// The pair's edge's head node.
    pub fn head(&self, pair: usize) -> NodeIndex {
        self.head[pair]
    }

    /// The pairs leaving node n, sorted by (commodity, edge).
    pub fn leaving(&self, n: NodeIndex) -> &[usize] {
        &self.out[self.out_start[n.index()]..self.out_start[n.index() + 1]]
    }

    /// The pairs entering node n, sorted by (commodity, edge).
    pub fn entering(&self, n: NodeIndex) -> &[usize] {
        &self.into[self.in_start[n.index()]..self.in_start[n.index() + 1]]
    }

    /// Commodity k's pairs leaving node n: a contiguous run of [`UsablePairs::leaving`]
    /// (pair ids are commodity-major).
    pub fn leaving_of(&self, n: NodeIndex, k: usize) -> &[usize] {
        commodity_run(self.leaving(n), self.range(k))
    }

    /// Commodity k's pairs entering node n: a contiguous run of
    /// [`UsablePairs::entering`].
    pub fn entering_of(&self, n: NodeIndex, k: usize) -> &[usize] {
        commodity_run(self.entering(n), self.range(k))
    }

    /// Bytes held by the index (for the scale reports).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.offsets.len() * size_of::<usize>()
            + self.edge.len() * (size_of::<EdgeIndex>() + size_of::<u32>())
            + self.tail.len() * 2 * size_of::<NodeIndex>()
            + (self.out_start.len() + self.in_start.len()) * size_of::<usize>()
            + (self.out.len() + self.into.len()) * size_of::<usize>()
    }
}

/// The part of a node's pair list (sorted by pair id) that lies in `ids`.
fn commodity_run(list: &[usize], ids: Range<usize>) -> &[usize] {
    let from = list.partition_point(|&p| p < ids.start);
    let to = list.partition_point(|&p| p < ids.end);
    &list[from..to]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csr_by_hand() {
        // Nodes 0 → 1 → 2 and 0 → 2; commodity 0 uses edges 0, 1; commodity 1 uses 2.
        let ends = [(0, 1), (1, 2), (0, 2)];
        let e0: Vec<EdgeIndex> = vec![EdgeIndex::new(0), EdgeIndex::new(1)];
        let e1: Vec<EdgeIndex> = vec![EdgeIndex::new(2)];
        let p = UsablePairs::new(3, &[&e0, &e1], |e| {
            let (t, h) = ends[e.index()];
            (NodeIndex::new(t), NodeIndex::new(h))
        });
        assert_eq!(p.len(), 3);
        assert_eq!(p.range(1), 2..3);
        assert_eq!(p.find(0, EdgeIndex::new(1)), Some(1));
        assert_eq!(p.find(1, EdgeIndex::new(1)), None);
        assert_eq!(p.leaving(NodeIndex::new(0)), &[0, 2]);
        assert_eq!(p.leaving(NodeIndex::new(1)), &[1]);
        assert_eq!(p.entering(NodeIndex::new(2)), &[1, 2]);
        assert!(p.entering(NodeIndex::new(0)).is_empty());
        assert_eq!(p.commodity(2), 1);
    }
}
