//! Hostile input on the command line, one case per reader where it applies: a leading
//! UTF-8 byte-order mark is skipped (editors write one), a truncated file is named
//! with the place it ends, an empty file is called empty; outputs onto a file or
//! folder that is in the way say which and what to do; an OS error is printed once;
//! LP failures name the market file; a row with nothing to route does not claim a
//! round limit; VCG's re-solves and globs that walk the filesystem are refused.

use crate::util::{market, ok, path, refused, run, scratch, scratch_file, stderr};

/// The bundled samples of each reader and how the command line reads them: `(file,
/// arguments with FILE for it)`.
fn sample(reader: &str) -> (String, Vec<String>) {
    let tiny = market("tiny");
    let scratch_out = scratch(&format!("{reader}-out.json"));
    let (file, args): (String, Vec<&str>) = match reader {
        "market" => (tiny.clone(), vec!["inspect", "FILE"]),
        "mcf" => (
            path("graphs/markets/mcf/grid1.txt"),
            vec!["import", "--format", "mcf", "FILE", "-o", &scratch_out],
        ),
        "sndlib" => (
            path("graphs/markets/sndlib/abilene.txt"),
            vec!["import", "--format", "sndlib", "FILE", "-o", &scratch_out],
        ),
        "flows" => (flows_csv(), vec!["evaluate", &tiny, "--flows", "FILE"]),
        "bids" => (
            scratch_file("bids.json", "{\"valuations\": {\"u1\": 5}}\n"),
            vec!["settle", &tiny, "--mechanism", "vcg", "--bids", "FILE"],
        ),
        "offers" => (
            path("experiments/stream/offers.json"),
            vec!["stream", "match", "FILE"],
        ),
        "scenario" => (
            path("experiments/mca/submodular-2x2.json"),
            vec!["mca", "run", "FILE"],
        ),
        "spec" => (
            scratch_file("spec.toml", SPEC),
            vec!["experiment", "FILE", "--out", "OUT"],
        ),
        "faults" => (
            scratch_file(
                "faults.json",
                "{\"seed\": 5, \"faults\": [\n  {\"from\": 20, \"to\": 40, \"kind\": \"node-down\", \"node\": \"p1\"}\n]}\n",
            ),
            vec!["run", &tiny, "--faults", "FILE"],
        ),
        "state" => (state_json(), vec!["run", &tiny, "--resume", "FILE"]),
        other => panic!("no reader {other}"),
    };
    (file, args.into_iter().map(String::from).collect())
}

const SPEC: &str = "name = \"t\"\nmethods = [\"lp/welfare\"]\n[[configuration]]\nname = \"K3\"\nseeds = 1\n[configuration.generator]\nusers = 3\nbrokers = 2\nproviders = 2\n";

fn flows_csv() -> String {
    let f = scratch("flows.csv");
    ok(&[
        "solve",
        &market("tiny"),
        "--objective",
        "welfare",
        "--flows",
        &f,
    ]);
    f
}

fn state_json() -> String {
    let f = scratch("state.json");
    ok(&["run", &market("tiny"), "--rounds", "60", "--save-state", &f]);
    f
}

/// Runs `reader`'s command on `variant` (the sample's bytes changed by `change`),
/// written to a scratch file of the sample's extension.
fn run_on(
    reader: &str,
    kind: &str,
    change: fn(&[u8]) -> Vec<u8>,
) -> (String, std::process::Output) {
    let (file, args) = sample(reader);
    let ext = std::path::Path::new(&file)
        .extension()
        .map(|e| e.to_string_lossy().to_string())
        .unwrap_or_default();
    let changed = scratch(&format!("{reader}-{kind}.{ext}"));
    std::fs::write(&changed, change(&std::fs::read(&file).unwrap())).unwrap();
    let out_dir = scratch(&format!("{reader}-{kind}-exp"));
    let _ = std::fs::remove_dir_all(&out_dir);
    let args: Vec<String> = args
        .iter()
        .map(|a| match a.as_str() {
            "FILE" => changed.clone(),
            "OUT" => out_dir.clone(),
            _ => a.clone(),
        })
        .collect();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    (changed, run(&refs))
}

fn bom(bytes: &[u8]) -> Vec<u8> {
    [b"\xef\xbb\xbf".as_slice(), bytes].concat()
}

