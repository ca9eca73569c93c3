//! The self-contained HTML report of a routing: one file — inline SVG and inline
//! style only, no script, and a content security policy that forbids any fetch —
//! with the market drawn in layers (users | brokers | providers) and the flows of
//! each routing, the convergence curves of engine runs (window welfare and jobs
//! absorbed per user by round, as [MCF-Grid] Figs. 4–5 draw them), the comparison
//! table and the prices.
//!
//! The inputs are library values — the market, its G′, an [`EngineRun`], the rows of
//! [`compare_market`](brokerflow_solvers::compare::compare_market), LP solutions — and
//! the output is text; writing it anywhere is the caller's business. The same routings
//! in Graphviz are [`run_dot`], [`compare_dot`] and [`lp_dot`] (built on
//! [`flows_to_dot`](brokerflow_graphs::formats::dot::flows_to_dot)).

use brokerflow_graphs::text::fixed;
use std::fmt::Write;

use brokerflow_graphs::{formats::dot, ExpandedGraph, Flow, Market, Usage};
use brokerflow_solvers::causes::Causes;
use brokerflow_solvers::compare::{Method, MethodRow};
use brokerflow_solvers::engine::{Engine, EngineRun, Observe, Stop, TraceRow, Variant};
use brokerflow_solvers::lp::{LpSolution, Objective, CHECK_TOLERANCE};

/// Above this many participants the routing is not drawn (the report says so and
/// points at `--flows`): a picture that large is unreadable.
pub const MAX_DRAWN_PARTICIPANTS: usize = 300;

/// At most this many users get a served-by-round curve (the report says which).
pub const MAX_CURVES: usize = 12;

/// At most this many points per curve: longer runs are averaged over buckets of
/// consecutive rounds (the report says how many).
const MAX_POINTS: usize = 600;

/// The colours of the report's and the experiment figures' series, as RGB: a
/// colour-blind-safe palette (Okabe–Ito), then Tableau's for more series. Series `i`
/// takes entry `i % 12`, so the same user has the same colour in every picture.
pub const PALETTE: [(u8, u8, u8); 12] = [
    (0, 114, 178),
    (213, 94, 0),
    (0, 158, 115),
    (204, 121, 167),
    (230, 159, 0),
    (86, 180, 233),
    (0, 0, 0),
    (140, 86, 75),
    (127, 127, 127),
    (188, 189, 34),
    (148, 103, 189),
    (23, 190, 207),
];

/// A report being built, section by section; [`Report::to_html`] is the document.
#[derive(Debug, Clone)]
pub struct Report {
    title: String,
    body: String,
    figures: usize,
}

/// Text escaped for HTML (and SVG) content and attribute values.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A number for a report cell: 4 decimals, never "-0.0000"; "-" when absent.
pub fn num(x: Option<f64>) -> String {
    x.map_or("-".to_string(), |x| fixed(x, 4))
}

