//! SVG figures of a batch (plotters, SVG backend only): the per-commodity flow by
//! round of one named scenario ([MCF-Grid] Figs. 4–5), welfare of every engine
//! variant against the LP optimum across configurations (Fig. 6) — raw, as paired
//! gains over fair on the same scenarios, and as a percentage of the matching
//! optimum — and histograms of percent_of_optimum.
//!
//! Every figure shows every engine variant the spec runs. Titles and legends sit
//! above the plots, laid out from an estimate of their text's width (wrapped into as
//! many rows as they need), so none is cut off by the figure's edge or hides a curve.
//! Every SVG carries its provenance as an XML comment after the header.

use crate::report::PALETTE;
use brokerflow_graphs::ExpandedGraph;
use brokerflow_solvers::compare::{compare_market, InjectionMode, Method, RowError};
use brokerflow_solvers::engine::{TraceRow, Variant};
use brokerflow_solvers::stats::{mean_ci, paired_differences, Estimate};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::ScenarioError;
use crate::runner::{compare_options, scenario_market, Record};
use crate::spec::Spec;
use crate::summary::column;

/// A figure: file name and SVG text.
pub type Figure = (String, String);

const FONT: &str = "sans-serif";

/// The injection modes, in the order the figures draw them.
const MODES: [InjectionMode; 2] = [InjectionMode::Feasible, InjectionMode::Demand];

/// The i-th colour of the figures' palette (the HTML report's too, so a user has one
/// colour in every picture).
fn colour(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// The palette entry of the LP optimum in every figure.
const OPTIMUM: usize = 2;

/// An engine variant's colour, the same in every figure: its place in
/// [`Variant::ALL`], skipping the optimum's entry.
fn variant_colour(v: Variant) -> RGBColor {
    let i = Variant::ALL.iter().position(|&x| x == v).unwrap_or(0);
    colour(if i >= OPTIMUM { i + 1 } else { i })
}

/// The engine variants `methods` runs in `mode`, in [`Variant::ALL`]'s order.
fn variants_in<'m>(
    methods: impl IntoIterator<Item = &'m Method> + Clone,
    mode: InjectionMode,
) -> Vec<Variant> {
    Variant::ALL
        .into_iter()
        .filter(|&variant| {
            methods
                .clone()
                .into_iter()
                .any(|&m| m == Method::Engine { variant, mode })
        })
        .collect()
}

/// The engine variants any configuration of `spec` runs in `mode`.
fn spec_variants(spec: &Spec, mode: InjectionMode) -> Vec<Variant> {
    variants_in(spec.configurations.iter().flat_map(|c| &c.methods), mode)
}

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Why the trace figures' scenario gave nothing to draw (carried through a
/// [`DrawResult`] and typed again by [`draw_all`]).
#[derive(Debug, thiserror::Error)]
enum TraceFailed {
    /// Its market could not be built.
    #[error("the trace scenario's market")]
    Market(Box<ScenarioError>),
    /// One of its engine rows failed.
    #[error("the trace scenario failed")]
    Row(RowError),
}

/// The figures' drawing area.
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// The pixel width of `text` drawn at plotters font size `size` by a sans-serif
/// font, over-estimated (0.6 em per character; the SVG backend cannot measure
/// text, and plotters writes font-size as size / 1.24).
fn text_width(text: &str, size: u32) -> i32 {
    (text.chars().count() as f64 * 0.6 * f64::from(size) / 1.24).ceil() as i32
}

/// How a legend entry is marked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Mark {
    /// A filled dot (Fig. 6's means).
    Dot,
    /// A solid line (a curve).
    Line,
    /// A dashed line (a reference level).
    Dashed,
    /// A filled box (a histogram's bars).
    Block,
}

/// One legend entry: its mark, colour and text.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    mark: Mark,
    colour: RGBColor,
    label: String,
}

impl Entry {
    pub(crate) fn new(mark: Mark, colour: RGBColor, label: impl Into<String>) -> Entry {
        Entry {
            mark,
            colour,
            label: label.into(),
        }
    }
}

/// A figure's title and legend above its plots, wrapped into lines and rows that fit
/// its width.
pub(crate) struct Header {
    title: Vec<String>,
    rows: Vec<Vec<(i32, Entry)>>,
}

const TITLE_SIZE: u32 = 22;
const LEGEND_SIZE: u32 = 15;
const TITLE_LINE: i32 = 24;
const LEGEND_LINE: i32 = 22;
/// The left and right margin of titles and legends.
const SIDE: i32 = 14;
/// The width of a legend mark and the gap after it.
const MARK_WIDTH: i32 = 28;
/// The gap between two legend entries.
const GAP: i32 = 22;

impl Header {
    /// `title` and `entries` laid out for a figure `width` pixels wide.
    pub(crate) fn new(title: &str, entries: Vec<Entry>, width: u32) -> Header {
        let room = width as i32 - 2 * SIDE;
        // A unit stays with its number ("95 %" is one word).
        let mut words: Vec<String> = Vec::new();
        for word in title.split(' ') {
            match words.last_mut() {
                Some(last) if word.starts_with('%') => {
                    last.push(' ');
                    last.push_str(word);
                }
                _ => words.push(word.to_string()),
            }
        }
        let mut lines: Vec<String> = Vec::new();
        for word in &words {
            match lines.last_mut() {
                Some(line) if text_width(&format!("{line} {word}"), TITLE_SIZE) <= room => {
                    line.push(' ');
                    line.push_str(word);
                }
                _ => lines.push(word.clone()),
            }
        }
        let mut rows: Vec<Vec<(i32, Entry)>> = Vec::new();
        let mut x = SIDE;
        for e in entries {
            let w = MARK_WIDTH + text_width(&e.label, LEGEND_SIZE);
            if rows.is_empty() || (x > SIDE && x + w > SIDE + room) {
                rows.push(Vec::new());
                x = SIDE;
            }
            if let Some(row) = rows.last_mut() {
                row.push((x, e));
            }
            x += w + GAP;
        }
        Header { title: lines, rows }
    }

    /// Its height in pixels.
    pub(crate) fn height(&self) -> u32 {
        (10 + TITLE_LINE * self.title.len() as i32 + LEGEND_LINE * self.rows.len() as i32 + 8)
            as u32
    }

    /// Draws it at the top of `area`.
    pub(crate) fn draw(&self, area: &Area<'_>) -> DrawResult<()> {
        let mut y = 10;
        for line in &self.title {
            let style = TextStyle::from((FONT, TITLE_SIZE).into_font())
                .pos(Pos::new(HPos::Left, VPos::Top));
            area.draw(&Text::new(line.clone(), (SIDE, y), style))?;
            y += TITLE_LINE;
        }
        y += 4;
        for row in &self.rows {
            let mid = y + LEGEND_LINE / 2 - 2;
            for (x, e) in row {
                let (x, c) = (*x, e.colour);
                match e.mark {
                    Mark::Dot => area.draw(&Circle::new((x + 9, mid), 6, c.filled()))?,
                    Mark::Line => area.draw(&PathElement::new(
                        [(x, mid), (x + 20, mid)],
                        c.stroke_width(3),
                    ))?,
                    Mark::Dashed => {
                        for d in [0, 8, 16] {
                            area.draw(&PathElement::new(
                                [(x + d, mid), (x + d + 5, mid)],
                                c.stroke_width(2),
                            ))?;
                        }
                    }
                    Mark::Block => area.draw(&Rectangle::new(
                        [(x, mid - 6), (x + 18, mid + 6)],
                        c.mix(0.6).filled(),
                    ))?,
                }
                let style = TextStyle::from((FONT, LEGEND_SIZE).into_font())
                    .pos(Pos::new(HPos::Left, VPos::Center));
                area.draw(&Text::new(e.label.clone(), (x + MARK_WIDTH, mid), style))?;
            }
            y += LEGEND_LINE;
        }
        Ok(())
    }
}

