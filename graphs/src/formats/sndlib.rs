//! SNDlib's native network format (\[SNDlib\]), read into a [`Market`]: real
//! telecommunication backbones (PoPs, links with capacities and costs, measured
//! demands) as linked-broker markets (design §2–§3).
//!
//! # The format
//! Text; `#` starts a comment to the end of the line; tokens are separated by blanks
//! and tabs, and `(` `)` are tokens of their own. An optional first line
//! `?SNDlib native format; type: network; version: 1.0`, then sections, each
//! `NAME (` on a line, one item per line, and `)` on a line of its own:
//! ```text
//! META ( <attribute> = <content> … )                                   optional, kept as text
//! NODES ( <node_id> ( <x> <y> ) … )
//! LINKS ( <link_id> ( <source> <target> ) <pre_installed_capacity>
//!         <pre_installed_capacity_cost> <routing_cost> <setup_cost>
//!         ( {<module_capacity> <module_cost>}* ) … )
//! DEMANDS ( <demand_id> ( <source> <target> ) <routing_unit> <demand_value>
//!           <max_path_length> … )                                      max_path_length: UNLIMITED or an integer
//! ADMISSIBLE_PATHS ( … )                                               optional, ignored
//! ```
//! Identifiers are `[a-zA-Z0-9][a-zA-Z0-9-_]*`, unique within their section. Numbers
//! are finite and non-negative.
//!
//! # The market it becomes (the linked-broker pattern of design §2)
//! - every node (PoP) becomes a broker with the node's id: unlimited capacity, cost 0
//!   (the links are what is scarce in a backbone);
//! - every link becomes two broker→broker links, one each way (SNDlib links carry
//!   traffic both ways), each with bandwidth B = the pre-installed capacity, or, if
//!   that is 0, the largest module's capacity (as if one module were installed), and
//!   cost per unit c = the routing cost plus the cheapest module cost per capacity
//!   unit (the capacity's own price; 0 without modules). A second link between the
//!   same two nodes goes through a broker of its own, `link-<link_id>` (unlimited,
//!   cost 0), as the market allows one link per ordered pair;
//! - every demand becomes a user with the demand's id, at the broker of its source
//!   (unlimited, free link), with demand d_k = routing_unit × demand_value,
//!   requirement 1, and as its only eligible provider the data centre `dc-<target>`;
//! - every demand target becomes a provider `dc-<target>` (unlimited, cost 0),
//!   reached from the target's broker by an unlimited, free link;
//! - **valuations**, which SNDlib does not have: v_k = [`VALUE_MARKUP`] × C_k per
//!   unit, C_k the cost of the demand's cheapest path (Dijkstra over the link costs
//!   above), so serving a demand on its cheapest path earns its cost again; where
//!   C_k = 0 (a free path), v_k = 1; where the target is unreachable, v_k = 0 (the
//!   user is stranded).
//!
//! Not modelled: node and link options of SNDlib 2.0, setup and pre-installed
//! capacity costs (fixed costs; a market's costs are per unit), hop limits
//! (max_path_length) and admissible paths (every path is admissible). `meta`
//! records `imported_from`, `format` (`"sndlib"`), `input_sha256`, `version`, the
//! file's own META attributes (`sndlib_meta`), how many demands were kept of how
//! many, and the valuation rule.
//!
//! ```
//! use brokerflow_graphs::formats::sndlib::{parse_sndlib, SndlibOptions};
//! let text = "NODES (\n a ( 0 0 )\n b ( 1 0 )\n)\nLINKS (\n ab ( a b ) 10 0 0.5 0 ( )\n)\n\
//!             DEMANDS (\n d1 ( a b ) 1 4 UNLIMITED\n)\n";
//! let market = parse_sndlib(text, "two.txt", &SndlibOptions::default())?;
//! assert_eq!(market.brokers.len(), 2);
//! assert_eq!(market.links.len(), 4); // a→b, b→a, d1→a, b→dc-b
//! assert_eq!(market.users[0].valuation, 1.0); // 2 × the path's cost 0.5
//! # Ok::<_, brokerflow_graphs::formats::sndlib::SndlibError>(())
//! ```

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

