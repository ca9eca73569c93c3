//! The scenario file: agents, items, the neighbour graph, bundle values and the
//! policy ([MCA-Alloy] §IV's static model: pnode with its policies p_T, p_u, p_RO,
//! and its pconnections), validated as strictly as a market file.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::protocol::Rules;
use super::values::{BundleValues, ItemSet, TableValues, MAX_ITEMS};

/// The most agents a scenario may have (agent ids travel in messages as small
/// integers).
pub const MAX_AGENTS: usize = 64;

/// Why a scenario could not be read, or an exploration could not be made.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum McaError {
    /// Not JSON of the documented shape (unknown field, wrong type, missing field).
    #[error("{origin}: {path}: {message} (expected {{\"agents\": [ids], \"items\": [ids], \"neighbours\": [[id, id], …] (optional), \"values\": {{agent: {{\"A+B\": number}}}}, \"policy\": {{\"release_outbid\": bool, \"target_bundle\": integer, \"rebid_lost\": bool}}, \"rules\": \"cbba\"|\"bid-time\" (optional)}})")]
    Parse {
        /// The file.
        origin: String,
        /// JSON path of the offending value (empty at the top).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The scenario breaks a rule: names the file, the JSON path or id, and the rule.
    #[error("{origin}: {at}: {rule}")]
    Invalid {
        /// The file.
        origin: String,
        /// JSON path or id.
        at: String,
        /// The rule broken.
        rule: String,
    },
    /// A policy name on the command line that does not parse.
    #[error("policy '{name}': {rule} (write release|keep, -T<target>, optional -rebid: e.g. release-T2, keep-T1-rebid; or 'all')")]
    BadPolicy {
        /// The name given.
        name: String,
        /// What is wrong.
        rule: String,
    },
    /// A rule-set name on the command line that does not parse.
    #[error("rules '{name}': unknown (known: cbba, bid-time)")]
    BadRules {
        /// The name given.
        name: String,
    },
    /// The exploration would visit more states than its limit.
    #[error("the exploration of policy {policy} passed {limit} states at {deliveries} deliveries: too large for exhaustive search; lower --max-deliveries or the scope")]
    TooManyStates {
        /// The policy explored.
        policy: String,
        /// The state limit.
        limit: usize,
        /// Depth reached.
        deliveries: usize,
    },
    /// An exploration of a scenario under one rule set failed (beyond its limit).
    #[error("{origin} ({} rules)", .rules.name())]
    Exploration {
        /// The scenario file.
        origin: String,
        /// The rule set explored.
        rules: crate::mca::Rules,
        /// Why.
        #[source]
        source: Box<McaError>,
    },
}

/// The three policies of [MCA-Alloy] §IV (p_RO, p_T, and Remark 1's rebidding
/// switch), the same for every agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Policy {
    /// p_RO: when outbid on an item, release the items added to the bundle after
    /// it (so they can be rebid at fresh marginal values, Remark 2); otherwise keep
    /// them at their old bids.
    pub release_outbid: bool,
    /// p_T: the target bundle size T_i, the most items an agent holds.
    pub target_bundle: usize,
    /// The rebidding attack (Remark 1 switched off): after losing an item the agent
    /// re-asserts its own bid on it with a fresh time.
    pub rebid_lost: bool,
}

impl Policy {
    /// The policy's short name: `release|keep`, `-T<target>`, `-rebid` if set.
    pub fn name(&self) -> String {
        format!(
            "{}-T{}{}",
            if self.release_outbid {
                "release"
            } else {
                "keep"
            },
            self.target_bundle,
            if self.rebid_lost { "-rebid" } else { "" }
        )
    }

    /// Parses [`Policy::name`]'s form.
    pub fn parse(name: &str) -> Result<Policy, McaError> {
        let bad = |rule: &str| McaError::BadPolicy {
            name: name.to_string(),
            rule: rule.to_string(),
        };
        let mut parts = name.trim().split('-');
        let release_outbid = match parts.next() {
            Some("release") => true,
            Some("keep") => false,
            _ => return Err(bad("must start with 'release' or 'keep'")),
        };
        let target_bundle = parts
            .next()
            .and_then(|t| t.strip_prefix('T'))
            .and_then(|t| t.parse::<usize>().ok())
            .filter(|&t| t >= 1)
            .ok_or_else(|| bad("the target bundle size must follow as -T<n>, n >= 1"))?;
        let rebid_lost = match parts.next() {
            None => false,
            Some("rebid") => true,
            Some(_) => return Err(bad("only '-rebid' may follow the target")),
        };
        if parts.next().is_some() {
            return Err(bad("nothing may follow '-rebid'"));
        }
        Ok(Policy {
            release_outbid,
            target_bundle,
            rebid_lost,
        })
    }

