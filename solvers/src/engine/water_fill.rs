//! The per-node resource allocation of seed 003 §5.1 phase 3 (DESIGN §5 step 3):
//! reverse water-filling.

use serde::{Deserialize, Serialize};

/// The potential Φ of a queue of normalised height y (seed 003 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Potential {
    /// Φ(y) = y²/2, the paper's choice: pushes solve in closed form.
    #[default]
    Quadratic,
    /// Φ(y) = e^y: steeper for high queues, which pushes harder out of congestion;
    /// the multiplier is then found by bisection.
    Exponential,
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

/// Reusable buffers of [`water_fill`]: after the first calls of a run nothing is
/// allocated.
#[derive(Debug, Clone, Default)]
pub struct FillScratch {
    /// x̄ per term of the last call, in the order of the terms.
    pub x: Vec<f64>,
    pieces: Vec<Piece>,
    events: Vec<Event>,
}

/// Minimises Σ_i w_i·[Φ(q̄_t − x̄_i) + Φ(q̄_h + x̄_i)] + penalty_i·x̄_i subject to
/// Σ_i usage_i·x̄_i ≤ R and 0 ≤ x̄_i ≤ q̄_t (the head term dropped for edges into t_k);
/// returns x̄ and the multiplier λ. Allocates its result; the engine's step uses
/// [`water_fill`] with reusable buffers instead (the same arithmetic).
///
/// For the quadratic Φ, with multiplier λ ≥ 0:
/// x̄_i(λ) = clamp(((q̄_t − q̄_h) − (λ·usage + penalty)/w) / 2, 0, q̄_t), or
/// clamp(q̄_t − (λ·usage + penalty)/w, 0, q̄_t) into t_k. λ = 0 if that fits in R;
/// otherwise the one λ where it fills R exactly, found by sorting the breakpoints and
/// walking them: O(m log m).
///
/// Paper: seed 003 §5.1 (4)–(5), after Awerbuch–Leighton's reverse water-filling.
pub fn reverse_water_fill(
    terms: &[Term],
    capacity: Option<f64>,
    potential: Potential,
) -> WaterFill {
    let mut scratch = FillScratch::default();
    let lambda = water_fill(terms, capacity, potential, &mut scratch);
    WaterFill {
        x: scratch.x,
        lambda,
    }
}

/// [`reverse_water_fill`] into reusable buffers: x̄ is left in `scratch.x`; returns λ.
pub fn water_fill(
    terms: &[Term],
    capacity: Option<f64>,
    potential: Potential,
    scratch: &mut FillScratch,
) -> f64 {
    let at = |x: &mut Vec<f64>, lambda: f64| {
        x.clear();
        x.extend(terms.iter().map(|t| push(t, lambda, potential)));
    };
    at(&mut scratch.x, 0.0);
    let Some(capacity) = capacity else {
        return 0.0;
    };
    if used(terms, &scratch.x) <= capacity {
        return 0.0;
    }
    let lambda = match potential {
        Potential::Quadratic => quadratic_lambda(terms, capacity, scratch),
        Potential::Exponential => bisect_lambda(terms, capacity, |l| {
            terms
                .iter()
                .map(|t| t.usage * push(t, l, potential))
                .sum::<f64>()
        }),
    };
    at(&mut scratch.x, lambda);
    // Round-off must never let a node exceed its capacity.
    let total = used(terms, &scratch.x);
    if total > capacity && total > 0.0 {
        let scale = capacity / total;
        scratch.x.iter_mut().for_each(|v| *v *= scale);
    }
    lambda
}

/// Σ usage·x̄, in term order.
fn used(terms: &[Term], x: &[f64]) -> f64 {
    terms.iter().zip(x).map(|(t, x)| t.usage * x).sum()
}

