//! The bytes of one generated market, pinned by their SHA-256.
//!
//! Every committed scenario under `experiments/*` was generated from a seed
//! ([MCF-Grid] §6's random markets), and its results were computed on those exact
//! bytes. The generator's output depends on more than this crate's code: on `rand`,
//! `rand_chacha` and `rand_distr` (their streams and sampling algorithms), on
//! serde_json's number formatting, and on the crate version recorded in the market's
//! `meta`. A dependency update that changes any of them silently changes every
//! scenario a seed names. This test makes that change loud: if it fails, the
//! generator no longer reproduces the committed markets, and `experiments/*` must be
//! regenerated and their results recomputed (and this hash updated) in the same
//! change, or the update reverted.

use brokerflow_graphs::generate::{generate, GeneratorConfig};
use sha2::{Digest, Sha256};

/// SHA-256 of `brokerflow generate --users 20 --brokers 4 --providers 5 --seed 1`,
/// computed once when the pin was written.
const PINNED: &str = "d323caf53fee7d03c754a6b5a19e93da994db1f25dbb8c6637298120de8ea8d0";

#[test]
fn the_generator_reproduces_its_pinned_market_byte_for_byte() {
    let config = GeneratorConfig {
        users: 20,
        brokers: 4,
        providers: 5,
        ..GeneratorConfig::default()
    };
    let json = generate(&config, 1)
        .expect("a valid configuration")
        .to_json_pretty();
    let hash: String = Sha256::digest(json.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        hash, PINNED,
        "the generated market changed (a rand/serde_json update or a generator change): regenerate experiments/* or revert"
    );
}