/// Draws every figure the spec asks for: Figs. 4–5 of its `trace` scenario ([MCF-Grid]
/// Figs. 4–5, one per injection mode), Fig. 6 raw, as paired gains over fair and as %
/// of the matching optimum, and the histograms of percent_of_optimum — each with every
/// engine variant the spec runs, and each carrying `provenance` as an XML comment.
///
/// # Arguments
/// * `spec`: the experiment.
/// * `records`: its rows, every (configuration, scenario, method).
/// * `provenance`: the lines every output starts with (`# ` comments).
///
/// # Returns
/// (file name, SVG text) per figure, or why one could not be drawn (the trace
/// scenario failed, or plotters refused).
///
/// # Complexity
/// The trace figures re-run their scenario's engine variants with the trace kept
/// (**O(rounds × usable pairs)** each); the others are **O(|records|)** per panel.
///
/// Paper: [MCF-Grid] §6, Figs. 4–6.
pub fn draw_all(
    spec: &Spec,
    records: &[Record],
    provenance: &str,
) -> Result<Vec<Figure>, crate::ExperimentError> {
    let mut out = Vec::new();
    // The trace scenario's own failures keep their type; anything else is plotters'.
    let wrap = |e: Box<dyn std::error::Error>| match e.downcast::<TraceFailed>() {
        Ok(failed) => match *failed {
            TraceFailed::Market(e) => crate::ExperimentError::TraceMarket(e),
            TraceFailed::Row(e) => crate::ExperimentError::TraceScenario(e),
        },
        Err(e) => crate::ExperimentError::Figure(e.to_string()),
    };
    if let Some((ci, si)) = spec.trace {
        out.extend(trace_figures(spec, ci, si).map_err(wrap)?);
    }
    out.extend(welfare_figure(spec, records).map_err(wrap)?);
    out.extend(paired_figure(spec, records).map_err(wrap)?);
    out.extend(percent_figure(spec, records).map_err(wrap)?);
    out.extend(histogram_figure(spec, records).map_err(wrap)?);
    Ok(out
        .into_iter()
        .map(|(n, s)| (n, with_provenance(s, provenance)))
        .collect())
}

/// What a trace panel is called: the paper's figure for its two variants.
fn trace_label(variant: Variant) -> String {
    match variant {
        Variant::Fair => "fair (Fig. 4)".to_string(),
        Variant::UtilityAware => "utility-aware (Fig. 5)".to_string(),
        v => v.name().to_string(),
    }
}

/// The level each commodity's absorbed flow is measured against in `mode`: its
/// demand d_k in demand mode; in feasible mode what its source injects per round,
/// a_k = (1 − η)·min(δ*, 1)·d_k, read off the trace (the most injected in a round).
fn reference_levels(mode: InjectionMode, traces: &[&[TraceRow]], demands: &[f64]) -> Vec<f64> {
    match mode {
        InjectionMode::Demand => demands.to_vec(),
        InjectionMode::Feasible => (0..demands.len())
            .map(|k| {
                traces
                    .iter()
                    .flat_map(|t| t.iter())
                    .filter(|t| t.commodity == k)
                    .map(|t| t.injected)
                    .fold(0.0, f64::max)
            })
            .collect(),
    }
}

/// Draws Figs. 4–5: absorbed jobs per round of each commodity, one panel per engine
/// variant the configuration runs (fair, utility-aware, welfare-seeking, …) on one
/// scale, with each commodity's reference level as a dashed line; one figure per
/// injection mode the configuration runs.
///
/// The reference level is d_k in demand mode and the injected a_k in feasible mode
/// ([`reference_levels`]), and the scale is that of the curves and those levels: a
/// feasible run, which never sees d_k, is not squashed under it.
///
/// # Arguments
/// * `spec`: the experiment; its engine settings are the runs'.
/// * `ci`, `si`: the configuration and scenario traced (the spec's `trace`).
///
/// # Returns
/// `fig4_5_trace_<mode>.svg` for every mode in which the configuration runs an
/// engine variant, or the scenario's error.
///
/// # Complexity
/// One engine run per panel with its trace kept: **O(rounds × usable pairs)** time,
/// **O(rounds × users)** memory.
fn trace_figures(spec: &Spec, ci: usize, si: usize) -> DrawResult<Vec<Figure>> {
    let c = &spec.configurations[ci];
    let market = scenario_market(c, si).map_err(|e| Box::new(TraceFailed::Market(Box::new(e))))?;
    let g = ExpandedGraph::new(&market);
    let mut figures = Vec::new();
    for mode in MODES {
        let variants = variants_in(&c.methods, mode);
        if variants.is_empty() {
            continue;
        }
        let mut options = compare_options(spec, c);
        options.methods = variants
            .iter()
            .map(|&variant| Method::Engine { variant, mode })
            .collect();
        options.trace = true;
        let rows = compare_market(&market, &g, &options);
        if let Some(e) = rows.iter().find_map(|r| r.error.as_ref()) {
            return Err(Box::new(TraceFailed::Row(e.clone())));
        }
        let demands: Vec<f64> = g.commodities.iter().map(|k| k.demand).collect();
        let traces: Vec<&[TraceRow]> = rows.iter().map(|r| r.trace.as_slice()).collect();
        let levels = reference_levels(mode, &traces, &demands);
        let (level, level_name) = match mode {
            InjectionMode::Demand => ("d", "demand d_k"),
            InjectionMode::Feasible => ("a", "injected a_k = (1 − η)·min(δ*, 1)·d_k"),
        };
        let mut entries: Vec<Entry> = market
            .users
            .iter()
            .zip(&levels)
            .enumerate()
            .filter(|(_, (_, &l))| l > 0.0)
            .map(|(k, (u, &l))| {
                Entry::new(
                    Mark::Line,
                    colour(k),
                    format!("{} ({level} = {})", u.id, short(l)),
                )
            })
            .collect();
        entries.push(Entry::new(
            Mark::Dashed,
            BLACK,
            format!("dashed: {level_name}"),
        ));
        let width = 600 * rows.len().max(2) as u32;
        let header = Header::new(
            &format!(
                "Absorbed jobs per round, {} mode — scenario {} / {} ({})",
                mode.name(),
                c.name,
                c.scenario_label(si),
                market.name
            ),
            entries,
            width,
        );
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (width, header.height() + 500))
                .into_drawing_area();
            root.fill(&WHITE)?;
            let (top, body) = root.split_vertically(header.height());
            header.draw(&top)?;
            let panels = body.split_evenly((1, rows.len()));
            let ymax = rows
                .iter()
                .flat_map(|r| r.trace.iter().map(|t| t.absorbed))
                .chain(levels.iter().copied())
                .fold(0.0_f64, f64::max)
                * 1.08;
            for (panel, row) in panels.iter().zip(&rows) {
                let Method::Engine { variant, .. } = row.method else {
                    continue;
                };
                let rounds = row.rounds.unwrap_or(1).max(1);
                let caption = format!(
                    "{}: {rounds} rounds, {}",
                    trace_label(variant),
                    if row.converged == Some(true) {
                        "converged"
                    } else {
                        "round limit"
                    }
                );
                draw_trace_panel(panel, &caption, &row.trace, &levels, rounds, ymax.max(1e-9))?;
            }
            root.present()?;
        }
        figures.push((format!("fig4_5_trace_{}.svg", mode.name()), svg));
    }
    Ok(figures)
}

/// A number for a label: at most 3 decimals, without trailing zeros.
fn short(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0" } else { s }.to_string()
}

