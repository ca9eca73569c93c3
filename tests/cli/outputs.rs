//! What every command does with its files and its messages, through the built binary:
//! outputs are checked before the work starts (never onto an input, never two onto one
//! path, never into a missing folder) and written together or not at all; inputs that
//! are not a market get a message saying what they are; several LPs print every one
//! even when one fails; counts read as English.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util::{path, run as brokerflow, stderr, temp_dir as folder};

/// The file `name` bundled under graphs/markets/.
fn bundled(name: &str) -> String {
    path(&format!("graphs/markets/{name}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Fails unless the command failed with a one-line message containing `needle`.
fn refused(out: &Output, needle: &str) -> String {
    let err = stderr(out);
    assert!(!out.status.success(), "should be refused: {err}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// tiny with every demand set to 0, written into `dir`.
fn idle_tiny(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(bundled("tiny.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for u in v["users"].as_array_mut().unwrap() {
        u["demand"] = serde_json::json!(0);
    }
    let m = dir.join("idle.json");
    std::fs::write(&m, v.to_string()).unwrap();
    m
}

fn tiny_copy(dir: &Path) -> PathBuf {
    let m = dir.join("m.json");
    std::fs::copy(bundled("tiny.json"), &m).unwrap();
    m
}

#[test]
fn an_output_onto_an_input_is_refused_and_the_input_kept() {
    let dir = folder("onto-input");
    let m = tiny_copy(&dir);
    let before = std::fs::read(&m).unwrap();
    let attempts: Vec<Vec<&str>> = vec![
        vec!["solve", s(&m), "--objective", "welfare", "--flows", s(&m)],
        vec!["run", s(&m), "--flows", s(&m)],
        vec!["inspect", s(&m), "--dot", s(&m)],
        vec!["settle", s(&m), "--mechanism", "lp-prices", "--out", s(&m)],
    ];
    for args in &attempts {
        let err = refused(&brokerflow(args), "that is an input of this command");
        assert!(err.contains("m.json"), "{args:?}: {err}");
        assert_eq!(
            std::fs::read(&m).unwrap(),
            before,
            "{args:?} changed the market"
        );
    }
    // The same file under another name is still the input.
    let other = format!("{}/./m.json", s(&dir));
    refused(
        &brokerflow(&["solve", s(&m), "--objective", "welfare", "--flows", &other]),
        "that is an input",
    );
    let mcf = dir.join("g.txt");
    std::fs::copy(bundled("mcf/grid1.txt"), &mcf).unwrap();
    let mcf_before = std::fs::read(&mcf).unwrap();
    refused(
        &brokerflow(&["import", "--format", "mcf", s(&mcf), "-o", s(&mcf)]),
        "that is an input",
    );
    assert_eq!(std::fs::read(&mcf).unwrap(), mcf_before);
}

#[test]
fn two_outputs_onto_one_path_are_refused() {
    let dir = folder("one-path");
    let x = dir.join("x.csv");
    let err = refused(
        &brokerflow(&[
            "run",
            &bundled("tiny.json"),
            "--flows",
            s(&x),
            "--trace",
            s(&x),
        ]),
        "give each output its own file",
    );
    assert!(err.contains("--flows") && err.contains("--trace"), "{err}");
    refused(
        &brokerflow(&[
            "solve",
            &bundled("tiny.json"),
            "--objective",
            "welfare",
            "--flows",
            s(&x),
            "--prices",
            s(&x),
        ]),
        "both name",
    );
    assert!(!x.exists());
}

#[test]
fn a_missing_output_folder_is_refused_before_any_file_is_written() {
    let dir = folder("missing-folder");
    let flows = dir.join("f.csv");
    let prices = dir.join("nodir/p.csv");
    let err = refused(
        &brokerflow(&[
            "solve",
            &bundled("tiny.json"),
            "--objective",
            "welfare",
            "--flows",
            s(&flows),
            "--prices",
            s(&prices),
        ]),
        "does not exist",
    );
    assert!(err.contains("--prices"), "{err}");
    assert!(
        !flows.exists(),
        "--flows was written although the command failed"
    );
    let trace = dir.join("t.csv");
    refused(
        &brokerflow(&[
            "run",
            &bundled("tiny.json"),
            "--trace",
            s(&trace),
            "--routing",
            s(&prices),
        ]),
        "does not exist",
    );
    assert!(!trace.exists());
}

/// `settle --out S` also writes `S.json`; when that cannot be written, `S` must not
/// be left behind alone.
#[test]
fn settle_writes_its_statement_and_sidecar_together_or_neither() {
    let dir = folder("sidecar");
    let out = dir.join("s.csv");
    std::fs::create_dir(dir.join("s.csv.json")).unwrap();
    refused(
        &brokerflow(&[
            "settle",
            &bundled("tiny.json"),
            "--mechanism",
            "lp-prices",
            "--out",
            s(&out),
        ]),
        "is a directory",
    );
    assert!(!out.exists());
    std::fs::remove_dir(dir.join("s.csv.json")).unwrap();
    let ok = brokerflow(&[
        "settle",
        &bundled("tiny.json"),
        "--mechanism",
        "lp-prices",
        "--out",
        s(&out),
    ]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(out.exists() && dir.join("s.csv.json").exists());
    // No temporary file is left beside the outputs.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn a_read_only_output_is_refused() {
    let dir = folder("read-only");
    let flows = dir.join("f.csv");
    std::fs::write(&flows, "keep me\n").unwrap();
    let mut perms = std::fs::metadata(&flows).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&flows, perms).unwrap();
    refused(
        &brokerflow(&[
            "solve",
            &bundled("tiny.json"),
            "--objective",
            "welfare",
            "--flows",
            s(&flows),
        ]),
        "read-only",
    );
    assert_eq!(std::fs::read_to_string(&flows).unwrap(), "keep me\n");
}

/// `bytes` written as `name` are refused by solve in one line naming the file and
/// saying what it is (`needle`).
fn not_a_market(name: &str, bytes: Vec<u8>, needle: &str) {
    let dir = folder(&format!("not-a-market-{name}"));
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let err = refused(&brokerflow(&["solve", s(&path)]), needle);
    assert!(err.contains(name), "the message names the file: {err}");
    assert!(!err.contains("?:"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

cases!(files_that_are_not_a_market_say_what_they_are, not_a_market, {
    yaml: ("market.yaml", b"name: x\nusers: []\n".to_vec(), "not YAML"),
    empty: ("empty.json", Vec::new(), "the file is empty"),
    array: ("array.json", b"[1, 2]".to_vec(), "not an array"),
    mcf: (
        "grid1.txt",
        std::fs::read(bundled("mcf/grid1.txt")).unwrap(),
        "import --format mcf",
    ),
    sndlib: (
        "abilene.txt",
        std::fs::read(bundled("sndlib/abilene.txt")).unwrap(),
        "import --format sndlib",
    ),
    truncated: (
        "truncated.json",
        std::fs::read(bundled("tiny.json")).unwrap()[..40].to_vec(),
        "truncated",
    ),
});

#[test]
fn a_byte_order_mark_is_skipped() {
    let dir = folder("not-a-market");
    // A byte-order mark is skipped: the market reads as without it (P1 of tiny: 0.5).
    let bom = dir.join("bom.json");
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend(std::fs::read(bundled("tiny.json")).unwrap());
    std::fs::write(&bom, bytes).unwrap();
    let out = brokerflow(&["solve", s(&bom), "--objective", "concurrent", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["delta"], 0.5);
}

/// linked.json has broker → broker cycles, so P2⁻ is refused; P1, P2 and P3 are still
/// solved and printed, and the command then fails naming the one it could not solve.
#[test]
fn several_lps_print_every_one_even_when_one_fails() {
    let linked = bundled("linked.json");
    let all = "concurrent,utility,worst-utility,welfare";
    let out = brokerflow(&["solve", &linked, "--objective", all]);
    let err = refused(&out, "1 of 4 LPs not solved (worst-utility)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("P1 maximum concurrent flow"), "{text}");
    assert!(text.contains("P2- minimum-utility flow"), "{text}");
    assert!(text.contains("not solved"), "{text}");
    assert!(text.contains("P3 maximum welfare"), "{text}: {err}");
    assert_eq!(text.matches("welfare W =").count(), 2, "P2 and P3: {text}");
    let out = brokerflow(&["solve", &linked, "--objective", all, "--json"]);
    assert!(!out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows[2]["error"].as_str().unwrap().contains("cycle"), "{v}");
    assert!(rows[3]["welfare"].is_number(), "{v}");
}

/// Above 50 users the readable output gives totals and no per-user table (unless
/// `--verbose`); the total is the sum of the per-user amounts in `--json`.
#[test]
fn solve_prints_totals_first_and_the_per_user_table_on_request() {
    let dir = folder("totals");
    let m = dir.join("m60.json");
    let gen = brokerflow(&[
        "generate",
        "--users",
        "60",
        "--brokers",
        "3",
        "--providers",
        "4",
        "--seed",
        "1",
        "-o",
        s(&m),
    ]);
    assert!(gen.status.success(), "{}", stderr(&gen));
    let text = |extra: &[&str]| {
        let mut args = vec!["solve", s(&m), "--objective", "welfare"];
        args.extend_from_slice(extra);
        let out = brokerflow(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let short = text(&[]);
    assert!(short.contains("over 60 users"), "{short}");
    assert!(!short.contains("served / demand per user"), "{short}");
    assert!(short.contains("--verbose"), "{short}");
    let long = text(&["--verbose"]);
    assert!(long.contains("served / demand per user"), "{long}");
    let out = brokerflow(&["solve", s(&m), "--objective", "welfare", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let total: f64 = v["served"]
        .as_object()
        .unwrap()
        .values()
        .map(|x| x.as_f64().unwrap())
        .sum();
    assert!(
        short.contains(&format!("served {total:.6} of a total demand")),
        "{total}: {short}"
    );
}

#[test]
fn generate_refuses_zero_users_and_reports_what_it_wrote() {
    let dir = folder("generate");
    let m = dir.join("g.json");
    let err = refused(
        &brokerflow(&[
            "generate",
            "--users",
            "0",
            "--brokers",
            "1",
            "--providers",
            "1",
            "--seed",
            "1",
            "-o",
            s(&m),
        ]),
        "--users",
    );
    assert!(err.contains("at least one user"), "{err}");
    assert!(!m.exists());
    let out = brokerflow(&[
        "generate",
        "--users",
        "3",
        "--brokers",
        "1",
        "--providers",
        "2",
        "--seed",
        "4",
        "-o",
        s(&m),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("1 broker,"), "singular: {err}");
    assert!(
        err.contains("3 users") && err.contains("2 providers"),
        "{err}"
    );
    assert!(err.contains("g.json"), "{err}");
    let inspect = brokerflow(&["inspect", s(&m)]);
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(text.contains("1 broker,"), "{text}");
    assert!(!text.contains("1 brokers"), "{text}");
}

/// A layer with capacity but no demand says so rather than "inf% of demand".
#[test]
fn inspect_says_no_demand_rather_than_an_infinite_share() {
    let m = idle_tiny(&folder("no-demand"));
    let out = brokerflow(&["inspect", s(&m)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no demand"), "{text}");
    assert!(!text.contains("inf"), "{text}");
}

/// A window longer than the round limit would never fill; a mistyped one used to
/// allocate window × pairs of memory and abort.
#[test]
fn a_window_longer_than_the_round_limit_is_refused() {
    let err = refused(
        &brokerflow(&["run", &bundled("tiny.json"), "--window", "1000000000000"]),
        "window",
    );
    assert!(err.contains("round limit"), "{err}");
}

/// A flag that the command would ignore is refused rather than silently dropped.
#[test]
fn flags_that_would_be_ignored_are_refused() {
    let err = refused(
        &brokerflow(&[
            "run",
            &bundled("tiny.json"),
            "--variant",
            "fair",
            "--welfare-scale",
            "5",
        ]),
        "--welfare-scale applies to --variant welfare-seeking only",
    );
    assert!(err.contains("fair"), "{err}");
    let dir = folder("ignored-flags");
    let m = dir.join("g.json");
    refused(
        &brokerflow(&[
            "generate",
            "--users",
            "3",
            "--brokers",
            "1",
            "--providers",
            "1",
            "--seed",
            "1",
            "--price-margin",
            "0.5,0.6",
            "-o",
            s(&m),
        ]),
        "needs --posted-prices",
    );
    assert!(!m.exists());
}

/// posted.json with p2's price for u2 removed: u2 may be sent to p2, so `settle
/// --mechanism posted --allocation ALLOCATION` is refused before any allocation is
/// computed, naming the pair.
fn incomplete_prices_refused(allocation: &str) {
    let dir = folder(&format!("posted-{allocation}"));
    let text = std::fs::read_to_string(bundled("posted.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["prices"]["provider"]["p2"]
        .as_object_mut()
        .unwrap()
        .remove("u2");
    let m = dir.join("holes.json");
    std::fs::write(&m, v.to_string()).unwrap();
    let err = refused(
        &brokerflow(&[
            "settle",
            s(&m),
            "--mechanism",
            "posted",
            "--allocation",
            allocation,
        ]),
        "the posted prices are incomplete: p2 posts no price for jobs of u2",
    );
    assert!(!err.contains("more pairs"), "one pair only: {err}");
}

cases!(incomplete_posted_prices_are_refused_before_settling, incomplete_prices_refused, {
    lp: ("lp"),
    fair: ("fair"),
});

/// The complete posted.json settles at its posted prices (the refusals above are the
/// holes', not the mechanism's).
#[test]
fn complete_posted_prices_settle() {
    let ok = brokerflow(&["settle", &bundled("posted.json"), "--mechanism", "posted"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
}

/// Under lp-prices every payment but the links' congestion rents goes to a
/// participant, so the surplus equals the rents; the statement says whose they are.
#[test]
fn lp_prices_says_who_the_surplus_belongs_to() {
    let out = brokerflow(&[
        "settle",
        &bundled("tiny.json"),
        "--mechanism",
        "lp-prices",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let surplus = v["surplus"].as_f64().unwrap();
    assert!(surplus > 0.0, "tiny's user link is scarce: {v}");
    let note = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .find(|n| n.contains("congestion rent"))
        .unwrap_or_else(|| panic!("no note on the rents: {v}"));
    assert!(note.contains("owns the links' bandwidth"), "{note}");
    assert!(
        note.contains(&format!("({surplus:.6} in all")),
        "{note} vs {surplus}"
    );
    let text = brokerflow(&["settle", &bundled("tiny.json"), "--mechanism", "lp-prices"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("allocation lp (P3's optimum at the declared bids)"),
        "{text}"
    );
    assert!(!text.contains("-0.0000"), "{text}");
}

/// `compare --methods` runs only the methods asked for, in the order given; unknown
/// or repeated labels are refused naming the known ones. A market without demand
/// says so instead of "stopped at the round limit".
#[test]
fn compare_runs_the_methods_asked_for() {
    let out = brokerflow(&[
        "compare",
        &bundled("tiny.json"),
        "--methods",
        "welfare-seeking/demand,lp/welfare",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows: Vec<(String, String)> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["method"].to_string(), r["mode"].to_string()))
        .collect();
    assert_eq!(
        rows,
        [
            ("\"welfare-seeking\"".into(), "\"demand\"".into()),
            ("\"lp\"".into(), "\"welfare\"".into())
        ]
    );
    // P3 of tiny is 141 (graphs/markets/tiny.md).
    assert_eq!(v["rows"][1]["welfare"], 141.0);
    let err = refused(
        &brokerflow(&["compare", &bundled("tiny.json"), "--methods", "lp/x"]),
        "unknown method 'lp/x'",
    );
    assert!(
        err.contains("lp/welfare") && err.contains("fair/demand"),
        "{err}"
    );
    refused(
        &brokerflow(&[
            "compare",
            &bundled("tiny.json"),
            "--methods",
            "lp/welfare,lp/welfare",
        ]),
        "listed twice",
    );
    let m = idle_tiny(&folder("compare-idle"));
    let out = brokerflow(&["compare", s(&m), "--methods", "fair/demand"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("nothing to route"), "{text}");
    assert!(!text.contains("round limit"), "{text}");
}

/// `run` without `--variant` runs welfare-seeking, the variant README recommends.
#[test]
fn run_defaults_to_the_welfare_seeking_variant() {
    let out = brokerflow(&["run", &bundled("tiny.json"), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["variant"], "welfare-seeking", "{v}");
    // Its welfare is within 1 % of P3 = 141 on tiny (graphs/markets/tiny.md).
    let w = v["welfare"].as_f64().unwrap();
    assert!(w > 0.99 * 141.0 && w <= 141.0 + 1e-6, "{w}");
}

/// A reader that stops early (`generate … | head -c 10`) ends the command quietly, as
/// `head` expects; a full disk is a one-line error, never a panic.
#[test]
fn a_closed_pipe_is_a_quiet_exit_and_a_full_disk_an_error() {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = crate::util::bin()
        .args([
            "generate",
            "--users",
            "3000",
            "--brokers",
            "40",
            "--providers",
            "60",
            "--seed",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The pipe's read end is dropped here, before the market is written out.
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
    if Path::new("/dev/full").exists() {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = crate::util::bin()
            .args(["solve", &bundled("tiny.json"), "--json"])
            .stdout(full)
            .output()
            .unwrap();
        let err = refused(&out, "writing to standard output");
        assert!(err.contains("No space left"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

/// In a build without HiGHS (the default), naming it is refused where it is named —
/// the flag or the spec — not at the first solve or as a failed row.
#[cfg(not(feature = "highs"))]
#[test]
fn a_backend_not_in_this_build_is_refused_where_it_is_named() {
    let err = refused(
        &brokerflow(&["solve", &bundled("tiny.json"), "--backend", "highs"]),
        "not enabled in this build",
    );
    assert!(err.contains("--backend"), "{err}");
    let dir = folder("highs-spec");
    let spec = dir.join("s.toml");
    std::fs::write(
        &spec,
        "name = \"hb\"\nmethods = [\"lp/welfare\"]\n[engine]\nbackend = \"highs\"\n[[configuration]]\nname = \"K3\"\nseeds = 1\n[configuration.generator]\nusers = 3\nbrokers = 2\nproviders = 2\n",
    )
    .unwrap();
    let out = brokerflow(&["experiment", s(&spec), "--out", s(&dir.join("out"))]);
    let err = refused(&out, "engine.backend");
    assert!(err.contains("not enabled in this build"), "{err}");
    assert_ne!(out.status.code(), Some(5), "a spec error, not failed rows");
}
