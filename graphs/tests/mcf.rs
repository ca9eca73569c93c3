//! Import of the multicommodity-flow benchmark format (design §4): the Larsson–Yuan
//! instances map onto markets of the right size and shape, the mapping round-trips,
//! every malformed input is refused with its line, and no input panics.

use std::collections::HashMap;

use brokerflow_graphs::formats::mcf::{parse_mcf, parse_mcf_bytes, write_mcf, McfError, Problem};
use brokerflow_graphs::{Market, Role};
use proptest::prelude::*;

mod common;

fn bench(name: &str) -> String {
    common::bundled_text(&format!("mcf/{name}"))
}

/// A minimal reading of the file, independent of the importer: the `p` line's
/// counts and the fields of the `k` and `a` lines, split on white space.
struct Raw {
    nodes: usize,
    arcs: usize,
    commodities: usize,
    k: Vec<(usize, usize, f64)>,
    a: Vec<(usize, usize, f64, f64)>,
}

fn raw(text: &str) -> Raw {
    let mut r = Raw {
        nodes: 0,
        arcs: 0,
        commodities: 0,
        k: vec![],
        a: vec![],
    };
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.first() {
            Some(&"p") => {
                r.nodes = f[2].parse().unwrap();
                r.arcs = f[3].parse().unwrap();
                r.commodities = f[4].parse().unwrap();
            }
            Some(&"k") => r.k.push((
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )),
            Some(&"a") => r.a.push((
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
            )),
            _ => {}
        }
    }
    r
}

fn check_benchmark(file: &str, nodes: usize, arcs: usize, commodities: usize) {
    let text = bench(file);
    let r = raw(&text);
    assert_eq!((r.nodes, r.arcs, r.commodities), (nodes, arcs, commodities));
    assert_eq!((r.a.len(), r.k.len()), (arcs, commodities));

    let m = parse_mcf(&text, file).unwrap();
    m.check().unwrap();
    // Nodes → brokers, arcs → broker→broker links, commodities → users.
    assert_eq!(m.brokers.len(), nodes);
    let role = |id: &str| m.role_of(id).unwrap();
    let arc_links: Vec<_> = m
        .links
        .iter()
        .filter(|l| role(&l.from) == Role::Broker && role(&l.to) == Role::Broker)
        .collect();
    assert_eq!(arc_links.len(), arcs);
    assert_eq!(m.users.len(), commodities);
    let mut dests: Vec<usize> = r.k.iter().map(|k| k.1).collect();
    dests.sort_unstable();
    dests.dedup();
    assert_eq!(m.providers.len(), dests.len());

    // Each arc is a link with its capacity as bandwidth and its cost per job.
    for (link, &(s, t, cost, cap)) in arc_links.iter().zip(&r.a) {
        assert_eq!(link.from, format!("n{s}"));
        assert_eq!(link.to, format!("n{t}"));
        assert_eq!(link.bandwidth, Some(cap));
        assert_eq!(link.cost, cost);
    }
    assert!(m
        .brokers
        .iter()
        .all(|b| b.capacity.is_none() && b.cost == 0.0));
    assert!(m
        .providers
        .iter()
        .all(|p| p.capacity.is_none() && p.cost == 0.0));

    // Total demand is the sum of the k lines' demands.
    let total: f64 = r.k.iter().map(|k| k.2).sum();
    let imported: f64 = m.users.iter().map(|u| u.demand).sum();
    assert_eq!(imported, total);

    // Each user sits at its origin; its only eligible provider sits at its destination.
    let links: HashMap<(&str, &str), &brokerflow_graphs::Link> = m
        .links
        .iter()
        .map(|l| ((l.from.as_str(), l.to.as_str()), l))
        .collect();
    for (j, (u, &(o, t, d))) in m.users.iter().zip(&r.k).enumerate() {
        assert_eq!(u.id, format!("k{j}"));
        assert_eq!((u.demand, u.requirement, u.valuation), (d, 1.0, 0.0));
        let provider = format!("d{t}");
        assert_eq!(u.eligible, Some(vec![provider.clone()]));
        let own: Vec<_> = m.links.iter().filter(|l| l.from == u.id).collect();
        assert_eq!(own.len(), 1);
        assert_eq!(own[0].to, format!("n{o}"));
        assert_eq!((own[0].bandwidth, own[0].cost), (None, 0.0));
        let into_provider: Vec<_> = m.links.iter().filter(|l| l.to == provider).collect();
        assert_eq!(into_provider.len(), 1, "{provider} has one link in");
        let at = format!("n{t}");
        let l = links[&(at.as_str(), provider.as_str())];
        assert_eq!((l.bandwidth, l.cost), (None, 0.0));
    }

    let meta = m.meta.as_ref().unwrap();
    assert_eq!(meta["imported_from"], file);
    assert_eq!(meta["format"], "mcf");
    assert_eq!(
        meta["input_sha256"],
        brokerflow_graphs::input_hash(text.as_bytes())
    );
    assert_eq!(meta["version"], brokerflow_graphs::VERSION);
    assert!(meta["published_min_cost"].is_null());
    assert_eq!(m.name, file.trim_end_matches(".txt"));

    // The written market file reads back as the same market.
    let back = Market::from_json_str(&m.to_json_pretty(), "json").unwrap();
    assert_eq!(back, m);
}