use thiserror::Error;

use super::NumberProblem;
use crate::error::MarketError;
use crate::market::{Broker, Link, Market, Provider, User, ValidMarket};
use crate::order::TotalOrder;

/// v_k = VALUE_MARKUP × the cost of k's cheapest path: a demand served on its
/// cheapest path earns its cost once more (a 100 % margin), so routing and which
/// demands are served both matter.
pub const VALUE_MARKUP: f64 = 2.0;

/// The largest number of nodes, links or demands brokerflow imports from one file.
pub const MAX_ITEMS: usize = 1_000_000;

/// How to import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SndlibOptions {
    /// Keep only the first this many demands (in file order); `None` keeps all.
    pub max_demands: Option<usize>,
}

/// Why an SNDlib file was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SndlibError {
    /// A line of the input breaks the format.
    #[error("{origin}: line {line}: {problem}")]
    Syntax {
        /// The input's name (usually its file name).
        origin: String,
        /// 1-based line number of the offending line.
        line: usize,
        /// What is wrong there.
        problem: Problem,
    },
    /// The imported market breaks a rule of design §3 (the mapping is built so that
    /// this cannot happen; if it does, it is a bug in the importer).
    #[error("the imported market is invalid (a bug in the SNDlib importer): {0}")]
    Invalid(MarketError),
}

impl SndlibError {
    /// The line number of a [`SndlibError::Syntax`] refusal.
    pub fn line(&self) -> Option<usize> {
        match self {
            SndlibError::Syntax { line, .. } => Some(*line),
            SndlibError::Invalid(_) => None,
        }
    }

    /// The problem of a [`SndlibError::Syntax`] refusal.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            SndlibError::Syntax { problem, .. } => Some(problem),
            SndlibError::Invalid(_) => None,
        }
    }
}

/// What is wrong on one line of an SNDlib network file.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Problem {
    /// The input is not UTF-8 text.
    #[error("not text: invalid UTF-8")]
    NotText,
    /// A `?` header that is not an SNDlib network file's.
    #[error("bad header {0:?}: expected `?SNDlib native format; type: network; version: 1.0`")]
    BadHeader(String),
    /// A section name brokerflow does not know.
    #[error("unknown section {0:?} (expected META, NODES, LINKS, DEMANDS or ADMISSIBLE_PATHS)")]
    UnknownSection(String),
    /// A line outside any section that does not open one.
    #[error("expected a section `NAME (`, found {0:?}")]
    ExpectedSection(String),
    /// A section given twice.
    #[error("second {section} section (the first opens on line {first})")]
    DuplicateSection {
        /// The section.
        section: &'static str,
        /// Line of the first.
        first: usize,
    },
    /// A section that never closes.
    #[error("the {section} section opened on line {opened} is not closed by a line `)`")]
    Unclosed {
        /// The section.
        section: &'static str,
        /// Line it opened on.
        opened: usize,
    },
    /// A required section is missing.
    #[error("no {0} section")]
    MissingSection(&'static str),
    /// An item line of the wrong shape.
    #[error("{section} item {found:?} does not read as `{layout}`")]
    BadItem {
        /// The section.
        section: &'static str,
        /// The line (shortened).
        found: String,
        /// The expected layout.
        layout: &'static str,
    },
    /// An identifier that is not `[a-zA-Z0-9][a-zA-Z0-9-_]*`.
    #[error("{field} {id:?} is not an SNDlib identifier ([a-zA-Z0-9][a-zA-Z0-9-_]*)")]
    BadIdentifier {
        /// Which identifier.
        field: &'static str,
        /// The text found (shortened).
        id: String,
    },
    /// An identifier given twice in its section.
    #[error("{section} id {id:?} is given twice (first on line {first})")]
    DuplicateId {
        /// The section.
        section: &'static str,
        /// The id.
        id: String,
        /// Line of the first.
        first: usize,
    },
    /// A link or demand naming a node that NODES does not list.
    #[error("{field} {id:?} is not a node of the NODES section")]
    UnknownNode {
        /// Which endpoint.
        field: &'static str,
        /// The id found.
        id: String,
    },
    /// A link or demand from a node to itself.
    #[error("{section} item {id:?} goes from node {node:?} to itself")]
    SelfLoop {
        /// The section.
        section: &'static str,
        /// The item's id.
        id: String,
        /// The node.
        node: String,
    },
    /// A numeric field that is not a number, negative or not finite.
    #[error(transparent)]
    Number(#[from] super::NumberProblem),
    /// Two participants of the imported market would get the same id.
    #[error("{first} and {second} would both be named {id:?} in the market (ids are unique across roles)")]
    IdClash {
        /// The id.
        id: String,
        /// What gets it first.
        first: String,
        /// What gets it too.
        second: String,
    },
    /// More items than [`MAX_ITEMS`].
    #[error("more than {0} items in one section")]
    TooMany(usize),
}

/// A parsed NODES item.
#[derive(Debug, Clone)]
struct NodeItem {
    id: String,
}

/// A parsed LINKS item, reduced to what the market uses.
#[derive(Debug, Clone)]
struct LinkItem {
    id: String,
    line: usize,
    source: usize,
    target: usize,
    bandwidth: f64,
    cost: f64,
}

/// A parsed DEMANDS item.
#[derive(Debug, Clone)]
struct DemandItem {
    id: String,
    line: usize,
    source: usize,
    target: usize,
    amount: f64,
}

/// The sections of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Meta,
    Nodes,
    Links,
    Demands,
    Paths,
}