    /// Every combination for `items` items: without rebidding first, then with; keep
    /// before release; T = 1 … |J|.
    pub fn all(items: usize) -> Vec<Policy> {
        let mut out = Vec::new();
        for rebid_lost in [false, true] {
            for release_outbid in [false, true] {
                for target_bundle in 1..=items.max(1) {
                    out.push(Policy {
                        release_outbid,
                        target_bundle,
                        rebid_lost,
                    });
                }
            }
        }
        out
    }
}

/// A scenario file as written (JSON). Unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct ScenarioFile {
    /// A human name (defaults to empty).
    #[serde(default)]
    pub name: String,
    /// Agent ids; the order is the agents' id order (ties go to the earlier agent).
    pub agents: Vec<String>,
    /// Item ids (no `+`, which joins bundles).
    pub items: Vec<String>,
    /// Undirected neighbour pairs; absent = the complete graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbours: Option<Vec<(String, String)>>,
    /// Agent → bundle ("A+C", any order) → value ≥ 0. A bundle without an entry is
    /// worth the sum of its items' values; an agent without an entry values nothing.
    pub values: BTreeMap<String, BTreeMap<String, f64>>,
    /// The policy every agent follows.
    pub policy: Policy,
    /// The conflict rules (`cbba`, the default, or `bid-time`; design §9).
    #[serde(default)]
    pub rules: Rules,
    /// Free-form provenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A validated scenario: what the runner and the explorer take.
