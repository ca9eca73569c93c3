//! `brokerflow generate`: a random market as in [MCF-Grid] §6 / design §7, written as a
//! market file.

use std::path::PathBuf;

use anyhow::Context;
use brokerflow_graphs::generate::{generate, AsFlags, GeneratorConfig, Range};

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
    /// The scenario's size, topology and economics.
    #[command(flatten)]
    pub config: GeneratorConfig,
    /// Margin of posted prices over what they must cover, as a fraction (0.2 = 20 %);
    /// only with --posted-prices (default 0.1,0.3).
    #[arg(
        long,
        allow_hyphen_values = true,
        value_name = "MIN,MAX",
        help_heading = "Economics (uniform ranges unless stated)"
    )]
    pub price_margin: Option<Range>,
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
}

/// Runs `generate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.price_margin.is_some() && !args.config.posted_prices {
        anyhow::bail!("--price-margin sets the margins of posted prices: it needs --posted-prices");
    }
    if args.config.users == 0 {
        anyhow::bail!("invalid --users: 0; a market needs at least one user (job stream) to route");
    }
    let config = GeneratorConfig {
        price_margin: args.price_margin.unwrap_or(args.config.price_margin),
        ..args.config
    };
    let market = generate(&config, args.seed).map_err(|e| anyhow::anyhow!("{}", AsFlags(&e)))?;
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
