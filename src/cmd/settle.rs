//! `brokerflow settle`: who pays whom for an allocation (design §6). Flags become a
//! settlement of `brokerflow_solvers::settle`; its reports are printed or written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use brokerflow_solvers::engine::Runtime;
use brokerflow_solvers::lp::Objective;
use brokerflow_solvers::mca::Rules;
use brokerflow_solvers::settle::replicated::{
    self, Deviation, Outcome, ReplicationConfig, TransportKind,
};
use brokerflow_solvers::settle::{
    self, report, Allocation, AllocationRule, Bids, Mechanism, SettleOptions,
};
use brokerflow_solvers::workload;

use crate::cmd::args::{engine_provenance, EngineArgs};
use crate::cmd::cluster::Role;
use crate::cmd::output::Outputs;
use crate::cmd::{provenance, LoadedMarket};

/// `--mechanism`'s values: the registry's names, with its summaries as help.
fn mechanism_parser() -> impl clap::builder::TypedValueParser<Value = &'static dyn Mechanism> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(
        settle::MECHANISMS
            .iter()
            .map(|m| PossibleValue::new(m.name()).help(m.summary())),
    )
    .try_map(|name| name.parse::<&'static dyn Mechanism>())
}

/// Settle an allocation: a statement of who pays whom, per participant (volume,
/// pays, receives, utility = true value minus payments) and in total (welfare,
/// market surplus or deficit).
///
/// The mechanism runs on the declared bids: the market file's valuations and costs,
/// overridden by `--bids`. Utilities and welfare are at the market file's (true)
/// values, so `--bids` shows what a misreport would do to its author.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Market file (JSON).
    pub market: PathBuf,
    /// Allocation to settle: lp (P3's welfare optimum at the declared bids), or the
    /// distributed engine's fair, utility-aware or welfare-seeking variant run in
    /// demand mode at the declared bids (its steady, window-averaged flow), with the
    /// engine flags below (--rounds, --window, ..., --runtime and its cluster).
    #[arg(long, value_enum, default_value = "lp")]
    pub allocation: AllocationRule,
    /// Settlement mechanism.
    #[arg(long, value_parser = mechanism_parser())]
    pub mechanism: &'static dyn Mechanism,
    /// Declared bids overriding the market file: JSON
    /// {"valuations": {"<user>": v}, "costs": {"<broker or provider>": c},
    /// "entirety": {"<provider>": {"<user>": total ask for all of that user's lots}}}
    /// (every part optional; entirety asks are used by vickrey).
    #[arg(long, value_name = "FILE")]
    pub bids: Option<PathBuf>,
    /// Write the statement as CSV `id,role,volume,pays,receives,utility`; totals and
    /// provenance go to FILE.json beside it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print one JSON object instead of the readable statement.
    #[arg(long)]
    pub json: bool,
    /// The engine's settings and runtime for an engine allocation (as `run`'s), and
    /// the LP solver.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Replicated auctioneer (design §10): M of the market's providers (its first M,
    /// in file order) compute the settlement among themselves, with no trusted
    /// centre: bid agreement, input validation, a common coin, the allocation and
    /// the VCG payments in ⌊M/(K+1)⌋ payment groups, and the output. A settled run's
    /// statement equals the centralised one; an aborted run exits with code 3.
    /// vcg or mcafee, allocation lp; needs --resilience.
    #[arg(
        long,
        value_name = "M",
        requires = "resilience",
        help_heading = "Replicated auctioneer"
    )]
    pub replicas: Option<usize>,
    /// K: how many deviating replicas the run withstands (they can make it abort,
    /// never change it); needs M > 2K.
    #[arg(
        long,
        value_name = "K",
        requires = "replicas",
        help_heading = "Replicated auctioneer"
    )]
    pub resilience: Option<usize>,
    /// Deviations to simulate: a JSON list of {"kind": "bid-vector" | "equivocate" |
    /// "task-result" | "coin-reveal" | "silent" | "crash", "replica": "<provider>" or
    /// "bidder": "<user>", ...} (optional "amount", "participant", "bids": {"<replica>":
    /// valuation}, "phase": bid-agreement | input-validation | coin | tasks | output).
    /// Several entries with the same lie make a coalition.
    #[arg(
        long,
        value_name = "FILE",
        requires = "replicas",
        help_heading = "Replicated auctioneer"
    )]
    pub deviate: Option<PathBuf>,
    /// How the replicas talk: in-process channels, or TCP on loopback (one listener
    /// per replica).
    #[arg(
        long,
        value_enum,
        default_value = "channels",
        help_heading = "Replicated auctioneer"
    )]
    pub transport: TransportKind,
    /// The longest wait, in seconds, for one protocol step's messages; a replica
    /// silent that long is named in the abort.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 30.0,
        help_heading = "Replicated auctioneer"
    )]
    pub timeout: f64,
    /// Seed of the replicas' coin shares (runs are reproducible).
    #[arg(long, default_value_t = 0, help_heading = "Replicated auctioneer")]
    pub seed: u64,
    /// Conflict rules of --mechanism mca: cbba (information times, the default)
    /// or bid-time (see `mca --help`).
    #[arg(long, value_name = "RULES")]
    pub rules: Option<String>,
}

