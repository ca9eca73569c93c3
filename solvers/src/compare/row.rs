//! The one result row: [`Measures`], the measures of one method on one market
//! (the columns of an experiment's `scenarios.csv` and of `brokerflow compare --json`),
//! and [`Measure::ALL`], which says how each one is shown and aggregated.
//!
//! A measure is added here once — a field of [`Measures`] and an entry of
//! [`Measure::ALL`] — and then appears in compare's table and JSON, in
//! `scenarios.csv` and in the experiment summaries.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engine::EngineError;
use crate::lp::{LpError, Objective};

/// The measures of one row (`None` where a measure does not apply or is
/// undefined; the reason is in the row's notes), in `scenarios.csv` column order.
///
/// Serialised by field name: these names are the CSV and JSON columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Measures {
    /// Σ f_k / Σ d_k over non-stranded users.
    pub served_fraction: Option<f64>,
    /// W of its flow; for engine rows on window-averaged rates. `None`
    /// for P1, whose flow is one of many δ*-optimal flows.
    pub welfare: Option<f64>,
    /// W* of the matching optimum (P2 for P2-type rows, P3 for P3 and demand mode,
    /// P2 at the injected amounts for feasible mode).
    pub optimum: Option<f64>,
    /// 100 · W / W*.
    pub percent_of_optimum: Option<f64>,
    /// (W − W⁻) / (W* − W⁻), with P2 and P2⁻ at the amounts the row
    /// serves (an engine run: its steady flow's served rates); P2-type and
    /// feasible-mode rows only.
    pub gap_closed: Option<f64>,
    /// Engine rows: rounds run.
    pub rounds: Option<usize>,
    /// Engine rows: whether every commodity was satisfied over the window.
    pub converged: Option<bool>,
    /// Engine rows: the first checkpoint round from which the window welfare stays
    /// ≥ 95 % of `optimum` up to the end of the run
    /// ([`run_with_checkpoints`](super::run_with_checkpoints)); `None` if it never
    /// does, or if `optimum` is not positive (as for `percent_of_optimum`). Defined
    /// here, for the welfare-seeking engine's target ("welfare reaches and stays at
    /// ≥ 95 % of P3"); the paper has no such measure.
    pub rounds_to_95: Option<usize>,
    /// An alias of `gap_closed`, kept for readers of older outputs: the
    /// gap_closed is now measured at the served amounts, which is what this field
    /// measured before the two became one.
    pub gap_closed_served: Option<f64>,
    /// Welfare-seeking demand-mode rows: [`crate::measures::price_error`] of the run's
    /// node prices against P3's exact dual prices. Defined there.
    pub price_error: Option<f64>,
    /// P1's δ* where the row needed it (`None` also when δ* is unbounded).
    pub delta: Option<f64>,
}

/// Why a row has no result. The outputs show it with its causes
/// ([`Causes`](crate::causes::Causes)): `outer: inner: …`.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RowError {
    /// An LP the row needs failed (one solve is shared by every row that needs it,
    /// hence the shared error).
    #[error(transparent)]
    Lp(Arc<LpError>),
    /// An LP the row needs was solved but has no bounded flow (P1 with δ* unbounded
    /// where a flow is needed).
    #[error("the {} LP has no bounded flow", .0.name())]
    NoBoundedFlow(Objective),
    /// P3 failed where a welfare-seeking demand row compares its prices with P3's
    /// exact dual prices.
    #[error("P3 dual prices")]
    DualPrices(#[source] Arc<LpError>),
    /// The engine run failed (a setting out of range, a fault schedule it refuses).
    #[error(transparent)]
    Engine(Arc<EngineError>),
}

impl From<EngineError> for RowError {
    fn from(e: EngineError) -> Self {
        RowError::Engine(Arc::new(e))
    }
}

/// How a measure's value is written in a text table (`-` where it is undefined).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Fixed-point with this many decimals.
    Fixed(usize),
    /// A whole number.
    Integer,
    /// `yes` or `no` (the value is 1 or 0).
    YesNo,
}

