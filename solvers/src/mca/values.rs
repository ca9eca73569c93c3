//! Bundle values v_i(S), marginal utilities u_i(j | S), the sub-modularity test and
//! the brute-force optimum ([MCA-Alloy] §II-A, Definition 2, Remark 3).

use std::collections::BTreeMap;

/// A set of items as a bit mask (bit j = item j); scenarios have at most
/// [`MAX_ITEMS`] items.
pub type ItemSet = u64;

/// Items a scenario may have: a bundle is one [`ItemSet`] word.
pub const MAX_ITEMS: usize = 64;

/// Items up to which [`optimum`] searches every assignment (n · 3^|J| steps).
pub const OPTIMUM_MAX_ITEMS: usize = 10;

/// Items up to which [`is_submodular`] checks every bundle (2^|J| · |J|² steps).
pub const SUBMODULAR_CHECK_MAX_ITEMS: usize = 16;

/// The private utility of the agents ([MCA-Alloy] §II-A: "each agent is associated
/// with a private utility"): agent i's value v_i(S) of holding bundle S. The seam
/// between the protocol and where values come from (a scenario file's table, or a
/// market's provider margins).
pub trait BundleValues {
    /// v_i(S); v_i(∅) = 0.
    fn value(&self, agent: usize, bundle: ItemSet) -> f64;

    /// u_i(j | S) = v_i(S ∪ {j}) − v_i(S), the marginal utility an agent bids
    /// ([MCA-Alloy] Definition 2's u(j, m)).
    fn marginal(&self, agent: usize, item: usize, bundle: ItemSet) -> f64 {
        self.value(agent, bundle | (1 << item)) - self.value(agent, bundle)
    }
}

/// Values written as a table: explicit bundle values, and for a bundle without an
/// entry the sum of its items' single values (a missing single counts 0).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableValues {
    /// Per agent, bundle → value, as given.
    pub explicit: Vec<BTreeMap<ItemSet, f64>>,
    /// Per agent, v_i({j}) for every item j (0 where not given).
    pub singles: Vec<Vec<f64>>,
}

impl BundleValues for TableValues {
    fn value(&self, agent: usize, bundle: ItemSet) -> f64 {
        if bundle == 0 {
            return 0.0;
        }
        if let Some(&v) = self.explicit[agent].get(&bundle) {
            return v;
        }
        let singles = &self.singles[agent];
        (0..singles.len())
            .filter(|j| bundle & (1 << j) != 0)
            .map(|j| singles[j])
            .sum()
    }
}

/// Whether agent i's values are sub-modular over `items` items ([MCA-Alloy]
/// Definition 2: u(j, m′) ≥ u(j, m) for every m′ ⊂ m): checked as u(j | S) ≥
/// u(j | S ∪ {k}) for every S and j, k ∉ S, with a relative round-off tolerance.
/// `None` above [`SUBMODULAR_CHECK_MAX_ITEMS`] items.
///
/// # Arguments
/// * `values`: the bundle values.
/// * `agent`: agent i.
/// * `items`: |J|.
///
/// # Returns
/// Whether every marginal utility shrinks as the bundle grows, or `None`.
///
/// # Complexity
/// O(2^|J| · |J|²) marginal-utility evaluations.
///
/// # Example
/// ```
/// use brokerflow_solvers::mca::values::is_submodular;
/// use brokerflow_solvers::mca::Scenario;
///
/// // Additive values are sub-modular: every marginal utility is the item's value.
/// let json = r#"{"name": "hand", "agents": ["1", "2"], "items": ["A", "C"],
///     "values": {"1": {"A": 5, "C": 3}, "2": {"C": 6, "A": 4}},
///     "policy": {"release_outbid": true, "target_bundle": 2, "rebid_lost": false}}"#;
/// let s = Scenario::from_json_str(json, "hand.json")?;
/// assert_eq!(is_submodular(s.values.as_ref(), 0, 2), Some(true));
/// # Ok::<_, brokerflow_solvers::mca::McaError>(())
/// ```
///
/// Paper: [MCA-Alloy] Definition 2.
pub fn is_submodular(values: &dyn BundleValues, agent: usize, items: usize) -> Option<bool> {
    if items > SUBMODULAR_CHECK_MAX_ITEMS {
        return None;
    }
    let all: ItemSet = if items == 64 { !0 } else { (1 << items) - 1 };
    let mut s: ItemSet = 0;
    loop {
        for j in 0..items {
            if s & (1 << j) != 0 {
                continue;
            }
            let base = values.marginal(agent, j, s);
            for k in 0..items {
                if k == j || s & (1 << k) != 0 {
                    continue;
                }
                let grown = values.marginal(agent, j, s | (1 << k));
                if grown > base + 1e-9 * base.abs().max(1.0) {
                    return Some(false);
                }
            }
        }
        if s == all {
            return Some(true);
        }
        s = (s + 1) & all;
    }
}

