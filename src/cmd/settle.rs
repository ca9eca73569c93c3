//! `brokerflow settle`: who pays whom for an allocation (design §6).

use std::path::PathBuf;

use anyhow::Context;
use brokerflow_solvers::engine::{Runtime, Variant};
use brokerflow_solvers::lp::{Backend, Objective};
use brokerflow_solvers::settle::replicated::{
    self, Deviation, Outcome, ReplicationConfig, TransportKind,
};
use brokerflow_solvers::settle::{
    self, Allocation, AllocationSource, Bids, Mechanism, SettleOptions, Statement,
};
use brokerflow_solvers::workload;
use serde_json::json;
use std::time::Duration;

use crate::cmd::args::{engine_provenance, EngineArgs, InjectArg};
use crate::cmd::cluster::Role;
use crate::cmd::output::Outputs;
use crate::cmd::{fixed, provenance, LoadedMarket};

/// Which allocation to settle (design §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AllocationArg {
    /// P3's welfare-maximising allocation at the declared bids.
    Lp,
    /// The distributed engine's fair variant in demand mode.
    Fair,
    /// The distributed engine's utility-aware variant in demand mode.
    UtilityAware,
    /// The distributed engine's welfare-seeking (drift-plus-penalty)
    /// variant in demand mode, at --welfare-scale (default: the engine's).
    WelfareSeeking,
}

impl AllocationArg {
    /// The engine variant this allocation runs; `None` for `lp`.
    pub fn variant(self) -> Option<Variant> {
        match self {
            AllocationArg::Lp => None,
            AllocationArg::Fair => Some(Variant::Fair),
            AllocationArg::UtilityAware => Some(Variant::UtilityAware),
            AllocationArg::WelfareSeeking => Some(Variant::WelfareSeeking),
        }
    }
}

/// Which settlement mechanism (design §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MechanismArg {
    /// The market file's posted prices: budget-balanced, neither IR nor truthful.
    Posted,
    /// Competitive prices from P3's exact duals: IR and surplus ≥ 0 at `lp`, not
    /// truthful.
    LpPrices,
    /// Vickrey–Clarke–Groves over P3: efficient, truthful, IR; may run a deficit;
    /// `lp` only.
    Vcg,
    /// McAfee's trade-reduction double auction per broker market: truthful (for a
    /// fixed allocation), IR, surplus ≥ 0; drops trades.
    Mcafee,
    /// NOMAD's second-price procurement, one auction per user over its lots, with
    /// single-lot and entirety bids: IR, balanced, truthful for providers within each
    /// user's auction.
    Vickrey,
    /// The welfare-seeking engine's own node prices (no LP): surplus ≥ 0, IR only
    /// approximately; `--allocation welfare-seeking` only.
    EnginePrices,
    /// Max-consensus auctions among providers (neighbour-only messages), paid at
    /// their winning bids: IR for providers, balanced.
    Mca,
}

