//! LP backends through `good_lp`, picked by measurement (README "LP
//! benchmarks"). The default, `auto`, is pure Rust with nothing to install: microlp, a
//! simplex with exact vertex solutions, fastest on small and mid-size LPs; clarabel,
//! an interior-point method, above [`Backend::AUTO_THRESHOLD`] variables, where
//! microlp slows down sharply. HiGHS is an opt-in cargo feature for large and
//! general-graph LPs; in a build that has it, `auto` uses it above the threshold
//! instead of clarabel (measured 2.7× faster at 20 000 and 100 000 users, README
//! "Scale").
//!
//! microlp gives no duals through good_lp and its documentation warns it may panic on
//! hard inputs: brokerflow catches such a panic and reports it as an error, and gets
//! exact prices by solving the explicit dual LP ([`LinearProgram::dual`]).

use std::panic::{catch_unwind, AssertUnwindSafe};

use good_lp::{
    variable, DualValues, Expression, ProblemVariables, ResolutionError, Solution,
    SolutionWithDual, SolverModel, Variable,
};
use serde::Serialize;

use super::program::{Cmp, Domain, LinearProgram, Sense};
use super::LpError;

/// An LP solver behind `good_lp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The default: microlp up to [`Backend::AUTO_THRESHOLD`] variables, above it
    /// [`Backend::large`] — clarabel, or HiGHS in builds with the `highs` feature
    /// (where microlp is measured up to 15× slower, more on P1; README "LP benchmarks").
    /// Outputs record the backend actually used.
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
            Backend::Auto => Backend::large(),
            other => other,
        }
    }

    /// What `auto` uses above [`Backend::AUTO_THRESHOLD`] variables in this build:
    /// HiGHS when compiled in (measured 2.7× faster than clarabel on P3 at 20 000 and
    /// 100 000 users), else clarabel, the faster of the pure-Rust backends there.
    pub fn large() -> Backend {
        if cfg!(feature = "highs") {
            Backend::Highs
        } else {
            Backend::Clarabel
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

    /// Whether the backend reports the rows' dual values with its solution (through
    /// good_lp's `SolutionWithDual`): clarabel and HiGHS do, microlp does not.
    pub fn reports_duals(self) -> bool {
        matches!(self, Backend::Clarabel | Backend::Highs)
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
            "highs" if cfg!(feature = "highs") => Ok(Backend::Highs),
            // Refused where it is named (a flag, a spec), not at the first solve.
            "highs" => Err(
                "the highs backend is not enabled in this build (rebuild with `--features highs`; available: auto, microlp, clarabel)".to_string(),
            ),
            other => Err(format!(
                "unknown LP backend '{other}' (known: auto, microlp, clarabel, highs)"
            )),
        }
    }
}

/// A solved LP: the primal values x and, from backends that report them, the shadow
/// price of every row (the change of the optimum per unit of the row's right-hand
/// side, the sign convention of [`LinearProgram::dual_values`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LpAnswer {
    /// The primal values x, aligned with the LP's variables.
    pub x: Vec<f64>,
    /// Per row, its shadow price; `None` unless asked for and the backend reports
    /// duals ([`Backend::reports_duals`]).
    pub row_duals: Option<Vec<f64>>,
}

/// Solves `lp` with `backend`; returns the primal values x.
pub fn solve_lp(lp: &LinearProgram, backend: Backend) -> Result<Vec<f64>, LpError> {
    solve_lp_with(lp, backend, false).map(|a| a.x)
}

/// Solves `lp` with `backend`, also returning the rows' shadow prices when
/// `duals` is set and the backend reports them (clarabel and HiGHS do; microlp does
/// not, and callers then solve [`LinearProgram::dual`]). One solve serves both: an
/// interior-point method such as clarabel finds the primal and the dual optimum
/// together.
pub fn solve_lp_with(
    lp: &LinearProgram,
    backend: Backend,
    duals: bool,
) -> Result<LpAnswer, LpError> {
    if lp.variables() == 0 {
        return Ok(LpAnswer {
            x: Vec::new(),
            row_duals: duals.then(|| vec![0.0; lp.rows.len()]),
        });
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
    let resolved = backend.resolve(lp.variables());
    let duals = duals && resolved.reports_duals();
    // A panic inside a backend (microlp warns it may) becomes an error, never a crash.
    let outcome = catch_unwind(AssertUnwindSafe(|| match resolved {
        Backend::Microlp => values(problem.using(good_lp::microlp).with_all(constraints), &xs)
            .map(|x| LpAnswer { x, row_duals: None }),
        Backend::Clarabel => with_duals(problem.using(good_lp::clarabel), constraints, &xs, duals),
        Backend::Highs | Backend::Auto => solve_highs(problem, constraints, &xs, duals),
    }));
    match outcome {
        Err(_) => Err(LpError::BackendPanicked { backend }),
        Ok(Err(ResolutionError::Infeasible)) => Err(LpError::Infeasible { backend }),
        Ok(Err(ResolutionError::Unbounded)) => Err(LpError::Unbounded { backend }),
        Ok(Err(e)) => Err(LpError::Backend {
            backend,
            message: e.to_string(),
        }),
        Ok(Ok(a)) => Ok(a),
    }
}

/// Adds the rows one by one (keeping their references, which need not be 0, 1, …:
/// clarabel counts its bound rows first), solves, and reads x and, if asked, the
/// rows' duals.
fn with_duals<M>(
    mut model: M,
    constraints: impl Iterator<Item = good_lp::Constraint>,
    xs: &[Variable],
    duals: bool,
) -> Result<LpAnswer, ResolutionError>
where
    M: SolverModel<Error = ResolutionError>,
    for<'a> M::Solution: SolutionWithDual<'a>,
{
    let refs: Vec<_> = constraints.map(|c| model.add_constraint(c)).collect();
    let mut solution = model.solve()?;
    let x = xs.iter().map(|&v| solution.value(v)).collect();
    let row_duals = duals.then(|| {
        let d = solution.compute_dual();
        refs.into_iter().map(|r| d.dual(r)).collect()
    });
    Ok(LpAnswer { x, row_duals })
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
    duals: bool,
) -> Result<LpAnswer, ResolutionError> {
    with_duals(problem.using(good_lp::highs), constraints, xs, duals)
}

#[cfg(not(feature = "highs"))]
fn solve_highs(
    _problem: good_lp::variable::UnsolvedProblem,
    _constraints: impl Iterator<Item = good_lp::Constraint>,
    _xs: &[Variable],
    _duals: bool,
) -> Result<LpAnswer, ResolutionError> {
    // Callers check `Backend::available()` first; this is the stub of a build
    // without the feature, as ripgrep's disabled index.
    Err(ResolutionError::Str(
        "the HiGHS backend is not enabled in this build (rebuild with `--features highs`)"
            .to_string(),
    ))
}
