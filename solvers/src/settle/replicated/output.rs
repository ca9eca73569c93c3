//! Output (design §10): every replica broadcasts SHA-256 of its outcome and settles
//! only if all m are equal — the outcome is the statement only when every replica
//! outputs it ([Dist-Auctioneer] §III-B), so one replica's different result aborts.

use sha2::{Digest as _, Sha256};

use super::input_validation::compare;
use super::link::Link;
use super::wire::{Digest, Message};
use super::Abort;
use crate::settle::Statement;

/// SHA-256 of a statement: its JSON (every line, total and note; serde_json writes
/// each f64 in its shortest exact form) and the bits of its trades.
pub fn digest(statement: &Statement) -> Digest {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(statement).unwrap_or_default());
    for x in statement.trades.x.iter().flatten() {
        h.update(x.to_bits().to_le_bytes());
    }
    h.finalize().into()
}

/// Runs the output phase at one replica: `Ok` if every replica's outcome hash equals
/// this one's.
pub fn run(link: &mut Link, statement: &Statement) -> Result<(), Abort> {
    compare(link, Message::OutputHash(digest(statement)), "outcome")
}
