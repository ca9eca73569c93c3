//! `brokerflow solve`: the LP baselines P1, P2, P2⁻ and P3 on one market.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use brokerflow_graphs::formats::flows_csv;
use brokerflow_solvers::lp::{self, Backend, LpOptions, LpSolution, LpStatus, Objective};
use brokerflow_solvers::workload;
use serde_json::json;

use crate::cmd::output::Outputs;
use crate::cmd::{provenance, LoadedMarket};

/// Which LP to solve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ObjectiveArg {
    /// P1 maximum concurrent flow: the largest fraction δ of every user's demand that
    /// can be served at once (δ ≥ 1: everything fits).
    Concurrent,
    /// P2: serve min(δ,1) of every demand, routed for the most welfare (best routing).
    Utility,
    /// P2⁻: the same amounts routed for the least welfare (worst routing); only on
    /// markets without broker→broker cycles.
    WorstUtility,
    /// P3 maximum welfare / market clearing: serve any amount up to each demand, for
    /// the most welfare (values minus costs); its dual prices clear the market.
    Welfare,
}

impl From<ObjectiveArg> for Objective {
    fn from(o: ObjectiveArg) -> Objective {
        match o {
            ObjectiveArg::Concurrent => Objective::Concurrent,
            ObjectiveArg::Utility => Objective::Utility,
            ObjectiveArg::WorstUtility => Objective::WorstUtility,
            ObjectiveArg::Welfare => Objective::Welfare,
        }
    }
}

/// Solve an LP baseline on a market: how much of each demand can be served (P1),
/// the best and worst routing of those amounts (P2, P2⁻), or the welfare optimum (P3).
///
/// Every solution is checked independently of the solver (flow conservation and
/// capacities from the graph's incidence matrix) before it is printed.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Market file (JSON).
    pub market: PathBuf,
    /// Which LPs, comma-separated, solved and printed in turn. `--json` with several
    /// prints an array; `--flows`, `--export-lp` and `--prices` need exactly one.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "concurrent,welfare"
    )]
    pub objective: Vec<ObjectiveArg>,
    /// LP solver: auto (microlp up to 2 000 variables, above that clarabel, or highs in
    /// builds with `--features highs`), microlp (pure
    /// Rust simplex, exact vertices), clarabel (pure Rust interior point, to ~1e-8),
    /// highs (only in builds with `--features highs`).
    #[arg(long, default_value = "auto")]
    pub backend: Backend,
    /// Print one JSON object instead of the readable summary.
    #[arg(long)]
    pub json: bool,
    /// Write the flow as CSV `commodity,from,to,flow` (to = `sink` for provider →
    /// collection rows; zero rows omitted).
    #[arg(long, value_name = "FILE")]
    pub flows: Option<PathBuf>,
    /// Write the exact LP in CPLEX LP format, to re-solve it in any LP solver.
    #[arg(long, value_name = "FILE")]
    pub export_lp: Option<PathBuf>,
    /// With `--objective welfare`: write the dual price of every resource as CSV
    /// `node,price` (bandwidth nodes named `u->v`).
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// Write the routing of every solved LP as a Graphviz DOT file: links labelled and
    /// drawn by flow, saturated links, brokers and providers in red (render with
    /// `dot -Tsvg`).
    #[arg(long, value_name = "FILE")]
    pub dot: Option<PathBuf>,
    /// Write one self-contained HTML file (no network access): the market graph with
    /// every solved LP's flows, the table of the LPs and P3's prices.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Print the per-user table even on a market of more than
    /// [`PER_USER_TABLE_LIMIT`] users (the totals are always printed first).
    #[arg(long)]
    pub verbose: bool,
    #[command(flatten)]
    pub size: crate::cmd::SizeArgs,
}

/// Above this many users the readable output gives totals only, unless `--verbose`.
pub const PER_USER_TABLE_LIMIT: usize = 50;

