//! Random markets as in [MCF-Grid] §6 and design §7: the scenarios of brokerflow's
//! experiments.
//!
//! [`generate`] turns a [`GeneratorConfig`] and a seed into a [`Market`]:
//!
//! * **Topology** ([MCF-Grid] §6). K users, B brokers, P providers; every user→broker and
//!   every broker→provider pair is linked with probability ln(n)/n, n = K + B + P
//!   (or [`GeneratorConfig::link_probability`]). A user that drew no broker gets one
//!   uniformly random broker, a broker that drew no provider one uniformly random
//!   provider, so every user reaches a broker and every broker a provider. Optionally
//!   each ordered broker pair gets a broker→broker link (linked markets; both
//!   directions may occur, so the market may have cycles).
//! * **Economics** (design §7). Demands, requirements, costs uniform on their ranges;
//!   valuations [`BoundedPareto`] on [1, 1000] with α = 1. Capacity is scarce: per
//!   layer, raw capacities drawn uniform on [`GeneratorConfig::capacity_spread`] are
//!   scaled so that the layer's total is its demand divided by
//!   [`GeneratorConfig::contention`]:
//!   - providers: Σ R_p = Σ_k d_k·r_k / contention (resource units);
//!   - brokers: Σ R_b = Σ_k d_k / contention (jobs);
//!   - broker→provider links: Σ B_bp = Σ_k d_k / contention (jobs).
//!
//!   User→broker links are not the bottleneck: each link's bandwidth is
//!   [`GeneratorConfig::user_link_bandwidth`] × the user's demand. Broker→broker links
//!   get [`GeneratorConfig::broker_link_bandwidth`] × the mean broker capacity
//!   (Σ_k d_k / contention / B), so a linked market can take a sizeable share of a
//!   broker's load but not all of it. Every link has a finite bandwidth and a cost.
//! * **Eligibility** (design §3). A fraction of users carry an `eligible` list: one
//!   provider drawn uniformly from those the user can reach through its brokers (so
//!   restricting a user never strands it), plus a uniformly random set of the others,
//!   the list's size uniform on 1..=P.
//! * **Posted prices** ([MCF-Grid] §4.1), see [`GeneratorConfig::posted_prices`].
//!
//! Every generated number is rounded to 3 decimals, so files read well; posted
//! prices are rounded *up*, so a price never falls below what it must cover.
//!
//! **Determinism and provenance.** The random stream is a [`ChaCha8Rng`] whose 32-byte
//! seed is SHA-256 over the configuration's canonical JSON and the user's seed (see
//! [`rng_seed`]): the same (configuration, seed) gives a byte-identical market, and
//! editing any configuration field gives a different scenario even with the same
//! seed. The market's `meta` records the generator, brokerflow's version, the seed
//! and the whole configuration; its name is `generated-K{K}-B{B}-P{P}-seed{S}`.
//!
//! ```
//! use brokerflow_graphs::generate::{generate, GeneratorConfig};
//! let config = GeneratorConfig { users: 10, brokers: 3, providers: 4, ..Default::default() };
//! let market = generate(&config, 7)?;
//! assert_eq!(market.name, "generated-K10-B3-P4-seed7");
//! assert!(market.check().is_ok()); // it is a ValidMarket already
//! // Same configuration and seed: the same bytes.
//! assert_eq!(market.to_json_pretty(), generate(&config, 7)?.to_json_pretty());
//! # Ok::<_, brokerflow_graphs::generate::GenerateError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::Distribution;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::error::MarketError;
use crate::market::{Broker, Link, Market, Prices, Provider, User, ValidMarket};

/// What the generator writes as `meta.generator`.
pub const GENERATOR: &str = "brokerflow generate";

/// Most participants (K + B + P) a generated market may have.
pub const MAX_PARTICIPANTS: u128 = 10_000_000;

/// Most candidate links (K·B + B·P + B·(B − 1)) the generator will draw.
pub const MAX_CANDIDATE_LINKS: u128 = 500_000_000;

/// Smallest lower bound of [`GeneratorConfig::requirement`]: a requirement below it
/// would round to 0, and design §3 requires r_k > 0.
pub const MIN_REQUIREMENT: f64 = 0.001;

/// A closed interval [min, max] from which a quantity is drawn uniformly (design §7).
///
/// In JSON it is the pair `[min, max]`; on the command line `min,max` (or a single
/// number for a fixed value). `min == max` draws that value every time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<f64>", into = "[f64; 2]")]
pub struct Range {
    /// Lower bound, inclusive.
    pub min: f64,
    /// Upper bound, inclusive.
    pub max: f64,
}

impl Range {
    /// The interval [min, max] (checked when a configuration is validated).
    pub const fn new(min: f64, max: f64) -> Range {
        Range { min, max }
    }

    /// A uniform draw from [min, max]: min + (max − min)·U with U uniform on [0, 1).
    fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        self.min + (self.max - self.min) * rng.random::<f64>()
    }
}

impl From<[f64; 2]> for Range {
    fn from([min, max]: [f64; 2]) -> Range {
        Range { min, max }
    }
}

/// A JSON range that is not two numbers: how many it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("a range is [min, max], two numbers; this one has {0}")]
pub struct RangeLength(pub usize);

/// Exactly two numbers: a third (`[5, 10, 20]`) is refused, not dropped.
impl TryFrom<Vec<f64>> for Range {
    type Error = RangeLength;
    fn try_from(v: Vec<f64>) -> Result<Range, RangeLength> {
        match v[..] {
            [min, max] => Ok(Range { min, max }),
            _ => Err(RangeLength(v.len())),
        }
    }
}

impl From<Range> for [f64; 2] {
    fn from(r: Range) -> [f64; 2] {
        [r.min, r.max]
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.min, self.max)
    }
}

/// Why a `min,max` text is not a [`Range`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("'{0}' is not a range: write MIN,MAX (e.g. 5,20) or a single number")]
pub struct ParseRangeError(pub String);

impl FromStr for Range {
    type Err = ParseRangeError;