/// One panel of Figs. 4–5: each commodity's absorbed flow by round and its level.
fn draw_trace_panel(
    area: &Area<'_>,
    caption: &str,
    trace: &[TraceRow],
    levels: &[f64],
    rounds: usize,
    ymax: f64,
) -> DrawResult<()> {
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
    for (k, &level) in levels.iter().enumerate() {
        if level <= 0.0 {
            continue;
        }
        let col = colour(k);
        let series: Vec<(f64, f64)> = trace
            .iter()
            .filter(|t| t.commodity == k)
            .map(|t| (t.round as f64, t.absorbed))
            .collect();
        chart.draw_series(LineSeries::new(series, col.stroke_width(2)))?;
        chart.draw_series(DashedLineSeries::new(
            [(0.0, level), (rounds as f64, level)],
            6,
            4,
            col.stroke_width(1),
        ))?;
    }
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

/// A mean with its 95 % interval as an error bar and a dot at chart position `x`.
fn draw_estimate(
    chart: &mut ChartContext<
        '_,
        SVGBackend<'_>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    x: f64,
    e: &Estimate,
    col: RGBColor,
) -> DrawResult<()> {
    chart.draw_series(std::iter::once(ErrorBar::new_vertical(
        x,
        e.low().unwrap_or(e.mean),
        e.mean,
        e.high().unwrap_or(e.mean),
        col.stroke_width(2),
        12,
    )))?;
    chart.draw_series(std::iter::once(Circle::new((x, e.mean), 6, col.filled())))?;
    Ok(())
}

/// The modes in which the spec runs an engine variant, each with those variants.
fn spec_modes(spec: &Spec) -> Vec<(InjectionMode, Vec<Variant>)> {
    MODES
        .into_iter()
        .map(|mode| (mode, spec_variants(spec, mode)))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// The configurations that run an engine variant (those that run LPs alone have
/// nothing to compare with their optimum).
fn engine_configurations(spec: &Spec) -> Vec<usize> {
    (0..spec.configurations.len())
        .filter(|&ci| {
            spec.configurations[ci]
                .methods
                .iter()
                .any(|m| matches!(m, Method::Engine { .. }))
        })
        .collect()
}

/// The legend of Fig. 6: every variant the spec runs in any mode, then the optimum.
fn method_entries(modes: &[(InjectionMode, Vec<Variant>)], optimum: Option<&str>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Variant::ALL
        .into_iter()
        .filter(|v| modes.iter().any(|(_, vs)| vs.contains(v)))
        .map(|v| Entry::new(Mark::Dot, variant_colour(v), v.name()))
        .collect();
    entries.extend(optimum.map(|o| Entry::new(Mark::Dot, colour(OPTIMUM), o)));
    entries
}

/// What the panels of Fig. 6 plot for each method of a (configuration, mode).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fig6 {
    /// Mean welfare ([`welfare_figure`]).
    Welfare,
    /// Mean welfare minus fair's on the same scenario ([`paired_figure`]).
    GainOverFair,
}

impl Fig6 {
    /// Whether configuration `ci` has a panel in `mode`: it runs an engine variant
    /// there (and, for the gains, fair, which they are measured from).
    fn has_panel(self, spec: &Spec, ci: usize, mode: InjectionMode) -> bool {
        let methods = &spec.configurations[ci].methods;
        match self {
            Fig6::Welfare => !variants_in(methods, mode).is_empty(),
            Fig6::GainOverFair => methods.contains(&Method::Engine {
                variant: Variant::Fair,
                mode,
            }),
        }
    }

    /// The estimate of `variant`'s welfare in configuration `ci` and `mode`, or with
    /// `None` that of the matching LP optimum (read off the rows of the first variant
    /// run there: every variant's row of a scenario carries the same optimum).
    fn estimate(
        self,
        spec: &Spec,
        records: &[Record],
        ci: usize,
        mode: InjectionMode,
        variant: Option<Variant>,
    ) -> Option<Estimate> {
        let column_of = |variant| {
            let m = Method::Engine { variant, mode };
            let mi = spec.configurations[ci]
                .methods
                .iter()
                .position(|&x| x == m)?;
            Some(column(spec, records, ci, mi))
        };
        let read = |col: &[Option<Record>], f: fn(&Record) -> Option<f64>| -> Vec<Option<f64>> {
            col.iter().map(|r| r.as_ref().and_then(f)).collect()
        };
        let (col, f): (_, fn(&Record) -> Option<f64>) = match variant {
            Some(v) => (column_of(v)?, |r| r.welfare),
            None => {
                let first = variants_in(&spec.configurations[ci].methods, mode);
                (column_of(*first.first()?)?, |r| r.optimum)
            }
        };
        match self {
            Fig6::Welfare => mean_ci(&read(&col, f).into_iter().flatten().collect::<Vec<_>>()),
            Fig6::GainOverFair => {
                let fair = column_of(Variant::Fair)?;
                mean_ci(&paired_differences(
                    &read(&col, f),
                    &read(&fair, |r| r.welfare),
                ))
            }
        }
    }
}

/// Draws Fig. 6: mean welfare (95 % CI) of every engine variant the spec runs and of
/// the matching LP optimum, one small panel per (injection mode, configuration), each
/// on its own welfare scale (configurations differ by orders of magnitude).
///
/// # Arguments
/// * `spec`: the experiment.
/// * `records`: its rows.
///
/// # Returns
/// `fig6_welfare.svg`, or nothing when the spec runs no engine variant.
///
/// # Complexity
/// **O(|records|)** per panel.
///
/// Paper: [MCF-Grid] §6, Fig. 6.
fn welfare_figure(spec: &Spec, records: &[Record]) -> DrawResult<Option<Figure>> {
    fig6_panels(
        spec,
        records,
        Fig6::Welfare,
        (
            "fig6_welfare.svg",
            "Welfare (money / time unit), mean with 95 % CI, of each variant and of the matching LP optimum",
            "welfare (money / time unit)",
        ),
    )
}

/// Draws Fig. 6 as paired differences: on the same scenarios, the mean welfare
/// gained over fair (95 % paired CI) by every engine variant the spec runs and by the
/// matching LP optimum, the most any routing could gain; one panel per (injection
/// mode, configuration) that runs fair, fair itself at 0. The scenarios' spread,
/// which makes Fig. 6's raw intervals overlap, cancels in the pairs; utility-aware's
/// mean is summary.csv's `utility-aware-minus-fair/<mode>` welfare row.
///
/// # Arguments
/// * `spec`: the experiment.
/// * `records`: its rows.
///
/// # Returns
/// `fig6_welfare_paired.svg`, or nothing when no configuration runs fair.
///
/// # Complexity
/// **O(|records|)** per panel.
///
/// Paper: [MCF-Grid] §6, Fig. 6 and Table 1 ("utility gained").
fn paired_figure(spec: &Spec, records: &[Record]) -> DrawResult<Option<Figure>> {
    fig6_panels(
        spec,
        records,
        Fig6::GainOverFair,
        (
            "fig6_welfare_paired.svg",
            "Welfare gained over fair on the same scenarios (money / time unit), mean of the paired differences with 95 % CI, of each variant and of the matching LP optimum",
            "welfare − fair's (money / time unit)",
        ),
    )
}

/// Digits after the point for ticks over a scale `span` wide: enough that ten
/// ticks have distinct labels.
fn tick_digits(span: f64) -> usize {
    match span {
        s if s >= 20.0 => 0,
        s if s >= 2.0 => 1,
        _ => 2,
    }
}

/// Fig. 6's layout, for the raw welfare and the paired gains alike: the legend's
/// variants and the optimum in slots along each panel's x axis, a panel per
/// (injection mode, configuration) that `kind` draws, a zero line; `names` is
/// (file name, title, y axis description).
fn fig6_panels(
    spec: &Spec,
    records: &[Record],
    kind: Fig6,
    (file, title, y_desc): (&str, &str, &str),
) -> DrawResult<Option<Figure>> {
    let has = |ci: usize, mode: InjectionMode| kind.has_panel(spec, ci, mode);
    let all = 0..spec.configurations.len();
    let modes: Vec<(InjectionMode, Vec<Variant>)> = MODES
        .into_iter()
        .filter_map(|mode| {
            let runs = all.clone().filter(|&ci| has(ci, mode));
            let variants = variants_in(runs.flat_map(|ci| &spec.configurations[ci].methods), mode);
            (!variants.is_empty()).then_some((mode, variants))
        })
        .collect();
    if modes.is_empty() {
        return Ok(None);
    }
    let configurations: Vec<usize> = all
        .filter(|&ci| modes.iter().any(|&(mode, _)| has(ci, mode)))
        .collect();
    let n = configurations.len();
    // Slots on every panel's x axis: the legend's variants, then the optimum.
    let slots: Vec<Variant> = Variant::ALL
        .into_iter()
        .filter(|v| modes.iter().any(|(_, vs)| vs.contains(v)))
        .collect();
    // Panels as wide as their captions, at least 250 pixels.
    let caption = |ci: usize, mode: InjectionMode| {
        format!("{}, {} mode", spec.configurations[ci].name, mode.name())
    };
    let panel = configurations
        .iter()
        .flat_map(|&ci| modes.iter().map(move |&(mode, _)| (ci, mode)))
        .map(|(ci, mode)| text_width(&caption(ci, mode), 15) + 24)
        .max()
        .unwrap_or(0)
        .max(250);
    let width = (panel as u32 * n as u32 + 60).max(760);
    let header = Header::new(
        title,
        method_entries(
            &modes,
            Some("LP optimum (feasible mode: P2 at the injected amounts; demand mode: P3)"),
        ),
        width,
    );
    let mut svg = String::new();
    {
        let height = 330 * modes.len() as u32 + header.height();
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, body) = root.split_vertically(header.height());
        header.draw(&top)?;
        let panels = body.split_evenly((modes.len(), n));
        let right = slots.len() as f64 + 0.6;
        for (pi, panel) in panels.iter().enumerate() {
            let (mode, _) = modes[pi / n];
            let ci = configurations[pi % n];
            if !has(ci, mode) {
                continue; // this configuration has nothing to draw in this mode
            }
            let mut est: Vec<(f64, RGBColor, Estimate)> = Vec::new();
            for (x, &variant) in slots.iter().enumerate() {
                if let Some(e) = kind.estimate(spec, records, ci, mode, Some(variant)) {
                    est.push((x as f64, variant_colour(variant), e));
                }
            }
            // The optimum is every variant's yardstick; any variant run here has it.
            est.extend(
                kind.estimate(spec, records, ci, mode, None)
                    .map(|e| (slots.len() as f64, colour(OPTIMUM), e)),
            );
            let (mut lo, mut hi) = (0.0_f64, 0.0_f64);
            for (_, _, e) in &est {
                lo = lo.min(e.low().unwrap_or(e.mean));
                hi = hi.max(e.high().unwrap_or(e.mean));
            }
            let pad = (hi - lo).max(1e-9) * 0.08;
            let digits = tick_digits(hi - lo);
            let mut chart = ChartBuilder::on(panel)
                .caption(caption(ci, mode), (FONT, 15))
                .margin(8)
                .x_label_area_size(28)
                .y_label_area_size(62)
                .build_cartesian_2d(-0.6f64..right, (lo - pad)..(hi + pad))?;
            chart
                .configure_mesh()
                .x_labels(0)
                .disable_x_mesh()
                .y_desc(if pi % n == 0 { y_desc } else { "" })
                .y_label_formatter(&|y| format!("{y:.digits$}"))
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            chart.draw_series(LineSeries::new(
                [(-0.6, 0.0), (right, 0.0)],
                BLACK.mix(0.4).stroke_width(1),
            ))?;
            for (x, col, e) in &est {
                draw_estimate(&mut chart, *x, e, *col)?;
            }
        }
        root.present()?;
    }
    Ok(Some((file.into(), svg)))
}

