//! Warm-started re-solves of one LP with one extra row each, for the VCG payments of
//! [Dist-Auctioneer]: every W*_{−i} is P3 with one participant's flow forced to 0,
//! i.e. P3 plus the single row Σ (its variables) ≤ 0.
//!
//! The LP is solved once with microlp's simplex; each question clones that optimal
//! solution and adds its row, and microlp restores optimality from the old optimal
//! basis with the dual simplex (the basis stays dual feasible when a row is added).
//! That takes a few pivots instead of a solve from scratch. The answers are simplex
//! vertices, exact up to round-off, like a cold microlp solve.

use std::panic::{catch_unwind, AssertUnwindSafe};

use microlp::{ComparisonOp, LinearExpr, OptimizationDirection, Problem, SolveOutcome};

use super::program::{Cmp, Domain, LinearProgram, Sense};
use super::{Backend, BackendFailure, LpError};

/// An LP solved once, to be re-solved warm with one extra row at a time.
#[derive(Clone)]
pub struct WarmLp {
    base: microlp::Solution,
    vars: Vec<microlp::Variable>,
    constant: f64,
}

impl std::fmt::Debug for WarmLp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarmLp")
            .field("variables", &self.vars.len())
            .field("optimum", &self.optimum())
            .finish()
    }
}

impl WarmLp {
    /// Solves `lp` with microlp, keeping the optimal solution for warm re-solves.
    ///
    /// Errors as a cold solve: infeasible, unbounded, or microlp failing (a panic
    /// inside it is caught and reported as [`LpError::BackendPanicked`]).
    pub fn new(lp: &LinearProgram) -> Result<WarmLp, LpError> {
        let backend = Backend::Microlp;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut p = Problem::new(match lp.sense {
                Sense::Maximise => OptimizationDirection::Maximize,
                Sense::Minimise => OptimizationDirection::Minimize,
            });
            let vars: Vec<microlp::Variable> = lp
                .domains
                .iter()
                .zip(&lp.objective)
                .map(|(d, &c)| match d {
                    Domain::NonNegative => p.add_var(c, (0.0, f64::INFINITY)),
                    Domain::Free => p.add_var(c, (f64::NEG_INFINITY, f64::INFINITY)),
                })
                .collect();
            for row in &lp.rows {
                let op = match row.cmp {
                    Cmp::Le => ComparisonOp::Le,
                    Cmp::Ge => ComparisonOp::Ge,
                    Cmp::Eq => ComparisonOp::Eq,
                };
                p.add_constraint(expression(&vars, &row.terms), op, row.rhs);
            }
            p.solve().map(|o| (o, vars))
        }));
        match outcome {
            Err(_) => Err(LpError::BackendPanicked { backend }),
            Ok(Err(e)) => Err(from_microlp(e)),
            Ok(Ok((SolveOutcome::Solution(base), vars))) => Ok(WarmLp {
                base,
                vars,
                constant: lp.constant,
            }),
            Ok(Ok((SolveOutcome::Interrupted(_), _))) => Err(LpError::Backend {
                backend,
                failure: BackendFailure::Interrupted,
            }),
        }
    }

    /// The optimum of the LP as given (objective plus its constant).
    pub fn optimum(&self) -> f64 {
        self.base.objective() + self.constant
    }

    /// The optimum of the LP with the extra row Σ a_j·x_j ≤ 0 (`terms` as in
    /// [`super::Row::terms`], each variable at most once), re-solved from the kept
    /// optimal basis. An empty row changes nothing.
    pub fn optimum_with_row_at_most_zero(&self, terms: &[(usize, f64)]) -> Result<f64, LpError> {
        if terms.is_empty() {
            return Ok(self.optimum());
        }
        let backend = Backend::Microlp;
        let base = self.base.clone();
        let expr = expression(&self.vars, terms);
        match catch_unwind(AssertUnwindSafe(|| {
            base.add_constraint(expr, ComparisonOp::Le, 0.0)
        })) {
            Err(_) => Err(LpError::BackendPanicked { backend }),
            Ok(Err(e)) => Err(from_microlp(e)),
            Ok(Ok(SolveOutcome::Solution(s))) => Ok(s.objective() + self.constant),
            Ok(Ok(SolveOutcome::Interrupted(_))) => Err(LpError::Backend {
                backend,
                failure: BackendFailure::Interrupted,
            }),
        }
    }
}

fn expression(vars: &[microlp::Variable], terms: &[(usize, f64)]) -> LinearExpr {
    let mut e = LinearExpr::empty();
    for &(j, a) in terms {
        e.add(vars[j], a);
    }
    e
}

fn from_microlp(e: microlp::Error) -> LpError {
    let backend = Backend::Microlp;
    match e {
        microlp::Error::Infeasible => LpError::Infeasible { backend },
        microlp::Error::Unbounded => LpError::Unbounded { backend },
        other => LpError::Backend {
            backend,
            failure: BackendFailure::Other(other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// max 3a + 2b s.t. a + b ≤ 4, a ≤ 3: optimum a = 3, b = 1, 11. With a ≤ 0 added:
    /// b = 4, 8. With b ≤ 0: a = 3, 9. With a + b ≤ 0: 0. (By hand.)
    #[test]
    fn extra_rows_by_hand() {
        let mut lp = LinearProgram::new(Sense::Maximise);
        let a = lp.add_variable("a".into(), Domain::NonNegative, 3.0);
        let b = lp.add_variable("b".into(), Domain::NonNegative, 2.0);
        lp.add_row("cap".into(), vec![(a, 1.0), (b, 1.0)], Cmp::Le, 4.0);
        lp.add_row("a_max".into(), vec![(a, 1.0)], Cmp::Le, 3.0);
        let w = WarmLp::new(&lp).unwrap();
        let close = |x: f64, y: f64| assert!((x - y).abs() < 1e-9, "{x} vs {y}");
        close(w.optimum(), 11.0);
        close(w.optimum_with_row_at_most_zero(&[(a, 1.0)]).unwrap(), 8.0);
        close(w.optimum_with_row_at_most_zero(&[(b, 1.0)]).unwrap(), 9.0);
        close(
            w.optimum_with_row_at_most_zero(&[(a, 1.0), (b, 1.0)])
                .unwrap(),
            0.0,
        );
        // The kept base is not changed by the questions.
        close(w.optimum(), 11.0);
        close(w.optimum_with_row_at_most_zero(&[]).unwrap(), 11.0);
    }
}
