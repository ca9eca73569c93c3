//! Size estimates made before the work starts: how large an LP baseline or an engine
//! run on a market's G′ will be, from G′'s counts alone (design §12: cost follows the
//! links plus the usable (edge, commodity) pairs), and the limits above which the
//! command line refuses to start without `--force`.
//!
//! Building G′ is cheap next to what follows it (an LP of millions of variables can
//! take hours and tens of GiB; an engine's window ring is 8 bytes per pair and
//! round of the window), so the estimate is taken on G′ and nothing larger is built
//! first. The numbers are estimates: the LP counts are upper bounds (P3 keeps only the
//! pairs on paths of non-negative margin, often a third of them), and the bytes use
//! the largest memory per variable or per pair measured on this project's markets
//! (README, "Size limits").

use brokerflow_graphs::ExpandedGraph;
use thiserror::Error;

use crate::compare::{InjectionMode, Method};
use crate::engine::EngineOptions;
use crate::lp::Objective;

/// Resident bytes per LP variable used in the estimate: the most measured for a whole
/// `solve` process (clarabel, max RSS ÷ variables: 1.6–2.9 KiB from the scale and
/// complete-graph markets of README "Size limits"), rounded up.
pub const LP_BYTES_PER_VARIABLE: u64 = 3 * 1024;

/// Resident bytes per usable pair of an engine run besides its window ring: G′, the
/// pair index, the round state and the reported flows (README "Size limits": 1.45–1.55
/// KB per pair measured for a whole `run` at 100 000 users and the default window of
/// 50, of which the ring is 400).
pub const ENGINE_BYTES_PER_PAIR: u64 = 1_000;

/// Bytes per pair and round of the window: one amount (f64) per out-edge pair.
pub const ENGINE_WINDOW_BYTES_PER_PAIR: u64 = 8;

/// Bytes per commodity and round of the window: the ledger's ring of discarded and
/// absorbed jobs.
pub const ENGINE_WINDOW_BYTES_PER_COMMODITY: u64 = 16;

/// The limits the command line enforces unless `--force` (README "Size limits" says
/// how they were chosen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most LP variables one LP may have (the estimate's upper bound).
    pub lp_variables: usize,
    /// The most bytes one engine run is estimated to hold.
    pub engine_bytes: u64,
    /// The most pair-runs one experiment batch may hold: Σ scenarios × methods × usable
    /// pairs ([`BatchEstimate`]).
    pub batch_pair_runs: u64,
    /// The most LP variables VCG's P3 solves may hold summed over the solves: the full
    /// P3 and one re-solve per participant that can trade ([`VcgEstimate`]).
    pub vcg_variable_solves: u64,
}

impl Limits {
    /// The documented defaults: 1 000 000 LP variables (about 3 GiB at
    /// [`LP_BYTES_PER_VARIABLE`]; 1.8× the largest documented LP, P1 at 100 000 users
    /// with 553 922), 4 GiB per engine run (4.7× the 100 000-user run's 852 MB
    /// estimate), 10⁹ pair-runs per experiment batch (at the tens of µs a pair of
    /// one method takes on the measured markets, about a day on 2 cores) and 10⁸ LP
    /// variables summed over VCG's P3 solves (at the 36 µs per variable clarabel took
    /// on a 50 000-variable LP, an hour of CPU; larger LPs take longer per variable).
    pub const DEFAULT: Limits = Limits {
        lp_variables: 1_000_000,
        engine_bytes: 4 << 30,
        batch_pair_runs: 1_000_000_000,
        vcg_variable_solves: 100_000_000,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// The size of one LP baseline on a G′, before it is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LpEstimate {
    /// Which LP.
    pub objective: Objective,
    /// At most this many variables: one per usable pair of a served commodity
    /// (positive demand, not stranded), plus δ for P1.
    pub variables: usize,
    /// At most this many constraints: a conservation row per served commodity and node
    /// it touches (but t_k), plus a resource row per node of finite capacity that a
    /// served commodity can leave.
    pub constraints: usize,
}

impl LpEstimate {
    /// Estimated resident bytes: [`LP_BYTES_PER_VARIABLE`] per variable.
    pub fn bytes(&self) -> u64 {
        (self.variables as u64).saturating_mul(LP_BYTES_PER_VARIABLE)
    }