/// Runs `solve`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let objectives: Vec<Objective> = args.objective.iter().map(|&o| o.into()).collect();
    let single = objectives.len() == 1;
    if !single && (args.flows.is_some() || args.export_lp.is_some() || args.prices.is_some()) {
        anyhow::bail!(
            "--flows, --export-lp and --prices write one LP's result: give exactly one --objective"
        );
    }
    if args.prices.is_some() && objectives != [Objective::Welfare] {
        anyhow::bail!("--prices needs --objective welfare: only P3's duals are market prices");
    }
    let mut outputs = Outputs::plan(
        &[&args.market],
        &[
            ("--flows", args.flows.as_ref()),
            ("--export-lp", args.export_lp.as_ref()),
            ("--prices", args.prices.as_ref()),
            ("--dot", args.dot.as_ref()),
            ("--report", args.report.as_ref()),
        ],
    )?;
    let loaded = LoadedMarket::load(&args.market)?;
    crate::cmd::within_limits(
        &loaded.path,
        workload::check_plan(&loaded.graph, &objectives, None, &workload::Limits::DEFAULT),
        args.size.force,
    )?;
    if single {
        // One LP: its failure is the command's error, and its files are written
        // before anything is printed.
        let (solution, seconds) = solve_one(&loaded, objectives[0], args.backend, (1, 1))?;
        stage_files(&args, &loaded, &solution, &mut outputs);
        stage_pictures(
            &args,
            &loaded,
            &[(objectives[0], Ok((&solution, seconds)))],
            &mut outputs,
        );
        outputs.commit()?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&to_json(&loaded, &solution, seconds))?
            );
        } else {
            print!("{}", render(&loaded, &solution, seconds, args.verbose));
        }
        return Ok(());
    }
    // Several LPs: each is solved and printed even when another fails (as `compare`
    // does); a failed one is a row with its error, and the command then exits 1.
    let results: Vec<(Objective, anyhow::Result<(LpSolution, f64)>)> = objectives
        .iter()
        .enumerate()
        .map(|(i, &objective)| {
            let position = (i + 1, objectives.len());
            (
                objective,
                solve_one(&loaded, objective, args.backend, position),
            )
        })
        .collect();
    let pictured: Vec<Pictured> = results
        .iter()
        .map(|(o, r)| {
            (
                *o,
                r.as_ref()
                    .map(|(s, t)| (s, *t))
                    .map_err(|e| format!("{e:#}")),
            )
        })
        .collect();
    stage_pictures(&args, &loaded, &pictured, &mut outputs);
    outputs.commit()?;
    let mut json_out = Vec::new();
    let mut failed = Vec::new();
    for (i, (objective, result)) in results.iter().enumerate() {
        let objective = *objective;
        if args.json {
            json_out.push(match &result {
                Ok((solution, seconds)) => to_json(&loaded, solution, *seconds),
                Err(e) => json!({"objective": objective, "error": format!("{e:#}")}),
            });
        } else {
            if i > 0 {
                println!();
            }
            match &result {
                Ok((solution, seconds)) => {
                    print!("{}", render(&loaded, solution, *seconds, args.verbose))
                }
                Err(e) => println!(
                    "{} on market '{}'\n  not solved: {e:#}",
                    describe(objective),
                    loaded.market.name
                ),
            }
        }
        if result.is_err() {
            failed.push(objective.name());
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::Value::Array(json_out))?
        );
    }
    if failed.len() == objectives.len() {
        anyhow::bail!("none of the {} LPs was solved", objectives.len());
    }
    if !failed.is_empty() {
        anyhow::bail!(
            "{} of {} LPs not solved ({}); the others are printed above",
            failed.len(),
            objectives.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

/// Solves one LP, the `position`-th (i of n) of the command, with a spinner on a
/// terminal.
fn solve_one(
    loaded: &LoadedMarket,
    objective: Objective,
    backend: Backend,
    (i, n): (usize, usize),
) -> anyhow::Result<(LpSolution, f64)> {
    let options = LpOptions {
        backend,
        prices: objective == Objective::Welfare,
    };
    let spinner = crate::cmd::progress::spinner(format!(
        "LP {i} of {n}, {}: building, solving and checking it ({} usable pairs)",
        describe(objective),
        loaded.graph.usable_pairs()
    ));
    let start = Instant::now();
    let solution = lp::solve(&loaded.graph, objective, &options)
        .with_context(|| format!("{} ({})", objective.name(), describe(objective)));
    spinner.finish_and_clear();
    Ok((solution?, start.elapsed().as_secs_f64()))
}

/// Stages `--export-lp`, `--flows` and `--prices` for one solved LP.
fn stage_files(args: &Args, loaded: &LoadedMarket, solution: &LpSolution, outputs: &mut Outputs) {
    let (market, g) = (&loaded.market, &loaded.graph);
    let objective = solution.objective;
    if let Some(path) = &args.export_lp {
        let f = match objective {
            Objective::Concurrent => lp::concurrent_formulation(g),
            Objective::Utility | Objective::WorstUtility => {
                let sense = if objective == Objective::Utility {
                    lp::Sense::Maximise
                } else {
                    lp::Sense::Minimise
                };
                // Exactly the amounts solved, including any round-off back-off.
                let amounts: Vec<f64> = lp::utility_amounts(g, solution.delta)
                    .iter()
                    .map(|a| a * (1.0 - solution.amount_backoff))
                    .collect();
                lp::utility_formulation(g, sense, &amounts)
            }
            Objective::Welfare => lp::welfare_formulation(g),
        };
        let pruning = match objective {
            Objective::Welfare => "\nonly pairs on a path of non-negative margin (value minus unit costs) get a variable: no optimal flow uses the others",
            _ => "",
        };
        let comment = format!(
            "{} LP ({}) of market '{}'\n{}\nvariables x.<user>.<from>.<to>: flow of the user on the G' edge from -> to (ids sanitised: -> is ~, other characters the format does not allow _; the map below gives every one){pruning}",
            objective.name(),
            describe(objective),
            market.name,
            provenance(loaded, solution.backend)
        );
        outputs.stage(path, f.to_cplex_lp(g, &comment));
    }
    if let (Some(path), Some(flow)) = (&args.flows, &solution.flow) {
        outputs.stage(path, flows_csv::write_flows(market, g, flow));
    }
    if let (Some(path), Some(prices)) = (&args.prices, &solution.prices) {
        let mut csv = String::from("node,price\n");
        for n in g.graph.node_indices() {
            let node = g.node(n);
            if node.capacity.is_some() {
                csv.push_str(&format!("{},{}\n", node.name, prices[n.index()]));
            }
        }
        outputs.stage(path, csv);
    }
}

/// One LP for the pictures: its solution and seconds, or why it was not solved.
type Pictured<'s> = (Objective, Result<(&'s LpSolution, f64), String>);