impl Section {
    fn from_name(name: &str) -> Option<Section> {
        Some(match name {
            "META" => Section::Meta,
            "NODES" => Section::Nodes,
            "LINKS" => Section::Links,
            "DEMANDS" => Section::Demands,
            "ADMISSIBLE_PATHS" => Section::Paths,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Section::Meta => "META",
            Section::Nodes => "NODES",
            Section::Links => "LINKS",
            Section::Demands => "DEMANDS",
            Section::Paths => "ADMISSIBLE_PATHS",
        }
    }
}

const NODE_LAYOUT: &str = "<node_id> ( <x> <y> )";
const LINK_LAYOUT: &str = "<link_id> ( <source> <target> ) <pre_installed_capacity> <pre_installed_capacity_cost> <routing_cost> <setup_cost> ( {<module_capacity> <module_cost>}* )";
const DEMAND_LAYOUT: &str =
    "<demand_id> ( <source> <target> ) <routing_unit> <demand_value> <max_path_length>";

/// Reads an SNDlib network file's bytes into a market (see [`parse_sndlib`]); input
/// that is not UTF-8 is refused with the line of the first bad byte.
pub fn parse_sndlib_bytes(
    bytes: &[u8],
    origin: &str,
    options: &SndlibOptions,
) -> Result<ValidMarket, SndlibError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_sndlib(text, origin, options),
        Err(e) => {
            let good = bytes.get(..e.valid_up_to()).unwrap_or_default();
            Err(SndlibError::Syntax {
                origin: origin.to_string(),
                line: 1 + good.iter().filter(|&&b| b == b'\n').count(),
                problem: Problem::NotText,
            })
        }
    }
}

