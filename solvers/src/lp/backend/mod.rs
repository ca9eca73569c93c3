//! LP backends, one file each, behind the [`LpBackend`] seam; the ability to report
//! the rows' duals is its own trait, [`SolveWithDuals`] (as good_lp's
//! `SolutionWithDual`). The backends are picked by measurement (README "LP
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
//!
//! A new backend is one file here and one line of the `registry!` below.

use std::panic::{catch_unwind, AssertUnwindSafe};

use good_lp::{
    variable, DualValues, Expression, ProblemVariables, ResolutionError, Solution,
    SolutionWithDual, SolverModel, Variable,
};
use serde::{Serialize, Serializer};
use thiserror::Error;

use super::program::{Cmp, Domain, LinearProgram, Sense};
use super::LpError;

/// One LP solver: solves a [`LinearProgram`] to its primal optimum x.
pub trait LpBackend: Sync {
    /// Its name, as `--backend` takes it and outputs record it.
    fn name(&self) -> &'static str;
    /// One line on what it is (its method and where it is exact).
    fn summary(&self) -> &'static str;
    /// The solution tolerance it answers to, recorded in outputs.
    fn tolerance(&self) -> f64;
    /// The largest ratio of two non-zero magnitudes among an LP's numbers that it
    /// resolves to the check's relative tolerance (1e-6); larger spreads are refused
    /// before the solve ([`super::dynamic_range`]).
    fn dynamic_range(&self) -> f64;
    /// Whether this build has it (false for an optional backend compiled out).
    fn enabled(&self) -> bool {
        true
    }
    /// Solves `lp`; x is aligned with the LP's variables.
    fn solve(&self, lp: &LinearProgram) -> Result<Vec<f64>, BackendFailure>;
    /// The backend's duals ability, if it has one.
    fn duals(&self) -> Option<&dyn SolveWithDuals> {
        None
    }
}

/// The ability of a backend to report every row's dual value with its solution
/// (good_lp's `SolutionWithDual`); the LP prices need it or the explicit dual LP.
pub trait SolveWithDuals {
    /// Solves `lp`, returning x and every row's shadow price.
    fn solve_with_duals(&self, lp: &LinearProgram) -> Result<LpAnswer, BackendFailure>;
}

/// Why a backend returned no solution.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BackendFailure {
    /// No feasible point.
    #[error("the LP is infeasible")]
    Infeasible,
    /// The objective is unbounded.
    #[error("the LP is unbounded")]
    Unbounded,
    /// An optional backend that this build does not have.
    #[error("not enabled in this build")]
    NotEnabled,
    /// Numerical failure: the values returned are not finite.
    #[error("the solver returned non-finite values")]
    NonFinite,
    /// The solve was interrupted before it finished.
    #[error("the solve was interrupted")]
    Interrupted,
    /// Duals were asked for and not reported.
    #[error("no dual values reported")]
    NoDuals,
    /// Anything else, in the solver's own words (good_lp and microlp give these only as text:
    /// `ResolutionError::Str`, `microlp::Error::InternalError`; there is no error to keep).
    #[error("{0}")]
    Other(String),
}

impl From<ResolutionError> for BackendFailure {
    fn from(e: ResolutionError) -> Self {
        match e {
            ResolutionError::Infeasible => BackendFailure::Infeasible,
            ResolutionError::Unbounded => BackendFailure::Unbounded,
            other => BackendFailure::Other(other.to_string()),
        }
    }
}

