//! The classic multicommodity-flow benchmark format (`p mcf n m k`), as used for the
//! Larsson–Yuan grid and planar instances, read into a [`Market`] and written back
//! (design §4).
//!
//! # The format
//! Line-oriented text, fields separated by white space, in any order after the `p` line:
//! ```text
//! c a comment (any line that starts with c; blank lines are ignored too)
//! p mcf <nodes> <arcs> <commodities>      exactly once, before every k and a line
//! k <origin> <destination> <demand>       one line per commodity
//! a <source> <target> <cost> <capacity>   one line per arc
//! ```
//! Nodes are numbered from 0 to `nodes − 1`. Demands, costs and capacities are finite,
//! non-negative numbers. Arcs are identified by their position, so the format allows
//! *parallel arcs* (two arcs with the same source and target, possibly with different
//! costs) and *loops* (source = target); both are kept, see below.
//!
//! # The market it becomes
//! - every network node `i` becomes a broker `n{i}` (unlimited capacity, cost 0);
//! - every arc `a s t cost cap` becomes a broker→broker link `n{s}`→`n{t}` with
//!   bandwidth B = `cap` and cost c = `cost` per job. A market allows one link per
//!   ordered pair and no self-loop, so an arc that repeats an earlier arc's endpoints,
//!   or a loop, goes through a broker of its own, `a{j}` (j = the arc's 0-based
//!   position among the `a` lines; unlimited, cost 0): `n{s}`→`a{j}` carries the
//!   arc's bandwidth and cost, `a{j}`→`n{t}` is unlimited and free. Same capacity,
//!   same cost per job: the flow problem is unchanged;
//! - every commodity `k o t d` (its j-th `k` line, from 0) becomes a user `k{j}` with
//!   demand d_k = d, requirement r_k = 1 and valuation v_k = 0, linked to broker
//!   `n{o}` by an unlimited, free link, whose only eligible provider is `d{t}`;
//! - every distinct destination `t` becomes a provider `d{t}` (unlimited, cost 0),
//!   linked from broker `n{t}` by an unlimited, free link.
//!
//! With valuations 0 the welfare W of design §2 is minus the total arc cost, so the
//! instance's whole demand is routable exactly when P1 gives δ* ≥ 1 (or unbounded),
//! and then P2 has welfare W = −(the instance's minimum cost).
//!
//! `meta` records provenance: `imported_from` (the input's file name), `format`
//! (`"mcf"`), `input_sha256` ([`crate::input_hash`] of the input bytes), `version`
//! ([`crate::VERSION`]) and `published_min_cost` (`null`; to be filled in by hand).
//!
//! ```
//! use brokerflow_graphs::formats::mcf::{parse_mcf, write_mcf};
//! let text = "p mcf 3 2 1\nk 0 2 5\na 0 1 2 10\na 1 2 3 10\n";
//! let market = parse_mcf(text, "tiny.txt")?;
//! assert_eq!(market.brokers.len(), 3);
//! assert_eq!(market.users[0].eligible, Some(vec!["d2".to_string()]));
//! let again = parse_mcf(&write_mcf(&market)?, "tiny.txt")?;
//! assert_eq!(again.links, market.links);
//! # Ok::<_, brokerflow_graphs::formats::mcf::McfError>(())
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use thiserror::Error;

use super::NumberProblem;
use crate::error::MarketError;
use crate::market::{Broker, Link, Market, Provider, User, ValidMarket};

/// The largest node count a `p` line may declare: every node becomes a broker, so
/// a tiny file must not be able to ask for billions of them.
pub const MAX_NODES: usize = 1_000_000;