/// Reads an SNDlib native network file into a market: PoPs become brokers, links
/// broker→broker links both ways, demands users at their source whose only eligible
/// provider is a data centre at their target (module docs give the whole mapping,
/// with the valuations assigned). `origin` names the input in error messages; its
/// file name goes into `meta.imported_from` and its file stem becomes the market's
/// name.
///
/// The result passes [`Market::validate`]. Every refusal names `origin`, the line
/// and what is wrong; no input makes this panic.
pub fn parse_sndlib(
    text: &str,
    origin: &str,
    options: &SndlibOptions,
) -> Result<ValidMarket, SndlibError> {
    let fail = |line: usize, problem: Problem| SndlibError::Syntax {
        origin: origin.to_string(),
        line,
        problem,
    };
    let mut nodes: Vec<NodeItem> = Vec::new();
    let mut node_index: HashMap<String, (usize, usize)> = HashMap::new();
    let mut links: Vec<LinkItem> = Vec::new();
    let mut link_ids: HashMap<String, usize> = HashMap::new();
    let mut demands: Vec<DemandItem> = Vec::new();
    let mut demand_ids: HashMap<String, usize> = HashMap::new();
    let mut sndlib_meta = serde_json::Map::new();
    let mut seen: HashMap<&'static str, usize> = HashMap::new();
    // (section, line it opened on)
    let mut open: Option<(Section, usize)> = None;
    let mut first_content = true;
    let mut last_line = 0;
    // A leading byte-order mark is skipped (editors write one), as the JSON readers do.
    for (i, raw) in text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .lines()
        .enumerate()
    {
        let line = i + 1;
        last_line = line;
        let content = raw.split('#').next().unwrap_or_default().trim();
        if content.is_empty() {
            continue;
        }
        if first_content && content.starts_with('?') {
            first_content = false;
            let normalised: String = content.split_whitespace().collect::<Vec<_>>().join(" ");
            if !normalised.starts_with("?SNDlib native format; type: network;") {
                return Err(fail(line, Problem::BadHeader(shown(content))));
            }
            continue;
        }
        first_content = false;
        let tokens = tokenize(content);
        let Some((section, _)) = open else {
            // Outside: `NAME (` opens a section.
            match tokens.as_slice() {
                [name, "("] => {
                    let section = Section::from_name(name)
                        .ok_or_else(|| fail(line, Problem::UnknownSection(shown(name))))?;
                    if let Some(&first) = seen.get(section.name()) {
                        return Err(fail(
                            line,
                            Problem::DuplicateSection {
                                section: section.name(),
                                first,
                            },
                        ));
                    }
                    seen.insert(section.name(), line);
                    open = Some((section, line));
                }
                _ => return Err(fail(line, Problem::ExpectedSection(shown(content)))),
            }
            continue;
        };
        if tokens.as_slice() == [")"] {
            open = None;
            continue;
        }
        let bad = |layout: &'static str| {
            fail(
                line,
                Problem::BadItem {
                    section: section.name(),
                    found: shown(content),
                    layout,
                },
            )
        };
        let count_ok = |n: usize| {
            if n >= MAX_ITEMS {
                Err(fail(line, Problem::TooMany(MAX_ITEMS)))
            } else {
                Ok(())
            }
        };
        match section {
            Section::Meta => {
                if let Some((key, value)) = content.split_once('=') {
                    sndlib_meta.insert(key.trim().to_string(), value.trim().to_string().into());
                }
            }
            Section::Paths => {}
            Section::Nodes => {
                count_ok(nodes.len())?;
                let [id, "(", x, y, ")", rest @ ..] = tokens.as_slice() else {
                    return Err(bad(NODE_LAYOUT));
                };
                if !rest.chunks(2).all(|c| c == ["(", ")"]) {
                    return Err(bad(NODE_LAYOUT));
                }
                identifier(id, "the node id").map_err(|p| fail(line, p))?;
                number(x, "the x-coordinate").map_err(|p| fail(line, p))?;
                number(y, "the y-coordinate").map_err(|p| fail(line, p))?;
                if let Some(&(_, first)) = node_index.get(*id) {
                    return Err(fail(
                        line,
                        Problem::DuplicateId {
                            section: "NODES",
                            id: shown(id),
                            first,
                        },
                    ));
                }
                node_index.insert(id.to_string(), (nodes.len(), line));
                nodes.push(NodeItem { id: id.to_string() });
            }
            Section::Links => {
                count_ok(links.len())?;
                let [id, "(", s, t, ")", pre, pre_cost, routing, setup, "(", modules @ .., ")"] =
                    tokens.as_slice()
                else {
                    return Err(bad(LINK_LAYOUT));
                };
                if modules.len() % 2 != 0 || modules.iter().any(|m| *m == "(" || *m == ")") {
                    return Err(bad(LINK_LAYOUT));
                }
                identifier(id, "the link id").map_err(|p| fail(line, p))?;
                if let Some(&first) = link_ids.get(*id) {
                    return Err(fail(
                        line,
                        Problem::DuplicateId {
                            section: "LINKS",
                            id: shown(id),
                            first,
                        },
                    ));
                }
                let (source, target) =
                    endpoints(&node_index, s, t, "LINKS", id).map_err(|p| fail(line, p))?;
                let number = |text: &str, field| amount(text, field).map_err(|p| fail(line, p));
                let pre = number(pre, "the pre-installed capacity")?;
                number(pre_cost, "the pre-installed capacity cost")?;
                let routing = number(routing, "the routing cost")?;
                number(setup, "the setup cost")?;
                let mut largest: f64 = 0.0;
                let mut cheapest: Option<f64> = None;
                for m in modules.chunks(2) {
                    let capacity = number(m[0], "a module capacity")?;
                    let cost = number(m[1], "a module cost")?;
                    largest = largest.max(capacity);
                    if capacity > 0.0 {
                        let unit = cost / capacity;
                        cheapest = Some(cheapest.map_or(unit, |c: f64| c.min(unit)));
                    }
                }
                link_ids.insert(id.to_string(), line);
                links.push(LinkItem {
                    id: id.to_string(),
                    line,
                    source,
                    target,
                    bandwidth: if pre > 0.0 { pre } else { largest },
                    cost: routing + cheapest.unwrap_or(0.0),
                });
            }
            Section::Demands => {
                count_ok(demands.len())?;
                let [id, "(", s, t, ")", unit, value, max_path] = tokens.as_slice() else {
                    return Err(bad(DEMAND_LAYOUT));
                };
                identifier(id, "the demand id").map_err(|p| fail(line, p))?;
                if let Some(&first) = demand_ids.get(*id) {
                    return Err(fail(
                        line,
                        Problem::DuplicateId {
                            section: "DEMANDS",
                            id: shown(id),
                            first,
                        },
                    ));
                }
                let (source, target) =
                    endpoints(&node_index, s, t, "DEMANDS", id).map_err(|p| fail(line, p))?;
                let unit = amount(unit, "the routing unit").map_err(|p| fail(line, p))?;
                let value = amount(value, "the demand value").map_err(|p| fail(line, p))?;
                if *max_path != "UNLIMITED" && max_path.parse::<u64>().is_err() {
                    return Err(fail(
                        line,
                        NumberProblem::NotANumber {
                            field: "the max path length",
                            text: shown(max_path),
                            expected: "UNLIMITED or a non-negative integer",
                        }
                        .into(),
                    ));
                }
                demand_ids.insert(id.to_string(), line);
                demands.push(DemandItem {
                    id: id.to_string(),
                    line,
                    source,
                    target,
                    amount: unit * value,
                });
            }
        }
    }
    if let Some((section, opened)) = open {
        return Err(fail(
            last_line.max(1),
            Problem::Unclosed {
                section: section.name(),
                opened,
            },
        ));
    }
    for section in ["NODES", "LINKS", "DEMANDS"] {
        if !seen.contains_key(section) {
            return Err(fail(last_line.max(1), Problem::MissingSection(section)));
        }
    }
    let total_demands = demands.len();
    if let Some(max) = options.max_demands {
        demands.truncate(max);
    }
    let name = std::path::Path::new(origin)
        .file_stem()
        .map_or_else(|| origin.to_string(), |f| f.to_string_lossy().into_owned());
    let mut market =
        to_market(name, &nodes, &links, &demands).map_err(|(line, p)| fail(line, p))?;
    let file_name = std::path::Path::new(origin)
        .file_name()
        .map_or_else(|| origin.to_string(), |f| f.to_string_lossy().into_owned());
    let mut meta = serde_json::Map::new();
    meta.insert("imported_from".into(), file_name.into());
    meta.insert("format".into(), "sndlib".into());
    meta.insert(
        "input_sha256".into(),
        crate::input_hash(text.as_bytes()).into(),
    );
    meta.insert("version".into(), crate::VERSION.into());
    meta.insert("sndlib_meta".into(), sndlib_meta.into());
    meta.insert("demands_kept".into(), demands.len().into());
    meta.insert("demands_in_file".into(), total_demands.into());
    meta.insert(
        "valuations".into(),
        format!("{VALUE_MARKUP} x the cost of the demand's cheapest path (1 where it is free, 0 where unreachable)").into(),
    );
    market.meta = Some(meta);
    market.validate_as(origin).map_err(SndlibError::Invalid)
}