/// Estimates at their place: (the configuration's place, the variant's slot, estimate).
type Placed = Vec<(usize, usize, Estimate)>;

/// Draws Fig. 6 as percentages: mean percent_of_optimum (95 % CI) of every engine
/// variant the spec runs, one panel per injection mode with the configurations side
/// by side on one scale and 100 % marked. Where raw welfare varies by orders of
/// magnitude between scenarios its intervals are too wide to read; the ratio to each
/// scenario's own optimum is not.
///
/// # Arguments
/// * `spec`: the experiment.
/// * `records`: its rows.
///
/// # Returns
/// `fig6_welfare_percent.svg`, or nothing when no engine row has a percentage.
///
/// # Complexity
/// **O(|records|)** per (configuration, variant).
fn percent_figure(spec: &Spec, records: &[Record]) -> DrawResult<Option<Figure>> {
    let modes = spec_modes(spec);
    let configurations = engine_configurations(spec);
    let names: Vec<&str> = configurations
        .iter()
        .map(|&ci| spec.configurations[ci].name.as_str())
        .collect();
    // Per mode: (place of the configuration, variant slot, estimate).
    let mut data: Vec<(InjectionMode, &[Variant], Placed)> = Vec::new();
    for (mode, variants) in &modes {
        let mut est = Vec::new();
        for (place, &ci) in configurations.iter().enumerate() {
            for (vi, &variant) in variants.iter().enumerate() {
                let m = Method::Engine {
                    variant,
                    mode: *mode,
                };
                if let Some(e) = estimate_of(spec, records, ci, m, |r| r.percent_of_optimum) {
                    est.push((place, vi, e));
                }
            }
        }
        if !est.is_empty() {
            data.push((*mode, variants, est));
        }
    }
    if data.is_empty() {
        return Ok(None);
    }
    // Each configuration's group as wide as its name, at least 130 pixels.
    let group = names
        .iter()
        .map(|n| text_width(n, 14) + 24)
        .max()
        .unwrap_or(0)
        .max(130);
    let width = ((group * names.len() as i32) as u32 + 120).max(760);
    let any_cut = data
        .iter()
        .flat_map(|(_, _, est)| est)
        .any(|(_, _, e)| e.low().unwrap_or(e.mean) < PERCENT_FLOOR);
    let title = format!(
        "Welfare as % of the matching LP optimum (feasible mode: P2 at the injected amounts; demand mode: P3), mean with 95 % CI{}",
        if any_cut {
            "; the axis stops at −100 %: an interval below it ends in an arrowhead, a mean below it is written in figures"
        } else {
            ""
        }
    );
    let header = Header::new(
        &title,
        {
            let mut entries = method_entries(&modes, None);
            entries.push(Entry::new(
                Mark::Dashed,
                colour(OPTIMUM),
                "100 %: the optimum",
            ));
            entries
        },
        width,
    );
    let mut svg = String::new();
    {
        let height = 340 * data.len() as u32 + header.height();
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, body) = root.split_vertically(header.height());
        header.draw(&top)?;
        let panels = body.split_evenly((data.len(), 1));
        let n = names.len() as f64;
        for (panel, (mode, variants, est)) in panels.iter().zip(&data) {
            let (mut lo, mut hi) = (0.0_f64, 100.0_f64);
            for (_, _, e) in est {
                lo = lo.min(e.low().unwrap_or(e.mean));
                hi = hi.max(e.high().unwrap_or(e.mean));
            }
            // A configuration whose optima lie near 0 can put its mean at −600 % and
            // squash every other one onto the 100 % line; the axis stops at the
            // histogram's end bin and such marks are drawn cut, their value written.
            let cut = lo < PERCENT_FLOOR;
            lo = lo.max(PERCENT_FLOOR);
            let pad = (hi - lo).max(1e-9) * 0.08;
            let mut chart = ChartBuilder::on(panel)
                .caption(format!("{} mode", mode.name()), (FONT, 16))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(62)
                .build_cartesian_2d(-0.5f64..n - 0.5, (lo - pad)..(hi + pad))?;
            chart
                .configure_mesh()
                .x_labels(0)
                .disable_x_mesh()
                .y_desc("% of the matching optimum")
                .y_label_formatter(&|y| format!("{y:.0}"))
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            chart.draw_series(DashedLineSeries::new(
                [(-0.5, 100.0), (n - 0.5, 100.0)],
                6,
                4,
                colour(OPTIMUM).stroke_width(2),
            ))?;
            let spread = 0.6 / variants.len().max(1) as f64;
            for (ci, vi, e) in est {
                let x = *ci as f64 + (*vi as f64 - (variants.len() as f64 - 1.0) / 2.0) * spread;
                let col = variant_colour(variants[*vi]);
                if !cut || e.low().unwrap_or(e.mean) >= PERCENT_FLOOR {
                    draw_estimate(&mut chart, x, e, col)?;
                } else {
                    draw_cut_estimate(&mut chart, &root, (x, *vi), e, col, lo - pad)?;
                }
            }
            // The configurations' names under their groups.
            let style =
                TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
            for (ci, name) in names.iter().enumerate() {
                let (px, py) = chart.backend_coord(&(ci as f64, lo - pad));
                root.draw(&Text::new(name.to_string(), (px, py + 8), style.clone()))?;
            }
        }
        root.present()?;
    }
    Ok(Some(("fig6_welfare_percent.svg".into(), svg)))
}

