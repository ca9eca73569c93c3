//! The measures of design §8, defined once and used everywhere: CLI, experiments,
//! benchmarks.

use brokerflow_graphs::{ExpandedGraph, Flow};
use serde::Serialize;

/// W* at or below this (money per time unit) makes a ratio against it meaningless:
/// `percent_of_optimum` and `gap_closed` are then `None`, with a reason.
pub const OPTIMUM_TOLERANCE: f64 = 1e-6;

/// A measure that may be undefined, with the reason when it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measure {
    /// The value, `None` where undefined.
    pub value: Option<f64>,
    /// Why it is undefined, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

impl Measure {
    fn some(value: f64) -> Measure {
        Measure {
            value: Some(value),
            reason: None,
        }
    }

    fn none(reason: &'static str) -> Measure {
        Measure {
            value: None,
            reason: Some(reason),
        }
    }
}

/// percent_of_optimum = 100 · W / W*: a flow's welfare as a share of the LP optimum,
/// the measure of [MCF-Grid] §6's comparison with the optimum (design §8).
///
/// # Arguments
/// * `welfare`: W of the flow judged.
/// * `optimum`: W* of the matching LP (P2 at the injected amounts, or P3).
///
/// # Returns
/// The percentage, or undefined with a reason when W* ≤ [`OPTIMUM_TOLERANCE`].
///
/// # Complexity
/// O(1).
///
/// # Example
/// ```
/// use brokerflow_solvers::measures::percent_of_optimum;
///
/// // tiny (graphs/markets/tiny.md §5, §7): P2's 130 against P3's 141.
/// let m = percent_of_optimum(130.0, 141.0);
/// assert!((m.value.unwrap() - 100.0 * 130.0 / 141.0).abs() < 1e-12);
/// assert!(percent_of_optimum(5.0, 0.0).value.is_none());
/// ```
///
/// Paper: [MCF-Grid] §6 (Table 1's comparison with the optimum).
pub fn percent_of_optimum(welfare: f64, optimum: f64) -> Measure {
    if optimum <= OPTIMUM_TOLERANCE {
        Measure::none("the optimum welfare is zero or negative (at most 1e-6)")
    } else {
        Measure::some(100.0 * welfare / optimum)
    }
}

/// gap_closed's indifference tolerance (design §8): where the best and worst routing
/// differ by at most this share of max(1, |W*|), every routing is about as good as any
/// other and the ratio would measure noise, so gap_closed is undefined.
pub const GAP_TOLERANCE: f64 = 1e-3;

/// gap_closed = (W − W⁻) / (W* − W⁻) (design §8): where between the worst (P2⁻) and
/// best (P2) routing of the same amounts a flow's welfare lies. The caller passes W*
/// and W⁻ solved at the amounts the flow serves (for an engine run, its
/// steady flow's served rates), so the measure judges routing alone. Undefined
/// when P2⁻ is undefined (`worst = None`, cyclic market) or W* − W⁻ ≤
/// [`GAP_TOLERANCE`]·max(1, |W*|).
///
/// # Arguments
/// * `welfare`: W of the flow judged.
/// * `optimum`: W* of P2 at the flow's amounts (the best routing).
/// * `worst`: W⁻ of P2⁻ at the same amounts, `None` where P2⁻ is undefined.
///
/// # Returns
/// The fraction of the gap closed (1 = best routing, 0 = worst), or undefined with a
/// reason.
///
/// # Complexity
/// O(1).
///
/// # Example
/// ```
/// use brokerflow_solvers::measures::gap_closed;
///
/// // tiny at (5, 10, 5): P2 = 130, P2⁻ = 122 (graphs/markets/tiny.md §5, §6).
/// assert_eq!(gap_closed(126.0, 130.0, Some(122.0)).value, Some(0.5));
/// assert_eq!(gap_closed(130.0, 130.0, Some(122.0)).value, Some(1.0));
/// assert!(gap_closed(126.0, 130.0, None).value.is_none());
/// ```
///
/// Paper: [MCF-Grid] §4.2 (P2's best routing); the worst routing P2⁻ and the measure
/// are brokerflow's (design §8).
pub fn gap_closed(welfare: f64, optimum: f64, worst: Option<f64>) -> Measure {
    match worst {
        None => Measure::none("the worst routing (P2-) is undefined on a cyclic market"),
        Some(w) if optimum - w <= GAP_TOLERANCE * optimum.abs().max(1.0) => Measure::none(
            "every routing of these amounts has about the same welfare (W* - W- <= 1e-3 max(1, |W*|))",
        ),
        Some(w) => Measure::some((welfare - w) / (optimum - w)),
    }
}

