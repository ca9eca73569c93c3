//! The flows CSV `commodity,from,to,flow` (design §4, §8): a multi-commodity flow on
//! G′ written over the market's own links, readable back exactly.
//!
//! ```text
//! commodity,from,to,flow
//! u1,u1,b1,8
//! u1,b1,p1,6
//! u1,p1,sink,6
//! ```
//!
//! * The first line is the header row `commodity,from,to,flow`, nothing else
//!   (provenance lives in the files written next to it, never in the CSV body).
//! * One row per commodity and market link (u, v) that carries flow of it. A finite
//!   link u → n_uv → v is one row (the flow of its first G′ edge u → n_uv); reading
//!   puts the amount on both of its G′ edges.
//! * One row per commodity k and provider p delivering to k's collection point t_k,
//!   with `to` = `sink` (an id no participant may use).
//! * Rows with flow 0 are omitted. Order: commodity (market user order), then link
//!   (market link order), then provider → sink rows (market provider order).
//! * Numbers are Rust's shortest round-trip form of f64 (`{}`), so a written flow
//!   reads back bit for bit. Fields are quoted only when an id needs it.

use std::collections::HashMap;
use std::fmt::Write;

use petgraph::graph::{EdgeIndex, NodeIndex};
use thiserror::Error;

use crate::expanded::{ExpandedGraph, NodeKind};
use crate::flow::Flow;
use crate::market::Market;

/// The header row every flows CSV starts with.
pub const HEADER: &str = "commodity,from,to,flow";

/// The `to` field of a provider → collection point row.
pub const SINK: &str = "sink";

/// Writes a multi-commodity flow x^k_e on G′ over the market's own links, as a flows
/// CSV: the header row, then every nonzero (commodity, link) and (commodity, provider
/// → sink) amount in deterministic order (module docs). Ids come from the market;
/// should `g` not match it, G′'s node names (the same ids) are used.
///
/// # Arguments
/// * `market`: the market `g` was expanded from (for the ids and the link order).
/// * `g`: its expanded graph G′.
/// * `flow`: the flow on `g`.
///
/// # Returns
/// The CSV text, which [`read_flows`] reads back to the same flow bit for bit.
///
/// # Complexity
/// O(|P| + K·P_prov) time for |P| usable pairs, K commodities and P_prov providers,
/// and O(size of the output) space.
///
/// # Example
/// ```
/// use brokerflow_graphs::formats::flows_csv::{read_flows, write_flows};
/// use brokerflow_graphs::{examples, ExpandedGraph, Flow};
///
/// let m = examples::tiny();
/// let g = ExpandedGraph::new(&m);
/// assert_eq!(write_flows(&m, &g, &Flow::zero(&g)), "commodity,from,to,flow\n");
/// // u1's 5 jobs on its only route u1 → b1 → p1 (graphs/markets/tiny.md §3, R1).
/// let text = "commodity,from,to,flow\nu1,u1,b1,5\nu1,b1,p1,5\nu1,p1,sink,5\n";
/// let (flow, _) = read_flows(&m, &g, text, "r1.csv")?;
/// assert_eq!(write_flows(&m, &g, &flow), text);
/// # Ok::<_, brokerflow_graphs::formats::flows_csv::FlowsError>(())
/// ```
///
/// Paper: [MCF-Grid] §4.1.5 (the flow's edges; the format is brokerflow's, design §4).
pub fn write_flows(market: &Market, g: &ExpandedGraph, flow: &Flow) -> String {
    let mut s = String::new();
    s.push_str(HEADER);
    s.push('\n');
    let name = |n: NodeIndex| g.graph.node_weight(n).map_or("?", |n| n.name.as_str());
    for (k, c) in g.commodities.iter().enumerate() {
        let Some(x) = flow.x.get(k) else { continue };
        let user = market.users.get(k).map_or(c.id.as_str(), |u| u.id.as_str());
        // Usable edges are sorted by index, and G′ creates link edges in link order
        // before all provider → t_k edges (by provider): the rows come out in order.
        for (&e, &v) in c.usable.iter().zip(x) {
            if v == 0.0 {
                continue;
            }
            let Some((tail, head)) = g.graph.edge_endpoints(e) else {
                continue;
            };
            let (from, to) = match g.graph[e].link {
                Some(i) => {
                    let Some(&(first, second)) = g.link_edges.get(i) else {
                        continue;
                    };
                    if first != e {
                        // The second edge n_uv → v of a finite link: the row is the first's.
                        continue;
                    }
                    match market.links.get(i) {
                        Some(l) => (l.from.as_str(), l.to.as_str()),
                        None => {
                            let end = second
                                .and_then(|s| g.graph.edge_endpoints(s))
                                .map_or(head, |(_, h)| h);
                            (name(tail), name(end))
                        }
                    }
                }
                None => (name(tail), SINK),
            };
            let _ = writeln!(s, "{},{},{},{}", quote(user), quote(from), quote(to), v);
        }
    }
    s
}

