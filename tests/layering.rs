//! The workspace's layering, checked from the sources: the crates depend on each
//! other only downwards (graphs ← solvers ← experiments ← the CLI), and inside each
//! library crate the top-level modules import each other without a circle (a module
//! that is part of a circle cannot be read, tested or moved on its own).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("source folder readable") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The identifiers named right after `crate::` in code (comments skipped), including
/// the members of a `crate::{a, b::c}` group.
fn crate_paths(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let preceded_by_ident = rest[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
            rest = &rest[at + "crate::".len()..];
            if preceded_by_ident {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for member in group[..end].split(',') {
                    let ident: String = member
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    names.push(ident);
                }
            } else {
                names.push(
                    rest.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect(),
                );
            }
        }
    }
    names
}

/// The module graph of one library crate: top-level module → the top-level modules
/// its files name through `crate::` (directly, or through a re-export of the crate
/// root, which `lib.rs`'s `pub use module::{…}` lines resolve).
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let lib = fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let mut modules = BTreeSet::new();
    let mut reexport: BTreeMap<String, String> = BTreeMap::new();
    for line in lib.lines().map(str::trim) {
        let decl = line
            .strip_prefix("pub mod ")
            .or_else(|| line.strip_prefix("mod "))
            .or_else(|| line.strip_prefix("pub(crate) mod "));
        if let Some(name) = decl.and_then(|d| d.strip_suffix(';')) {
            modules.insert(name.to_string());
        }
        if let Some(body) = line.strip_prefix("pub use ") {
            let Some((module, items)) = body.split_once("::") else {
                continue;
            };
            let items = items.trim_end_matches(';');
            let items = items.trim_start_matches('{').trim_end_matches('}');
            for item in items.split(',') {
                let item = item.trim();
                let name = item.rsplit(" as ").next().unwrap_or(item).trim();
                if !name.is_empty() {
                    reexport.insert(name.to_string(), module.to_string());
                }
            }
        }
    }
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for module in &modules {
        let mut files = Vec::new();
        let file = src.join(format!("{module}.rs"));
        if file.exists() {
            files.push(file);
        }
        let dir = src.join(module);
        if dir.is_dir() {
            sources(&dir, &mut files);
        }
        let deps = graph.entry(module.clone()).or_default();
        for file in files {
            let code = fs::read_to_string(&file).expect("source readable");
            for name in crate_paths(&code) {
                let target = if modules.contains(&name) {
                    Some(name)
                } else {
                    reexport.get(&name).cloned()
                };
                if let Some(target) = target.filter(|t| t != module) {
                    deps.insert(target);
                }
            }
        }
    }
    graph
}

/// A circle of the graph, if it has one (depth-first search with colours).
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|n| n == next).expect("on stack");
                    let mut c = stack[from..].to_vec();
                    c.push(next.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if state.get(node.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(node, graph, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn the_circle_finder_finds_a_planted_circle_and_passes_a_chain() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(circle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        circle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

#[test]
fn crate_paths_reads_plain_grouped_and_skips_comments() {
    let code = "use crate::market::Market;\n// crate::hidden\nuse crate::{error::E, role};\nlet x = $crate::json::f();";
    assert_eq!(crate_paths(code), vec!["market", "error", "role"]);
}

#[test]
fn the_model_crate_has_no_module_circle() {
    let graph = module_graph(&root().join("graphs/src"));
    assert!(graph.contains_key("market") && graph.contains_key("validate"));
    assert!(
        graph["validate"].contains("market"),
        "the reader found validate's use of market: {graph:?}"
    );
    assert_eq!(circle(&graph), None, "graphs' modules: {graph:?}");
}

#[test]
fn the_solvers_crate_has_no_module_circle() {
    let graph = module_graph(&root().join("solvers/src"));
    assert!(
        graph["settle"].contains("lp") && graph["lp"].contains("certificate"),
        "the reader found settle's use of lp and lp's of certificate: {graph:?}"
    );
    assert_eq!(circle(&graph), None, "solvers' modules: {graph:?}");
}

#[test]
fn the_experiments_crate_has_no_module_circle() {
    let graph = module_graph(&root().join("experiments/src"));
    assert!(graph.contains_key("spec"));
    assert_eq!(circle(&graph), None, "experiments' modules: {graph:?}");
}

/// Which workspace crates a manifest depends on.
fn workspace_deps(manifest: &Path) -> BTreeSet<String> {
    let text = fs::read_to_string(manifest).expect("Cargo.toml");
    let deps = text
        .split("\n[")
        .find(|section| section.starts_with("dependencies]"))
        .unwrap_or("");
    deps.lines()
        .filter_map(|l| l.split(['=', '.']).next())
        .map(str::trim)
        .filter(|name| name.starts_with("brokerflow-"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_crates_depend_only_downwards() {
    let r = root();
    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(workspace_deps(&r.join("graphs/Cargo.toml")), set(&[]));
    assert_eq!(
        workspace_deps(&r.join("solvers/Cargo.toml")),
        set(&["brokerflow-graphs"])
    );
    assert_eq!(
        workspace_deps(&r.join("experiments/Cargo.toml")),
        set(&["brokerflow-graphs", "brokerflow-solvers"])
    );
}