/// Why an mcf file was refused, or why a market cannot be written as one.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum McfError {
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
    /// The imported market breaks a rule of design §3. The mapping is built so that
    /// this cannot happen; if it does, it is a bug in the importer.
    #[error("the imported market is invalid (a bug in the mcf importer): {0}")]
    Invalid(MarketError),
    /// [`write_mcf`] was given a market that is not of the shape [`parse_mcf`] makes.
    #[error("cannot write the market as mcf: {at}: {why} (only markets imported from the mcf format can be written back)")]
    NotImported {
        /// Where in the market (JSON path and id).
        at: String,
        /// What does not fit the imported shape.
        why: String,
    },
}

impl McfError {
    /// The line number of a [`McfError::Syntax`] refusal.
    pub fn line(&self) -> Option<usize> {
        match self {
            McfError::Syntax { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// The problem of a [`McfError::Syntax`] refusal.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            McfError::Syntax { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// What is wrong on one line of an mcf file.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Problem {
    /// The input is not UTF-8 text.
    #[error("not text: invalid UTF-8")]
    NotText,
    /// No `p` line at all.
    #[error("no problem line: expected `p mcf <nodes> <arcs> <commodities>` before the data")]
    MissingProblemLine,
    /// A `k` or `a` line before the `p` line.
    #[error(
        "'{0}' line before the problem line (`p mcf <nodes> <arcs> <commodities>` comes first)"
    )]
    DataBeforeProblemLine(char),
    /// A second `p` line.
    #[error("second problem line (the first is line {first})")]
    DuplicateProblemLine {
        /// Line number of the first `p` line.
        first: usize,
    },
    /// A `p` line that is not `p mcf <nodes> <arcs> <commodities>`.
    #[error("bad problem line: {0} (expected `p mcf <nodes> <arcs> <commodities>`)")]
    BadProblemLine(String),
    /// The `p` line declares more nodes than [`MAX_NODES`].
    #[error("the problem line declares {declared} nodes, more than the {max} brokerflow imports")]
    TooManyNodes {
        /// The node count declared.
        declared: usize,
        /// [`MAX_NODES`].
        max: usize,
    },
    /// A `k` or `a` line with the wrong number of fields.
    #[error("'{kind}' line with {found} fields after '{kind}', expected {expected} ({layout})")]
    FieldCount {
        /// The line type.
        kind: char,
        /// Fields found after the type letter.
        found: usize,
        /// Fields expected.
        expected: usize,
        /// The expected layout.
        layout: &'static str,
    },
    /// More `k` or `a` lines than the `p` line declares, or fewer.
    #[error("{}", count_mismatch(.what, *.kind, *.p_line, *.declared, *.found, *.more))]
    CountMismatch {
        /// `arcs` or `commodities`.
        what: &'static str,
        /// `a` or `k`.
        kind: char,
        /// Line number of the `p` line.
        p_line: usize,
        /// The count the `p` line declares.
        declared: usize,
        /// The lines found (when fewer).
        found: usize,
        /// Whether there are more lines than declared (reported at the first extra one).
        more: bool,
    },
    /// A node index not below the declared node count.
    #[error("{field} is node {index}, out of range: the problem line declares {}", node_range(*.nodes))]
    NodeOutOfRange {
        /// Field name.
        field: &'static str,
        /// The index found.
        index: usize,
        /// The declared node count.
        nodes: usize,
    },
    /// A numeric field that is not a number, negative or not finite.
    #[error(transparent)]
    Number(#[from] super::NumberProblem),
    /// A line that is not `c`, `p`, `k` or `a`.
    #[error("unknown line type {0:?} (expected c, p, k or a)")]
    UnknownLineType(String),
}

fn count_mismatch(
    what: &str,
    kind: char,
    p_line: usize,
    declared: usize,
    found: usize,
    more: bool,
) -> String {
    if more {
        format!("one '{kind}' line too many: the problem line (line {p_line}) declares {declared} {what}")
    } else {
        format!("the problem line declares {declared} {what}, but the file has only {found} '{kind}' lines")
    }
}

fn node_range(nodes: usize) -> String {
    match nodes {
        0 => "no nodes".into(),
        n => format!("{n} nodes, numbered 0 to {}", n - 1),
    }
}

/// One `a` line.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Arc {
    src: usize,
    dst: usize,
    cost: f64,
    capacity: f64,
}

/// One `k` line.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Demand {
    origin: usize,
    dest: usize,
    demand: f64,
}

