//! `brokerflow generate`: a random market as in [MCF-Grid] §6 / design §7, written as a
//! market file.

use std::path::PathBuf;

use anyhow::Context;
use brokerflow_graphs::generate::{generate, GenerateError, GeneratorConfig, Range};

/// Generate a random market (the paper's experiment scenarios) as a market file.
///
/// K users send job streams through B brokers to P providers. Each user→broker and
/// broker→provider pair is linked with probability ln(n)/n (n = K + B + P); every
/// user gets at least one broker and every broker at least one provider. Demands,
/// requirements and costs are uniform on the ranges below; valuations follow a
/// Bounded Pareto distribution (heavy-tailed: most users value a job at a few money
/// units, a few at hundreds). Capacity is scarce: in each layer (brokers,
/// broker→provider links, providers) total capacity = total demand / contention.
/// Every number is rounded to 3 decimals.
///
/// The same arguments always give the same bytes. The seed is mixed with a hash of
/// all other settings, so changing any setting gives a new scenario. The file's
/// "meta" records generator, version, seed and all settings; its name is
/// generated-K{K}-B{B}-P{P}-seed{S}.
///
/// Ranges are written MIN,MAX (e.g. --demand 5,20) or as one number for a fixed
/// value. Rates are per time unit; money is in the valuations' currency.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example: brokerflow generate --users 20 --brokers 5 --providers 5 --seed 7 -o market.json"
)]
pub struct Args {
    /// K: number of users (job streams, one commodity each).
    #[arg(
        long,
        allow_hyphen_values = true,
        value_name = "K",
        help_heading = "Scenario"
    )]
    pub users: usize,
    /// B: number of brokers (forward jobs; each job uses 1 unit of broker capacity).
    #[arg(
        long,
        allow_hyphen_values = true,
        value_name = "B",
        help_heading = "Scenario"
    )]
    pub brokers: usize,
    /// P: number of providers (run jobs; a job of user k uses r_k resource units).
    #[arg(
        long,
        allow_hyphen_values = true,
        value_name = "P",
        help_heading = "Scenario"
    )]
    pub providers: usize,
    /// Random seed: together with all other settings it names the scenario.
    #[arg(
        long,
        allow_hyphen_values = true,
        value_name = "S",
        help_heading = "Scenario"
    )]
    pub seed: u64,
    /// Write the market to FILE (atomically) instead of standard output.
    #[arg(short, long, value_name = "FILE", help_heading = "Scenario")]
    pub output: Option<PathBuf>,

    /// Scarcity of capacity, > 0: in each layer total capacity is total demand
    /// divided by this (providers in resource units Σ demand·requirement; brokers and
    /// broker→provider links in jobs Σ demand). 2 means at most about half the
    /// demand can be served; ≤ 1 makes capacity plentiful in total.
    #[arg(long, allow_hyphen_values = true, value_name = "X", default_value_t = GeneratorConfig::default().contention, help_heading = "Topology and scarcity")]
    pub contention: f64,
    /// Probability in [0, 1] that a user→broker or broker→provider pair is linked
    /// [default: ln(n)/n, n = users + brokers + providers, as in the paper].
    #[arg(
        long,
        allow_hyphen_values = true,
        value_name = "Q",
        help_heading = "Topology and scarcity"
    )]
    pub link_probability: Option<f64>,
    /// Linked markets: probability in [0, 1] that a broker links to another given
    /// broker (each direction drawn separately, so cycles may occur). 0 = no
    /// broker→broker links.
    #[arg(long, allow_hyphen_values = true, value_name = "Q", default_value_t = GeneratorConfig::default().broker_link_probability, help_heading = "Topology and scarcity")]
    pub broker_link_probability: f64,
    /// Fraction in [0, 1] of users that may use only some providers (software,
    /// hardware or policy constraints); each such user gets a random non-empty
    /// "eligible" list that includes a provider it can reach. 0 = every provider can
    /// run every job.
    #[arg(long, allow_hyphen_values = true, value_name = "FRACTION", default_value_t = GeneratorConfig::default().eligibility, help_heading = "Topology and scarcity")]
    pub eligibility: f64,
    /// Also write posted prices per job: a provider charges its cost c_p·r_k plus a
    /// margin; a broker its cost plus the cheapest onward price (link cost + next
    /// hop's price) plus a margin. Prices are rounded up to 3 decimals.
    #[arg(long, help_heading = "Topology and scarcity")]
    pub posted_prices: bool,

    /// Each user's demand d_k, in jobs per time unit.
    #[arg(long, allow_hyphen_values = true, value_name = "MIN,MAX", default_value_t = GeneratorConfig::default().demand, help_heading = "Economics (uniform ranges unless stated)")]
    pub demand: Range,
    /// Each user's requirement r_k, in resource units per job (lower bound ≥ 0.001).
    #[arg(long, allow_hyphen_values = true, value_name = "MIN,MAX", default_value_t = GeneratorConfig::default().requirement, help_heading = "Economics (uniform ranges unless stated)")]
    pub requirement: Range,
    /// Bounds L,H of the users' valuations v_k (money per job processed, the user's
    /// bid), Bounded Pareto on [L, H], 0 < L ≤ H.
    #[arg(long, allow_hyphen_values = true, value_name = "L,H", default_value_t = GeneratorConfig::default().valuation, help_heading = "Economics (uniform ranges unless stated)")]
    pub valuation: Range,
    /// Shape α > 0 of the Bounded Pareto valuations; with 1 on [1, 1000] the median
    /// valuation is ≈ 2 and the mean ≈ 6.9. Smaller α: more high-value users.
    #[arg(long, allow_hyphen_values = true, value_name = "ALPHA", default_value_t = GeneratorConfig::default().valuation_alpha, help_heading = "Economics (uniform ranges unless stated)")]
    pub valuation_alpha: f64,
    /// Each provider's cost c_p, in money per resource unit (a job of user k costs
    /// c_p·r_k). The default runs from well below the smallest valuation to a few
    /// times the median one, so which provider serves a job matters.
    #[arg(long, allow_hyphen_values = true, value_name = "MIN,MAX", default_value_t = GeneratorConfig::default().provider_cost, help_heading = "Economics (uniform ranges unless stated)")]
    pub provider_cost: Range,
    /// Each broker's cost c_b, in money per job forwarded.
    #[arg(long, allow_hyphen_values = true, value_name = "MIN,MAX", default_value_t = GeneratorConfig::default().broker_cost, help_heading = "Economics (uniform ranges unless stated)")]
    pub broker_cost: Range,
    /// Each link's cost, in money per job sent (paid by the sender); all links.
    #[arg(long, allow_hyphen_values = true, value_name = "MIN,MAX", default_value_t = GeneratorConfig::default().link_cost, help_heading = "Economics (uniform ranges unless stated)")]
    pub link_cost: Range,
    /// Spread of capacities within a layer (dimensionless weights ≥ 0): each broker,
    /// provider and broker→provider link gets a share of its layer's total in
    /// proportion to a weight drawn from this range. 0.5,1.5: largest ≤ 3 × smallest.
    #[arg(long, allow_hyphen_values = true, value_name = "MIN,MAX", default_value_t = GeneratorConfig::default().capacity_spread, help_heading = "Economics (uniform ranges unless stated)")]
    pub capacity_spread: Range,
    /// Bandwidth of each user→broker link, as a multiple of that user's demand
    /// (these links are meant not to be the bottleneck).
    #[arg(long, allow_hyphen_values = true, value_name = "MIN,MAX", default_value_t = GeneratorConfig::default().user_link_bandwidth, help_heading = "Economics (uniform ranges unless stated)")]
    pub user_link_bandwidth: Range,
    /// Bandwidth of each broker→broker link, as a multiple of the mean broker
    /// capacity (total demand / contention / brokers).
    #[arg(long, allow_hyphen_values = true, value_name = "MIN,MAX", default_value_t = GeneratorConfig::default().broker_link_bandwidth, help_heading = "Economics (uniform ranges unless stated)")]
    pub broker_link_bandwidth: Range,
    /// Margin of posted prices over what they must cover, as a fraction (0.2 = 20 %);
    /// only with --posted-prices (default 0.1,0.3).
    #[arg(
        long,
        allow_hyphen_values = true,
        value_name = "MIN,MAX",
        help_heading = "Economics (uniform ranges unless stated)"
    )]
    pub price_margin: Option<Range>,
}

