//! Aggregates of a batch (design §8): per configuration and method the mean of each
//! measure with its 95 % Student-t interval, worst decile, median and 90th percentile
//! (all percentiles by nearest rank); paired utility-aware −
//! fair differences per injection mode; and, for configurations that carry the
//! paper's numbers, the Table 1 comparison.

use std::fmt::Write;

use brokerflow_solvers::compare::{InjectionMode, Measure, Method, Stat};
use brokerflow_solvers::engine::Variant;
use brokerflow_solvers::measures::OPTIMUM_TOLERANCE;
use brokerflow_solvers::stats::{mean_ci, paired_differences, percentile, Estimate};

use crate::runner::{csv_line, Record};
use crate::spec::{Configuration, Source, Spec};

/// The measures aggregated per (configuration, method): those of [`Measure::ALL`]
/// marked [`summary`](Measure::summary), in that order.
pub fn measures() -> impl Iterator<Item = &'static Measure> {
    Measure::ALL.iter().filter(|m| m.summary)
}

/// The measures paired utility-aware − fair on the same scenario.
fn paired() -> impl Iterator<Item = (&'static Measure, usize)> {
    Measure::ALL.iter().filter_map(|m| Some((m, m.paired?)))
}

/// A measure's value on a record.
fn read(m: &Measure) -> impl Fn(&Record) -> Option<f64> + '_ {
    move |r| (m.read)(&r.measures)
}

/// The share of failed rows, aggregated after the measures.
const FAILED: &str = "failed";

/// One aggregate: a measure's estimate, worst decile, median and 90th percentile.
pub struct Aggregate {
    /// Mean and CI over the defined values.
    pub estimate: Option<Estimate>,
    /// 10th percentile by nearest rank.
    pub p10: Option<f64>,
    /// Median: 50th percentile by nearest rank (the lower middle value for even n).
    pub median: Option<f64>,
    /// 90th percentile by nearest rank.
    pub p90: Option<f64>,
}

fn aggregate(values: &[f64]) -> Aggregate {
    Aggregate {
        estimate: mean_ci(values),
        p10: percentile(values, 10.0),
        median: percentile(values, 50.0),
        p90: percentile(values, 90.0),
    }
}

/// One method's results on one configuration's scenarios, aligned by scenario so two
/// methods can be compared scenario by scenario ([MCF-Grid] §6 Table 1's paired
/// comparison).
///
/// # Arguments
/// * `spec`: the experiment.
/// * `records`: a batch's records.
/// * `ci`, `mi`: the configuration and its method.
///
/// # Returns
/// One entry per scenario of the configuration, in scenario order (`None` where the
/// record is missing).
///
/// # Complexity
/// O(S + |records|) for S scenarios.
///
/// # Example
/// ```
/// use std::path::Path;
/// use brokerflow_experiments::{summary::column, Record, Spec};
/// use brokerflow_solvers::compare::Measures;
///
/// let text = "name = \"t\"\nmethods = [\"lp/welfare\"]\n[[configuration]]\nname = \"c\"\n\
///             seeds = 2\n[configuration.generator]\nusers = 2\nbrokers = 1\nproviders = 1\n";
/// let spec = Spec::parse(text, Path::new("t.toml"))?;
/// let r = Record {
///     config: 0, scenario: 1, method: 0, ok: true, measures: Measures::default(),
///     notes: String::new(), error: String::new(), seconds: 0.0,
/// };
/// assert_eq!(column(&spec, &[r.clone()], 0, 0), vec![None, Some(r)]);
/// # Ok::<_, brokerflow_experiments::SpecError>(())
/// ```
///
/// Paper: [MCF-Grid] §6.
pub fn column(spec: &Spec, records: &[Record], ci: usize, mi: usize) -> Vec<Option<Record>> {
    let n = spec.configurations[ci].scenarios();
    let mut out = vec![None; n];
    for r in records.iter().filter(|r| r.config == ci && r.method == mi) {
        out[r.scenario] = Some(r.clone());
    }
    out
}

fn values(col: &[Option<Record>], f: impl Fn(&Record) -> Option<f64>) -> Vec<Option<f64>> {
    col.iter().map(|r| r.as_ref().and_then(&f)).collect()
}

fn defined(v: &[Option<f64>]) -> Vec<f64> {
    v.iter().flatten().copied().collect()
}

fn method_index(spec: &Spec, ci: usize, m: Method) -> Option<usize> {
    spec.configurations[ci].methods.iter().position(|&x| x == m)
}

/// The paired comparison of one configuration and mode: per-scenario utility-aware
/// and fair records.
struct Pair {
    mode: InjectionMode,
    fair: Vec<Option<Record>>,
    aware: Vec<Option<Record>>,
}