#[test]
fn grid1_imports_with_the_header_counts() {
    check_benchmark("grid1.txt", 25, 80, 50);
}

#[test]
fn planar30_imports_with_the_header_counts() {
    check_benchmark("planar30.txt", 30, 150, 92);
}

/// parse → write → parse gives an equal market, except `meta`.
fn round_trip(text: &str, origin: &str) {
    let m = parse_mcf(text, origin).unwrap();
    let written = write_mcf(&m).unwrap();
    let mut again = parse_mcf(&written, origin).unwrap().into_market();
    assert!(again.meta.is_some());
    again.meta.clone_from(&m.meta);
    assert_eq!(&again, m.market());
    // And writing is stable.
    assert_eq!(write_mcf(&again).unwrap(), written);
}

#[test]
fn benchmarks_round_trip() {
    round_trip(&bench("grid1.txt"), "grid1.txt");
    round_trip(&bench("planar30.txt"), "planar30.txt");
}

#[test]
fn parallel_arcs_and_loops_go_through_a_broker_of_their_own() {
    // Arcs are identified by position: the format allows parallel arcs (here two
    // 0→1 arcs with different costs) and loops. A market allows neither as a
    // direct link, so each goes through broker a<j> with the arc's bandwidth and cost.
    let text = "c parallel\np mcf 3 4 1\nk 0 2 7.5\na 0 1 2 10\na 1 2 3 10\na 0 1 5 4\na 2 2 1 1\n";
    let m = parse_mcf(text, "par.txt").unwrap();
    m.check().unwrap();
    let ids: Vec<&str> = m.brokers.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["n0", "n1", "n2", "a2", "a3"]);
    let find = |from: &str, to: &str| {
        m.links
            .iter()
            .find(|l| l.from == from && l.to == to)
            .unwrap_or_else(|| panic!("no link {from}->{to}"))
    };
    assert_eq!(
        (find("n0", "n1").bandwidth, find("n0", "n1").cost),
        (Some(10.0), 2.0)
    );
    assert_eq!(
        (find("n0", "a2").bandwidth, find("n0", "a2").cost),
        (Some(4.0), 5.0)
    );
    assert_eq!(
        (find("a2", "n1").bandwidth, find("a2", "n1").cost),
        (None, 0.0)
    );
    assert_eq!(
        (find("n2", "a3").bandwidth, find("n2", "a3").cost),
        (Some(1.0), 1.0)
    );
    assert_eq!(
        (find("a3", "n2").bandwidth, find("a3", "n2").cost),
        (None, 0.0)
    );
    assert_eq!(m.users[0].demand, 7.5);
    round_trip(text, "par.txt");
}

#[test]
fn edge_cases_import() {
    // Zero demand, zero capacity, a commodity from a node to itself, several
    // commodities sharing a destination, k and a lines interleaved, CRLF, tabs.
    let text = "p mcf 2 1 3\r\na 0\t1 0 0\r\nk 0 1 0\r\n  k 1 1 3 \r\n\r\nk 0 1 2\r\nc end";
    let m = parse_mcf(text, "dir/edge.mcf").unwrap();
    m.check().unwrap();
    assert_eq!(m.name, "edge");
    assert_eq!(m.meta.as_ref().unwrap()["imported_from"], "edge.mcf");
    assert_eq!(m.providers.len(), 1);
    assert_eq!(m.users.len(), 3);
    round_trip(text, "edge.mcf");
    // An empty network is a valid (empty) market.
    round_trip("p mcf 0 0 0\n", "empty.txt");
}