/// price_error = max_n |λ_n − y_n| / max_n y_n over the capacity-limited nodes of G′:
/// how far an engine run's node prices λ (the welfare-seeking variant's window-averaged
/// multipliers, [`crate::engine::EngineRun::prices`]) lie from P3's exact dual prices y,
/// relative to the largest dual price. Not one of design §8's measures: defined here
/// for the welfare-seeking engine, whose prices are compared with the exact LP
/// duals of P3. Undefined
/// when no dual price exceeds [`OPTIMUM_TOLERANCE`] (nothing is scarce). Duals of a
/// degenerate P3 are one optimal vertex among several, so a large value can also mean
/// the engine found another optimal price vector.
///
/// # Arguments
/// * `prices`: λ_n per G′ node, `None` where the run has none.
/// * `duals`: P3's dual price y_n per G′ node.
///
/// # Returns
/// The largest price error relative to the largest dual price, or undefined with a
/// reason.
///
/// # Complexity
/// O(N) for N nodes of G′.
///
/// # Example
/// ```
/// use brokerflow_solvers::measures::price_error;
///
/// // tiny's P3 prices (graphs/markets/tiny.md §7): `u1->b1` 16, p1 3, `b1->b2` 2.
/// let duals = [16.0, 3.0, 2.0, 0.0];
/// let prices = [Some(16.0), Some(3.0), Some(2.0), None];
/// assert_eq!(price_error(&prices, &duals).value, Some(0.0));
/// let off = [Some(12.0), Some(3.0), Some(2.0), None];
/// assert_eq!(price_error(&off, &duals).value, Some(4.0 / 16.0));
/// assert!(price_error(&prices, &[0.0; 4]).value.is_none());
/// ```
///
/// Paper: [MCF-Grid] §4.2 (P3's resource prices are its duals).
pub fn price_error(prices: &[Option<f64>], duals: &[f64]) -> Measure {
    let largest = duals.iter().cloned().fold(0.0, f64::max);
    if largest <= OPTIMUM_TOLERANCE {
        return Measure::none("no resource has a positive P3 price");
    }
    let worst = prices
        .iter()
        .zip(duals)
        .filter_map(|(p, y)| Some((p.as_ref()? - y).abs()))
        .fold(0.0, f64::max);
    Measure::some(worst / largest)
}

/// served_fraction = Σ f_k / Σ d_k over non-stranded users (design §8): how much of the
/// users' demand a flow serves.
///
/// # Arguments
/// * `g`: the expanded graph G′.
/// * `flow`: the flow.
///
/// # Returns
/// The fraction, `None` when the non-stranded users have no demand at all.
///
/// # Complexity
/// O(|P|) for |P| usable pairs (f_k read off each t_k's in-edges).
///
/// # Example
/// ```
/// use brokerflow_graphs::{examples, ExpandedGraph, Flow};
/// use brokerflow_solvers::measures::served_fraction;
///
/// // tiny: u1 served 5 on its one route, of a total demand 10 + 20 + 10.
/// let g = ExpandedGraph::new(&examples::tiny());
/// let flow = Flow { x: vec![vec![5.0; 4], vec![0.0; 8], vec![0.0; 4]] };
/// assert_eq!(served_fraction(&g, &flow), Some(5.0 / 40.0));
/// ```
///
/// Paper: [MCF-Grid] §4.2 (f_k ≤ d_k).
pub fn served_fraction(g: &ExpandedGraph, flow: &Flow) -> Option<f64> {
    let (served, demand) = g
        .commodities
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.is_stranded())
        .fold((0.0, 0.0), |(s, d), (k, c)| {
            (s + flow.served(g, k), d + c.demand)
        });
    (demand > 0.0).then(|| served / demand)
}
