//! `brokerflow stream match|simulate`: the market for stream computation of
//! [Stream-Market] — matching offers over time, and the strategy experiment.

use std::path::{Path, PathBuf};

use anyhow::Context;
use brokerflow_solvers::lp::Backend;
use brokerflow_solvers::stream::matching::ROUNDING_NOTE;
use brokerflow_solvers::stream::simulate::{simulate, SimulationResult, SimulationSpec};
use brokerflow_solvers::stream::{match_offers, MatchOptions, MatchOutcome, Offers};
use plotters::prelude::*;
use serde_json::json;

use crate::cmd::output::Outputs;
use crate::cmd::write_atomically;

/// The stream-computation market ([Stream-Market]): offers with time windows,
/// replicas, minimum service time, deposits and spot checks.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: StreamCommand,
}

#[derive(Debug, clap::Subcommand)]
enum StreamCommand {
    Match(MatchArgs),
    Simulate(SimulateArgs),
}

/// Match an offers file over time: per slot a market solved for welfare (P3), priced
/// by McAfee's double auction, rounded to whole replicas; void allocations say why.
#[derive(Debug, clap::Args)]
struct MatchArgs {
    /// The offers file (JSON: suppliers, customers, parameters).
    offers: PathBuf,
    /// Print JSON (`allocations`, `void`, `slots`, `notes`, `provenance`).
    #[arg(long)]
    json: bool,
    /// Also write the allocations and void allocations as CSV.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// LP backend for each slot's P3.
    #[arg(long, default_value = "auto")]
    backend: Backend,
}

/// Run the strategy experiment: suppliers processing each input with probability
/// P(s), customers verifying with probability P(c); CSVs and SVG figures.
#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// The spec (TOML).
    spec: PathBuf,
    /// Output directory (default: the spec's path without its extension).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Runs `brokerflow stream …`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        StreamCommand::Match(a) => run_match(a),
        StreamCommand::Simulate(a) => run_simulate(a),
    }
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{}: not UTF-8 text", path.display()))
}