    /// Refuses an LP with more variables than `limits` allow.
    pub fn check(&self, limits: &Limits) -> Result<(), TooLarge> {
        if self.variables > limits.lp_variables {
            return Err(TooLarge::Lp {
                estimate: *self,
                limit: limits.lp_variables,
            });
        }
        Ok(())
    }
}

/// The size of the LP baseline `objective` ([MCF-Grid] §4.2) on `g`, estimated from
/// the usable pairs (design §4's pruned variables), before it is built.
///
/// # Arguments
/// * `g`: the expanded graph G′.
/// * `objective`: P1, P2, P2⁻ or P3.
///
/// # Returns
/// Variables (one per usable pair of a served commodity, plus δ for P1) and
/// constraints (conservation per commodity and node it touches but t_k, plus one
/// resource row per finite node some served commodity can leave).
///
/// # Complexity
/// O(N + |P|) for N nodes of G′ and |P| usable pairs.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::lp::Objective;
/// use brokerflow_solvers::workload::lp_estimate;
///
/// // tiny (graphs/markets/tiny.md §2): 16 usable pairs; u1, u2 and u3 touch 4, 7 and
/// // 4 nodes besides their t_k; 7 finite nodes send (3 bandwidth nodes, 2 brokers,
/// // 2 providers).
/// let g = ExpandedGraph::new(&examples::tiny());
/// let p2 = lp_estimate(&g, Objective::Utility);
/// assert_eq!((p2.variables, p2.constraints), (16, 4 + 7 + 4 + 7));
/// assert_eq!(lp_estimate(&g, Objective::Concurrent).variables, 17);
/// ```
///
/// Paper: [MCF-Grid] §4.2.
pub fn lp_estimate(g: &ExpandedGraph, objective: Objective) -> LpEstimate {
    let pairs = g.pairs();
    let mut stamp = vec![usize::MAX; g.graph.node_count()];
    let mut sends = vec![false; g.graph.node_count()];
    let (mut variables, mut rows) = (0usize, 0usize);
    for (k, c) in g.commodities.iter().enumerate() {
        if c.demand <= 0.0 || c.is_stranded() {
            continue;
        }
        variables += pairs.range(k).len();
        for pair in pairs.range(k) {
            sends[pairs.tail(pair).index()] = true;
            for n in [pairs.tail(pair), pairs.head(pair)] {
                if n != c.sink && stamp[n.index()] != k {
                    stamp[n.index()] = k;
                    rows += 1;
                }
            }
        }
    }
    // A resource row exists where a served commodity can leave a finite node.
    let capacity_rows = g
        .graph
        .node_indices()
        .filter(|&n| sends[n.index()] && g.node(n).capacity.is_some())
        .count();
    if objective == Objective::Concurrent {
        variables += 1;
    }
    LpEstimate {
        objective,
        variables,
        constraints: rows + capacity_rows,
    }
}

/// The LP work of VCG's payments ([Dist-Auctioneer]) on a G′, before the first P3:
/// the full P3 and one re-solve W*_{−i} per participant that trades. Who trades is
/// known only after the allocation, so every participant that can trade counts: a
/// user with positive demand that is not stranded, and every broker and provider that
/// a usable pair of such a user touches. Each re-solve is on a market with one
/// participant fewer, so P3's variable count bounds it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VcgEstimate {
    /// P3's variables ([`lp_estimate`]'s upper bound).
    pub p3_variables: usize,
    /// Participants that can trade: at most this many re-solves.
    pub resolves: usize,
}

impl VcgEstimate {
    /// Σ over the solves of their variables, at most: (re-solves + 1) × P3's
    /// variables (saturating).
    pub fn variable_solves(&self) -> u64 {
        (self.resolves as u64)
            .saturating_add(1)
            .saturating_mul(self.p3_variables as u64)
    }

