//! Progress displays are drawn on standard error only when it is a terminal: here it
//! is a pipe, so every command prints nothing on standard error, and its standard
//! output and files are byte for byte the same with and without `--quiet` (apart
//! from wall-clock `seconds` fields).

use crate::util::{assert_ok, market, run, scratch, scratch_file};

/// `value` without its wall-clock `seconds` fields, at any depth.
fn without_seconds(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove("seconds");
            map.values_mut().for_each(without_seconds);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(without_seconds),
        _ => {}
    }
}

/// Runs `args` with and without `--quiet` (at the end, and before the subcommand) and
/// asserts that standard error stays empty and standard output (JSON, without its
/// `seconds`) and the `files` are the same.
fn same_with_and_without_quiet(args: &[&str], files: &[&str]) {
    let outputs = |extra: &[&str], front: bool| {
        let mut all: Vec<&str> = Vec::new();
        if front {
            all.extend(extra);
        }
        all.extend(args);
        if !front {
            all.extend(extra);
        }
        let out = run(&all);
        assert_ok(&out, &format!("{all:?}"));
        assert!(
            out.stderr.is_empty(),
            "{all:?} printed on stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        without_seconds(&mut json);
        let bytes: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
        (json, bytes)
    };
    let plain = outputs(&[], false);
    assert_eq!(plain, outputs(&["--quiet"], false), "{args:?}");
    assert_eq!(plain, outputs(&["--quiet"], true), "{args:?}");
}

#[test]
fn run_solve_compare_and_settle_print_the_same_with_and_without_quiet() {
    let tiny = market("tiny");
    let flows = scratch("run-flows.csv");
    same_with_and_without_quiet(&["run", &tiny, "--json", "--flows", &flows], &[&flows]);
    let lp_flows = scratch("solve-flows.csv");
    same_with_and_without_quiet(
        &[
            "solve",
            &tiny,
            "--objective",
            "welfare",
            "--json",
            "--flows",
            &lp_flows,
        ],
        &[&lp_flows],
    );
    same_with_and_without_quiet(
        &[
            "solve",
            &tiny,
            "--objective",
            "concurrent,utility,welfare",
            "--json",
        ],
        &[],
    );
    same_with_and_without_quiet(
        &[
            "compare",
            &tiny,
            "--methods",
            "lp/welfare,fair/demand",
            "--json",
        ],
        &[],
    );
    let statement = scratch("statement.csv");
    same_with_and_without_quiet(
        &[
            "settle",
            &tiny,
            "--mechanism",
            "vcg",
            "--json",
            "--out",
            &statement,
        ],
        &[&statement],
    );
}

/// `bench engine`, with `--quiet` or without, prints nothing on stderr.
fn bench_is_silent(quiet: bool) {
    let mut args = vec![
        "bench",
        "engine",
        "--sizes",
        "20",
        "--rounds",
        "20",
        "--runtimes",
        "flat",
        "--threads",
        "1",
        "--json",
    ];
    if quiet {
        args.push("--quiet");
    }
    let out = run(&args);
    assert_ok(&out, "");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

cases!(bench_is_silent_on_stderr_with_and_without_quiet, bench_is_silent, {
    without_quiet: (false),
    with_quiet: (true),
});

#[test]
fn experiment_prints_one_line_on_stderr_with_and_without_quiet() {
    let spec = scratch_file(
        "quiet.toml",
        "name = \"quiet\"\nmethods = [\"lp/welfare\"]\n[outputs]\nfigures = false\n[[configuration]]\nname = \"K3\"\nseeds = 2\n\
         [configuration.generator]\nusers = 3\nbrokers = 2\nproviders = 2\n",
    );
    let mut scenarios = Vec::new();
    for (i, quiet) in [false, true].into_iter().enumerate() {
        let out_dir = scratch(&format!("quiet-out-{i}"));
        let mut args = vec!["experiment", &spec, "--out", &out_dir];
        if quiet {
            args.push("--quiet");
        }
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        // Its one summary line, and no progress display.
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("experiment 'quiet': 2 scenarios run, 0 resumed, 2 rows (0 failed)"),
            "{stderr}"
        );
        scenarios.push(std::fs::read(format!("{out_dir}/scenarios.csv")).unwrap());
    }
    assert_eq!(scenarios[0], scenarios[1]);
}
