//! The per-node resource allocation of [MCF-Grid] §5.1 phase 3 (design §5 step 3):
//! reverse water-filling.

use serde::{Deserialize, Serialize};

/// The potential Φ of a queue of normalised height y ([MCF-Grid] §5).
///
/// The first paragraph of each variant's doc is its help on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Potential {
    /// Φ(y) = y²/2 (the paper's).
    ///
    /// Pushes solve in closed form.
    #[default]
    Quadratic,
    /// Φ(y) = e^y.
    ///
    /// Steeper for high queues, which pushes harder out of congestion; the multiplier
    /// is then found by bisection.
    Exponential,
}

impl Potential {
    /// Every potential.
    pub const ALL: [Potential; 2] = [Potential::Quadratic, Potential::Exponential];

    /// `quadratic` or `exponential`: the name on the command line and in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Potential::Quadratic => "quadratic",
            Potential::Exponential => "exponential",
        }
    }
}

impl std::str::FromStr for Potential {
    type Err = super::UnknownChoice;

    fn from_str(name: &str) -> Result<Potential, Self::Err> {
        Potential::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                super::UnknownChoice::new("potential", name, Potential::ALL.map(Potential::name))
            })
    }
}

/// One term of a node's push problem: a (commodity, out-edge) pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Term {
    /// q̄_t: the height of the edge's tail queue here.
    pub tail: f64,
    /// q̄_h: the height of the head queue at n′; `None` when n′ is the collection point.
    pub head: Option<f64>,
    /// w^k_{n,n′} > 0.
    pub weight: f64,
    /// d_k·r^k_n: resource used per unit of x̄.
    pub usage: f64,
    /// A linear cost per unit of x̄ added to the push objective (drift-plus-penalty:
    /// V·unit cost·d_k); 0 in the fair and utility-aware variants.
    pub penalty: f64,
}

/// The solution of one node's push problem: the pushes and the capacity's multiplier.
#[derive(Debug, Clone, PartialEq)]
pub struct WaterFill {
    /// x̄ per term, in the order of the terms.
    pub x: Vec<f64>,
    /// λ ≥ 0, the multiplier of the capacity constraint (0 when it does not bind). With
    /// the welfare-seeking weights (w = d_k / V_k, penalty = d_k × reduced cost) it is a
    /// price in money per resource unit, the same for every commodity.
    pub lambda: f64,
}

/// Push terms laid out by field, as the engine's step collects them (one plain
/// store per field: no struct is copied through memory in the hot loop).
#[derive(Debug, Clone, Default)]
pub(crate) struct Terms {
    tail: Vec<f64>,
    /// q̄_h, or 0 where `sink` (unused there).
    head: Vec<f64>,
    sink: Vec<bool>,
    weight: Vec<f64>,
    usage: Vec<f64>,
    penalty: Vec<f64>,
}

impl Terms {
    pub(crate) fn clear(&mut self) {
        self.tail.clear();
        self.head.clear();
        self.sink.clear();
        self.weight.clear();
        self.usage.clear();
        self.penalty.clear();
    }

    #[inline]
    pub(crate) fn push(&mut self, t: &Term) {
        self.tail.push(t.tail);
        self.head.push(t.head.unwrap_or(0.0));
        self.sink.push(t.head.is_none());
        self.weight.push(t.weight);
        self.usage.push(t.usage);
        self.penalty.push(t.penalty);
    }

    fn len(&self) -> usize {
        self.tail.len()
    }

    #[inline]
    fn get(&self, i: usize) -> Term {
        Term {
            tail: self.tail[i],
            head: (!self.sink[i]).then_some(self.head[i]),
            weight: self.weight[i],
            usage: self.usage[i],
            penalty: self.penalty[i],
        }
    }