/// A multicommodity-flow instance as the file states it.
#[derive(Debug, Clone, PartialEq, Default)]
struct Instance {
    nodes: usize,
    arcs: Vec<Arc>,
    demands: Vec<Demand>,
}

/// Reads an mcf file's bytes into a market (see [`parse_mcf`]); input that is not
/// UTF-8 is refused with the line of the first bad byte.
pub fn parse_mcf_bytes(bytes: &[u8], origin: &str) -> Result<ValidMarket, McfError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_mcf(text, origin),
        Err(e) => {
            let good = bytes.get(..e.valid_up_to()).unwrap_or_default();
            Err(McfError::Syntax {
                origin: origin.to_string(),
                line: 1 + good.iter().filter(|&&b| b == b'\n').count(),
                problem: Problem::NotText,
            })
        }
    }
}

/// Reads a multicommodity-flow instance (`p mcf n m k`) into a market: nodes become
/// brokers `n{i}`, arcs broker→broker links, commodities users `k{j}` at their origin
/// whose only eligible provider `d{t}` sits at their destination (module docs give
/// the whole mapping). `origin` names the input in error messages; its file name
/// goes into `meta.imported_from` and its file stem becomes the market's name.
///
/// The result passes [`Market::validate`]. Every refusal names `origin`, the line
/// and what is wrong; no input makes this panic.
pub fn parse_mcf(text: &str, origin: &str) -> Result<ValidMarket, McfError> {
    // A leading byte-order mark is skipped (editors write one), as the JSON readers do.
    let instance = read_instance(text.strip_prefix('\u{feff}').unwrap_or(text), origin)?;
    let file_name = std::path::Path::new(origin)
        .file_name()
        .map_or_else(|| origin.to_string(), |f| f.to_string_lossy().into_owned());
    let name = std::path::Path::new(origin)
        .file_stem()
        .map_or_else(|| origin.to_string(), |f| f.to_string_lossy().into_owned());
    let mut market = instance.to_market(name);
    let mut meta = serde_json::Map::new();
    meta.insert("imported_from".into(), file_name.into());
    meta.insert("format".into(), "mcf".into());
    meta.insert(
        "input_sha256".into(),
        crate::input_hash(text.as_bytes()).into(),
    );
    meta.insert("version".into(), crate::VERSION.into());
    meta.insert("published_min_cost".into(), serde_json::Value::Null);
    market.meta = Some(meta);
    market.validate_as(origin).map_err(McfError::Invalid)
}

/// Writes a market of the shape [`parse_mcf`] makes back as an mcf file, so that
/// parsing the result gives an equal market (except `meta`, and the name, which
/// comes from the file name). Any other market is refused, naming the first thing
/// that does not fit: capacities or costs on brokers or providers, valuations,
/// requirements other than 1, posted prices, ids or links outside the mapping.
pub fn write_mcf(market: &Market) -> Result<String, McfError> {
    let instance = Instance::from_market(market)?;
    // The extraction above checks each participant; rebuilding and comparing also
    // catches anything out of the order an import produces.
    let mut rebuilt = instance.to_market(market.name.clone());
    rebuilt.meta.clone_from(&market.meta);
    if rebuilt != *market {
        return Err(first_difference(market, &rebuilt));
    }
    Ok(instance.to_text(&market.name))
}

/// Shortens a field from the input for an error message.
/// How many characters of a field the errors show.
const SHOWN: usize = 40;

fn shown(text: &str) -> String {
    super::shortened(text, SHOWN)
}

