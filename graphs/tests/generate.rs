//! Tests of the random market generator (design §7, [MCF-Grid] §6) and its Bounded
//! Pareto sampler. Expected values come from closed forms or from properties the
//! generator promises, never from its own output.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use brokerflow_graphs::generate::{
    generate, rng_seed, BoundedPareto, GenerateError, GeneratorConfig, Range, RangeLength,
};
use brokerflow_graphs::{Market, Role};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::Distribution;

/// Half a unit in the last of 3 decimals: how far rounding may move a number.
const HALF: f64 = 0.0005;

fn cfg(users: usize, brokers: usize, providers: usize) -> GeneratorConfig {
    GeneratorConfig {
        users,
        brokers,
        providers,
        ..GeneratorConfig::default()
    }
}

fn in_range(x: f64, r: Range, what: &str) {
    assert!(
        x >= r.min - HALF && x <= r.max + HALF,
        "{what} = {x} outside [{}, {}]",
        r.min,
        r.max
    );
}

fn has_3_decimals(x: f64, what: &str) {
    assert!(
        ((x * 1000.0).round() - x * 1000.0).abs() < 1e-6 * (1.0 + x.abs()),
        "{what} = {x} is not rounded to 3 decimals"
    );
}

/// Everything the generator promises about one market, checked from the market alone.
fn check(config: &GeneratorConfig, seed: u64, m: &Market) {
    let ctx = format!("{} / {config:?}", m.name);
    m.check().unwrap_or_else(|e| panic!("{ctx}: invalid: {e}"));
    assert_eq!(
        m.name,
        format!(
            "generated-K{}-B{}-P{}-seed{seed}",
            config.users, config.brokers, config.providers
        )
    );
    assert_eq!(m.users.len(), config.users);
    assert_eq!(m.brokers.len(), config.brokers);
    assert_eq!(m.providers.len(), config.providers);

    // Provenance.
    let meta = m.meta.as_ref().expect("meta");
    assert_eq!(meta["generator"], "brokerflow generate");
    assert_eq!(meta["version"], brokerflow_graphs::VERSION);
    assert_eq!(meta["seed"], seed);
    let back: GeneratorConfig = serde_json::from_value(meta["config"].clone()).unwrap();
    assert_eq!(
        &back, config,
        "meta.config must hold the whole configuration"
    );

    // Participants' numbers respect their ranges and are rounded.
    for u in &m.users {
        in_range(u.demand, config.demand, "demand");
        in_range(u.requirement, config.requirement, "requirement");
        assert!(u.requirement > 0.0);
        in_range(u.valuation, config.valuation, "valuation");
        for x in [u.demand, u.requirement, u.valuation] {
            has_3_decimals(x, &u.id);
        }
    }
    for b in &m.brokers {
        in_range(b.cost, config.broker_cost, "broker cost");
        has_3_decimals(b.cost, &b.id);
        has_3_decimals(b.capacity.expect("broker capacity"), &b.id);
    }
    for p in &m.providers {
        in_range(p.cost, config.provider_cost, "provider cost");
        has_3_decimals(p.cost, &p.id);
        has_3_decimals(p.capacity.expect("provider capacity"), &p.id);
    }

    // Links: only allowed role pairs, everything finite and in range.
    let demand_of: HashMap<&str, f64> = m.users.iter().map(|u| (u.id.as_str(), u.demand)).collect();
    let jobs: f64 = m.users.iter().map(|u| u.demand).sum();
    let units: f64 = m.users.iter().map(|u| u.demand * u.requirement).sum();
    let mean_broker_cap = if config.brokers > 0 {
        jobs / config.contention / config.brokers as f64
    } else {
        0.0
    };
    let mut out: BTreeMap<&str, Vec<(&str, f64)>> = BTreeMap::new();
    let mut bp_bandwidth = Vec::new();
    for l in &m.links {
        let bw = l.bandwidth.expect("every generated link has a bandwidth");
        has_3_decimals(bw, "bandwidth");
        has_3_decimals(l.cost, "link cost");
        in_range(l.cost, config.link_cost, "link cost");
        let pair = (m.role_of(&l.from).unwrap(), m.role_of(&l.to).unwrap());
        match pair {
            (Role::User, Role::Broker) => {
                let d = demand_of[l.from.as_str()];
                let r = config.user_link_bandwidth;
                assert!(
                    bw >= r.min * d - HALF - 1e-9 && bw <= r.max * d + HALF + 1e-9,
                    "{ctx}: user link bandwidth {bw} for demand {d}"
                );
            }
            (Role::Broker, Role::Broker) => {
                assert!(
                    config.broker_link_probability > 0.0,
                    "{ctx}: unexpected b->b"
                );
                let r = config.broker_link_bandwidth;
                assert!(
                    bw >= r.min * mean_broker_cap - HALF - 1e-9
                        && bw <= r.max * mean_broker_cap + HALF + 1e-9,
                    "{ctx}: broker link bandwidth {bw}"
                );
            }
            (Role::Broker, Role::Provider) => bp_bandwidth.push(bw),
            other => panic!("{ctx}: link of role pair {other:?}"),
        }
        out.entry(l.from.as_str())
            .or_default()
            .push((l.to.as_str(), l.cost));
    }

    // Every user reaches a broker, every broker a provider (directly).
    for u in &m.users {
        assert!(
            out.contains_key(u.id.as_str()),
            "{ctx}: user {} has no broker",
            u.id
        );
    }
    for b in &m.brokers {
        assert!(
            out.get(b.id.as_str())
                .is_some_and(|hops| hops.iter().any(|(h, _)| h.starts_with('p'))),
            "{ctx}: broker {} has no provider",
            b.id
        );
    }

    // Contention: per layer, Σ capacity = layer demand / contention, up to rounding
    // (each member is rounded by at most HALF) and float summation.
    let layer = |caps: &[f64], demand: f64, what: &str| {
        let total: f64 = caps.iter().sum();
        let want = demand / config.contention;
        let tol = caps.len() as f64 * HALF + 1e-9 * (1.0 + want);
        assert!(
            (total - want).abs() <= tol,
            "{ctx}: {what}: total capacity {total}, want {want} ± {tol}"
        );
        // Spread: shares are proportional to weights in [min, max], so any two
        // members differ by at most the factor max/min (plus rounding).
        let s = config.capacity_spread;
        if s.min > 0.0 {
            let (lo, hi) = caps.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &c| {
                (lo.min(c), hi.max(c))
            });
            if !caps.is_empty() {
                assert!(
                    hi <= (lo + HALF) * s.max / s.min + HALF + 1e-9,
                    "{ctx}: {what}: capacities {lo}..{hi} spread more than {s}"
                );
            }
        }
    };
    let bcaps: Vec<f64> = m.brokers.iter().map(|b| b.capacity.unwrap()).collect();
    let pcaps: Vec<f64> = m.providers.iter().map(|p| p.capacity.unwrap()).collect();
    layer(&bcaps, jobs, "brokers");
    layer(&pcaps, units, "providers");
    layer(&bp_bandwidth, jobs, "broker->provider links");

    // Eligibility: round(fraction·K) users carry a non-empty list with a reachable provider.
    let eligible_users: Vec<_> = m.users.iter().filter(|u| u.eligible.is_some()).collect();
    assert_eq!(
        eligible_users.len(),
        (config.eligibility * config.users as f64).round() as usize,
        "{ctx}: number of users with an eligible list"
    );
    for u in eligible_users {
        let list = u.eligible.as_ref().unwrap();
        assert!(!list.is_empty(), "{ctx}: empty eligible list");
        let set: BTreeSet<&String> = list.iter().collect();
        assert_eq!(set.len(), list.len(), "{ctx}: duplicate in eligible list");
        let reach = reachable(&out, &u.id);
        assert!(
            list.iter().any(|p| reach.contains(p.as_str())),
            "{ctx}: {} can reach none of its eligible providers {list:?}",
            u.id
        );
    }

    match &m.prices {
        None => assert!(!config.posted_prices, "{ctx}: posted prices missing"),
        Some(prices) => {
            assert!(config.posted_prices, "{ctx}: unexpected prices");
            check_prices(config, m, prices, &out, &ctx);
        }
    }
}

