//! SVG figures of a batch (plotters, SVG backend only): the per-commodity flow by
//! round of one named scenario ([MCF-Grid] Figs. 4–5), welfare of fair vs
//! utility-aware vs the LP optimum across configurations (Fig. 6), and histograms of
//! percent_of_optimum.
//!
//! Every SVG carries its provenance as an XML comment after the header.

use brokerflow_graphs::ExpandedGraph;
use brokerflow_solvers::compare::{compare_market, InjectionMode, Method};
use brokerflow_solvers::engine::{TraceRow, Variant};
use brokerflow_solvers::stats::{mean_ci, Estimate};
use plotters::prelude::*;

use super::runner::{compare_options, scenario_market, Record};
use super::spec::Spec;
use super::summary::column;

/// A figure: file name and SVG text.
pub type Figure = (String, String);

const FONT: &str = "sans-serif";

fn with_provenance(svg: String, provenance: &str) -> String {
    let comment = format!(
        "<!--\n{}-->\n",
        provenance.replace("--", "- -").replace("# ", "")
    );
    match svg.find("?>") {
        Some(i) if svg.starts_with("<?xml") => {
            format!("{}\n{}{}", &svg[..i + 2], comment, &svg[i + 2..])
        }
        _ => format!("{comment}{svg}"),
    }
}

/// The i-th colour of the figures' palette (also the HTML report's).
pub(crate) fn colour(i: usize) -> RGBColor {
    // A colour-blind-safe palette (Okabe–Ito), then Tableau for more series.
    const P: [RGBColor; 12] = [
        RGBColor(0, 114, 178),
        RGBColor(213, 94, 0),
        RGBColor(0, 158, 115),
        RGBColor(204, 121, 167),
        RGBColor(230, 159, 0),
        RGBColor(86, 180, 233),
        RGBColor(0, 0, 0),
        RGBColor(140, 86, 75),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(148, 103, 189),
        RGBColor(23, 190, 207),
    ];
    P[i % P.len()]
}

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Every figure the spec asks for.
pub fn draw_all(spec: &Spec, records: &[Record], provenance: &str) -> anyhow::Result<Vec<Figure>> {
    let mut out = Vec::new();
    let wrap = |e: Box<dyn std::error::Error>| anyhow::anyhow!("drawing a figure: {e}");
    if let Some((ci, si)) = spec.trace {
        out.extend(trace_figures(spec, ci, si).map_err(wrap)?);
    }
    if let Some(f) = welfare_figure(spec, records).map_err(wrap)? {
        out.push(f);
    }
    if let Some(f) = histogram_figure(spec, records).map_err(wrap)? {
        out.push(f);
    }
    Ok(out
        .into_iter()
        .map(|(n, s)| (n, with_provenance(s, provenance)))
        .collect())
}

/// Figs. 4–5: absorbed jobs per round of each commodity, fair beside utility-aware,
/// with each user's demand d_k as a dashed line; one figure per injection mode the
/// configuration runs.
fn trace_figures(spec: &Spec, ci: usize, si: usize) -> DrawResult<Vec<Figure>> {
    let c = &spec.configurations[ci];
    let market = scenario_market(c, si)?;
    let g = ExpandedGraph::new(&market);
    let mut figures = Vec::new();
    for mode in [InjectionMode::Feasible, InjectionMode::Demand] {
        let methods: Vec<Method> = [Variant::Fair, Variant::UtilityAware]
            .into_iter()
            .map(|variant| Method::Engine { variant, mode })
            .collect();
        if !methods.iter().all(|m| c.methods.contains(m)) {
            continue;
        }
        let mut options = compare_options(spec, c);
        options.methods = methods;
        options.trace = true;
        let rows = compare_market(&market, &g, &options);
        if let Some(e) = rows.iter().find_map(|r| r.error.as_ref()) {
            return Err(format!("the trace scenario failed: {e}").into());
        }
        let demands: Vec<f64> = g.commodities.iter().map(|k| k.demand).collect();
        let names: Vec<String> = market.users.iter().map(|u| u.id.clone()).collect();
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (1200, 560)).into_drawing_area();
            root.fill(&WHITE)?;
            let title = format!(
                "Absorbed flow per round, {} mode — scenario {} / {} ({}); dashed: demand d_k",
                mode.name(),
                c.name,
                c.scenario_label(si),
                market.name
            );
            let (top, body) = root.split_vertically(40);
            top.titled(&title, (FONT, 22))?;
            let panels = body.split_evenly((1, 2));
            let ymax = rows
                .iter()
                .flat_map(|r| r.trace.iter().map(|t| t.absorbed))
                .chain(demands.iter().copied())
                .fold(0.0_f64, f64::max)
                * 1.08;
            for (panel, row) in panels.iter().zip(&rows) {
                let rounds = row.rounds.unwrap_or(1).max(1);
                let label = match row.method {
                    Method::Engine { variant, .. } => match variant {
                        Variant::Fair => "fair (Fig. 4)",
                        Variant::UtilityAware => "utility-aware (Fig. 5)",
                        Variant::WelfareSeeking => "welfare-seeking",
                    },
                    Method::Lp(_) => "lp",
                };
                draw_trace_panel(
                    panel,
                    label,
                    &row.trace,
                    &demands,
                    &names,
                    rounds,
                    ymax.max(1e-9),
                    row.converged == Some(true),
                )?;
            }
            root.present()?;
        }
        figures.push((format!("fig4_5_trace_{}.svg", mode.name()), svg));
    }
    Ok(figures)
}