fn read_instance(text: &str, origin: &str) -> Result<Instance, McfError> {
    let fail = |line: usize, problem: Problem| McfError::Syntax {
        origin: origin.to_string(),
        line,
        problem,
    };
    // (line of the p line, nodes, arcs, commodities)
    let mut header: Option<(usize, usize, usize, usize)> = None;
    let mut instance = Instance::default();
    let mut last_line = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        last_line = line;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('c') {
            continue;
        }
        let fields: Vec<&str> = t.split_whitespace().collect();
        let (kind, rest) = match fields.split_first() {
            Some((kind, rest)) => (*kind, rest),
            None => continue,
        };
        match kind {
            "p" => {
                if let Some((first, ..)) = header {
                    return Err(fail(line, Problem::DuplicateProblemLine { first }));
                }
                let bad = |why: String| fail(line, Problem::BadProblemLine(why));
                let (problem_type, counts) = match rest.split_first() {
                    Some((p, c)) => (*p, c),
                    None => return Err(bad("no problem type".into())),
                };
                if problem_type != "mcf" {
                    return Err(bad(format!(
                        "the problem type is {:?}, not \"mcf\"",
                        shown(problem_type)
                    )));
                }
                let [n, m, k] = counts else {
                    return Err(bad(format!(
                        "{} counts after \"mcf\", expected 3",
                        counts.len()
                    )));
                };
                let n = count(n, "the node count").map_err(|p| fail(line, p))?;
                let m = count(m, "the arc count").map_err(|p| fail(line, p))?;
                let k = count(k, "the commodity count").map_err(|p| fail(line, p))?;
                if n > MAX_NODES {
                    return Err(fail(
                        line,
                        Problem::TooManyNodes {
                            declared: n,
                            max: MAX_NODES,
                        },
                    ));
                }
                header = Some((line, n, m, k));
            }
            "k" | "a" => {
                let is_arc = kind == "a";
                let letter = if is_arc { 'a' } else { 'k' };
                let Some((p_line, nodes, arcs, commodities)) = header else {
                    return Err(fail(line, Problem::DataBeforeProblemLine(letter)));
                };
                let (expected, layout) = if is_arc {
                    (4, "a <source> <target> <cost> <capacity>")
                } else {
                    (3, "k <origin> <destination> <demand>")
                };
                if rest.len() != expected {
                    return Err(fail(
                        line,
                        Problem::FieldCount {
                            kind: letter,
                            found: rest.len(),
                            expected,
                            layout,
                        },
                    ));
                }
                let (have, declared, what) = if is_arc {
                    (instance.arcs.len(), arcs, "arcs")
                } else {
                    (instance.demands.len(), commodities, "commodities")
                };
                if have >= declared {
                    return Err(fail(
                        line,
                        Problem::CountMismatch {
                            what,
                            kind: letter,
                            p_line,
                            declared,
                            found: have + 1,
                            more: true,
                        },
                    ));
                }
                let names = if is_arc {
                    ["the source", "the target"]
                } else {
                    ["the origin", "the destination"]
                };
                let from = node(rest[0], names[0], nodes).map_err(|p| fail(line, p))?;
                let to = node(rest[1], names[1], nodes).map_err(|p| fail(line, p))?;
                if is_arc {
                    let cost = amount(rest[2], "the cost").map_err(|p| fail(line, p))?;
                    let capacity = amount(rest[3], "the capacity").map_err(|p| fail(line, p))?;
                    instance.arcs.push(Arc {
                        src: from,
                        dst: to,
                        cost,
                        capacity,
                    });
                } else {
                    let demand = amount(rest[2], "the demand").map_err(|p| fail(line, p))?;
                    instance.demands.push(Demand {
                        origin: from,
                        dest: to,
                        demand,
                    });
                }
            }
            other => return Err(fail(line, Problem::UnknownLineType(shown(other)))),
        }
    }
    let Some((p_line, nodes, arcs, commodities)) = header else {
        return Err(fail(last_line.max(1), Problem::MissingProblemLine));
    };
    for (have, declared, what, kind) in [
        (instance.arcs.len(), arcs, "arcs", 'a'),
        (instance.demands.len(), commodities, "commodities", 'k'),
    ] {
        if have != declared {
            return Err(fail(
                p_line,
                Problem::CountMismatch {
                    what,
                    kind,
                    p_line,
                    declared,
                    found: have,
                    more: false,
                },
            ));
        }
    }
    instance.nodes = nodes;
    Ok(instance)
}