fn hex(i: usize) -> String {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

impl Report {
    /// An empty report with a title and the provenance of what it shows (design §8),
    /// printed in a folded block at the top.
    ///
    /// # Example
    /// ```
    /// use brokerflow_experiments::report::Report;
    /// let mut r = Report::new("brokerflow run: market 'tiny'", &serde_json::json!({"brokerflow": "0.1.0"}));
    /// r.note("W = 141");
    /// assert!(r.to_html().contains("<p class=\"note\">W = 141</p>"));
    /// ```
    pub fn new(title: &str, provenance: &serde_json::Value) -> Report {
        let mut body = String::new();
        let _ = writeln!(body, "<h1>{}</h1>", esc(title));
        let _ = writeln!(
            body,
            "<details><summary>provenance</summary><pre id=\"provenance\">{}</pre></details>",
            esc(&serde_json::to_string_pretty(provenance).unwrap_or_default())
        );
        Report {
            title: title.to_string(),
            body,
            figures: 0,
        }
    }

    /// A paragraph of plain text.
    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p class=\"note\">{}</p>", esc(text));
    }

    /// A table with a heading, an id (for readers and tests), column headers and rows
    /// of cells (plain text).
    pub fn table(&mut self, heading: &str, id: &str, headers: &[&str], rows: &[Vec<String>]) {
        let b = &mut self.body;
        let _ = writeln!(
            b,
            "<h2>{}</h2>\n<table id=\"{}\">\n<tr>",
            esc(heading),
            esc(id)
        );
        for h in headers {
            let _ = write!(b, "<th>{}</th>", esc(h));
        }
        let _ = writeln!(b, "</tr>");
        for row in rows {
            let _ = write!(b, "<tr>");
            for cell in row {
                let _ = write!(b, "<td>{}</td>", esc(cell));
            }
            let _ = writeln!(b, "</tr>");
        }
        let _ = writeln!(b, "</table>");
    }

    /// The table (heading, id) of what every user k is served (f_k) of its demand d_k.
    pub fn served(&mut self, (heading, id): (&str, &str), g: &ExpandedGraph, served: &[f64]) {
        let rows: Vec<Vec<String>> = g
            .commodities
            .iter()
            .zip(served)
            .map(|(c, f)| vec![c.id.clone(), num(Some(*f)), num(Some(c.demand))])
            .collect();
        self.table(heading, id, &["user", "served", "demand"], &rows);
    }

    /// The routing `usage` on `market`, drawn in layers, under `heading`.
    ///
    /// Users form the first column, brokers the next ones by the longest chain of
    /// broker→broker links leading to them, providers the last; every link is drawn
    /// with a width by its flow, dashed grey without flow, red when saturated.
    ///
    /// # Arguments
    /// * `heading`: the section's heading.
    /// * `market`: the market whose links `usage` describes, in the same order.
    /// * `usage`: the routing seen link by link ([`Usage::of`]).
    ///
    /// # Complexity
    /// **O(|participants| + |links| · k)** for k users sharing a link. Markets of more
    /// than [`MAX_DRAWN_PARTICIPANTS`] are not drawn (a note says so).
    pub fn routing(&mut self, heading: &str, market: &Market, usage: &Usage) {
        let _ = writeln!(self.body, "<h2>{}</h2>", esc(heading));
        let participants = market.users.len() + market.brokers.len() + market.providers.len();
        if participants > MAX_DRAWN_PARTICIPANTS {
            self.note(&format!(
                "The market has {participants} participants, more than the {MAX_DRAWN_PARTICIPANTS} this report draws; --flows writes every link's flow."
            ));
            return;
        }
        self.figures += 1;
        self.body
            .push_str(&routing_svg(market, usage, self.figures));
        self.note(&format!(
            "Flows in jobs per time unit; line width by flow; dashed grey: no flow; red: saturated (uses its capacity within a relative {:e}). Users show what they are served of their demand, brokers and providers what they use of their capacity.",
            usage.tolerance
        ));
    }

    /// The convergence curves of one engine run, under `heading`.
    ///
    /// Two charts: the window welfare at the sampled rounds, and the jobs absorbed per
    /// round of each user (the trace's `absorbed`, [MCF-Grid] Figs. 4–5) with its
    /// demand d_k as a dashed line. The legend is HTML below each chart, so it wraps
    /// and is never cut.
    ///
    /// # Arguments
    /// * `heading`: the section's heading.
    /// * `market`: the market run; its users name the curves.
    /// * `welfare`: (round, window welfare) in round order ([`WelfareCurve`]).
    /// * `trace`: the run's per-round trace rows.
    ///
    /// # Complexity
    /// **O(|trace|)**; at most [`MAX_CURVES`] users are drawn, each with at most 600
    /// points (longer runs are averaged over buckets of rounds; a note says so).
    pub fn curves(
        &mut self,
        heading: &str,
        market: &Market,
        welfare: &[(usize, f64)],
        trace: &[TraceRow],
    ) {
        let _ = writeln!(self.body, "<h2>{}</h2>", esc(heading));
        if welfare.is_empty() {
            self.note("No window welfare was sampled (the run had no round to sample, or no positive optimum to measure it against).");
        } else {
            let series = vec![Series {
                name: "window welfare".to_string(),
                colour: hex(0),
                dashed: false,
                points: welfare.iter().map(|&(r, w)| (r as f64, w)).collect(),
            }];
            self.chart(&series, "round", "welfare W of the window");
        }
        let users = market.users.len();
        if trace.is_empty() || users == 0 {
            return;
        }
        let rounds = trace.iter().map(|t| t.round).max().unwrap_or(0);
        let bucket = rounds.div_ceil(MAX_POINTS).max(1);
        let shown = users.min(MAX_CURVES);
        let mut series = Vec::new();
        for (k, user) in market.users.iter().enumerate().take(shown) {
            let mut points = Vec::new();
            let (mut sum, mut n, mut first) = (0.0, 0usize, 0usize);
            for t in trace.iter().filter(|t| t.commodity == k) {
                if n == 0 {
                    first = t.round;
                }
                sum += t.absorbed;
                n += 1;
                if n == bucket {
                    points.push(((first + t.round) as f64 / 2.0, sum / n as f64));
                    (sum, n) = (0.0, 0);
                }
            }
            if n > 0 {
                points.push((first as f64, sum / n as f64));
            }
            series.push(Series {
                name: user.id.clone(),
                colour: hex(k),
                dashed: false,
                points,
            });
            series.push(Series {
                name: format!("{} demand", user.id),
                colour: hex(k),
                dashed: true,
                points: vec![(1.0, user.demand), (rounds as f64, user.demand)],
            });
        }
        self.chart(&series, "round", "jobs absorbed per round");
        let mut what = String::from(
            "Absorbed jobs per round at each user's collection point; dashed: its demand.",
        );
        if bucket > 1 {
            let _ = write!(what, " Each point averages {bucket} consecutive rounds.");
        }
        if shown < users {
            let _ = write!(what, " The first {shown} of {users} users are drawn.");
        }
        self.note(&what);
    }

    fn chart(&mut self, series: &[Series], x_label: &str, y_label: &str) {
        self.figures += 1;
        self.body.push_str(&chart_svg(series, x_label, y_label));
        // The legend is HTML below the plot, so it wraps and is never cut.
        let _ = write!(self.body, "<ul class=\"legend\">");
        for s in series.iter().filter(|s| !s.dashed) {
            let _ = write!(
                self.body,
                "<li><span style=\"background:{}\"></span>{}</li>",
                s.colour,
                esc(&s.name)
            );
        }
        let _ = writeln!(self.body, "</ul>");
    }

    /// The whole document: one HTML file with its style inline and a content security
    /// policy that allows nothing but that style.
    pub fn to_html(&self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
             <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n{}</body>\n</html>\n",
            esc(&self.title),
            self.body
        )
    }
}

