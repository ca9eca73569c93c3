//! Nothing panics on any input (design §3): arbitrary mutations of a valid market file,
//! at the level of its bytes and of its JSON structure, are either accepted or refused
//! with a one-line message; whatever is accepted expands into G′, is summarised and
//! re-validates, and G′ has the shape design §2 prescribes.
//!
//! Cases: `STRUCTURAL_CASES` + `BYTE_CASES` (8000 + 8000) random cases per run; the
//! whole file takes about a second in the (optimised) test profile.

use std::cell::RefCell;
use std::collections::BTreeMap;

use brokerflow_graphs::{
    formats::dot, ExpandedGraph, Market, MarketError, NodeKind, Summary, ValidMarket,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Map, Number, Value};

const STRUCTURAL_CASES: u32 = 8000;
const BYTE_CASES: u32 = 8000;
const ORIGIN: &str = "mutant.json";

/// A valid market rich enough that single mutations reach every rule: users with and
/// without eligibility (one with zero demand), finite, unlimited and zero-capacity
/// brokers and providers, finite, unlimited and zero-bandwidth links, broker→broker
/// links both ways (a cycle), link and node costs, prices at brokers and providers.
fn base() -> Value {
    json!({
        "name": "rich",
        "users": [
            {"id": "u1", "demand": 10, "requirement": 1.5, "valuation": 40},
            {"id": "u2", "demand": 5, "requirement": 2, "valuation": 20, "eligible": ["p1", "p2"]},
            {"id": "u3", "demand": 7.5, "requirement": 0.5, "valuation": 3, "eligible": ["p3"]},
            {"id": "u4", "demand": 2, "requirement": 1, "valuation": 1000},
            {"id": "u5", "demand": 0, "requirement": 1, "valuation": 0, "eligible": []}
        ],
        "brokers": [
            {"id": "b1", "capacity": 30, "cost": 1},
            {"id": "b2"},
            {"id": "b3", "capacity": 0}
        ],
        "providers": [
            {"id": "p1", "capacity": 20, "cost": 2},
            {"id": "p2"},
            {"id": "p3", "capacity": 5, "cost": 0.25}
        ],
        "links": [
            {"from": "u1", "to": "b1", "bandwidth": 12, "cost": 0.5},
            {"from": "u2", "to": "b1"},
            {"from": "u3", "to": "b2", "bandwidth": 6},
            {"from": "u4", "to": "b3"},
            {"from": "u5", "to": "b2"},
            {"from": "b1", "to": "b2", "bandwidth": 8},
            {"from": "b2", "to": "b1"},
            {"from": "b2", "to": "b3", "bandwidth": 3},
            {"from": "b1", "to": "p1", "bandwidth": 12},
            {"from": "b2", "to": "p2"},
            {"from": "b3", "to": "p3", "bandwidth": 0},
            {"from": "b2", "to": "p3", "cost": 1}
        ],
        "prices": {
            "broker": {"b1": {"u1": 25, "u2": 20}, "b2": {"u3": 5}},
            "provider": {"p1": {"u1": 9}, "p3": {"u3": 2}}
        },
        "meta": {"generator": "hand", "seed": 7, "notes": ["a", 1, null]}
    })
}

// ---- random JSON ---------------------------------------------------------------------

const NAMES: &[&str] = &[
    "u1",
    "u2",
    "u3",
    "u4",
    "u5",
    "b1",
    "b2",
    "b3",
    "p1",
    "p2",
    "p3",
    "id",
    "name",
    "users",
    "brokers",
    "providers",
    "links",
    "prices",
    "meta",
    "demand",
    "requirement",
    "valuation",
    "eligible",
    "capacity",
    "cost",
    "from",
    "to",
    "bandwidth",
    "broker",
    "provider",
    "sink",
    "t(u1)",
    "t(u2)",
    "t(u3)",
    "t(x)",
    "u1->b1",
    "->",
    "",
    " u1",
    "U1",
    "ghost",
    "line\nbreak",
    "tab\there",
    "quote\"",
    "back\\slash",
    "ünï",
    "\u{0}",
];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(NAMES).prop_map(str::to_string),
        1 => "\\PC{0,12}",
        1 => "[a-z\n\r\t\"\\\\{}>-]{0,6}",
    ]
}

