//! `--runtime timely` end to end through the built binary (design §5, §12): as threads
//! and as local processes the command starts itself, `run` writes the same flows file
//! and JSON as `--runtime flat` (times and the runtime's name aside) and `settle` the
//! same statement; a taken port, a bad cluster and a process that dies are clear
//! errors, never hangs.

use std::net::TcpListener;
use std::process::{Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::util::{
    assert_ok, bin, free_ports, market, on_free_ports, refused, run, scratch, scratch_file,
};

/// A run's JSON without what differs between runtimes by design: wall clock and the
/// runtime's name.
fn comparable(out: &Output) -> serde_json::Value {
    assert_ok(out, "");
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_object_mut().unwrap().remove("seconds");
    v["provenance"]
        .as_object_mut()
        .unwrap()
        .remove("engine_runtime");
    v
}

#[test]
fn timely_threads_and_processes_write_what_flat_writes() {
    let m = market("linked");
    let common = [
        "run",
        &m,
        "--variant",
        "welfare-seeking",
        "--json",
        "--rounds",
        "600",
    ];
    let flat_flows = scratch("flat.csv");
    let flat = run(&[&common[..], &["--flows", &flat_flows]].concat());
    let expected = comparable(&flat);
    let threads_flows = scratch("threads.csv");
    let threads = run(&[
        &common[..],
        &[
            "--runtime",
            "timely",
            "--workers",
            "2",
            "--flows",
            &threads_flows,
        ],
    ]
    .concat());
    assert_eq!(comparable(&threads), expected);
    let processes_flows = scratch("processes.csv");
    let processes = on_free_ports(2, |port| {
        [
            &common[..],
            &[
                "--runtime",
                "timely",
                "--workers",
                "2",
                "--processes",
                "2",
                "--port",
                port,
                "--flows",
                &processes_flows,
            ],
        ]
        .concat()
        .iter()
        .map(|a| a.to_string())
        .collect()
    });
    assert_eq!(comparable(&processes), expected);
    let flows = std::fs::read(&flat_flows).unwrap();
    assert_eq!(std::fs::read(&threads_flows).unwrap(), flows);
    assert_eq!(std::fs::read(&processes_flows).unwrap(), flows);
}

/// `settle --allocation <variant>` settles the same statement on every runtime: on
/// every bundled market, the statement CSV (volumes, payments, utilities) and its
/// totals file are byte-identical between flat, timely on 2 workers and timely on 2
/// local processes, and the provenance names the runtime that ran the engine.
fn settle_on_every_runtime(name: &str, allocation: &str, mechanism: &str) {
    let m = market(name);
    let settle = |tag: &str, runtime: &str, cluster: &[&str]| {
        let out = scratch(&format!("{name}-{tag}.csv"));
        // A local cluster's ports ("PORT" in `cluster`) are chosen free, and chosen
        // again if another program met them.
        let run = on_free_ports(2, |port| {
            [
                &[
                    "settle",
                    &m,
                    "--allocation",
                    allocation,
                    "--mechanism",
                    mechanism,
                    "--rounds",
                    "300",
                    "--json",
                    "--out",
                    &out,
                    "--runtime",
                    runtime,
                ],
                cluster,
            ]
            .concat()
            .iter()
            .map(|a| {
                if *a == "PORT" {
                    port.to_string()
                } else {
                    a.to_string()
                }
            })
            .collect()
        });
        let what = format!("{name} {allocation} {mechanism} {tag}");
        let printed = comparable(&run);
        let mut totals: serde_json::Value =
            serde_json::from_slice(&std::fs::read(format!("{out}.json")).unwrap()).unwrap();
        let provenance = totals["provenance"].as_object_mut().unwrap();
        let ran_on = provenance.remove("engine_runtime");
        assert_eq!(ran_on, Some(serde_json::json!(runtime)), "{what}");
        assert_eq!(
            totals, printed,
            "{what}: the totals file is what --json prints"
        );
        (std::fs::read(&out).unwrap(), totals)
    };
    let flat = settle("flat", "flat", &[]);
    assert!(flat.0.len() > 40, "{name}: a statement with rows");
    let what = format!("{name} {allocation} {mechanism}");
    assert_eq!(
        settle("threads", "timely", &["--workers", "2"]),
        flat,
        "{what}: 2 workers"
    );
    // The cases run in parallel: one at a time from finding free ports to the
    // processes' end, so two cases never pick the same ports (and a port another
    // program takes meanwhile is chosen again).
    static PORTS: Mutex<()> = Mutex::new(());
    let _ports = PORTS.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(
        settle(
            "processes",
            "timely",
            &["--processes", "2", "--port", "PORT"]
        ),
        flat,
        "{what}: 2 processes"
    );
}

cases!(settle_on_timely_threads_and_processes_writes_what_flat_writes, settle_on_every_runtime, {
    tiny: ("tiny", "welfare-seeking", "engine-prices"),
    figure3: ("figure3", "utility-aware", "lp-prices"),
    linked: ("linked", "fair", "mcafee"),
    posted: ("posted", "welfare-seeking", "posted"),
    abilene: ("abilene", "utility-aware", "vickrey"),
});

/// A settlement without an engine allocation has nothing to run on timely.
#[test]
fn settle_without_an_engine_allocation_is_refused_on_timely() {
    refused(
        &[
            "settle",
            &market("tiny"),
            "--mechanism",
            "vcg",
            "--runtime",
            "timely",
        ],
        "engine allocation",
    );
}

#[test]
fn a_taken_port_is_refused_clearly() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let m = market("tiny");
    refused(
        &[
            "run",
            &m,
            "--runtime",
            "timely",
            "--processes",
            "2",
            "--port",
            &port,
        ],
        &format!("port {port} is taken"),
    );
}