    fn iter(&self) -> impl Iterator<Item = Term> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// Reusable buffers of the water-fill: after the first calls of a run nothing is
/// allocated.
#[derive(Debug, Clone, Default)]
pub(crate) struct FillScratch {
    /// x̄ per term of the last call, in the order of the terms.
    pub(crate) x: Vec<f64>,
    pieces: Vec<Piece>,
    events: Vec<Event>,
}

/// Minimises Σ_i w_i·[Φ(q̄_t − x̄_i) + Φ(q̄_h + x̄_i)] + penalty_i·x̄_i subject to
/// Σ_i usage_i·x̄_i ≤ R and 0 ≤ x̄_i ≤ q̄_t (the head term dropped for edges into t_k);
/// returns x̄ and the multiplier λ. The engine's step runs the same arithmetic on
/// reusable buffers.
///
/// For the quadratic Φ, with multiplier λ ≥ 0:
/// x̄_i(λ) = clamp(((q̄_t − q̄_h) − (λ·usage + penalty)/w) / 2, 0, q̄_t), or
/// clamp(q̄_t − (λ·usage + penalty)/w, 0, q̄_t) into t_k. λ = 0 if that fits in R;
/// otherwise the one λ where it fills R exactly, found by sorting the breakpoints and
/// walking them.
///
/// # Arguments
/// * `terms`: the node's (commodity, out-edge) pairs with their queue heights,
///   weights, resource use and penalties.
/// * `capacity`: R_n, `None` when unlimited.
/// * `potential`: Φ.
///
/// # Returns
/// The pushes x̄ (in the order of `terms`) and λ (0 when the capacity does not bind).
///
/// # Complexity
/// O(m log m) time and O(m) space for m terms with the quadratic Φ (sorting the
/// breakpoints); O(m) per bisection step (a fixed number of them) with the
/// exponential Φ.
///
/// # Example
/// ```
/// use brokerflow_solvers::engine::{reverse_water_fill, Potential, Term};
///
/// // Two equal queues of height 10 above empty heads: unlimited, each pushes
/// // (10 − 0)/2 = 5. With room for 4 units, each gets 2 = (10 − λ)/2, so λ = 6.
/// let t = Term { tail: 10.0, head: Some(0.0), weight: 1.0, usage: 1.0, penalty: 0.0 };
/// let free = reverse_water_fill(&[t, t], None, Potential::Quadratic);
/// assert_eq!((free.x, free.lambda), (vec![5.0, 5.0], 0.0));
/// let bound = reverse_water_fill(&[t, t], Some(4.0), Potential::Quadratic);
/// assert!(bound.x.iter().all(|x| (x - 2.0).abs() < 1e-9));
/// assert!((bound.lambda - 6.0).abs() < 1e-9);
/// ```
///
/// Paper: [MCF-Grid] §5.1 (4)–(5), after \[Awerbuch–Leighton\]'s reverse
/// water-filling.
pub fn reverse_water_fill(
    terms: &[Term],
    capacity: Option<f64>,
    potential: Potential,
) -> WaterFill {
    let mut table = Terms::default();
    terms.iter().for_each(|t| table.push(t));
    let mut scratch = FillScratch::default();
    scratch
        .x
        .extend(terms.iter().map(|t| push(t, 0.0, potential)));
    let lambda = match capacity {
        Some(capacity) if !fits(used(&table, &scratch.x), capacity) => {
            water_fill_bound(&table, capacity, potential, &mut scratch)
        }
        _ => 0.0,
    };
    WaterFill {
        x: scratch.x,
        lambda,
    }
}

/// The water-fill once the free pushes (λ = 0) use more than `capacity`: finds λ > 0
/// and leaves x̄(λ) in `scratch.x`.
pub(crate) fn water_fill_bound(
    terms: &Terms,
    capacity: f64,
    potential: Potential,
    scratch: &mut FillScratch,
) -> f64 {
    let lambda = match potential {
        Potential::Quadratic => {
            let lambda = quadratic_lambda(terms, capacity, scratch);
            scratch.x.clear();
            scratch
                .x
                .extend(terms.iter().map(|t| push(&t, lambda, potential)));
            lambda
        }
        Potential::Exponential => {
            let mu = bisect_log_lambda(terms, capacity);
            scratch.x.clear();
            scratch
                .x
                .extend(terms.iter().map(|t| exponential_push_at(&t, mu)));
            // λ itself leaves the range of f64 where heights do (above about 700):
            // reported as the largest finite number then.
            mu.exp().min(f64::MAX)
        }
    };
    // Round-off must never let a node exceed its capacity, and a push that is not a
    // number sends nothing.
    let total = used(terms, &scratch.x);
    if total.is_nan() {
        scratch.x.iter_mut().for_each(|v| *v = 0.0);
    } else if total > capacity && total > 0.0 {
        let scale = capacity / total;
        scratch.x.iter_mut().for_each(|v| *v *= scale);
    }
    lambda
}

/// Whether resource use `used` fits in `capacity` (not when `used` is NaN).
pub(crate) fn fits(used: f64, capacity: f64) -> bool {
    used <= capacity
}

/// Σ usage·x̄, in term order.
fn used(terms: &Terms, x: &[f64]) -> f64 {
    terms.usage.iter().zip(x).map(|(u, x)| u * x).sum()
}

/// x̄ of one term at multiplier λ.
#[inline]
pub(crate) fn push(t: &Term, lambda: f64, potential: Potential) -> f64 {
    // Written so that a height that is not a number pushes nothing (and never reaches
    // `clamp` as a bound).
    if t.tail.is_nan() || t.tail <= 0.0 || t.weight <= 0.0 {
        return 0.0;
    }
    if potential == Potential::Exponential {
        let mu = if lambda > 0.0 {
            lambda.ln()
        } else {
            f64::NEG_INFINITY
        };
        return exponential_push_at(t, mu);
    }
    // Dividing by a weight of 1 (the fair variant's) changes no bits: skip it.
    let cost = lambda * t.usage + t.penalty;
    let price = if t.weight == 1.0 {
        cost
    } else {
        cost / t.weight
    };
    let x = match t.head {
        Some(h) => ((t.tail - h) - price) / 2.0,
        None => t.tail - price,
    };
    // Infinite heights or prices (never on a market the engine accepts) push nothing.
    if x.is_nan() {
        return 0.0;
    }
    x.clamp(0.0, t.tail)
}

/// The exponential push of one term at multiplier λ = e^μ (μ = −∞ for λ = 0), clamped
/// to [0, q̄_t], computed so that no exponential of a height is ever formed: e^y
/// overflows above y ≈ 709, and a queue 1 000 times its demand high is within the
/// ceiling's range.
///
/// With price p = (λ·usage + penalty) / w, the stationarity condition of
/// w·[e^(q_t−x) + e^(q_h+x)] + p·w·x is e^(q_h+x) − e^(q_t−x) + p = 0; with
/// m = (q_t + q_h)/2 it reads 2·e^m·sinh(x − (q_t − q_h)/2) = −p, so
/// x = (q_t − q_h)/2 − asinh(p·e^(−m)/2). Into t_k: −e^(q_t−x) + p = 0, so
/// x = −ln(p·e^(−q_t)) (everything when p ≤ 0). Only p·e^(−m) is formed, as
/// e^(μ + ln(usage/w) − m) + (penalty/w)·e^(−m): each factor is at most 1 or the
/// exponential of a finite number, so the result is finite or +∞ (then x = 0), never
/// NaN.
#[inline(never)]
fn exponential_push_at(t: &Term, mu: f64) -> f64 {
    if t.tail.is_nan() || t.tail <= 0.0 || t.weight <= 0.0 {
        return 0.0;
    }
    let m = match t.head {
        Some(h) => 0.5 * (t.tail + h),
        None => t.tail,
    };
    let priced = if t.usage > 0.0 {
        (mu + (t.usage / t.weight).ln() - m).exp()
    } else {
        0.0
    };
    let scaled = priced + t.penalty / t.weight * (-m).exp();
    let x = match t.head {
        Some(h) => 0.5 * (t.tail - h) - (0.5 * scaled).asinh(),
        None if scaled > 0.0 => -scaled.ln(),
        None => t.tail,
    };
    if x.is_nan() {
        return 0.0;
    }
    x.clamp(0.0, t.tail)
}

/// One active term of the quadratic problem: x̄(λ) = clamp((a − λ·c)/β, 0, u), with
/// usage s.
#[derive(Debug, Clone, Copy)]
struct Piece {
    a: f64,
    c: f64,
    beta: f64,
    upper: f64,
    usage: f64,
}

/// A breakpoint of Σ usage·x̄(λ), ordered by (λ, listing order): `key` is λ's bits
/// mapped so that integer order is `f64::total_cmp`'s, `seq` = 2·piece + (0 where the
/// piece leaves its upper bound, 1 where it reaches 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    key: i64,
    seq: u32,
}

