//! `run --save-state` / `run --resume` (design §5, re-planning) and the engine's
//! refusals of hostile markets, through the binary: a run stopped and resumed writes
//! what the uninterrupted run writes; a changed market is re-planned; other
//! participants, other options, malformed states and faults with a state are refused
//! before any output; a demand of 1e308 is refused by name in run, compare and
//! settle; the exponential potential with a tall ceiling keeps every capacity.

use crate::util::{json, market, refused, run, scratch, scratch_file};

/// tiny with its numbers changed by `edit` (participants unchanged), as a file.
fn tiny_with(name: &str, edit: impl Fn(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(market("tiny")).unwrap()).unwrap();
    edit(&mut v);
    scratch_file(name, &serde_json::to_string_pretty(&v).unwrap())
}

/// `run --json` on the market file `market`, stopped at the round limit `rounds`, its
/// state saved to `state`.
fn saved_after(market: &str, rounds: usize, state: &str) -> serde_json::Value {
    let rounds = rounds.to_string();
    json(&[
        "run",
        market,
        "--rounds",
        &rounds,
        "--save-state",
        state,
        "--json",
    ])
}

/// Stopped at the round limit (60), saved, resumed on the same market on `runtime`:
/// the flows file and the reported numbers are those of the run that never stopped.
fn resumes_as_uninterrupted(runtime: &str) {
    let tiny = market("tiny");
    let whole_flows = scratch(&format!("whole-{runtime}.csv"));
    let whole = json(&["run", &tiny, "--flows", &whole_flows, "--json"]);
    let state = scratch(&format!("after60-{runtime}.json"));
    let first = saved_after(&tiny, 60, &state);
    assert_eq!(first["rounds"], 60);
    assert_eq!(first["converged"], false);
    let flows = scratch(&format!("resumed-{runtime}.csv"));
    let resumed = json(&[
        "run",
        &tiny,
        "--resume",
        &state,
        "--runtime",
        runtime,
        "--flows",
        &flows,
        "--json",
    ]);
    assert_eq!(resumed["resumed"]["mode"], "continued");
    assert_eq!(resumed["resumed"]["rounds_before"], 60);
    for key in [
        "rounds",
        "converged",
        "served",
        "welfare",
        "unsteady",
        "queue_drift",
        "prices",
    ] {
        assert_eq!(resumed[key], whole[key], "{runtime}: {key}");
    }
    assert_eq!(
        std::fs::read(&flows).unwrap(),
        std::fs::read(&whole_flows).unwrap(),
        "{runtime}"
    );
}

cases!(stop_save_resume_is_the_uninterrupted_run, resumes_as_uninterrupted, {
    flat: ("flat"),
    nodes: ("nodes"),
});

/// The state file of a run stopped at round 60 records its provenance.
#[test]
fn a_saved_state_records_its_provenance() {
    let tiny = market("tiny");
    let state = scratch("after60.json");
    saved_after(&tiny, 60, &state);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let p = &saved["provenance"];
    assert_eq!(p["variant"], "welfare-seeking");
    assert_eq!(p["injection"], "demand");
    assert_eq!(p["options"]["ceiling"], "20.0");
    assert_eq!(p["brokerflow"], env!("CARGO_PKG_VERSION"));
    assert_eq!(p["market_digest"].as_str().unwrap().len(), 64);
}

/// Demands changed by ±50 %: re-planned, converged, the jobs carried over reported.
#[test]
fn a_market_with_changed_numbers_is_replanned() {
    let tiny = market("tiny");
    let state = scratch("converged.json");
    json(&["run", &tiny, "--save-state", &state, "--json"]);
    let changed = tiny_with("changed.json", |v| {
        v["users"][0]["demand"] = 15.into();
        v["users"][1]["demand"] = 10.into();
        v["providers"][0]["capacity"] = 12.into();
    });
    let r = json(&["run", &changed, "--resume", &state, "--json"]);
    assert_eq!(r["resumed"]["mode"], "re-planned");
    assert_eq!(r["converged"], true);
    let carried: f64 = r["resumed"]["carried"]
        .as_object()
        .unwrap()
        .values()
        .map(|x| x.as_f64().unwrap())
        .sum();
    assert!(carried > 0.0, "{r}");
    let text = run(&["run", &changed, "--resume", &state]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("re-planned from"), "{text}");
}