/// Declares one module per registered backend file, and [`Backend`]: `auto` and one
/// variant per registered backend.
macro_rules! registry {
    ($($(#[$doc:meta])* $variant:ident => $module:ident::$backend:ident,)*) => {
        $(mod $module;)*

        /// An LP solver: `auto` or one of the registered [`LpBackend`]s.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Backend {
            /// The default: microlp up to [`Backend::AUTO_THRESHOLD`] variables, above
            /// it [`Backend::large`] — clarabel, or HiGHS in builds with the `highs`
            /// feature (where microlp is measured up to 15× slower, more on P1; README
            /// "LP benchmarks"). Outputs record the backend actually used.
            Auto,
            $($(#[$doc])* $variant,)*
        }

        impl Backend {
            /// Every registered backend, compiled in or not, in registry order.
            pub const REGISTERED: &'static [Backend] = &[$(Backend::$variant),*];

            /// Its implementation; `None` for `auto`, which is resolved first.
            pub fn implementation(self) -> Option<&'static dyn LpBackend> {
                match self {
                    Backend::Auto => None,
                    $(Backend::$variant => Some(&$module::$backend),)*
                }
            }
        }
    };
}

// The registry: one line per backend file (its variant's doc comment above it).
registry! {
    /// microlp: pure-Rust simplex; exact vertex solutions.
    Microlp => microlp::Microlp,
    /// clarabel: pure-Rust interior point; answers to its tolerance (~1e-8 relative).
    Clarabel => clarabel::Clarabel,
    /// HiGHS: C++ simplex/IPM; only in builds with `--features highs`.
    Highs => highs::Highs,
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
        if Backend::Highs.enabled() {
            Backend::Highs
        } else {
            Backend::Clarabel
        }
    }

    /// Every concrete backend compiled into this build.
    pub fn available() -> Vec<Backend> {
        Backend::REGISTERED
            .iter()
            .copied()
            .filter(|b| b.enabled())
            .collect()
    }

    /// Whether this build has the backend (`auto` always).
    pub fn enabled(self) -> bool {
        self.implementation().is_none_or(|b| b.enabled())
    }

    /// The backend's name as written in outputs and accepted by `--backend`.
    pub fn name(self) -> &'static str {
        self.implementation().map_or("auto", |b| b.name())
    }

    /// Whether the backend reports the rows' dual values with its solution
    /// ([`SolveWithDuals`]): clarabel and HiGHS do, microlp does not.
    pub fn reports_duals(self) -> bool {
        self.implementation().is_some_and(|b| b.duals().is_some())
    }

    /// Solution tolerance this backend answers to, recorded in outputs (`auto`: the
    /// looser of the backends it may pick).
    pub fn tolerance(self) -> f64 {
        self.implementation().map_or(1e-8, |b| b.tolerance())
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Backend {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A backend name that this build cannot use, with the names it can.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BackendNameError {
    /// A registered backend compiled out of this build.
    #[error("the {name} backend is not enabled in this build (rebuild with `--features {name}`; available: {})", names(true))]
    NotEnabled {
        /// The name given.
        name: String,
    },
    /// No backend has this name.
    #[error("unknown LP backend '{name}' (known: {})", names(false))]
    Unknown {
        /// The name given.
        name: String,
    },
}

/// `auto` and the registered names (only the enabled ones if `enabled`), comma-separated.
fn names(enabled: bool) -> String {
    let mut all = vec!["auto"];
    all.extend(
        Backend::REGISTERED
            .iter()
            .filter(|b| !enabled || b.enabled())
            .map(|b| b.name()),
    );
    all.join(", ")
}

impl std::str::FromStr for Backend {
    type Err = BackendNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let found = std::iter::once(Backend::Auto)
            .chain(Backend::REGISTERED.iter().copied())
            .find(|b| b.name() == s);
        match found {
            Some(b) if b.enabled() => Ok(b),
            // Refused where it is named (a flag, a spec), not at the first solve.
            Some(_) => Err(BackendNameError::NotEnabled {
                name: s.to_string(),
            }),
            None => Err(BackendNameError::Unknown {
                name: s.to_string(),
            }),
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
    let solver = backend
        .resolve(lp.variables())
        .implementation()
        .expect("a resolved backend is a registered one");
    // A panic inside a backend (microlp warns it may) becomes an error, never a crash.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        match solver.duals().filter(|_| duals) {
            Some(d) => d.solve_with_duals(lp),
            None => solver.solve(lp).map(|x| LpAnswer { x, row_duals: None }),
        }
    }));
    match outcome {
        Err(_) => Err(LpError::BackendPanicked { backend }),
        Ok(Err(failure)) => Err(LpError::from_failure(backend, failure)),
        Ok(Ok(a)) => Ok(a),
    }
}