const STYLE: &str = "body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font-family: sans-serif; }
.note { color: #555; max-width: 60em; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.4em 1.2em; }
.legend span { display: inline-block; width: 1.5em; height: 0.3em; margin-right: 0.4em; vertical-align: middle; }
";

/// One line of a chart.
struct Series {
    name: String,
    colour: String,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

/// About five round tick values covering [lo, hi].
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(t + 0.0);
        t += step;
    }
    out
}

fn tick_label(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0" } else { s }.to_string()
}

fn chart_svg(series: &[Series], x_label: &str, y_label: &str) -> String {
    let (w, h) = (760.0, 320.0);
    let (left, right, top, bottom) = (80.0, 20.0, 16.0, 48.0);
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, 0.0f64, f64::MIN);
    for &(x, y) in all {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 >= x1 {
        (x0, x1) = (x0.min(0.0), x0.max(0.0) + 1.0);
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    y1 += (y1 - y0) * 0.05;
    let px = |x: f64| left + (x - x0) / (x1 - x0) * (w - left - right);
    let py = |y: f64| top + (y1 - y) / (y1 - y0) * (h - top - bottom);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\">"
    );
    let _ = writeln!(
        s,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>",
        w - left - right,
        h - top - bottom
    );
    for t in ticks(x0, x1) {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            px(t),
            h - bottom + 14.0,
            tick_label(t)
        );
    }
    for t in ticks(y0, y1) {
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            w - right,
            left - 4.0,
            py(t) + 4.0,
            tick_label(t),
            y = py(t)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text>",
        (left + w - right) / 2.0,
        h - 8.0,
        esc(x_label)
    );
    let _ = writeln!(
        s,
        "<text transform=\"translate(14 {}) rotate(-90)\" font-size=\"12\" text-anchor=\"middle\">{}</text>",
        (top + h - bottom) / 2.0,
        esc(y_label)
    );
    for line in series {
        let pts: Vec<String> = line
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{} points=\"{}\"><title>{}</title></polyline>",
            line.colour,
            if line.dashed { 1.2 } else { 2.0 },
            if line.dashed { " stroke-dasharray=\"6 4\"" } else { "" },
            pts.join(" "),
            esc(&line.name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A participant's place in the drawing.
struct Placed {
    x: f64,
    y: f64,
}

const BOX_W: f64 = 130.0;
const BOX_H: f64 = 40.0;
const COLUMN: f64 = 300.0;
const ROW: f64 = 58.0;

/// The layered layout: users in the first column, brokers in columns by the longest
/// chain of broker→broker links that leads to them (after leaving out the links that
/// close a cycle, found by a depth-first search from the brokers users reach), and
/// providers in the last column; each column in the market's order.
fn layout(market: &Market) -> (std::collections::HashMap<&str, Placed>, f64, f64) {
    use std::collections::HashMap;
    let broker_index: HashMap<&str, usize> = market
        .brokers
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id.as_str(), i))
        .collect();
    let nb = market.brokers.len();
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); nb];
    let mut roots: Vec<usize> = Vec::new();
    for l in &market.links {
        match (
            broker_index.get(l.from.as_str()),
            broker_index.get(l.to.as_str()),
        ) {
            (Some(&a), Some(&b)) => next[a].push(b),
            (None, Some(&b)) => roots.push(b),
            _ => {}
        }
    }
    roots.extend(0..nb);
    // Iterative depth-first search: the reverse post-order is a topological order of
    // the links that do not close a cycle (those lead back to a broker on the stack).
    let (mut state, mut order) = (vec![0u8; nb], Vec::with_capacity(nb));
    let mut forward: Vec<Vec<usize>> = vec![Vec::new(); nb];
    for &root in &roots {
        if state[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        state[root] = 1;
        while let Some(&mut (b, ref mut i)) = stack.last_mut() {
            if let Some(&c) = next[b].get(*i) {
                *i += 1;
                match state[c] {
                    0 => {
                        forward[b].push(c);
                        state[c] = 1;
                        stack.push((c, 0));
                    }
                    2 => forward[b].push(c),
                    _ => {} // back to the stack: closes a cycle
                }
            } else {
                state[b] = 2;
                order.push(b);
                stack.pop();
            }
        }
    }
    let mut depth = vec![0usize; nb];
    for &b in order.iter().rev() {
        for &c in &forward[b] {
            depth[c] = depth[c].max(depth[b] + 1);
        }
    }
    let broker_columns = depth.iter().max().map_or(1, |d| d + 1);
    let mut columns: Vec<Vec<&str>> = vec![Vec::new(); broker_columns + 2];
    columns[0] = market.users.iter().map(|u| u.id.as_str()).collect();
    for (b, &d) in depth.iter().enumerate() {
        columns[1 + d].push(market.brokers[b].id.as_str());
    }
    columns[broker_columns + 1] = market.providers.iter().map(|p| p.id.as_str()).collect();
    let rows = columns.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let height = rows as f64 * ROW + 30.0;
    let mut placed = HashMap::new();
    for (c, ids) in columns.iter().enumerate() {
        // Shorter columns are centred against the tallest.
        let offset = (rows - ids.len()) as f64 * ROW / 2.0;
        for (r, id) in ids.iter().enumerate() {
            placed.insert(
                *id,
                Placed {
                    x: 20.0 + c as f64 * COLUMN,
                    y: 20.0 + offset + r as f64 * ROW,
                },
            );
        }
    }
    let width = 40.0 + (columns.len() - 1) as f64 * COLUMN + BOX_W;
    (placed, width, height)
}