/// A field as CSV: quoted (with doubled quotes) only when it contains a comma, a
/// quote or a line break.
fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Why a row names something commodity k cannot carry flow on. Not an error: the row
/// is read, its amount is not placed in the [`Flow`], and evaluation reports the
/// input as infeasible (design §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IssueKind {
    /// The provider is not eligible for the user (no p → t_k edge in G′).
    #[error("the provider is not eligible for this user")]
    IneligibleProvider,
    /// The link or provider → sink edge exists but lies on no s_k → t_k path through
    /// nodes of positive capacity (not in the commodity's usable set).
    #[error("it lies on no path from the user to its collection point through nodes of positive capacity")]
    Unusable,
}

/// A row of positive flow on a real link or provider → sink pair that the commodity
/// cannot use (design §4): reported, never silently dropped.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{origin}: line {line}: commodity {commodity} cannot use {from}->{to} (flow {flow} not placed): {kind}")]
pub struct FlowIssue {
    /// The input's name.
    pub origin: String,
    /// The row's line number (1-based; the header is line 1).
    pub line: u64,
    /// The commodity's (user's) id.
    pub commodity: String,
    /// The row's `from`.
    pub from: String,
    /// The row's `to` (`sink` for provider → collection point).
    pub to: String,
    /// The amount the row gives.
    pub flow: f64,
    /// Why the commodity cannot use it.
    pub kind: IssueKind,
}

/// What is wrong with a row's `flow` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FlowProblem {
    /// Not a number.
    #[error("not a number")]
    NotANumber,
    /// NaN or infinite.
    #[error("not finite")]
    NotFinite,
    /// Below zero.
    #[error("negative")]
    Negative,
}

/// Why a flows CSV was refused: names the input, the line and the problem.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FlowsError {
    /// The CSV itself could not be parsed (e.g. invalid UTF-8, unterminated quote).
    #[error("{origin}: line {line}: malformed CSV: {message}")]
    Csv {
        /// The input's name.
        origin: String,
        /// The line where parsing failed (0 when unknown).
        line: u64,
        /// The CSV parser's description.
        message: String,
    },
    /// The input is empty: not even the header row.
    #[error("{origin}: line 1: empty input, expected the header row '{HEADER}'")]
    Empty {
        /// The input's name.
        origin: String,
    },
    /// The first row is not `commodity,from,to,flow`.
    #[error("{origin}: line {line}: header is '{found}', expected '{HEADER}'")]
    WrongHeader {
        /// The input's name.
        origin: String,
        /// The header's line.
        line: u64,
        /// The header found, fields joined by commas.
        found: String,
    },
    /// A row without exactly four fields.
    #[error("{origin}: line {line}: {found} fields, expected 4 (commodity,from,to,flow)")]
    FieldCount {
        /// The input's name.
        origin: String,
        /// The row's line.
        line: u64,
        /// How many fields it has.
        found: usize,
    },
    /// The commodity is no user of the market.
    #[error("{origin}: line {line}: unknown commodity '{id}' (not a user of the market)")]
    UnknownCommodity {
        /// The input's name.
        origin: String,
        /// The row's line.
        line: u64,
        /// The id given.
        id: String,
    },
    /// `from`→`to` is neither a link of the market nor provider→`sink`.
    #[error("{origin}: line {line}: unknown link {from}->{to} (neither a link of the market nor provider->sink)")]
    UnknownLink {
        /// The input's name.
        origin: String,
        /// The row's line.
        line: u64,
        /// The row's `from`.
        from: String,
        /// The row's `to`.
        to: String,
    },
    /// The `flow` field is not a finite non-negative number.
    #[error("{origin}: line {line}: flow '{value}' is {problem}")]
    InvalidFlow {
        /// The input's name.
        origin: String,
        /// The row's line.
        line: u64,
        /// The field as written.
        value: String,
        /// What is wrong with it.
        problem: FlowProblem,
    },
    /// A second row for the same commodity and link (or provider → sink).
    #[error("{origin}: line {line}: duplicate row for commodity {commodity} on {from}->{to} (first on line {first_line})")]
    Duplicate {
        /// The input's name.
        origin: String,
        /// The repeated row's line.
        line: u64,
        /// The first row's line.
        first_line: u64,
        /// The commodity's id.
        commodity: String,
        /// The row's `from`.
        from: String,
        /// The row's `to`.
        to: String,
    },
    /// G′ was not expanded from this market (their users or links differ).
    #[error("{origin}: the expanded graph does not belong to the market: {detail}")]
    Mismatch {
        /// The input's name.
        origin: String,
        /// What differs.
        detail: String,
    },
}