/// The lowest percentage the percent figure's axis shows (the histogram's end bin).
const PERCENT_FLOOR: f64 = -100.0;

/// Draws an estimate whose interval reaches below [`PERCENT_FLOOR`]: the interval's
/// visible part ends in an arrowhead at the axis, and a mean below the floor is a
/// downward triangle there with its value beside it (a circle only where the mean is
/// on the scale).
fn draw_cut_estimate(
    chart: &mut ChartContext<
        '_,
        SVGBackend<'_>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    (x, slot): (f64, usize),
    e: &Estimate,
    col: RGBColor,
    bottom: f64,
) -> DrawResult<()> {
    let top = e.high().unwrap_or(e.mean).max(bottom);
    chart.draw_series(std::iter::once(PathElement::new(
        [(x, bottom), (x, top)],
        col.stroke_width(2),
    )))?;
    let (px, py) = chart.backend_coord(&(x, bottom));
    let arrow = |dy: i32| {
        Polygon::new(
            vec![
                (px - 7, py - dy - 10),
                (px + 7, py - dy - 10),
                (px, py - dy),
            ],
            col.filled(),
        )
    };
    root.draw(&arrow(0))?;
    if e.high().is_some_and(|h| h > bottom) {
        let (_, cap) = chart.backend_coord(&(x, top));
        root.draw(&PathElement::new(
            [(px - 6, cap), (px + 6, cap)],
            col.stroke_width(2),
        ))?;
    }
    if e.mean < PERCENT_FLOOR {
        // Beside the arrowhead, to the left for even slots and to the right for odd
        // ones, so neighbouring variants' values do not overlap or cross a line.
        let (h, tx) = if slot % 2 == 0 {
            (HPos::Right, px - 9)
        } else {
            (HPos::Left, px + 9)
        };
        let style = TextStyle::from((FONT, 13).into_font())
            .color(&col)
            .pos(Pos::new(h, VPos::Center));
        root.draw(&Text::new(format!("{:.0} %", e.mean), (tx, py - 6), style))?;
    } else {
        chart.draw_series(std::iter::once(Circle::new((x, e.mean), 6, col.filled())))?;
    }
    Ok(())
}

/// Draws histograms of percent_of_optimum for every engine variant the spec runs, all
/// configurations pooled: one panel per injection mode, the variants overlaid. Values
/// outside [−100, 120] are counted in the end bins (the caption says how many).
///
/// # Arguments
/// * `spec`: the experiment.
/// * `records`: its rows.
///
/// # Returns
/// `hist_percent_of_optimum.svg`, or nothing when no engine row has a percentage.
///
/// # Complexity
/// **O(|records|)** per (mode, variant).
fn histogram_figure(spec: &Spec, records: &[Record]) -> DrawResult<Option<Figure>> {
    const LO: f64 = -100.0;
    const HI: f64 = 120.0;
    const BIN: f64 = 5.0;
    let bins = ((HI - LO) / BIN) as usize;
    let mut panels_data = Vec::new();
    for (mode, variants) in spec_modes(spec) {
        let mut per_variant = Vec::new();
        for variant in variants {
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
    let width = (560 * panels_data.len() as u32).max(760);
    // One legend entry per variant, with its counts per panel.
    let entries: Vec<Entry> = Variant::ALL
        .into_iter()
        .filter_map(|variant| {
            let counts: Vec<(InjectionMode, usize)> = panels_data
                .iter()
                .filter_map(|(mode, per)| {
                    let (_, vals) = per.iter().find(|(v, _)| *v == variant)?;
                    Some((*mode, vals.len()))
                })
                .collect();
            let &(_, first) = counts.first()?;
            let n = if counts.len() == panels_data.len() && counts.iter().all(|&(_, c)| c == first)
            {
                format!(
                    "n = {first}{}",
                    if counts.len() > 1 { " per mode" } else { "" }
                )
            } else {
                let each: Vec<String> = counts
                    .iter()
                    .map(|(m, c)| format!("{c} {}", m.name()))
                    .collect();
                format!("n = {}", each.join(", "))
            };
            Some(Entry::new(
                Mark::Block,
                variant_colour(variant),
                format!("{} ({n})", variant.name()),
            ))
        })
        .collect();
    let header = Header::new(
        "Distributed runs: percent of the matching LP optimum (all configurations)",
        entries,
        width,
    );
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (width, 480 + header.height())).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, body) = root.split_vertically(header.height());
        header.draw(&top)?;
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
                // Counts are whole: no more ticks than there are counts.
                .y_labels((ymax as usize + 1).clamp(2, 10))
                .y_label_formatter(&|y| format!("{y:.0}"))
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 15))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            for ((variant, _), c) in per_variant.iter().zip(&counts) {
                let col = variant_colour(*variant);
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
                chart.draw_series(LineSeries::new(step, col.stroke_width(2)))?;
            }
        }
        root.present()?;
    }
    Ok(Some(("hist_percent_of_optimum.svg".into(), svg)))
}