fn jobs(x: f64) -> String {
    tick_label(x)
}

fn routing_svg(market: &Market, usage: &Usage, figure: usize) -> String {
    let (placed, w, h) = layout(market);
    let widest = usage.max_link_flow();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\">"
    );
    for (id, colour) in [("flow", "#1f5fa8"), ("full", "#c0392b"), ("idle", "#aaa")] {
        let _ = writeln!(
            s,
            "<defs><marker id=\"{id}{figure}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"10\" markerHeight=\"10\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{colour}\"/></marker></defs>"
        );
    }
    for (l, lu) in market.links.iter().zip(&usage.links) {
        let (Some(a), Some(b)) = (placed.get(l.from.as_str()), placed.get(l.to.as_str())) else {
            continue;
        };
        let (x1, y1) = (a.x + BOX_W, a.y + BOX_H / 2.0);
        let (x2, y2) = (b.x, b.y + BOX_H / 2.0);
        let (kind, colour) = if lu.flow <= 0.0 {
            ("idle", "#aaa")
        } else if lu.saturated {
            ("full", "#c0392b")
        } else {
            ("flow", "#1f5fa8")
        };
        let width = if lu.flow > 0.0 {
            1.0 + 6.0 * lu.flow / widest
        } else {
            1.0
        };
        let dash = if lu.flow <= 0.0 {
            " stroke-dasharray=\"5 4\""
        } else {
            ""
        };
        // A link within a column or backwards bends below the boxes.
        let path = if x2 > x1 {
            format!(
                "M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}",
                x1 + 60.0,
                x2 - 60.0
            )
        } else {
            let (x1, y1) = (a.x + BOX_W / 2.0, a.y + BOX_H);
            let (x2, y2) = (b.x + BOX_W / 2.0, b.y + BOX_H);
            format!(
                "M{x1:.1},{y1:.1} C{x1:.1},{:.1} {x2:.1},{:.1} {x2:.1},{y2:.1}",
                y1 + 40.0,
                y2 + 40.0
            )
        };
        let mut label = jobs(lu.flow);
        if let Some(bw) = lu.bandwidth {
            let _ = write!(label, " of {}", jobs(bw));
        }
        let detail: Vec<String> = lu
            .by_commodity
            .iter()
            .map(|&(k, x)| {
                format!(
                    "{} {}",
                    market.users.get(k).map_or("?", |u| u.id.as_str()),
                    jobs(x)
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "<path class=\"link {kind}\" d=\"{path}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width:.2}\"{dash} marker-end=\"url(#{kind}{figure})\"><title>{} → {}: {}{}</title></path>",
            esc(&l.from),
            esc(&l.to),
            esc(&label),
            if detail.is_empty() { String::new() } else { format!(" ({})", esc(&detail.join(", "))) }
        );
        let (mx, my) = if x2 > x1 {
            ((x1 + x2) / 2.0, (y1 + y2) / 2.0 - 4.0)
        } else {
            ((a.x + b.x + BOX_W) / 2.0, (a.y + b.y) / 2.0 + BOX_H + 34.0)
        };
        let _ = writeln!(
            s,
            "<text class=\"flow\" x=\"{mx:.1}\" y=\"{my:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\">{}</text>",
            if colour == "#aaa" { "#888" } else { colour },
            esc(&label)
        );
    }
    let mut node = |id: &str, line2: String, saturated: bool, shape: &str| {
        let Some(p) = placed.get(id) else { return };
        let stroke = if saturated {
            "stroke=\"#c0392b\" stroke-width=\"3\""
        } else {
            "stroke=\"#444\" stroke-width=\"1\""
        };
        let rx = if shape == "broker" { 18 } else { 3 };
        let _ = writeln!(
            s,
            "<g class=\"{shape}\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"{rx}\" fill=\"#fff\" {stroke}/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" font-weight=\"bold\" text-anchor=\"middle\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text></g>",
            p.x,
            p.y,
            p.x + BOX_W / 2.0,
            p.y + 16.0,
            esc(id),
            p.x + BOX_W / 2.0,
            p.y + 32.0,
            esc(&line2)
        );
    };
    for (k, u) in market.users.iter().enumerate() {
        let f = usage.served.get(k).copied().unwrap_or(0.0);
        node(
            &u.id,
            format!("served {} of {}", jobs(f), jobs(u.demand)),
            false,
            "user",
        );
    }
    let cap = |c: Option<f64>| c.map_or("∞".to_string(), jobs);
    for r in &usage.brokers {
        node(
            &r.id,
            format!("uses {} of {}", jobs(r.used), cap(r.capacity)),
            r.saturated,
            "broker",
        );
    }
    for r in &usage.providers {
        node(
            &r.id,
            format!("uses {} of {}", jobs(r.used), cap(r.capacity)),
            r.saturated,
            "provider",
        );
    }
    s.push_str("</svg>\n");
    s
}

/// What an engine run is called in its pictures: "`variant` variant, `mode` injection".
fn run_label(r: &EngineRun) -> String {
    format!(
        "{} variant, {} injection",
        r.options.variant.name(),
        r.options.injection.name()
    )
}

/// An engine run's window-averaged flow seen link by link, saturation within its ε.
fn run_usage(market: &Market, g: &ExpandedGraph, r: &EngineRun) -> Usage {
    Usage::of(market, g, &r.flow, r.options.epsilon)
}

/// The node prices of a run that has them (welfare-seeking), named by their G′ node.
fn node_prices<'g>(g: &'g ExpandedGraph, r: &EngineRun) -> Vec<(&'g str, f64)> {
    g.graph
        .node_indices()
        .filter_map(|n| {
            Some((
                g.node(n).name.as_str(),
                r.prices.get(n.index()).copied().flatten()?,
            ))
        })
        .collect()
}

