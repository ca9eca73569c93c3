//! Import of SNDlib's native network format ([SNDlib]): the bundled Abilene backbone
//! maps onto a market of the hand-counted size and shape, malformed files are refused
//! with their line and what is wrong, and no cut or mangled file panics.

use brokerflow_graphs::formats::sndlib::{
    parse_sndlib, parse_sndlib_bytes, Problem, SndlibError, SndlibOptions, VALUE_MARKUP,
};
use brokerflow_graphs::formats::NumberProblem;
use brokerflow_graphs::{Market, Role};

mod common;

fn abilene() -> String {
    common::bundled_text("sndlib/abilene.txt")
}

fn all() -> SndlibOptions {
    SndlibOptions::default()
}

fn link<'m>(m: &'m Market, from: &str, to: &str) -> &'m brokerflow_graphs::Link {
    m.links
        .iter()
        .find(|l| l.from == from && l.to == to)
        .unwrap_or_else(|| panic!("no link {from}->{to}"))
}

#[test]
fn abilene_maps_to_the_hand_counted_market() {
    let m = parse_sndlib(&abilene(), "abilene.txt", &all()).unwrap();
    m.check().unwrap();
    // Counted in the file: 12 NODES lines, 15 LINKS lines, 132 DEMANDS lines (12 × 11
    // ordered pairs, so every node is some demand's target).
    assert_eq!(m.brokers.len(), 12);
    assert_eq!(m.users.len(), 132);
    assert_eq!(m.providers.len(), 12);
    let role = |id: &str| m.role_of(id).unwrap();
    let backbone = m
        .links
        .iter()
        .filter(|l| role(&l.from) == Role::Broker && role(&l.to) == Role::Broker)
        .count();
    assert_eq!(backbone, 30, "15 links, both ways");
    // + one link per user, one per data centre.
    assert_eq!(m.links.len(), 30 + 132 + 12);
    // `ATLAng_IPLSng ( IPLSng ATLAng ) 2480.00 0.00 0.00 0.00 ( 40000.00 591.00 )`:
    // bandwidth 2480 both ways, cost 591 / 40000 per unit.
    for (a, b) in [("IPLSng", "ATLAng"), ("ATLAng", "IPLSng")] {
        let l = link(&m, a, b);
        assert_eq!(l.bandwidth, Some(2480.0));
        assert!((l.cost - 591.0 / 40000.0).abs() < 1e-15);
    }
    // `IPLSng_STTLng ( IPLSng STTLng ) 1 3580.00 UNLIMITED`: the cheapest path by hand
    // is IPLS–KSCY–DNVR–STTL (903 + 745 + 1573 per 40000; the next, via SNVA, adds
    // 1516 + 1138 instead of 1573).
    let u = &m.users[0];
    assert_eq!(u.id, "IPLSng_STTLng");
    assert_eq!(u.demand, 3580.0);
    assert_eq!(u.requirement, 1.0);
    assert_eq!(u.eligible, Some(vec!["dc-STTLng".to_string()]));
    let cheapest = (903.0 + 745.0 + 1573.0) / 40000.0;
    assert!((u.valuation - VALUE_MARKUP * cheapest).abs() < 1e-12);
    assert_eq!(link(&m, "IPLSng_STTLng", "IPLSng").bandwidth, None);
    assert_eq!(link(&m, "STTLng", "dc-STTLng").bandwidth, None);
    let meta = m.meta.as_ref().unwrap();
    assert_eq!(meta["format"], "sndlib");
    assert_eq!(meta["demands_in_file"], 132);
    assert_eq!(meta["sndlib_meta"]["unit"], "MBITPERSEC");
}

