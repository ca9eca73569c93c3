//! microlp through good_lp: a pure-Rust simplex with exact vertex solutions, fastest
//! on small and mid-size LPs. It reports no duals; prices come from the explicit dual
//! LP.

use super::{good_lp_primal, BackendFailure, LinearProgram, LpBackend};

/// The microlp simplex.
pub(super) struct Microlp;

impl LpBackend for Microlp {
    fn name(&self) -> &'static str {
        "microlp"
    }
    fn summary(&self) -> &'static str {
        "pure-Rust simplex; exact vertex solutions"
    }
    fn tolerance(&self) -> f64 {
        // Simplex vertices: round-off only.
        1e-9
    }
    fn dynamic_range(&self) -> f64 {
        // Double precision with absolute tolerances near 1e-9.
        1e10
    }
    fn solve(&self, lp: &LinearProgram) -> Result<Vec<f64>, BackendFailure> {
        good_lp_primal(lp, |p| p.using(good_lp::microlp))
    }
}