fn pairs(spec: &Spec, records: &[Record], ci: usize) -> Vec<Pair> {
    [InjectionMode::Feasible, InjectionMode::Demand]
        .into_iter()
        .filter_map(|mode| {
            let f = method_index(
                spec,
                ci,
                Method::Engine {
                    variant: Variant::Fair,
                    mode,
                },
            )?;
            let a = method_index(
                spec,
                ci,
                Method::Engine {
                    variant: Variant::UtilityAware,
                    mode,
                },
            )?;
            Some(Pair {
                mode,
                fair: column(spec, records, ci, f),
                aware: column(spec, records, ci, a),
            })
        })
        .collect()
}

/// The gain of utility-aware over fair as a percentage of fair's welfare: the mean
/// paired welfare difference over the mean fair welfare on the same scenarios, with
/// the paired CI scaled alike. `None` when fair's mean welfare is not positive.
fn relative_gain(p: &Pair) -> Option<(Estimate, f64)> {
    let a = values(&p.aware, |r| r.welfare);
    let f = values(&p.fair, |r| r.welfare);
    let d = paired_differences(&a, &f);
    let base: Vec<f64> = a.iter().zip(&f).filter_map(|(x, y)| x.and(*y)).collect();
    let base = brokerflow_solvers::stats::mean(&base)?;
    if base <= OPTIMUM_TOLERANCE {
        return None;
    }
    let e = mean_ci(&d)?;
    Some((
        Estimate {
            n: e.n,
            mean: 100.0 * e.mean / base,
            half_width: e.half_width.map(|h| 100.0 * h / base),
        },
        base,
    ))
}

fn num(x: Option<f64>) -> String {
    x.map_or(String::new(), |x| x.to_string())
}