#[test]
fn cluster_flags_need_the_timely_runtime_and_a_host_file_needs_an_index() {
    let m = market("tiny");
    refused(&["run", &m, "--workers", "2"], "need --runtime timely");
    let hosts = scratch("hosts.txt");
    std::fs::write(&hosts, "127.0.0.1:1\n127.0.0.1:2\n").unwrap();
    let hosted = ["run", &m, "--runtime", "timely", "--hosts", &hosts];
    refused(&hosted, "--hosts needs --process");
    refused(
        &[&hosted[..], &["--process", "2"]].concat(),
        "lists processes 0 to 1",
    );
}

#[test]
fn a_process_that_dies_ends_the_run_with_an_error_naming_it() {
    // A market big enough that the run is still going when process 1 is killed.
    let file = scratch("big.json");
    let out = run(&[
        "generate",
        "--users",
        "400",
        "--brokers",
        "10",
        "--providers",
        "20",
        "--seed",
        "3",
        "--output",
        &file,
    ]);
    assert_ok(&out, "");
    let base = free_ports(2);
    let hosts = scratch("hosts-die.txt");
    std::fs::write(
        &hosts,
        format!("127.0.0.1:{base}\n127.0.0.1:{}\n", base + 1),
    )
    .unwrap();
    let args = |i: &str| {
        vec![
            "run".to_string(),
            file.clone(),
            "--runtime".into(),
            "timely".into(),
            "--rounds".into(),
            "1000000".into(),
            // A window longer than the run can fill before the kill at 4 s (a timely
            // round of this market takes about a millisecond), so it cannot converge
            // first; short enough to stay far below the engine's memory limit.
            "--window".into(),
            "20000".into(),
            "--hosts".into(),
            hosts.clone(),
            "--process".into(),
            i.into(),
            "--peer-timeout".into(),
            "20".into(),
        ]
    };
    let zero = bin()
        .args(args("0"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut one = bin()
        .args(args("1"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    one.kill().unwrap();
    one.wait().unwrap();
    let killed = Instant::now();
    let out = zero.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(30), "no hang: {took:?}, {err}");
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("lost process 1"), "{err}");
}

/// Every fault kind at once on tiny (as the fault tests' schedule).
const MIXED: &str = r#"{"seed": 5, "faults": [
    {"from": 20, "to": 40, "kind": "node-down", "node": "p1"},
    {"from": 30, "to": 60, "kind": "link-cut", "link": ["u1", "b1"]},
    {"from": 40, "to": 70, "kind": "message-loss", "probability": 0.3},
    {"from": 50, "to": 90, "kind": "delay", "rounds": 3, "probability": 0.5},
    {"from": 20, "to": 90, "kind": "duplicate", "probability": 0.2},
    {"from": 60, "to": 100, "kind": "liar", "node": "b1", "factor": 10}
]}"#;