pub struct Scenario {
    /// A human name.
    pub name: String,
    /// Agent ids, in id order.
    pub agents: Vec<String>,
    /// Item ids.
    pub items: Vec<String>,
    /// Per agent, its neighbours in increasing order.
    pub neighbours: Vec<Vec<usize>>,
    /// The bundle values.
    pub values: Box<dyn BundleValues + Send + Sync>,
    /// The policy given in the file (the explorer may try others).
    pub policy: Policy,
    /// The conflict rules given in the file (the command line may override them).
    pub rules: Rules,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name)
            .field("agents", &self.agents)
            .field("items", &self.items)
            .field("neighbours", &self.neighbours)
            .field("policy", &self.policy)
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl Scenario {
    /// Reads a max-consensus auction scenario (agents, items, neighbours, bundle
    /// values, policy) from its JSON file and validates it as strictly as a market
    /// file ([`Scenario::from_file`]'s rules).
    ///
    /// # Arguments
    /// * `text`: the JSON.
    /// * `origin`: its name, quoted in errors.
    ///
    /// # Returns
    /// The scenario; without `neighbours` the agents form a complete graph.
    ///
    /// # Errors
    /// [`McaError::Parse`] naming the JSON path, or [`McaError::Invalid`] naming the
    /// rule broken.
    ///
    /// # Complexity
    /// O(size of the text + n² + n · |J|) for n agents and |J| items.
    ///
    /// # Example
    /// ```
    /// use brokerflow_solvers::mca::Scenario;
    ///
    /// let json = r#"{"name": "pair", "agents": ["1", "2"], "items": ["A"],
    ///     "values": {"1": {"A": 5}, "2": {"A": 4}},
    ///     "policy": {"release_outbid": true, "target_bundle": 1, "rebid_lost": false}}"#;
    /// let s = Scenario::from_json_str(json, "pair.json")?;
    /// assert_eq!(s.neighbours, vec![vec![1], vec![0]]);
    /// assert_eq!((s.diameter(), s.bound()), (1, 1)); // D·|J| = 1·1
    /// assert!(Scenario::from_json_str(&json.replace("5", "-5"), "neg.json").is_err());
    /// # Ok::<_, brokerflow_solvers::mca::McaError>(())
    /// ```
    ///
    /// Paper: [MCA-Alloy] §II-A (the agents, items and policies of the model).
    pub fn from_json_str(text: &str, origin: &str) -> Result<Scenario, McaError> {
        let file: ScenarioFile =
            brokerflow_graphs::json::read(text, origin, "scenario", "the file is empty").map_err(
                |e| McaError::Parse {
                    origin: e.origin,
                    path: match e.path.is_empty() {
                        true => "(top level)".to_string(),
                        false => e.path,
                    },
                    message: e.message,
                },
            )?;
        Scenario::from_file(&file, origin)
    }

    /// Validates a parsed scenario file: ids unique and non-empty, items without
    /// `+`, at most [`MAX_AGENTS`] agents and [`MAX_ITEMS`] items, neighbours known,
    /// distinct, no self-pairs, the graph connected, bundles of known and distinct
    /// items written once, values finite and ≥ 0, a target bundle ≥ 1.
    pub fn from_file(file: &ScenarioFile, origin: &str) -> Result<Scenario, McaError> {
        let bad = |at: String, rule: String| McaError::Invalid {
            origin: origin.to_string(),
            at,
            rule,
        };
        if file.agents.is_empty() {
            return Err(bad("agents".into(), "at least one agent is needed".into()));
        }
        if file.items.is_empty() {
            return Err(bad("items".into(), "at least one item is needed".into()));
        }
        if file.agents.len() > MAX_AGENTS {
            return Err(bad(
                "agents".into(),
                format!("{} agents: at most {MAX_AGENTS}", file.agents.len()),
            ));
        }
        if file.items.len() > MAX_ITEMS {
            return Err(bad(
                "items".into(),
                format!("{} items: at most {MAX_ITEMS}", file.items.len()),
            ));
        }
        let mut agent_ix = BTreeMap::new();
        for (i, a) in file.agents.iter().enumerate() {
            if let Some(problem) = brokerflow_graphs::id_problem(a) {
                return Err(bad(
                    format!("agents[{i}] '{}'", a.escape_debug()),
                    problem.into(),
                ));
            }
            if agent_ix.insert(a.as_str(), i).is_some() {
                return Err(bad(
                    format!("agents[{i}] '{a}'"),
                    "duplicate agent id".into(),
                ));
            }
        }
        let mut item_ix = BTreeMap::new();
        for (j, it) in file.items.iter().enumerate() {
            if let Some(problem) = brokerflow_graphs::id_problem(it) {
                return Err(bad(
                    format!("items[{j}] '{}'", it.escape_debug()),
                    problem.into(),
                ));
            }
            if it.contains('+') {
                return Err(bad(
                    format!("items[{j}] '{it}'"),
                    "an item id must not contain '+', which joins the items of a bundle".into(),
                ));
            }
            if item_ix.insert(it.as_str(), j).is_some() {
                return Err(bad(
                    format!("items[{j}] '{it}'"),
                    "duplicate item id".into(),
                ));
            }
        }
        let n = file.agents.len();
        let mut adj: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
        match &file.neighbours {
            None => {
                for (i, set) in adj.iter_mut().enumerate() {
                    set.extend((0..n).filter(|&k| k != i));
                }
            }
            Some(pairs) => {
                for (p, (u, v)) in pairs.iter().enumerate() {
                    let at = format!("neighbours[{p}] [\"{u}\", \"{v}\"]");
                    let find = |id: &str| {
                        agent_ix.get(id).copied().ok_or_else(|| {
                            bad(
                                at.clone(),
                                format!("unknown agent '{id}' (not in \"agents\")"),
                            )
                        })
                    };
                    let (a, b) = (find(u)?, find(v)?);
                    if a == b {
                        return Err(bad(at, "an agent cannot neighbour itself".into()));
                    }
                    if !adj[a].insert(b) {
                        return Err(bad(
                            at,
                            "duplicate pair (pairs are undirected: [a, b] = [b, a])".into(),
                        ));
                    }
                    adj[b].insert(a);
                }
            }
        }
        let neighbours: Vec<Vec<usize>> =
            adj.into_iter().map(|s| s.into_iter().collect()).collect();
        if let Some(unreached) = unreachable_from_first(&neighbours) {
            return Err(bad(
                "neighbours".into(),
                format!(
                    "the neighbour graph must be connected: '{}' cannot be reached from '{}'",
                    file.agents[unreached], file.agents[0]
                ),
            ));
        }
        let m = file.items.len();
        let mut table = TableValues {
            explicit: vec![BTreeMap::new(); n],
            singles: vec![vec![0.0; m]; n],
        };
        // Every welfare, bundle value and marginal the protocol forms is a sum or a
        // difference of given values, so their running sum bounds them all.
        let mut total = 0.0_f64;
        for (agent, bundles) in &file.values {
            let Some(&i) = agent_ix.get(agent.as_str()) else {
                return Err(bad(
                    format!("values.{agent}"),
                    format!("unknown agent '{agent}' (not in \"agents\")"),
                ));
            };
            for (bundle, &v) in bundles {
                let at = format!("values.{agent}.\"{bundle}\"");
                if !v.is_finite() || v < 0.0 {
                    return Err(bad(at, format!("value {v} must be finite and >= 0")));
                }
                total += v;
                if total > brokerflow_graphs::MONEY_LIMIT {
                    return Err(bad(
                        at,
                        format!(
                            "the values' sum reaches {total:e}, above the limit {:e} (with these numbers welfare overflows; scale the values down)",
                            brokerflow_graphs::MONEY_LIMIT
                        ),
                    ));
                }
                let mut set: ItemSet = 0;
                for part in bundle.split('+') {
                    let part = part.trim();
                    let Some(&j) = item_ix.get(part) else {
                        return Err(bad(
                            at,
                            format!(
                                "unknown item '{part}' (a bundle is item ids joined by '+', from \"items\")"
                            ),
                        ));
                    };
                    if set & (1 << j) != 0 {
                        return Err(bad(
                            at,
                            format!("item '{part}' appears twice in the bundle"),
                        ));
                    }
                    set |= 1 << j;
                }
                if table.explicit[i].insert(set, v + 0.0).is_some() {
                    return Err(bad(
                        at,
                        "the same bundle is given twice (items in another order)".into(),
                    ));
                }
                if set.count_ones() == 1 {
                    table.singles[i][set.trailing_zeros() as usize] = v + 0.0;
                }
            }
        }
        if file.policy.target_bundle == 0 {
            return Err(bad(
                "policy.target_bundle".into(),
                "the target bundle size must be at least 1".into(),
            ));
        }
        Ok(Scenario {
            name: file.name.clone(),
            agents: file.agents.clone(),
            items: file.items.clone(),
            neighbours,
            values: Box::new(table),
            policy: file.policy,
            rules: file.rules,
        })
    }

    /// D, the neighbour graph's diameter: the largest hop distance between two
    /// agents that reach each other (0 for a single agent).
    pub fn diameter(&self) -> usize {
        diameter(&self.neighbours)
    }

    /// D·|J|, the bound on synchronous rounds to consensus ([MCA-Alloy] §V: "the
    /// number of messages required to reach consensus is upper bounded by D·|V_H|").
    pub fn bound(&self) -> usize {
        self.diameter() * self.items.len()
    }

    /// Whether every agent's values are sub-modular; `None` when there are too many
    /// items to check ([`super::values::SUBMODULAR_CHECK_MAX_ITEMS`]).
    pub fn is_submodular(&self) -> Option<bool> {
        let mut all = true;
        for i in 0..self.agents.len() {
            all &= super::values::is_submodular(self.values.as_ref(), i, self.items.len())?;
        }
        Some(all)
    }

    /// The brute-force optimum at the scenario's target bundle size (≤
    /// [`super::values::OPTIMUM_MAX_ITEMS`] items).
    pub fn optimum(&self, policy: &Policy) -> Option<f64> {
        super::values::optimum(
            self.values.as_ref(),
            self.agents.len(),
            self.items.len(),
            policy.target_bundle,
        )
    }
}