impl Format {
    /// `x` in this format, `-` for `None`.
    pub fn show(self, x: Option<f64>) -> String {
        match (self, x) {
            (_, None) => "-".to_string(),
            (Format::Fixed(d), Some(x)) => format!("{x:.d$}"),
            (Format::Integer, Some(x)) => format!("{x:.0}"),
            (Format::YesNo, Some(x)) => if x > 0.5 { "yes" } else { "no" }.to_string(),
        }
    }
}

/// A statistic of one measure over the scenarios, as one cell of `summary.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// Mean ± half-width of the 95 % Student-t interval, with this many decimals.
    Mean(usize),
    /// 10th percentile (nearest rank), with this many decimals.
    P10(usize),
    /// Median (nearest rank), as a whole number.
    Median,
    /// 90th percentile (nearest rank), as a whole number.
    P90,
    /// How many scenarios define the measure; this text where none does.
    N(&'static str),
    /// `k/n`: how many of the n defined values are 1 (a yes/no measure).
    Share,
}

/// One cell of `summary.md`'s per-method table: its place among the columns, its
/// header and its statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryCell {
    /// Columns are ordered by this (after `method`, `ok` and `failed`).
    pub place: u8,
    /// Column header.
    pub header: &'static str,
    /// What the cell shows.
    pub stat: Stat,
}

/// One column of compare's text table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableColumn {
    /// Column header.
    pub header: &'static str,
    /// Width (right-aligned).
    pub width: usize,
    /// How values are written.
    pub format: Format,
}

/// One measure: its column, how to read it off a row, and where it is shown and how
/// it is aggregated. [`Measure::ALL`] lists them.
#[derive(Debug, Clone, Copy)]
pub struct Measure {
    /// The column name: a field of [`Measures`].
    pub name: &'static str,
    /// A reader's name for it, in table headers (`Δ <label>` for paired differences).
    pub label: &'static str,
    /// Its value on a row (whole numbers and yes/no as numbers).
    pub read: fn(&Measures) -> Option<f64>,
    /// Its column in compare's table, if it has one.
    pub table: Option<TableColumn>,
    /// Whether the summaries aggregate it per (configuration, method).
    pub summary: bool,
    /// Its cells in `summary.md`'s per-method table.
    pub summary_md: &'static [SummaryCell],
    /// Whether the summaries pair it (utility-aware − fair on the same scenarios), and
    /// the decimals of the paired mean in `summary.md`.
    pub paired: Option<usize>,
}

const fn cell(place: u8, header: &'static str, stat: Stat) -> SummaryCell {
    SummaryCell {
        place,
        header,
        stat,
    }
}

const fn column(header: &'static str, width: usize, format: Format) -> Option<TableColumn> {
    Some(TableColumn {
        header,
        width,
        format,
    })
}

/// A yes/no value as a number.
fn flag(b: Option<bool>) -> Option<f64> {
    b.map(|b| f64::from(u8::from(b)))
}

