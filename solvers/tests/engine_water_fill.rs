//! Reverse water-filling meets its optimality (KKT) conditions (design §5 step 3), on
//! random push problems for both potentials: λ ≥ 0; Σ usage·x̄ ≤ R, with equality when
//! λ > 0 (complementary slackness); 0 ≤ x̄ ≤ q̄_t; and on every term the derivative of
//! its part of the objective plus λ·usage is 0 where 0 < x̄ < q̄_t (stationarity),
//! ≥ 0 at x̄ = 0 and ≤ 0 at x̄ = q̄_t.

use brokerflow_solvers::engine::{reverse_water_fill, Potential, Term};
use proptest::prelude::*;

/// d/dx̄ of w·[Φ(q̄_t − x̄) + Φ(q̄_h + x̄)] + penalty·x̄ + λ·usage·x̄ (head term dropped
/// into the collection point).
fn gradient(t: &Term, x: f64, lambda: f64, potential: Potential) -> f64 {
    let dphi = |y: f64| match potential {
        Potential::Quadratic => y,
        Potential::Exponential => y.exp(),
    };
    let head = t.head.map_or(0.0, |h| dphi(h + x));
    t.weight * (head - dphi(t.tail - x)) + t.penalty + lambda * t.usage
}

fn term() -> impl Strategy<Value = Term> {
    (
        0.0f64..3.0,
        prop::option::weighted(0.8, 0.0f64..3.0),
        0.1f64..10.0,
        0.1f64..5.0,
        prop::sample::select(vec![0.0, 0.0, 0.3, 2.0]),
    )
        .prop_map(|(tail, head, weight, usage, penalty)| Term {
            tail,
            head,
            weight,
            usage,
            penalty,
        })
}

fn check(terms: &[Term], capacity: Option<f64>, potential: Potential) {
    let fill = reverse_water_fill(terms, capacity, potential);
    let lambda = fill.lambda;
    assert!(lambda >= 0.0 && lambda.is_finite(), "λ = {lambda}");
    assert_eq!(fill.x.len(), terms.len());
    let used: f64 = terms.iter().zip(&fill.x).map(|(t, x)| t.usage * x).sum();
    let scale = 1.0 + terms.iter().map(|t| t.usage * t.tail).sum::<f64>();
    let tol = 1e-7 * scale;
    match capacity {
        None => assert_eq!(lambda, 0.0),
        Some(r) => {
            assert!(used <= r * (1.0 + 1e-12) + 1e-12, "uses {used} of {r}");
            if lambda > 0.0 {
                assert!(
                    (used - r).abs() <= tol,
                    "λ = {lambda} > 0 but uses {used} of {r}"
                );
            }
        }
    }
    for (t, &x) in terms.iter().zip(&fill.x) {
        assert!(
            (0.0..=t.tail).contains(&x),
            "x̄ = {x} outside [0, {}]",
            t.tail
        );
        if t.tail <= 0.0 {
            continue;
        }
        let grad = gradient(t, x, lambda, potential);
        // Relative to the size of the gradient's parts.
        let size = 1.0
            + t.weight * (t.tail + t.head.unwrap_or(0.0) + x).exp()
            + t.penalty
            + lambda * t.usage;
        let tol = 1e-6 * size;
        if x > 1e-9 && x < t.tail - 1e-9 {
            assert!(
                grad.abs() <= tol,
                "interior x̄ = {x} of {t:?}: gradient {grad}"
            );
        } else if x <= 1e-9 {
            assert!(
                grad >= -tol,
                "x̄ = 0 of {t:?} but gradient {grad} < 0 (λ = {lambda})"
            );
        } else {
            assert!(
                grad <= tol,
                "x̄ = q̄_t of {t:?} but gradient {grad} > 0 (λ = {lambda})"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn quadratic_meets_kkt(
        terms in prop::collection::vec(term(), 0..12),
        capacity in prop::option::weighted(0.9, 0.0f64..6.0),
    ) {
        check(&terms, capacity, Potential::Quadratic);
    }

    #[test]
    fn exponential_meets_kkt(
        terms in prop::collection::vec(term(), 0..12),
        capacity in prop::option::weighted(0.9, 0.0f64..6.0),
    ) {
        check(&terms, capacity, Potential::Exponential);
    }
}