impl From<MechanismArg> for Mechanism {
    fn from(m: MechanismArg) -> Mechanism {
        match m {
            MechanismArg::Posted => Mechanism::Posted,
            MechanismArg::LpPrices => Mechanism::LpPrices,
            MechanismArg::Vcg => Mechanism::Vcg,
            MechanismArg::Mcafee => Mechanism::Mcafee,
            MechanismArg::Vickrey => Mechanism::Vickrey,
            MechanismArg::EnginePrices => Mechanism::EnginePrices,
            MechanismArg::Mca => Mechanism::Mca,
        }
    }
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
    pub allocation: AllocationArg,
    /// Settlement mechanism.
    #[arg(long, value_enum)]
    pub mechanism: MechanismArg,
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
    pub transport: TransportArg,
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

/// How replicas talk (design §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportArg {
    /// In-process channels.
    Channels,
    /// TCP sockets on 127.0.0.1.
    Tcp,
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
    let runtime = Runtime::from(args.engine.runtime);
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
    let bids = match &args.bids {
        None => Bids::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{}: cannot read", path.display()))?;
            Bids::from_json_str(&text, &path.display().to_string())?
        }
    };
    let declared = bids
        .apply(&loaded.market)
        .with_context(|| match &args.bids {
            Some(p) => format!("{}", p.display()),
            None => "bids".to_string(),
        })?;
    let mechanism: Mechanism = args.mechanism.into();
    if mechanism == Mechanism::Posted {
        // Before any allocation is computed: a missing price would otherwise surface
        // only after the LP or the engine run, and only where the flow passes.
        settle::posted::check_posted_prices(&loaded.market, &loaded.graph)?;
    }
    if args.replicas.is_some() {
        return run_replicated(args, &loaded, &declared);
    }
    let declared_graph = brokerflow_graphs::ExpandedGraph::new(&declared);
    let solves_p3 = args.allocation.variant().is_none()
        || matches!(
            mechanism,
            Mechanism::LpPrices | Mechanism::Vcg | Mechanism::Mca
        );
    let p3 = if solves_p3 {
        &[Objective::Welfare][..]
    } else {
        &[]
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
            // design §6: an engine variant run in demand mode, at the declared bids; its
            // window-averaged, cycle-free flow.
            let options = args
                .engine
                .options(&declared_graph, variant, InjectArg::Demand)?;
            let (allocation, converged) = Allocation::engine(&declared, &declared_graph, &options)?;
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
    spinner.set_message(format!(
        "settling: {}{}",
        mechanism.name(),
        if mechanism == Mechanism::Vcg {
            " (P3 re-solved without each trading participant)"
        } else {
            ""
        }
    ));
    let options = SettleOptions {
        backend: args.engine.backend,
    };
    let statement = match (&args.rules, mechanism) {
        (None, _) => settle::settle(&loaded.market, &declared, &allocation, mechanism, &options)?,
        (Some(r), Mechanism::Mca) => settle::mca::settle_mca(
            &loaded.market,
            &declared,
            &allocation,
            &options,
            brokerflow_solvers::mca::Rules::parse(r)?,
        )?,
        (Some(_), _) => anyhow::bail!("--rules applies to --mechanism mca only"),
    };
    spinner.finish_and_clear();
    let backend = args.engine.backend.resolve(loaded.graph.usable_pairs());
    let totals = to_json(&loaded, &statement, args, backend);
    if let (Some(path), Some(side)) = (&args.out, &sidecar) {
        outputs.stage(path, to_csv(&statement));
        let mut text = serde_json::to_string_pretty(&totals)?;
        text.push('\n');
        outputs.stage(side, text);
        outputs.commit()?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&totals)?);
    } else {
        print!("{}", render(&loaded, &statement));
    }
    Ok(())
}

