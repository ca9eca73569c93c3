//! `brokerflow generate` and `brokerflow import` as a command line gives them: the
//! generator's configuration with its seed (\[MCF-Grid\] §6's scenarios), and the
//! format and file of an imported network (\[SNDlib\], the multicommodity-flow
//! benchmarks). Each doc is its command's or flag's help.

use std::path::PathBuf;

use thiserror::Error;

use crate::formats::Format;
use crate::generate::{GeneratorConfig, Range};

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
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[cfg_attr(
    feature = "clap",
    command(
        after_help = "Example: brokerflow generate --users 20 --brokers 5 --providers 5 --seed 7 -o market.json"
    )
)]
pub struct GenerateCommand {
    /// The scenario's size, topology and economics.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub config: GeneratorConfig,
    /// Margin of posted prices over what they must cover, as a fraction (0.2 = 20 %);
    /// only with --posted-prices (default 0.1,0.3).
    #[cfg_attr(
        feature = "clap",
        arg(
            long,
            allow_hyphen_values = true,
            value_name = "MIN,MAX",
            help_heading = "Economics (uniform ranges unless stated)"
        )
    )]
    pub price_margin: Option<Range>,
    /// Random seed: together with all other settings it names the scenario.
    #[cfg_attr(
        feature = "clap",
        arg(
            long,
            allow_hyphen_values = true,
            value_name = "S",
            help_heading = "Scenario"
        )
    )]
    pub seed: u64,
    /// Write the market to FILE (atomically) instead of standard output.
    #[cfg_attr(
        feature = "clap",
        arg(short, long, value_name = "FILE", help_heading = "Scenario")
    )]
    pub output: Option<PathBuf>,
}

// `<nodes>`, `<origin>` and the like in the help are placeholders the user reads, not HTML.
#[allow(rustdoc::invalid_html_tags)]
/// Convert a network in another format into a brokerflow market (JSON).
///
/// Formats:
///
/// mcf — the classic multicommodity-flow benchmark format (as used for the
/// Larsson–Yuan grid and planar instances): a line `p mcf <nodes> <arcs>
/// <commodities>`, then lines `k <origin> <destination> <demand>` and
/// `a <source> <target> <cost> <capacity>`; `c` lines are comments, nodes are
/// numbered from 0. The network becomes a market whose best routing is the
/// instance's minimum-cost flow: every node i becomes a broker n<i> (unlimited,
/// free); every arc a link between two brokers with the arc's capacity as
/// bandwidth and its cost per job (an arc repeating another's endpoints, or a
/// loop, passes through a broker a<j> of its own); every commodity, the j-th k
/// line, becomes a user k<j> at broker n<origin> with the demand, requirement 1
/// and valuation 0, whose only eligible provider is d<destination> (unlimited,
/// free, reached from broker n<destination>). The market's `meta` records the
/// input's file name and SHA-256 and the brokerflow version.
///
/// sndlib — SNDlib's native network format (real backbones: sections NODES,
/// LINKS, DEMANDS). It becomes a linked-broker market: every PoP a broker of the
/// node's id (unlimited, free); every link two broker->broker links, one each way,
/// with bandwidth = the pre-installed capacity (or, if 0, the largest module's
/// capacity) and cost per unit = the routing cost plus the cheapest module cost per
/// capacity unit; every demand a user of the demand's id at its source, demand =
/// routing unit x demand value, requirement 1, whose only eligible provider is the
/// data centre dc-<target> (unlimited, free) at its target. SNDlib has no
/// valuations: each user is given 2 x the cost of its cheapest path per unit (1 if
/// that path is free), so serving it on its cheapest path earns its cost again.
/// Setup costs, hop limits and admissible paths are not modelled.
///
/// Examples:
///   brokerflow import --format mcf graphs/markets/mcf/grid1.txt -o grid1.json
///   brokerflow import --format sndlib --max-demands 32 graphs/markets/sndlib/abilene.txt -o abilene.json
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ImportCommand {
    /// Format of the input file.
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub format: Format,
    /// The file to import.
    pub file: PathBuf,
    /// sndlib: keep only the first N demands of the file (in file order).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub max_demands: Option<usize>,
    /// Write the market here (JSON) instead of to standard output.
    #[cfg_attr(feature = "clap", arg(short, long, value_name = "FILE"))]
    pub output: Option<PathBuf>,
}

/// Flags that do not go together.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CommandError {
    /// A price margin without posted prices.
    #[error("--price-margin sets the margins of posted prices: it needs --posted-prices")]
    PriceMarginWithoutPostedPrices,
    /// A market of no users.
    #[error("invalid --users: 0; a market needs at least one user (job stream) to route")]
    NoUsers,
    /// A demand limit for a format other than sndlib.
    #[error("--max-demands applies to --format sndlib only")]
    MaxDemandsWithoutSndlib,
}

impl GenerateCommand {
    /// The generator's configuration, `--price-margin` applied.
    ///
    /// # Errors
    /// [`CommandError::PriceMarginWithoutPostedPrices`], [`CommandError::NoUsers`].
    pub fn config(&self) -> Result<GeneratorConfig, CommandError> {
        if self.price_margin.is_some() && !self.config.posted_prices {
            return Err(CommandError::PriceMarginWithoutPostedPrices);
        }
        if self.config.users == 0 {
            return Err(CommandError::NoUsers);
        }
        Ok(GeneratorConfig {
            price_margin: self.price_margin.unwrap_or(self.config.price_margin),
            ..self.config.clone()
        })
    }
}

impl ImportCommand {
    /// Refuses flags that do not apply to the format.
    ///
    /// # Errors
    /// [`CommandError::MaxDemandsWithoutSndlib`].
    pub fn check(&self) -> Result<(), CommandError> {
        if self.max_demands.is_some() && self.format != Format::Sndlib {
            return Err(CommandError::MaxDemandsWithoutSndlib);
        }
        Ok(())
    }
}