/// A replicated settlement that aborted (exit code 3); its outcome is printed.
#[derive(Debug, thiserror::Error)]
#[error("the replicated settlement aborted in phase {0}")]
pub struct Aborted(pub String);

/// Runs `settle` (for an engine allocation on the timely runtime: on every process of
/// the cluster, which all take part in the engine's rounds; only process 0 settles and
/// writes).
pub fn run(mut args: Args) -> anyhow::Result<()> {
    // Engine settings are refused up front, whichever allocation would use them.
    args.engine
        .settings(brokerflow_solvers::engine::Variant::Fair)?;
    let runtime = args.engine.runtime;
    if args.allocation.variant().is_none() && runtime != Runtime::Flat {
        anyhow::bail!(
            "--runtime {} runs the engine: use it with an engine allocation (--allocation fair, utility-aware or welfare-seeking)",
            runtime.name()
        );
    }
    let cluster = args.engine.cluster.clone();
    crate::cmd::cluster::launch(&cluster, runtime, |role| {
        if !role.writes {
            args.out = None;
        }
        run_here(&args, role)
    })
}

/// Reads `path` as text, naming it in the error.
fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))
}

fn run_here(args: &Args, role: Role) -> anyhow::Result<()> {
    let sidecar = args.out.as_ref().map(|path| {
        let mut side = path.clone().into_os_string();
        side.push(".json");
        PathBuf::from(side)
    });
    let mut inputs = vec![args.market.as_path()];
    inputs.extend(args.bids.as_deref());
    let mut outputs = Outputs::plan(
        &inputs,
        &[
            ("--out", args.out.as_ref()),
            ("--out's .json sidecar", sidecar.as_ref()),
        ],
    )?;
    let loaded = LoadedMarket::load(&args.market)?;
    let bids_name = args.bids.as_ref().map(|p| p.display().to_string());
    let bids = match &args.bids {
        None => Bids::default(),
        Some(path) => Bids::from_json_str(&read(path)?, &path.display().to_string())?,
    };
    let declared = bids
        .apply(&loaded.market)
        .with_context(|| bids_name.clone().unwrap_or_else(|| "bids".to_string()))?;
    let mechanism = args.mechanism;
    // Before any allocation is computed: such a refusal would otherwise surface only
    // after the LP or the engine run.
    mechanism.check_market(&loaded.market, &loaded.graph)?;
    let mut options = SettleOptions {
        backend: args.engine.backend,
        ..SettleOptions::default()
    };
    if let Some(r) = &args.rules {
        if mechanism.name() != settle::mca::Mca.name() {
            anyhow::bail!("--rules applies to --mechanism mca only");
        }
        options.rules = Rules::parse(r)?;
    }
    let backend = args.engine.backend.resolve(loaded.graph.usable_pairs());
    if args.replicas.is_some() {
        return run_replicated(args, &loaded, &declared, options, backend);
    }
    let declared_graph = brokerflow_graphs::ExpandedGraph::new(&declared);
    let p3 = match args.allocation.variant().is_none() || mechanism.solves_lp() {
        true => &[Objective::Welfare][..],
        false => &[],
    };
    match args.allocation.variant() {
        None => crate::cmd::within_limits(
            &loaded.path,
            workload::check_plan(&declared_graph, p3, None, &workload::Limits::DEFAULT),
            args.engine.size.force,
        )?,
        Some(_) => args.engine.within_limits(&loaded, &declared_graph, p3)?,
    }
    let spinner = crate::cmd::progress::spinner(match args.allocation.variant() {
        None => "allocating: P3 maximum welfare at the declared bids".to_string(),
        Some(v) => format!(
            "allocating: the {} engine run at the declared bids",
            v.name()
        ),
    });
    let allocation = match args.allocation.variant() {
        None => Allocation::lp(&declared_graph, args.engine.backend)?,
        Some(variant) => {
            // An engine variant run in demand mode at the declared bids ([MCF-Grid] §5).
            let engine = args.engine.options(
                &declared_graph,
                variant,
                brokerflow_solvers::engine::InjectionMode::Demand,
            )?;
            let (allocation, converged) = Allocation::engine(&declared, &declared_graph, &engine)?;
            if !converged && role.writes {
                eprintln!(
                    "brokerflow: note: the {} run stopped at its round limit without converging; settling its last window",
                    variant.name()
                );
            }
            allocation
        }
    };
    if !role.writes {
        // The other processes of a timely cluster only take part in the rounds.
        spinner.finish_and_clear();
        return Ok(());
    }
    spinner.set_message(format!("settling: {}", mechanism.name()));
    let statement = settle::settle(&loaded.market, &declared, &allocation, mechanism, &options)?;
    spinner.finish_and_clear();
    let prov = match args.allocation.variant() {
        Some(_) => engine_provenance(&loaded, backend, args.engine.runtime),
        None => provenance(&loaded, backend),
    };
    let totals = report::statement_json(&statement, bids_name.as_deref(), prov);
    if let (Some(path), Some(side)) = (&args.out, &sidecar) {
        outputs.stage(path, report::statement_csv(&statement));
        outputs.stage(
            side,
            format!("{}\n", serde_json::to_string_pretty(&totals)?),
        );
        outputs.commit()?;
    }
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&totals)?),
        false => print!(
            "{}",
            report::statement_text(&loaded.market.name, &statement)
        ),
    }
    Ok(())
}