fn number() -> impl Strategy<Value = Value> {
    let special = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.5,
        1e-300,
        -1e-300,
        5e-324,
        1e15,
        1e300,
        -1e300,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
    ];
    prop_oneof![
        3 => prop::sample::select(special.to_vec()).prop_map(Value::from),
        2 => any::<f64>().prop_map(|x| Number::from_f64(x).map_or(Value::Null, Value::Number)),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        2 => (-3i64..50).prop_map(Value::from),
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => name(),
        1 => (1usize..20_000).prop_map(|n| "x".repeat(n)),
        1 => (1usize..2_000).prop_map(|n| "é\n\u{1F600}".repeat(n)),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        3 => number(),
        2 => string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((name(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

// ---- structural mutations ------------------------------------------------------------

/// One change to the JSON tree. `Index`es pick among whatever exists when applied.
#[derive(Debug, Clone)]
enum Edit {
    /// Remove one key of one object.
    RemoveKey(Index),
    /// Add (or overwrite) a key of one object.
    AddKey(Index, String, Value),
    /// Replace any value (the root included) by a random one.
    Replace(Index, Value),
    /// Set a number anywhere to a random number (reaches every numeric field often).
    Renumber(Index, Value),
    /// Swap the ids of two participants.
    SwapIds(Index, Index),
    /// Rename one participant (links, prices and eligibility keep the old name).
    SetId(Index, String),
    /// Add a participant of some role, with a random name.
    AddParticipant(Index, String),
    /// Duplicate an element of an array, right after itself or at the end.
    DuplicateElement(Index, Index, bool),
    /// Point one end of a link at an existing id, a random name or its other end.
    PointLink(Index, bool, Target),
}

/// Where [`Edit::PointLink`] points.
#[derive(Debug, Clone)]
enum Target {
    Id(Index),
    Name(String),
    OtherEnd,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        2 => any::<Index>().prop_map(Edit::RemoveKey),
        1 => (any::<Index>(), name(), any_json()).prop_map(|(i, k, v)| Edit::AddKey(i, k, v)),
        2 => (any::<Index>(), any_json()).prop_map(|(i, v)| Edit::Replace(i, v)),
        3 => (any::<Index>(), number()).prop_map(|(i, v)| Edit::Renumber(i, v)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::SwapIds(a, b)),
        2 => (any::<Index>(), name()).prop_map(|(i, n)| Edit::SetId(i, n)),
        2 => (any::<Index>(), name()).prop_map(|(i, n)| Edit::AddParticipant(i, n)),
        2 => (any::<Index>(), any::<Index>(), any::<bool>())
            .prop_map(|(a, e, end)| Edit::DuplicateElement(a, e, end)),
        3 => (
            any::<Index>(),
            any::<bool>(),
            prop_oneof![
                3 => any::<Index>().prop_map(Target::Id),
                1 => name().prop_map(Target::Name),
                1 => Just(Target::OtherEnd),
            ]
        )
            .prop_map(|(l, to, t)| Edit::PointLink(l, to, t)),
    ]
}

/// JSON pointers of every value in `v`, root first.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, format!("{at}/{i}"), out);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(x, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

fn all_pointers(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    pointers(v, String::new(), &mut out);
    out
}

fn pointers_where(v: &Value, keep: impl Fn(&Value) -> bool) -> Vec<String> {
    all_pointers(v)
        .into_iter()
        .filter(|p| keep(v.pointer(p).unwrap()))
        .collect()
}

/// Pointers to the `id` strings of all participants.
fn id_pointers(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for role in ["users", "brokers", "providers"] {
        if let Some(list) = v.get(role).and_then(Value::as_array) {
            for (i, x) in list.iter().enumerate() {
                if x.get("id").is_some() {
                    out.push(format!("/{role}/{i}/id"));
                }
            }
        }
    }
    out
}

fn apply(v: &mut Value, e: &Edit) {
    match e {
        Edit::RemoveKey(i) => {
            let objs = pointers_where(v, |x| x.as_object().is_some_and(|o| !o.is_empty()));
            if objs.is_empty() {
                return;
            }
            let o = v.pointer_mut(&objs[i.index(objs.len())]).unwrap();
            let o = o.as_object_mut().unwrap();
            let key = o.keys().nth(i.index(o.len())).unwrap().clone();
            o.remove(&key);
        }
        Edit::AddKey(i, k, x) => {
            let objs = pointers_where(v, Value::is_object);
            if objs.is_empty() {
                return;
            }
            let o = v.pointer_mut(&objs[i.index(objs.len())]).unwrap();
            o.as_object_mut().unwrap().insert(k.clone(), x.clone());
        }
        Edit::Replace(i, x) => {
            let all = all_pointers(v);
            *v.pointer_mut(&all[i.index(all.len())]).unwrap() = x.clone();
        }
        Edit::Renumber(i, x) => {
            let nums = pointers_where(v, Value::is_number);
            if !nums.is_empty() {
                *v.pointer_mut(&nums[i.index(nums.len())]).unwrap() = x.clone();
            }
        }
        Edit::SwapIds(a, b) => {
            let ids = id_pointers(v);
            if ids.is_empty() {
                return;
            }
            let (pa, pb) = (&ids[a.index(ids.len())], &ids[b.index(ids.len())]);
            let va = v.pointer(pa).unwrap().clone();
            let vb = std::mem::replace(v.pointer_mut(pb).unwrap(), va);
            *v.pointer_mut(pa).unwrap() = vb;
        }
        Edit::SetId(i, id) => {
            let ids = id_pointers(v);
            if !ids.is_empty() {
                *v.pointer_mut(&ids[i.index(ids.len())]).unwrap() = Value::from(id.as_str());
            }
        }
        Edit::AddParticipant(role, id) => {
            let role = ["users", "brokers", "providers"][role.index(3)];
            let item = match role {
                "users" => json!({"id": id, "demand": 1, "requirement": 1, "valuation": 1}),
                _ => json!({ "id": id }),
            };
            if let Some(list) = v.get_mut(role).and_then(Value::as_array_mut) {
                list.push(item);
            }
        }
        Edit::DuplicateElement(a, e, at_end) => {
            let arrays = pointers_where(v, |x| x.as_array().is_some_and(|a| !a.is_empty()));
            if arrays.is_empty() {
                return;
            }
            let arr = v.pointer_mut(&arrays[a.index(arrays.len())]).unwrap();
            let arr = arr.as_array_mut().unwrap();
            let j = e.index(arr.len());
            let copy = arr[j].clone();
            if *at_end {
                arr.push(copy);
            } else {
                arr.insert(j + 1, copy);
            }
        }
        Edit::PointLink(l, to, target) => {
            let ids: Vec<Value> = id_pointers(v)
                .iter()
                .map(|p| v.pointer(p).unwrap().clone())
                .collect();
            let Some(links) = v.get_mut("links").and_then(Value::as_array_mut) else {
                return;
            };
            if links.is_empty() {
                return;
            }
            let n = links.len();
            let Some(link) = links[l.index(n)].as_object_mut() else {
                return;
            };
            let (end, other) = if *to { ("to", "from") } else { ("from", "to") };
            let target = match target {
                Target::Id(i) if !ids.is_empty() => ids[i.index(ids.len())].clone(),
                Target::Id(_) => Value::from("nobody"),
                Target::Name(s) => Value::from(s.as_str()),
                Target::OtherEnd => link.get(other).cloned().unwrap_or(Value::Null),
            };
            link.insert(end.into(), target);
        }
    }
}

// ---- byte mutations --------------------------------------------------------------------

const TOKENS: &[&str] = &[
    "1e999",
    "-1e999",
    "NaN",
    "Infinity",
    "-",
    "0",
    "-0",
    "1e-400",
    "99999999999999999999999",
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "true",
    "\\u0000",
    "\\ud800",
    "\\",
    "\u{feff}",
    "\"x\":1,",
    "// c",
    "/*",
    "\n",
    "\t",
    "\u{0}",
];

#[derive(Debug, Clone)]
enum ByteEdit {
    Delete(Index, usize),
    Insert(Index, Vec<u8>),
    Token(Index, &'static str),
    Replace(Index, u8),
    Truncate(Index),
    Duplicate(Index, usize),
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        1 => (any::<Index>(), 1usize..16).prop_map(|(i, n)| ByteEdit::Delete(i, n)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| ByteEdit::Insert(i, b)),
        2 => (any::<Index>(), prop::sample::select(TOKENS)).prop_map(|(i, t)| ByteEdit::Token(i, t)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Replace(i, b)),
        1 => any::<Index>().prop_map(ByteEdit::Truncate),
        1 => (any::<Index>(), 1usize..200).prop_map(|(i, n)| ByteEdit::Duplicate(i, n)),
    ]
}

fn apply_bytes(text: &mut Vec<u8>, e: &ByteEdit) {
    // Positions range over 0..=len, so edits at the very end happen too.
    let at = |i: &Index, len: usize| i.index(len + 1);
    match e {
        ByteEdit::Delete(i, n) => {
            let s = at(i, text.len());
            let end = (s + n).min(text.len());
            text.drain(s..end);
        }
        ByteEdit::Insert(i, b) => {
            let s = at(i, text.len());
            text.splice(s..s, b.iter().copied());
        }
        ByteEdit::Token(i, t) => {
            let s = at(i, text.len());
            text.splice(s..s, t.bytes());
        }
        ByteEdit::Replace(i, b) => {
            if !text.is_empty() {
                let s = i.index(text.len());
                text[s] = *b;
            }
        }
        ByteEdit::Truncate(i) => {
            let s = at(i, text.len());
            text.truncate(s);
        }
        ByteEdit::Duplicate(i, n) => {
            let s = at(i, text.len());
            let end = (s + n).min(text.len());
            let slice = text[s..end].to_vec();
            text.splice(end..end, slice);
        }
    }
}

// ---- the properties ----------------------------------------------------------------------

/// How each outcome was reached, to check the mutations really reach every rule.
type Outcomes = RefCell<BTreeMap<String, usize>>;

fn outcome_name(r: &Result<ValidMarket, MarketError>) -> String {
    match r {
        Ok(_) => "accepted".into(),
        Err(MarketError::Parse(_)) => "parse".into(),
        Err(e) => match e.rule() {
            // The variant's name: "WrongRolePair { from: .. }" -> "WrongRolePair".
            Some(rule) => format!("{rule:?}")
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap()
                .to_string(),
            None => format!("{e:?}"),
        },
    }
}

/// Everything that must hold for any input text.
fn check(text: &str, outcomes: &Outcomes) -> Result<(), TestCaseError> {
    let result = Market::from_json_str(text, ORIGIN);
    *outcomes
        .borrow_mut()
        .entry(outcome_name(&result))
        .or_default() += 1;
    let m = match result {
        Err(e) => {
            let msg = e.to_string();
            prop_assert!(
                !msg.contains('\n') && !msg.contains('\r'),
                "not one line: {:?}",
                msg
            );
            prop_assert!(msg.starts_with("mutant.json: "), "no origin: {}", msg);
            prop_assert!(msg.len() > ORIGIN.len() + 4, "nothing said: {}", msg);
            return Ok(());
        }
        Ok(m) => m,
    };
    prop_assert!(
        m.clone().into_market().validate().is_ok(),
        "accepted but does not re-validate"
    );
    let again = Market::from_json_str(&m.to_json_pretty(), "again");
    prop_assert!(again.is_ok(), "its own JSON is refused: {:?}", again.err());

    let g = ExpandedGraph::new(&m);
    let s = Summary::new(&m, &g);
    prop_assert!(dot::to_dot(&m).starts_with("digraph"));

    // G′ as design §2 defines it: participants, one bandwidth node per finite link,
    // one collection point per user; a finite link is two edges, an unlimited one is
    // one, plus one provider → t_k edge per (provider, user) pair where the provider is
    // eligible and the user reaches it over links and nodes of positive capacity
    // (searched here on the market itself, not on G′).
    let (nu, nb, np) = (m.users.len(), m.brokers.len(), m.providers.len());
    let finite = m.links.iter().filter(|l| l.bandwidth.is_some()).count();
    let positive = |id: &str| -> bool {
        let cap = m
            .brokers
            .iter()
            .find(|b| b.id == id)
            .map(|b| b.capacity)
            .or_else(|| m.providers.iter().find(|p| p.id == id).map(|p| p.capacity))
            .flatten();
        cap.is_none_or(|c| c > 0.0)
    };
    let eligible_pairs: usize = m
        .users
        .iter()
        .map(|u| {
            let mut seen = vec![u.id.clone()];
            let mut i = 0;
            while i < seen.len() {
                let at = seen[i].clone();
                i += 1;
                for l in m.links.iter().filter(|l| l.from == at) {
                    let open = l.bandwidth.is_none_or(|b| b > 0.0) && positive(&l.to);
                    if open && !seen.contains(&l.to) {
                        seen.push(l.to.clone());
                    }
                }
            }
            m.providers
                .iter()
                .filter(|p| seen.contains(&p.id) && Market::is_eligible(u, &p.id))
                .count()
        })
        .sum();
    prop_assert_eq!(g.graph.node_count(), nu + nb + np + finite + nu);
    prop_assert_eq!(
        g.graph.edge_count(),
        m.links.len() + finite + eligible_pairs
    );
    // Every participant and collection point is found by its own name, as itself.
    let expected = m
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.clone(), NodeKind::User(i)))
        .chain(
            m.brokers
                .iter()
                .enumerate()
                .map(|(i, b)| (b.id.clone(), NodeKind::Broker(i))),
        )
        .chain(
            m.providers
                .iter()
                .enumerate()
                .map(|(i, p)| (p.id.clone(), NodeKind::Provider(i))),
        )
        .chain(
            m.users
                .iter()
                .enumerate()
                .map(|(k, u)| (format!("t({})", u.id), NodeKind::Collection(k))),
        );
    for (name, kind) in expected {
        let n = g.node_named(&name);
        prop_assert!(n.is_some(), "no node named {:?}", name);
        prop_assert_eq!(g.node(n.unwrap()).kind, kind, "node named {:?}", name);
    }
    for (k, c) in g.commodities.iter().enumerate() {
        prop_assert_eq!(c.user, k);
        prop_assert_eq!(c.is_stranded(), c.usable.is_empty());
        prop_assert!(c.usable.windows(2).all(|w| w[0] < w[1]));
    }
    prop_assert_eq!((s.users, s.brokers, s.providers), (nu, nb, np));
    prop_assert_eq!(s.links, m.links.len());
    prop_assert_eq!(s.graph_nodes, g.graph.node_count());
    let stranded: Vec<String> = g.stranded().map(|c| c.id.clone()).collect();
    prop_assert_eq!(&s.stranded, &stranded);
    Ok(())
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        // Failures are printed with their minimal case; no files are written.
        failure_persistence: None,
        ..Config::default()
    })
}