fn truncated(bytes: &[u8]) -> Vec<u8> {
    bytes[..bytes.len() / 2].to_vec()
}

fn empty(_: &[u8]) -> Vec<u8> {
    Vec::new()
}

/// A byte-order mark before the text changes nothing: the command succeeds.
fn bom_is_skipped(reader: &str) {
    let (file, out) = run_on(reader, "bom", bom);
    assert!(
        out.status.success(),
        "{reader} ({file}) with a BOM: {}",
        stderr(&out)
    );
}

cases!(a_byte_order_mark_is_skipped, bom_is_skipped, {
    market: ("market"),
    mcf: ("mcf"),
    sndlib: ("sndlib"),
    flows: ("flows"),
    offers: ("offers"),
    scenario: ("scenario"),
    spec: ("spec"),
    faults: ("faults"),
    bids: ("bids"),
    state: ("state"),
});

/// One line that starts with the file, and no empty or unknown place (`: :`, `?:`).
fn one_clear_line(reader: &str, file: &str, out: &std::process::Output) -> String {
    let e = stderr(out);
    assert!(!out.status.success(), "{reader}: accepted {file}");
    assert!(!e.contains("panicked"), "{reader}: {e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{reader}: {e}");
    assert!(
        e.starts_with(&format!("brokerflow: {file}")),
        "{reader}: {e}"
    );
    for vague in [": :", "?:", ": .:"] {
        assert!(!e.contains(vague), "{reader}: {vague:?} in {e}");
    }
    e
}

/// The first half of the file: the error names the file and where it ends (a line,
/// or a JSON path and line; the spec reader writes `FILE:LINE:`).
fn truncated_is_named(reader: &str) {
    let (file, out) = run_on(reader, "truncated", truncated);
    let e = one_clear_line(reader, &file, &out);
    // `line N`, or `FILE:N:` as the spec reader writes it.
    let numbered = e
        .strip_prefix(&format!("brokerflow: {file}:"))
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    assert!(e.contains("line") || numbered, "{reader}: no place in {e}");
}

cases!(a_truncated_file_is_named_with_its_place, truncated_is_named, {
    market: ("market"),
    mcf: ("mcf"),
    sndlib: ("sndlib"),
    flows: ("flows"),
    bids: ("bids"),
    offers: ("offers"),
    scenario: ("scenario"),
    spec: ("spec"),
    faults: ("faults"),
    state: ("state"),
});

/// An empty file is said to be empty (or what its first line lacks), never "EOF while
/// parsing a value at line 1 column 0".
fn empty_is_called_empty(reader: &str, says: &str) {
    let (file, out) = run_on(reader, "empty", empty);
    let e = one_clear_line(reader, &file, &out);
    assert!(!e.contains("EOF while parsing a value"), "{reader}: {e}");
    assert!(e.contains(says), "{reader}: no {says:?} in {e}");
}

cases!(an_empty_file_is_called_empty, empty_is_called_empty, {
    market: ("market", "the file is empty"),
    mcf: ("mcf", "no problem line"),
    sndlib: ("sndlib", "no NODES section"),
    flows: ("flows", "empty input"),
    offers: ("offers", "the file is empty"),
    scenario: ("scenario", "(top level): the file is empty"),
    spec: ("spec", "(top level): the file is empty"),
    faults: ("faults", "the file is empty"),
    bids: ("bids", "the file is empty"),
    state: ("state", "the file is empty"),
});

