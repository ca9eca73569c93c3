//! `brokerflow settle`: who pays whom for an allocation (design §6), a thin adapter over
//! `brokerflow_solvers::settle::session` (centralised) and `settle::replicated`.

use std::path::PathBuf;

use anyhow::Context;
use brokerflow_solvers::settle::replicated::{self, Deviation, Outcome};
use brokerflow_solvers::settle::session::{self, ResolveObserver, SessionError};
use brokerflow_solvers::settle::{report, Bids};

use crate::cmd::args::engine_provenance;
use crate::cmd::cluster::Role;
use crate::cmd::output::Outputs;
use crate::cmd::{provenance, read_text, LoadedMarket};

/// `settle`'s arguments: the library's.
pub type Args = session::SettleCommand;

/// A replicated settlement that aborted (exit code 3); its outcome is printed.
#[derive(Debug, thiserror::Error)]
#[error("the replicated settlement aborted in phase {0}")]
pub struct Aborted(pub String);

/// Runs `settle` (for an engine allocation on the timely runtime: on every process of
/// the cluster, which all take part in the engine's rounds; only process 0 settles and
/// writes).
pub fn run(mut args: Args) -> anyhow::Result<()> {
    session::check(&args.settle, &args.engine)?;
    let cluster = args.engine.cluster.clone();
    crate::cmd::cluster::launch(&cluster, args.engine.runtime, |role| {
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
    let sides = [
        ("--out", args.out.as_ref()),
        ("--out's .json sidecar", sidecar.as_ref()),
    ];
    let mut outputs = Outputs::plan(&inputs, &sides)?;
    let loaded = LoadedMarket::load(&args.market)?;
    let bids_name = args.bids.as_ref().map(|p| p.display().to_string());
    let bids = match (&args.bids, &bids_name) {
        (Some(path), Some(name)) => Bids::from_json_str(&read_text(path)?, name)?,
        _ => Bids::default(),
    };
    let declared = bids
        .apply(&loaded.market)
        .with_context(|| bids_name.clone().unwrap_or_else(|| "bids".to_string()))?;
    let (truth, engine) = (&loaded.market, &args.engine.settings);
    let mut options = session::options(
        truth,
        &loaded.graph,
        &args.settle,
        engine,
        args.rules.as_deref(),
    )?;
    let backend = args.engine.backend.resolve(loaded.graph.usable_pairs());
    if let Some(config) = (args.replication).config(
        args.settle.mechanism,
        args.settle.allocation,
        options.clone(),
    )? {
        return run_replicated(args, &loaded, &declared, &config, backend);
    }
    let spinner = crate::cmd::progress::spinner(String::new());
    let bar = spinner.clone();
    options.resolves = ResolveObserver::new(move |i, n| {
        bar.set_message(format!("settling: vcg, re-solve {i} of {n}"));
    });
    let request = session::Request {
        settings: args.settle,
        engine: engine.clone(),
        options,
        force: args.engine.size.force,
        settles: role.writes,
    };
    let settled = session::run(truth, &declared, &request, &mut |phase| {
        spinner.set_message(phase.to_string())
    });
    spinner.finish_and_clear();
    let settled = match settled {
        Err(SessionError::TooLarge(e)) => {
            return crate::cmd::within_limits(&loaded.path, Err(e), false)
        }
        // The other processes of a timely cluster only take part in the rounds.
        Ok(None) => return Ok(()),
        Ok(Some(settled)) => settled,
        Err(e) => return Err(e.into()),
    };
    if let (false, Some(v)) = (settled.converged, args.settle.allocation.variant()) {
        eprintln!(
            "brokerflow: note: the {} run stopped at its round limit without converging; settling its last window",
            v.name()
        );
    }
    let statement = &settled.statement;
    let prov = match args.settle.allocation.variant() {
        Some(_) => engine_provenance(&loaded, backend, args.engine.runtime),
        None => provenance(&loaded, backend),
    };
    let totals = report::statement_json(statement, bids_name.as_deref(), prov);
    if let (Some(path), Some(side)) = (&args.out, &sidecar) {
        outputs.stage(path, report::statement_csv(statement));
        outputs.stage(
            side,
            format!("{}\n", serde_json::to_string_pretty(&totals)?),
        );
        outputs.commit()?;
    }
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&totals)?),
        false => print!("{}", report::statement_text(&loaded.market.name, statement)),
    }
    Ok(())
}

/// `settle --replicas M --resilience K`: the replicated auctioneer ([Dist-Auctioneer]).
fn run_replicated(
    args: &Args,
    loaded: &LoadedMarket,
    declared: &brokerflow_graphs::Market,
    config: &replicated::ReplicationConfig,
    backend: brokerflow_solvers::lp::Backend,
) -> anyhow::Result<()> {
    if args.out.is_some() {
        anyhow::bail!("--out is not available with --replicas: use --json");
    }
    let deviate = args
        .replication
        .deviate
        .as_ref()
        .map(|p| p.display().to_string());
    let deviations = match (&args.replication.deviate, &deviate) {
        (Some(path), Some(name)) => Deviation::list_from_json_str(&read_text(path)?, name)?,
        _ => Vec::new(),
    };
    let run = replicated::settle_replicated(&loaded.market, declared, config, &deviations)
        .with_context(|| match &deviate {
            Some(p) => format!("replicated settlement ({p})"),
            None => "replicated settlement".to_string(),
        })?;
    if args.json {
        let bids = args.bids.as_ref().map(|p| p.display().to_string());
        let (mechanism, prov) = (args.settle.mechanism, provenance(loaded, backend));
        let out =
            report::replicated_json(&run, mechanism, bids.as_deref(), deviate.as_deref(), prov);
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", report::replicated_text(&loaded.market.name, &run));
    }
    match &run.outcome {
        Outcome::Settled(_) => Ok(()),
        Outcome::Aborted(abort) => Err(Aborted(abort.phase.to_string()).into()),
    }
}
