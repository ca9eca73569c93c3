//! `brokerflow experiment` end to end on a tiny spec (2 configurations × 3 seeds):
//! columns and row counts, byte-identical reruns for any --jobs, --resume after an
//! interruption, failed scenarios as rows, spec errors, and --emit.

use std::path::{Path, PathBuf};

use crate::util::{assert_ok, market, run as brokerflow, temp_dir};

const METHODS: usize = 8;

const SPEC: &str = r#"
name = "tiny"
methods = ["lp/concurrent", "lp/utility", "lp/worst-utility", "lp/welfare",
           "fair/feasible", "utility-aware/feasible", "fair/demand", "utility-aware/demand"]
[engine]
rounds = 3000
welfare_scale = 12.5
[outputs]
trace = { configuration = "K4", scenario = "2" }
[[configuration]]
name = "K4"
seeds = 3
paper = { gain_percent = 16.2, percent_of_optimum = 62 }
[configuration.generator]
users = 4
brokers = 2
providers = 2
[[configuration]]
name = "K6-free"
seeds = 3
first_seed = 10
[configuration.generator]
users = 6
brokers = 3
providers = 2
contention = 0.5
provider_cost = [0, 0]
broker_cost = [0, 0]
link_cost = [0, 0]
"#;

fn write_spec(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("spec.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run_ok(args: &[&str]) -> String {
    let out = brokerflow(args);
    assert_ok(&out, &format!("{args:?}"));
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Data lines of a CSV (comment lines dropped), split naively (no quoted commas in
/// the columns checked here).
fn data(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn tiny_spec_is_complete_and_identical_for_any_jobs_and_after_resume() {
    let dir = temp_dir("determinism");
    let spec = write_spec(&dir, SPEC);
    let spec = spec.to_str().unwrap();
    let (a, b, c) = (dir.join("jobs1"), dir.join("jobs2"), dir.join("resumed"));
    run_ok(&[
        "experiment",
        spec,
        "--out",
        a.to_str().unwrap(),
        "--jobs",
        "1",
    ]);
    run_ok(&[
        "experiment",
        spec,
        "--out",
        b.to_str().unwrap(),
        "--jobs",
        "2",
    ]);

    // Columns and row counts: one row per (configuration, scenario, method).
    let scenarios = read(&a, "scenarios.csv");
    assert!(scenarios.starts_with("# brokerflow "), "provenance first");
    assert!(scenarios.contains("# spec_sha256: "));
    let rows = data(&scenarios);
    assert_eq!(
        rows[0].join(","),
        "configuration,scenario,method,status,served_fraction,welfare,optimum,percent_of_optimum,gap_closed,rounds,converged,rounds_to_95,gap_closed_served,price_error,delta,notes,error"
    );
    assert!(
        scenarios.contains(", welfare scale 12.5, runtime flat, momentum engine default\n"),
        "the spec's welfare_scale and the engine's runtime are in the provenance: {scenarios}"
    );
    assert_eq!(rows.len() - 1, 2 * 3 * METHODS);
    assert!(rows[1..].iter().all(|r| r[3] == "ok"), "{scenarios}");
    let seeds: Vec<&str> = rows[1..]
        .iter()
        .step_by(METHODS)
        .map(|r| r[1].as_str())
        .collect();
    assert_eq!(seeds, ["1", "2", "3", "10", "11", "12"]);
    // Engine rows carry rounds and convergence; LP rows do not. rounds_to_95 is a
    // checkpoint (a multiple of 50, or the last round) of an engine row with a
    // positive optimum, and there when the run ends at ≥ 95 % of it (the last
    // checkpoint is the reported welfare), absent when it ends below.
    let mut reached = 0;
    for r in &rows[1..] {
        let engine = !r[2].starts_with("lp/");
        assert_eq!(!r[9].is_empty(), engine, "{r:?}");
        assert_eq!(!r[10].is_empty(), engine, "{r:?}");
        if !engine || r[7].is_empty() {
            assert!(r[11].is_empty(), "{r:?}");
            continue;
        }
        let pct: f64 = r[7].parse().unwrap();
        if r[11].is_empty() {
            assert!(pct < 95.0 + 1e-6, "{r:?}");
        } else {
            reached += 1;
            let (to, rounds): (usize, usize) = (r[11].parse().unwrap(), r[9].parse().unwrap());
            assert!(to <= rounds && (to % 50 == 0 || to == rounds), "{r:?}");
            assert!(pct > 95.0 - 1e-6, "{r:?}");
        }
    }
    assert!(reached > 0, "some engine row reaches 95 %: {scenarios}");

    // Byte-identical reproducible files for --jobs 1 and 2; timings differ in kind.
    for name in ["scenarios.csv", "summary.csv"] {
        assert_eq!(read(&a, name), read(&b, name), "{name}");
    }
    let timings = data(&read(&a, "timings.csv"));
    assert_eq!(
        timings[0].join(","),
        "configuration,scenario,method,seconds"
    );
    assert_eq!(timings.len() - 1, 2 * 3 * METHODS);

    // summary.csv: (configuration, method, measure) rows plus paired rows.
    let summary = data(&read(&a, "summary.csv"));
    assert_eq!(
        summary[0].join(","),
        "configuration,method,measure,n,mean,half_width,ci_low,ci_high,p10,median,p90"
    );
    // rounds_to_95's median and p90 (nearest rank) over the rows where it is defined,
    // recomputed here from scenarios.csv.
    for r in summary.iter().filter(|r| r[2] == "rounds_to_95") {
        let mut v: Vec<usize> = rows[1..]
            .iter()
            .filter(|x| x[0] == r[0] && x[2] == r[1] && !x[11].is_empty())
            .map(|x| x[11].parse().unwrap())
            .collect();
        v.sort_unstable();
        assert_eq!(r[3], v.len().to_string(), "{r:?}");
        if v.is_empty() {
            assert!(r[9].is_empty() && r[10].is_empty(), "{r:?}");
        } else {
            let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).max(1) - 1];
            assert_eq!(r[9], rank(0.5).to_string(), "{r:?}");
            assert_eq!(r[10], rank(0.9).to_string(), "{r:?}");
        }
    }
    let welfare_p3: Vec<&Vec<String>> = summary
        .iter()
        .filter(|r| r[1] == "lp/welfare" && r[2] == "percent_of_optimum")
        .collect();
    assert_eq!(welfare_p3.len(), 2);
    for r in welfare_p3 {
        // n counts the scenarios where P3 > 0 (percent_of_optimum defined), each 100.
        let defined = rows[1..]
            .iter()
            .filter(|x| x[0] == r[0] && x[2] == "lp/welfare" && !x[7].is_empty())
            .count();
        assert!(defined >= 1);
        assert_eq!(
            (r[3].clone(), r[4].as_str()),
            (defined.to_string(), "100"),
            "{r:?}"
        );
    }
    assert!(summary
        .iter()
        .any(|r| r[1] == "utility-aware-minus-fair/demand" && r[2] == "welfare" && r[3] == "3"));
    let md = read(&a, "summary.md");
    assert!(md.contains("## [MCF-Grid] Table 1 beside brokerflow"));
    assert!(
        md.contains(
            "| rounds | rounds median | rounds p90 | converged | rounds to 95 % median | to 95 % p90 | to 95 % n |"
        ),
        "{md}"
    );
    assert!(md.contains("| K4 | feasible | 3 |"), "{md}");
    for fig in [
        "fig4_5_trace_feasible.svg",
        "fig4_5_trace_demand.svg",
        "fig6_welfare.svg",
        "fig6_welfare_paired.svg",
        "fig6_welfare_percent.svg",
        "hist_percent_of_optimum.svg",
    ] {
        let svg = read(&a, fig);
        assert!(svg.contains("<svg") && svg.contains("spec_sha256"), "{fig}");
    }
    assert!(
        !a.join(".journal.csv").exists(),
        "the journal goes once complete"
    );

    // Interrupted after 2 scenarios, then resumed: the same files.
    let out = brokerflow(&[
        "experiment",
        spec,
        "--out",
        c.to_str().unwrap(),
        "--stop-after",
        "2",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));
    assert!(!c.join("scenarios.csv").exists());
    let journal = read(&c, ".journal.csv");
    assert_eq!(data(&journal).len() - 1, 2 * METHODS);
    let log = run_ok(&[
        "experiment",
        spec,
        "--out",
        c.to_str().unwrap(),
        "--resume",
        "--jobs",
        "2",
    ]);
    assert!(log.contains("4 scenarios run, 2 resumed"), "{log}");
    for name in ["scenarios.csv", "summary.csv"] {
        assert_eq!(read(&a, name), read(&c, name), "{name}");
    }
    // Resuming a complete run runs nothing and changes nothing.
    let log = run_ok(&["experiment", spec, "--out", c.to_str().unwrap(), "--resume"]);
    assert!(log.contains("0 scenarios run, 6 resumed"), "{log}");
    assert_eq!(read(&a, "scenarios.csv"), read(&c, "scenarios.csv"));

    // A different spec refuses to resume from these files.
    let other = write_spec(&dir, &SPEC.replace("rounds = 3000", "rounds = 3001"));
    let out = brokerflow(&[
        "experiment",
        other.to_str().unwrap(),
        "--out",
        c.to_str().unwrap(),
        "--resume",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("another spec"));
}

#[test]
fn a_failing_scenario_is_a_row_not_an_aborted_batch() {
    let dir = temp_dir("failing");
    std::fs::copy(market("tiny"), dir.join("a-good.json")).unwrap();
    std::fs::write(dir.join("b-bad.json"), r#"{"name": "bad", "users": []"#).unwrap();
    let spec = write_spec(
        &dir,
        r#"
name = "files"
methods = ["lp/welfare", "utility-aware/demand"]
[outputs]
figures = false
[[configuration]]
name = "given"
markets = ["*.json"]
"#,
    );
    let out = dir.join("out");
    // Every output is written, and the exit code (5) says that rows failed.
    let run = brokerflow(&[
        "experiment",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        run.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stderr).contains("2 of 4 rows failed"));
    let text = read(&out, "scenarios.csv");
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert!(
        rows[0].starts_with("given,a-good.json,lp/welfare,ok,"),
        "{text}"
    );
    assert!(rows[1].starts_with("given,a-good.json,utility-aware/demand,ok,"));
    for r in &rows[2..] {
        assert!(
            r.starts_with("given,b-bad.json,") && r.contains(",error,"),
            "{r}"
        );
        assert!(r.contains("b-bad.json"), "the error names the file: {r}");
    }
    let md = read(&out, "summary.md");
    assert!(md.contains("| lp/welfare | 1 | 1 |"), "{md}");
}

/// SPEC with `edit` (from, to) is refused in one line naming spec.toml and `field`.
fn spec_error(tag: &str, edit: (&str, &str), field: &str) {
    let dir = temp_dir(&format!("errors-{tag}"));
    let spec = write_spec(&dir, &SPEC.replace(edit.0, edit.1));
    let out = brokerflow(&["experiment", spec.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("spec.toml") && err.contains(field),
        "{field}: {err}"
    );
}

cases!(spec_errors_are_one_line_naming_file_and_field, spec_error, {
    unknown_method: ("unknown_method", ("fair/demand", "fair/nope"), "methods"),
    zero_seeds: (
        "zero_seeds",
        ("seeds = 3\npaper", "seeds = 0\npaper"),
        "configuration[0].seeds",
    ),
    users_not_a_number: (
        "users_not_a_number",
        ("users = 4", "users = \"four\""),
        "configuration[0].generator.users",
    ),
});

#[test]
fn a_missing_spec_is_named() {
    let dir = temp_dir("errors");
    let out = brokerflow(&["experiment", dir.join("missing.toml").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml: cannot read"));
}

#[test]
fn emit_writes_the_scenario_that_generate_makes() {
    let dir = temp_dir("emit");
    let spec = write_spec(&dir, SPEC);
    let emitted = dir.join("k4-2.json");
    run_ok(&[
        "experiment",
        spec.to_str().unwrap(),
        "--emit",
        "K4",
        "2",
        "-o",
        emitted.to_str().unwrap(),
    ]);
    // The same configuration through `generate`'s own flags: the same bytes.
    let generated = dir.join("gen.json");
    run_ok(&[
        "generate",
        "--users",
        "4",
        "--brokers",
        "2",
        "--providers",
        "2",
        "--seed",
        "2",
        "-o",
        generated.to_str().unwrap(),
    ]);
    assert_eq!(read(&dir, "k4-2.json"), read(&dir, "gen.json"));
    let out = brokerflow(&["experiment", spec.to_str().unwrap(), "--emit", "K4", "99"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no scenario '99'"));
}

/// A folder that holds a finished run (the committed results, by default) is not
/// overwritten by accident; `--force` replaces it, stale figures included.
#[test]
fn a_finished_run_is_not_overwritten_without_force() {
    let dir = temp_dir("force");
    let spec = write_spec(
        &dir,
        r#"
name = "once"
methods = ["lp/welfare"]
[outputs]
figures = false
[[configuration]]
name = "K4"
seeds = 1
[configuration.generator]
users = 4
brokers = 2
providers = 2
"#,
    );
    let spec = spec.to_str().unwrap();
    run_ok(&["experiment", spec]);
    let out = dir.join("once");
    let first = read(&out, "scenarios.csv");
    std::fs::write(out.join("left-by-another-spec.svg"), "<svg/>").unwrap();
    let again = brokerflow(&["experiment", spec]);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("--force") && err.contains("--out"), "{err}");
    assert_eq!(read(&out, "scenarios.csv"), first);
    assert!(out.join("left-by-another-spec.svg").exists());
    run_ok(&["experiment", spec, "--force"]);
    assert_eq!(read(&out, "scenarios.csv"), first, "same spec, same rows");
    assert!(!out.join("left-by-another-spec.svg").exists());
    // --resume of a finished run is an explicit request and stays allowed.
    run_ok(&["experiment", spec, "--resume"]);
}

/// `[engine] runtime = "timely"` with `workers = 2` runs every scenario's engine on two
/// timely workers and writes the same rows and summary as the flat runtime; only the
/// provenance line (runtime, spec hash) differs.
#[test]
fn a_timely_spec_writes_the_rows_a_flat_spec_writes() {
    let dir = temp_dir("timely");
    let spec = |engine: &str| {
        format!(
            r#"
name = "runtimes"
methods = ["lp/welfare", "fair/feasible", "utility-aware/demand", "welfare-seeking/demand"]
[engine]
rounds = 600
{engine}
[[configuration]]
name = "K5"
seeds = 2
[configuration.generator]
users = 5
brokers = 2
providers = 3
broker_link_probability = 0.5
"#
        )
    };
    let files = |engine: &str, name: &str| {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, spec(engine)).unwrap();
        let out = dir.join(name);
        run_ok(&[
            "experiment",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        out
    };
    let flat = files("", "flat");
    let timely = files("runtime = \"timely\"\nworkers = 2", "timely");
    let (a, b) = (read(&flat, "scenarios.csv"), read(&timely, "scenarios.csv"));
    assert!(a.contains(", runtime flat, "), "{a}");
    assert!(b.contains(", runtime timely, "), "{b}");
    let rows = data(&a);
    assert_eq!(rows.len() - 1, 2 * 4);
    assert!(rows[1..].iter().all(|r| r[3] == "ok"), "{a}");
    assert_eq!(rows, data(&b));
    assert_eq!(
        data(&read(&flat, "summary.csv")),
        data(&read(&timely, "summary.csv"))
    );
}

/// The library from Rust writes what the CLI writes: `run_experiment` on the tiny
/// spec renders the same `scenarios.csv`, `summary.csv`, `summary.md` and figures,
/// byte for byte, as `brokerflow experiment` left in its folder.
#[test]
fn run_experiment_from_rust_writes_the_rows_the_cli_writes() {
    let dir = temp_dir("library");
    let spec_path = write_spec(&dir, SPEC);
    let cli = dir.join("cli");
    run_ok(&[
        "experiment",
        spec_path.to_str().unwrap(),
        "--out",
        cli.to_str().unwrap(),
        "--jobs",
        "2",
    ]);
    let spec = brokerflow_experiments::Spec::load(&spec_path).unwrap();
    let options = brokerflow_experiments::Options {
        out: dir.join("rust"),
        jobs: Some(1),
        ..Default::default()
    };
    let done = brokerflow_experiments::run_experiment(&spec, &options, &()).unwrap();
    assert_eq!(done.failed(), 0);
    assert_eq!(done.batch.records.len(), 6 * METHODS);
    let names: Vec<&str> = done.files.iter().map(|(n, _)| n.as_str()).collect();
    for name in [
        "scenarios.csv",
        "summary.csv",
        "summary.md",
        "fig6_welfare.svg",
    ] {
        assert!(names.contains(&name), "{name} not among {names:?}");
    }
    for (name, text) in &done.files {
        if name != "timings.csv" {
            assert_eq!(*text, read(&cli, name), "{name}");
        }
    }
    // The records read back from the CLI's scenarios.csv are the library's rows.
    let back = brokerflow_experiments::runner::load_finished(&spec, &cli).unwrap();
    let ours: Vec<_> = done
        .batch
        .records
        .iter()
        .map(|r| (r.key(), r.measures))
        .collect();
    let theirs: Vec<_> = back.values().map(|r| (r.key(), r.measures)).collect();
    assert_eq!(ours, theirs);
}
