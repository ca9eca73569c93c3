//! clarabel through good_lp: a pure-Rust interior-point method, the faster pure-Rust
//! backend on large LPs; it finds the primal and the dual optimum in one solve.

use super::{
    good_lp_primal, good_lp_primal_dual, BackendFailure, LinearProgram, LpAnswer, LpBackend,
    SolveWithDuals,
};

/// The clarabel interior-point solver.
pub(super) struct Clarabel;

impl LpBackend for Clarabel {
    fn name(&self) -> &'static str {
        "clarabel"
    }
    fn summary(&self) -> &'static str {
        "pure-Rust interior point; answers to its tolerance (~1e-8 relative)"
    }
    fn tolerance(&self) -> f64 {
        // Its feasibility tolerance (good_lp sets 1e-9, gaps ~1e-8).
        1e-8
    }
    fn dynamic_range(&self) -> f64 {
        // The interior point stops at a relative gap near 1e-8.
        1e8
    }
    fn solve(&self, lp: &LinearProgram) -> Result<Vec<f64>, BackendFailure> {
        good_lp_primal(lp, |p| p.using(good_lp::clarabel))
    }
    fn duals(&self) -> Option<&dyn SolveWithDuals> {
        Some(self)
    }
}

impl SolveWithDuals for Clarabel {
    fn solve_with_duals(&self, lp: &LinearProgram) -> Result<LpAnswer, BackendFailure> {
        good_lp_primal_dual(lp, |p| p.using(good_lp::clarabel))
    }
}