/// `settle --replicas M --resilience K`: the replicated auctioneer (design §10).
fn run_replicated(
    args: &Args,
    loaded: &LoadedMarket,
    declared: &brokerflow_graphs::Market,
) -> anyhow::Result<()> {
    if args.allocation != AllocationArg::Lp {
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
    let deviations = match &args.deviate {
        None => Vec::new(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{}: cannot read", path.display()))?;
            Deviation::list_from_json_str(&text, &path.display().to_string())?
        }
    };
    let config = ReplicationConfig {
        mechanism: args.mechanism.into(),
        replicas: args.replicas.unwrap_or(0),
        resilience: args.resilience.unwrap_or(0),
        transport: match args.transport {
            TransportArg::Channels => TransportKind::Channels,
            TransportArg::Tcp => TransportKind::Tcp,
        },
        timeout: Duration::from_secs_f64(args.timeout),
        seed: args.seed,
        options: SettleOptions {
            backend: args.engine.backend,
        },
    };
    let run = replicated::settle_replicated(&loaded.market, declared, &config, &deviations)
        .with_context(|| match &args.deviate {
            Some(p) => format!("replicated settlement ({})", p.display()),
            None => "replicated settlement".to_string(),
        })?;
    let backend = args.engine.backend.resolve(loaded.graph.usable_pairs());
    let replication = serde_json::to_value(&run.replication)?;
    let deviate = args.deviate.as_ref().map(|p| p.display().to_string());
    match &run.outcome {
        Outcome::Settled(statement) => {
            let mut out = to_json(loaded, statement, args, backend);
            out["outcome"] = json!("settled");
            out["replication"] = replication;
            out["deviations"] = json!(deviate);
            if args.json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print!("{}", render(loaded, statement));
                print!("{}", render_replication(&run.replication));
            }
            Ok(())
        }
        Outcome::Aborted(abort) => {
            if args.json {
                let out = json!({
                    "outcome": "aborted",
                    "mechanism": Mechanism::from(args.mechanism),
                    "abort": abort,
                    "replication": replication,
                    "bids": args.bids.as_ref().map(|p| p.display().to_string()),
                    "deviations": deviate,
                    "provenance": provenance(loaded, backend),
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "replicated settlement of market '{}' ABORTED in phase {}",
                    loaded.market.name, abort.phase
                );
                println!("  replicas pointed at: {}", abort.replicas.join(", "));
                println!(
                    "  evidence: {}",
                    serde_json::to_string(&abort.evidence).unwrap_or_default()
                );
                print!("{}", render_replication(&run.replication));
            }
            Err(Aborted(abort.phase.to_string()).into())
        }
    }
}

fn render_replication(r: &replicated::Replication) -> String {
    let mut out = format!(
        "  replicated by {} providers ({}), resilience k = {}, over {}: {} payment groups, {} messages, {} bytes, {:.3} s wall-clock\n",
        r.replicas,
        r.replica_ids.join(", "),
        r.resilience,
        r.transport.name(),
        r.groups.len(),
        r.messages,
        r.bytes,
        r.timing.wall_seconds
    );
    if !r.excluded.is_empty() {
        out.push_str(&format!(
            "  excluded by bid agreement: {}\n",
            r.excluded.join(", ")
        ));
    }
    out
}

fn to_json(
    loaded: &LoadedMarket,
    s: &Statement,
    args: &Args,
    backend: Backend,
) -> serde_json::Value {
    json!({
        "mechanism": s.mechanism,
        "allocation": s.allocation.name(),
        "participants": s.participants,
        "welfare": s.welfare,
        "declared_welfare": s.declared_welfare,
        "surplus": s.surplus,
        "notes": s.notes,
        "bids": args.bids.as_ref().map(|p| p.display().to_string()),
        "provenance": match args.allocation.variant() {
            Some(_) => engine_provenance(loaded, backend, args.engine.runtime.into()),
            None => provenance(loaded, backend),
        },
    })
}

/// The statement CSV: header, then one row per participant in market order.
fn to_csv(s: &Statement) -> String {
    let mut out = String::from("id,role,volume,pays,receives,utility\n");
    for l in &s.participants {
        let id = if l.id.contains([',', '"', '\n']) {
            format!("\"{}\"", l.id.replace('"', "\"\""))
        } else {
            l.id.clone()
        };
        out.push_str(&format!(
            "{id},{},{},{},{},{}\n",
            l.role, l.volume, l.pays, l.receives, l.utility
        ));
    }
    out
}

fn render(loaded: &LoadedMarket, s: &Statement) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "settlement of market '{}': mechanism {}, allocation {}",
        loaded.market.name,
        s.mechanism,
        match &s.allocation {
            AllocationSource::Lp => "lp (P3's optimum at the declared bids)".to_string(),
            other => format!("{} (an engine run at the declared bids)", other.name()),
        }
    );
    let width = s
        .participants
        .iter()
        .map(|l| l.id.len())
        .max()
        .unwrap_or(2)
        .max(2);
    let _ = writeln!(
        out,
        "  {:<width$}  {:<8} {:>12} {:>12} {:>12} {:>12}",
        "id", "role", "volume", "pays", "receives", "utility"
    );
    for l in &s.participants {
        let _ = writeln!(
            out,
            "  {:<width$}  {:<8} {:>12} {:>12} {:>12} {:>12}",
            l.id,
            l.role.to_string(),
            fixed(l.volume, 4),
            fixed(l.pays, 4),
            fixed(l.receives, 4),
            fixed(l.utility, 4)
        );
    }
    let _ = writeln!(out, "  welfare (true values) W = {:.6}", s.welfare);
    let what = if s.surplus >= 0.0 {
        "surplus"
    } else {
        "deficit"
    };
    let _ = writeln!(
        out,
        "  market {what} = {:.6} (sum paid - sum received)",
        s.surplus.abs()
    );
    for n in &s.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    out
}