/// Participants reachable from `from` along links (including itself).
fn reachable<'a>(out: &BTreeMap<&'a str, Vec<(&'a str, f64)>>, from: &'a str) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::from([from]);
    let mut stack = vec![from];
    while let Some(n) = stack.pop() {
        for &(h, _) in out.get(n).map(Vec::as_slice).unwrap_or(&[]) {
            if seen.insert(h) {
                stack.push(h);
            }
        }
    }
    seen
}

/// The posted-price rule of `GeneratorConfig::posted_prices`, checked as a fixed
/// point: every seller's price covers what it must (non-negative margin on its
/// cheapest onward hop) and is within the configured margin of it.
fn check_prices(
    config: &GeneratorConfig,
    m: &Market,
    prices: &brokerflow_graphs::Prices,
    out: &BTreeMap<&str, Vec<(&str, f64)>>,
    ctx: &str,
) {
    let (m_lo, m_hi) = (config.price_margin.min, config.price_margin.max);
    let tol = 1e-9;
    for p in &m.providers {
        for u in &m.users {
            let price = prices.provider.get(&p.id).and_then(|row| row.get(&u.id));
            if !Market::is_eligible(u, &p.id) {
                assert!(price.is_none(), "{ctx}: price for ineligible pair");
                continue;
            }
            let price = *price.unwrap_or_else(|| panic!("{ctx}: no price {}/{}", p.id, u.id));
            let basis = p.cost * u.requirement;
            assert!(
                price >= (1.0 + m_lo) * basis - tol && price <= (1.0 + m_hi) * basis + 0.001 + tol,
                "{ctx}: provider {} price {price} for {} vs cost {basis}",
                p.id,
                u.id
            );
            // Provider utility π − c_p·r_k is non-negative.
            assert!(price - basis >= -tol);
        }
    }
    for b in &m.brokers {
        for u in &m.users {
            let price = prices
                .broker
                .get(&b.id)
                .and_then(|row| row.get(&u.id))
                .copied();
            // Cheapest onward price: link cost + the next hop's posted price.
            let best = out[b.id.as_str()]
                .iter()
                .filter_map(|&(h, cost)| {
                    let next = prices
                        .broker
                        .get(h)
                        .or_else(|| prices.provider.get(h))
                        .and_then(|row| row.get(&u.id))?;
                    Some(cost + next)
                })
                .min_by(f64::total_cmp);
            let can_sell = reachable(out, &b.id)
                .iter()
                .any(|n| n.starts_with('p') && Market::is_eligible(u, n));
            assert_eq!(
                price.is_some(),
                can_sell,
                "{ctx}: broker {} price for {}",
                b.id,
                u.id
            );
            if let Some(price) = price {
                let basis = b.cost + best.expect("a priced broker has a priced next hop");
                assert!(
                    price >= (1.0 + m_lo) * basis - tol
                        && price <= (1.0 + m_hi) * basis + 0.001 + tol,
                    "{ctx}: broker {} price {price} for {} vs basis {basis}",
                    b.id,
                    u.id
                );
            }
        }
    }
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = GeneratorConfig::default();
    assert_eq!((c.users, c.brokers, c.providers), (20, 5, 5));
    assert_eq!(c.link_probability, None);
    assert_eq!(c.broker_link_probability, 0.0);
    assert_eq!(c.eligibility, 0.0);
    assert!(!c.posted_prices);
    assert_eq!(c.contention, 2.0);
    assert_eq!(c.demand, Range::new(5.0, 20.0));
    assert_eq!(c.requirement, Range::new(0.5, 2.0));
    assert_eq!(c.valuation, Range::new(1.0, 1000.0));
    assert_eq!(c.valuation_alpha, 1.0);
    assert_eq!(c.provider_cost, Range::new(0.1, 5.0));
    assert_eq!(c.broker_cost, Range::new(0.0, 0.5));
    assert_eq!(c.link_cost, Range::new(0.0, 0.5));
    assert_eq!(c.capacity_spread, Range::new(0.5, 1.5));
    assert_eq!(c.user_link_bandwidth, Range::new(0.5, 1.5));
    assert_eq!(c.broker_link_bandwidth, Range::new(0.5, 1.5));
    assert_eq!(c.price_margin, Range::new(0.1, 0.3));
    // ln(n)/n with n = 30.
    assert!((c.effective_link_probability() - 30f64.ln() / 30.0).abs() < 1e-15);
}

