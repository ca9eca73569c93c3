//! The common coin (design §10; [Dist-Auctioneer] §IV-B after Abraham et al.): every
//! replica j commits to SHA-256(r_j ‖ nonce_j), then reveals r_j and the nonce; the
//! coin is u = Σ r_j mod 2⁶⁴ (the paper's Σ r_j mod 1 on [0, 1), in 64-bit fixed
//! point). A reveal that does not match its commitment aborts. While one replica
//! draws its share uniformly and keeps it hidden until every commitment is in, u is
//! uniform whatever the others choose: adding a uniform value mod 2⁶⁴ to anything
//! independent of it gives a uniform value.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest as _, Sha256};

use super::link::Link;
use super::wire::{hex, Digest, Message};
use super::{Abort, Evidence, Mismatch, Phase};

/// One replica's share of the coin: r_j and the nonce hiding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoinShare {
    /// r_j.
    pub share: u64,
    /// The nonce.
    pub nonce: Digest,
}

impl CoinShare {
    /// The share of replica `id` for a run seeded `seed`: ChaCha20 seeded with
    /// SHA-256("coin" ‖ seed ‖ id), so runs are reproducible and replicas' shares
    /// independent.
    pub fn draw(seed: u64, id: &str) -> CoinShare {
        let mut h = Sha256::new();
        h.update(b"coin");
        h.update(seed.to_le_bytes());
        h.update(id.as_bytes());
        let mut rng = ChaCha20Rng::from_seed(h.finalize().into());
        let share = rng.next_u64();
        let mut nonce = [0u8; 32];
        rng.fill_bytes(&mut nonce);
        CoinShare { share, nonce }
    }

    /// SHA-256(r ‖ nonce), what the replica commits to.
    pub fn commitment(&self) -> Digest {
        commitment(self.share, &self.nonce)
    }
}

/// SHA-256(r ‖ nonce) with r in little-endian bytes.
pub fn commitment(share: u64, nonce: &Digest) -> Digest {
    let mut h = Sha256::new();
    h.update(share.to_le_bytes());
    h.update(nonce);
    h.finalize().into()
}

/// Tosses the coin at one replica: commits to `share`, then reveals `reveal` (the
/// same share when following the protocol; another value for the `coin-reveal`
/// deviation). Returns u, or the abort naming every replica whose reveal does not
/// match its commitment.
pub fn toss(link: &mut Link, share: CoinShare, reveal: CoinShare) -> Result<u64, Abort> {
    let commits = link.exchange(Message::CoinCommit(share.commitment()))?;
    let reveals = link.exchange(Message::CoinReveal {
        share: reveal.share,
        nonce: reveal.nonce,
    })?;
    let mut u: u64 = 0;
    let mut mismatches = Vec::new();
    let mut offenders = Vec::new();
    for (j, (c, r)) in commits.iter().zip(&reveals).enumerate() {
        let (Message::CoinCommit(committed), Message::CoinReveal { share, nonce }) = (c, r) else {
            return Err(link.malformed(Phase::Coin, j));
        };
        let revealed = commitment(*share, nonce);
        if revealed != *committed {
            mismatches.push(Mismatch {
                replica: link.ids()[j].clone(),
                committed: hex(committed),
                revealed: hex(&revealed),
            });
            offenders.push(j);
        }
        u = u.wrapping_add(*share);
    }
    if mismatches.is_empty() {
        Ok(u)
    } else {
        Err(Abort {
            phase: Phase::Coin,
            evidence: Box::new(Evidence::CommitmentMismatch { mismatches }),
            replicas: link.names(offenders),
        })
    }
}