    /// Parses `min,max` or a single number `x` (meaning [x, x]). Order is not
    /// checked here; [`GeneratorConfig::validate`] refuses min > max with a message.
    fn from_str(s: &str) -> Result<Range, ParseRangeError> {
        let bad = || ParseRangeError(s.to_string());
        let num = |t: &str| t.trim().parse::<f64>().map_err(|_| bad());
        match s.split_once(',') {
            Some((a, b)) => Ok(Range::new(num(a)?, num(b)?)),
            None => {
                let x = num(s)?;
                Ok(Range::new(x, x))
            }
        }
    }
}

/// The parameters of a random market ([MCF-Grid] §6, design §7). All rates are per
/// time unit; money is in the same (arbitrary) currency as valuations.
///
/// `Default` gives the documented defaults: 20 users, 5 brokers and 5 providers (the
/// largest of [MCF-Grid]'s Table 1 scenarios) and economics under which routing
/// matters. In JSON every field is optional (missing fields take their default),
/// unknown fields are refused, and ranges are written `[min, max]`.
///
/// With the `clap` feature it is also the command line's flags (`--users`,
/// `--contention`, …; the price margin, which needs posted prices, is the caller's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(default, deny_unknown_fields)]
pub struct GeneratorConfig {
    /// K, the number of users (job streams, one commodity each). 0 ≤ K; default 20.
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "K", help_heading = "Scenario", help = "K: number of users (job streams, one commodity each)", long_help = None))]
    pub users: usize,
    /// B, the number of brokers. Must be ≥ 1 when K > 0; default 5.
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "B", help_heading = "Scenario", help = "B: number of brokers (forward jobs; each job uses 1 unit of broker capacity)", long_help = None))]
    pub brokers: usize,
    /// P, the number of providers. Must be ≥ 1 when B > 0; default 5.
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "P", help_heading = "Scenario", help = "P: number of providers (run jobs; a job of user k uses r_k resource units)", long_help = None))]
    pub providers: usize,
    /// Probability that a given user→broker or broker→provider pair is linked, in
    /// [0, 1]. `None` (the default) is [MCF-Grid] §6's ln(n)/n with n = K + B + P.
    /// Whatever it is, every user gets at least one broker and every broker at least
    /// one provider.
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "Q", help_heading = "Topology and scarcity", help = "Probability in [0, 1] that a user→broker or broker→provider pair is linked [default: ln(n)/n, n = users + brokers + providers, as in the paper]", long_help = None))]
    pub link_probability: Option<f64>,
    /// Probability that a given ordered broker pair (a, b), a ≠ b, gets a broker→broker
    /// link a→b (linked markets), in [0, 1]; default 0 (no broker→broker links).
    /// Both a→b and b→a may be drawn, which makes G′ cyclic.
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "Q", default_value_t = GeneratorConfig::default().broker_link_probability, help_heading = "Topology and scarcity", help = "Linked markets: probability in [0, 1] that a broker links to another given broker (each direction drawn separately, so cycles may occur). 0 = no broker→broker links", long_help = None))]
    pub broker_link_probability: f64,
    /// Fraction of users, in [0, 1], that carry an `eligible` provider list (design
    /// §3); round(fraction·K) users, chosen uniformly. Default 0 (every provider can
    /// run every job).
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "FRACTION", default_value_t = GeneratorConfig::default().eligibility, help_heading = "Topology and scarcity", help = "Fraction in [0, 1] of users that may use only some providers (software, hardware or policy constraints); each such user gets a random non-empty \"eligible\" list that includes a provider it can reach. 0 = every provider can run every job", long_help = None))]
    pub eligibility: f64,
    /// Whether to write a posted-price table ([MCF-Grid] §4.1); default false.
    ///
    /// The rule, with m drawn uniformly from [`price_margin`](Self::price_margin) for
    /// each (seller, user) pair and ⌈·⌉ rounding up to 3 decimals:
    /// * provider p, for each user k it is eligible for: π^k_p = ⌈(1 + m)·c_p·r_k⌉,
    ///   so the provider's utility π^k_p − c_p·r_k is at least m·c_p·r_k ≥ 0;
    /// * broker b, for each user k it can pass on to an eligible provider:
    ///   π^k_b = ⌈(1 + m)·(c_b + min over b's links b→h of (c_bh + π^k_h))⌉, h a
    ///   provider or a linked broker. So the broker covers its own cost plus the
    ///   cheapest way to pass the job on, and keeps a margin; forwarding along a
    ///   dearer hop eats into that margin (the price signal that steers routing).
    ///   The minimum is well defined also on broker→broker cycles (a cycle only adds
    ///   cost), computed by Bellman–Ford.
    ///
    /// User prices are not bounded by valuations: a user whose v_k is below the
    /// cheapest path price is simply not worth serving at these prices.
    #[cfg_attr(feature = "clap", arg(long, help_heading = "Topology and scarcity", help = "Also write posted prices per job: a provider charges its cost c_p·r_k plus a margin; a broker its cost plus the cheapest onward price (link cost + next hop's price) plus a margin. Prices are rounded up to 3 decimals", long_help = None))]
    pub posted_prices: bool,
    /// Contention, > 0: per layer, total capacity = total demand of the layer /
    /// contention (providers in resource units, Σ d_k·r_k; brokers and broker→provider
    /// links in jobs, Σ d_k). Default 2: at most about half the demand can be served.
    /// Values ≤ 1 make capacity plentiful in total (though individual paths may
    /// still be tight).
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "X", default_value_t = GeneratorConfig::default().contention, help_heading = "Topology and scarcity", display_order = 3, help = "Scarcity of capacity, > 0: in each layer total capacity is total demand divided by this (providers in resource units Σ demand·requirement; brokers and broker→provider links in jobs Σ demand). 2 means at most about half the demand can be served; ≤ 1 makes capacity plentiful in total", long_help = None))]
    pub contention: f64,
    /// d_k, each user's demand in jobs per time unit, uniform; ≥ 0. Default [5, 20].
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "MIN,MAX", default_value_t = GeneratorConfig::default().demand, help_heading = "Economics (uniform ranges unless stated)", help = "Each user's demand d_k, in jobs per time unit", long_help = None))]
    pub demand: Range,
    /// r_k, resource units one job of user k needs at a provider, uniform; the lower
    /// bound must be ≥ 0.001 (requirements are positive). Default [0.5, 2].
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "MIN,MAX", default_value_t = GeneratorConfig::default().requirement, help_heading = "Economics (uniform ranges unless stated)", help = "Each user's requirement r_k, in resource units per job (lower bound ≥ 0.001)", long_help = None))]
    pub requirement: Range,
    /// Bounds [L, H] of the Bounded Pareto distribution of valuations v_k (money per
    /// job processed, the user's bid); 0 < L ≤ H. Default [1, 1000] ([MCF-Grid] §6:
    /// three orders of magnitude).
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "L,H", default_value_t = GeneratorConfig::default().valuation, help_heading = "Economics (uniform ranges unless stated)", help = "Bounds L,H of the users' valuations v_k (money per job processed, the user's bid), Bounded Pareto on [L, H], 0 < L ≤ H", long_help = None))]
    pub valuation: Range,
    /// Shape α > 0 of the Bounded Pareto valuations; default 1 ([MCF-Grid] §6). Smaller
    /// α puts more weight on high valuations. With the defaults the median is ≈ 2 and
    /// the mean ≈ 6.91.
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "ALPHA", default_value_t = GeneratorConfig::default().valuation_alpha, help_heading = "Economics (uniform ranges unless stated)", help = "Shape α > 0 of the Bounded Pareto valuations; with 1 on [1, 1000] the median valuation is ≈ 2 and the mean ≈ 6.9. Smaller α: more high-value users", long_help = None))]
    pub valuation_alpha: f64,
    /// c_p, each provider's cost in money per resource unit, uniform; ≥ 0. Default
    /// [0.1, 5]: a job (r_k ∈ [0.5, 2]) costs from well below the smallest valuation
    /// to a few times the median one (design §7).
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "MIN,MAX", default_value_t = GeneratorConfig::default().provider_cost, help_heading = "Economics (uniform ranges unless stated)", help = "Each provider's cost c_p, in money per resource unit (a job of user k costs c_p·r_k). The default runs from well below the smallest valuation to a few times the median one, so which provider serves a job matters", long_help = None))]
    pub provider_cost: Range,
    /// c_b, each broker's cost in money per job forwarded, uniform; ≥ 0. Default
    /// [0, 0.5].
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "MIN,MAX", default_value_t = GeneratorConfig::default().broker_cost, help_heading = "Economics (uniform ranges unless stated)", help = "Each broker's cost c_b, in money per job forwarded", long_help = None))]
    pub broker_cost: Range,
    /// c_uv, each link's cost in money per job sent (paid by the sender), uniform;
    /// ≥ 0; all link kinds. Default [0, 0.5].
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "MIN,MAX", default_value_t = GeneratorConfig::default().link_cost, help_heading = "Economics (uniform ranges unless stated)", help = "Each link's cost, in money per job sent (paid by the sender); all links", long_help = None))]
    pub link_cost: Range,
    /// Raw capacity weights, uniform, ≥ 0 (dimensionless): a broker's, provider's or
    /// broker→provider link's share of its layer's total capacity is its weight over
    /// the layer's sum of weights. Default [0.5, 1.5]: the largest member has at
    /// most 3 times the smallest one's capacity.
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "MIN,MAX", default_value_t = GeneratorConfig::default().capacity_spread, help_heading = "Economics (uniform ranges unless stated)", help = "Spread of capacities within a layer (dimensionless weights ≥ 0): each broker, provider and broker→provider link gets a share of its layer's total in proportion to a weight drawn from this range. 0.5,1.5: largest ≤ 3 × smallest", long_help = None))]
    pub capacity_spread: Range,
    /// Bandwidth of each user→broker link as a multiple of the user's demand d_k,
    /// uniform, ≥ 0. Default [0.5, 1.5]: a single link may carry between half and
    /// one and a half times the demand (these links are not the bottleneck).
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "MIN,MAX", default_value_t = GeneratorConfig::default().user_link_bandwidth, help_heading = "Economics (uniform ranges unless stated)", help = "Bandwidth of each user→broker link, as a multiple of that user's demand (these links are meant not to be the bottleneck)", long_help = None))]
    pub user_link_bandwidth: Range,
    /// Bandwidth of each broker→broker link as a multiple of the mean broker capacity
    /// (Σ d_k / contention / B), uniform, ≥ 0. Default [0.5, 1.5].
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true, value_name = "MIN,MAX", default_value_t = GeneratorConfig::default().broker_link_bandwidth, help_heading = "Economics (uniform ranges unless stated)", help = "Bandwidth of each broker→broker link, as a multiple of the mean broker capacity (total demand / contention / brokers)", long_help = None))]
    pub broker_link_bandwidth: Range,
    /// Relative margin m of posted prices over what they must cover (see
    /// [`posted_prices`](Self::posted_prices)), uniform, ≥ 0; 0.2 means 20 %.
    /// Default [0.1, 0.3]. Unused without posted prices.
    #[cfg_attr(feature = "clap", arg(skip = GeneratorConfig::default().price_margin))]
    pub price_margin: Range,
}