/// The optimum the (1 − 1/e) guarantee is measured against ([MCA-Alloy] Remark 3):
/// max Σ_i v_i(S_i) over disjoint bundles S_i with |S_i| ≤ `target`, by dynamic
/// programming over agents and subsets (exact, n · 3^|J|). `None` above
/// [`OPTIMUM_MAX_ITEMS`] items.
///
/// # Arguments
/// * `values`: the bundle values.
/// * `agents`, `items`: n and |J|.
/// * `target`: the largest bundle T.
///
/// # Returns
/// The optimum, or `None`.
///
/// # Complexity
/// O(n · 3^|J|) time and O(2^|J|) space.
///
/// # Example
/// ```
/// use brokerflow_solvers::mca::values::optimum;
/// use brokerflow_solvers::mca::Scenario;
///
/// // Additive (so sub-modular) values: A is worth 5 to agent 1 and 4 to agent 2, C 3
/// // and 6, so the best assignment is A to 1, C to 2, worth 5 + 6 = 11.
/// // With one item per agent it is still 11; agent 1 alone, with one item, makes 5.
/// let json = r#"{"name": "hand", "agents": ["1", "2"], "items": ["A", "C"],
///     "values": {"1": {"A": 5, "C": 3}, "2": {"C": 6, "A": 4}},
///     "policy": {"release_outbid": true, "target_bundle": 2, "rebid_lost": false}}"#;
/// let s = Scenario::from_json_str(json, "hand.json")?;
/// assert_eq!(optimum(s.values.as_ref(), 2, 2, 2), Some(11.0));
/// assert_eq!(optimum(s.values.as_ref(), 2, 2, 1), Some(11.0));
/// assert_eq!(optimum(s.values.as_ref(), 1, 2, 1), Some(5.0));
/// # Ok::<_, brokerflow_solvers::mca::McaError>(())
/// ```
///
/// Paper: [MCA-Alloy] Remark 3.
pub fn optimum(
    values: &dyn BundleValues,
    agents: usize,
    items: usize,
    target: usize,
) -> Option<f64> {
    if items > OPTIMUM_MAX_ITEMS {
        return None;
    }
    let full = 1usize << items;
    // best[S]: the most the agents so far make from exactly the items in S.
    let mut best = vec![f64::NEG_INFINITY; full];
    best[0] = 0.0;
    for i in 0..agents {
        let v: Vec<f64> = (0..full)
            .map(|t| {
                if (t as u64).count_ones() as usize <= target {
                    values.value(i, t as u64)
                } else {
                    f64::NEG_INFINITY
                }
            })
            .collect();
        let mut next = best.clone();
        for s in 1..full {
            // Every non-empty sub-bundle t of s goes to agent i.
            let mut t = s;
            while t > 0 {
                let cand = best[s & !t] + v[t];
                if cand > next[s] {
                    next[s] = cand;
                }
                t = (t - 1) & s;
            }
        }
        best = next;
    }
    Some(best.into_iter().fold(0.0, f64::max))
}