    /// Refuses VCG payments whose solves hold more variables in all than `limits`
    /// allow.
    pub fn check(&self, limits: &Limits) -> Result<(), TooLarge> {
        if self.variable_solves() > limits.vcg_variable_solves {
            return Err(TooLarge::Vcg {
                estimate: *self,
                limit: limits.vcg_variable_solves,
            });
        }
        Ok(())
    }
}

/// The LP work of VCG over P3 ([Dist-Auctioneer]) on `g`: P3's variables and the
/// participants that can trade, each of whom costs one re-solve.
///
/// # Arguments
/// * `g`: the expanded graph G′ of the declared market.
///
/// # Returns
/// The [`VcgEstimate`].
///
/// # Complexity
/// O(N + |P|) for N nodes of G′ and |P| usable pairs.
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::workload::vcg_estimate;
///
/// // tiny: 16 P3 variables; u1, u2, u3, b1, b2, p1 and p2 can all trade.
/// let e = vcg_estimate(&ExpandedGraph::new(&examples::tiny()));
/// assert_eq!((e.p3_variables, e.resolves), (16, 7));
/// assert_eq!(e.variable_solves(), 8 * 16);
/// ```
///
/// Paper: [Dist-Auctioneer] (the Clarke pivot's W*_{−i}).
pub fn vcg_estimate(g: &ExpandedGraph) -> VcgEstimate {
    use brokerflow_graphs::NodeKind;
    let pairs = g.pairs();
    let mut touched = vec![false; g.graph.node_count()];
    let mut users = 0usize;
    for (k, c) in g.commodities.iter().enumerate() {
        if c.demand <= 0.0 || c.is_stranded() || pairs.range(k).is_empty() {
            continue;
        }
        users += 1;
        for pair in pairs.range(k) {
            touched[pairs.tail(pair).index()] = true;
            touched[pairs.head(pair).index()] = true;
        }
    }
    let sellers = g
        .graph
        .node_indices()
        .filter(|&n| touched[n.index()])
        .filter(|&n| matches!(g.node(n).kind, NodeKind::Broker(_) | NodeKind::Provider(_)))
        .count();
    VcgEstimate {
        p3_variables: lp_estimate(g, Objective::Welfare).variables,
        resolves: users + sellers,
    }
}

/// The size of one engine run on a G′, before its state is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineEstimate {
    /// Usable (edge, commodity) pairs: the engine's state is per pair.
    pub pairs: usize,
    /// Commodities (the ledger is per commodity).
    pub commodities: usize,
    /// Rounds in the window (the averages' ring).
    pub window: usize,
    /// The round limit: the run does at most pairs × this much pair-rounds of work.
    pub max_rounds: usize,
}

impl EngineEstimate {
    /// Estimated resident bytes: [`ENGINE_BYTES_PER_PAIR`] plus the window ring
    /// ([`ENGINE_WINDOW_BYTES_PER_PAIR`] per pair and [`ENGINE_WINDOW_BYTES_PER_COMMODITY`]
    /// per commodity, per round of the window).
    pub fn bytes(&self) -> u64 {
        let w = self.window as u64;
        let per_pair =
            ENGINE_BYTES_PER_PAIR.saturating_add(ENGINE_WINDOW_BYTES_PER_PAIR.saturating_mul(w));
        (self.pairs as u64).saturating_mul(per_pair).saturating_add(
            (self.commodities as u64)
                .saturating_mul(ENGINE_WINDOW_BYTES_PER_COMMODITY.saturating_mul(w)),
        )
    }

    /// The most work the run can do: pairs × round limit (a run that converges
    /// stops sooner).
    pub fn pair_rounds(&self) -> u64 {
        (self.pairs as u64).saturating_mul(self.max_rounds as u64)
    }

