//! `brokerflow compare`: the LP baselines and the distributed variants on one market,
//! side by side, in the measures of DESIGN §8.

use std::path::PathBuf;
use std::time::Instant;

use brokerflow_solvers::engine::{self, Variant};
use brokerflow_solvers::lp::{self, LpError, LpOptions, Objective};
use brokerflow_solvers::measures::{gap_closed, percent_of_optimum, served_fraction, Measure};
use serde::Serialize;
use serde_json::json;

use crate::cmd::run::{EngineArgs, InjectArg};
use crate::cmd::{provenance, LoadedMarket};

/// Compare on one market: the LP optima P1, P2, P2⁻, P3 and the distributed variants
/// `fair` and `utility-aware`, each in feasible and in demand injection, with welfare,
/// percent of the matching optimum, share of the routing gap closed, served fraction,
/// rounds and time.
///
/// The optimum a distributed row is measured against: in feasible mode, P2 at the
/// amounts the engine injects ((1 − η)·min(δ*,1)·d_k), with P2⁻ at the same amounts as
/// the worst end for gap_closed; in demand mode, P3.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Market file (JSON).
    pub market: PathBuf,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Print `{"market": …, "rows": […]}` instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One row of the comparison (DESIGN §8's measures; `None` where one does not apply).
#[derive(Debug, Serialize)]
struct Row {
    method: &'static str,
    mode: &'static str,
    welfare: Option<f64>,
    optimum: Option<f64>,
    percent_of_optimum: Option<f64>,
    gap_closed: Option<f64>,
    served_fraction: Option<f64>,
    rounds: Option<usize>,
    converged: Option<bool>,
    seconds: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

/// Runs `compare`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let loaded = LoadedMarket::load(&args.market)?;
    let g = &loaded.graph;
    let options = LpOptions {
        backend: args.engine.backend,
        prices: false,
    };
    let timed = |f: &dyn Fn() -> Result<lp::LpSolution, LpError>| {
        let start = Instant::now();
        let r = f();
        (r, start.elapsed().as_secs_f64())
    };
    let (p1, p1_s) = timed(&|| lp::max_concurrent_flow(g, &options));
    let p1 = p1?;
    let (p2, p2_s) = timed(&|| lp::utility_flow_at(g, Objective::Utility, p1.delta, &options));
    let p2 = p2?;
    let (p2m, p2m_s) =
        timed(&|| lp::utility_flow_at(g, Objective::WorstUtility, p1.delta, &options));
    let p2m = match p2m {
        Ok(s) => Some(s),
        Err(LpError::CyclicWorstCase) => None,
        Err(e) => return Err(e.into()),
    };
    let (p3, p3_s) = timed(&|| lp::max_welfare(g, &options));
    let p3 = p3?;
    let w = |s: &lp::LpSolution| s.welfare(g).expect("bounded");
    let (w2, w3) = (w(&p2), w(&p3));
    let w2m = p2m.as_ref().map(w);
    let value = |m: Measure| m.value;
    let mut rows = vec![
        Row {
            method: "lp",
            mode: "concurrent",
            welfare: None,
            optimum: None,
            percent_of_optimum: None,
            gap_closed: None,
            served_fraction: p1.flow.as_ref().and_then(|f| served_fraction(g, f)),
            rounds: None,
            converged: None,
            seconds: p1_s,
            notes: vec![match p1.delta {
                Some(d) => format!("delta* = {d:.6}"),
                None => "delta* unbounded".to_string(),
            }],
        },
        Row {
            method: "lp",
            mode: "utility",
            welfare: Some(w2),
            optimum: Some(w2),
            percent_of_optimum: value(percent_of_optimum(w2, w2)),
            gap_closed: value(gap_closed(w2, w2, w2m)),
            served_fraction: p2.flow.as_ref().and_then(|f| served_fraction(g, f)),
            rounds: None,
            converged: None,
            seconds: p2_s,
            notes: Vec::new(),
        },
    ];
    rows.push(match (&p2m, w2m) {
        (Some(s), Some(wm)) => Row {
            method: "lp",
            mode: "worst-utility",
            welfare: Some(wm),
            optimum: Some(w2),
            percent_of_optimum: value(percent_of_optimum(wm, w2)),
            gap_closed: value(gap_closed(wm, w2, Some(wm))),
            served_fraction: s.flow.as_ref().and_then(|f| served_fraction(g, f)),
            rounds: None,
            converged: None,
            seconds: p2m_s,
            notes: Vec::new(),
        },
        _ => Row {
            method: "lp",
            mode: "worst-utility",
            welfare: None,
            optimum: None,
            percent_of_optimum: None,
            gap_closed: None,
            served_fraction: None,
            rounds: None,
            converged: None,
            seconds: p2m_s,
            notes: vec!["undefined: the market has a broker->broker cycle".to_string()],
        },
    });
    rows.push(Row {
        method: "lp",
        mode: "welfare",
        welfare: Some(w3),
        optimum: Some(w3),
        percent_of_optimum: value(percent_of_optimum(w3, w3)),
        gap_closed: None,
        served_fraction: p3.flow.as_ref().and_then(|f| served_fraction(g, f)),
        rounds: None,
        converged: None,
        seconds: p3_s,
        notes: Vec::new(),
    });
    // The feasible-mode yardsticks: P2 and P2⁻ at what the engine injects,
    // (1 − η)·min(δ*,1)·d_k, i.e. P2 at δ' = (1 − η)·min(δ*,1).
    let scaled = Some((1.0 - args.engine.eta) * p1.delta.map_or(1.0, |d| d.min(1.0)));
    let best = w(&lp::utility_flow_at(
        g,
        Objective::Utility,
        scaled,
        &options,
    )?);
    let worst = match lp::utility_flow_at(g, Objective::WorstUtility, scaled, &options) {
        Ok(s) => Some(w(&s)),
        Err(LpError::CyclicWorstCase) => None,
        Err(e) => return Err(e.into()),
    };
    for inject in [InjectArg::Feasible, InjectArg::Demand] {
        for variant in [Variant::Fair, Variant::UtilityAware] {
            let mut o = args.engine.options(&loaded, variant, inject, false)?;
            if let engine::Injection::Feasible { delta } = &mut o.injection {
                *delta = p1.delta;
            }
            let start = Instant::now();
            let r = engine::run(&loaded.market, g, &o)?;
            let seconds = start.elapsed().as_secs_f64();
            let welfare = r.welfare(g);
            let (optimum, gap) = match inject {
                InjectArg::Feasible => (best, value(gap_closed(welfare, best, worst))),
                InjectArg::Demand => (w3, None),
            };
            let pct = percent_of_optimum(welfare, optimum);
            let mut notes = Vec::new();
            if let Some(reason) = pct.reason {
                notes.push(reason.to_string());
            }
            if !r.converged {
                notes.push(format!("stopped at the round limit ({})", o.max_rounds));
            }
            rows.push(Row {
                method: variant.name(),
                mode: o.injection.name(),
                welfare: Some(welfare),
                optimum: Some(optimum),
                percent_of_optimum: pct.value,
                gap_closed: gap,
                served_fraction: served_fraction(g, &r.flow),
                rounds: Some(r.rounds),
                converged: Some(r.converged),
                seconds,
                notes,
            });
        }
    }
    if args.json {
        let value = json!({
            "market": {
                "name": loaded.market.name,
                "file": loaded.path.display().to_string(),
                "sha256": loaded.sha256,
            },
            "rows": rows,
            "approximate": "engine rows are averages over the last window of rounds; LP rows are exact to the solver tolerance",
            "provenance": provenance(&loaded, p3.backend),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", render(&loaded, &rows));
    }
    Ok(())
}

fn render(loaded: &LoadedMarket, rows: &[Row]) -> String {
    use std::fmt::Write;
    let num =
        |x: Option<f64>, digits: usize| x.map_or("-".to_string(), |x| format!("{x:.digits$}"));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "market '{}' ({})",
        loaded.market.name,
        loaded.path.display()
    );
    let _ = writeln!(
        out,
        "  {:<14} {:<14} {:>12} {:>12} {:>8} {:>7} {:>7} {:>7} {:>5} {:>8}",
        "method",
        "mode",
        "welfare",
        "optimum",
        "% opt",
        "gap",
        "served",
        "rounds",
        "conv",
        "seconds"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "  {:<14} {:<14} {:>12} {:>12} {:>8} {:>7} {:>7} {:>7} {:>5} {:>8.3}{}",
            r.method,
            r.mode,
            num(r.welfare, 3),
            num(r.optimum, 3),
            num(r.percent_of_optimum, 1),
            num(r.gap_closed, 3),
            num(r.served_fraction, 3),
            r.rounds.map_or("-".to_string(), |x| x.to_string()),
            r.converged.map_or("-", |c| if c { "yes" } else { "no" }),
            r.seconds,
            if r.notes.is_empty() {
                String::new()
            } else {
                format!("  ({})", r.notes.join("; "))
            }
        );
    }
    let _ = writeln!(
        out,
        "  % opt: welfare as a percentage of the matching optimum (feasible mode: P2 at the injected amounts; demand mode: P3). gap: share of the gap between the worst (P2-) and best (P2) routing of the same amounts that a routing closes. Engine rows are averages over the last window of rounds."
    );
    out
}
