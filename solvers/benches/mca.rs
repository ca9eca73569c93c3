//! The exhaustive explorer ([MCA-Alloy] §V's consensus check) on the committed
//! sub-modular scenarios: 3 × 2 (complete and line), 3 × 3 and 4 × 2, at the
//! release-outbid policy with full bundles and the default settings, under both
//! conflict-rule sets (design §9) — except 4 × 2 under [CBBA] rules, whose state
//! space is beyond exhaustive search here (more than 15 million states by 10
//! deliveries; experiments/mca/README.md).
//! `cargo bench -p brokerflow-solvers --bench mca`; the states visited are printed
//! once per scope.

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use std::path::PathBuf;

use brokerflow_solvers::mca::{explore, ExploreOptions, Policy, Rules, Scenario};
use criterion::{criterion_group, criterion_main, Criterion};

fn committed(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../experiments/mca")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("committed scenario");
    Scenario::from_json_str(&text, &path.display().to_string()).expect("valid scenario")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("mca_explore");
    group.sample_size(10);
    for (label, file, rules) in [
        ("3x2_complete", "submodular-3x2-complete.json", Rules::Cbba),
        (
            "3x2_complete",
            "submodular-3x2-complete.json",
            Rules::BidTime,
        ),
        ("3x2_line", "submodular-3x2-line.json", Rules::Cbba),
        ("3x2_line", "submodular-3x2-line.json", Rules::BidTime),
        ("3x3_complete", "submodular-3x3.json", Rules::Cbba),
        ("3x3_complete", "submodular-3x3.json", Rules::BidTime),
        ("4x2_complete", "submodular-4x2.json", Rules::BidTime),
    ] {
        let s = committed(file);
        let policy: Policy = s.policy;
        let options = ExploreOptions::default();
        let r = explore(&s, &policy, rules, &options).expect("within the state limit");
        let name = format!("{label}/{}/{}", rules.name(), policy.name());
        println!(
            "mca_explore/{name}: {} states, {} deliveries, {}",
            r.states,
            r.deliveries,
            r.verdict.name()
        );
        group.bench_function(name, |b| {
            b.iter(|| explore(&s, &policy, rules, &options).expect("within the state limit"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