/// A non-negative integer field (a count or a node index).
fn count(text: &str, field: &'static str) -> Result<usize, Problem> {
    text.parse::<usize>().map_err(|_| {
        let digits = text.strip_prefix('-').unwrap_or("");
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            NumberProblem::Negative {
                field,
                text: shown(text),
            }
        } else {
            NumberProblem::NotANumber {
                field,
                text: shown(text),
                expected: "a non-negative integer",
            }
        }
        .into()
    })
}

fn node(text: &str, field: &'static str, nodes: usize) -> Result<usize, Problem> {
    let index = count(text, field)?;
    if index >= nodes {
        return Err(Problem::NodeOutOfRange {
            field,
            index,
            nodes,
        });
    }
    Ok(index)
}

/// A finite, non-negative number field (a demand, cost or capacity).
fn amount(text: &str, field: &'static str) -> Result<f64, Problem> {
    Ok(super::amount(text, field, SHOWN)?)
}

/// `prefix` followed by a canonical decimal index (no sign, no leading zeros).
fn index_of(id: &str, prefix: char) -> Option<usize> {
    let digits = id.strip_prefix(prefix)?;
    let i: usize = digits.parse().ok()?;
    (digits.bytes().all(|b| b.is_ascii_digit()) && i.to_string() == digits).then_some(i)
}

fn unlimited_link(from: String, to: String) -> Link {
    Link {
        from,
        to,
        bandwidth: None,
        cost: 0.0,
    }
}

impl Instance {
    /// The market of the mapping in the module docs, without `meta`.
    fn to_market(&self, name: String) -> Market {
        let mut brokers: Vec<Broker> = (0..self.nodes)
            .map(|i| Broker {
                id: format!("n{i}"),
                capacity: None,
                cost: 0.0,
            })
            .collect();
        let mut links = Vec::new();
        let mut seen = HashSet::new();
        for (j, a) in self.arcs.iter().enumerate() {
            let from = format!("n{}", a.src);
            let to = format!("n{}", a.dst);
            let bandwidth = Some(a.capacity);
            if a.src != a.dst && seen.insert((a.src, a.dst)) {
                links.push(Link {
                    from,
                    to,
                    bandwidth,
                    cost: a.cost,
                });
            } else {
                let via = format!("a{j}");
                brokers.push(Broker {
                    id: via.clone(),
                    capacity: None,
                    cost: 0.0,
                });
                links.push(Link {
                    from,
                    to: via.clone(),
                    bandwidth,
                    cost: a.cost,
                });
                links.push(unlimited_link(via, to));
            }
        }
        let mut users = Vec::new();
        let mut providers = Vec::new();
        let mut destinations = Vec::new();
        let mut seen = HashSet::new();
        for (j, d) in self.demands.iter().enumerate() {
            let provider = format!("d{}", d.dest);
            if seen.insert(d.dest) {
                destinations.push(d.dest);
                providers.push(Provider {
                    id: provider.clone(),
                    capacity: None,
                    cost: 0.0,
                });
            }
            let id = format!("k{j}");
            links.push(unlimited_link(id.clone(), format!("n{}", d.origin)));
            users.push(User {
                id,
                demand: d.demand,
                requirement: 1.0,
                valuation: 0.0,
                eligible: Some(vec![provider]),
            });
        }
        for (t, p) in destinations.iter().zip(&providers) {
            links.push(unlimited_link(format!("n{t}"), p.id.clone()));
        }
        Market {
            name,
            users,
            brokers,
            providers,
            links,
            prices: None,
            meta: None,
        }
    }