impl Default for GeneratorConfig {
    fn default() -> GeneratorConfig {
        GeneratorConfig {
            users: 20,
            brokers: 5,
            providers: 5,
            link_probability: None,
            broker_link_probability: 0.0,
            eligibility: 0.0,
            posted_prices: false,
            contention: 2.0,
            demand: Range::new(5.0, 20.0),
            requirement: Range::new(0.5, 2.0),
            valuation: Range::new(1.0, 1000.0),
            valuation_alpha: 1.0,
            provider_cost: Range::new(0.1, 5.0),
            broker_cost: Range::new(0.0, 0.5),
            link_cost: Range::new(0.0, 0.5),
            capacity_spread: Range::new(0.5, 1.5),
            user_link_bandwidth: Range::new(0.5, 1.5),
            broker_link_bandwidth: Range::new(0.5, 1.5),
            price_margin: Range::new(0.1, 0.3),
        }
    }
}

/// Why a generator configuration was refused (or, for the last two, why generation
/// failed). Each names the configuration field at fault where there is one.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// Users need brokers to send jobs to.
    #[error("{users} users need at least one broker to send their jobs to (brokers is 0)")]
    NoBrokers {
        /// K.
        users: usize,
    },
    /// Brokers need providers to forward jobs to.
    #[error("{brokers} brokers need at least one provider to forward jobs to (providers is 0)")]
    NoProviders {
        /// B.
        brokers: usize,
    },
    /// A number is NaN or infinite.
    #[error("{field} is not a finite number")]
    NonFinite {
        /// The configuration field.
        field: &'static str,
    },
    /// A number lies outside its allowed range.
    #[error("{field} is {value}, but {rule}")]
    OutOfRange {
        /// The configuration field.
        field: &'static str,
        /// The value found.
        value: f64,
        /// What is allowed, e.g. "must be positive".
        rule: &'static str,
    },
    /// A range whose lower bound exceeds its upper bound.
    #[error("{field} is the range {min},{max}, but its minimum is greater than its maximum")]
    EmptyRange {
        /// The configuration field.
        field: &'static str,
        /// Lower bound given.
        min: f64,
        /// Upper bound given.
        max: f64,
    },
    /// The market would be too large to generate in memory and reasonable time.
    #[error("{what} is {count}, more than the generator's limit of {limit}")]
    TooLarge {
        /// What was counted.
        what: &'static str,
        /// The count.
        count: u128,
        /// The limit.
        limit: u128,
    },
    /// The configuration could not be written as JSON (for the seed and `meta`).
    #[error("cannot serialise the generator configuration")]
    Serialize(#[source] serde_json::Error),
    /// The configuration's numbers are so extreme that the market holds numbers
    /// that are not valid (e.g. infinite capacities from a contention near 0). The
    /// market's error is quoted in the message, so it is not also the source.
    #[error("the configuration produces a market that is not valid: {0}")]
    Unrepresentable(MarketError),
}

