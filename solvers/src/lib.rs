//! # brokerflow-solvers
//!
//! Algorithms over the expanded graph G′ of `brokerflow-graphs`, each a free function
//! over [`brokerflow_graphs::ExpandedGraph`]:
//!
//! - [`lp`]: the LP baselines P1, P2, P2⁻, P3 (design §4), every solution passed
//!   through [`check`] (independent of the LP builder) and [`cycles`] before it is
//!   returned;
//! - [`engine`]: the distributed potential-balancing algorithm (design §5), run
//!   through the public per-node step of [`engine::node`];
//! - [`mca`]: max-consensus auctions among agents and an exhaustive explorer of
//!   their asynchronous executions ([MCA-Alloy]);
//! - [`settle`]: settlement mechanisms on top of an allocation (design §6);
//! - [`stream`]: the market for stream computation of [Stream-Market]: offers over
//!   time, replicas, per-slot markets priced by McAfee's rule, and contracts with
//!   deposits and hidden spot checks on a ledger;
//! - [`measures`], [`stats`] and [`compare`]: design §8's measures, their aggregates,
//!   and the per-market comparison rows that `compare` and `experiment` print;
//! - [`bench`](mod@bench): the benchmarks of the LP baselines, the engine and an analyst's
//!   scipy baseline, as typed rows;
//! - [`workload`]: the size of an LP or an engine run estimated from G′'s counts
//!   before either is built, and the limits the command line enforces.
//! - [`solve`] and [`commands`]: the LP baselines as a command asks for them (several
//!   objectives in turn, their steps reported to an observer), and the command line's
//!   flag structs of `run`, `compare`, `solve` and `evaluate` (feature `clap`).
//!
//! # Example
//!
//! The bundled `tiny` market (graphs/markets/tiny.md works its optima by hand): P3's
//! welfare optimum is 141, and the welfare-seeking rounds, each node deciding on local
//! information only, come within 1 % of it.
//!
//! ```
//! use brokerflow_graphs::{examples, ExpandedGraph};
//! use brokerflow_solvers::engine::{self, EngineOptions, Injection, Variant};
//! use brokerflow_solvers::lp::{self, LpOptions};
//!
//! let market = examples::tiny();
//! let g = ExpandedGraph::new(&market);
//! let p3 = lp::max_welfare(&g, &LpOptions::default()).unwrap();
//! let optimum = p3.welfare(&g).unwrap();
//! assert!((optimum - 141.0).abs() < 1e-6);
//!
//! let options = EngineOptions::new(Variant::WelfareSeeking, Injection::Demand);
//! let run = engine::run(&market, &g, &options).unwrap();
//! assert!(run.converged);
//! assert!(run.welfare(&g) > 0.99 * optimum);
//! ```

pub mod bench;
pub mod causes;
pub mod certificate;
pub mod check;
pub mod commands;
pub mod compare;
pub mod cycles;
pub mod engine;
pub mod flows;
pub mod lp;
pub mod mca;
pub mod measures;
pub mod settle;
pub mod solve;
pub mod stats;
pub mod stream;
pub mod workload;
