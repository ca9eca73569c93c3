//! `brokerflow compare`: the LP baselines and the distributed variants on one market,
//! side by side, in the measures of design §8.

use brokerflow_experiments::report as pictures;
use brokerflow_solvers::compare::{
    compare_json_rows, compare_market_observed, compare_table, CompareOptions, Method,
};
use brokerflow_solvers::engine::{report::provenance, InjectionMode, Variant};
use brokerflow_solvers::lp::{LpOptions, Objective};
use brokerflow_solvers::workload;
use serde_json::json;

use crate::cmd::args::{engine_provenance, load_faults, sources};
use crate::cmd::LoadedMarket;

/// `compare`'s arguments: the library's.
pub type Args = brokerflow_solvers::commands::CompareFlags;

/// Runs `compare` (on every process of a timely cluster; only process 0 prints).
pub fn run(args: Args) -> anyhow::Result<()> {
    let cluster = args.engine.cluster.clone();
    crate::cmd::cluster::launch(&cluster, args.engine.runtime, |_| run_here(args))
}

fn run_here(args: Args) -> anyhow::Result<()> {
    let methods = match &args.methods {
        None => Method::ALL.to_vec(),
        Some(labels) => {
            Method::parse_list(labels).map_err(|e| anyhow::anyhow!("--methods: {e}"))?
        }
    };
    let mut outputs = crate::cmd::output::Outputs::plan(
        &[&args.market],
        &[
            ("--dot", args.dot.as_ref()),
            ("--report", args.report.as_ref()),
        ],
    )?;
    let loaded = LoadedMarket::load(&args.market)?;
    let g = &loaded.graph;
    let engine = args
        .engine
        .options(g, Variant::Fair, InjectionMode::Demand)?;
    let checked = workload::check_methods(g, &methods, &engine, &workload::Limits::DEFAULT);
    crate::cmd::within_limits(&loaded.path, checked, args.engine.size.force)?;
    let fault_file = load_faults(&args.faults, &loaded, args.engine.runtime)?;
    let options = CompareOptions {
        methods,
        lp: LpOptions {
            backend: args.engine.backend,
            prices: false,
        },
        engine,
        trace: args.report.is_some(),
        faults: fault_file.as_ref().map(|f| f.plan.clone()),
    };
    let bar = crate::cmd::progress::counter(options.methods.len() as u64, "methods");
    let computed = compare_market_observed(&loaded.market, g, &options, &mut |i, m| {
        bar.set_position(i as u64);
        bar.set_message(m.label());
    });
    bar.finish_and_clear();
    if let Some(e) = computed.iter().find_map(|r| r.error.as_ref()) {
        return Err(e.clone().into());
    }
    let backend = computed
        .iter()
        .find(|r| r.method == Method::Lp(Objective::Welfare))
        .and_then(|r| r.backend)
        .unwrap_or(args.engine.backend);
    let (m, epsilon) = (&loaded.market, options.engine.epsilon);
    if let Some(path) = &args.dot {
        outputs.stage(path, pictures::compare_dot(m, g, &computed, epsilon));
    }
    if let Some(path) = &args.report {
        let p = engine_provenance(&loaded, backend, options.engine.runtime);
        outputs.stage(path, pictures::compare_html(m, g, &computed, epsilon, &p));
    }
    outputs.commit()?;
    if args.json {
        let runtime = options.engine.runtime;
        let value = json!({
            "market": {
                "name": loaded.market.name,
                "file": loaded.path.display().to_string(),
                "sha256": loaded.sha256,
            },
            "rows": compare_json_rows(&computed),
            "approximate": "engine rows are averages over the last window of rounds; LP rows are exact to the solver tolerance",
            "provenance": provenance(&sources(&loaded, fault_file.as_ref()), backend, runtime),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        let origin = loaded.path.display().to_string();
        print!("{}", compare_table(&loaded.market.name, &origin, &computed));
    }
    Ok(())
}