/// Splits a line into tokens: runs of non-blank characters, with `(` and `)` always
/// tokens of their own.
fn tokenize(line: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    for word in line.split_whitespace() {
        let mut rest = word;
        while !rest.is_empty() {
            match rest.find(['(', ')']) {
                Some(0) => {
                    tokens.push(&rest[..1]);
                    rest = &rest[1..];
                }
                Some(at) => {
                    tokens.push(&rest[..at]);
                    rest = &rest[at..];
                }
                None => {
                    tokens.push(rest);
                    rest = "";
                }
            }
        }
    }
    tokens
}

/// Shortens a field from the input for an error message.
/// How many characters of a field the errors show.
const SHOWN: usize = 60;

fn shown(text: &str) -> String {
    super::shortened(text, SHOWN)
}

fn identifier(id: &str, field: &'static str) -> Result<(), Problem> {
    let mut chars = id.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Problem::BadIdentifier {
            field,
            id: shown(id),
        })
    }
}

fn number(text: &str, field: &'static str) -> Result<f64, Problem> {
    Ok(super::finite(text, field, SHOWN)?)
}

/// A finite, non-negative number field.
fn amount(text: &str, field: &'static str) -> Result<f64, Problem> {
    Ok(super::amount(text, field, SHOWN)?)
}

