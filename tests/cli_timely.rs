//! `--runtime timely` end to end through the built binary (design §5, §12): as threads
//! and as local processes the command starts itself, the same flows file and JSON as
//! `--runtime flat` (times and the runtime's name aside); a taken port, a bad cluster
//! and a process that dies are clear errors, never hangs.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_brokerflow"))
}

fn market(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("graphs/markets/{name}.json"))
        .to_str()
        .unwrap()
        .to_string()
}

fn scratch(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("brokerflow-cli-timely-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).to_str().unwrap().to_string()
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

/// A run's JSON without what differs between runtimes by design: wall clock and the
/// runtime's name.
fn comparable(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_object_mut().unwrap().remove("seconds");
    v["provenance"]
        .as_object_mut()
        .unwrap()
        .remove("engine_runtime");
    v
}

/// `count` consecutive free loopback ports (the first of them).
fn free_ports(count: u16) -> u16 {
    'search: for _ in 0..50 {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = probe.local_addr().unwrap().port();
        drop(probe);
        if base > 65_000 {
            continue;
        }
        for p in base..base + count {
            if TcpListener::bind(("127.0.0.1", p)).is_err() {
                continue 'search;
            }
        }
        return base;
    }
    panic!("no free ports");
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
    let port = free_ports(2).to_string();
    let processes_flows = scratch("processes.csv");
    let processes = run(&[
        &common[..],
        &[
            "--runtime",
            "timely",
            "--workers",
            "2",
            "--processes",
            "2",
            "--port",
            &port,
            "--flows",
            &processes_flows,
        ],
    ]
    .concat());
    assert_eq!(comparable(&processes), expected);
    let flows = std::fs::read(&flat_flows).unwrap();
    assert_eq!(std::fs::read(&threads_flows).unwrap(), flows);
    assert_eq!(std::fs::read(&processes_flows).unwrap(), flows);
}

#[test]
fn a_taken_port_is_refused_clearly() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let m = market("tiny");
    let out = run(&[
        "run",
        &m,
        "--runtime",
        "timely",
        "--processes",
        "2",
        "--port",
        &port,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("port {port} is taken")), "{err}");
}

#[test]
fn cluster_flags_need_the_timely_runtime_and_a_host_file_needs_an_index() {
    let m = market("tiny");
    let out = run(&["run", &m, "--workers", "2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("need --runtime timely"),
        "{err}"
    );
    let hosts = scratch("hosts.txt");
    std::fs::write(&hosts, "127.0.0.1:1\n127.0.0.1:2\n").unwrap();
    let out = run(&["run", &m, "--runtime", "timely", "--hosts", &hosts]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("--hosts needs --process"),
        "{err}"
    );
    let out = run(&[
        "run",
        &m,
        "--runtime",
        "timely",
        "--hosts",
        &hosts,
        "--process",
        "2",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("lists processes 0 to 1"),
        "{err}"
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
            // A window longer than the run can fill in seconds: it cannot converge
            // before the kill (momentum makes tiny converge fast otherwise).
            "--window".into(),
            "200000".into(),
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
    assert!(killed.elapsed() < Duration::from_secs(30), "no hang");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("lost process 1"), "{err}");
}