#[test]
fn max_demands_keeps_the_first_in_file_order() {
    let m = parse_sndlib(
        &abilene(),
        "abilene.txt",
        &SndlibOptions {
            max_demands: Some(32),
        },
    )
    .unwrap();
    assert_eq!(m.users.len(), 32);
    assert_eq!(m.users[1].id, "CHINng_ATLAM5");
    assert_eq!(m.meta.as_ref().unwrap()["demands_kept"], 32);
    // The bundled market is this import (valuations to the last bit or two: JSON's
    // decimal text does not always read back to the same f64).
    let bundled = Market::load(common::bundled_path("abilene.json")).unwrap();
    assert_eq!(bundled.links, m.links);
    assert_eq!(bundled.users.len(), m.users.len());
    for (b, u) in bundled.users.iter().zip(&m.users) {
        assert_eq!(
            (&b.id, b.demand, &b.eligible),
            (&u.id, u.demand, &u.eligible)
        );
        assert!((b.valuation - u.valuation).abs() <= 1e-15 * u.valuation);
    }
}

#[test]
fn parallel_links_go_through_a_broker_of_their_own() {
    let text = "NODES (\n a ( 0 0 )\n b ( 1 1 )\n)\nLINKS (\n l1 ( a b ) 5 0 1 0 ( )\n\
                l2 ( b a ) 0 0 0 0 ( 10 2 20 8 )\n)\nDEMANDS (\n d ( a b ) 2 3 4\n)\n";
    let m = parse_sndlib(text, "par.txt", &all()).unwrap();
    // l2 has no pre-installed capacity: the largest module (20) is its bandwidth, the
    // cheapest module per unit (min(2/10, 8/20) = 0.2) its cost.
    let l = link(&m, "b", "link-l2");
    assert_eq!((l.bandwidth, l.cost), (Some(20.0), 0.2));
    assert_eq!(link(&m, "link-l2", "a").bandwidth, None);
    assert_eq!(link(&m, "a", "link-l2").bandwidth, Some(20.0));
    // d: routing unit 2 × value 3; cheapest path cost min(1, 0.2) = 0.2.
    assert_eq!(m.users[0].demand, 6.0);
    assert!((m.users[0].valuation - VALUE_MARKUP * 0.2).abs() < 1e-15);
}

fn refusal(text: &str) -> (usize, Problem) {
    let e: SndlibError = parse_sndlib(text, "bad.txt", &all()).unwrap_err();
    let message = e.to_string();
    assert!(message.starts_with("bad.txt: line "), "{message}");
    (e.line().unwrap(), e.problem().unwrap().clone())
}

/// What a refusal's problem must match.
type Expect = fn(&Problem) -> bool;

const NODES: &str = "NODES (\n a ( 0 0 )\n b ( 1 1 )\n)\n";
const LINKS: &str = "LINKS (\n ab ( a b ) 5 0 1 0 ( )\n)\n";
const DEMANDS: &str = "DEMANDS (\n d ( a b ) 1 3 UNLIMITED\n)\n";