impl GenerateError {
    /// The [`GeneratorConfig`] field at fault, if the error is about one field.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            GenerateError::NoBrokers { .. } => Some("brokers"),
            GenerateError::NoProviders { .. } => Some("providers"),
            GenerateError::NonFinite { field }
            | GenerateError::OutOfRange { field, .. }
            | GenerateError::EmptyRange { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// A [`GenerateError`] worded for a command line whose flags are the configuration's
/// fields (`--link-cost` for [`GeneratorConfig::link_cost`]): `invalid --link-cost: …`
/// for the field at fault, `cannot generate: …` when no one field is.
#[derive(Debug, Clone, Copy)]
pub struct AsFlags<'e>(pub &'e GenerateError);

impl std::fmt::Display for AsFlags<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.field() {
            Some(field) => write!(f, "invalid --{}: {}", field.replace('_', "-"), self.0),
            None => write!(f, "cannot generate: {}", self.0),
        }
    }
}

fn check_finite(field: &'static str, x: f64) -> Result<(), GenerateError> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(GenerateError::NonFinite { field })
    }
}

fn check_probability(field: &'static str, x: f64) -> Result<(), GenerateError> {
    check_finite(field, x)?;
    if !(0.0..=1.0).contains(&x) {
        return Err(GenerateError::OutOfRange {
            field,
            value: x,
            rule: "it must lie in [0, 1]",
        });
    }
    Ok(())
}

fn check_range(
    field: &'static str,
    r: Range,
    lowest: f64,
    rule: &'static str,
) -> Result<(), GenerateError> {
    check_finite(field, r.min)?;
    check_finite(field, r.max)?;
    if r.min > r.max {
        return Err(GenerateError::EmptyRange {
            field,
            min: r.min,
            max: r.max,
        });
    }
    if r.min < lowest {
        return Err(GenerateError::OutOfRange {
            field,
            value: r.min,
            rule,
        });
    }
    Ok(())
}

impl GeneratorConfig {
    /// Checks that the configuration describes markets [`generate`] can draw (sizes,
    /// ranges ordered and within their bounds, probabilities in [0, 1], a positive
    /// contention); [`generate`] calls it first.
    ///
    /// # Returns
    /// `Ok(())` for a usable configuration.
    ///
    /// # Errors
    /// [`GenerateError`] naming the first field out of range.
    ///
    /// # Complexity
    /// O(1).
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::generate::GeneratorConfig;
    ///
    /// assert!(GeneratorConfig::default().validate().is_ok());
    /// let none = GeneratorConfig { contention: 0.0, ..GeneratorConfig::default() };
    /// assert_eq!(none.validate().unwrap_err().field(), Some("contention"));
    /// ```
    ///
    /// Paper: [MCF-Grid] §6 (the scenarios' parameters).
    pub fn validate(&self) -> Result<(), GenerateError> {
        let (k, b, p) = (
            self.users as u128,
            self.brokers as u128,
            self.providers as u128,
        );
        let participants = k + b + p;
        if participants > MAX_PARTICIPANTS {
            return Err(GenerateError::TooLarge {
                what: "the number of participants (users + brokers + providers)",
                count: participants,
                limit: MAX_PARTICIPANTS,
            });
        }
        let pairs = k * b + b * p + b * b.saturating_sub(1);
        if pairs > MAX_CANDIDATE_LINKS {
            return Err(GenerateError::TooLarge {
                what: "the number of candidate links (users·brokers + brokers·providers + brokers·(brokers − 1))",
                count: pairs,
                limit: MAX_CANDIDATE_LINKS,
            });
        }
        if self.users > 0 && self.brokers == 0 {
            return Err(GenerateError::NoBrokers { users: self.users });
        }
        if self.brokers > 0 && self.providers == 0 {
            return Err(GenerateError::NoProviders {
                brokers: self.brokers,
            });
        }
        if let Some(q) = self.link_probability {
            check_probability("link_probability", q)?;
        }
        check_probability("broker_link_probability", self.broker_link_probability)?;
        check_probability("eligibility", self.eligibility)?;
        check_finite("contention", self.contention)?;
        if self.contention <= 0.0 {
            return Err(GenerateError::OutOfRange {
                field: "contention",
                value: self.contention,
                rule: "it must be positive (total capacity = total demand / contention)",
            });
        }
        const NON_NEG: &str = "it must not be negative";
        check_range("demand", self.demand, 0.0, NON_NEG)?;
        check_range(
            "requirement",
            self.requirement,
            MIN_REQUIREMENT,
            "it must be at least 0.001 (requirements are positive and rounded to 3 decimals)",
        )?;
        check_range(
            "valuation",
            self.valuation,
            f64::MIN_POSITIVE,
            "the Bounded Pareto lower bound must be positive",
        )?;
        check_finite("valuation_alpha", self.valuation_alpha)?;
        if self.valuation_alpha <= 0.0 {
            return Err(GenerateError::OutOfRange {
                field: "valuation_alpha",
                value: self.valuation_alpha,
                rule: "the Bounded Pareto shape must be positive",
            });
        }
        check_range("provider_cost", self.provider_cost, 0.0, NON_NEG)?;
        check_range("broker_cost", self.broker_cost, 0.0, NON_NEG)?;
        check_range("link_cost", self.link_cost, 0.0, NON_NEG)?;
        check_range("capacity_spread", self.capacity_spread, 0.0, NON_NEG)?;
        check_range(
            "user_link_bandwidth",
            self.user_link_bandwidth,
            0.0,
            NON_NEG,
        )?;
        check_range(
            "broker_link_bandwidth",
            self.broker_link_bandwidth,
            0.0,
            NON_NEG,
        )?;
        check_range("price_margin", self.price_margin, 0.0, NON_NEG)?;
        Ok(())
    }