/// An engine run's routing as Graphviz: its window-averaged flow on `market`,
/// saturation within the run's ε.
///
/// # Arguments
/// * `market`, `g`: the market run and its G′.
/// * `r`: the finished run.
///
/// # Returns
/// One `digraph` named by the run's variant and injection mode.
pub fn run_dot(market: &Market, g: &ExpandedGraph, r: &EngineRun) -> String {
    dot::flows_to_dot(market, &run_usage(market, g, r), &run_label(r))
}

/// The HTML report of one engine run.
///
/// Its totals (how it stopped, rounds, welfare W, served), the routing drawn in
/// layers, served per user, the convergence curves and, for a welfare-seeking run,
/// its node prices. Welfare and served are averages over the last window of rounds.
///
/// # Arguments
/// * `market`, `g`: the market run and its G′.
/// * `r`: the finished run.
/// * `welfare`: (round, window welfare) samples ([`WelfareCurve`]); may be empty.
/// * `trace`: the run's per-round trace rows; may be empty.
/// * `provenance`: what made the report (design §8), printed at its top.
///
/// # Returns
/// The whole HTML document.
pub fn run_html(
    market: &Market,
    g: &ExpandedGraph,
    r: &EngineRun,
    welfare: &[(usize, f64)],
    trace: &[TraceRow],
    provenance: &serde_json::Value,
) -> String {
    let usage = run_usage(market, g, r);
    let what = run_label(r);
    let mut report = Report::new(
        &format!("brokerflow run: market '{}'", market.name),
        provenance,
    );
    let stop = match r.stop {
        Stop::Converged => "converged",
        Stop::RoundLimit => "round limit reached",
        Stop::NothingToRoute => "nothing to route",
    };
    report.table(
        "Run",
        "methods",
        &["method", "stopped", "rounds", "welfare W", "served (total)"],
        &[vec![
            what.clone(),
            stop.to_string(),
            r.rounds.to_string(),
            num(Some(r.welfare(g))),
            num(Some(usage.served.iter().sum())),
        ]],
    );
    report.note("Welfare and served are averages over the last window of rounds, trimmed to the steady flow they carry (approximate).");
    report.routing(&format!("Routing: {what}"), market, &usage);
    report.served(("Served per user", "served"), g, &usage.served);
    report.curves("Convergence", market, welfare, trace);
    if r.options.variant == Variant::WelfareSeeking {
        let rows: Vec<Vec<String>> = node_prices(g, r)
            .into_iter()
            .map(|(n, p)| vec![n.to_string(), num(Some(p))])
            .collect();
        report.table(
            "Node prices (money per resource unit; window-averaged multipliers, approximate)",
            "prices",
            &["resource", "price"],
            &rows,
        );
    }
    report.to_html()
}