impl Measure {
    /// Every measure, in the summaries' order.
    pub const ALL: &[Measure] = &[
        Measure {
            name: "welfare",
            label: "welfare",
            read: |m| m.welfare,
            table: column("welfare", 12, Format::Fixed(3)),
            summary: true,
            summary_md: &[cell(10, "welfare", Stat::Mean(2))],
            paired: Some(3),
        },
        Measure {
            name: "optimum",
            label: "optimum",
            read: |m| m.optimum,
            table: column("optimum", 12, Format::Fixed(3)),
            summary: true,
            summary_md: &[cell(20, "optimum", Stat::Mean(2))],
            paired: None,
        },
        Measure {
            name: "percent_of_optimum",
            label: "% of optimum",
            read: |m| m.percent_of_optimum,
            table: column("% opt", 8, Format::Fixed(1)),
            summary: true,
            summary_md: &[
                cell(30, "% of optimum", Stat::Mean(1)),
                cell(31, "p10 %", Stat::P10(1)),
            ],
            paired: Some(2),
        },
        Measure {
            name: "gap_closed",
            label: "gap closed",
            read: |m| m.gap_closed,
            table: column("gap", 7, Format::Fixed(3)),
            summary: true,
            summary_md: &[
                cell(40, "gap closed", Stat::Mean(3)),
                cell(41, "gap closed n", Stat::N("–")),
            ],
            paired: Some(4),
        },
        Measure {
            name: "served_fraction",
            label: "served fraction",
            read: |m| m.served_fraction,
            table: column("served", 7, Format::Fixed(3)),
            summary: true,
            summary_md: &[cell(50, "served fraction", Stat::Mean(3))],
            paired: Some(4),
        },
        Measure {
            name: "rounds",
            label: "rounds",
            read: |m| m.rounds.map(|x| x as f64),
            table: column("rounds", 7, Format::Integer),
            summary: true,
            summary_md: &[
                cell(60, "rounds", Stat::Mean(0)),
                cell(61, "rounds median", Stat::Median),
                cell(62, "rounds p90", Stat::P90),
            ],
            paired: None,
        },
        Measure {
            name: "rounds_to_95",
            label: "rounds to 95 %",
            read: |m| m.rounds_to_95.map(|x| x as f64),
            table: column("to 95%", 6, Format::Integer),
            summary: true,
            summary_md: &[
                cell(80, "rounds to 95 % median", Stat::Median),
                cell(81, "to 95 % p90", Stat::P90),
                cell(82, "to 95 % n", Stat::N("0")),
            ],
            paired: None,
        },
        Measure {
            name: "price_error",
            label: "price error",
            read: |m| m.price_error,
            table: None,
            summary: true,
            summary_md: &[cell(90, "price error", Stat::Mean(3))],
            paired: None,
        },
        Measure {
            name: "converged",
            label: "converged",
            read: |m| flag(m.converged),
            table: column("conv", 5, Format::YesNo),
            summary: true,
            summary_md: &[cell(70, "converged", Stat::Share)],
            paired: None,
        },
        Measure {
            name: "gap_closed_served",
            label: "gap closed (served)",
            read: |m| m.gap_closed_served,
            table: None,
            summary: false,
            summary_md: &[],
            paired: None,
        },
        Measure {
            name: "delta",
            label: "delta*",
            read: |m| m.delta,
            table: None,
            summary: false,
            summary_md: &[],
            paired: None,
        },
    ];

    /// The measure whose column is `name`.
    pub fn named(name: &str) -> Option<&'static Measure> {
        Measure::ALL.iter().find(|m| m.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The columns of [`Measures`] as serde writes them.
    fn columns() -> Vec<(String, serde_json::Value)> {
        let m = Measures {
            rounds: Some(1),
            converged: Some(true),
            ..Measures::default()
        };
        match serde_json::to_value(m).unwrap() {
            serde_json::Value::Object(map) => map.into_iter().collect(),
            v => panic!("not an object: {v}"),
        }
    }

    /// Every measure names a column, once; every column is a measure.
    #[test]
    fn measures_and_columns_agree() {
        let cols = columns();
        for m in Measure::ALL {
            assert!(cols.iter().any(|(c, _)| c == m.name), "{}", m.name);
            assert_eq!(Measure::ALL.iter().filter(|x| x.name == m.name).count(), 1);
        }
        for (c, _) in &cols {
            assert!(Measure::named(c).is_some(), "column {c} is no measure");
        }
        // Reading a measure reads its own column.
        let mut v = serde_json::to_value(Measures::default()).unwrap();
        for (i, m) in Measure::ALL.iter().enumerate() {
            v[m.name] = match m.name {
                "rounds" | "rounds_to_95" => serde_json::json!(i + 2),
                "converged" => serde_json::json!(true),
                _ => serde_json::json!(i as f64 + 2.5),
            };
            let row: Measures = serde_json::from_value(v.clone()).unwrap();
            let want = match m.name {
                "converged" => 1.0,
                "rounds" | "rounds_to_95" => (i + 2) as f64,
                _ => i as f64 + 2.5,
            };
            assert_eq!((m.read)(&row), Some(want), "{}", m.name);
            v[m.name] = serde_json::Value::Null;
        }
    }

    #[test]
    fn formats() {
        assert_eq!(Format::Fixed(2).show(Some(1.234)), "1.23");
        assert_eq!(Format::Integer.show(Some(12.0)), "12");
        assert_eq!(Format::YesNo.show(Some(0.0)), "no");
        assert_eq!(Format::Fixed(1).show(None), "-");
    }
}