    /// The configuration's canonical JSON: compact, fields in declaration order,
    /// ranges as `[min, max]`. This is what [`rng_seed`] hashes.
    pub fn canonical_json(&self) -> Result<String, GenerateError> {
        serde_json::to_string(self).map_err(GenerateError::Serialize)
    }

    /// The probability of a user→broker or broker→provider link: the configured one,
    /// or [MCF-Grid] §6's ln(n)/n with n = K + B + P (0 when n ≤ 1).
    ///
    /// # Returns
    /// The probability q.
    ///
    /// # Complexity
    /// O(1).
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::generate::GeneratorConfig;
    ///
    /// // The default 20 users, 5 brokers, 5 providers: n = 30, q = ln 30 / 30.
    /// let q = GeneratorConfig::default().effective_link_probability();
    /// assert!((q - 30f64.ln() / 30.0).abs() < 1e-15);
    /// let fixed = GeneratorConfig { link_probability: Some(0.5), ..GeneratorConfig::default() };
    /// assert_eq!(fixed.effective_link_probability(), 0.5);
    /// ```
    ///
    /// Paper: [MCF-Grid] §6.
    pub fn effective_link_probability(&self) -> f64 {
        match self.link_probability {
            Some(q) => q,
            None => {
                let n = (self.users + self.brokers + self.providers) as f64;
                if n <= 1.0 {
                    0.0
                } else {
                    n.ln() / n
                }
            }
        }
    }
}

/// The 32-byte ChaCha8 seed of scenario (config, seed): SHA-256 of the tag
/// `brokerflow generate\0`, the configuration's [canonical JSON](GeneratorConfig::canonical_json),
/// a zero byte and the seed as 8 little-endian bytes (design §7: a scenario is named
/// by its configuration and seed, and editing the configuration changes it).
pub fn rng_seed(config: &GeneratorConfig, seed: u64) -> Result<[u8; 32], GenerateError> {
    let mut h = Sha256::new();
    h.update(GENERATOR.as_bytes());
    h.update([0u8]);
    h.update(config.canonical_json()?.as_bytes());
    h.update([0u8]);
    h.update(seed.to_le_bytes());
    Ok(h.finalize().into())
}

/// The Bounded Pareto distribution BP(L, H, α) of [MCF-Grid] §6, used for valuations:
/// density f(x) = α·L^α·x^(−α−1) / (1 − (L/H)^α) on [L, H].
///
/// Sampling is by the inverse CDF ([`quantile`](Self::quantile) of a uniform draw).
/// L = H is allowed and always gives L.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundedPareto {
    lo: f64,
    hi: f64,
    alpha: f64,
}

impl BoundedPareto {
    /// The Bounded Pareto distribution BP(L, H, α) of [MCF-Grid] §6.
    ///
    /// # Arguments
    /// * `lo`, `hi`: the bounds L and H, 0 < L ≤ H, finite.
    /// * `alpha`: the shape α > 0, finite.
    ///
    /// # Returns
    /// The distribution.
    ///
    /// # Errors
    /// [`GenerateError`] for a bound or shape out of range.
    ///
    /// # Complexity
    /// O(1).
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::generate::BoundedPareto;
    ///
    /// assert!(BoundedPareto::new(1.0, 1000.0, 1.0).is_ok());
    /// assert!(BoundedPareto::new(0.0, 1000.0, 1.0).is_err()); // L must be positive
    /// assert!(BoundedPareto::new(1.0, 1000.0, 0.0).is_err()); // α must be positive
    /// ```
    ///
    /// Paper: [MCF-Grid] §6.
    pub fn new(lo: f64, hi: f64, alpha: f64) -> Result<BoundedPareto, GenerateError> {
        check_range(
            "valuation",
            Range::new(lo, hi),
            f64::MIN_POSITIVE,
            "the Bounded Pareto lower bound must be positive",
        )?;
        check_finite("valuation_alpha", alpha)?;
        if alpha <= 0.0 {
            return Err(GenerateError::OutOfRange {
                field: "valuation_alpha",
                value: alpha,
                rule: "the Bounded Pareto shape must be positive",
            });
        }
        Ok(BoundedPareto { lo, hi, alpha })
    }

    /// Lower bound L.
    pub fn lo(&self) -> f64 {
        self.lo
    }

