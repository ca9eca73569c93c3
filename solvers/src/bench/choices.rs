//! The command line's value lists for the benchmarks' choice fields (the LPs, the
//! engine's runtimes and variants), built from the library's enums: the one place that
//! maps a flag's words to them. A `clap::ValueEnum` on the enums themselves would
//! replace these parsers.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

use crate::engine::{Runtime, Variant};
use crate::lp::Objective;

/// Every LP of [MCF-Grid] §4.2 with its help line.
const OBJECTIVES: [(Objective, &str); 4] = [
    (
        Objective::Concurrent,
        "P1 maximum concurrent flow: the largest fraction δ of every user's demand that can be served at once (δ ≥ 1: everything fits)",
    ),
    (
        Objective::Utility,
        "P2: serve min(δ,1) of every demand, routed for the most welfare (best routing)",
    ),
    (
        Objective::WorstUtility,
        "P2⁻: the same amounts routed for the least welfare (worst routing); only on markets without broker→broker cycles",
    ),
    (
        Objective::Welfare,
        "P3 maximum welfare / market clearing: serve any amount up to each demand, for the most welfare (values minus costs); its dual prices clear the market",
    ),
];

/// Every runtime with its help line.
const RUNTIMES: [(Runtime, &str); 3] = [
    (
        Runtime::Flat,
        "In process over flat arrays, parallel over chunks of nodes (fast)",
    ),
    (
        Runtime::Nodes,
        "Every node through the public per-node step and its messages, as a broker embeds it (the reference; the same result, slower)",
    ),
    (
        Runtime::Timely,
        "The per-node step on timely-dataflow, over --workers threads and --processes (local, or on several machines with --hosts); the same result",
    ),
];

/// `--objective`'s parser: an LP by [`Objective::name`].
pub(crate) fn objective() -> impl TypedValueParser<Value = Objective> {
    PossibleValuesParser::new(OBJECTIVES.map(|(o, help)| PossibleValue::new(o.name()).help(help)))
        .try_map(|name| {
            OBJECTIVES
                .iter()
                .find(|(o, _)| o.name() == name)
                .map(|(o, _)| *o)
                .ok_or_else(|| format!("no LP named '{name}'"))
        })
}

/// `--runtimes`' parser: a runtime by [`Runtime::name`].
pub(crate) fn runtime() -> impl TypedValueParser<Value = Runtime> {
    PossibleValuesParser::new(RUNTIMES.map(|(r, help)| PossibleValue::new(r.name()).help(help)))
        .try_map(|name| Runtime::from_name(&name).ok_or_else(|| format!("no runtime '{name}'")))
}

/// `--variants`' parser: a variant by [`Variant::name`].
pub(crate) fn variant() -> impl TypedValueParser<Value = Variant> {
    PossibleValuesParser::new(Variant::ALL.map(|v| PossibleValue::new(v.name()).help(v.summary())))
        .try_map(|name| Variant::from_name(&name).ok_or_else(|| format!("no variant '{name}'")))
}