/// `args` with `extra` after them, as owned strings.
fn with(args: &[&str], extra: &[&str]) -> Vec<String> {
    args.iter().chain(extra).map(|a| a.to_string()).collect()
}

#[test]
fn run_faults_on_two_timely_processes_writes_what_flat_writes() {
    let faults = scratch_file("timely-mixed.json", MIXED);
    let tiny = market("tiny");
    let common = ["run", &tiny, "--faults", &faults, "--json"];
    let flat_trace = scratch("faults-flat.csv");
    let flat = run(&with(&common, &["--trace", &flat_trace])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    let expected = comparable(&flat);
    // Not vacuous: the faults lost jobs.
    assert!(
        expected["faults"]["jobs_lost"].as_f64().unwrap() > 0.0,
        "{expected}"
    );
    let timely_trace = scratch("faults-timely.csv");
    let timely = on_free_ports(2, |port| {
        with(
            &common,
            &[
                "--trace",
                &timely_trace,
                "--runtime",
                "timely",
                "--processes",
                "2",
                "--port",
                port,
            ],
        )
    });
    assert_eq!(comparable(&timely), expected);
    assert_eq!(
        std::fs::read(&timely_trace).unwrap(),
        std::fs::read(&flat_trace).unwrap()
    );
}

#[test]
fn save_state_and_resume_on_two_timely_processes_match_flat() {
    let tiny = market("tiny");
    let timely = |port: &str| -> Vec<String> {
        with(
            &["--runtime", "timely", "--processes", "2", "--port", port],
            &[],
        )
    };
    // Saved after 60 rounds: the same bytes from flat and from two timely processes.
    let flat_state = scratch("timely-flat-state.json");
    let out = run(&["run", &tiny, "--rounds", "60", "--save-state", &flat_state]);
    assert_ok(&out, "");
    let timely_state = scratch("timely-state.json");
    let out = on_free_ports(2, |port| {
        let mut a = with(
            &[
                "run",
                &tiny,
                "--rounds",
                "60",
                "--save-state",
                &timely_state,
            ],
            &[],
        );
        a.extend(timely(port));
        a
    });
    assert_ok(&out, "");
    assert_eq!(
        std::fs::read(&timely_state).unwrap(),
        std::fs::read(&flat_state).unwrap()
    );
    // Resumed on timely from the (same bytes') state file: what flat's resume gives.
    let expected = comparable(&run(&["run", &tiny, "--resume", &flat_state, "--json"]));
    assert_eq!(expected["resumed"]["mode"], "continued");
    let resumed = on_free_ports(2, |port| {
        let mut a = with(&["run", &tiny, "--resume", &flat_state, "--json"], &[]);
        a.extend(timely(port));
        a
    });
    assert_eq!(comparable(&resumed), expected);
}

/// `run --report` on two timely processes: every process records the welfare curve
/// (it gathers every worker's window), so the report is flat's but for the runtime's
/// name (before, only process 0 gathered, and the run broke).
#[test]
fn run_report_on_two_timely_processes_is_flats() {
    let tiny = market("tiny");
    let flat_report = scratch("report-flat.html");
    assert_ok(&run(&["run", &tiny, "--report", &flat_report]), "");
    let timely_report = scratch("report-timely.html");
    let out = on_free_ports(2, |port| {
        with(
            &[
                "run",
                &tiny,
                "--report",
                &timely_report,
                "--runtime",
                "timely",
            ],
            &["--processes", "2", "--port", port],
        )
    });
    assert_ok(&out, "");
    let flat = std::fs::read_to_string(&flat_report).unwrap();
    let timely = std::fs::read_to_string(&timely_report).unwrap();
    let name = |runtime: &str| format!("&quot;engine_runtime&quot;: &quot;{runtime}&quot;");
    assert!(flat.contains(&name("flat")), "the report names its runtime");
    assert_eq!(timely, flat.replace(&name("flat"), &name("timely")));
}