    /// Refuses a run estimated to hold more bytes than `limits` allow.
    pub fn check(&self, limits: &Limits) -> Result<(), TooLarge> {
        if self.bytes() > limits.engine_bytes {
            return Err(TooLarge::Engine {
                estimate: *self,
                limit: limits.engine_bytes,
            });
        }
        Ok(())
    }
}

/// The size of a run of the distributed algorithm ([MCF-Grid] §5) on `g` with this
/// window and round limit, before its state is allocated.
///
/// # Arguments
/// * `g`: the expanded graph G′.
/// * `window`: rounds averaged over.
/// * `max_rounds`: the round limit.
///
/// # Returns
/// The [`EngineEstimate`] (state per usable pair, ledger per commodity).
///
/// # Complexity
/// O(1).
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph};
/// use brokerflow_solvers::workload::engine_estimate;
///
/// let g = ExpandedGraph::new(&examples::tiny());
/// let e = engine_estimate(&g, 50, 1000);
/// assert_eq!((e.pairs, e.commodities), (16, 3));
/// assert_eq!(e.pair_rounds(), 16 * 1000);
/// ```
///
/// Paper: [MCF-Grid] §5.
pub fn engine_estimate(g: &ExpandedGraph, window: usize, max_rounds: usize) -> EngineEstimate {
    EngineEstimate {
        pairs: g.usable_pairs(),
        commodities: g.commodities.len(),
        window,
        max_rounds,
    }
}

/// Checks every LP of `lps` (P2 and P2⁻ solve P1 first, so it is checked with them)
/// and, with `engine` = (window, round limit), an engine run: the first estimate above
/// `limits` is the error. O(usable pairs) per LP.
pub fn check_plan(
    g: &ExpandedGraph,
    lps: &[Objective],
    engine: Option<(usize, usize)>,
    limits: &Limits,
) -> Result<(), TooLarge> {
    let mut needed: Vec<Objective> = Vec::new();
    for &o in lps {
        if matches!(o, Objective::Utility | Objective::WorstUtility) {
            needed.push(Objective::Concurrent);
        }
        needed.push(o);
    }
    // P1 has the most variables (its pairs and δ): one estimate answers for all.
    let largest = needed
        .iter()
        .copied()
        .max_by_key(|&o| (o == Objective::Concurrent, o == Objective::Welfare));
    if let Some(o) = largest {
        lp_estimate(g, o).check(limits)?;
    }
    if let Some((window, max_rounds)) = engine {
        engine_estimate(g, window, max_rounds).check(limits)?;
    }
    Ok(())
}

/// [`check_plan`] for the rows of [`crate::compare::compare_market`]: each LP method,
/// P3 (the optimum every row is measured against), P1 for engines in feasible mode,
/// and one engine run if any method is an engine.
pub fn check_methods(
    g: &ExpandedGraph,
    methods: &[Method],
    engine: &EngineOptions,
    limits: &Limits,
) -> Result<(), TooLarge> {
    let mut lps = vec![Objective::Welfare];
    let mut runs_engine = false;
    for m in methods {
        match *m {
            Method::Lp(o) => lps.push(o),
            Method::Engine { mode, .. } => {
                runs_engine = true;
                if mode == InjectionMode::Feasible {
                    lps.push(Objective::Concurrent);
                }
            }
        }
    }
    let engine = runs_engine.then_some((engine.window, engine.max_rounds));
    check_plan(g, &lps, engine, limits)
}

/// The size of an experiment batch: every configuration's scenarios × methods ×
/// usable pairs, with each configuration's pairs taken from one of its scenarios
/// (generated scenarios of one configuration have the same counts of participants;
/// their pairs differ by seed, so this is an estimate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchEstimate {
    /// Scenarios in the batch.
    pub scenarios: u64,
    /// Σ scenarios × methods × usable pairs (saturating).
    pub pair_runs: u64,
}

impl BatchEstimate {
    /// Adds a configuration of `scenarios` scenarios, each `methods` methods on about
    /// `pairs` usable pairs.
    pub fn add(&mut self, scenarios: usize, methods: usize, pairs: usize) {
        self.scenarios = self.scenarios.saturating_add(scenarios as u64);
        let runs = (scenarios as u64)
            .saturating_mul(methods as u64)
            .saturating_mul(pairs as u64);
        self.pair_runs = self.pair_runs.saturating_add(runs);
    }

