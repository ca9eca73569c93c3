//! The range of numbers the rounds compute in. A round multiplies up to three market
//! numbers (a demand, a requirement and a capacity or a valuation: d_k·r^k_n·x̄,
//! d_k·v_k, d_k·c_e) and the ceiling with a demand, so a market the reader accepts
//! can still overflow f64 there — a demand of 1e308 makes the source's ceiling
//! infinite and its queue height not a number. The engine refuses such a market up
//! front, naming the number, rather than produce infinities (design §3: nothing
//! panics on any input).

use brokerflow_graphs::Market;

use super::EngineError;

/// The largest magnitude of a market number the engine computes with: products of
/// three such numbers and the round limit stay far inside f64 (≈ 1.8e308).
pub const LARGEST: f64 = 1e100;

/// The smallest non-zero magnitude of a market number the engine computes with (its
/// reciprocal is [`LARGEST`]: heights divide by demands, pushes by requirements).
pub const SMALLEST: f64 = 1e-100;

/// The rule the error states.
const RULE: &str = "the rounds multiply market numbers, so each must be 0 or between 1e-100 and 1e100 in magnitude";

/// Refuses a market with a number outside [`SMALLEST`]..=[`LARGEST`] (0 is fine),
/// naming the participant and the field. O(market).
pub fn check(market: &Market) -> Result<(), EngineError> {
    let bad = |place: String, field: &'static str, value: f64| {
        let a = value.abs();
        (!(value == 0.0 || (SMALLEST..=LARGEST).contains(&a))).then_some(EngineError::Magnitude {
            place,
            field,
            value,
            rule: RULE,
        })
    };
    let mut first = None;
    let mut see = |e: Option<EngineError>| {
        if first.is_none() {
            first = e;
        }
    };
    for u in &market.users {
        see(bad(format!("user {}", u.id), "demand", u.demand));
        see(bad(format!("user {}", u.id), "requirement", u.requirement));
        see(bad(format!("user {}", u.id), "valuation", u.valuation));
    }
    for b in &market.brokers {
        if let Some(c) = b.capacity {
            see(bad(format!("broker {}", b.id), "capacity", c));
        }
        see(bad(format!("broker {}", b.id), "cost", b.cost));
    }
    for p in &market.providers {
        if let Some(c) = p.capacity {
            see(bad(format!("provider {}", p.id), "capacity", c));
        }
        see(bad(format!("provider {}", p.id), "cost", p.cost));
    }
    for l in &market.links {
        let place = format!("link {} -> {}", l.from, l.to);
        if let Some(b) = l.bandwidth {
            see(bad(place.clone(), "bandwidth", b));
        }
        see(bad(place, "cost", l.cost));
    }
    if let Some(prices) = &market.prices {
        for (role, table) in [("broker", &prices.broker), ("provider", &prices.provider)] {
            for (seller, row) in table {
                for (user, &price) in row {
                    see(bad(
                        format!("{role} {seller}'s posted price for user {user}"),
                        "price",
                        price,
                    ));
                }
            }
        }
    }
    first.map_or(Ok(()), Err)
}