/// `summary.csv`: provenance comment lines, then one row per (configuration, method,
/// measure): `n, mean, half_width, ci_low, ci_high, p10, median, p90` (percentiles by
/// nearest rank, over the same n defined values). Paired rows have method
/// `utility-aware-minus-fair/<mode>`; measure `relative_gain_percent` is the gain
/// over fair as a percentage of fair's mean welfare.
///
/// # Arguments
/// * `spec`: the experiment.
/// * `records`: the batch's records.
/// * `provenance`: the comment lines to start with.
///
/// # Returns
/// The CSV text.
///
/// # Complexity
/// O(C × M × (S log S + |records|)) for C configurations, M methods and S scenarios
/// each (a sort per percentile).
///
/// # Example
/// ```
/// use std::path::Path;
/// use brokerflow_experiments::{summary::summary_csv, Record, Spec};
/// use brokerflow_solvers::compare::Measures;
///
/// let text = "name = \"t\"\nmethods = [\"lp/welfare\"]\n[[configuration]]\nname = \"c\"\n\
///             seeds = 2\n[configuration.generator]\nusers = 2\nbrokers = 1\nproviders = 1\n";
/// let spec = Spec::parse(text, Path::new("t.toml"))?;
/// let record = |scenario, welfare| Record {
///     config: 0, scenario, method: 0, ok: true,
///     measures: Measures { welfare: Some(welfare), ..Measures::default() },
///     notes: String::new(), error: String::new(), seconds: 0.0,
/// };
/// let csv = summary_csv(&spec, &[record(0, 1.0), record(1, 3.0)], "");
/// // Welfare 1 and 3: n 2, mean 2, s = √2, half-width t(0.975, 1)·√2/√2 = 12.706…
/// let row = csv.lines().find(|l| l.starts_with("c,lp/welfare,welfare,")).unwrap();
/// assert!(row.starts_with("c,lp/welfare,welfare,2,2,12.706"), "{row}");
/// # Ok::<_, brokerflow_experiments::SpecError>(())
/// ```
///
/// Paper: [MCF-Grid] §6 (Table 1's averages over scenarios).
pub fn summary_csv(spec: &Spec, records: &[Record], provenance: &str) -> String {
    let mut s = provenance.to_string();
    let head: Vec<String> = [
        "configuration",
        "method",
        "measure",
        "n",
        "mean",
        "half_width",
        "ci_low",
        "ci_high",
        "p10",
        "median",
        "p90",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    s.push_str(&csv_line(&head));
    let mut row = |c: &str, m: &str, measure: &str, a: &Aggregate| {
        let e = a.estimate;
        s.push_str(&csv_line(&[
            c.to_string(),
            m.to_string(),
            measure.to_string(),
            e.map_or("0".into(), |e| e.n.to_string()),
            num(e.map(|e| e.mean)),
            num(e.and_then(|e| e.half_width)),
            num(e.and_then(|e| e.low())),
            num(e.and_then(|e| e.high())),
            num(a.p10),
            num(a.median),
            num(a.p90),
        ]));
    };
    for (ci, c) in spec.configurations.iter().enumerate() {
        for (mi, m) in c.methods.iter().enumerate() {
            let col = column(spec, records, ci, mi);
            for measure in measures() {
                let v = values(&col, read(measure));
                row(&c.name, &m.label(), measure.name, &aggregate(&defined(&v)));
            }
            let failed = values(&col, |r| Some(f64::from(u8::from(!r.ok))));
            row(&c.name, &m.label(), FAILED, &aggregate(&defined(&failed)));
        }
        for p in pairs(spec, records, ci) {
            let label = format!("utility-aware-minus-fair/{}", p.mode.name());
            for (measure, _) in paired() {
                let f = read(measure);
                let d = paired_differences(&values(&p.aware, &f), &values(&p.fair, &f));
                row(&c.name, &label, measure.name, &aggregate(&d));
            }
            let g = relative_gain(&p).map(|(e, _)| e);
            row(
                &c.name,
                &label,
                "relative_gain_percent",
                &Aggregate {
                    estimate: g,
                    p10: None,
                    median: None,
                    p90: None,
                },
            );
        }
    }
    s
}

/// One `summary.md` cell: statistic `stat` of the defined values `v`.
fn stat_cell(stat: Stat, v: &[f64]) -> String {
    let a = aggregate(v);
    let int = |x: Option<f64>| x.map_or("–".to_string(), |x| format!("{x:.0}"));
    match stat {
        Stat::Mean(digits) => pm(a.estimate, digits),
        Stat::P10(digits) => a.p10.map_or("–".into(), |x| format!("{x:.digits$}")),
        Stat::Median => int(a.median),
        Stat::P90 => int(a.p90),
        Stat::N(none) => a.estimate.map_or(none.to_string(), |e| e.n.to_string()),
        Stat::Share if v.is_empty() => "–".to_string(),
        Stat::Share => format!("{}/{}", v.iter().filter(|&&x| x > 0.5).count(), v.len()),
    }
}

fn pm(e: Option<Estimate>, digits: usize) -> String {
    match e {
        None => "–".into(),
        Some(e) => match e.half_width {
            Some(h) => format!("{:.digits$} ± {:.digits$}", e.mean, h),
            None => format!("{:.digits$}", e.mean),
        },
    }
}

fn describe(c: &Configuration) -> String {
    match &c.source {
        Source::Generated { config, seeds } => format!(
            "generated: {} users, {} brokers, {} providers, contention {}, provider cost {}, broker cost {}, link cost {}; seeds {}–{}",
            config.users,
            config.brokers,
            config.providers,
            config.contention,
            config.provider_cost,
            config.broker_cost,
            config.link_cost,
            seeds.first(),
            seeds.last()
        ),
        Source::Given(files) => format!("{} market files", files.len()),
    }
}

/// `summary.md`: the same aggregates as [`summary_csv`] as readable tables, with the
/// comparison with [MCF-Grid] §6 Table 1 first when the spec carries the paper's
/// numbers.
///
/// # Arguments
/// * `spec`: the experiment (its description is copied in).
/// * `records`: the batch's records.
/// * `provenance`: what made the batch, printed as a block.
///
/// # Returns
/// The Markdown text.
///
/// # Complexity
/// As [`summary_csv`].
///
/// # Example
/// ```
/// use std::path::Path;
/// use brokerflow_experiments::{summary::summary_md, Spec};
///
/// let text = "name = \"t\"\nmethods = [\"lp/welfare\"]\n[[configuration]]\nname = \"c\"\n\
///             seeds = 2\n[configuration.generator]\nusers = 2\nbrokers = 1\nproviders = 1\n";
/// let spec = Spec::parse(text, Path::new("t.toml"))?;
/// let md = summary_md(&spec, &[], "# spec t.toml\n");
/// // No configuration carries the paper's Table 1 numbers, so no comparison with it.
/// assert!(!md.contains("Table 1 beside brokerflow"));
/// assert!(md.contains("Generated by `brokerflow experiment`"));
/// # Ok::<_, brokerflow_experiments::SpecError>(())
/// ```
///
/// Paper: [MCF-Grid] §6 Table 1.
pub fn summary_md(spec: &Spec, records: &[Record], provenance: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Experiment `{}`\n", spec.name);
    if let Some(d) = &spec.description {
        let _ = writeln!(s, "{}\n", d.trim());
    }
    let _ = writeln!(
        s,
        "Generated by `brokerflow experiment` — do not edit. Means ± half-width of the 95 % Student-t interval (n − 1 d.o.f.) over the scenarios where the measure is defined; p10 = worst decile (10th percentile, nearest rank). Welfare in money per time unit; % of optimum and gap closed as design §8 defines them (% of optimum: feasible mode against P2 at the injected amounts, demand mode against P3; gap closed: between P2⁻ and P2 at the amounts the row serves, with its n the rows where it is defined). Rounds median and p90 = 50th and 90th percentiles by nearest rank. Rounds to 95 % = the first checkpoint (every 50th round and the last) from which the window welfare stays ≥ 95 % of the matching optimum to the end of the run (defined by brokerflow, not by design §8); its median and p90 are over the n rows where it is defined (it is not where the optimum is not positive or the run never gets there and stays).\n"
    );
    let _ = writeln!(s, "```text\n{}```\n", provenance.replace("# ", ""));

    if spec.configurations.iter().any(|c| c.paper.is_some()) {
        let _ = writeln!(s, "## [MCF-Grid] Table 1 beside brokerflow\n");
        let _ = writeln!(
            s,
            "Gain = mean paired difference of welfare (utility-aware − fair) as a percentage of fair's mean welfare, with its paired 95 % CI; `–` where fair's mean welfare is not positive. Δ % opt = mean paired difference of percent_of_optimum, in percentage points.\n"
        );
        let _ = writeln!(
            s,
            "| configuration | mode | n | fair % of optimum | utility-aware % of optimum | gain % | Δ % opt (points) | paper gain % | paper % of optimum |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for (ci, c) in spec.configurations.iter().enumerate() {
            let Some(paper) = c.paper else { continue };
            for p in pairs(spec, records, ci) {
                let pct = |col: &[Option<Record>]| {
                    mean_ci(&defined(&values(col, |r| r.percent_of_optimum)))
                };
                let d = paired_differences(
                    &values(&p.aware, |r| r.percent_of_optimum),
                    &values(&p.fair, |r| r.percent_of_optimum),
                );
                let n = p.fair.iter().zip(&p.aware).filter(|(a, b)| {
                    a.as_ref().is_some_and(|r| r.ok) && b.as_ref().is_some_and(|r| r.ok)
                });
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    c.name,
                    p.mode.name(),
                    n.count(),
                    pm(pct(&p.fair), 1),
                    pm(pct(&p.aware), 1),
                    pm(relative_gain(&p).map(|(e, _)| e), 1),
                    pm(mean_ci(&d), 2),
                    paper.gain_percent,
                    paper.percent_of_optimum
                );
            }
        }
        let _ = writeln!(s);
    }

    let _ = writeln!(s, "## Per configuration and method\n");
    for (ci, c) in spec.configurations.iter().enumerate() {
        let _ = writeln!(
            s,
            "### {} ({} scenarios; {})\n",
            c.name,
            c.scenarios(),
            describe(c)
        );
        let mut cells: Vec<_> = measures()
            .flat_map(|m| m.summary_md.iter().map(move |c| (m, c)))
            .collect();
        cells.sort_by_key(|(_, c)| c.place);
        let headers: Vec<&str> = cells.iter().map(|(_, c)| c.header).collect();
        let _ = writeln!(s, "| method | ok | failed | {} |", headers.join(" | "));
        let _ = writeln!(s, "|---|---:|---:|{}", "---:|".repeat(cells.len()));
        for (mi, m) in c.methods.iter().enumerate() {
            let col = column(spec, records, ci, mi);
            let ok = col.iter().flatten().filter(|r| r.ok).count();
            let failed = col.iter().flatten().filter(|r| !r.ok).count();
            let shown: Vec<String> = cells
                .iter()
                .map(|(measure, c)| {
                    let v = defined(&values(&col, read(measure)));
                    stat_cell(c.stat, &v)
                })
                .collect();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                m.label(),
                ok,
                failed,
                shown.join(" | ")
            );
        }
        let ps = pairs(spec, records, ci);
        if !ps.is_empty() {
            let _ = writeln!(
                s,
                "\nPaired differences, utility-aware − fair on the same scenarios:\n"
            );
            let heads: Vec<String> = paired().map(|(m, _)| format!("Δ {}", m.label)).collect();
            let _ = writeln!(
                s,
                "| mode | n | {} | gain % of fair welfare |",
                heads.join(" | ")
            );
            let _ = writeln!(s, "|---|---:|{}---:|", "---:|".repeat(heads.len()));
            for p in &ps {
                let d = |m: &Measure| {
                    let f = read(m);
                    mean_ci(&paired_differences(
                        &values(&p.aware, &f),
                        &values(&p.fair, &f),
                    ))
                };
                let n = paired().next().and_then(|(m, _)| d(m)).map_or(0, |e| e.n);
                let shown: Vec<String> = paired().map(|(m, digits)| pm(d(m), digits)).collect();
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    p.mode.name(),
                    n,
                    shown.join(" | "),
                    pm(relative_gain(p).map(|(e, _)| e), 1),
                );
            }
        }
        let _ = writeln!(s);
    }
    s
}