#[test]
fn experiment_out_onto_a_file_says_which_and_what_to_do() {
    let spec = scratch_file("out-spec.toml", SPEC);
    let file = scratch_file("in-the-way.json", "{}");
    refused(
        &["experiment", &spec, "--out", &file],
        &format!("--out {file}: a file of that name exists, and --out names the folder the results go into: choose another folder with --out DIR, or move the file away"),
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{}");
}

#[test]
fn generate_onto_a_folder_says_it_is_one() {
    let dir = scratch("a-folder");
    std::fs::create_dir_all(&dir).unwrap();
    let args = [
        "generate",
        "--users",
        "3",
        "--brokers",
        "2",
        "--providers",
        "2",
        "--seed",
        "1",
        "-o",
        &dir,
    ];
    refused(&args, &format!("-o {dir}: is a directory, not a file"));
}

/// "cannot read: No such file or directory (os error 2)" once, not followed by the
/// same OS error again.
fn os_error_once(args: &[&str]) {
    let out = run(args);
    let e = stderr(&out);
    assert!(!out.status.success(), "{args:?}");
    assert_eq!(e.matches("No such file or directory").count(), 1, "{e}");
    assert!(e.contains("/no-such-folder-4711/"), "{e}");
}

cases!(an_os_error_is_printed_once, os_error_once, {
    market_file: (&["inspect", "/no-such-folder-4711/m.json"]),
    mcf_market: (&["inspect", "/no-such-folder-4711/m.txt"]),
    spec: (&["experiment", "/no-such-folder-4711/s.toml"]),
    faults: (&["run", &market("tiny"), "--faults", "/no-such-folder-4711/f.json"]),
});

/// P2⁻ is undefined on a market with a cycle: the LP's error names the market file.
#[test]
fn an_lp_that_fails_names_the_market_file() {
    let cyc = scratch_file(
        "cycle.json",
        r#"{"name": "cycle", "users": [{"id": "u1", "demand": 10, "requirement": 1, "valuation": 20}],
 "brokers": [{"id": "b1", "capacity": 25}, {"id": "b2", "capacity": 25}],
 "providers": [{"id": "p1", "capacity": 15}],
 "links": [{"from": "u1", "to": "b1"}, {"from": "b1", "to": "b2"}, {"from": "b2", "to": "b1"},
           {"from": "b2", "to": "p1"}]}"#,
    );
    refused(
        &["solve", &cyc, "--objective", "worst-utility"],
        &format!("brokerflow: {cyc}: "),
    );
}

/// u1 may only use p2, which no link reaches: every injection is 0 and the engine
/// rows run 0 rounds, which is not "stopped at the round limit (20000)".
#[test]
fn compare_rows_with_nothing_to_route_say_so() {
    let m = scratch_file(
        "stranded.json",
        r#"{"name": "stranded", "users": [{"id": "u1", "demand": 10, "requirement": 1, "valuation": 20, "eligible": ["p2"]}],
 "brokers": [{"id": "b1", "capacity": 25}],
 "providers": [{"id": "p1", "capacity": 15}, {"id": "p2", "capacity": 15}],
 "links": [{"from": "u1", "to": "b1"}, {"from": "b1", "to": "p1"}]}"#,
    );
    let text = String::from_utf8(ok(&["compare", &m]).stdout).unwrap();
    assert!(!text.contains("round limit"), "{text}");
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("demand  ") || l.contains("feasible  "))
        .collect();
    assert_eq!(rows.len(), 6, "{text}");
    for row in rows {
        assert!(
            row.contains("nothing to route: every injection is 0 (no user has demand, or none reaches an eligible provider)"),
            "{row}"
        );
    }
}

/// 10 000 users on 40 brokers and 20 providers: P3 has about 50 000 variables (below
/// the one-LP limit), but VCG re-solves it once per participant that can trade, about
/// 10 060 times: some 5·10⁸ variables in all, above the limit of 10⁸.
#[test]
fn vcg_is_refused_on_its_re_solves() {
    let m = scratch("vcg-10000.json");
    ok(&[
        "generate",
        "--users",
        "10000",
        "--brokers",
        "40",
        "--providers",
        "20",
        "--seed",
        "1",
        "-o",
        &m,
    ]);
    let args = ["settle", &m, "--mechanism", "vcg"];
    refused(
        &args,
        &format!("brokerflow: {m}: VCG's payments would solve P3 up to"),
    );
    refused(&args, "the limit is 100000000; pass --force");
}

#[test]
fn a_spec_glob_that_walks_the_filesystem_is_refused() {
    let spec = scratch_file(
        "walk.toml",
        "name = \"t\"\nmethods = [\"lp/welfare\"]\n[[configuration]]\nname = \"all\"\nmarkets = [\"/**/*.json\"]\n",
    );
    refused(
        &["experiment", &spec, "--out", &scratch("walk-out")],
        "configuration[0].markets[0]: '/**/*.json' is an absolute glob, which can walk the whole filesystem",
    );
}
