//! The LP baselines as a command asks for them: several objectives (P1, P2, P2⁻, P3 of
//! \[MCF-Grid\] §4) solved in turn on one market, each timed, with the solve's steps
//! reported to the caller's observer. The command line's `solve` is this module plus
//! file IO and printing.

use std::time::Instant;

use brokerflow_graphs::ExpandedGraph;
use thiserror::Error;

use crate::lp::{self, Backend, LpError, LpOptions, LpSolution, Objective};
use crate::workload;

/// Which LPs to solve and with which solver.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct SolveRequest {
    /// Which LPs, comma-separated, solved and printed in turn. `--json` with several
    /// prints an array; `--flows`, `--export-lp` and `--prices` need exactly one.
    #[cfg_attr(
        feature = "clap",
        arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "concurrent,welfare"
        )
    )]
    pub objective: Vec<Objective>,
    /// LP solver: auto (microlp up to 2 000 variables, above that clarabel, or highs in
    /// builds with `--features highs`), microlp (pure
    /// Rust simplex, exact vertices), clarabel (pure Rust interior point, to ~1e-8),
    /// highs (only in builds with `--features highs`).
    #[cfg_attr(feature = "clap", arg(long, default_value = "auto"))]
    pub backend: Backend,
}

/// A step of [`SolveRequest::solve`], as its observer hears of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LpPhase {
    /// The `position`-th LP of `of` (from 1) is being built, with at most `variables`
    /// variables ([`workload::lp_estimate`]).
    Building {
        /// Which LP.
        objective: Objective,
        /// Its place in the request, from 1.
        position: usize,
        /// How many LPs the request has.
        of: usize,
        /// At most this many variables.
        variables: usize,
    },
    /// It is being solved by `backend` and its solution checked independently of the
    /// solver (flow conservation and capacities from the incidence matrix).
    Solving {
        /// Which LP.
        objective: Objective,
        /// Its place in the request, from 1.
        position: usize,
        /// How many LPs the request has.
        of: usize,
        /// The backend that solves it (`auto` resolved for its size).
        backend: Backend,
    },
}

impl std::fmt::Display for LpPhase {
    /// One line for a progress display: "LP 1 of 2, P1 …: building the LP (up to 17
    /// variables)", "… : solving with microlp, then checking it independently".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            LpPhase::Building {
                objective,
                position,
                of,
                variables,
            } => write!(
                f,
                "LP {position} of {of}, {}: building the LP (up to {variables} variables)",
                objective.title()
            ),
            LpPhase::Solving {
                objective,
                position,
                of,
                backend,
            } => write!(
                f,
                "LP {position} of {of}, {}: solving with {backend}, then checking it independently",
                objective.title()
            ),
        }
    }
}

/// One LP of a request, solved: the checked solution and the seconds it took.
#[derive(Debug, Clone)]
pub struct Solved {
    /// The solution.
    pub solution: LpSolution,
    /// Wall-clock seconds of building, solving and checking it.
    pub seconds: f64,
}

/// An LP of a request that failed: which, and why.
#[derive(Debug, Error)]
#[error("{} ({})", objective.name(), objective.title())]
pub struct ObjectiveFailed {
    /// Which LP.
    pub objective: Objective,
    /// The solver's error.
    #[source]
    pub source: LpError,
}

impl SolveRequest {
    /// Solves every LP of the request on `g`, in order, each even when another fails.
    ///
    /// # Arguments
    /// * `g` — G′; `observe` — told of each [`LpPhase`].
    ///
    /// # Returns
    /// One `(objective, outcome)` per LP; with a single LP, its failure is the error.
    /// P3 is solved with its dual prices.
    ///
    /// # Complexity
    /// One LP per objective (see [`lp::solve`]).
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::{examples, ExpandedGraph};
    /// use brokerflow_solvers::solve::SolveRequest;
    /// use brokerflow_solvers::lp::{Backend, Objective};
    ///
    /// let g = ExpandedGraph::new(&examples::tiny());
    /// let request = SolveRequest { objective: vec![Objective::Welfare], backend: Backend::Auto };
    /// let solved = request.solve(&g, &mut |_| {}).unwrap();
    /// let p3 = solved[0].1.as_ref().unwrap();
    /// assert!((p3.solution.welfare(&g).unwrap() - 141.0).abs() < 1e-6);
    /// ```
    ///
    /// Paper: \[MCF-Grid\] §4 (P1–P3).
    #[allow(clippy::type_complexity)]
    pub fn solve(
        &self,
        g: &ExpandedGraph,
        observe: &mut dyn FnMut(LpPhase),
    ) -> Result<Vec<(Objective, Result<Solved, ObjectiveFailed>)>, ObjectiveFailed> {
        let of = self.objective.len();
        let mut results = Vec::with_capacity(of);
        for (i, &objective) in self.objective.iter().enumerate() {
            let variables = workload::lp_estimate(g, objective).variables;
            observe(LpPhase::Building {
                objective,
                position: i + 1,
                of,
                variables,
            });
            let backend = self.backend.resolve(variables);
            observe(LpPhase::Solving {
                objective,
                position: i + 1,
                of,
                backend,
            });
            let options = LpOptions {
                backend: self.backend,
                prices: objective == Objective::Welfare,
            };
            let start = Instant::now();
            let solved = match lp::solve(g, objective, &options) {
                Ok(solution) => Ok(Solved {
                    solution,
                    seconds: start.elapsed().as_secs_f64(),
                }),
                Err(source) => Err(ObjectiveFailed { objective, source }),
            };
            match solved {
                Err(e) if of == 1 => return Err(e),
                r => results.push((objective, r)),
            }
        }
        Ok(results)
    }
}