impl Args {
    /// The generator configuration these arguments describe.
    pub fn config(&self) -> GeneratorConfig {
        GeneratorConfig {
            users: self.users,
            brokers: self.brokers,
            providers: self.providers,
            link_probability: self.link_probability,
            broker_link_probability: self.broker_link_probability,
            eligibility: self.eligibility,
            posted_prices: self.posted_prices,
            contention: self.contention,
            demand: self.demand,
            requirement: self.requirement,
            valuation: self.valuation,
            valuation_alpha: self.valuation_alpha,
            provider_cost: self.provider_cost,
            broker_cost: self.broker_cost,
            link_cost: self.link_cost,
            capacity_spread: self.capacity_spread,
            user_link_bandwidth: self.user_link_bandwidth,
            broker_link_bandwidth: self.broker_link_bandwidth,
            price_margin: self
                .price_margin
                .unwrap_or(GeneratorConfig::default().price_margin),
        }
    }
}

/// Runs `generate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.price_margin.is_some() && !args.posted_prices {
        anyhow::bail!("--price-margin sets the margins of posted prices: it needs --posted-prices");
    }
    if args.users == 0 {
        anyhow::bail!("invalid --users: 0; a market needs at least one user (job stream) to route");
    }
    let config = args.config();
    let market = generate(&config, args.seed).map_err(|e| explain(&e))?;
    let text = market.to_json_pretty();
    match &args.output {
        Some(path) => {
            crate::cmd::write_atomically(path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "generated market '{}' (seed {}): {} -> {}",
                market.name,
                args.seed,
                crate::cmd::census(&market),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// The library's error, prefixed with the command-line flag at fault.
fn explain(e: &GenerateError) -> anyhow::Error {
    match e.field() {
        Some(field) => anyhow::anyhow!("invalid --{}: {e}", field.replace('_', "-")),
        None => anyhow::anyhow!("cannot generate: {e}"),
    }
}
