//! Input validation (design §10; [Dist-Auctioneer] §IV-B): every replica broadcasts
//! SHA-256 of its agreed bid vector; if any two differ, every replica aborts. Two
//! replicas that follow the protocol with different inputs therefore never both
//! settle (the paper's Property 3).

use sha2::{Digest as _, Sha256};

use super::bid_agreement::BidVector;
use super::link::{holders, Link};
use super::wire::{hex, Digest, Message};
use super::{Abort, Evidence, Holders, Phase};

/// SHA-256 of a bid vector: per bid a byte 0 (no bid) or 1 and the f64's bits.
pub fn digest(bids: &BidVector) -> Digest {
    let mut h = Sha256::new();
    h.update((bids.len() as u64).to_le_bytes());
    for b in bids {
        match b {
            None => h.update([0u8]),
            Some(v) => {
                h.update([1u8]);
                h.update(v.to_bits().to_le_bytes());
            }
        }
    }
    h.finalize().into()
}

/// Runs input validation at one replica: `Ok` if all m hashes equal this one's.
pub fn run(link: &mut Link, agreed: &BidVector) -> Result<(), Abort> {
    compare(
        link,
        Message::InputHash(digest(agreed)),
        "agreed bid vector",
    )
}

/// Exchanges a hash message (input or output) and aborts, naming the replicas
/// outside the most common hash, if they are not all equal.
pub(super) fn compare(link: &mut Link, own: Message, what: &str) -> Result<(), Abort> {
    let phase = own.step().map_or(Phase::Output, |s| s.phase());
    let all = link.exchange(own)?;
    let mut hashes = Vec::with_capacity(all.len());
    for (j, msg) in all.iter().enumerate() {
        match msg {
            Message::InputHash(h) | Message::OutputHash(h) => hashes.push(*h),
            _ => return Err(link.malformed(phase, j)),
        }
    }
    if hashes.iter().all(|h| *h == hashes[0]) {
        return Ok(());
    }
    let (groups, outside) = holders(&hashes, hex);
    Err(Abort {
        phase,
        evidence: Box::new(Evidence::DifferingHashes {
            what: what.to_string(),
            hashes: groups
                .into_iter()
                .map(|(value, js)| Holders {
                    value,
                    replicas: link.names(js),
                })
                .collect(),
        }),
        replicas: link.names(outside),
    })
}
