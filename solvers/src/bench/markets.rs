//! The benchmark markets: generated markets of growing size (default economics) and
//! the imported planar30 instance of the multicommodity-flow benchmarks, one factory
//! for `brokerflow bench` and the criterion benches alike.

use std::fmt;
use std::str::FromStr;

use brokerflow_graphs::formats::mcf::parse_mcf;
use brokerflow_graphs::generate::{generate, GeneratorConfig};
use brokerflow_graphs::ValidMarket;

use super::BenchError;

/// The sizes (users K, brokers B, providers P) of the LP benchmark: small to
/// mid-size markets, then the scale sizes of `experiments/scale.toml` (brokers K/40,
/// providers K/20).
pub const LP_SIZES: [(usize, usize, usize); 6] = [
    (20, 5, 5),
    (200, 20, 20),
    (1000, 50, 50),
    (5000, 100, 100),
    (20000, 500, 1000),
    (100000, 2500, 5000),
];

/// The planar30 instance (30 nodes, 150 links, 92 commodities) in the MCF format,
/// bundled so the benchmark needs no file.
pub const PLANAR30: &str = include_str!("../../../graphs/markets/mcf/planar30.txt");

/// One benchmark market by name: `planar30` or `K,B,P`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchMarket {
    /// A generated market of K users, B brokers and P providers.
    Generated {
        /// Users K.
        users: usize,
        /// Brokers B.
        brokers: usize,
        /// Providers P.
        providers: usize,
    },
    /// The imported planar30 instance ([`PLANAR30`]).
    Planar30,
}

impl BenchMarket {
    /// The markets of `brokerflow bench lp`: [`LP_SIZES`], then planar30.
    pub fn lp_markets() -> Vec<BenchMarket> {
        LP_SIZES
            .iter()
            .map(|&(users, brokers, providers)| BenchMarket::Generated {
                users,
                brokers,
                providers,
            })
            .chain([BenchMarket::Planar30])
            .collect()
    }

    /// The market itself, generated with `seed` (planar30 ignores it).
    ///
    /// # Example
    /// ```
    /// use brokerflow_solvers::bench::markets::BenchMarket;
    /// let m: BenchMarket = "20,5,5".parse().unwrap();
    /// assert_eq!(m.market(1).unwrap().users.len(), 20);
    /// ```
    pub fn market(&self, seed: u64) -> Result<ValidMarket, BenchError> {
        match *self {
            BenchMarket::Planar30 => Ok(parse_mcf(PLANAR30, "planar30.txt")?),
            BenchMarket::Generated {
                users,
                brokers,
                providers,
            } => Ok(generated(users, brokers, providers, seed)?),
        }
    }
}

impl fmt::Display for BenchMarket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchMarket::Planar30 => f.write_str("planar30"),
            BenchMarket::Generated {
                users,
                brokers,
                providers,
            } => write!(f, "{users},{brokers},{providers}"),
        }
    }
}

impl FromStr for BenchMarket {
    type Err = BenchError;

    fn from_str(name: &str) -> Result<BenchMarket, BenchError> {
        if name == "planar30" {
            return Ok(BenchMarket::Planar30);
        }
        let sizes: Vec<usize> = name
            .split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|source| BenchError::MarketSize {
                name: name.to_string(),
                source,
            })?;
        match sizes[..] {
            [users, brokers, providers] => Ok(BenchMarket::Generated {
                users,
                brokers,
                providers,
            }),
            _ => Err(BenchError::MarketShape(name.to_string())),
        }
    }
}

/// A generated market of `users`, `brokers` and `providers` with the generator's
/// default economics and `seed`.
pub fn generated(
    users: usize,
    brokers: usize,
    providers: usize,
    seed: u64,
) -> Result<ValidMarket, brokerflow_graphs::generate::GenerateError> {
    let config = GeneratorConfig {
        users,
        brokers,
        providers,
        ..GeneratorConfig::default()
    };
    generate(&config, seed)
}

/// Brokers and providers for an engine-benchmark market of `users` users, scaled as
/// in `experiments/scale.toml` (2 000 users, 50 brokers, 100 providers), at least 5
/// each (Table 1's 5 brokers and 5 providers of [MCF-Grid]).
pub fn engine_bench_size(users: usize) -> (usize, usize, usize) {
    (users, (users / 40).max(5), (users / 20).max(5))
}

/// Brokers and providers for a market of [`super::peers`] with `users` users:
/// users/40 and users/20, at least 1 each.
pub fn peers_size(users: usize) -> (usize, usize, usize) {
    (users, (users / 40).max(1), (users / 20).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_are_refused() {
        for m in BenchMarket::lp_markets() {
            assert_eq!(m.to_string().parse::<BenchMarket>().unwrap(), m);
        }
        assert_eq!(BenchMarket::lp_markets().len(), LP_SIZES.len() + 1);
        assert_eq!(
            "20,5".parse::<BenchMarket>().unwrap_err().to_string(),
            "bad market size '20,5': expected K,B,P"
        );
        assert!(matches!(
            "a,5,5".parse::<BenchMarket>(),
            Err(BenchError::MarketSize { .. })
        ));
    }

    #[test]
    fn sizes_scale_with_the_users_and_keep_their_floors() {
        assert_eq!(engine_bench_size(20), (20, 5, 5));
        assert_eq!(engine_bench_size(2000), (2000, 50, 100));
        assert_eq!(peers_size(20), (20, 1, 1));
        assert_eq!(peers_size(20000), (20000, 500, 1000));
    }

    #[test]
    fn planar30_imports() {
        let m = BenchMarket::Planar30.market(7).unwrap();
        assert!(!m.users.is_empty());
    }
}