/// The refusal of `text`: its line and message.
fn refusal(text: &str) -> (usize, String) {
    let e = parse_mcf(text, "bad.txt").expect_err(text);
    let msg = e.to_string();
    assert!(msg.starts_with("bad.txt: line "), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
    (e.line().unwrap(), msg)
}

#[test]
fn each_malformed_file_is_refused_with_its_line() {
    let cases: &[(&str, usize, &str)] = &[
        // no p line
        ("c only a comment\n", 1, "no problem line"),
        ("", 1, "no problem line"),
        (
            "c x\nk 0 1 5\np mcf 2 0 1\n",
            2,
            "'k' line before the problem line",
        ),
        ("c x\n\na 0 1 1 1\n", 3, "'a' line before the problem line"),
        // bad p line
        ("p mcf 2 1\n", 1, "bad problem line: 2 counts"),
        ("p min 2 1 1\n", 1, "problem type is \"min\""),
        ("p\n", 1, "bad problem line: no problem type"),
        ("c\np mcf two 1 1\n", 2, "the node count is \"two\""),
        (
            "p mcf 2 -1 1\n",
            1,
            "the arc count is -1, must not be negative",
        ),
        (
            "p mcf 2 0 0\np mcf 2 0 0\n",
            2,
            "second problem line (the first is line 1)",
        ),
        ("p mcf 99999999 0 0\n", 1, "more than the 1000000"),
        // counts in p not matching the k / a lines
        (
            "p mcf 2 1 1\nk 0 1 1\na 0 1 1 1\na 1 0 1 1\n",
            4,
            "one 'a' line too many: the problem line (line 1) declares 1 arcs",
        ),
        (
            "p mcf 2 1 1\nk 0 1 1\na 0 1 1 1\nk 1 0 1\n",
            4,
            "one 'k' line too many: the problem line (line 1) declares 1 commodities",
        ),
        (
            "c\np mcf 2 2 1\nk 0 1 1\na 0 1 1 1\n",
            2,
            "the problem line declares 2 arcs, but the file has only 1 'a' lines",
        ),
        (
            "p mcf 2 1 2\nk 0 1 1\na 0 1 1 1\n",
            1,
            "the problem line declares 2 commodities, but the file has only 1 'k' lines",
        ),
        // node index out of range
        (
            "p mcf 2 1 1\nk 0 2 1\na 0 1 1 1\n",
            2,
            "the destination is node 2, out of range",
        ),
        (
            "p mcf 2 1 1\nk 0 1 1\na 5 1 1 1\n",
            3,
            "the source is node 5, out of range",
        ),
        ("p mcf 0 0 1\nk 0 0 1\n", 2, "declares no nodes"),
        // non-numeric or negative numbers
        (
            "p mcf 2 1 1\nk 0 1 lots\na 0 1 1 1\n",
            2,
            "the demand is \"lots\", expected a number",
        ),
        (
            "p mcf 2 1 1\nk 0 1 1\na 0 1 1.5x 1\n",
            3,
            "the cost is \"1.5x\"",
        ),
        (
            "p mcf 2 1 1\nk 0.5 1 1\na 0 1 1 1\n",
            2,
            "the origin is \"0.5\", expected a non-negative integer",
        ),
        (
            "p mcf 2 1 1\nk 0 1 1\na 0 1 -3 1\n",
            3,
            "the cost is -3, must not be negative",
        ),
        (
            "p mcf 2 1 1\nk 0 1 1\na 0 -1 3 1\n",
            3,
            "the target is -1, must not be negative",
        ),
        (
            "p mcf 2 1 1\nk 0 1 -2\na 0 1 3 1\n",
            2,
            "the demand is -2, must not be negative",
        ),
        (
            "p mcf 2 1 1\nk 0 1 1\na 0 1 1 inf\n",
            3,
            "the capacity is \"inf\", not a finite number",
        ),
        (
            "p mcf 2 1 1\nk 0 1 NaN\na 0 1 1 1\n",
            2,
            "the demand is \"NaN\", not a finite number",
        ),
        (
            "p mcf 2 1 1\nk 0 1 1e999\na 0 1 1 1\n",
            2,
            "not a finite number",
        ),
        // wrong number of fields
        (
            "p mcf 2 1 1\nk 0 1\na 0 1 1 1\n",
            2,
            "'k' line with 2 fields after 'k', expected 3",
        ),
        (
            "p mcf 2 1 1\nk 0 1 1\na 0 1 1 1 9\n",
            3,
            "'a' line with 5 fields after 'a', expected 4",
        ),
        // unknown line type
        (
            "p mcf 2 1 1\nk 0 1 1\nn 0 5\na 0 1 1 1\n",
            3,
            "unknown line type \"n\"",
        ),
        ("p mcf 2 0 0\n\u{1}x\n", 2, "unknown line type \"\\u{1}x\""),
    ];
    for &(text, line, what) in cases {
        let (got, msg) = refusal(text);
        assert_eq!(got, line, "{msg}");
        assert!(msg.contains(&format!("line {line}: ")), "{msg}");
        assert!(msg.contains(what), "expected {what:?} in: {msg}");
    }
}

#[test]
fn non_text_is_refused_with_its_line() {
    let e = parse_mcf_bytes(b"p mcf 2 0 1\nk 0 1 \xff\n", "bin.txt").unwrap_err();
    assert_eq!(e.line(), Some(2));
    assert_eq!(e.problem(), Some(&Problem::NotText));
    assert_eq!(e.to_string(), "bin.txt: line 2: not text: invalid UTF-8");
}

#[test]
fn long_fields_are_shortened_in_messages() {
    let long = "x".repeat(10_000);
    let (_, msg) = refusal(&format!("p mcf 2 0 0\n{long}\n"));
    assert!(msg.len() < 200, "{msg}");
}

#[test]
fn write_refuses_markets_of_another_shape() {
    let base = parse_mcf(&bench("grid1.txt"), "grid1.txt")
        .unwrap()
        .into_market();
    let refused = |m: &Market, what: &str| {
        let e = write_mcf(m).unwrap_err();
        assert!(matches!(e, McfError::NotImported { .. }));
        let msg = e.to_string();
        assert!(msg.starts_with("cannot write the market as mcf: "), "{msg}");
        assert!(msg.contains(what), "expected {what:?} in: {msg}");
    };
    let mut m = base.clone();
    m.users[3].valuation = 5.0;
    refused(&m, "users[3] (k3)");
    let mut m = base.clone();
    m.users[0].eligible = None;
    refused(&m, "exactly one eligible provider");
    let mut m = base.clone();
    m.brokers[2].capacity = Some(4.0);
    refused(&m, "brokers[2] (n2): a broker must be unlimited");
    let mut m = base.clone();
    m.providers[0].cost = 1.0;
    refused(&m, "providers[0]");
    let mut m = base.clone();
    m.prices = Some(Default::default());
    refused(&m, "prices");
    let mut m = base.clone();
    m.links[0].bandwidth = None;
    refused(&m, "every mcf arc has a capacity");
    let mut m = base.clone();
    m.links.rotate_left(80); // user links before arcs: not the order of an import
    refused(&m, "links[0]");
    let mut m = base.clone();
    m.links.swap(0, 1); // only the arcs' order changes: still an imported market
    assert!(write_mcf(&m).unwrap().contains("p mcf 25 80 50\n"));
    let mut m = base.clone();
    m.brokers.swap(0, 1);
    refused(&m, "expected n0");
    let mut m = base.clone();
    m.users[1].id = "alice".into();
    refused(&m, "expected k1");
    // A market written by hand.
    let tiny = Market::from_json_str(
        r#"{"name": "t", "users": [{"id": "u", "demand": 1, "requirement": 1, "valuation": 0}],
            "brokers": [{"id": "b"}], "providers": [{"id": "p"}],
            "links": [{"from": "u", "to": "b"}, {"from": "b", "to": "p"}]}"#,
        "t",
    )
    .unwrap();
    refused(&tiny, "brokers[0] (b)");
}