/// `lp` in good_lp's terms: the unsolved problem (variables and objective) and its
/// variables, for a backend file to hand to its solver with [`good_lp_rows`].
fn good_lp_problem(lp: &LinearProgram) -> (good_lp::variable::UnsolvedProblem, Vec<Variable>) {
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
    (problem, xs)
}

/// The rows of `lp` as good_lp constraints over `xs`, built one at a time (an LP of a
/// million variables should not hold them twice).
fn good_lp_rows<'a>(
    lp: &'a LinearProgram,
    xs: &'a [Variable],
) -> impl Iterator<Item = good_lp::Constraint> + 'a {
    lp.rows.iter().map(|row| {
        let mut e = Expression::with_capacity(row.terms.len());
        for &(j, a) in &row.terms {
            e.add_mul(a, xs[j]);
        }
        match row.cmp {
            Cmp::Le => e.leq(row.rhs),
            Cmp::Ge => e.geq(row.rhs),
            Cmp::Eq => e.eq(row.rhs),
        }
    })
}

/// Solves a good_lp model built from `lp` (`using` picks the solver) and reads x.
fn good_lp_primal<M: SolverModel<Error = ResolutionError>>(
    lp: &LinearProgram,
    using: impl FnOnce(good_lp::variable::UnsolvedProblem) -> M,
) -> Result<Vec<f64>, BackendFailure> {
    let (problem, xs) = good_lp_problem(lp);
    let mut model = using(problem);
    for c in good_lp_rows(lp, &xs) {
        model.add_constraint(c);
    }
    let solution = model.solve()?;
    Ok(xs.iter().map(|&v| solution.value(v)).collect())
}

/// [`good_lp_primal`] that also reads every row's dual. The rows' references are
/// kept, as they need not be 0, 1, … (clarabel counts its bound rows first).
fn good_lp_primal_dual<M>(
    lp: &LinearProgram,
    using: impl FnOnce(good_lp::variable::UnsolvedProblem) -> M,
) -> Result<LpAnswer, BackendFailure>
where
    M: SolverModel<Error = ResolutionError>,
    for<'a> M::Solution: SolutionWithDual<'a>,
{
    let (problem, xs) = good_lp_problem(lp);
    let mut model = using(problem);
    let refs: Vec<_> = good_lp_rows(lp, &xs)
        .map(|c| model.add_constraint(c))
        .collect();
    let mut solution = model.solve()?;
    let x = xs.iter().map(|&v| solution.value(v)).collect();
    let d = solution.compute_dual();
    let row_duals = Some(refs.into_iter().map(|r| d.dual(r)).collect());
    Ok(LpAnswer { x, row_duals })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_name_parses_back_or_is_refused_as_not_enabled() {
        for &b in Backend::REGISTERED {
            match b.name().parse::<Backend>() {
                Ok(parsed) => assert_eq!(parsed, b),
                Err(e) => {
                    assert!(!b.enabled());
                    assert!(e.to_string().contains("not enabled in this build"), "{e}");
                }
            }
        }
        assert_eq!("auto".parse::<Backend>(), Ok(Backend::Auto));
    }

    #[test]
    fn an_unknown_name_is_refused_with_every_name() {
        let e = "simplex".parse::<Backend>().unwrap_err();
        let text = e.to_string();
        for name in std::iter::once("auto").chain(Backend::REGISTERED.iter().map(|b| b.name())) {
            assert!(text.contains(name), "{text} lacks {name}");
        }
    }

    #[test]
    fn the_pure_rust_backends_are_always_available_and_auto_resolves_to_one() {
        let available = Backend::available();
        assert!(available.contains(&Backend::Microlp));
        assert!(available.contains(&Backend::Clarabel));
        assert_eq!(Backend::Auto.resolve(1), Backend::Microlp);
        assert!(available.contains(&Backend::Auto.resolve(Backend::AUTO_THRESHOLD + 1)));
    }

    #[test]
    fn duals_are_an_ability_of_clarabel_not_of_microlp() {
        assert!(Backend::Clarabel.reports_duals());
        assert!(!Backend::Microlp.reports_duals());
        assert!(!Backend::Auto.reports_duals());
    }
}
