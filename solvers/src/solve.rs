//! The LP baselines as a command asks for them: several objectives (P1, P2, P2⁻, P3 of
//! \[MCF-Grid\] §4) solved in turn on one market, each timed, with the solve's steps
//! reported to the caller's observer. The command line's `solve` is this module plus
//! file IO and printing.

use std::time::Instant;

use brokerflow_graphs::ExpandedGraph;
use thiserror::Error;

use crate::lp::{self, Backend, LpError, LpOptions, LpSolution, LpStep, Objective};

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

/// A step of [`SolveRequest::solve`], as its observer hears of it: which LP of the
/// request, and the step its solve has reached ([`LpStep`], reported from inside the
/// solve: the built LP's variable count, the backend that actually runs, the check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LpPhase {
    /// Which LP of the request.
    pub objective: Objective,
    /// Its place in the request, from 1.
    pub position: usize,
    /// How many LPs the request has.
    pub of: usize,
    /// The step its solve has reached (P2 and P2⁻ report P1's steps first).
    pub step: LpStep,
}

impl std::fmt::Display for LpPhase {
    /// One line for a progress display: "LP 1 of 2, P1 …: building P1 (17
    /// variables)", "…: solving P1 with microlp", "…: checking P1's solution
    /// independently".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LP {} of {}, {}: {}",
            self.position,
            self.of,
            self.objective.title(),
            self.step
        )
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
    /// * `g` — G′; `observe` — told of each [`LpPhase`] as the solve reaches it.
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
            let options = LpOptions {
                backend: self.backend,
                prices: objective == Objective::Welfare,
            };
            let start = Instant::now();
            let mut step = |step| {
                observe(LpPhase {
                    objective,
                    position: i + 1,
                    of,
                    step,
                })
            };
            let solved = match lp::solve_observed(g, objective, &options, &mut step) {
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