/// Stages `--dot` and `--report`: the routing of every solved LP, the table of all of
/// them (failed ones with their error) and P3's prices.
fn stage_pictures(
    args: &Args,
    loaded: &LoadedMarket,
    results: &[Pictured<'_>],
    outputs: &mut Outputs,
) {
    use crate::cmd::report::{num, Report};
    use brokerflow_graphs::{formats::dot, Usage};
    let (market, g) = (&loaded.market, &loaded.graph);
    let solved = || {
        results.iter().filter_map(|(o, r)| {
            let (s, _) = r.as_ref().ok()?;
            Some((*o, s, s.flow.as_ref()?))
        })
    };
    let usage = |flow| Usage::of(market, g, flow, lp::CHECK_TOLERANCE);
    if let Some(path) = &args.dot {
        let dots: String = solved()
            .map(|(o, _, flow)| dot::flows_to_dot(market, &usage(flow), describe(o)))
            .collect();
        outputs.stage(path, dots);
    }
    let Some(path) = &args.report else { return };
    let backend = solved().next().map_or(args.backend, |(_, s, _)| s.backend);
    let mut report = Report::new(
        &format!("brokerflow solve: market '{}'", market.name),
        &provenance(loaded, backend),
    );
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|(o, r)| match r {
            Ok((s, seconds)) => {
                let served = s.served(g).map(|f| f.iter().sum::<f64>());
                let welfare = if *o == Objective::Concurrent {
                    None
                } else {
                    s.welfare(g)
                };
                vec![
                    describe(*o).to_string(),
                    format!("{:?}", s.status).to_lowercase(),
                    num(s.delta),
                    num(welfare),
                    num(served),
                    format!("{seconds:.3}"),
                ]
            }
            Err(e) => vec![describe(*o).to_string(), format!("not solved: {e}")],
        })
        .collect();
    report.table(
        "LP baselines",
        "methods",
        &[
            "LP",
            "status",
            "delta*",
            "welfare W",
            "served (total)",
            "seconds",
        ],
        &rows,
    );
    for (o, s, flow) in solved() {
        let u = usage(flow);
        report.routing(&format!("Routing: {}", describe(o)), market, &u);
        crate::cmd::report::served_table(
            &mut report,
            (
                &format!("Served per user: {}", describe(o)),
                &format!("served-{}", o.name()),
            ),
            loaded,
            &u.served,
        );
        if let Some(prices) = &s.prices {
            let rows: Vec<Vec<String>> = g
                .graph
                .node_indices()
                .filter(|&n| g.node(n).capacity.is_some())
                .map(|n| vec![g.node(n).name.clone(), num(Some(prices[n.index()]))])
                .collect();
            report.table(
                "P3 dual prices (money per resource unit)",
                "prices",
                &["resource", "price"],
                &rows,
            );
        }
    }
    outputs.stage(path, report.to_html());
}

