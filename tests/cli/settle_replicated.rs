//! `brokerflow settle --replicas M --resilience K` end to end (design §10): an honest
//! run prints the centralised statement plus a replication block, an aborted run
//! exits with code 3, bad settings and deviation files are refused with a message.

use crate::util::{assert_ok, market, run, scratch_file};

/// An honest replicated run of `mechanism` over `transport` on figure3 prints the
/// centralised statement plus a replication block.
fn honest_run_is_central(mechanism: &str, transport: &str) {
    let market = market("figure3");
    let central = run(&["settle", &market, "--mechanism", mechanism, "--json"]);
    assert!(central.status.success());
    let central: serde_json::Value = serde_json::from_slice(&central.stdout).unwrap();
    let out = run(&[
        "settle",
        &market,
        "--mechanism",
        mechanism,
        "--replicas",
        "5",
        "--resilience",
        "2",
        "--transport",
        transport,
        "--json",
    ]);
    assert_ok(&out, "");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "settled");
    for key in [
        "participants",
        "welfare",
        "declared_welfare",
        "surplus",
        "notes",
        "provenance",
    ] {
        assert_eq!(v[key], central[key], "{mechanism} {transport}: {key}");
    }
    let r = &v["replication"];
    assert_eq!(r["replicas"], 5);
    assert_eq!(r["resilience"], 2);
    assert_eq!(r["transport"], transport);
    assert!(r["timing"]["wall_seconds"].as_f64().unwrap() >= 0.0);
}

cases!(honest_runs_print_the_centralised_statement_over_both_transports, honest_run_is_central, {
    vcg_channels: ("vcg", "channels"),
    vcg_tcp: ("vcg", "tcp"),
    mcafee_channels: ("mcafee", "channels"),
    mcafee_tcp: ("mcafee", "tcp"),
});

#[test]
fn an_aborted_run_exits_with_code_3_and_names_the_replica() {
    let market = market("figure3");
    let d = scratch_file("coin.json", r#"[{"kind": "coin-reveal", "replica": "p3"}]"#);
    let args = [
        "settle",
        &market,
        "--mechanism",
        "vcg",
        "--replicas",
        "3",
        "--resilience",
        "1",
        "--deviate",
        &d,
    ];
    let out = run(&[&args[..], &["--json"][..]].concat());
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "aborted");
    assert_eq!(v["abort"]["phase"], "coin");
    assert_eq!(v["abort"]["replicas"], serde_json::json!(["p3"]));
    assert_eq!(v["abort"]["evidence"]["kind"], "commitment-mismatch");
    let text = run(&args);
    assert_eq!(text.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&text.stdout).contains("ABORTED in phase coin"));
}

#[test]
fn bad_settings_and_deviation_files_are_refused_clearly() {
    let market = market("figure3");
    let base = ["settle", market.as_str(), "--mechanism", "mcafee"];
    let refused = |extra: &[&str], needle: &str| {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    refused(
        &["--replicas", "4", "--resilience", "2"],
        "more than 2k replicas (m > 4)",
    );
    refused(
        &["--replicas", "6", "--resilience", "1"],
        "only 5 providers",
    );
    refused(
        &[
            "--replicas",
            "3",
            "--resilience",
            "1",
            "--allocation",
            "fair",
        ],
        "--allocation lp",
    );
    let unknown = scratch_file("kind.json", r#"[{"kind": "bribe", "replica": "p1"}]"#);
    refused(
        &[
            "--replicas",
            "3",
            "--resilience",
            "1",
            "--deviate",
            &unknown,
        ],
        "unknown variant `bribe`",
    );
    let id = scratch_file(
        "id.json",
        r#"[{"kind": "silent", "replica": "p9", "phase": "coin"}]"#,
    );
    refused(
        &["--replicas", "3", "--resilience", "1", "--deviate", &id],
        "'p9' is not a replica",
    );
    let bidder = scratch_file("bidder.json", r#"[{"kind": "equivocate", "bidder": "b1"}]"#);
    refused(
        &["--replicas", "3", "--resilience", "1", "--deviate", &bidder],
        "only users bid",
    );
}