impl Event {
    fn new(at: f64, piece: usize, leaves_upper: bool) -> Event {
        let bits = at.to_bits() as i64;
        Event {
            key: bits ^ (((bits >> 63) as u64) >> 1) as i64,
            seq: 2 * piece as u32 + u32::from(!leaves_upper),
        }
    }

    fn at(self) -> f64 {
        f64::from_bits((self.key ^ (((self.key >> 63) as u64) >> 1) as i64) as u64)
    }

    fn piece(self) -> usize {
        (self.seq / 2) as usize
    }

    fn leaves_upper(self) -> bool {
        self.seq % 2 == 0
    }
}

/// The λ > 0 at which the quadratic pushes use exactly `capacity`: each term is
/// x̄(λ) = clamp((a − λ·c)/β, 0, u), piecewise linear, so Σ usage·x̄ is piecewise linear
/// and non-increasing in λ; walk its breakpoints in order (ties in the order the
/// breakpoints are listed: by piece, the upper one first).
fn quadratic_lambda(terms: &Terms, capacity: f64, scratch: &mut FillScratch) -> f64 {
    let pieces = &mut scratch.pieces;
    pieces.clear();
    for t in terms.iter() {
        if !(t.tail > 0.0 && t.weight > 0.0 && t.usage > 0.0) {
            continue;
        }
        let offset = t.penalty / t.weight;
        let (a, beta) = match t.head {
            Some(h) => (t.tail - h - offset, 2.0),
            None => (t.tail - offset, 1.0),
        };
        if a > 0.0 {
            pieces.push(Piece {
                a,
                c: t.usage / t.weight,
                beta,
                upper: t.tail,
                usage: t.usage,
            });
        }
    }
    // Breakpoints: λ_hi where a term leaves its upper bound, λ_lo where it reaches 0.
    let events = &mut scratch.events;
    events.clear();
    let mut value = 0.0; // Σ usage·x̄ at λ = 0
    let mut slope = 0.0; // d/dλ of it, ≤ 0
    for (i, p) in pieces.iter().enumerate() {
        let hi = (p.a - p.beta * p.upper) / p.c;
        let lo = p.a / p.c;
        if hi > 0.0 {
            value += p.usage * p.upper;
            events.push(Event::new(hi, i, true));
        } else {
            value += p.usage * (p.a / p.beta);
            slope -= p.usage * p.c / p.beta;
        }
        events.push(Event::new(lo, i, false));
    }
    // Walk the breakpoints by λ (as `f64::total_cmp`), ties in listing order (a stable
    // sort's order). The walk usually stops after a few: order only a prefix (the
    // smallest, selected in linear time), and the rest if the walk gets that far.
    let n = events.len();
    let mut ordered = if n > 2 * PREFIX {
        events.select_nth_unstable(PREFIX - 1);
        PREFIX
    } else {
        n
    };
    insertion_sort(&mut events[..ordered]);
    let mut lambda = 0.0;
    let mut i = 0;
    while i < n {
        if i == ordered {
            events[ordered..].sort_unstable();
            ordered = n;
        }
        let e = events[i];
        let at = e.at();
        let reached = value + slope * (at - lambda);
        if reached <= capacity {
            break;
        }
        value = reached;
        lambda = at;
        let p = &pieces[e.piece()];
        if e.leaves_upper() {
            slope -= p.usage * p.c / p.beta;
        } else {
            slope += p.usage * p.c / p.beta;
        }
        i += 1;
    }
    if slope < 0.0 {
        lambda + (value - capacity) / -slope
    } else {
        lambda
    }
}