/// Other participants, other options, a truncated or positional state, the state as
/// its own output, and faults with a state (on timely): refused before any output is
/// written.
#[test]
fn what_cannot_resume_is_refused_up_front() {
    let tiny = market("tiny");
    let state = scratch("refusals.json");
    saved_after(&tiny, 100, &state);
    let flows = scratch("never.csv");
    let other = tiny_with("other.json", |v| {
        let mut u4 = v["users"][2].clone();
        u4["id"] = "u4".into();
        v["users"].as_array_mut().unwrap().push(u4);
        v["links"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"from": "u4", "to": "b2"}));
    });
    refused(
        &["run", &other, "--resume", &state, "--flows", &flows],
        "user u4 appeared",
    );
    refused(
        &[
            "run",
            &tiny,
            "--resume",
            &state,
            "--ceiling",
            "4",
            "--flows",
            &flows,
        ],
        "saved with other options than this run's: ceiling 20 (now 4)",
    );
    refused(
        &["run", &tiny, "--resume", &state, "--variant", "fair"],
        "variant welfare-seeking (now fair)",
    );
    let text = std::fs::read_to_string(&state).unwrap();
    // Cut before the top-level key "queues": the text ends inside the state's
    // top-level object, after a comma.
    let cut = scratch_file("cut.json", &text[..text.find("\n  \"queues\"").unwrap()]);
    refused(
        &["run", &tiny, "--resume", &cut, "--flows", &flows],
        "cut.json: (top level): the text ends before the saved state is complete (a truncated file?)",
    );
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["pushes"][0] = serde_json::json!(["b1", "p1", "u1", "0.5"]);
    let positional = scratch_file("positional.json", &v.to_string());
    refused(
        &["run", &tiny, "--resume", &positional],
        "positional.json: pushes[0]: must be a JSON object",
    );
    refused(
        &["run", &tiny, "--resume", &state, "--save-state", &state],
        "that is an input of this command",
    );
    // The timely runtime saves now; what no runtime can save is refused on it too.
    let faults = scratch_file(
        "down.json",
        r#"{"seed": 1, "faults": [{"from": 1, "to": 5, "kind": "node-down", "node": "b1"}]}"#,
    );
    refused(
        &[
            "run",
            &tiny,
            "--save-state",
            &scratch("t.json"),
            "--faults",
            &faults,
            "--runtime",
            "timely",
        ],
        "--faults cannot be combined with --save-state or --resume",
    );
    assert!(!std::path::Path::new(&flows).exists());
}

/// A demand beyond the engine's range that the reader accepts; the engine refuses it by name in every
/// command that runs it (before, `run --variant fair`, `compare` and `settle
/// --allocation fair` panicked in the water-fill).
#[test]
fn an_overflowing_demand_is_refused_in_every_command() {
    // 1e308 is refused by the market reader already (its products overflow); 1e200
    // passes the reader and is beyond the engine's range.
    let huge = tiny_with("huge.json", |v| v["users"][0]["demand"] = 1e200.into());
    let why = "user u1: demand = 1e200 is out of the engine's range";
    refused(&["run", &huge, "--variant", "fair"], why);
    refused(&["run", &huge], why);
    refused(
        &[
            "compare",
            &huge,
            "--methods",
            "fair/demand,welfare-seeking/demand",
        ],
        why,
    );
    refused(
        &[
            "settle",
            &huge,
            "--mechanism",
            "mcafee",
            "--allocation",
            "fair",
        ],
        why,
    );
}

/// `--potential exponential --ceiling 1000` on tiny with `variant`: no node exceeds
/// its capacity and u1's bandwidth-5 link carries at most 5 jobs per round (before: a
/// capacity violation of 2.7e3 reported as a normal result, 25.1 jobs on that link).
fn exponential_keeps_capacities(variant: &str) {
    let flows = scratch(&format!("exponential-{variant}.csv"));
    let r = json(&[
        "run",
        &market("tiny"),
        "--variant",
        variant,
        "--potential",
        "exponential",
        "--ceiling",
        "1000",
        "--rounds",
        "3000",
        "--flows",
        &flows,
        "--json",
    ]);
    assert!(
        r["max_capacity_violation"].as_f64().unwrap() <= 1e-9,
        "{variant}: {r}"
    );
    let csv = std::fs::read_to_string(&flows).unwrap();
    let on_u1b1: f64 = csv
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(1) == Some("u1"))
        .map(|l| l.split(',').nth(3).unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(
        on_u1b1 <= 5.0 + 1e-9,
        "{variant}: {on_u1b1} jobs from u1 over bandwidth 5"
    );
}

cases!(the_exponential_potential_keeps_capacities_with_a_tall_ceiling, exponential_keeps_capacities, {
    fair: ("fair"),
    utility_aware: ("utility-aware"),
    welfare_seeking: ("welfare-seeking"),
});