/// One edit of the input: overwrite, insert or delete a byte.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes the format cares about, plus any byte at all.
    let byte = prop_oneof![
        prop::sample::select(b"0123456789 \n\t-.eckap+x".to_vec()),
        any::<u8>()
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

proptest! {
    // 4000 cases of 1–6 byte edits each: well under a second in the test profile.
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// Mutated inputs never panic: they import (and then the market is valid and
    /// round-trips) or are refused with a one-line message naming input and line.
    #[test]
    fn mutated_grid1_never_panics(edits in prop::collection::vec(edit(), 1..=6)) {
        let mut bytes = bench("grid1.txt").into_bytes();
        for e in edits {
            let n = bytes.len();
            match e {
                Edit::Set(i, b) if n > 0 => bytes[i % n] = b,
                Edit::Insert(i, b) => bytes.insert(i % (n + 1), b),
                Edit::Delete(i) if n > 0 => { bytes.remove(i % n); }
                _ => {}
            }
        }
        match parse_mcf_bytes(&bytes, "grid1.txt") {
            Ok(m) => {
                prop_assert!(m.check().is_ok());
                let mut again = parse_mcf(&write_mcf(&m).unwrap(), "grid1.txt")
                    .unwrap()
                    .into_market();
                again.meta.clone_from(&m.meta);
                prop_assert_eq!(&again, m.market());
            }
            Err(e) => {
                let msg = e.to_string();
                let lines = bytes.split(|&b| b == b'\n').count();
                prop_assert!(msg.starts_with("grid1.txt: line "), "{}", msg);
                prop_assert!(!msg.contains('\n'), "{}", msg);
                prop_assert!((1..=lines).contains(&e.line().unwrap()), "{}", msg);
            }
        }
    }
}