/// x̄ of one term at multiplier λ.
fn push(t: &Term, lambda: f64, potential: Potential) -> f64 {
    if t.tail <= 0.0 || t.weight <= 0.0 {
        return 0.0;
    }
    let price = (lambda * t.usage + t.penalty) / t.weight;
    let x = match (potential, t.head) {
        (Potential::Quadratic, Some(h)) => ((t.tail - h) - price) / 2.0,
        (Potential::Quadratic, None) => t.tail - price,
        // d/dx [e^(q_t−x) + e^(q_h+x)] + price = 0 ⇒ B·u² + price·u − A = 0, u = e^x.
        (Potential::Exponential, Some(h)) => {
            let (a, b) = (t.tail.exp(), h.exp());
            let u = (-price + (price * price + 4.0 * a * b).sqrt()) / (2.0 * b);
            u.ln()
        }
        // −e^(q_t−x) + price = 0 ⇒ x = q_t − ln(price).
        (Potential::Exponential, None) => {
            if price <= 0.0 {
                t.tail
            } else {
                t.tail - price.ln()
            }
        }
    };
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

/// A breakpoint of Σ usage·x̄(λ): at λ = `at` piece `piece` leaves its upper bound
/// (`leaves_upper`) or reaches 0.
#[derive(Debug, Clone, Copy)]
struct Event {
    at: f64,
    piece: u32,
    leaves_upper: bool,
}

/// The λ > 0 at which the quadratic pushes use exactly `capacity`: each term is
/// x̄(λ) = clamp((a − λ·c)/β, 0, u), piecewise linear, so Σ usage·x̄ is piecewise linear
/// and non-increasing in λ; walk its breakpoints in order (ties in the order the
/// breakpoints are listed: by piece, the upper one first).
fn quadratic_lambda(terms: &[Term], capacity: f64, scratch: &mut FillScratch) -> f64 {
    let pieces = &mut scratch.pieces;
    pieces.clear();
    pieces.extend(
        terms
            .iter()
            .filter(|t| t.tail > 0.0 && t.weight > 0.0 && t.usage > 0.0)
            .map(|t| {
                let offset = t.penalty / t.weight;
                let (a, beta) = match t.head {
                    Some(h) => (t.tail - h - offset, 2.0),
                    None => (t.tail - offset, 1.0),
                };
                Piece {
                    a,
                    c: t.usage / t.weight,
                    beta,
                    upper: t.tail,
                    usage: t.usage,
                }
            })
            .filter(|p| p.a > 0.0),
    );
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
            events.push(Event {
                at: hi,
                piece: i as u32,
                leaves_upper: true,
            });
        } else {
            value += p.usage * (p.a / p.beta);
            slope -= p.usage * p.c / p.beta;
        }
        events.push(Event {
            at: lo,
            piece: i as u32,
            leaves_upper: false,
        });
    }
    // By λ, ties in listing order (a stable sort's order, without its buffer).
    events.sort_unstable_by(|x, y| {
        x.at.total_cmp(&y.at)
            .then(x.piece.cmp(&y.piece))
            .then(y.leaves_upper.cmp(&x.leaves_upper))
    });
    let mut lambda = 0.0;
    for e in events.iter() {
        let reached = value + slope * (e.at - lambda);
        if reached <= capacity {
            break;
        }
        value = reached;
        lambda = e.at;
        let p = &pieces[e.piece as usize];
        if e.leaves_upper {
            slope -= p.usage * p.c / p.beta;
        } else {
            slope += p.usage * p.c / p.beta;
        }
    }
    if slope < 0.0 {
        lambda + (value - capacity) / -slope
    } else {
        lambda
    }
}

/// λ with `used(λ) = capacity` for a non-increasing `used`, by bisection; returns the
/// upper end, which never uses more than the capacity.
fn bisect_lambda(terms: &[Term], capacity: f64, used: impl Fn(f64) -> f64) -> f64 {
    // At this λ every term pushes nothing.
    let mut hi = terms
        .iter()
        .filter(|t| t.usage > 0.0)
        .map(|t| {
            let a = t.tail.exp();
            let b = t.head.map_or(0.0, f64::exp);
            (a - b).max(a).max(1.0) * t.weight / t.usage
        })
        .fold(1.0, f64::max);
    while used(hi) > capacity {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
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