    /// Refuses a batch above `limits`.
    pub fn check(&self, limits: &Limits) -> Result<(), TooLarge> {
        if self.pair_runs > limits.batch_pair_runs {
            return Err(TooLarge::Batch {
                estimate: *self,
                limit: limits.batch_pair_runs,
            });
        }
        Ok(())
    }
}

/// A computation whose estimate is above its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TooLarge {
    /// An LP with more variables than the limit.
    #[error(
        "the LP {} would have up to {} variables and {} constraints (about {} at {} KiB per variable); the limit is {} variables",
        lp_name(estimate.objective),
        estimate.variables,
        estimate.constraints,
        gib(estimate.bytes()),
        LP_BYTES_PER_VARIABLE / 1024,
        limit
    )]
    Lp {
        /// The estimate.
        estimate: LpEstimate,
        /// [`Limits::lp_variables`].
        limit: usize,
    },
    /// An engine run estimated above the memory limit.
    #[error(
        "the engine run would hold about {} ({} usable pairs, a window of {} rounds; up to {} pair-rounds of work); the limit is {}",
        gib(estimate.bytes()),
        estimate.pairs,
        estimate.window,
        estimate.pair_rounds(),
        gib(*limit)
    )]
    Engine {
        /// The estimate.
        estimate: EngineEstimate,
        /// [`Limits::engine_bytes`].
        limit: u64,
    },
    /// VCG payments whose P3 solves (the full one and a re-solve per participant
    /// that can trade) hold more variables in all than the limit.
    #[error(
        "VCG's payments would solve P3 up to {} times (once, and once without each of the {} participants that can trade), each of up to {} variables: {} variables in all; the limit is {}",
        estimate.resolves as u64 + 1,
        estimate.resolves,
        estimate.p3_variables,
        estimate.variable_solves(),
        limit
    )]
    Vcg {
        /// The estimate.
        estimate: VcgEstimate,
        /// [`Limits::vcg_variable_solves`].
        limit: u64,
    },
    /// An experiment batch above the pair-runs limit.
    #[error(
        "the batch would run {} scenarios, about {} pair-runs (scenarios × methods × usable pairs); the limit is {} pair-runs",
        estimate.scenarios,
        estimate.pair_runs,
        limit
    )]
    Batch {
        /// The estimate.
        estimate: BatchEstimate,
        /// [`Limits::batch_pair_runs`].
        limit: u64,
    },
}

/// The LP's name in the paper's terms (design §4) and on the command line.
fn lp_name(o: Objective) -> String {
    let p = match o {
        Objective::Concurrent => "P1",
        Objective::Utility => "P2",
        Objective::WorstUtility => "P2⁻",
        Objective::Welfare => "P3",
    };
    format!("{p} ({})", o.name())
}

/// Bytes in GiB for messages ("3.2 GiB"; large numbers in scientific notation).
pub fn gib(bytes: u64) -> String {
    let g = bytes as f64 / (1u64 << 30) as f64;
    if g >= 1e6 {
        format!("{g:.1e} GiB")
    } else {
        format!("{g:.1} GiB")
    }
}

