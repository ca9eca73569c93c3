//! HiGHS through good_lp (C++ simplex/IPM): only in builds with `--features highs`,
//! which need cmake and libclang. Without the feature a stub of the same name stands
//! in (as ripgrep's disabled engines do): the name stays known, and every use of it is
//! refused as not enabled.

use super::{BackendFailure, LinearProgram, LpBackend};

/// The HiGHS solver.
pub(super) struct Highs;

impl LpBackend for Highs {
    fn name(&self) -> &'static str {
        "highs"
    }
    fn summary(&self) -> &'static str {
        "C++ simplex/IPM; only in builds with `--features highs`"
    }
    fn tolerance(&self) -> f64 {
        // Simplex vertices: round-off only.
        1e-9
    }
    fn dynamic_range(&self) -> f64 {
        // Double precision with absolute tolerances near 1e-9.
        1e10
    }
    fn enabled(&self) -> bool {
        cfg!(feature = "highs")
    }
    #[cfg(feature = "highs")]
    fn solve(&self, lp: &LinearProgram) -> Result<Vec<f64>, BackendFailure> {
        super::good_lp_primal(lp, |p| p.using(good_lp::highs))
    }
    #[cfg(not(feature = "highs"))]
    fn solve(&self, _lp: &LinearProgram) -> Result<Vec<f64>, BackendFailure> {
        Err(BackendFailure::NotEnabled)
    }
    #[cfg(feature = "highs")]
    fn duals(&self) -> Option<&dyn super::SolveWithDuals> {
        Some(self)
    }
}

#[cfg(feature = "highs")]
impl super::SolveWithDuals for Highs {
    fn solve_with_duals(&self, lp: &LinearProgram) -> Result<super::LpAnswer, BackendFailure> {
        super::good_lp_primal_dual(lp, |p| p.using(good_lp::highs))
    }
}