#[test]
fn config_json_round_trips_and_fills_defaults() {
    let c = GeneratorConfig {
        link_probability: Some(0.25),
        posted_prices: true,
        demand: Range::new(1.0, 2.5),
        ..cfg(3, 2, 1)
    };
    let json = c.canonical_json().unwrap();
    assert!(json.contains(r#""demand":[1.0,2.5]"#), "{json}");
    assert_eq!(serde_json::from_str::<GeneratorConfig>(&json).unwrap(), c);
    let partial: GeneratorConfig =
        serde_json::from_str(r#"{"users": 3, "contention": 4}"#).unwrap();
    assert_eq!(
        partial,
        GeneratorConfig {
            users: 3,
            contention: 4.0,
            ..Default::default()
        }
    );
    assert!(serde_json::from_str::<GeneratorConfig>(r#"{"userz": 3}"#).is_err());
}

#[test]
fn range_parses_from_the_command_line_form() {
    assert_eq!("5,20".parse::<Range>().unwrap(), Range::new(5.0, 20.0));
    assert_eq!(" 0.5 , 2 ".parse::<Range>().unwrap(), Range::new(0.5, 2.0));
    assert_eq!("3".parse::<Range>().unwrap(), Range::new(3.0, 3.0));
    for bad in ["", "a,b", "1,", ",2", "1;2", "1,2,3"] {
        assert!(bad.parse::<Range>().is_err(), "{bad:?} parsed");
    }
    // Display is the parseable form.
    let r = Range::new(0.1, 5.0);
    assert_eq!(r.to_string().parse::<Range>().unwrap(), r);
}

#[test]
fn same_config_and_seed_give_identical_bytes() {
    for c in [
        cfg(20, 5, 5),
        GeneratorConfig {
            broker_link_probability: 0.4,
            eligibility: 0.5,
            posted_prices: true,
            ..cfg(12, 6, 4)
        },
    ] {
        let a = generate(&c, 7).unwrap().to_json_pretty();
        let b = generate(&c, 7).unwrap().to_json_pretty();
        assert_eq!(a, b);
    }
}

#[test]
fn a_different_seed_or_config_gives_a_different_market() {
    let c = cfg(20, 5, 5);
    let demands = |m: &Market| m.users.iter().map(|u| u.demand).collect::<Vec<_>>();
    let base = generate(&c, 7).unwrap();
    let other_seed = generate(&c, 8).unwrap();
    assert_ne!(base.to_json_pretty(), other_seed.to_json_pretty());
    assert_ne!(demands(&base), demands(&other_seed));
    // Demands are drawn first and do not depend on contention, so if the seed were
    // not mixed with the configuration they would be equal here.
    let edited = GeneratorConfig {
        contention: 2.5,
        ..c.clone()
    };
    assert_ne!(demands(&base), demands(&generate(&edited, 7).unwrap()));
    // Every single-field edit changes the RNG seed.
    let edits = [
        GeneratorConfig {
            users: 21,
            ..c.clone()
        },
        GeneratorConfig {
            link_probability: Some(0.2),
            ..c.clone()
        },
        GeneratorConfig {
            posted_prices: true,
            ..c.clone()
        },
        GeneratorConfig {
            price_margin: Range::new(0.1, 0.31),
            ..c.clone()
        },
        GeneratorConfig {
            valuation_alpha: 1.5,
            ..c.clone()
        },
    ];
    let s0 = rng_seed(&c, 7).unwrap();
    for e in &edits {
        assert_ne!(rng_seed(e, 7).unwrap(), s0, "{e:?}");
    }
    assert_ne!(rng_seed(&c, 8).unwrap(), s0);
}

#[test]
fn markets_are_valid_and_keep_their_promises_over_many_seeds() {
    let sizes = [
        (0, 0, 0),
        (0, 3, 2),
        (1, 1, 1),
        (5, 5, 5),
        (10, 5, 5),
        (20, 5, 5),
        (40, 8, 6),
        (3, 10, 1),
        (7, 1, 9),
    ];
    let mut checked = 0;
    for seed in 0..270u64 {
        let (k, b, p) = sizes[seed as usize % sizes.len()];
        let variant = (seed as usize / sizes.len()) % 5;
        let mut c = cfg(k, b, p);
        match variant {
            0 => {}
            1 => {
                c.broker_link_probability = 0.3;
                c.posted_prices = true;
            }
            2 => {
                c.eligibility = 0.5;
                c.posted_prices = true;
                c.contention = 0.7;
            }
            3 => {
                c.broker_link_probability = 1.0;
                c.eligibility = 1.0;
                c.posted_prices = true;
                c.link_probability = Some(0.0);
                c.demand = Range::new(1.0, 1000.0);
                c.valuation_alpha = 0.5;
            }
            _ => {
                c.link_probability = Some(1.0);
                c.contention = 5.0;
                c.capacity_spread = Range::new(0.0, 1.0);
                c.requirement = Range::new(0.001, 0.01);
                c.valuation = Range::new(3.0, 3.0);
                c.price_margin = Range::new(0.0, 0.0);
                c.posted_prices = true;
            }
        }
        let m = generate(&c, seed).unwrap_or_else(|e| panic!("{c:?}, seed {seed}: {e}"));
        check(&c, seed, &m);
        // Link probability 0 or 1 pins the topology.
        let count = |from: Role, to: Role| {
            m.links
                .iter()
                .filter(|l| m.role_of(&l.from) == Some(from) && m.role_of(&l.to) == Some(to))
                .count()
        };
        if c.link_probability == Some(0.0) {
            // Nothing drawn: exactly the one forced link each.
            assert_eq!(count(Role::User, Role::Broker), k);
            assert_eq!(count(Role::Broker, Role::Provider), b);
        } else if c.link_probability == Some(1.0) {
            assert_eq!(count(Role::User, Role::Broker), k * b);
            assert_eq!(count(Role::Broker, Role::Provider), b * p);
        }
        if c.broker_link_probability == 1.0 {
            assert_eq!(count(Role::Broker, Role::Broker), b * b.saturating_sub(1));
        }
        checked += 1;
    }
    assert!(checked >= 200);
}

/// Mean and sample standard deviation.
fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

#[test]
fn link_counts_match_the_link_probability() {
    // K = 30, B = 10, P = 10: n = 50, q = ln(50)/50 ≈ 0.078. Per user the number of
    // brokers is Binomial(B, q), replaced by 1 when it is 0, so
    // E = B·q + (1 − q)^B; likewise brokers→providers with P. Users (and brokers) are
    // independent, so the sample mean over N of them has standard error s/√N; we
    // allow 5 standard errors (two-sided normal tail ≈ 6e-7 per comparison).
    let c = GeneratorConfig {
        broker_link_probability: 0.3,
        ..cfg(30, 10, 10)
    };
    let q = 50f64.ln() / 50.0;
    let mut per_user = Vec::new();
    let mut per_broker_p = Vec::new();
    let mut per_broker_b = Vec::new();
    for seed in 0..300 {
        let m = generate(&c, seed).unwrap();
        let mut counts: HashMap<(&str, char), f64> = HashMap::new();
        for l in &m.links {
            *counts
                .entry((l.from.as_str(), l.to.as_bytes()[0] as char))
                .or_default() += 1.0;
        }
        for u in &m.users {
            per_user.push(counts.get(&(u.id.as_str(), 'b')).copied().unwrap_or(0.0));
        }
        for b in &m.brokers {
            per_broker_p.push(counts.get(&(b.id.as_str(), 'p')).copied().unwrap_or(0.0));
            per_broker_b.push(counts.get(&(b.id.as_str(), 'b')).copied().unwrap_or(0.0));
        }
    }
    let expected = 10.0 * q + (1.0 - q).powi(10);
    for (what, xs, want) in [
        ("user->broker", &per_user, expected),
        ("broker->provider", &per_broker_p, expected),
        // Broker→broker: Binomial(B − 1, 0.3), no forced link.
        ("broker->broker", &per_broker_b, 9.0 * 0.3),
    ] {
        let (mean, sd) = mean_sd(xs);
        let se = sd / (xs.len() as f64).sqrt();
        assert!(
            (mean - want).abs() <= 5.0 * se,
            "{what}: mean links {mean}, expected {want} ± {}",
            5.0 * se
        );
    }
}

#[test]
fn bad_configs_are_refused_with_the_field_named() {
    let base = cfg(5, 5, 5);
    let cases: Vec<(GeneratorConfig, &str)> = vec![
        (cfg(5, 0, 5), "brokers"),
        (cfg(5, 3, 0), "providers"),
        (cfg(0, 3, 0), "providers"),
        (
            GeneratorConfig {
                contention: 0.0,
                ..base.clone()
            },
            "contention",
        ),
        (
            GeneratorConfig {
                contention: -1.0,
                ..base.clone()
            },
            "contention",
        ),
        (
            GeneratorConfig {
                contention: f64::NAN,
                ..base.clone()
            },
            "contention",
        ),
        (
            GeneratorConfig {
                contention: f64::INFINITY,
                ..base.clone()
            },
            "contention",
        ),
        (
            GeneratorConfig {
                demand: Range::new(20.0, 5.0),
                ..base.clone()
            },
            "demand",
        ),
        (
            GeneratorConfig {
                demand: Range::new(-1.0, 5.0),
                ..base.clone()
            },
            "demand",
        ),
        (
            GeneratorConfig {
                requirement: Range::new(0.0, 2.0),
                ..base.clone()
            },
            "requirement",
        ),
        (
            GeneratorConfig {
                valuation: Range::new(0.0, 10.0),
                ..base.clone()
            },
            "valuation",
        ),
        (
            GeneratorConfig {
                valuation: Range::new(1.0, f64::INFINITY),
                ..base.clone()
            },
            "valuation",
        ),
        (
            GeneratorConfig {
                valuation_alpha: 0.0,
                ..base.clone()
            },
            "valuation_alpha",
        ),
        (
            GeneratorConfig {
                provider_cost: Range::new(-0.1, 5.0),
                ..base.clone()
            },
            "provider_cost",
        ),
        (
            GeneratorConfig {
                broker_cost: Range::new(1.0, 0.5),
                ..base.clone()
            },
            "broker_cost",
        ),
        (
            GeneratorConfig {
                link_cost: Range::new(f64::NAN, 0.5),
                ..base.clone()
            },
            "link_cost",
        ),
        (
            GeneratorConfig {
                capacity_spread: Range::new(-1.0, 1.0),
                ..base.clone()
            },
            "capacity_spread",
        ),
        (
            GeneratorConfig {
                user_link_bandwidth: Range::new(2.0, 1.0),
                ..base.clone()
            },
            "user_link_bandwidth",
        ),
        (
            GeneratorConfig {
                broker_link_bandwidth: Range::new(-2.0, 1.0),
                ..base.clone()
            },
            "broker_link_bandwidth",
        ),
        (
            GeneratorConfig {
                price_margin: Range::new(-0.1, 0.3),
                ..base.clone()
            },
            "price_margin",
        ),
        (
            GeneratorConfig {
                link_probability: Some(1.5),
                ..base.clone()
            },
            "link_probability",
        ),
        (
            GeneratorConfig {
                broker_link_probability: -0.1,
                ..base.clone()
            },
            "broker_link_probability",
        ),
        (
            GeneratorConfig {
                eligibility: 2.0,
                ..base.clone()
            },
            "eligibility",
        ),
    ];
    for (c, field) in cases {
        let err = generate(&c, 1).expect_err(field);
        assert_eq!(err.field(), Some(field), "{err}");
        assert!(
            err.to_string().contains(field),
            "message {err:?} must name {field}"
        );
    }
    // Too large: refused before anything is allocated.
    let huge = cfg(usize::MAX, usize::MAX, usize::MAX);
    assert!(matches!(
        generate(&huge, 1),
        Err(GenerateError::TooLarge { .. })
    ));
    let wide = cfg(100_000, 100_000, 1);
    assert!(matches!(
        generate(&wide, 1),
        Err(GenerateError::TooLarge { .. })
    ));
    // Numbers so extreme that capacities overflow: an error, not an invalid market.
    let tiny = GeneratorConfig {
        contention: 1e-310,
        ..base.clone()
    };
    assert!(matches!(
        generate(&tiny, 1),
        Err(GenerateError::Unrepresentable(_))
    ));
}

#[test]
fn zero_demand_and_empty_markets_are_fine() {
    let c = GeneratorConfig {
        demand: Range::new(0.0, 0.0),
        ..cfg(4, 2, 2)
    };
    let m = generate(&c, 3).unwrap();
    check(&c, 3, &m);
    assert!(m.brokers.iter().all(|b| b.capacity == Some(0.0)));
    let empty = generate(&cfg(0, 0, 0), 0).unwrap();
    assert!(empty.users.is_empty() && empty.links.is_empty());
}

// ---- Bounded Pareto ([MCF-Grid] §6) ----

/// F(x) written out independently of the library: (1 − (L/x)^α) / (1 − (L/H)^α).
fn cdf(l: f64, h: f64, a: f64, x: f64) -> f64 {
    (1.0 - (l / x).powf(a)) / (1.0 - (l / h).powf(a))
}

#[test]
fn bounded_pareto_closed_forms() {
    let d = BoundedPareto::new(1.0, 1000.0, 1.0).unwrap();
    assert_eq!(d.quantile(0.0), 1.0);
    assert!((d.quantile(1.0) - 1000.0).abs() < 1e-9);
    // α = 1, L = 1, H = 1000: Q(p) = 1 / (1 − 0.999·p).
    for p in [0.1, 0.5, 0.9, 0.99, 0.999] {
        let want = 1.0 / (1.0 - 0.999 * p);
        assert!((d.quantile(p) - want).abs() <= 1e-12 * want, "Q({p})");
    }
    // Median ≈ 2 (design §7): 1 / (1 − 0.4995) = 1.998.
    assert!((d.quantile(0.5) - 1.998_001_998).abs() < 1e-6);
    // Mean (H·L/(H−L))·ln(H/L) = (1000/999)·ln 1000 ≈ 6.914670.
    assert!((d.mean() - 6.914_670).abs() < 1e-5, "{}", d.mean());
    assert!(d.quantile(-0.1).is_nan() && d.quantile(1.1).is_nan() && d.quantile(f64::NAN).is_nan());

    // α ≠ 1, integrals done by hand:
    // α = 2 on [1, 2]: f = (8/3)x⁻³, E = (8/3)∫₁² x⁻² dx = 4/3.
    let d2 = BoundedPareto::new(1.0, 2.0, 2.0).unwrap();
    assert!((d2.mean() - 4.0 / 3.0).abs() < 1e-12);
    // α = 0.5 on [1, 4]: f = x^(−3/2), E = ∫₁⁴ x^(−1/2) dx = 2.
    let d3 = BoundedPareto::new(1.0, 4.0, 0.5).unwrap();
    assert!((d3.mean() - 2.0).abs() < 1e-12);
    // The mean is continuous through α = 1 (no cancellation blow-up).
    for eps in [1e-6, 1e-9, 1e-12] {
        for a in [1.0 - eps, 1.0 + eps] {
            let m = BoundedPareto::new(1.0, 1000.0, a).unwrap().mean();
            assert!((m - d.mean()).abs() < 1e-4, "α = {a}: {m}");
        }
    }
    // α = 1.5 on [1, 1000] against numerical integration of x·f(x), substituting
    // x = e^s (smooth integrand), composite Simpson with 20 000 intervals.
    let (l, h, a) = (1.0f64, 1000.0f64, 1.5f64);
    let f = |x: f64| a * l.powf(a) * x.powf(-a - 1.0) / (1.0 - (l / h).powf(a));
    let g = |s: f64| {
        let x = s.exp();
        x * f(x) * x
    };
    let (s0, s1, n) = (l.ln(), h.ln(), 20_000);
    let step = (s1 - s0) / n as f64;
    let simpson: f64 = (0..=n)
        .map(|i| {
            let w = if i == 0 || i == n {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            w * g(s0 + i as f64 * step)
        })
        .sum::<f64>()
        * step
        / 3.0;
    let d4 = BoundedPareto::new(l, h, a).unwrap();
    assert!(
        (d4.mean() - simpson).abs() < 1e-8,
        "{} vs {simpson}",
        d4.mean()
    );

    // The quantile inverts the CDF, for several shapes.
    for (l, h, a) in [
        (1.0, 1000.0, 1.0),
        (1.0, 1000.0, 0.3),
        (2.0, 50.0, 2.5),
        (0.1, 0.2, 1.0),
    ] {
        let d = BoundedPareto::new(l, h, a).unwrap();
        for p in [0.0, 0.01, 0.1, 0.5, 0.9, 0.99, 1.0] {
            let x = d.quantile(p);
            assert!((l..=h).contains(&x));
            assert!(
                (cdf(l, h, a, x) - p).abs() < 1e-12,
                "BP({l},{h},{a}) F(Q({p}))"
            );
            assert!((d.cdf(x) - p).abs() < 1e-12);
        }
    }
    // Degenerate L = H.
    let point = BoundedPareto::new(3.0, 3.0, 1.0).unwrap();
    assert_eq!((point.quantile(0.7), point.mean()), (3.0, 3.0));
}

#[test]
fn bounded_pareto_refuses_bad_parameters() {
    for (l, h, a) in [
        (0.0, 1.0, 1.0),
        (-1.0, 1.0, 1.0),
        (2.0, 1.0, 1.0),
        (1.0, 2.0, 0.0),
        (1.0, 2.0, -1.0),
        (1.0, f64::INFINITY, 1.0),
        (f64::NAN, 2.0, 1.0),
        (1.0, 2.0, f64::NAN),
    ] {
        assert!(BoundedPareto::new(l, h, a).is_err(), "BP({l},{h},{a})");
    }
}

#[test]
fn bounded_pareto_samples_match_mean_and_quantiles() {
    // α = 1 on [1, 1000]. E[X²] = ∫ x²·(L/(1 − L/H))·x⁻² dx = L·H = 1000, so
    // Var = 1000 − 6.9147² ≈ 952.2 and sd ≈ 30.86. With n = 10⁶ draws the sample
    // mean's standard error is ≈ 0.031; X is bounded, so the CLT holds well at this
    // n (Berry–Esseen: E|X − μ|³ ≤ E[X³] ≈ H²/2·L/(1 − L/H) ≈ 5·10⁵ gives a normal-
    // approximation error ≤ 0.48·5·10⁵/(30.86³·1000) ≈ 0.008). We allow 5 standard
    // errors (≈ 0.15, 2.2 % of the mean).
    let d = BoundedPareto::new(1.0, 1000.0, 1.0).unwrap();
    let n = 1_000_000usize;
    let mut rng = ChaCha8Rng::seed_from_u64(20_240_613);
    let mut xs: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
    assert!(xs.iter().all(|x| (1.0..=1000.0).contains(x)));
    let mean = xs.iter().sum::<f64>() / n as f64;
    let sd = (1000.0 - d.mean().powi(2)).sqrt();
    let se = sd / (n as f64).sqrt();
    assert!(
        (mean - d.mean()).abs() <= 5.0 * se,
        "sample mean {mean}, closed form {}",
        d.mean()
    );

    // Quantiles by the DKW inequality: P(sup |F_n − F| > ε) ≤ 2·exp(−2nε²); with
    // ε = sqrt(ln(2/10⁻⁹)/(2n)) ≈ 0.0033 that is 10⁻⁹. The empirical p-quantile
    // x_(⌈np⌉) has F_n = ⌈np⌉/n ∈ [p, p + 1/n), so on that event
    // F(x_(⌈np⌉)) ∈ [p − ε, p + ε + 1/n], i.e. it lies in [Q(p − ε), Q(p + ε + 1/n)].
    xs.sort_by(f64::total_cmp);
    let eps = ((2.0f64 / 1e-9).ln() / (2.0 * n as f64)).sqrt();
    for p in [0.1, 0.5, 0.9, 0.99] {
        let x = xs[(n as f64 * p).ceil() as usize - 1];
        let lo = d.quantile((p - eps).max(0.0));
        let hi = d.quantile((p + eps + 1.0 / n as f64).min(1.0));
        assert!(
            lo <= x && x <= hi,
            "p = {p}: empirical {x} not in [{lo}, {hi}]"
        );
    }

    // α = 2 on [1, 1000]: E[X] = 2(1 − 1/H)/(1 − H⁻²), E[X²] = 2·ln(H)/(1 − H⁻²).
    let d2 = BoundedPareto::new(1.0, 1000.0, 2.0).unwrap();
    let c = 1.0 - 1e-6;
    let (m1, m2) = (2.0 * (1.0 - 1e-3) / c, 2.0 * 1000f64.ln() / c);
    assert!((d2.mean() - m1).abs() < 1e-12);
    let ys: Vec<f64> = (0..n).map(|_| d2.sample(&mut rng)).collect();
    let mean2 = ys.iter().sum::<f64>() / n as f64;
    let se2 = ((m2 - m1 * m1) / n as f64).sqrt();
    assert!(
        (mean2 - m1).abs() <= 5.0 * se2,
        "α = 2: sample mean {mean2}, want {m1}"
    );
}

#[test]
fn generated_valuations_follow_the_configured_distribution() {
    // Over many markets, the fraction of users valuing a job below the median
    // Q(0.5) ≈ 1.998 is ≈ 1/2 (rounding to 3 decimals moves no value across 1.998
    // that was not within 0.0005 of it; that band has probability ≈ 1.3·10⁻⁴).
    // N ≈ 6000 users: sd of the fraction 0.5/√N ≈ 0.0065, 5 sd ≈ 0.032.
    let c = cfg(20, 5, 5);
    let median = BoundedPareto::new(1.0, 1000.0, 1.0).unwrap().quantile(0.5);
    let vals: Vec<f64> = (0..300)
        .flat_map(|s| {
            generate(&c, s)
                .unwrap()
                .into_market()
                .users
                .into_iter()
                .map(|u| u.valuation)
        })
        .collect();
    let below = vals.iter().filter(|&&v| v < median).count() as f64 / vals.len() as f64;
    let tol = 5.0 * 0.5 / (vals.len() as f64).sqrt() + 2e-4;
    assert!((below - 0.5).abs() <= tol, "fraction below median {below}");
}

/// A JSON range is exactly two numbers: three (or one) are refused with the typed
/// error that counts them, not truncated.
#[test]
fn a_json_range_of_other_than_two_numbers_is_refused_with_its_count() {
    assert_eq!(Range::try_from(vec![5.0, 20.0]), Ok(Range::new(5.0, 20.0)));
    assert_eq!(Range::try_from(vec![5.0, 10.0, 20.0]), Err(RangeLength(3)));
    assert_eq!(Range::try_from(vec![5.0]), Err(RangeLength(1)));
    let e = serde_json::from_str::<Range>("[5, 10, 20]").unwrap_err();
    assert!(
        e.to_string()
            .contains("a range is [min, max], two numbers; this one has 3"),
        "{e}"
    );
}
