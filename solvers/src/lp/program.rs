//! A linear program as plain data: what brokerflow builds for P1–P3, what every
//! backend solves, what `--export-lp` writes, and what [`LinearProgram::dual`] turns
//! into its dual. One representation, so the exported file is exactly the LP solved.

use std::fmt::Write;

/// Direction of the objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sense {
    /// Maximise the objective.
    Maximise,
    /// Minimise the objective.
    Minimise,
}

/// Comparison of a row with its right-hand side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// Σ a·x ≤ b.
    Le,
    /// Σ a·x ≥ b.
    Ge,
    /// Σ a·x = b.
    Eq,
}

/// A variable's domain. brokerflow's LPs only need these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// x ≥ 0.
    NonNegative,
    /// x free (duals of equality rows).
    Free,
}

/// One constraint row Σ_j a_j·x_j (cmp) rhs.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Name used in the LP file (letters, digits, `_` and `.` only).
    pub name: String,
    /// Sparse coefficients (variable index, a_j), each variable at most once.
    pub terms: Vec<(usize, f64)>,
    /// The comparison.
    pub cmp: Cmp,
    /// The right-hand side b.
    pub rhs: f64,
}

/// max/min c·x + constant subject to rows, with each variable in its domain.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearProgram {
    /// Objective direction.
    pub sense: Sense,
    /// Variable names (LP-file safe).
    pub names: Vec<String>,
    /// Variable domains, aligned with `names`.
    pub domains: Vec<Domain>,
    /// Dense objective coefficients c, aligned with `names`.
    pub objective: Vec<f64>,
    /// Constant added to the objective.
    pub constant: f64,
    /// Constraint rows.
    pub rows: Vec<Row>,
}

impl LinearProgram {
    /// An empty LP in the given direction.
    pub fn new(sense: Sense) -> LinearProgram {
        LinearProgram {
            sense,
            names: Vec::new(),
            domains: Vec::new(),
            objective: Vec::new(),
            constant: 0.0,
            rows: Vec::new(),
        }
    }

    /// Adds a variable and returns its index.
    pub fn add_variable(&mut self, name: String, domain: Domain, cost: f64) -> usize {
        self.names.push(name);
        self.domains.push(domain);
        self.objective.push(cost);
        self.names.len() - 1
    }

    /// Adds a row (skipped if it has no terms and holds trivially); returns its index.
    pub fn add_row(&mut self, name: String, terms: Vec<(usize, f64)>, cmp: Cmp, rhs: f64) -> usize {
        self.rows.push(Row {
            name,
            terms,
            cmp,
            rhs,
        });
        self.rows.len() - 1
    }

    /// Number of variables.
    pub fn variables(&self) -> usize {
        self.names.len()
    }

    /// c·x + constant.
    pub fn objective_value(&self, x: &[f64]) -> f64 {
        self.objective
            .iter()
            .zip(x)
            .map(|(c, x)| c * x)
            .sum::<f64>()
            + self.constant
    }

    /// The LP dual, for prices from a simplex solver that reports none (microlp).
    ///
    /// For max c·x s.t. A x (≤,≥,=) b, x ≥ 0 or free, the dual is
    /// min b·y s.t. Aᵀy ≥ c on non-negative columns and Aᵀy = c on free ones, with
    /// y ≥ 0 on ≤ rows, y ≤ 0 on ≥ rows, y free on = rows (mirrored for min). The
    /// optimal y_i is row i's shadow price: the change of the optimum per unit of
    /// b_i. A ≤ 0 variable is written as −y' with y' ≥ 0, so the dual is in this
    /// type's domains; [`LinearProgram::dual_values`] undoes that.
    pub fn dual(&self) -> LinearProgram {
        let maximise = self.sense == Sense::Maximise;
        let mut dual = LinearProgram::new(if maximise {
            Sense::Minimise
        } else {
            Sense::Maximise
        });
        dual.constant = self.constant;
        let mut columns: Vec<Vec<(usize, f64)>> = vec![Vec::new(); self.variables()];
        for row in &self.rows {
            // Flip ≥ rows of a max problem (≤ rows of a min problem) so y' ≥ 0.
            let flip = dual_flip(self.sense, row.cmp);
            let domain = if row.cmp == Cmp::Eq {
                Domain::Free
            } else {
                Domain::NonNegative
            };
            let y = dual.add_variable(format!("y_{}", row.name), domain, flip * row.rhs);
            for &(j, a) in &row.terms {
                columns[j].push((y, flip * a));
            }
        }
        for (j, terms) in columns.into_iter().enumerate() {
            let cmp = match (self.domains[j], maximise) {
                (Domain::Free, _) => Cmp::Eq,
                (Domain::NonNegative, true) => Cmp::Ge,
                (Domain::NonNegative, false) => Cmp::Le,
            };
            dual.add_row(
                format!("d_{}", self.names[j]),
                terms,
                cmp,
                self.objective[j],
            );
        }
        dual
    }

