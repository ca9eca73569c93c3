//! `run --save-state` and `run --resume`: the engine's state after a run, and a run
//! resumed from it (design §5, re-planning; `brokerflow_solvers::engine::replan`).

use std::path::Path;

use brokerflow_graphs::ExpandedGraph;
use brokerflow_solvers::engine::replan::{self, ResumeMode, Resumed, SavedState};
use brokerflow_solvers::engine::{Engine, EngineOptions, EngineRun, Observers, Runtime};
use serde_json::json;

use crate::cmd::LoadedMarket;

/// Refuses, before any work, what cannot save or resume: the timely runtime.
pub fn check_runtime(runtime: Runtime, save: bool, resume: bool) -> anyhow::Result<()> {
    if runtime == Runtime::Timely && (save || resume) {
        anyhow::bail!(
            "--{} needs --runtime flat or nodes: the timely runtime cannot save or resume its state",
            if save { "save-state" } else { "resume" }
        );
    }
    Ok(())
}

/// Reads and checks a state file (before any work starts).
pub fn read(path: &Path) -> anyhow::Result<SavedState> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    replan::read_state(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The run: resumed from `saved` if given, else from a cold start; with the state at
/// the end if `save`.
pub fn run(
    loaded: &LoadedMarket,
    g: &ExpandedGraph,
    options: &EngineOptions,
    observers: &mut Observers<'_>,
    saved: Option<(&Path, &SavedState)>,
    save: bool,
) -> anyhow::Result<(EngineRun, Option<SavedState>, Option<Resumed>)> {
    let (engine, resumed) = match saved {
        Some((path, s)) => {
            let (e, r) = replan::resume(&loaded.market, g, options, s)
                .map_err(|e| anyhow::anyhow!("--resume {}: {e}", path.display()))?;
            (e, Some(r))
        }
        None => (Engine::new(&loaded.market, g, options)?, None),
    };
    if save {
        let (run, state) = engine.run_and_save(observers, &loaded.market)?;
        Ok((run, Some(state), resumed))
    } else {
        Ok((engine.run(observers).valid()?, None, resumed))
    }
}

/// What resuming did, as JSON.
pub fn to_json(g: &ExpandedGraph, r: &Resumed, from: &Path) -> serde_json::Value {
    let per_user = |v: &[f64]| {
        g.commodities
            .iter()
            .zip(v)
            .map(|(c, x)| (c.id.clone(), json!(x)))
            .collect::<serde_json::Map<_, _>>()
    };
    json!({
        "from": from.display().to_string(),
        "mode": r.mode,
        "rounds_before": r.rounds_before,
        "carried": per_user(&r.carried),
        "dropped": per_user(&r.dropped),
    })
}

/// What resuming did, in one line.
pub fn render(r: &Resumed, from: &Path) -> String {
    match r.mode {
        ResumeMode::Continued => format!(
            "  resumed from {} after {} rounds: the same market, continued exactly (rounds count from the cold start)\n",
            from.display(),
            r.rounds_before
        ),
        ResumeMode::Replanned => format!(
            "  re-planned from {} (saved after {} rounds): {:.6} jobs carried over, {:.6} dropped (no use in the new market); rounds count from the resume\n",
            from.display(),
            r.rounds_before,
            r.carried.iter().sum::<f64>(),
            r.dropped.iter().sum::<f64>()
        ),
    }
}