fn run<S: Strategy>(cases: u32, strategy: S, to_text: impl Fn(&S::Value) -> String) -> Outcomes
where
    S::Value: std::fmt::Debug,
{
    let outcomes = Outcomes::default();
    let result = runner(cases).run(&strategy, |case| check(&to_text(&case), &outcomes));
    if let Err(e) = result {
        panic!("{e}");
    }
    outcomes
}

fn mutated(edits: &[Edit]) -> Value {
    let mut v = base();
    for e in edits {
        apply(&mut v, e);
    }
    v
}

#[test]
fn the_base_market_is_valid() {
    let text = base().to_string();
    let m = Market::from_json_str(&text, ORIGIN).unwrap();
    // u5's eligibility list is empty; u4 enters at b3, which is down (capacity 0).
    let g = ExpandedGraph::new(&m);
    let stranded: Vec<&str> = g.stranded().map(|c| c.id.as_str()).collect();
    assert_eq!(stranded, ["u4", "u5"]);
    assert!(g.is_cyclic());
}

#[test]
fn structural_mutations_never_panic() {
    let strategy = (prop::collection::vec(edit(), 1..5), any::<bool>());
    let outcomes = run(STRUCTURAL_CASES, strategy, |(edits, pretty)| {
        let v = mutated(edits);
        if *pretty {
            serde_json::to_string_pretty(&v).unwrap()
        } else {
            v.to_string()
        }
    });
    let outcomes = outcomes.into_inner();
    eprintln!("structural outcomes: {outcomes:?}");
    // The mutations reach every rule that JSON text can break (JSON cannot carry
    // NaN or infinities, so `NonFinite` is left to validation.rs), and keep some
    // markets valid. Each is hit dozens of times per run, so a miss is no accident.
    for what in [
        "accepted",
        "parse",
        "DuplicateId",
        "ReservedId",
        "UnknownId",
        "WrongRolePair",
        "SelfLoop",
        "DuplicateLink",
        "Negative",
        "RequirementNotPositive",
        "WrongRole",
        "DuplicateEligible",
    ] {
        assert!(outcomes.contains_key(what), "no case reached {what}");
    }
}