/// Hop distances from `from` (`None` where unreachable).
fn distances(adj: &[Vec<usize>], from: usize) -> Vec<Option<usize>> {
    let mut d = vec![None; adj.len()];
    d[from] = Some(0);
    let mut queue = VecDeque::from([from]);
    while let Some(u) = queue.pop_front() {
        let du = d[u].unwrap_or(0);
        for &v in &adj[u] {
            if d[v].is_none() {
                d[v] = Some(du + 1);
                queue.push_back(v);
            }
        }
    }
    d
}

/// The first agent not reachable from agent 0, if any.
fn unreachable_from_first(adj: &[Vec<usize>]) -> Option<usize> {
    if adj.is_empty() {
        return None;
    }
    distances(adj, 0).iter().position(|d| d.is_none())
}

/// The largest finite hop distance in the agents' neighbour graph (per connected
/// component): the D of [MCA-Alloy] §V's bound D·|J| on the rounds to consensus.
///
/// # Arguments
/// * `adj`: per agent, its neighbours.
///
/// # Returns
/// D; 0 for no agents or no links.
///
/// # Complexity
/// O(n · (n + e)) for n agents and e links (a breadth-first search from each).
///
/// # Example
/// ```
/// use brokerflow_solvers::mca::scenario::diameter;
///
/// // A path 0 – 1 – 2 – 3 has diameter 3; a triangle 1.
/// assert_eq!(diameter(&[vec![1], vec![0, 2], vec![1, 3], vec![2]]), 3);
/// assert_eq!(diameter(&[vec![1, 2], vec![0, 2], vec![0, 1]]), 1);
/// ```
///
/// Paper: [MCA-Alloy] §V.
pub fn diameter(adj: &[Vec<usize>]) -> usize {
    (0..adj.len())
        .flat_map(|u| distances(adj, u))
        .flatten()
        .max()
        .unwrap_or(0)
}

// Every record of the file is read from a JSON object only (brokerflow_graphs::json).
brokerflow_graphs::object_only!(Policy, "the policy", serialize);
brokerflow_graphs::object_only!(ScenarioFile, "the scenario", serialize);
