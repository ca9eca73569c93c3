//! `brokerflow inspect` end to end, through the built binary: a valid market is
//! described with hand-computed G′ counts and its stranded user; `--dot` writes one
//! edge per link; a bad file fails with one line on stderr naming file and culprit.

use std::path::Path;
use std::process::Output;

use crate::util::{bin, temp_dir};

fn inspect(args: &[&std::ffi::OsStr]) -> Output {
    bin()
        .arg("inspect")
        .args(args)
        .output()
        .expect("the brokerflow binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// u2 may only use p2, and no link reaches p2: u2 is stranded.
const MARKET: &str = r#"{
  "name": "cli-two-markets",
  "users": [
    {"id": "u1", "demand": 10, "requirement": 1, "valuation": 40},
    {"id": "u2", "demand": 4, "requirement": 2, "valuation": 10, "eligible": ["p2"]}
  ],
  "brokers": [{"id": "b1", "capacity": 30}, {"id": "b2"}],
  "providers": [{"id": "p1", "capacity": 20, "cost": 2}, {"id": "p2", "capacity": 5}],
  "links": [
    {"from": "u1", "to": "b1", "bandwidth": 12},
    {"from": "u2", "to": "b1"},
    {"from": "b1", "to": "b2", "bandwidth": 8},
    {"from": "b2", "to": "b1"},
    {"from": "b1", "to": "p1", "bandwidth": 12},
    {"from": "b2", "to": "p1"}
  ]
}"#;

// G′ of MARKET, by hand (design §2):
// nodes: 6 participants + 3 bandwidth nodes (u1->b1, b1->b2, b1->p1) + 2 collection
//        points t(u1), t(u2) = 11.
// edges: 3 finite links × 2 = 6, 3 unlimited links × 1 = 3, provider → t_k edges
//        where k is eligible and reaches the provider: p1 → t(u1) only (u2 may not
//        use p1; nobody reaches p2) = 1; total 10.
// usable (edge, commodity) pairs: u1 uses u1→[u1->b1], [u1->b1]→b1, b1→[b1->b2],
//        [b1->b2]→b2, b2→b1, b1→[b1->p1], [b1->p1]→p1, b2→p1, p1→t(u1) = 9 (p2 is
//        never reached); u2 reaches no p2, so 0. Total 9.
// cyclic: b1 → [b1->b2] → b2 → b1.
// providers layer: demand Σ d_k·r_k = 10·1 + 4·2 = 18 resource units, capacity
//        20 + 5 = 25, i.e. 25/18 = 139 %.
const NODES: u64 = 11;
const EDGES: u64 = 10;
const USABLE: u64 = 9;

#[test]
fn inspect_describes_a_valid_market() {
    let dir = temp_dir("valid");
    let file = dir.join("market.json");
    std::fs::write(&file, MARKET).unwrap();
    let out = inspect(&[file.as_os_str()]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        text(&out.stderr)
    );
    assert!(stdout.contains("market cli-two-markets"), "{stdout}");
    assert!(
        stdout.contains("2 users, 2 brokers, 2 providers, 6 links"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{NODES} nodes, {EDGES} edges, {USABLE} usable (edge, commodity) pairs, has cycles"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("capacity 25 (139% of demand)"), "{stdout}");
    let stranded = stdout
        .lines()
        .find(|l| l.contains("stranded users"))
        .expect("a stranded-users line");
    assert!(stranded.trim_end().ends_with(": u2"), "{stranded}");
    assert!(!stranded.contains("u1"), "{stranded}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inspect_json_has_the_hand_computed_counts() {
    let dir = temp_dir("json");
    let file = dir.join("market.json");
    std::fs::write(&file, MARKET).unwrap();
    let out = inspect(&[file.as_os_str(), "--json".as_ref()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["graph_nodes"], NODES);
    assert_eq!(summary["graph_edges"], EDGES);
    assert_eq!(summary["usable_pairs"], USABLE);
    assert_eq!(summary["cyclic"], true);
    assert_eq!(summary["stranded"], serde_json::json!(["u2"]));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inspect_dot_writes_one_edge_per_link() {
    let dir = temp_dir("dot");
    let file = dir.join("market.json");
    let dot = dir.join("market.dot");
    std::fs::write(&file, MARKET).unwrap();
    let out = inspect(&[file.as_os_str(), "--dot".as_ref(), dot.as_os_str()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&dot).unwrap();
    assert!(written.starts_with("digraph"), "{written}");
    let edges: Vec<&str> = written.lines().filter(|l| l.contains("->")).collect();
    assert_eq!(edges.len(), 6, "{written}");
    for (from, to) in [
        ("u1", "b1"),
        ("u2", "b1"),
        ("b1", "b2"),
        ("b2", "b1"),
        ("b1", "p1"),
        ("b2", "p1"),
    ] {
        let wanted = format!("\"{from}\" -> \"{to}\"");
        assert_eq!(
            edges.iter().filter(|l| l.contains(&wanted)).count(),
            1,
            "{wanted} in {written}"
        );
    }
    // Written atomically: nothing but the two files is left in the directory.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs inspect on `file` and checks the refusal: failure exit, stdout empty, one
/// stderr line naming the file and every culprit, no panic.
fn assert_refused(file: &Path, culprits: &[&str]) {
    let out = inspect(&[file.as_os_str()]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "accepted {}", file.display());
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr:?}");
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
    for c in culprits {
        assert!(stderr.contains(c), "{c:?} not in {stderr}");
    }
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
}

/// MARKET edited into `content`, written as `name`, is refused naming `culprits`.
fn bad_file_refused(name: &str, content: String, culprits: &[&str]) {
    let dir = temp_dir(&format!("bad-{name}"));
    assert_ne!(content, MARKET, "{name} changes nothing");
    let file = dir.join(name);
    std::fs::write(&file, content).unwrap();
    assert_refused(&file, culprits);
    std::fs::remove_dir_all(&dir).unwrap();
}

cases!(inspect_refuses_bad_files_in_one_line, bad_file_refused, {
    unknown_link_end: (
        "unknown-link-end.json",
        MARKET.replace(r#""to": "p1"}"#, r#""to": "pX"}"#),
        &["links[5] (b2->pX)", "unknown id 'pX'"],
    ),
    wrong_role_pair: (
        "wrong-role-pair.json",
        MARKET.replace(
            r#"{"from": "u2", "to": "b1"}"#,
            r#"{"from": "u2", "to": "p1"}"#,
        ),
        &["links[1] (u2->p1)", "a link from a user to a provider"],
    ),
    negative: (
        "negative.json",
        MARKET.replace(r#""capacity": 5"#, r#""capacity": -5"#),
        &["providers[1] (p2)", "capacity is -5"],
    ),
    type_error: (
        "type-error.json",
        MARKET.replace(r#""demand": 10"#, r#""demand": "10""#),
        &["users[0].demand", "invalid type: string"],
    ),
    unknown_field: (
        "unknown-field.json",
        MARKET.replace(r#""cost": 2"#, r#""costs": 2"#),
        &["providers[0].costs", "unknown field `costs`"],
    ),
    truncated: (
        "truncated.json",
        MARKET[..MARKET.len() / 2].to_string(),
        &["EOF while parsing"],
    ),
});

#[test]
fn inspect_refuses_a_binary_file_in_one_line() {
    let dir = temp_dir("binary");
    let binary = dir.join("binary.json");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, b'{']).unwrap();
    assert_refused(&binary, &["cannot read"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inspect_refuses_a_missing_file_in_one_line() {
    let dir = temp_dir("missing");
    let missing = dir.join("missing.json");
    assert_refused(&missing, &["cannot read"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