    /// Shadow prices of this LP's rows from an optimal solution of [`LinearProgram::dual`].
    pub fn dual_values(&self, dual_solution: &[f64]) -> Vec<f64> {
        self.rows
            .iter()
            .zip(dual_solution)
            .map(|(row, y)| dual_flip(self.sense, row.cmp) * y + 0.0)
            .collect()
    }

    /// Largest violation of any row or domain by `x`, absolute.
    pub fn max_violation(&self, x: &[f64]) -> f64 {
        let rows = self.rows.iter().map(|row| {
            let lhs: f64 = row.terms.iter().map(|&(j, a)| a * x[j]).sum();
            match row.cmp {
                Cmp::Le => (lhs - row.rhs).max(0.0),
                Cmp::Ge => (row.rhs - lhs).max(0.0),
                Cmp::Eq => (lhs - row.rhs).abs(),
            }
        });
        let domains = self.domains.iter().zip(x).map(|(d, &x)| match d {
            Domain::NonNegative => (-x).max(0.0),
            Domain::Free => 0.0,
        });
        rows.chain(domains).fold(0.0, f64::max)
    }

    /// The LP in CPLEX LP format, readable by HiGHS, CPLEX, Gurobi, GLPK and CBC.
    /// `comment` lines are written first, each behind `\`.
    pub fn to_cplex_lp(&self, comment: &str) -> String {
        self.to_cplex_lp_named(comment, &self.names)
    }

    /// [`LinearProgram::to_cplex_lp`] with other variable names, aligned with the
    /// variables (each a valid CPLEX-LP name, all distinct: the caller's business).
    pub fn to_cplex_lp_named(&self, comment: &str, names: &[String]) -> String {
        let mut s = String::new();
        for line in comment.lines() {
            let _ = writeln!(s, "\\ {line}");
        }
        s.push_str(match self.sense {
            Sense::Maximise => "Maximize\n",
            Sense::Minimise => "Minimize\n",
        });
        let objective: Vec<(usize, f64)> = self
            .objective
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != 0.0)
            .map(|(j, c)| (j, *c))
            .collect();
        s.push_str(" obj:");
        self.write_terms(&mut s, &objective, names);
        if self.constant != 0.0 {
            let _ = write!(
                s,
                " {} {}",
                sign(self.constant),
                number(self.constant.abs())
            );
        }
        if objective.is_empty() && self.constant == 0.0 {
            // An empty objective still needs a term for some readers.
            let _ = write!(s, " 0 {}", names.first().map_or("x", |n| n.as_str()));
        }
        s.push_str("\nSubject To\n");
        for row in &self.rows {
            let _ = write!(s, " {}:", row.name);
            if row.terms.is_empty() {
                // `0 x` keeps an empty row syntactically valid.
                let _ = write!(s, " 0 {}", names.first().map_or("x", |n| n.as_str()));
            }
            self.write_terms(&mut s, &row.terms, names);
            let cmp = match row.cmp {
                Cmp::Le => "<=",
                Cmp::Ge => ">=",
                Cmp::Eq => "=",
            };
            let _ = writeln!(s, " {cmp} {}", number(row.rhs));
        }
        let free: Vec<&str> = names
            .iter()
            .zip(&self.domains)
            .filter(|(_, d)| **d == Domain::Free)
            .map(|(n, _)| n.as_str())
            .collect();
        if !free.is_empty() {
            s.push_str("Bounds\n");
            for n in free {
                let _ = writeln!(s, " {n} free");
            }
        }
        s.push_str("End\n");
        s
    }

    fn write_terms(&self, s: &mut String, terms: &[(usize, f64)], names: &[String]) {
        for (i, &(j, a)) in terms.iter().enumerate() {
            // Short lines: some LP readers limit line length.
            if i > 0 && i % 8 == 0 {
                s.push_str("\n   ");
            }
            let _ = write!(s, " {} {} {}", sign(a), number(a.abs()), names[j]);
        }
    }
}

/// +1, or −1 where the dual variable of a row is sign-restricted the other way.
fn dual_flip(sense: Sense, cmp: Cmp) -> f64 {
    match (sense, cmp) {
        (Sense::Maximise, Cmp::Ge) | (Sense::Minimise, Cmp::Le) => -1.0,
        _ => 1.0,
    }
}

fn sign(x: f64) -> &'static str {
    if x < 0.0 {
        "-"
    } else {
        "+"
    }
}

/// Shortest text that reads back as the same f64.
fn number(x: f64) -> String {
    format!("{x:?}")
}