fn run_match(a: MatchArgs) -> anyhow::Result<()> {
    let mut outputs = Outputs::plan(&[&a.offers], &[("--out", a.out.as_ref())])?;
    let text = read_text(&a.offers)?;
    let origin = a.offers.display().to_string();
    let offers = Offers::from_json_str(&text, &origin)?;
    let outcome = match_offers(&offers, &MatchOptions { backend: a.backend })?;
    let provenance = json!({
        "brokerflow": env!("CARGO_PKG_VERSION"),
        "offers": origin,
        "offers_sha256": brokerflow_graphs::input_hash(text.as_bytes()),
        "lp_backend": a.backend.name(),
        "solver_tolerance": a.backend.tolerance(),
        "parameters": offers.parameters,
    });
    if let Some(path) = &a.out {
        outputs.stage(path, allocations_csv(&outcome, &provenance));
        outputs.commit()?;
    }
    if a.json {
        let doc = json!({
            "allocations": outcome.allocations.iter().map(|x| json!({
                "customer": x.customer,
                "suppliers": x.suppliers,
                "start": x.start,
                "end": x.end,
                "price": x.price,
            })).collect::<Vec<_>>(),
            "void": outcome.void.iter().map(|v| json!({
                "customer": v.customer,
                "start": v.start,
                "end": v.end,
                "reason": v.reason.name(),
            })).collect::<Vec<_>>(),
            "slots": outcome.slots,
            "replicas": offers.customers.iter().zip(&outcome.replicas)
                .map(|(c, r)| (c.id.clone(), json!(r)))
                .collect::<serde_json::Map<_, _>>(),
            "notes": [ROUNDING_NOTE],
            "provenance": provenance,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    println!(
        "{}: {} allocations, {} void, {} slot markets",
        origin,
        outcome.allocations.len(),
        outcome.void.len(),
        outcome.slots.len()
    );
    for x in &outcome.allocations {
        println!(
            "  {} [{}, {}] on {} at {} per MI (suppliers get {})",
            x.customer,
            x.start,
            x.end,
            x.suppliers.join(", "),
            x.price,
            x.supplier_price
        );
    }
    for v in &outcome.void {
        println!(
            "  {} [{}, {}] void: {}",
            v.customer,
            v.start,
            v.end,
            v.reason.name()
        );
    }
    println!("note: {ROUNDING_NOTE}");
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn provenance_lines(p: &serde_json::Value) -> String {
    format!(
        "# brokerflow {} stream match\n# provenance: {}\n",
        env!("CARGO_PKG_VERSION"),
        p
    )
}

fn allocations_csv(o: &MatchOutcome, provenance: &serde_json::Value) -> String {
    let mut s = provenance_lines(provenance);
    s.push_str(&format!("# note: {ROUNDING_NOTE}\n"));
    s.push_str("kind,customer,suppliers,start,end,price,supplier_price,slot,reason\n");
    for x in &o.allocations {
        s.push_str(&format!(
            "allocation,{},{},{},{},{},{},{},\n",
            csv_field(&x.customer),
            csv_field(&x.suppliers.join(";")),
            x.start,
            x.end,
            x.price,
            x.supplier_price,
            x.slot
        ));
    }
    for v in &o.void {
        s.push_str(&format!(
            "void,{},,{},{},,,,{}\n",
            csv_field(&v.customer),
            v.start,
            v.end,
            v.reason.name()
        ));
    }
    s
}

fn run_simulate(a: SimulateArgs) -> anyhow::Result<()> {
    let text = read_text(&a.spec)?;
    let origin = a.spec.display().to_string();
    let spec: SimulationSpec = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        match line {
            Some(l) => anyhow::anyhow!("{origin}: line {l}: {}", e.message().trim()),
            None => anyhow::anyhow!("{origin}: {}", e.message().trim()),
        }
    })?;
    let result = simulate(&spec, &origin)?;
    let dir = a.out.unwrap_or_else(|| a.spec.with_extension(""));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let prov = format!(
        "# brokerflow {} stream simulate '{}' (spec file {})\n# spec_sha256: {}\n# seed: {}; lp_backend: auto; matching approximation: {}\n",
        env!("CARGO_PKG_VERSION"),
        spec.name,
        a.spec.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        brokerflow_graphs::input_hash(text.as_bytes()),
        spec.seed,
        ROUNDING_NOTE,
    );
    let write = |name: &str, body: String| -> anyhow::Result<()> {
        let path = dir.join(name);
        write_atomically(&path, body.as_bytes())
            .with_context(|| format!("writing {}", path.display()))
    };
    write("participants.csv", participants_csv(&result, &prov))?;
    write("groups.csv", groups_csv(&spec, &result, &prov))?;
    write("cumulative.csv", cumulative_csv(&spec, &result, &prov))?;
    write("sweep.csv", sweep_csv(&result, &prov))?;
    let summary = json!({
        "provenance": {
            "brokerflow": env!("CARGO_PKG_VERSION"),
            "spec": origin,
            "spec_sha256": brokerflow_graphs::input_hash(text.as_bytes()),
            "seed": spec.seed,
            "lp_backend": "auto",
        },
        "contracts": result.contracts,
        "mediations": result.mediations,
        "void": result.void.iter().map(|(r, n)| (r.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "ledger_total_units": result.ledger_total.to_string(),
        "notes": [ROUNDING_NOTE, "customers with r > 1 draw the inputs some replica processed as one binomial (approximation)"],
    });
    write(
        "summary.json",
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    for (name, role, title) in [
        (
            "supplier_utility.svg",
            "supplier",
            "Cumulative supplier utility vs allocations completed, per group P(s) (group mean)",
        ),
        (
            "customer_utility.svg",
            "customer",
            "Cumulative customer utility vs allocations completed, per group P(c) (group mean)",
        ),
    ] {
        let svg = cumulative_figure(&spec, &result, role, title)
            .map_err(|e| anyhow::anyhow!("drawing {name}: {e}"))?;
        write(name, with_provenance(svg, &prov))?;
    }
    if !result.sweep.is_empty() {
        let svg = sweep_figure(&result).map_err(|e| anyhow::anyhow!("drawing the sweep: {e}"))?;
        write(
            "customer_vs_supplier_probability.svg",
            with_provenance(svg, &prov),
        )?;
    }
    println!(
        "{}: {} contracts, {} mediations, ledger total {} units; outputs in {}",
        spec.name,
        result.contracts,
        result.mediations,
        result.ledger_total,
        dir.display()
    );
    Ok(())
}

fn with_provenance(svg: String, provenance: &str) -> String {
    let comment = format!(
        "<!--\n{}-->\n",
        provenance.replace("--", "- -").replace("# ", "")
    );
    match svg.find("?>") {
        Some(i) if svg.starts_with("<?xml") => {
            format!("{}\n{}{}", &svg[..i + 2], comment, &svg[i + 2..])
        }
        _ => comment + &svg,
    }
}

fn participants_csv(r: &SimulationResult, prov: &str) -> String {
    let mut s = prov.to_string();
    s.push_str("id,role,group,contracts,fined,money,costs,benefit,utility,utility_per_contract\n");
    for p in &r.participants {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            p.id,
            p.role,
            p.group.map(|g| g.to_string()).unwrap_or_default(),
            p.contracts,
            p.fined,
            p.money,
            p.costs,
            p.benefit,
            p.utility,
            if p.contracts > 0 {
                p.utility_per_contract.to_string()
            } else {
                String::new()
            }
        ));
    }
    s
}

/// (role, group) → indices of its participants, in group order.
fn group_members(
    spec: &SimulationSpec,
    r: &SimulationResult,
    role: &str,
) -> Vec<(f64, Vec<usize>)> {
    spec.groups
        .iter()
        .map(|&g| {
            let idx = r
                .participants
                .iter()
                .enumerate()
                .filter(|(_, p)| p.role == role && p.group == Some(g))
                .map(|(i, _)| i)
                .collect();
            (g, idx)
        })
        .collect()
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

fn groups_csv(spec: &SimulationSpec, r: &SimulationResult, prov: &str) -> String {
    let mut s = prov.to_string();
    s.push_str("role,group,participants,mean_utility,min_utility,max_utility,mean_utility_per_contract,mean_contracts,mean_fined\n");
    for role in ["supplier", "customer"] {
        for (g, idx) in group_members(spec, r, role) {
            let u = || idx.iter().map(|&i| r.participants[i].utility);
            s.push_str(&format!(
                "{role},{g},{},{},{},{},{},{},{}\n",
                idx.len(),
                mean(u()),
                u().fold(f64::INFINITY, f64::min),
                u().fold(f64::NEG_INFINITY, f64::max),
                mean(idx.iter().map(|&i| r.participants[i].utility_per_contract)),
                mean(idx.iter().map(|&i| r.participants[i].contracts as f64)),
                mean(idx.iter().map(|&i| r.participants[i].fined as f64)),
            ));
        }
    }
    for p in r.participants.iter().filter(|p| p.group.is_none()) {
        s.push_str(&format!(
            "{},,1,{},{},{},,{},{}\n",
            p.role, p.utility, p.utility, p.utility, p.contracts, p.fined
        ));
    }
    s
}

fn cumulative_csv(spec: &SimulationSpec, r: &SimulationResult, prov: &str) -> String {
    let mut s = prov.to_string();
    s.push_str("round,role,group,mean_cumulative_utility\n");
    for round in 0..spec.rounds {
        for role in ["supplier", "customer"] {
            for (g, idx) in group_members(spec, r, role) {
                s.push_str(&format!(
                    "{},{role},{g},{}\n",
                    round + 1,
                    mean(idx.iter().map(|&i| r.cumulative[i][round]))
                ));
            }
        }
    }
    s
}

fn sweep_csv(r: &SimulationResult, prov: &str) -> String {
    let mut s = prov.to_string();
    s.push_str("supplier_probability,verifying_customer_utility_per_contract,non_verifying_customer_utility_per_contract\n");
    for p in &r.sweep {
        s.push_str(&format!(
            "{},{},{}\n",
            p.supplier_probability, p.verifying, p.not_verifying
        ));
    }
    s
}

const FONT: &str = "sans-serif";
type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

fn colour(i: usize) -> RGBColor {
    const P: [RGBColor; 6] = [
        RGBColor(213, 94, 0),
        RGBColor(230, 159, 0),
        RGBColor(204, 121, 167),
        RGBColor(86, 180, 233),
        RGBColor(0, 114, 178),
        RGBColor(0, 158, 115),
    ];
    P[i % P.len()]
}

fn cumulative_figure(
    spec: &SimulationSpec,
    r: &SimulationResult,
    role: &str,
    title: &str,
) -> DrawResult<String> {
    let groups = group_members(spec, r, role);
    let series: Vec<(f64, Vec<(f64, f64)>)> = groups
        .iter()
        .map(|(g, idx)| {
            // Up to the contract count every member of the group reached.
            let len = idx
                .iter()
                .map(|&i| r.by_contract[i].len())
                .min()
                .unwrap_or(0);
            let pts = (0..len)
                .map(|t| {
                    (
                        (t + 1) as f64,
                        mean(idx.iter().map(|&i| r.by_contract[i][t])),
                    )
                })
                .collect();
            (*g, pts)
        })
        .collect();
    let xmax = series
        .iter()
        .map(|(_, p)| p.len())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for (_, pts) in &series {
        for &(_, y) in pts {
            if y.is_finite() {
                lo = lo.min(y);
                hi = hi.max(y);
            }
        }
    }
    let pad = (hi - lo).max(1e-9) * 0.05;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..xmax, (lo - pad)..(hi + pad))?;
        chart
            .configure_mesh()
            .x_desc("allocations completed by the participant")
            .y_desc("cumulative utility (money)")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        let symbol = if role == "supplier" { "P(s)" } else { "P(c)" };
        for (i, (g, pts)) in series.iter().enumerate() {
            let col = colour(i);
            chart
                .draw_series(LineSeries::new(pts.clone(), col.stroke_width(2)))?
                .label(format!("{symbol} = {:.0} %", g * 100.0))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

fn sweep_figure(r: &SimulationResult) -> DrawResult<String> {
    let pts = |f: fn(&brokerflow_solvers::stream::simulate::SweepPoint) -> f64| -> Vec<(f64, f64)> {
        r.sweep
            .iter()
            .map(|p| (p.supplier_probability * 100.0, f(p)))
            .filter(|(_, y)| y.is_finite())
            .collect()
    };
    let verifying = pts(|p| p.verifying);
    let not_verifying = pts(|p| p.not_verifying);
    let all: Vec<f64> = verifying
        .iter()
        .chain(&not_verifying)
        .map(|p| p.1)
        .collect();
    let lo = all.iter().copied().fold(0.0f64, f64::min);
    let hi = all.iter().copied().fold(0.0f64, f64::max);
    let pad = (hi - lo).max(1e-9) * 0.05;
    let x0 = r
        .sweep
        .iter()
        .map(|p| p.supplier_probability * 100.0)
        .fold(f64::INFINITY, f64::min);
    let x1 = r
        .sweep
        .iter()
        .map(|p| p.supplier_probability * 100.0)
        .fold(f64::NEG_INFINITY, f64::max);
    let (x0, x1) = if x1 > x0 {
        (x0, x1)
    } else {
        (x0 - 1.0, x1 + 1.0)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Customer utility per allocation vs every supplier's P(s): verifying (P(c) = 100 %) vs not (0 %)",
                (FONT, 17),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, (lo - pad)..(hi + pad))?;
        chart
            .configure_mesh()
            .x_desc("P(s) of every supplier (%)")
            .y_desc("mean customer utility per allocation (money)")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (i, (label, data)) in [("verifying", verifying), ("not verifying", not_verifying)]
            .into_iter()
            .enumerate()
        {
            let col = colour(if i == 0 { 5 } else { 0 });
            chart
                .draw_series(LineSeries::new(data.clone(), col.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(2))
                });
            chart.draw_series(data.iter().map(|&p| Circle::new(p, 4, col.filled())))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}