    /// Upper bound H.
    pub fn hi(&self) -> f64 {
        self.hi
    }

    /// Shape α.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// 1 − (L/H)^α, computed without cancellation.
    fn mass(&self) -> f64 {
        -(-self.alpha * (self.hi / self.lo).ln()).exp_m1()
    }

    /// The CDF F(x) = (1 − (L/x)^α) / (1 − (L/H)^α) on [L, H]; 0 below, 1 above.
    ///
    /// # Arguments
    /// * `x`: the valuation.
    ///
    /// # Returns
    /// P(X ≤ x); NaN for NaN.
    ///
    /// # Complexity
    /// O(1).
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::generate::BoundedPareto;
    ///
    /// let bp = BoundedPareto::new(1.0, 1000.0, 1.0)?;
    /// // (1 − 1/2) / (1 − 1/1000) = 0.5 / 0.999
    /// assert!((bp.cdf(2.0) - 0.5 / 0.999).abs() < 1e-12);
    /// assert_eq!((bp.cdf(0.5), bp.cdf(1000.0)), (0.0, 1.0));
    /// # Ok::<_, brokerflow_graphs::generate::GenerateError>(())
    /// ```
    ///
    /// Paper: [MCF-Grid] §6.
    pub fn cdf(&self, x: f64) -> f64 {
        if x.is_nan() {
            return f64::NAN;
        }
        if x < self.lo {
            return 0.0;
        }
        if x >= self.hi {
            return 1.0;
        }
        -(-self.alpha * (x / self.lo).ln()).exp_m1() / self.mass()
    }

    /// The quantile (inverse CDF) Q(p) = L·(1 − p·(1 − (L/H)^α))^(−1/α) for p in
    /// [0, 1]; Q(0) = L, Q(1) = H. NaN for p outside [0, 1] or NaN.
    ///
    /// # Arguments
    /// * `p`: the probability.
    ///
    /// # Returns
    /// The valuation x with F(x) = p, within [L, H].
    ///
    /// # Complexity
    /// O(1).
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::generate::BoundedPareto;
    ///
    /// let bp = BoundedPareto::new(1.0, 1000.0, 1.0)?;
    /// assert_eq!(bp.quantile(0.0), 1.0);
    /// assert!((bp.quantile(1.0) - 1000.0).abs() < 1e-9);
    /// // Q inverts F.
    /// assert!((bp.cdf(bp.quantile(0.3)) - 0.3).abs() < 1e-12);
    /// assert!(bp.quantile(1.5).is_nan());
    /// # Ok::<_, brokerflow_graphs::generate::GenerateError>(())
    /// ```
    ///
    /// Paper: [MCF-Grid] §6.
    pub fn quantile(&self, p: f64) -> f64 {
        if !(0.0..=1.0).contains(&p) {
            return f64::NAN;
        }
        if self.lo == self.hi {
            return self.lo;
        }
        // L·exp(−ln(1 − p·c)/α), clamped against round-off.
        let x = self.lo * (-(-p * self.mass()).ln_1p() / self.alpha).exp();
        x.clamp(self.lo, self.hi)
    }

    /// The mean: α·L/(1 − (L/H)^α) · ln(H/L) · g(t), g(t) = (e^t − 1)/t, t = (1 − α)·ln(H/L).
    ///
    /// This is the textbook L^α/(1 − (L/H)^α) · α/(α − 1) · (L^(1−α) − H^(1−α)) for
    /// α ≠ 1, rewritten so it stays accurate near α = 1, where it becomes
    /// (H·L/(H − L))·ln(H/L) (≈ 6.9147 on [1, 1000]).
    ///
    /// # Returns
    /// E\[X\].
    ///
    /// # Complexity
    /// O(1).
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::generate::BoundedPareto;
    ///
    /// // α = 1 on [1, 1000]: (1000·1 / 999)·ln 1000.
    /// let bp = BoundedPareto::new(1.0, 1000.0, 1.0)?;
    /// assert!((bp.mean() - 1000.0 / 999.0 * 1000f64.ln()).abs() < 1e-9);
    /// # Ok::<_, brokerflow_graphs::generate::GenerateError>(())
    /// ```
    ///
    /// Paper: [MCF-Grid] §6.
    pub fn mean(&self) -> f64 {
        if self.lo == self.hi {
            return self.lo;
        }
        let ln_ratio = (self.hi / self.lo).ln();
        let t = (1.0 - self.alpha) * ln_ratio;
        let g = if t == 0.0 { 1.0 } else { t.exp_m1() / t };
        self.alpha * self.lo / self.mass() * ln_ratio * g
    }
}

impl Distribution<f64> for BoundedPareto {
    /// One draw by inverse-CDF sampling: Q(U), U uniform on [0, 1).
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        self.quantile(rng.random::<f64>())
    }
}

/// Rounds to 3 decimals (generated numbers are written that way).
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0 + 0.0
}

/// Rounds up to 3 decimals (posted prices never fall below what they cover).
fn ceil3(x: f64) -> f64 {
    (x * 1000.0).ceil() / 1000.0 + 0.0
}

/// Splits `total` over members in proportion to `weights` (equal shares if the
/// weights sum to 0), each rounded to 3 decimals.
fn scale(weights: &[f64], total: f64) -> Vec<f64> {
    let sum: f64 = weights.iter().sum();
    weights
        .iter()
        .map(|w| {
            let share = if sum > 0.0 {
                w / sum
            } else {
                1.0 / weights.len() as f64
            };
            round3(share * total)
        })
        .collect()
}

/// Where a broker's link goes.
#[derive(Clone, Copy)]
enum Hop {
    Broker(usize),
    Provider(usize),
}