impl FlowsError {
    /// The line the error is on, when it is on one.
    pub fn line(&self) -> Option<u64> {
        match self {
            FlowsError::Csv { line, .. }
            | FlowsError::WrongHeader { line, .. }
            | FlowsError::FieldCount { line, .. }
            | FlowsError::UnknownCommodity { line, .. }
            | FlowsError::UnknownLink { line, .. }
            | FlowsError::InvalidFlow { line, .. }
            | FlowsError::Duplicate { line, .. } => Some(*line),
            FlowsError::Empty { .. } => Some(1),
            FlowsError::Mismatch { .. } => None,
        }
    }
}

/// What a row's `from`,`to` names.
#[derive(Clone, Copy)]
enum Target {
    /// Market link i.
    Link(usize),
    /// Provider node → sink.
    Delivery(NodeIndex),
}

/// Reads a multi-commodity flow on G′ from a flows CSV written over the market's
/// links (the format of the module docs). A finite link's amount goes on both of its
/// G′ edges (u → n_uv → v); anything not listed is 0.
///
/// # Arguments
/// * `market`: the market the rows name.
/// * `g`: its expanded graph G′.
/// * `text`: the CSV.
/// * `origin`: the input's name, quoted in errors.
///
/// # Returns
/// The flow and the rows naming real links or provider → sink pairs the commodity
/// cannot use ([`FlowIssue`]; their amounts are not in the flow).
///
/// # Errors
/// [`FlowsError`] for a missing header, an unknown commodity or link, an amount that
/// is not a finite non-negative number, a repeated row, or a `g` that does not match
/// `market`; each names the line.
///
/// # Complexity
/// O(R + N + L + K) expected time for R rows, N participants, L links and K users
/// (hash maps of the ids and links).
///
/// # Example
/// ```
/// use brokerflow_graphs::formats::flows_csv::read_flows;
/// use brokerflow_graphs::{examples, ExpandedGraph};
///
/// let m = examples::tiny();
/// let g = ExpandedGraph::new(&m);
/// // P2's routing of (5, 10, 5), worked out by hand in graphs/markets/tiny.md §5.
/// let p2 = "commodity,from,to,flow\nu1,u1,b1,5\nu1,b1,p1,5\nu1,p1,sink,5\nu2,u2,b1,10\n\
///           u2,b1,p1,5\nu2,b1,b2,5\nu2,b2,p2,5\nu2,p1,sink,5\nu2,p2,sink,5\n\
///           u3,u3,b2,5\nu3,b2,p2,5\nu3,p2,sink,5\n";
/// let (flow, issues) = read_flows(&m, &g, p2, "p2.csv")?;
/// assert!(issues.is_empty());
/// assert_eq!([0, 1, 2].map(|k| flow.served(&g, k)), [5.0, 10.0, 5.0]);
/// assert_eq!(flow.welfare(&g), 130.0); // 190 of value − 60 of cost
/// assert!(read_flows(&m, &g, "commodity,from,to,flow\nu9,u1,b1,1\n", "bad.csv").is_err());
/// # Ok::<_, brokerflow_graphs::formats::flows_csv::FlowsError>(())
/// ```
///
/// Paper: [MCF-Grid] §4.1.5 (the flow's edges; the format is brokerflow's, design §4).
pub fn read_flows(
    market: &Market,
    g: &ExpandedGraph,
    text: &str,
    origin: &str,
) -> Result<(Flow, Vec<FlowIssue>), FlowsError> {
    let mismatch = |detail: String| FlowsError::Mismatch {
        origin: origin.to_string(),
        detail,
    };
    if g.commodities.len() != market.users.len() || g.link_edges.len() != market.links.len() {
        return Err(mismatch(format!(
            "the market has {} users and {} links, G′ {} commodities and {} links",
            market.users.len(),
            market.links.len(),
            g.commodities.len(),
            g.link_edges.len()
        )));
    }
    let users: HashMap<&str, usize> = market
        .users
        .iter()
        .enumerate()
        .map(|(k, u)| (u.id.as_str(), k))
        .collect();
    let links: HashMap<(&str, &str), usize> = market
        .links
        .iter()
        .enumerate()
        .map(|(i, l)| ((l.from.as_str(), l.to.as_str()), i))
        .collect();

    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut flow = Flow::zero(g);
    let mut issues = Vec::new();
    let mut seen: HashMap<(usize, String, String), u64> = HashMap::new();
    let mut record = csv::StringRecord::new();
    let mut header_seen = false;
    let mut lines = LineCounter::new(text);
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(FlowsError::Csv {
                    origin: origin.to_string(),
                    line: e
                        .position()
                        .map_or(0, |p| lines.line_of_record_at(p.byte())),
                    message: e.to_string(),
                })
            }
        }
        let line = record
            .position()
            .map_or(0, |p| lines.line_of_record_at(p.byte()));
        if !header_seen {
            header_seen = true;
            let fields: Vec<&str> = record.iter().collect();
            if fields != ["commodity", "from", "to", "flow"] {
                return Err(FlowsError::WrongHeader {
                    origin: origin.to_string(),
                    line,
                    found: fields.join(","),
                });
            }
            continue;
        }
        if record.len() != 4 {
            return Err(FlowsError::FieldCount {
                origin: origin.to_string(),
                line,
                found: record.len(),
            });
        }
        let (id, from, to, value) = (&record[0], &record[1], &record[2], &record[3]);
        let Some(&k) = users.get(id) else {
            return Err(FlowsError::UnknownCommodity {
                origin: origin.to_string(),
                line,
                id: id.to_string(),
            });
        };
        let target = if to == SINK {
            g.node_named(from)
                .filter(|&n| matches!(g.graph[n].kind, NodeKind::Provider(_)))
                .map(Target::Delivery)
        } else {
            links.get(&(from, to)).map(|&i| Target::Link(i))
        };
        let Some(target) = target else {
            return Err(FlowsError::UnknownLink {
                origin: origin.to_string(),
                line,
                from: from.to_string(),
                to: to.to_string(),
            });
        };
        let amount = parse_flow(value).map_err(|problem| FlowsError::InvalidFlow {
            origin: origin.to_string(),
            line,
            value: value.to_string(),
            problem,
        })?;
        if let Some(&first_line) = seen.get(&(k, from.to_string(), to.to_string())) {
            return Err(FlowsError::Duplicate {
                origin: origin.to_string(),
                line,
                first_line,
                commodity: id.to_string(),
                from: from.to_string(),
                to: to.to_string(),
            });
        }
        seen.insert((k, from.to_string(), to.to_string()), line);

        // The G′ edges the amount goes on.
        let c = &g.commodities[k];
        let edges: Result<Vec<EdgeIndex>, IssueKind> = match target {
            Target::Link(i) => {
                let (first, second) = g.link_edges[i];
                Ok(std::iter::once(first).chain(second).collect())
            }
            Target::Delivery(p) => g
                .graph
                .find_edge(p, c.sink)
                .map(|e| vec![e])
                .ok_or(IssueKind::IneligibleProvider),
        };
        let slots: Result<Vec<usize>, IssueKind> = edges.and_then(|edges| {
            edges
                .iter()
                .map(|e| c.usable.binary_search(e).map_err(|_| IssueKind::Unusable))
                .collect()
        });
        match slots {
            Ok(slots) => {
                for i in slots {
                    flow.x[k][i] = amount;
                }
            }
            Err(kind) => {
                if amount > 0.0 {
                    issues.push(FlowIssue {
                        origin: origin.to_string(),
                        line,
                        commodity: id.to_string(),
                        from: from.to_string(),
                        to: to.to_string(),
                        flow: amount,
                        kind,
                    });
                }
            }
        }
    }
    if !header_seen {
        return Err(FlowsError::Empty {
            origin: origin.to_string(),
        });
    }
    Ok((flow, issues))
}

