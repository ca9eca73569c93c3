//! Shared by the command-line tests: the built binary, the bundled markets and other
//! repository files, scratch files and folders, and free loopback ports.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The built `brokerflow` binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_brokerflow"))
}

/// Runs the binary with `args` and waits for it.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

/// The bundled market `name` (`graphs/markets/NAME.json`).
pub fn market(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("graphs/markets/{name}.json"))
        .display()
        .to_string()
}

/// The repository's file `rel` (a path from the root, `experiments/mca/x.json`).
pub fn path(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(rel)
        .display()
        .to_string()
}

/// A path `name` in a directory of this process and of the calling module's file (so
/// modules, which were test programs of their own, never share a file by name).
#[track_caller]
pub fn scratch(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!(
        "brokerflow-cli-{}-{}",
        caller_module(),
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).display().to_string()
}

/// [`scratch`] with `text` written to it.
#[track_caller]
pub fn scratch_file(name: &str, text: &str) -> String {
    let path = scratch(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A fresh, empty folder `name` of this process and of the calling module's file.
#[track_caller]
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "brokerflow-cli-{}-{}-{name}",
        caller_module(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The file stem of the test module that called (through `#[track_caller]` helpers).
#[track_caller]
fn caller_module() -> String {
    let file = std::panic::Location::caller().file();
    std::path::Path::new(file)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// `count` consecutive free loopback ports (the first of them).
pub fn free_ports(count: u16) -> u16 {
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

/// Runs the binary with `args(base)` on `count` free consecutive loopback ports from
/// `base`, and again on new ports (up to 5 runs) when the run failed because another
/// program took or reached one of them between choosing and using it (a taken port, a
/// peer that never connected or ran something else, a lost or silent process): so
/// tests that start local processes never stall or fail on another test's ports.
pub fn on_free_ports(count: u16, args: impl Fn(&str) -> Vec<String>) -> Output {
    const RACES: [&str; 7] = [
        "is taken",
        "cannot listen",
        "did not connect",
        "runs another market",
        "unknown peer",
        "lost process",
        "no progress within",
    ];
    let mut last = None;
    for _ in 0..5 {
        let base = free_ports(count).to_string();
        let out = run(&args(&base).iter().map(String::as_str).collect::<Vec<_>>());
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || !RACES.iter().any(|r| stderr.contains(r)) {
            return out;
        }
        last = Some(out);
    }
    last.expect("at least one run")
}

/// Asserts that the binary refuses `args`: it fails, without a panic and without a
/// result, and its error names `names`.
pub fn refused(args: &[&str], names: &str) {
    let out = bin().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} was accepted");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert!(
        stderr.contains(names),
        "{args:?}: the error does not name {names}: {stderr}"
    );
    assert!(out.stdout.is_empty(), "{args:?} printed a result");
}

/// Runs the binary with `args` and asserts that it succeeded (the error shown if not).
pub fn ok(args: &[&str]) -> Output {
    let out = run(args);
    assert_ok(&out, &format!("{args:?}"));
    out
}

/// Asserts that a run succeeded; if not, shows `what` and the run's standard error.
pub fn assert_ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what}: {}", stderr(out));
}

/// The JSON the binary prints for `args`, which must succeed.
pub fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_slice(&ok(args).stdout).unwrap()
}

/// What a run wrote on standard error, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