/// `settle --replicas M --resilience K`: the replicated auctioneer ([Dist-Auctioneer]).
fn run_replicated(
    args: &Args,
    loaded: &LoadedMarket,
    declared: &brokerflow_graphs::Market,
    options: SettleOptions,
    backend: brokerflow_solvers::lp::Backend,
) -> anyhow::Result<()> {
    if args.allocation != AllocationRule::Lp {
        anyhow::bail!("--replicas settles P3's allocation: use --allocation lp (the default)");
    }
    if args.out.is_some() {
        anyhow::bail!("--out is not available with --replicas: use --json");
    }
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 86_400.0) {
        anyhow::bail!(
            "--timeout {} must be a positive number of seconds (at most a day)",
            args.timeout
        );
    }
    let deviate = args.deviate.as_ref().map(|p| p.display().to_string());
    let deviations = match (&args.deviate, &deviate) {
        (Some(path), Some(name)) => Deviation::list_from_json_str(&read(path)?, name)?,
        _ => Vec::new(),
    };
    let config = ReplicationConfig {
        mechanism: args.mechanism,
        replicas: args.replicas.unwrap_or(0),
        resilience: args.resilience.unwrap_or(0),
        transport: args.transport,
        timeout: Duration::from_secs_f64(args.timeout),
        seed: args.seed,
        options,
    };
    let run = replicated::settle_replicated(&loaded.market, declared, &config, &deviations)
        .with_context(|| match &deviate {
            Some(p) => format!("replicated settlement ({p})"),
            None => "replicated settlement".to_string(),
        })?;
    let bids = args.bids.as_ref().map(|p| p.display().to_string());
    if args.json {
        let out = report::replicated_json(
            &run,
            args.mechanism,
            bids.as_deref(),
            deviate.as_deref(),
            provenance(loaded, backend),
        );
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", report::replicated_text(&loaded.market.name, &run));
    }
    match &run.outcome {
        Outcome::Settled(_) => Ok(()),
        Outcome::Aborted(abort) => Err(Aborted(abort.phase.to_string()).into()),
    }
}