fn endpoints(
    nodes: &HashMap<String, (usize, usize)>,
    s: &str,
    t: &str,
    section: &'static str,
    id: &str,
) -> Result<(usize, usize), Problem> {
    let find = |x: &str, field| {
        nodes
            .get(x)
            .map(|&(i, _)| i)
            .ok_or_else(|| Problem::UnknownNode {
                field,
                id: shown(x),
            })
    };
    let (source, target) = (find(s, "the source")?, find(t, "the target")?);
    if source == target {
        return Err(Problem::SelfLoop {
            section,
            id: shown(id),
            node: shown(s),
        });
    }
    Ok((source, target))
}

fn free_link(from: &str, to: &str) -> Link {
    Link {
        from: from.to_string(),
        to: to.to_string(),
        bandwidth: None,
        cost: 0.0,
    }
}

/// The cheapest path cost from `from` to every node over the links both ways
/// (Dijkstra; `None` = unreachable).
fn cheapest_costs(nodes: usize, links: &[LinkItem], from: usize) -> Vec<Option<f64>> {
    let mut adjacent: Vec<Vec<(usize, f64)>> = vec![Vec::new(); nodes];
    for l in links {
        adjacent[l.source].push((l.target, l.cost));
        adjacent[l.target].push((l.source, l.cost));
    }
    let mut best: Vec<Option<f64>> = vec![None; nodes];
    let mut heap = BinaryHeap::from([Reverse((TotalOrder(0.0), from))]);
    best[from] = Some(0.0);
    while let Some(Reverse((TotalOrder(d), n))) = heap.pop() {
        if best[n].is_some_and(|b| d > b) {
            continue;
        }
        for &(m, c) in &adjacent[n] {
            let nd = d + c;
            if best[m].is_none_or(|b| nd < b) {
                best[m] = Some(nd);
                heap.push(Reverse((TotalOrder(nd), m)));
            }
        }
    }
    best
}

