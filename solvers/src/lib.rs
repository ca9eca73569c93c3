//! # brokerflow-solvers
//!
//! Algorithms over the expanded graph G′ of `brokerflow-graphs`: the LP baselines
//! (DESIGN §4), the distributed potential-balancing engine (DESIGN §5) and
//! settlement mechanisms (DESIGN §6). Each is a free function over
//! [`brokerflow_graphs::ExpandedGraph`].

pub mod cycles;
pub mod engine;
pub mod lp;
pub mod measures;
pub mod settle;

pub mod check;
pub mod compare;
pub mod stats;
