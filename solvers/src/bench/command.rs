//! `brokerflow bench`'s subcommands and flags as a command line gives them: each
//! benchmark's settings ([`LpBench`], [`EngineBench`], [`PeersBench`]) and how its rows
//! are printed. Each doc is its command's or flag's help.

use super::engine::EngineBench;
use super::lp::{LpBench, LpCase};
use super::peers::PeersBench;

/// Benchmarks: LP build and solve time per backend and market size.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct BenchCommand {
    /// Which benchmark.
    #[cfg_attr(feature = "clap", command(subcommand))]
    pub what: BenchWhat,
}

/// What to benchmark.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Subcommand))]
pub enum BenchWhat {
    /// LP build and solve time and peak memory (max RSS of the measuring process)
    /// for generated markets of (users, brokers, providers) = (20,5,5), (200,20,20),
    /// (1000,50,50), (5000,100,100), (20000,500,1000), (100000,2500,5000) and the
    /// imported planar30 benchmark, for every LP backend in this build, side by
    /// side. A measurement over the time limit is stopped and larger sizes for that
    /// backend skipped.
    Lp(Printed<LpBench>),
    /// brokerflow's P3 against an analyst's scipy script, whole processes side by
    /// side on the same generated markets (skipped without python3 and scipy).
    Peers(PeersBench),
    /// Engine cost per round: for generated markets of growing size (default
    /// economics; brokers and providers scaled with the users as in
    /// experiments/scale.toml), every variant in demand mode runs a fixed number of
    /// rounds on every runtime and thread count asked for; prints the usable (edge,
    /// commodity) pairs, ns per round, ns per round per pair, the speed-up over one
    /// thread and the engine's bytes per pair, so linearity in the pairs can be read
    /// off one run.
    Engine(Printed<EngineBench>),
    /// One measurement (used by `bench lp`; prints one JSON line).
    #[cfg_attr(feature = "clap", command(hide = true))]
    LpOne(LpCase),
}

/// A benchmark's settings and how its rows are printed.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct Printed<B: Flags> {
    /// Its settings.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub bench: B,
    /// Print the rows as JSON lines instead of a Markdown table.
    #[cfg_attr(feature = "clap", arg(long))]
    pub json: bool,
}

/// A benchmark's settings as flags: with the `clap` feature, [`clap::Args`].
#[cfg(feature = "clap")]
pub trait Flags: clap::Args {}
#[cfg(feature = "clap")]
impl<T: clap::Args> Flags for T {}
/// A benchmark's settings as flags: with the `clap` feature, `clap::Args`.
#[cfg(not(feature = "clap"))]
pub trait Flags {}
#[cfg(not(feature = "clap"))]
impl<T> Flags for T {}