/// Line numbers of records from their byte offsets. The csv crate's own
/// `Position::line` miscounts around blank lines (which it skips), and its byte
/// offset points just after the previous record; so the offset is moved past line
/// breaks to the record's first character and the breaks before it are counted,
/// incrementally (records come in order), so the total cost is linear.
struct LineCounter<'t> {
    bytes: &'t [u8],
    pos: usize,
    line: u64,
}

impl<'t> LineCounter<'t> {
    fn new(text: &'t str) -> LineCounter<'t> {
        LineCounter {
            bytes: text.as_bytes(),
            pos: 0,
            line: 1,
        }
    }

    /// The 1-based line of the record whose parse started at byte `start`.
    fn line_of_record_at(&mut self, start: u64) -> u64 {
        let mut start = usize::try_from(start)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while start < self.bytes.len() && matches!(self.bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        if start < self.pos {
            // Out of order (cannot happen for records read in turn): count afresh.
            self.pos = 0;
            self.line = 1;
        }
        for i in self.pos..start {
            // "\r\n", "\n" and a lone "\r" each end one line.
            let b = self.bytes[i];
            if b == b'\n' || (b == b'\r' && self.bytes.get(i + 1) != Some(&b'\n')) {
                self.line += 1;
            }
        }
        self.pos = start;
        self.line
    }
}

/// A finite, non-negative amount (surrounding spaces allowed; −0 reads as 0).
fn parse_flow(value: &str) -> Result<f64, FlowProblem> {
    let v: f64 = value.trim().parse().map_err(|_| FlowProblem::NotANumber)?;
    if !v.is_finite() {
        Err(FlowProblem::NotFinite)
    } else if v < 0.0 {
        Err(FlowProblem::Negative)
    } else {
        Ok(v + 0.0)
    }
}