    /// Recovers the instance from a market of the imported shape, refusing the first
    /// participant or link that does not fit it.
    fn from_market(m: &Market) -> Result<Instance, McfError> {
        let refuse = |at: String, why: String| McfError::NotImported { at, why };
        if m.prices.is_some() {
            return Err(refuse(
                "prices".into(),
                "posted prices have no place in the mcf format".into(),
            ));
        }
        let unlimited_free = |at: String, capacity: Option<f64>, cost: f64, what: &str| {
            if capacity.is_some() || cost != 0.0 {
                Err(refuse(
                    at,
                    format!("{what} must be unlimited with cost 0, as imported"),
                ))
            } else {
                Ok(())
            }
        };
        let mut nodes = 0;
        let mut via_brokers: HashSet<&str> = HashSet::new();
        for (i, b) in m.brokers.iter().enumerate() {
            let at = format!("brokers[{i}] ({})", b.id);
            unlimited_free(at.clone(), b.capacity, b.cost, "a broker")?;
            if index_of(&b.id, 'n') == Some(i) && via_brokers.is_empty() {
                nodes += 1;
            } else if index_of(&b.id, 'a').is_some() {
                via_brokers.insert(&b.id);
            } else {
                return Err(refuse(
                    at,
                    format!(
                        "brokers must be n0, n1, … (network nodes, in order), then a<j> (arcs of their own); expected n{nodes}"
                    ),
                ));
            }
        }
        let node_of = |id: &str| index_of(id, 'n').filter(|&i| i < nodes);
        for (i, p) in m.providers.iter().enumerate() {
            let at = format!("providers[{i}] ({})", p.id);
            unlimited_free(at.clone(), p.capacity, p.cost, "a provider")?;
            if index_of(&p.id, 'd').filter(|&t| t < nodes).is_none() {
                return Err(refuse(
                    at,
                    format!("providers must be d<t> for a destination node t below {nodes}"),
                ));
            }
        }
        // Each user's one link, and each arc broker's one outgoing link.
        let mut user_link: HashMap<&str, &Link> = HashMap::new();
        let mut via_out: HashMap<&str, &Link> = HashMap::new();
        let user_ids: HashSet<&str> = m.users.iter().map(|u| u.id.as_str()).collect();
        for (i, l) in m.links.iter().enumerate() {
            let at = format!("links[{i}] ({}->{})", l.from, l.to);
            let out = if via_brokers.contains(l.from.as_str()) {
                &mut via_out
            } else if user_ids.contains(l.from.as_str()) {
                &mut user_link
            } else {
                continue;
            };
            if out.insert(&l.from, l).is_some() {
                return Err(refuse(at, format!("'{}' has more than one link", l.from)));
            }
        }
        let mut demands = Vec::new();
        for (j, u) in m.users.iter().enumerate() {
            let at = format!("users[{j}] ({})", u.id);
            if u.id != format!("k{j}") {
                return Err(refuse(
                    at,
                    format!("users must be k0, k1, …; expected k{j}"),
                ));
            }
            if u.requirement != 1.0 || u.valuation != 0.0 {
                return Err(refuse(
                    at,
                    format!(
                        "requirement {} and valuation {}; an imported user has requirement 1 and valuation 0",
                        u.requirement, u.valuation
                    ),
                ));
            }
            let dest = match u.eligible.as_deref() {
                Some([p]) => index_of(p, 'd').filter(|&t| t < nodes),
                _ => None,
            };
            let Some(dest) = dest else {
                return Err(refuse(
                    at,
                    "an imported user has exactly one eligible provider d<t>".into(),
                ));
            };
            let origin = user_link
                .get(u.id.as_str())
                .and_then(|l| node_of(&l.to).map(|o| (o, l)));
            let Some((origin, link)) = origin else {
                return Err(refuse(
                    at,
                    "an imported user has exactly one link, to a node broker n<i>".into(),
                ));
            };
            unlimited_free(at, link.bandwidth, link.cost, "the user's link")?;
            demands.push(Demand {
                origin,
                dest,
                demand: u.demand,
            });
        }
        let mut arcs = Vec::new();
        let mut used_via = HashSet::new();
        for (i, l) in m.links.iter().enumerate() {
            let at = format!("links[{i}] ({}->{})", l.from, l.to);
            let Some(src) = node_of(&l.from) else {
                continue; // user links were read above, arc-broker links are read below
            };
            let dst = if let Some(dst) = node_of(&l.to) {
                dst
            } else if via_brokers.contains(l.to.as_str()) {
                let next = via_out.get(l.to.as_str()).and_then(|n| node_of(&n.to));
                let (Some(next), true) = (next, used_via.insert(l.to.as_str())) else {
                    return Err(refuse(
                        at,
                        format!(
                            "an arc broker has one link in, from a node broker, and one out, to a node broker ('{}' does not)",
                            l.to
                        ),
                    ));
                };
                next
            } else if index_of(&l.to, 'd') == Some(src) {
                continue; // a destination's provider link; checked by the rebuild
            } else {
                return Err(refuse(
                    at,
                    "node broker n<i> links only to node brokers, arc brokers and its own d<i>"
                        .into(),
                ));
            };
            let Some(capacity) = l.bandwidth else {
                return Err(refuse(
                    at,
                    "an unlimited link between node brokers: every mcf arc has a capacity".into(),
                ));
            };
            arcs.push(Arc {
                src,
                dst,
                cost: l.cost,
                capacity,
            });
        }
        Ok(Instance {
            nodes,
            arcs,
            demands,
        })
    }