/// Generates the random linked market of scenario (config, seed) as in [MCF-Grid] §6
/// and design §7 (see the module documentation for every rule): link probability
/// ln(n)/n, Bounded Pareto valuations, capacities scaled to the demand over the
/// contention.
///
/// # Arguments
/// * `config`: sizes K, B, P, the ranges every number is drawn from, the contention,
///   the shares of broker→broker links, eligible lists and posted prices.
/// * `seed`: the scenario's number; with `config` it names the scenario.
///
/// # Returns
/// A market that passes [`Market::validate`]; the same arguments always give the
/// same market, and every user reaches a broker and every broker a provider.
///
/// # Errors
/// [`GenerateError`] naming the configuration field that is out of range.
///
/// # Complexity
/// O(K·B + B² + B·P + E·P) time and the same space for the links it draws, with
/// K users, B brokers, P providers and E users given an eligible list (plus the
/// posted-price tables, O(B·K + P·K), when asked for).
///
/// # Example
/// ```
/// use brokerflow_graphs::generate::{generate, GeneratorConfig};
///
/// let config = GeneratorConfig { users: 5, ..GeneratorConfig::default() };
/// let a = generate(&config, 7)?;
/// assert_eq!(a.users.len(), 5);
/// assert_eq!((a.brokers.len(), a.providers.len()), (5, 5));
/// // Providers hold Σ d_k·r_k / contention resource units in total (contention 2),
/// // up to the rounding of each capacity to 3 decimals.
/// let units: f64 = a.users.iter().map(|u| u.demand * u.requirement).sum();
/// let held: f64 = a.providers.iter().map(|p| p.capacity.unwrap()).sum();
/// assert!((held - units / 2.0).abs() <= 0.0005 * 5.0 + 1e-9);
/// // A scenario is named by (configuration, seed).
/// assert_eq!(a, generate(&config, 7)?);
/// # Ok::<_, brokerflow_graphs::generate::GenerateError>(())
/// ```
///
/// Paper: [MCF-Grid] §6.
pub fn generate(config: &GeneratorConfig, seed: u64) -> Result<ValidMarket, GenerateError> {
    config.validate()?;
    let mut rng = ChaCha8Rng::from_seed(rng_seed(config, seed)?);
    let rng = &mut rng;
    let (nk, nb, np) = (config.users, config.brokers, config.providers);
    let pareto = BoundedPareto::new(
        config.valuation.min,
        config.valuation.max,
        config.valuation_alpha,
    )?;

    // Participants. Draw order is part of the scenario's definition: do not reorder.
    let mut users: Vec<User> = (0..nk)
        .map(|k| User {
            id: format!("u{}", k + 1),
            demand: round3(config.demand.draw(rng)),
            requirement: round3(config.requirement.draw(rng)).max(MIN_REQUIREMENT),
            valuation: round3(pareto.sample(rng)),
            eligible: None,
        })
        .collect();
    let broker_cost: Vec<f64> = (0..nb)
        .map(|_| round3(config.broker_cost.draw(rng)))
        .collect();
    let broker_weight: Vec<f64> = (0..nb).map(|_| config.capacity_spread.draw(rng)).collect();
    let provider_cost: Vec<f64> = (0..np)
        .map(|_| round3(config.provider_cost.draw(rng)))
        .collect();
    let provider_weight: Vec<f64> = (0..np).map(|_| config.capacity_spread.draw(rng)).collect();

    let jobs: f64 = users.iter().map(|u| u.demand).sum::<f64>() + 0.0;
    let units: f64 = users.iter().map(|u| u.demand * u.requirement).sum::<f64>() + 0.0;
    let q = config.effective_link_probability();

    // Draws `count` Bernoulli(q) candidates; if none came up, one uniform candidate.
    let pick = |rng: &mut ChaCha8Rng, count: usize, q: f64| -> Vec<usize> {
        let mut chosen: Vec<usize> = (0..count).filter(|_| rng.random::<f64>() < q).collect();
        if chosen.is_empty() && count > 0 {
            chosen.push(rng.random_range(0..count));
        }
        chosen
    };

    let mut links: Vec<Link> = Vec::new();
    // User→broker: bandwidth a multiple of the user's demand.
    let mut user_brokers: Vec<Vec<usize>> = Vec::with_capacity(nk);
    for (k, u) in users.iter().enumerate() {
        let chosen = pick(rng, nb, q);
        for &b in &chosen {
            let bandwidth = round3(config.user_link_bandwidth.draw(rng) * u.demand);
            links.push(Link {
                from: format!("u{}", k + 1),
                to: format!("b{}", b + 1),
                bandwidth: Some(bandwidth),
                cost: round3(config.link_cost.draw(rng)),
            });
        }
        user_brokers.push(chosen);
    }
    // Broker→broker (linked markets): bandwidth a multiple of the mean broker capacity.
    let mean_broker_capacity = if nb > 0 {
        jobs / config.contention / nb as f64
    } else {
        0.0
    };
    let mut out_hops: Vec<Vec<(Hop, f64)>> = vec![Vec::new(); nb];
    for (a, hops) in out_hops.iter_mut().enumerate() {
        for b in 0..nb {
            if a == b || rng.random::<f64>() >= config.broker_link_probability {
                continue;
            }
            let bandwidth = round3(config.broker_link_bandwidth.draw(rng) * mean_broker_capacity);
            let cost = round3(config.link_cost.draw(rng));
            links.push(Link {
                from: format!("b{}", a + 1),
                to: format!("b{}", b + 1),
                bandwidth: Some(bandwidth),
                cost,
            });
            hops.push((Hop::Broker(b), cost));
        }
    }
    // Broker→provider: weights now, bandwidths scaled over the whole layer below.
    let first_bp = links.len();
    let mut bp_weight: Vec<f64> = Vec::new();
    for (b, hops) in out_hops.iter_mut().enumerate() {
        for p in pick(rng, np, q) {
            bp_weight.push(config.capacity_spread.draw(rng));
            let cost = round3(config.link_cost.draw(rng));
            links.push(Link {
                from: format!("b{}", b + 1),
                to: format!("p{}", p + 1),
                bandwidth: None,
                cost,
            });
            hops.push((Hop::Provider(p), cost));
        }
    }
    for (link, bw) in links[first_bp..]
        .iter_mut()
        .zip(scale(&bp_weight, jobs / config.contention))
    {
        link.bandwidth = Some(bw);
    }

    // Eligibility: round(fraction·K) users, each with one reachable provider plus
    // a random set of the others.
    let n_eligible = ((config.eligibility * nk as f64).round() as usize).min(nk);
    if n_eligible > 0 {
        let mut chosen = rand::seq::index::sample(rng, nk, n_eligible).into_vec();
        chosen.sort_unstable();
        for k in chosen {
            let reachable = reachable_providers(&user_brokers[k], &out_hops, np);
            // Every broker has a provider link, so `reachable` is non-empty.
            let Some(&first) = reachable.get(rng.random_range(0..reachable.len().max(1))) else {
                continue;
            };
            let size = rng.random_range(1..=np);
            let others: Vec<usize> = (0..np).filter(|&p| p != first).collect();
            let mut list: Vec<usize> = rand::seq::index::sample(rng, others.len(), size - 1)
                .into_iter()
                .map(|i| others[i])
                .collect();
            list.push(first);
            list.sort_unstable();
            users[k].eligible = Some(list.into_iter().map(|p| format!("p{}", p + 1)).collect());
        }
    }

    let prices = if config.posted_prices {
        Some(posted_prices(
            config,
            rng,
            &users,
            &broker_cost,
            &provider_cost,
            &out_hops,
        ))
    } else {
        None
    };

    let brokers = scale(&broker_weight, jobs / config.contention)
        .into_iter()
        .zip(broker_cost)
        .enumerate()
        .map(|(b, (capacity, cost))| Broker {
            id: format!("b{}", b + 1),
            capacity: Some(capacity),
            cost,
        })
        .collect();
    let providers = scale(&provider_weight, units / config.contention)
        .into_iter()
        .zip(provider_cost)
        .enumerate()
        .map(|(p, (capacity, cost))| Provider {
            id: format!("p{}", p + 1),
            capacity: Some(capacity),
            cost,
        })
        .collect();

    let mut meta = serde_json::Map::new();
    meta.insert("generator".into(), GENERATOR.into());
    meta.insert("version".into(), crate::VERSION.into());
    meta.insert("seed".into(), seed.into());
    meta.insert(
        "config".into(),
        serde_json::to_value(config).map_err(GenerateError::Serialize)?,
    );
    let market = Market {
        name: format!("generated-K{nk}-B{nb}-P{np}-seed{seed}"),
        users,
        brokers,
        providers,
        links,
        prices,
        meta: Some(meta),
    };
    market.validate().map_err(GenerateError::Unrepresentable)
}