/// `part` as a percentage of `whole`, or "no demand" when there is none.
fn percent_of(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.1} %", 100.0 * part / whole)
    } else {
        "no demand".to_string()
    }
}

fn describe(o: Objective) -> &'static str {
    match o {
        Objective::Concurrent => "P1 maximum concurrent flow",
        Objective::Utility => "P2 maximum-utility flow at min(delta*,1)*d_k",
        Objective::WorstUtility => "P2- minimum-utility flow at min(delta*,1)*d_k",
        Objective::Welfare => "P3 maximum welfare",
    }
}

fn to_json(loaded: &LoadedMarket, s: &LpSolution, seconds: f64) -> serde_json::Value {
    let g = &loaded.graph;
    let served = s.served(g).map(|served| {
        g.commodities
            .iter()
            .zip(served)
            .map(|(c, f)| (c.id.clone(), json!(f)))
            .collect::<serde_json::Map<_, _>>()
    });
    let welfare = match s.objective {
        // P1's flow is only one of many δ*-optimal flows: its welfare means nothing.
        Objective::Concurrent => None,
        _ => s.welfare(g),
    };
    let binding: Vec<_> = s
        .binding(g)
        .into_iter()
        .map(|(n, used)| {
            json!({"node": g.node(n).name, "used": used, "capacity": g.node(n).capacity,
                   "price": s.prices.as_ref().map(|p| p[n.index()])})
        })
        .collect();
    json!({
        "objective": s.objective,
        "status": s.status,
        "delta": s.delta,
        "welfare": welfare,
        "served": served,
        "stranded": s.stranded.iter().map(|&k| g.commodities[k].id.clone()).collect::<Vec<_>>(),
        "binding": binding,
        "backend": s.backend,
        "tolerance": lp::CHECK_TOLERANCE,
        "solver_tolerance": s.backend.tolerance(),
        "amount_backoff": s.amount_backoff,
        "duality_gap": s.duality_gap,
        "variables": s.variables,
        "constraints": s.constraints,
        "max_conservation_residual": s.max_conservation_residual,
        "max_capacity_violation": s.max_capacity_violation,
        "certificate": s.certificate,
        "certificate_tolerance": brokerflow_solvers::certificate::CERTIFICATE_TOLERANCE,
        "demand_caps": s.capped.iter()
            .map(|&(k, cap)| (g.commodities[k].id.clone(), json!(cap)))
            .collect::<serde_json::Map<_, _>>(),
        "seconds": seconds,
        "provenance": provenance(loaded, s.backend),
    })
}