    /// The instance as mcf text, with the layout of the Larsson–Yuan files.
    fn to_text(&self, name: &str) -> String {
        // `{}` prints an f64 in the shortest form that reads back exactly; adding 0
        // turns -0 (which would read as a negative number) into 0.
        let num = |x: f64| x + 0.0;
        let name: String = name
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut s = String::new();
        let _ = writeln!(
            s,
            "c market {name}, written by brokerflow {}",
            crate::VERSION
        );
        let _ = writeln!(s, "c\nc problem vertices edges commodities");
        let _ = writeln!(
            s,
            "p mcf {} {} {}",
            self.nodes,
            self.arcs.len(),
            self.demands.len()
        );
        let _ = writeln!(s, "c\nc origin destination demand");
        for d in &self.demands {
            let _ = writeln!(s, "k {} {} {}", d.origin, d.dest, num(d.demand));
        }
        let _ = writeln!(s, "c\nc source target cost capacity");
        for a in &self.arcs {
            let _ = writeln!(
                s,
                "a {} {} {} {}",
                a.src,
                a.dst,
                num(a.cost),
                num(a.capacity)
            );
        }
        s
    }
}

/// Names the first list entry where `market` differs from the imported shape.
fn first_difference(market: &Market, rebuilt: &Market) -> McfError {
    fn diff<T: PartialEq>(list: &str, have: &[T], want: &[T]) -> Option<String> {
        if have == want {
            return None;
        }
        let i = have
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(have.len().min(want.len()));
        Some(format!("{list}[{i}]"))
    }
    let at = diff("users", &market.users, &rebuilt.users)
        .or_else(|| diff("brokers", &market.brokers, &rebuilt.brokers))
        .or_else(|| diff("providers", &market.providers, &rebuilt.providers))
        .or_else(|| diff("links", &market.links, &rebuilt.links))
        .unwrap_or_else(|| "(top level)".into());
    McfError::NotImported {
        at,
        why: "not what an import produces here: participants and links must be exactly those of the mapping, in its order".into(),
    }
}