/// Every row's routing that has a flow, labelled by its method: LP rows saturated
/// within the LP check tolerance, engine rows within the runs' ε `epsilon`.
fn compare_usages(
    market: &Market,
    g: &ExpandedGraph,
    rows: &[MethodRow],
    epsilon: f64,
) -> Vec<(String, Usage)> {
    rows.iter()
        .filter_map(|r| {
            let tolerance = match r.method {
                Method::Lp(_) => CHECK_TOLERANCE,
                Method::Engine { .. } => epsilon,
            };
            Some((
                r.method.label(),
                Usage::of(market, g, r.flow.as_ref()?, tolerance),
            ))
        })
        .collect()
}

/// The routings of a comparison as Graphviz: one `digraph` per row with a flow, in
/// the rows' order.
///
/// # Arguments
/// * `market`, `g`: the market compared and its G′.
/// * `rows`: the rows of `compare_market`.
/// * `epsilon`: the engine runs' ε (their saturation tolerance).
pub fn compare_dot(market: &Market, g: &ExpandedGraph, rows: &[MethodRow], epsilon: f64) -> String {
    compare_usages(market, g, rows, epsilon)
        .iter()
        .map(|(label, u)| dot::flows_to_dot(market, u, label))
        .collect()
}

/// The HTML report of a comparison: the table of every method (welfare W, the
/// matching optimum W*, % of it, gap closed, served fraction, rounds, convergence,
/// notes), every row's routing, and the engine rows' convergence curves.
///
/// # Arguments
/// * `market`, `g`: the market compared and its G′.
/// * `rows`: the rows of `compare_market`, traced (`trace`) for the curves.
/// * `epsilon`: the engine runs' ε (their saturation tolerance).
/// * `provenance`: what made the report (design §8), printed at its top.
///
/// # Returns
/// The whole HTML document.
pub fn compare_html(
    market: &Market,
    g: &ExpandedGraph,
    rows: &[MethodRow],
    epsilon: f64,
    provenance: &serde_json::Value,
) -> String {
    let mut report = Report::new(
        &format!("brokerflow compare: market '{}'", market.name),
        provenance,
    );
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut notes = r.notes.clone();
            notes.extend(r.error.as_ref().map(|e| Causes(e).to_string()));
            vec![
                r.method.label(),
                num(r.welfare),
                num(r.optimum),
                r.percent_of_optimum
                    .map_or("-".to_string(), |p| fixed(p, 1)),
                num(r.gap_closed),
                num(r.served_fraction),
                r.rounds.map_or("-".to_string(), |x| x.to_string()),
                r.converged
                    .map_or("-", |c| if c { "yes" } else { "no" })
                    .to_string(),
                notes.join("; "),
            ]
        })
        .collect();
    report.table(
        "Comparison",
        "methods",
        &[
            "method",
            "welfare W",
            "optimum W*",
            "% of optimum",
            "gap closed",
            "served fraction",
            "rounds",
            "converged",
            "notes",
        ],
        &table,
    );
    report.note("Optimum: P2 at the injected amounts for feasible-mode rows, P3 for demand-mode rows (design §8). Engine rows are averages over the last window of rounds (approximate); LP rows are exact to the solver tolerance.");
    for (label, u) in &compare_usages(market, g, rows, epsilon) {
        report.routing(&format!("Routing: {label}"), market, u);
    }
    for r in rows
        .iter()
        .filter(|r| matches!(r.method, Method::Engine { .. }))
    {
        report.curves(
            &format!("Convergence: {}", r.method.label()),
            market,
            &r.welfare_by_round,
            &r.trace,
        );
    }
    report.to_html()
}