#[allow(clippy::too_many_arguments)]
fn draw_trace_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    label: &str,
    trace: &[TraceRow],
    demands: &[f64],
    names: &[String],
    rounds: usize,
    ymax: f64,
    converged: bool,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let caption = format!(
        "{label}: {rounds} rounds{}",
        if converged {
            ", converged"
        } else {
            ", round limit"
        }
    );
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(0f64..rounds as f64, 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_desc("round")
        .y_desc("jobs absorbed per round (jobs / time unit)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for (k, &d) in demands.iter().enumerate() {
        if d <= 0.0 {
            continue;
        }
        let col = colour(k);
        let series: Vec<(f64, f64)> = trace
            .iter()
            .filter(|t| t.commodity == k)
            .map(|t| (t.round as f64, t.absorbed))
            .collect();
        chart
            .draw_series(LineSeries::new(series, col.stroke_width(2)))?
            .label(format!("{} (d = {d})", names.get(k).map_or("?", |s| s)))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], col.stroke_width(3)));
        chart.draw_series(DashedLineSeries::new(
            [(0.0, d), (rounds as f64, d)],
            6,
            4,
            col.stroke_width(1),
        ))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .draw()?;
    Ok(())
}

fn estimate_of(
    spec: &Spec,
    records: &[Record],
    ci: usize,
    m: Method,
    f: fn(&Record) -> Option<f64>,
) -> Option<Estimate> {
    let mi = spec.configurations[ci]
        .methods
        .iter()
        .position(|&x| x == m)?;
    let v: Vec<f64> = column(spec, records, ci, mi)
        .iter()
        .filter_map(|r| r.as_ref().and_then(f))
        .collect();
    mean_ci(&v)
}

/// Fig. 6: mean welfare (95 % CI) of fair, utility-aware and the matching LP optimum:
/// one small panel per (injection mode, configuration), each with its own welfare
/// scale (configurations differ by orders of magnitude).
fn welfare_figure(spec: &Spec, records: &[Record]) -> DrawResult<Option<Figure>> {
    let modes: Vec<InjectionMode> = [InjectionMode::Feasible, InjectionMode::Demand]
        .into_iter()
        .filter(|&mode| {
            spec.configurations.iter().any(|c| {
                c.methods.contains(&Method::Engine {
                    variant: Variant::Fair,
                    mode,
                })
            })
        })
        .collect();
    if modes.is_empty() {
        return Ok(None);
    }
    let n = spec.configurations.len();
    let labels = ["fair", "utility-aware", "LP optimum"];
    let mut svg = String::new();
    {
        let width = (250 * n as u32 + 60).max(760);
        let height = 330 * modes.len() as u32 + 90;
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, body) = root.split_vertically(90);
        top.titled(
            "Welfare (money / time unit): fair vs utility-aware vs the matching LP optimum, mean with 95 % CI",
            (FONT, 20),
        )?;
        // The legend, once for all panels.
        let legend = top.margin(45, 0, 20, 0);
        for (i, label) in labels.iter().enumerate() {
            let x = 20 + 260 * i as i32;
            let text = match i {
                2 => "LP optimum (feasible: P2 at the injected amounts; demand: P3)",
                _ => label,
            };
            legend.draw(&Circle::new((x, 20), 6, colour(i).filled()))?;
            legend.draw(&Text::new(text, (x + 12, 12), (FONT, 15)))?;
        }
        let panels = body.split_evenly((modes.len(), n));
        for (pi, panel) in panels.iter().enumerate() {
            let mode = modes[pi / n];
            let ci = pi % n;
            let fair = Method::Engine {
                variant: Variant::Fair,
                mode,
            };
            let aware = Method::Engine {
                variant: Variant::UtilityAware,
                mode,
            };
            let est: [Option<Estimate>; 3] = [
                estimate_of(spec, records, ci, fair, |r| r.welfare),
                estimate_of(spec, records, ci, aware, |r| r.welfare),
                estimate_of(spec, records, ci, fair, |r| r.optimum),
            ];
            let (mut lo, mut hi) = (0.0_f64, 0.0_f64);
            for e in est.iter().flatten() {
                lo = lo.min(e.low().unwrap_or(e.mean));
                hi = hi.max(e.high().unwrap_or(e.mean));
            }
            let pad = (hi - lo).max(1e-9) * 0.08;
            let mut chart = ChartBuilder::on(panel)
                .caption(
                    format!("{}, {} mode", spec.configurations[ci].name, mode.name()),
                    (FONT, 15),
                )
                .margin(8)
                .x_label_area_size(28)
                .y_label_area_size(62)
                .build_cartesian_2d(-0.6f64..2.6f64, (lo - pad)..(hi + pad))?;
            chart
                .configure_mesh()
                .x_labels(0)
                .disable_x_mesh()
                .y_desc(if ci == 0 {
                    "welfare (money / time unit)"
                } else {
                    ""
                })
                .y_label_formatter(&|y| format!("{y:.0}"))
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            chart.draw_series(LineSeries::new(
                [(-0.6, 0.0), (2.6, 0.0)],
                BLACK.mix(0.4).stroke_width(1),
            ))?;
            for (i, e) in est.iter().enumerate() {
                let Some(e) = e else { continue };
                let col = colour(i);
                let x = i as f64;
                chart.draw_series(std::iter::once(ErrorBar::new_vertical(
                    x,
                    e.low().unwrap_or(e.mean),
                    e.mean,
                    e.high().unwrap_or(e.mean),
                    col.stroke_width(2),
                    12,
                )))?;
                chart.draw_series(std::iter::once(Circle::new((x, e.mean), 6, col.filled())))?;
            }
        }
        root.present()?;
    }
    Ok(Some(("fig6_welfare.svg".into(), svg)))
}