/// Providers reachable from a user's brokers through broker→broker and
/// broker→provider links, ascending.
fn reachable_providers(start: &[usize], out_hops: &[Vec<(Hop, f64)>], np: usize) -> Vec<usize> {
    let mut seen_broker = vec![false; out_hops.len()];
    let mut seen_provider = vec![false; np];
    let mut stack: Vec<usize> = Vec::new();
    for &b in start {
        if !seen_broker[b] {
            seen_broker[b] = true;
            stack.push(b);
        }
    }
    while let Some(b) = stack.pop() {
        for &(hop, _) in &out_hops[b] {
            match hop {
                Hop::Broker(c) if !seen_broker[c] => {
                    seen_broker[c] = true;
                    stack.push(c);
                }
                Hop::Provider(p) => seen_provider[p] = true,
                Hop::Broker(_) => {}
            }
        }
    }
    (0..np).filter(|&p| seen_provider[p]).collect()
}

/// The posted-price table of [`GeneratorConfig::posted_prices`].
fn posted_prices(
    config: &GeneratorConfig,
    rng: &mut ChaCha8Rng,
    users: &[User],
    broker_cost: &[f64],
    provider_cost: &[f64],
    out_hops: &[Vec<(Hop, f64)>],
) -> Prices {
    let (nk, nb, np) = (users.len(), broker_cost.len(), provider_cost.len());
    // Margins first, in a fixed order, so the computation order cannot matter.
    let provider_margin: Vec<Vec<f64>> = (0..np)
        .map(|_| (0..nk).map(|_| config.price_margin.draw(rng)).collect())
        .collect();
    let broker_margin: Vec<Vec<f64>> = (0..nb)
        .map(|_| (0..nk).map(|_| config.price_margin.draw(rng)).collect())
        .collect();
    let mut prices = Prices::default();
    let mut provider_price: Vec<Vec<Option<f64>>> = vec![vec![None; nk]; np];
    for p in 0..np {
        for (k, u) in users.iter().enumerate() {
            if Market::is_eligible(u, &format!("p{}", p + 1)) {
                let price = ceil3((1.0 + provider_margin[p][k]) * provider_cost[p] * u.requirement);
                provider_price[p][k] = Some(price);
                prices
                    .provider
                    .entry(format!("p{}", p + 1))
                    .or_insert_with(BTreeMap::new)
                    .insert(u.id.clone(), price);
            }
        }
    }
    for (k, u) in users.iter().enumerate() {
        // Bellman–Ford from the providers backwards: prices only fall, and a cycle
        // never lowers a price (every step adds non-negative cost and margin), so
        // nb + 1 sweeps reach the fixed point.
        let mut price: Vec<Option<f64>> = vec![None; nb];
        for _ in 0..=nb {
            let mut changed = false;
            for b in 0..nb {
                let best = out_hops[b]
                    .iter()
                    .filter_map(|&(hop, cost)| {
                        let next = match hop {
                            Hop::Broker(c) => price[c],
                            Hop::Provider(p) => provider_price[p][k],
                        };
                        next.map(|x| x + cost)
                    })
                    .min_by(f64::total_cmp);
                if let Some(best) = best {
                    let new = ceil3((1.0 + broker_margin[b][k]) * (broker_cost[b] + best));
                    let better = match price[b] {
                        None => true,
                        Some(old) => new < old,
                    };
                    if better {
                        price[b] = Some(new);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        for (b, pb) in price.iter().enumerate() {
            if let Some(pb) = pb {
                prices
                    .broker
                    .entry(format!("b{}", b + 1))
                    .or_insert_with(BTreeMap::new)
                    .insert(u.id.clone(), *pb);
            }
        }
    }
    prices
}