/// One LP baseline for the pictures: which, and its solution with the seconds it
/// took, or why it was not solved (a failed LP is a row of the table, not an error;
/// shown with its causes, [`Causes`]).
pub type LpPicture<'s> = (
    Objective,
    Result<(&'s LpSolution, f64), &'s (dyn std::error::Error + 'static)>,
);

/// The solved LPs of `lps` that have a flow.
fn solved<'a, 's>(
    lps: &'a [LpPicture<'s>],
) -> impl Iterator<Item = (Objective, &'s LpSolution, &'s Flow)> + 'a {
    lps.iter().filter_map(|(o, r)| {
        let (s, _) = r.as_ref().ok()?;
        Some((*o, *s, s.flow.as_ref()?))
    })
}

/// The LP baselines' routings as Graphviz: one `digraph` per solved LP, named by
/// `label`, saturation within the LP check tolerance.
///
/// # Arguments
/// * `market`, `g`: the market solved and its G′.
/// * `lps`: the LPs, solved or not ([`LpPicture`]).
/// * `label`: what an objective is called in the pictures.
pub fn lp_dot(
    market: &Market,
    g: &ExpandedGraph,
    lps: &[LpPicture<'_>],
    label: impl Fn(Objective) -> &'static str,
) -> String {
    solved(lps)
        .map(|(o, _, flow)| {
            dot::flows_to_dot(
                market,
                &Usage::of(market, g, flow, CHECK_TOLERANCE),
                label(o),
            )
        })
        .collect()
}

/// The HTML report of the LP baselines: the table of every LP asked for (status, δ*,
/// welfare W, served, seconds; a failed one with its error), and per solved LP its
/// routing, served per user and, for P3, its dual prices.
///
/// # Arguments
/// * `market`, `g`: the market solved and its G′.
/// * `lps`: the LPs, solved or not ([`LpPicture`]), in the order asked.
/// * `label`: what an objective is called in the report.
/// * `provenance`: what made the report (design §8), printed at its top.
///
/// # Returns
/// The whole HTML document.
pub fn lp_html(
    market: &Market,
    g: &ExpandedGraph,
    lps: &[LpPicture<'_>],
    label: impl Fn(Objective) -> &'static str,
    provenance: &serde_json::Value,
) -> String {
    let mut report = Report::new(
        &format!("brokerflow solve: market '{}'", market.name),
        provenance,
    );
    let rows: Vec<Vec<String>> = lps
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
                    label(*o).to_string(),
                    format!("{:?}", s.status).to_lowercase(),
                    num(s.delta),
                    num(welfare),
                    num(served),
                    format!("{seconds:.3}"),
                ]
            }
            Err(e) => vec![label(*o).to_string(), format!("not solved: {}", Causes(*e))],
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
    for (o, s, flow) in solved(lps) {
        let u = Usage::of(market, g, flow, CHECK_TOLERANCE);
        report.routing(&format!("Routing: {}", label(o)), market, &u);
        report.served(
            (
                &format!("Served per user: {}", label(o)),
                &format!("served-{}", o.name()),
            ),
            g,
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
    report.to_html()
}

/// An observer that samples the engine's window welfare (design §2) every window of
/// rounds and at the end, for the report's welfare curve. O(window × usable pairs)
/// per sample, so about one round's work per round.
#[derive(Debug, Default)]
pub struct WelfareCurve {
    /// (round, window welfare) in round order.
    pub points: Vec<(usize, f64)>,
}

impl Observe for WelfareCurve {
    fn observe_round(&mut self, engine: &Engine<'_>) {
        self.points.push((engine.rounds(), engine.window_welfare()));
    }

    fn observe_final(&mut self, engine: &Engine<'_>) {
        let round = engine.rounds();
        if round > 0 && self.points.last().is_none_or(|&(r, _)| r < round) {
            self.points.push((round, engine.window_welfare()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 10.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(0.0, 141.0), vec![0.0, 50.0, 100.0]);
        assert_eq!(ticks(-3.0, 3.0), vec![-2.0, 0.0, 2.0]);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
    }

    #[test]
    fn the_layout_puts_linked_brokers_in_later_columns() {
        // linked.json-like: u → b1 → b2 → p; b2 sits one column right of b1.
        let m = brokerflow_graphs::Market::from_json_str(
            r#"{"name":"chain","users":[{"id":"u","demand":1,"requirement":1,"valuation":1}],
                "brokers":[{"id":"b1"},{"id":"b2"}],"providers":[{"id":"p"}],
                "links":[{"from":"u","to":"b1"},{"from":"b1","to":"b2"},{"from":"b2","to":"p"}]}"#,
            "chain",
        )
        .unwrap();
        let (placed, _, _) = layout(&m);
        let x = |id: &str| placed[id].x;
        assert!(x("u") < x("b1") && x("b1") < x("b2") && x("b2") < x("p"));
    }
}