/// The market of the mapping in the module docs, without `meta`; an id clash is
/// reported with the line of the item that caused it.
fn to_market(
    name: String,
    nodes: &[NodeItem],
    links: &[LinkItem],
    demands: &[DemandItem],
) -> Result<Market, (usize, Problem)> {
    // Every id the market gets, with what it names, to refuse clashes by name.
    let mut owner: BTreeMap<String, String> = nodes
        .iter()
        .map(|n| (n.id.clone(), format!("node {:?}", n.id)))
        .collect();
    let mut claim = |id: &str, what: String, line: usize| {
        if let Some(first) = owner.get(id) {
            return Err((
                line,
                Problem::IdClash {
                    id: id.to_string(),
                    first: first.clone(),
                    second: what,
                },
            ));
        }
        owner.insert(id.to_string(), what);
        Ok(())
    };
    let mut brokers: Vec<Broker> = nodes
        .iter()
        .map(|n| Broker {
            id: n.id.clone(),
            capacity: None,
            cost: 0.0,
        })
        .collect();
    let mut market_links = Vec::new();
    let mut pairs = HashSet::new();
    for l in links {
        let (s, t) = (&nodes[l.source].id, &nodes[l.target].id);
        let bandwidth = Some(l.bandwidth);
        let key = (l.source.min(l.target), l.source.max(l.target));
        if pairs.insert(key) {
            for (from, to) in [(s, t), (t, s)] {
                market_links.push(Link {
                    from: from.clone(),
                    to: to.clone(),
                    bandwidth,
                    cost: l.cost,
                });
            }
        } else {
            // A parallel link: through a broker of its own, both ways.
            let via = format!("link-{}", l.id);
            claim(&via, format!("parallel link {:?}", l.id), l.line)?;
            brokers.push(Broker {
                id: via.clone(),
                capacity: None,
                cost: 0.0,
            });
            for (from, to) in [(s, t), (t, s)] {
                market_links.push(Link {
                    from: from.clone(),
                    to: via.clone(),
                    bandwidth,
                    cost: l.cost,
                });
                market_links.push(free_link(&via, to));
            }
        }
    }
    let mut users = Vec::new();
    let mut providers: Vec<Provider> = Vec::new();
    let mut centres: Vec<usize> = Vec::new();
    let mut costs: HashMap<usize, Vec<Option<f64>>> = HashMap::new();
    for d in demands {
        let centre = format!("dc-{}", nodes[d.target].id);
        if !centres.contains(&d.target) {
            claim(
                &centre,
                format!("the data centre of node {:?}", nodes[d.target].id),
                d.line,
            )?;
            centres.push(d.target);
            providers.push(Provider {
                id: centre.clone(),
                capacity: None,
                cost: 0.0,
            });
        }
        claim(&d.id, format!("demand {:?}", d.id), d.line)?;
        let to_target = costs
            .entry(d.source)
            .or_insert_with(|| cheapest_costs(nodes.len(), links, d.source))[d.target];
        let valuation = match to_target {
            Some(c) if c > 0.0 => VALUE_MARKUP * c,
            Some(_) => 1.0,
            None => 0.0,
        };
        market_links.push(free_link(&d.id, &nodes[d.source].id));
        users.push(User {
            id: d.id.clone(),
            demand: d.amount,
            requirement: 1.0,
            valuation,
            eligible: Some(vec![centre]),
        });
    }
    for (&t, p) in centres.iter().zip(&providers) {
        market_links.push(free_link(&nodes[t].id, &p.id));
    }
    Ok(Market {
        name,
        users,
        brokers,
        providers,
        links: market_links,
        prices: None,
        meta: None,
    })
}