/// How many breakpoints the quadratic walk orders first.
const PREFIX: usize = 8;

/// Sorts a short slice in place (without a general sort's set-up).
fn insertion_sort(events: &mut [Event]) {
    for i in 1..events.len() {
        let e = events[i];
        let mut j = i;
        while j > 0 && events[j - 1] > e {
            events[j] = events[j - 1];
            j -= 1;
        }
        events[j] = e;
    }
}

/// μ = ln λ with Σ usage·x̄(e^μ) = `capacity` for the exponential potential, by
/// bisection on μ (λ itself may lie beyond f64's range); returns the upper end, which
/// never uses more than the capacity. Called only when the free pushes (λ = 0) do not
/// fit.
fn bisect_log_lambda(terms: &Terms, capacity: f64) -> f64 {
    let used = |mu: f64| -> f64 {
        terms
            .iter()
            .map(|t| t.usage * exponential_push_at(&t, mu))
            .sum::<f64>()
    };
    // Near this μ every term pushes nothing: e^(μ + ln(usage/w) − m) ≥ e^(q_t − m + 1)
    // outweighs the height gradient and the penalty.
    let mut hi = terms
        .iter()
        .filter(|t| t.usage > 0.0 && t.weight > 0.0 && t.tail > 0.0)
        .map(|t| t.tail - (t.usage / t.weight).ln() + 1.0 + (t.penalty / t.weight).abs().ln_1p())
        .fold(0.0, f64::max);
    for _ in 0..64 {
        if used(hi) <= capacity {
            break;
        }
        hi += 1.0 + hi.abs();
    }
    let mut lo = hi - 1.0;
    for _ in 0..64 {
        if used(lo) > capacity {
            break;
        }
        lo -= 1.0 + lo.abs();
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if !(mid > lo && mid < hi) {
            break;
        }
        if used(mid) > capacity {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(tail: f64, head: Option<f64>, weight: f64, usage: f64) -> Term {
        Term {
            tail,
            head,
            weight,
            usage,
            penalty: 0.0,
        }
    }

    /// Unconstrained: half the height difference, or everything into the sink.
    #[test]
    fn free_push_is_half_the_gradient() {
        let x = reverse_water_fill(
            &[term(0.6, Some(0.2), 1.0, 1.0), term(0.5, None, 1.0, 1.0)],
            None,
            Potential::Quadratic,
        );
        assert_eq!(x.lambda, 0.0);
        let x = x.x;
        assert!((x[0] - 0.2).abs() < 1e-15 && (x[1] - 0.5).abs() < 1e-15);
    }

    /// Two equal terms, gradient 1 each, free pushes 0.5 each (usage 1), capacity 0.6:
    /// by symmetry each gets 0.3; λ solves (1 − λ)/2 = 0.3, λ = 0.4.
    #[test]
    fn capacity_is_shared_by_the_multiplier() {
        let t = [
            term(1.0, Some(0.0), 1.0, 1.0),
            term(1.0, Some(0.0), 1.0, 1.0),
        ];
        let fill = reverse_water_fill(&t, Some(0.6), Potential::Quadratic);
        assert!((fill.lambda - 0.4).abs() < 1e-12, "{fill:?}");
        let x = fill.x;
        assert!(
            (x[0] - 0.3).abs() < 1e-12 && (x[1] - 0.3).abs() < 1e-12,
            "{x:?}"
        );
    }

    /// Weights set priority: w = 3 vs 1, same gradient 1, capacity 0.5.
    /// x_i = (1 − λ/w_i)/2; Σ = 1 − λ(1/3 + 1)/2 = 0.5 ⇒ λ = 0.75,
    /// x = (1 − 0.25)/2 = 0.375 and (1 − 0.75)/2 = 0.125.
    #[test]
    fn heavier_weight_gets_more() {
        let t = [
            term(1.0, Some(0.0), 3.0, 1.0),
            term(1.0, Some(0.0), 1.0, 1.0),
        ];
        let fill = reverse_water_fill(&t, Some(0.5), Potential::Quadratic);
        assert!((fill.lambda - 0.75).abs() < 1e-12, "{fill:?}");
        let x = fill.x;
        assert!(
            (x[0] - 0.375).abs() < 1e-12 && (x[1] - 0.125).abs() < 1e-12,
            "{x:?}"
        );
    }

    /// Walking past a breakpoint: a sink term x = clamp(0.2 − λ, 0, 0.2) and a term
    /// x = (2 − λ)/2. Total 1.2 − 1.5λ reaches 0.9 at λ = 0.2, where the sink term hits 0,
    /// still above the capacity 0.7; then (2 − λ)/2 = 0.7 gives λ = 0.6, x = (0, 0.7).
    #[test]
    fn walks_past_breakpoints() {
        let t = [term(0.2, None, 1.0, 1.0), term(2.0, Some(0.0), 1.0, 1.0)];
        let fill = reverse_water_fill(&t, Some(0.7), Potential::Quadratic);
        assert!((fill.lambda - 0.6).abs() < 1e-12, "{fill:?}");
        let x = fill.x;
        assert!(x[0].abs() < 1e-12 && (x[1] - 0.7).abs() < 1e-12, "{x:?}");
    }

    /// The exponential potential also fills the capacity exactly, never more.
    #[test]
    fn exponential_respects_capacity() {
        let t = [term(1.0, Some(0.0), 1.0, 2.0), term(0.5, None, 2.0, 1.0)];
        let x = reverse_water_fill(&t, Some(0.4), Potential::Exponential).x;
        let used = 2.0 * x[0] + x[1];
        assert!(used <= 0.4 + 1e-12 && used > 0.4 - 1e-9, "{x:?}");
    }

    /// Queues far above any height whose exponential f64 can hold (a source queue at
    /// 1 000 times its demand, as a ceiling of 1 000 allows): the pushes are numbers in
    /// [0, q̄_t] and never use more than the capacity. Before the pushes were computed
    /// in the scaled form, e^1000 overflowed, every push came out NaN and the step sent
    /// the whole queue.
    #[test]
    fn exponential_survives_tall_queues() {
        let t = [
            term(1000.0, Some(998.0), 1.0, 1.0),
            term(1000.0, None, 1.0, 2.0),
            term(400.0, Some(0.0), 3.0, 1.0),
        ];
        for capacity in [0.5, 5.0, 50.0] {
            let fill = reverse_water_fill(&t, Some(capacity), Potential::Exponential);
            let used: f64 = t.iter().zip(&fill.x).map(|(t, x)| t.usage * x).sum();
            assert!(used <= capacity * (1.0 + 1e-12), "{fill:?}");
            // The capacity binds (every free push alone exceeds 0.5 · 2), so it is full.
            assert!(used >= capacity * (1.0 - 1e-9), "{fill:?} uses {used}");
            for (t, x) in t.iter().zip(&fill.x) {
                assert!((0.0..=t.tail).contains(x), "{fill:?}");
            }
            assert!(fill.lambda > 0.0 && fill.lambda.is_finite());
        }
        // Unconstrained, the first term pushes half its gradient, (1000 − 998)/2 = 1
        // (up to asinh of e^−999 ≈ 0), the sink term everything.
        let free = reverse_water_fill(&t, None, Potential::Exponential).x;
        assert!(
            (free[0] - 1.0).abs() < 1e-12 && free[1] == 1000.0,
            "{free:?}"
        );
    }

    /// A penalty shifts a term's push like a price of its own (welfare-seeking): two
    /// terms of gradient 1 and weight 1, penalties 0 and 0.2, capacity 0.5.
    /// x_i = (1 − λ − p_i)/2; Σ = (2 − 2λ − 0.2)/2 = 0.5 ⇒ λ = 0.4, x = (0.3, 0.2).
    #[test]
    fn penalty_is_paid_before_the_price() {
        let mut dear = term(1.0, Some(0.0), 1.0, 1.0);
        dear.penalty = 0.2;
        let fill = reverse_water_fill(
            &[term(1.0, Some(0.0), 1.0, 1.0), dear],
            Some(0.5),
            Potential::Quadratic,
        );
        assert!((fill.lambda - 0.4).abs() < 1e-12, "{fill:?}");
        assert!((fill.x[0] - 0.3).abs() < 1e-12 && (fill.x[1] - 0.2).abs() < 1e-12);
    }
}