/// Histograms of percent_of_optimum for the engine methods, all configurations
/// pooled: one panel per injection mode, fair and utility-aware overlaid. Values
/// outside [−100, 120] are counted in the end bins (the caption says how many).
fn histogram_figure(spec: &Spec, records: &[Record]) -> DrawResult<Option<Figure>> {
    const LO: f64 = -100.0;
    const HI: f64 = 120.0;
    const BIN: f64 = 5.0;
    let bins = ((HI - LO) / BIN) as usize;
    let mut panels_data = Vec::new();
    for mode in [InjectionMode::Feasible, InjectionMode::Demand] {
        let mut per_variant = Vec::new();
        for variant in [Variant::Fair, Variant::UtilityAware] {
            let m = Method::Engine { variant, mode };
            let vals: Vec<f64> = records
                .iter()
                .filter(|r| spec.configurations[r.config].methods[r.method] == m)
                .filter_map(|r| r.percent_of_optimum)
                .collect();
            per_variant.push((variant, vals));
        }
        if per_variant.iter().any(|(_, v)| !v.is_empty()) {
            panels_data.push((mode, per_variant));
        }
    }
    if panels_data.is_empty() {
        return Ok(None);
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560 * panels_data.len() as u32, 520))
            .into_drawing_area();
        root.fill(&WHITE)?;
        let (top, body) = root.split_vertically(40);
        top.titled(
            "Distributed runs: percent of the matching LP optimum (all configurations)",
            (FONT, 22),
        )?;
        let panels = body.split_evenly((1, panels_data.len()));
        for (panel, (mode, per_variant)) in panels.iter().zip(&panels_data) {
            let counts: Vec<Vec<usize>> = per_variant
                .iter()
                .map(|(_, vals)| {
                    let mut c = vec![0usize; bins];
                    for &v in vals {
                        let b = ((v.clamp(LO, HI - 1e-9) - LO) / BIN).floor() as usize;
                        c[b.min(bins - 1)] += 1;
                    }
                    c
                })
                .collect();
            let outside: usize = per_variant
                .iter()
                .map(|(_, v)| v.iter().filter(|&&x| !(LO..HI).contains(&x)).count())
                .sum();
            let ymax = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64 * 1.1;
            let mut chart = ChartBuilder::on(panel)
                .caption(
                    format!(
                        "{} mode ({} values outside [{LO}, {HI}] in the end bins)",
                        mode.name(),
                        outside
                    ),
                    (FONT, 16),
                )
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(60)
                .build_cartesian_2d(LO..HI, 0f64..ymax)?;
            chart
                .configure_mesh()
                .x_desc("welfare, % of the matching optimum (bins of 5 %)")
                .y_desc("scenarios")
                .y_label_formatter(&|y| format!("{y:.0}"))
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 15))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            for (i, ((variant, vals), c)) in per_variant.iter().zip(&counts).enumerate() {
                let col = colour(i);
                let bars = c.iter().enumerate().filter(|(_, &n)| n > 0).map(|(b, &n)| {
                    let x0 = LO + b as f64 * BIN;
                    Rectangle::new([(x0, 0.0), (x0 + BIN, n as f64)], col.mix(0.35).filled())
                });
                chart.draw_series(bars)?;
                // An outline so overlapping bars stay readable.
                let mut step = vec![(LO, 0.0)];
                for (b, &n) in c.iter().enumerate() {
                    let x0 = LO + b as f64 * BIN;
                    step.push((x0, n as f64));
                    step.push((x0 + BIN, n as f64));
                }
                step.push((HI, 0.0));
                chart
                    .draw_series(LineSeries::new(step, col.stroke_width(2)))?
                    .label(format!("{} (n = {})", variant.name(), vals.len()))
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 16, y + 5)], col.mix(0.6).filled())
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font((FONT, 13))
                .draw()?;
        }
        root.present()?;
    }
    Ok(Some(("hist_percent_of_optimum.svg".into(), svg)))
}