/// `svg` with the `#` lines of `provenance` as an XML comment after the XML
/// declaration.
pub fn with_provenance(svg: String, provenance: &str) -> String {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use brokerflow_solvers::compare::Measures;
    use std::path::Path;

    /// A spec of `n` generated configurations (4 users each) running `methods`.
    fn spec(n: usize, methods: &[Method]) -> Spec {
        let names: Vec<String> = methods
            .iter()
            .map(|m| format!("\"{}\"", m.label()))
            .collect();
        let mut text = format!(
            "name = \"figures\"\nmethods = [{}]\n[engine]\nrounds = 3000\n",
            names.join(", ")
        );
        // Names of the lengths the committed specs use, the longest last.
        let config = [
            "paper-K5",
            "costs-K10",
            "K2000-B50-P100",
            "costs-K20",
            "K100000-B2500-P5000",
        ];
        for name in config.iter().take(n) {
            text.push_str(&format!(
                "[[configuration]]\nname = \"{name}\"\nseeds = 3\n[configuration.generator]\nusers = 4\nbrokers = 2\nproviders = 2\n"
            ));
        }
        Spec::parse(&text, Path::new("figures.toml")).unwrap()
    }

    /// Rows for every (configuration, scenario, method) of `spec`: welfare of a scale
    /// that grows with the configuration, 70–95 % of an optimum.
    fn records(spec: &Spec) -> Vec<Record> {
        let mut out = Vec::new();
        for (ci, c) in spec.configurations.iter().enumerate() {
            for si in 0..c.scenarios() {
                for (mi, _) in c.methods.iter().enumerate() {
                    let optimum = 100.0 * 10f64.powi(ci as i32) * (1.0 + si as f64);
                    let percent = 70.0 + (5 * ((mi + si) % 6)) as f64;
                    out.push(Record {
                        config: ci,
                        scenario: si,
                        method: mi,
                        ok: true,
                        measures: Measures {
                            served_fraction: Some(0.9),
                            welfare: Some(optimum * percent / 100.0),
                            optimum: Some(optimum),
                            percent_of_optimum: Some(percent),
                            rounds: Some(100),
                            converged: Some(true),
                            ..Measures::default()
                        },
                        notes: String::new(),
                        error: String::new(),
                        seconds: 0.0,
                    });
                }
            }
        }
        out
    }

    /// One `<text>` element: its content and the box it covers at 0.6 em per
    /// character (as generous as [`text_width`]).
    #[derive(Debug)]
    pub(crate) struct TextBox {
        pub(crate) text: String,
        pub(crate) anchor: String,
        pub(crate) x: (f64, f64),
        pub(crate) y: (f64, f64),
    }

    fn attr(tag: &str, name: &str) -> Option<String> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(tag[start..start + tag[start..].find('"')?].to_string())
    }

    fn view_box(svg: &str) -> (f64, f64) {
        let tag = &svg[svg.find("<svg").unwrap()..];
        let v: Vec<f64> = attr(tag, "viewBox")
            .unwrap()
            .split(' ')
            .map(|x| x.parse().unwrap())
            .collect();
        assert_eq!((v[0], v[1]), (0.0, 0.0));
        (v[2], v[3])
    }

    pub(crate) fn texts(svg: &str) -> Vec<TextBox> {
        let mut out = Vec::new();
        for part in svg.split("<text").skip(1) {
            let tag = &part[..part.find('>').unwrap()];
            let content = &part[tag.len() + 1..part.find("</text>").unwrap()];
            let text = content
                .trim()
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&amp;", "&");
            let num = |name: &str| attr(tag, name).unwrap().parse::<f64>().unwrap();
            let (x, y, size) = (num("x"), num("y"), num("font-size"));
            let w = text.chars().count() as f64 * 0.6 * size;
            let anchor = attr(tag, "text-anchor").unwrap_or_default();
            let along = match anchor.as_str() {
                "middle" => (-w / 2.0, w / 2.0),
                "end" => (-w, 0.0),
                _ => (0.0, w),
            };
            let across = match attr(tag, "dy").as_deref() {
                Some("0.76em") => (0.0, size),
                Some("0.5ex") => (-size / 2.0, size / 2.0),
                _ => (-size, 0.0),
            };
            let rotation = attr(tag, "transform").map(|t| t[7..t.find(',').unwrap()].to_string());
            let (bx, by) = match rotation.as_deref() {
                None => ((x + along.0, x + along.1), (y + across.0, y + across.1)),
                // Turned a quarter left: the text runs upwards from (x, y).
                Some("270") => ((x + across.0, x + across.1), (y - along.1, y - along.0)),
                Some("90") => ((x - across.1, x - across.0), (y + along.0, y + along.1)),
                Some(r) => panic!("rotation {r}"),
            };
            out.push(TextBox {
                text,
                anchor,
                x: bx,
                y: by,
            });
        }
        out
    }

    /// Asserts every text of `svg` lies inside its view box.
    pub(crate) fn assert_texts_inside(name: &str, svg: &str) {
        let (w, h) = view_box(svg);
        for t in texts(svg) {
            assert!(
                t.x.0 >= 0.0 && t.x.1 <= w && t.y.0 >= 0.0 && t.y.1 <= h,
                "{name}: {:?} leaves the view box 0 0 {w} {h}",
                t
            );
        }
    }

    /// How many circles of colour `c` the SVG draws.
    fn circles(svg: &str, c: RGBColor) -> usize {
        let fill = format!("fill=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
        svg.split("<circle")
            .skip(1)
            .filter(|p| p[..p.find('>').unwrap()].contains(&fill))
            .count()
    }

    pub(crate) fn has_text(svg: &str, text: &str) -> bool {
        texts(svg).iter().any(|t| t.text == text)
    }

    fn engine_methods() -> Vec<Method> {
        Method::ALL
            .into_iter()
            .filter(|m| matches!(m, Method::Engine { .. }))
            .collect()
    }

    #[test]
    fn every_text_is_inside_the_figure_for_one_to_five_configurations() {
        for n in 1..=5 {
            let s = spec(n, &Method::ALL);
            let r = records(&s);
            let figures = [
                welfare_figure(&s, &r).unwrap().unwrap(),
                percent_figure(&s, &r).unwrap().unwrap(),
                histogram_figure(&s, &r).unwrap().unwrap(),
            ];
            for (name, svg) in &figures {
                assert_texts_inside(&format!("{name} with {n} configurations"), svg);
                // Panel captions side by side do not run into each other.
                let captions: Vec<TextBox> = texts(svg)
                    .into_iter()
                    .filter(|t| t.text.ends_with(" mode"))
                    .collect();
                for (i, a) in captions.iter().enumerate() {
                    for b in &captions[i + 1..] {
                        let beside = a.y.0 < b.y.1 && b.y.0 < a.y.1;
                        assert!(
                            !beside || a.x.1 <= b.x.0 || b.x.1 <= a.x.0,
                            "{name}: {a:?} runs into {b:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn fig6_has_one_series_and_one_legend_entry_per_variant_the_spec_runs() {
        for n in [1, 3] {
            let s = spec(n, &Method::ALL);
            let r = records(&s);
            let panels = 2 * n;
            for (name, svg) in [
                welfare_figure(&s, &r).unwrap().unwrap(),
                percent_figure(&s, &r).unwrap().unwrap(),
            ] {
                for v in Variant::ALL {
                    assert!(
                        has_text(&svg, v.name()),
                        "{name}: no legend entry {}",
                        v.name()
                    );
                    // One dot per panel (or per configuration of a mode) and the legend's.
                    assert_eq!(
                        circles(&svg, variant_colour(v)),
                        panels + 1,
                        "{name}: {}",
                        v.name()
                    );
                }
            }
            let (_, svg) = welfare_figure(&s, &r).unwrap().unwrap();
            assert_eq!(circles(&svg, colour(OPTIMUM)), panels + 1, "the LP optimum");
        }
    }

    #[test]
    fn a_spec_of_welfare_seeking_alone_is_drawn() {
        let only = [Method::Engine {
            variant: Variant::WelfareSeeking,
            mode: InjectionMode::Demand,
        }];
        let s = spec(2, &only);
        let r = records(&s);
        let (_, svg) = welfare_figure(&s, &r).unwrap().unwrap();
        assert_eq!(
            circles(&svg, variant_colour(Variant::WelfareSeeking)),
            2 + 1
        );
        assert_eq!(circles(&svg, colour(OPTIMUM)), 2 + 1, "its optimum");
        assert!(!has_text(&svg, "fair"));
        let (_, svg) = histogram_figure(&s, &r).unwrap().unwrap();
        assert!(has_text(&svg, "welfare-seeking (n = 6)"), "{svg}");
        assert!(percent_figure(&s, &r).unwrap().is_some());
    }

    #[test]
    fn configurations_of_lps_alone_get_no_panel() {
        let text = "name = \"scale\"\nmethods = [\"lp/welfare\", \"fair/demand\", \"utility-aware/feasible\"]\n\
            [[configuration]]\nname = \"small\"\nseeds = 2\n[configuration.generator]\nusers = 4\nbrokers = 2\nproviders = 2\n\
            [[configuration]]\nname = \"large\"\nseeds = 2\nmethods = [\"lp/welfare\"]\n[configuration.generator]\nusers = 8\nbrokers = 2\nproviders = 2\n";
        let s = Spec::parse(text, Path::new("scale.toml")).unwrap();
        let r = records(&s);
        let (_, svg) = welfare_figure(&s, &r).unwrap().unwrap();
        // small runs fair in demand mode and utility-aware in feasible mode.
        for caption in ["small, feasible mode", "small, demand mode"] {
            assert!(has_text(&svg, caption), "{caption}");
        }
        assert!(!texts(&svg).iter().any(|t| t.text.starts_with("large")));
        assert_eq!(circles(&svg, variant_colour(Variant::Fair)), 1 + 1);
        assert_eq!(circles(&svg, variant_colour(Variant::UtilityAware)), 1 + 1);
        let (_, svg) = percent_figure(&s, &r).unwrap().unwrap();
        assert!(has_text(&svg, "small") && !has_text(&svg, "large"));
        // Gains over fair only where fair runs: small in demand mode.
        let (_, svg) = paired_figure(&s, &r).unwrap().unwrap();
        assert!(has_text(&svg, "small, demand mode"));
        assert!(!texts(&svg)
            .iter()
            .any(|t| t.text.ends_with("feasible mode")));
        assert!(!texts(&svg).iter().any(|t| t.text.starts_with("large")));
        assert_eq!(circles(&svg, variant_colour(Variant::Fair)), 1 + 1);
        assert_eq!(circles(&svg, variant_colour(Variant::UtilityAware)), 0);
    }

    #[test]
    fn the_percent_figure_marks_the_optimum_and_names_every_configuration() {
        let s = spec(3, &Method::ALL);
        let r = records(&s);
        let (name, svg) = percent_figure(&s, &r).unwrap().unwrap();
        assert_eq!(name, "fig6_welfare_percent.svg");
        for c in &s.configurations {
            assert_eq!(
                texts(&svg).iter().filter(|t| t.text == c.name).count(),
                2,
                "{}",
                c.name
            );
        }
        assert!(has_text(&svg, "feasible mode") && has_text(&svg, "demand mode"));
        // Every mean lies between 70 and 95 % here; the scale reaches 100 %.
        assert!(has_text(&svg, "100"));
    }

    #[test]
    fn the_feasible_level_is_what_the_source_injects() {
        let row = |round, commodity, injected| TraceRow {
            round,
            commodity,
            injected,
            absorbed: 0.0,
            queued: 0.0,
            discarded: 0.0,
            in_flight: 0.0,
            lost: 0.0,
        };
        let trace = [row(1, 0, 0.0), row(2, 0, 1.4), row(2, 1, 3.0)];
        let demands = [2.0, 5.0];
        assert_eq!(
            reference_levels(InjectionMode::Feasible, &[&trace], &demands),
            vec![1.4, 3.0]
        );
        assert_eq!(
            reference_levels(InjectionMode::Demand, &[&trace], &demands),
            vec![2.0, 5.0]
        );
    }

    /// The largest y tick of a trace figure (the labels right-aligned left of the axis).
    fn top_tick(svg: &str) -> f64 {
        texts(svg)
            .iter()
            .filter(|t| t.anchor == "end")
            .filter_map(|t| t.text.parse::<f64>().ok())
            .fold(0.0, f64::max)
    }

    #[test]
    fn the_traces_show_every_variant_on_the_scale_of_what_they_show() {
        let mut s = spec(1, &engine_methods());
        s.trace = Some((0, 1));
        let figures = trace_figures(&s, 0, 1).unwrap();
        assert_eq!(figures.len(), 2);
        let market = scenario_market(&s.configurations[0], 1).unwrap();
        let most_demanded = market.users.iter().map(|u| u.demand).fold(0.0, f64::max);
        for (name, svg) in &figures {
            assert_texts_inside(name, svg);
            for v in Variant::ALL {
                let caption = format!("{}: ", trace_label(v));
                assert!(
                    texts(svg).iter().any(|t| t.text.starts_with(&caption)),
                    "{name}: no panel of {}",
                    v.name()
                );
            }
            for u in &market.users {
                assert!(
                    texts(svg)
                        .iter()
                        .any(|t| t.text.starts_with(&format!("{} (", u.id))),
                    "{name}: {}",
                    u.id
                );
            }
        }
        let (_, feasible) = &figures[0];
        assert!(has_text(
            feasible,
            "dashed: injected a_k = (1 − η)·min(δ*, 1)·d_k"
        ));
        // Generated markets are contended (δ* < 1): the feasible scale stays below the
        // demand it never injects.
        assert!(
            top_tick(feasible) < most_demanded,
            "{} vs {most_demanded}",
            top_tick(feasible)
        );
        let (_, demand) = &figures[1];
        assert!(has_text(demand, "dashed: demand d_k"));
        // Each panel draws one curve per commodity, a point per round its caption names.
        for (name, svg) in &figures {
            let rounds: Vec<usize> = texts(svg)
                .iter()
                .filter_map(|t| {
                    let (_, rest) = t.text.split_once(": ")?;
                    rest.strip_suffix(" rounds, converged")
                        .or_else(|| rest.strip_suffix(" rounds, round limit"))?
                        .parse()
                        .ok()
                })
                .collect();
            let curves: Vec<usize> = svg
                .split("<polyline")
                .skip(1)
                .map(|p| &p[..p.find("/>").unwrap()])
                // The curves, not the legend's black dashes.
                .filter(|tag| attr(tag, "stroke-width").as_deref() == Some("2"))
                .filter(|tag| attr(tag, "stroke").as_deref() != Some("#000000"))
                .map(|tag| attr(tag, "points").unwrap().split_whitespace().count())
                .collect();
            let want: Vec<usize> = rounds
                .iter()
                .flat_map(|&n| std::iter::repeat_n(n, market.users.len()))
                .collect();
            assert_eq!(rounds.len(), Variant::ALL.len(), "{name}");
            assert_eq!(curves, want, "{name}");
        }
    }

    /// A circle: its height, radius and fill colour.
    #[derive(Debug)]
    struct Dot {
        cy: f64,
        r: f64,
        fill: String,
    }

    fn dots(svg: &str) -> Vec<Dot> {
        svg.split("<circle")
            .skip(1)
            .map(|p| {
                let tag = &p[..p.find('>').unwrap()];
                let num = |name: &str| attr(tag, name).unwrap().parse::<f64>().unwrap();
                Dot {
                    cy: num("cy"),
                    r: num("r"),
                    fill: attr(tag, "fill").unwrap(),
                }
            })
            .collect()
    }

    pub(crate) fn hex(c: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
    }

    /// The bottom of the legend: the lowest edge of the texts `is_label` picks.
    pub(crate) fn legend_bottom(svg: &str, is_label: impl Fn(&str) -> bool) -> f64 {
        texts(svg)
            .iter()
            .filter(|t| is_label(&t.text))
            .map(|t| t.y.1)
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// Asserts that nothing of the plots reaches into the legend: every text below
    /// the title that is not a legend label, and every dot that is not a legend
    /// mark, starts below the legend's last line; `marks` dots are the legend's.
    pub(crate) fn assert_legend_clear(
        name: &str,
        svg: &str,
        is_label: impl Fn(&str) -> bool,
        marks: usize,
    ) {
        let all = texts(svg);
        let labels: Vec<&TextBox> = all.iter().filter(|t| is_label(&t.text)).collect();
        assert!(!labels.is_empty(), "{name}: no legend");
        let top = labels.iter().map(|t| t.y.0).fold(f64::INFINITY, f64::min);
        let bottom = legend_bottom(svg, &is_label);
        for t in all.iter().filter(|t| !is_label(&t.text) && t.y.1 > top) {
            assert!(
                t.y.0 >= bottom,
                "{name}: {t:?} overlaps the legend (to {bottom})"
            );
        }
        let (legend, plots): (Vec<Dot>, Vec<Dot>) =
            dots(svg).into_iter().partition(|d| d.cy <= bottom);
        assert_eq!(legend.len(), marks, "{name}: legend marks {legend:?}");
        for d in plots {
            assert!(d.cy - d.r >= bottom, "{name}: {d:?} overlaps the legend");
        }
    }

    #[test]
    fn legends_lie_above_the_plots_for_one_to_five_configurations() {
        let optimum = "LP optimum (feasible mode: P2 at the injected amounts; demand mode: P3)";
        let is_method = |t: &str| t == optimum || Variant::ALL.iter().any(|v| t == v.name());
        for n in 1..=5 {
            let s = spec(n, &Method::ALL);
            let r = records(&s);
            let marks = Variant::ALL.len() + 1;
            for (name, svg) in [
                welfare_figure(&s, &r).unwrap().unwrap(),
                paired_figure(&s, &r).unwrap().unwrap(),
            ] {
                assert_legend_clear(&format!("{name}, {n}"), &svg, is_method, marks);
            }
            let (name, svg) = percent_figure(&s, &r).unwrap().unwrap();
            let is_entry = |t: &str| is_method(t) || t == "100 %: the optimum";
            assert_legend_clear(&format!("{name}, {n}"), &svg, is_entry, Variant::ALL.len());
            let (name, svg) = histogram_figure(&s, &r).unwrap().unwrap();
            let is_bar = |t: &str| {
                Variant::ALL
                    .iter()
                    .any(|v| t.starts_with(&format!("{} (n = ", v.name())))
            };
            assert_legend_clear(&format!("{name}, {n}"), &svg, is_bar, 0);
        }
    }

    /// A spec of one configuration of three scenarios running fair, utility-aware and
    /// welfare-seeking in demand mode, and its rows: welfare by method and scenario,
    /// the optimum by scenario.
    fn hand_made() -> (Spec, Vec<Record>) {
        let text = "name = \"hand\"\nmethods = [\"fair/demand\", \"utility-aware/demand\", \"welfare-seeking/demand\", \"lp/welfare\"]\n\
            [[configuration]]\nname = \"hand\"\nseeds = 3\n[configuration.generator]\nusers = 4\nbrokers = 2\nproviders = 2\n";
        let s = Spec::parse(text, Path::new("hand.toml")).unwrap();
        let welfare = [[10.0, 20.0, 30.0], [16.0, 22.0, 33.0], [40.0, 38.0, 48.0]];
        let optimum = [40.0, 40.0, 50.0];
        let mut out = Vec::new();
        for (mi, w) in welfare.iter().enumerate() {
            for si in 0..3 {
                out.push(Record {
                    config: 0,
                    scenario: si,
                    method: mi,
                    ok: true,
                    measures: Measures {
                        welfare: Some(w[si]),
                        optimum: Some(optimum[si]),
                        percent_of_optimum: Some(100.0 * w[si] / optimum[si]),
                        ..Measures::default()
                    },
                    notes: String::new(),
                    error: String::new(),
                    seconds: 0.0,
                });
            }
        }
        (s, out)
    }

    /// The values the dots of a one-panel figure stand for, per fill colour: each
    /// dot's pixel height mapped back through the y axis's tick labels (the two
    /// farthest apart), with the size of a pixel on that scale.
    pub(crate) fn plotted(svg: &str, below: f64) -> (Vec<(String, f64)>, f64) {
        let ticks: Vec<(f64, f64)> = texts(svg)
            .iter()
            .filter(|t| t.anchor == "end")
            .filter_map(|t| Some((t.text.parse::<f64>().ok()?, (t.y.0 + t.y.1) / 2.0)))
            .collect();
        let (a, b) = (ticks[0], ticks[ticks.len() - 1]);
        let per_pixel = (b.0 - a.0) / (b.1 - a.1);
        let values = dots(svg)
            .into_iter()
            .filter(|d| d.cy > below && d.fill != "none")
            .map(|d| (d.fill, a.0 + (d.cy - a.1) * per_pixel))
            .collect();
        (values, per_pixel.abs())
    }

    /// Asserts that the dots of `svg` below `below` are `expected`'s values, one per
    /// colour, each within a pixel and a half.
    fn assert_plotted(name: &str, svg: &str, below: f64, expected: &[(RGBColor, f64)]) {
        let (values, pixel) = plotted(svg, below);
        assert_eq!(values.len(), expected.len(), "{name}: {values:?}");
        for (c, want) in expected {
            let got: Vec<f64> = values
                .iter()
                .filter(|(f, _)| *f == hex(*c))
                .map(|&(_, v)| v)
                .collect();
            assert_eq!(got.len(), 1, "{name}: {c:?} in {values:?}");
            assert!(
                (got[0] - want).abs() <= 1.5 * pixel,
                "{name}: {c:?} at {} for {want} (a pixel is {pixel})",
                got[0]
            );
        }
    }

    #[test]
    fn fig6_plots_the_hand_computed_means_gains_and_percentages() {
        let (s, r) = hand_made();
        let colours = [
            variant_colour(Variant::Fair),
            variant_colour(Variant::UtilityAware),
            variant_colour(Variant::WelfareSeeking),
            colour(OPTIMUM),
        ];
        let below = |svg: &str| legend_bottom(svg, |t| t.starts_with("LP optimum") || t == "fair");
        let cases: [(_, &str, &[f64]); 3] = [
            // Means of (10, 20, 30), (16, 22, 33), (40, 38, 48); the optimum (40, 40, 50).
            (
                welfare_figure(&s, &r),
                "fig6_welfare.svg",
                &[20.0, 71.0 / 3.0, 42.0, 130.0 / 3.0],
            ),
            // Paired with fair: (0, 0, 0), (6, 2, 3), (30, 18, 18); the optimum (30, 20, 20).
            (
                paired_figure(&s, &r),
                "fig6_welfare_paired.svg",
                &[0.0, 11.0 / 3.0, 22.0, 70.0 / 3.0],
            ),
            // Percentages: (25, 50, 60), (40, 55, 66), (100, 95, 96); the optimum is 100.
            (
                percent_figure(&s, &r),
                "fig6_welfare_percent.svg",
                &[45.0, 161.0 / 3.0, 97.0],
            ),
        ];
        for (figure, file, want) in cases {
            let (name, svg) = figure.unwrap().unwrap();
            assert_eq!(name, file);
            let expected: Vec<(RGBColor, f64)> = colours.into_iter().zip(want.to_vec()).collect();
            assert_plotted(&name, &svg, below(&svg), &expected);
        }
    }

    #[test]
    fn the_percent_figure_cuts_its_axis_at_minus_100_and_writes_the_mean_below_it() {
        let (s, mut r) = hand_made();
        // Fair at −500, −700 and −900 % (optima near 0): mean −700, off the scale.
        for rec in r.iter_mut().filter(|rec| rec.method == 0) {
            rec.measures.percent_of_optimum = Some(-500.0 - 200.0 * rec.scenario as f64);
        }
        let (name, svg) = percent_figure(&s, &r).unwrap().unwrap();
        let all = texts(&svg);
        let words = |svg: &str| {
            let t: Vec<String> = texts(svg).into_iter().map(|t| t.text).collect();
            t.join(" ")
        };
        assert!(
            all.iter().any(|t| t.text == "-700 %"),
            "{name}: no written mean"
        );
        assert!(words(&svg).contains("the axis stops at −100 %"));
        let lowest_tick = all
            .iter()
            .filter(|t| t.anchor == "end")
            .filter_map(|t| t.text.parse::<f64>().ok())
            .fold(f64::INFINITY, f64::min);
        assert!(lowest_tick >= -100.0, "{name}: a tick at {lowest_tick}");
        // The other two still sit at their hand-computed means ((40, 55, 66) → 161/3;
        // (100, 95, 96) → 97), and fair has no dot on the scale.
        let below = legend_bottom(&svg, |t| t == "fair");
        assert_plotted(
            &name,
            &svg,
            below,
            &[
                (variant_colour(Variant::UtilityAware), 161.0 / 3.0),
                (variant_colour(Variant::WelfareSeeking), 97.0),
            ],
        );
        // Unchanged where nothing is off the scale.
        let (_, plain) = percent_figure(&s, &hand_made().1).unwrap().unwrap();
        assert!(!words(&plain).contains("the axis stops"));
    }

    #[test]
    fn the_paired_figure_needs_fair_and_shows_every_other_variant() {
        let s = spec(3, &Method::ALL);
        let r = records(&s);
        let (_, svg) = paired_figure(&s, &r).unwrap().unwrap();
        // A dot per (mode, configuration) and the legend's, for each variant and the optimum.
        for c in Variant::ALL
            .map(variant_colour)
            .into_iter()
            .chain([colour(OPTIMUM)])
        {
            assert_eq!(circles(&svg, c), 2 * 3 + 1, "{c:?}");
        }
        let only = [Method::Engine {
            variant: Variant::WelfareSeeking,
            mode: InjectionMode::Demand,
        }];
        let s = spec(2, &only);
        assert!(paired_figure(&s, &records(&s)).unwrap().is_none());
    }
}