fn render(loaded: &LoadedMarket, s: &LpSolution, seconds: f64, verbose: bool) -> String {
    use std::fmt::Write;
    let (market, g) = (&loaded.market, &loaded.graph);
    let mut out = String::new();
    let _ = writeln!(out, "{} on market '{}'", describe(s.objective), market.name);
    let _ = writeln!(
        out,
        "  backend {} (check tolerance {:e}), LP {} variables x {} constraints, {:.3} s",
        s.backend,
        lp::CHECK_TOLERANCE,
        s.variables,
        s.constraints,
        seconds
    );
    if s.status == LpStatus::Unbounded {
        let _ = writeln!(
            out,
            "  status: unbounded — every served user has a path of unlimited capacity, so nothing limits delta"
        );
        return out;
    }
    if let Some(d) = s.delta {
        let fits = if d >= 1.0 {
            "every demand fits"
        } else {
            "not every demand fits"
        };
        let _ = writeln!(out, "  delta* (P1) = {d:.6}  ({fits})");
    }
    if s.amount_backoff > 0.0 {
        let _ = writeln!(
            out,
            "  note: amounts backed off by a relative {:e} to stay feasible under round-off of delta*",
            s.amount_backoff
        );
    }
    if s.objective != Objective::Concurrent {
        if let Some(w) = s.welfare(g) {
            let _ = writeln!(out, "  welfare W = {w:.6}");
        }
    }
    if let Some(served) = s.served(g) {
        let total: f64 = served.iter().sum();
        let demand: f64 = g.commodities.iter().map(|c| c.demand).sum();
        let _ = writeln!(
            out,
            "  served {total:.6} of a total demand of {demand} ({}), over {} users",
            percent_of(total, demand),
            g.commodities.len()
        );
        if verbose || g.commodities.len() <= PER_USER_TABLE_LIMIT {
            let _ = writeln!(out, "  served / demand per user:");
            let width = g.commodities.iter().map(|c| c.id.len()).max().unwrap_or(0);
            for (c, f) in g.commodities.iter().zip(served) {
                let pct = if c.demand > 0.0 {
                    format!("{:5.1}%", 100.0 * f / c.demand)
                } else {
                    "   -  ".to_string()
                };
                let _ = writeln!(
                    out,
                    "    {:<width$}  {:>12.6} / {:<10} {pct}{}",
                    c.id,
                    f,
                    c.demand,
                    if c.is_stranded() { "  stranded" } else { "" }
                );
            }
        } else {
            let _ = writeln!(
                out,
                "  (the per-user table has {} rows: --verbose prints it, --json and --flows give every number)",
                g.commodities.len()
            );
        }
    }
    let binding = s.binding(g);
    // Only P3's prices say which resources bind in every optimum; for the others the
    // list belongs to this one optimal flow.
    let which = if s.objective == Objective::Welfare {
        "binding resources"
    } else {
        "resources at capacity in this optimal flow (optima need not be unique)"
    };
    if binding.is_empty() {
        let _ = writeln!(out, "  {which}: none");
    } else {
        let _ = writeln!(out, "  {which}:");
        for (n, used) in binding {
            let node = g.node(n);
            let price = s
                .prices
                .as_ref()
                .map_or(String::new(), |p| format!(", price {:.6}", p[n.index()]));
            let _ = writeln!(
                out,
                "    {} uses {:.6} of {}{}",
                node.name,
                used,
                node.capacity.unwrap_or(f64::INFINITY),
                price
            );
        }
    }
    let stranded: Vec<&str> = s
        .stranded
        .iter()
        .map(|&k| g.commodities[k].id.as_str())
        .collect();
    let _ = writeln!(
        out,
        "  stranded users: {}",
        if stranded.is_empty() {
            "none".to_string()
        } else {
            stranded.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "  independent check: conservation residual {:.1e}, capacity violation {:.1e}",
        s.max_conservation_residual, s.max_capacity_violation
    );
    if let Some(c) = &s.certificate {
        let _ = writeln!(
            out,
            "  optimality certificate: dual bound {:.6}, gap {:.1e} (allowed {:.1e}), reduced cost on flow {:.1e}, price x slack {:.1e}",
            c.bound, c.gap, c.allowed, c.max_reduced_cost, c.max_price_slack
        );
    }
    for &(k, cap) in &s.capped {
        let _ = writeln!(
            out,
            "  note: {}'s demand {} is more than the network can carry for it; the LP bounded it by {} (twice its maximum flow), which changes no optimum",
            g.commodities[k].id, g.commodities[k].demand, cap
        );
    }
    out
}