#[test]
fn malformed_files_are_refused_with_their_line() {
    let ok = format!("{NODES}{LINKS}{DEMANDS}");
    parse_sndlib(&ok, "ok.txt", &all()).unwrap();
    let with = |from: &str, to: &str| ok.replacen(from, to, 1);
    // Line numbers counted in `ok`: NODES 1–4, LINKS 5–7, DEMANDS 8–10.
    let cases: Vec<(String, usize, Expect)> = vec![
        (
            with("ab ( a b )", "ab ( a c )"),
            6,
            |p| matches!(p, Problem::UnknownNode { id, .. } if id == "c"),
        ),
        (with("ab ( a b )", "ab ( a a )"), 6, |p| {
            matches!(p, Problem::SelfLoop { .. })
        }),
        (with(" 5 0 1 0", " -5 0 1 0"), 6, |p| {
            matches!(p, Problem::Number(NumberProblem::Negative { .. }))
        }),
        (with(" 5 0 1 0", " x 0 1 0"), 6, |p| {
            matches!(p, Problem::Number(NumberProblem::NotANumber { .. }))
        }),
        (with(" 5 0 1 0", " inf 0 1 0"), 6, |p| {
            matches!(p, Problem::Number(NumberProblem::NotFinite { .. }))
        }),
        (with("( )\n)\nDEM", "( 1 )\n)\nDEM"), 6, |p| {
            matches!(
                p,
                Problem::BadItem {
                    section: "LINKS",
                    ..
                }
            )
        }),
        (with(" b ( 1 1 )", " a ( 1 1 )"), 3, |p| {
            matches!(p, Problem::DuplicateId { first: 2, .. })
        }),
        (with(" b ( 1 1 )", " b-? ( 1 1 )"), 3, |p| {
            matches!(p, Problem::BadIdentifier { .. })
        }),
        (with("1 3 UNLIMITED", "1 3 SOME"), 9, |p| {
            matches!(p, Problem::Number(NumberProblem::NotANumber { .. }))
        }),
        (with("1 3 UNLIMITED", "1 3"), 9, |p| {
            matches!(
                p,
                Problem::BadItem {
                    section: "DEMANDS",
                    ..
                }
            )
        }),
        (with("LINKS (", "LYNKS ("), 5, |p| {
            matches!(p, Problem::UnknownSection(_))
        }),
        (with("LINKS (", "LINKS"), 5, |p| {
            matches!(p, Problem::ExpectedSection(_))
        }),
        (format!("{ok}{NODES}"), 11, |p| {
            matches!(p, Problem::DuplicateSection { first: 1, .. })
        }),
        (format!("{NODES}{LINKS}"), 7, |p| {
            matches!(p, Problem::MissingSection("DEMANDS"))
        }),
        (ok.trim_end_matches(")\n").to_string(), 9, |p| {
            matches!(p, Problem::Unclosed { opened: 8, .. })
        }),
        (
            format!("?SNDlib native format; type: model; version: 1.0\n{ok}"),
            1,
            |p| matches!(p, Problem::BadHeader(_)),
        ),
        (with(" d ( a b )", " a ( a b )"), 9, |p| {
            matches!(p, Problem::IdClash { .. })
        }),
    ];
    for (text, line, expect) in cases {
        let (at, problem) = refusal(&text);
        assert_eq!(at, line, "{problem} in\n{text}");
        assert!(
            expect(&problem),
            "unexpected refusal {problem:?} of\n{text}"
        );
    }
    // Not UTF-8, on line 2.
    let e = parse_sndlib_bytes(b"NODES (\n \xff ( 0 0 )\n)\n", "b.txt", &all()).unwrap_err();
    assert_eq!((e.line(), e.problem()), (Some(2), Some(&Problem::NotText)));
    // The header a real SNDlib file starts with is accepted, and comments anywhere.
    let headed = format!("?SNDlib native format; type: network; version: 1.0\n# c\n{ok}");
    parse_sndlib(&headed, "h.txt", &all()).unwrap();
}

#[test]
fn no_cut_or_mangled_file_panics() {
    let text = abilene();
    let lines: Vec<&str> = text.lines().collect();
    // Every prefix by lines, and every file with one line dropped or doubled: each is
    // imported or refused, never a panic.
    for cut in 0..lines.len() {
        let _ = parse_sndlib(&lines[..cut].join("\n"), "cut.txt", &all());
        let mut dropped = lines.clone();
        dropped.remove(cut);
        let _ = parse_sndlib(&dropped.join("\n"), "drop.txt", &all());
        let mut doubled = lines.clone();
        doubled.insert(cut, lines[cut]);
        let _ = parse_sndlib(&doubled.join("\n"), "double.txt", &all());
    }
    // Byte-level cuts of the start (inside tokens and parentheses).
    for cut in (0..2000).step_by(7) {
        let _ = parse_sndlib_bytes(&text.as_bytes()[..cut], "bytes.txt", &all());
    }
}