/// `--force`, shared by the commands that solve LPs or run the engine: start a
/// computation whose estimate is above the [`Limits`] anyway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct Force {
    /// Start even when the size estimate (LP variables, engine memory) is above the
    /// limits of README "Size limits" (1 000 000 LP variables, 4 GiB per engine run);
    /// without it such a computation is refused before it starts.
    #[cfg_attr(feature = "clap", arg(long))]
    pub force: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use brokerflow_graphs::examples;

    /// tiny (graphs/markets/tiny.md), counted by hand: u1 uses u1→u1->b1→b1→p1→t (4
    /// pairs), u2 u2→b1→p1→t and b1→b1->b2→b2→b2->p2→p2→t (8), u3 u3→b2→b2->p2→p2→t
    /// (4): 16 pairs. Conservation rows: u1 touches 4 nodes besides t(u1), u2 7, u3 4;
    /// resource rows: b1, b2, p1, p2 and the three bandwidth nodes.
    #[test]
    fn tiny_by_hand() {
        let g = ExpandedGraph::new(&examples::tiny());
        let p1 = lp_estimate(&g, Objective::Concurrent);
        assert_eq!((p1.variables, p1.constraints), (17, 15 + 7));
        let p3 = lp_estimate(&g, Objective::Welfare);
        assert_eq!((p3.variables, p3.constraints), (16, 15 + 7));
        let e = engine_estimate(&g, 50, 20_000);
        assert_eq!(e.bytes(), 16 * (1_000 + 8 * 50) + 3 * 16 * 50);
        assert_eq!(e.pair_rounds(), 16 * 20_000);
    }

    #[test]
    fn limits_refuse_above_and_accept_at() {
        let limits = Limits {
            lp_variables: 17,
            engine_bytes: 24_800,
            batch_pair_runs: 0,
            vcg_variable_solves: 0,
        };
        let g = ExpandedGraph::new(&examples::tiny());
        assert!(lp_estimate(&g, Objective::Concurrent)
            .check(&limits)
            .is_ok());
        let tight = Limits {
            lp_variables: 16,
            ..limits
        };
        let e = lp_estimate(&g, Objective::Concurrent)
            .check(&tight)
            .unwrap_err();
        assert!(e.to_string().contains("up to 17 variables"), "{e}");
        assert!(e.to_string().contains("the limit is 16 variables"), "{e}");
        assert!(engine_estimate(&g, 50, 10).check(&limits).is_ok());
        assert!(engine_estimate(&g, 51, 10).check(&limits).is_err());
    }

    #[test]
    fn a_billion_seeds_of_tiny_are_refused_and_saturate_rather_than_wrap() {
        let mut b = BatchEstimate::default();
        b.add(1_000_000_000, 8, 16);
        assert_eq!(b.pair_runs, 128_000_000_000);
        assert!(b.check(&Limits::DEFAULT).is_err());
        let mut small = BatchEstimate::default();
        small.add(100, 8, 16);
        assert!(small.check(&Limits::DEFAULT).is_ok());
        small.add(usize::MAX, usize::MAX, 2);
        assert_eq!(small.pair_runs, u64::MAX);
    }

    /// tiny with the VCG limit one below (7 + 1) × 16 = 128 variable-solves is refused,
    /// at 128 accepted; a user with no demand neither trades nor costs a re-solve.
    #[test]
    fn vcg_counts_one_p3_per_participant_that_can_trade() {
        let g = ExpandedGraph::new(&examples::tiny());
        let at = Limits {
            vcg_variable_solves: 128,
            ..Limits::DEFAULT
        };
        assert!(vcg_estimate(&g).check(&at).is_ok());
        let below = Limits {
            vcg_variable_solves: 127,
            ..Limits::DEFAULT
        };
        let e = vcg_estimate(&g).check(&below).unwrap_err().to_string();
        assert!(e.contains("up to 8 times"), "{e}");
        assert!(e.contains("128 variables in all"), "{e}");
        let mut m = examples::tiny().into_market();
        m.users[0].demand = 0.0;
        let idle = vcg_estimate(&ExpandedGraph::new(&m.validate().unwrap()));
        // u1's 4 pairs go, and u1 with them; b1, p1 still serve u2.
        assert_eq!((idle.p3_variables, idle.resolves), (12, 6));
    }

    #[test]
    fn a_huge_window_saturates_instead_of_overflowing() {
        let g = ExpandedGraph::new(&examples::tiny());
        let e = engine_estimate(&g, usize::MAX, usize::MAX);
        assert_eq!(e.bytes(), u64::MAX);
        assert!(e.check(&Limits::DEFAULT).is_err());
    }
}