#[test]
fn byte_mutations_never_panic() {
    let strategy = (
        prop::collection::vec(edit(), 0..3),
        prop::collection::vec(byte_edit(), 1..4),
        any::<bool>(),
    );
    let outcomes = run(BYTE_CASES, strategy, |(edits, bytes, pretty)| {
        let v = mutated(edits);
        let mut text = if *pretty {
            serde_json::to_string_pretty(&v).unwrap()
        } else {
            v.to_string()
        }
        .into_bytes();
        for b in bytes {
            apply_bytes(&mut text, b);
        }
        String::from_utf8_lossy(&text).into_owned()
    });
    let outcomes = outcomes.into_inner();
    eprintln!("byte outcomes: {outcomes:?}");
    assert!(
        outcomes.contains_key("parse"),
        "no byte edit broke the syntax"
    );
}

/// Inputs that are not mutations of a market at all.
#[test]
fn odd_whole_inputs_never_panic() {
    let outcomes = Outcomes::default();
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_meta = format!(
        r#"{{"name": "x", "users": [], "brokers": [], "providers": [], "links": [], "meta": {{"a": {}1{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let many_users = {
        let users: Vec<Value> = (0..20_000)
            .map(|i| json!({"id": format!("u{i}"), "demand": 1, "requirement": 1, "valuation": 1}))
            .collect();
        json!({"name": "many", "users": users, "brokers": [], "providers": [], "links": []})
            .to_string()
    };
    for text in [
        String::new(),
        "\u{0}".into(),
        "{}".into(),
        "[]".into(),
        "[\"x\", [], [], [], []]".into(),
        deep_array,
        deep_meta,
        many_users,
        "{".repeat(50_000),
        "\"".repeat(3),
    ] {
        check(&text, &outcomes).unwrap();
    }
}
