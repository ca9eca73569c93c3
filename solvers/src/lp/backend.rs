//! LP backends through `good_lp` (DESIGN §4), picked by measurement (README "LP
//! benchmarks"). The default, `auto`, is pure Rust with nothing to install: microlp, a
//! simplex with exact vertex solutions, fastest on small and mid-size LPs; clarabel,
//! an interior-point method, above [`Backend::AUTO_THRESHOLD`] variables, where
//! microlp slows down sharply. HiGHS is an opt-in cargo feature for large and
//! general-graph LPs.
//!
//! microlp gives no duals through good_lp and its documentation warns it may panic on
//! hard inputs: brokerflow catches such a panic and reports it as an error, and gets
//! exact prices by solving the explicit dual LP ([`LinearProgram::dual`]).

use std::panic::{catch_unwind, AssertUnwindSafe};

use good_lp::{
    variable, Expression, ProblemVariables, ResolutionError, Solution, SolverModel, Variable,
};
use serde::Serialize;

use super::program::{Cmp, Domain, LinearProgram, Sense};
use super::LpError;

/// An LP solver behind `good_lp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The default: microlp up to [`Backend::AUTO_THRESHOLD`] variables, clarabel above
    /// (where microlp is measured up to 15× slower, more on P1; README "LP benchmarks"). Outputs
    /// record the backend actually used.
    Auto,
    /// microlp: pure-Rust simplex; exact vertex solutions.
    Microlp,
    /// clarabel: pure-Rust interior point; answers to its tolerance (~1e-8 relative).
    Clarabel,
    /// HiGHS: C++ simplex/IPM; only in builds with `--features highs`.
    Highs,
}

impl Backend {
    /// The backend used when none is asked for.
    pub const DEFAULT: Backend = Backend::Auto;

    /// LP size (variables) above which `auto` switches from microlp to clarabel.
    pub const AUTO_THRESHOLD: usize = 2_000;

    /// The concrete backend `self` means for an LP with `variables` variables.
    pub fn resolve(self, variables: usize) -> Backend {
        match self {
            Backend::Auto if variables <= Backend::AUTO_THRESHOLD => Backend::Microlp,
            Backend::Auto => Backend::Clarabel,
            other => other,
        }
    }

    /// Every concrete backend compiled into this build.
    pub fn available() -> Vec<Backend> {
        let mut all = vec![Backend::Microlp, Backend::Clarabel];
        if cfg!(feature = "highs") {
            all.push(Backend::Highs);
        }
        all
    }

    /// The backend's name as written in outputs and accepted by `--backend`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Microlp => "microlp",
            Backend::Clarabel => "clarabel",
            Backend::Highs => "highs",
        }
    }

    /// Solution tolerance this backend answers to, recorded in outputs.
    pub fn tolerance(self) -> f64 {
        match self {
            // Simplex vertices: round-off only.
            Backend::Microlp | Backend::Highs => 1e-9,
            // Interior point: its feasibility tolerance (good_lp sets 1e-9, gaps ~1e-8).
            Backend::Clarabel | Backend::Auto => 1e-8,
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Backend::Auto),
            "microlp" => Ok(Backend::Microlp),
            "clarabel" => Ok(Backend::Clarabel),
            "highs" => Ok(Backend::Highs),
            other => Err(format!(
                "unknown LP backend '{other}' (known: auto, microlp, clarabel, highs)"
            )),
        }
    }
}

/// Solves `lp` with `backend`; returns the primal values x.
pub fn solve_lp(lp: &LinearProgram, backend: Backend) -> Result<Vec<f64>, LpError> {
    if lp.variables() == 0 {
        return Ok(Vec::new());
    }
    let mut vars = ProblemVariables::new();
    let xs: Vec<Variable> = lp
        .domains
        .iter()
        .map(|d| match d {
            Domain::NonNegative => vars.add(variable().min(0.0)),
            Domain::Free => vars.add(variable()),
        })
        .collect();
    let mut objective = Expression::with_capacity(lp.variables());
    for (j, &c) in lp.objective.iter().enumerate() {
        if c != 0.0 {
            objective.add_mul(c, xs[j]);
        }
    }
    let problem = match lp.sense {
        Sense::Maximise => vars.maximise(objective),
        Sense::Minimise => vars.minimise(objective),
    };
    let constraints = lp.rows.iter().map(|row| {
        let mut e = Expression::with_capacity(row.terms.len());
        for &(j, a) in &row.terms {
            e.add_mul(a, xs[j]);
        }
        match row.cmp {
            Cmp::Le => e.leq(row.rhs),
            Cmp::Ge => e.geq(row.rhs),
            Cmp::Eq => e.eq(row.rhs),
        }
    });
    // A panic inside a backend (microlp warns it may) becomes an error, never a crash.
    let outcome = catch_unwind(AssertUnwindSafe(|| match backend.resolve(lp.variables()) {
        Backend::Microlp => values(problem.using(good_lp::microlp).with_all(constraints), &xs),
        Backend::Clarabel => values(problem.using(good_lp::clarabel).with_all(constraints), &xs),
        Backend::Highs | Backend::Auto => solve_highs(problem, constraints, &xs),
    }));
    match outcome {
        Err(_) => Err(LpError::BackendPanicked { backend }),
        Ok(Err(ResolutionError::Infeasible)) => Err(LpError::Infeasible { backend }),
        Ok(Err(ResolutionError::Unbounded)) => Err(LpError::Unbounded { backend }),
        Ok(Err(e)) => Err(LpError::Backend {
            backend,
            message: e.to_string(),
        }),
        Ok(Ok(x)) => Ok(x),
    }
}

fn values<M: SolverModel<Error = ResolutionError>>(
    model: M,
    xs: &[Variable],
) -> Result<Vec<f64>, ResolutionError> {
    let solution = model.solve()?;
    Ok(xs.iter().map(|&v| solution.value(v)).collect())
}

#[cfg(feature = "highs")]
fn solve_highs(
    problem: good_lp::variable::UnsolvedProblem,
    constraints: impl Iterator<Item = good_lp::Constraint>,
    xs: &[Variable],
) -> Result<Vec<f64>, ResolutionError> {
    values(problem.using(good_lp::highs).with_all(constraints), xs)
}

#[cfg(not(feature = "highs"))]
fn solve_highs(
    _problem: good_lp::variable::UnsolvedProblem,
    _constraints: impl Iterator<Item = good_lp::Constraint>,
    _xs: &[Variable],
) -> Result<Vec<f64>, ResolutionError> {
    // Callers check `Backend::available()` first; this is the stub of a build
    // without the feature, as ripgrep's disabled index.
    Err(ResolutionError::Str(
        "the HiGHS backend is not enabled in this build (rebuild with `--features highs`)"
            .to_string(),
    ))
}
