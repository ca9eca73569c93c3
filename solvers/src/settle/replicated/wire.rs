//! The messages replicas exchange (design §10), and their byte encoding.
//!
//! A hand-written binary encoding rather than JSON: amounts travel as the bits of
//! their f64, so a value a replica receives is bit for bit the value another computed
//! (the data transfer compares results exactly).

use super::Phase;
use crate::settle::vcg::VcgTransfer;

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// One protocol message, broadcast by a replica to every other replica.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Bid agreement: the bid vector this replica received from the bidders, in
    /// [`super::BidVector`] order (`None`: no valid bid arrived).
    Echo(Vec<Option<f64>>),
    /// Input validation: SHA-256 of the agreed bid vector.
    InputHash(Digest),
    /// Common coin, first step: SHA-256(r_j ‖ nonce_j).
    CoinCommit(Digest),
    /// Common coin, second step: r_j and the nonce.
    CoinReveal {
        /// The replica's share r_j (u = Σ r_j mod 2⁶⁴).
        share: u64,
        /// The nonce that hides r_j in the commitment.
        nonce: Digest,
    },
    /// Data transfer: a payment group's results, (participant index, transfer).
    TaskResult {
        /// The payment group that computed them.
        group: u32,
        /// One VCG transfer per participant assigned to the group.
        results: Vec<(u32, VcgTransfer)>,
    },
    /// Data transfer: the payment group's task failed with this error (the same at
    /// every member, so every replica reports it alike).
    TaskFailed {
        /// The payment group.
        group: u32,
        /// The mechanism's error.
        message: String,
    },
    /// Output: SHA-256 of the replica's outcome.
    OutputHash(Digest),
    /// The sender aborted in `phase` and sends nothing more.
    Abort(Phase),
}

/// The order of the protocol's broadcasts; a replica sends one message per step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// [`Message::Echo`].
    Echo,
    /// [`Message::InputHash`].
    InputHash,
    /// [`Message::CoinCommit`].
    CoinCommit,
    /// [`Message::CoinReveal`].
    CoinReveal,
    /// [`Message::TaskResult`].
    TaskResult,
    /// [`Message::OutputHash`].
    OutputHash,
}

impl Step {
    /// The phase of design §10 this step belongs to.
    pub fn phase(self) -> Phase {
        match self {
            Step::Echo => Phase::BidAgreement,
            Step::InputHash => Phase::InputValidation,
            Step::CoinCommit | Step::CoinReveal => Phase::Coin,
            Step::TaskResult => Phase::Tasks,
            Step::OutputHash => Phase::Output,
        }
    }
}

impl Message {
    /// The step this message answers (`None` for an abort notice).
    pub fn step(&self) -> Option<Step> {
        Some(match self {
            Message::Echo(_) => Step::Echo,
            Message::InputHash(_) => Step::InputHash,
            Message::CoinCommit(_) => Step::CoinCommit,
            Message::CoinReveal { .. } => Step::CoinReveal,
            Message::TaskResult { .. } | Message::TaskFailed { .. } => Step::TaskResult,
            Message::OutputHash(_) => Step::OutputHash,
            Message::Abort(_) => return None,
        })
    }

    /// The message as bytes: a tag, then the fields (little-endian).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Message::Echo(bids) => {
                out.push(0);
                put_u32(&mut out, bids.len());
                for b in bids {
                    match b {
                        None => out.push(0),
                        Some(v) => {
                            out.push(1);
                            out.extend_from_slice(&v.to_bits().to_le_bytes());
                        }
                    }
                }
            }
            Message::InputHash(h) => {
                out.push(1);
                out.extend_from_slice(h);
            }
            Message::CoinCommit(h) => {
                out.push(2);
                out.extend_from_slice(h);
            }
            Message::CoinReveal { share, nonce } => {
                out.push(3);
                out.extend_from_slice(&share.to_le_bytes());
                out.extend_from_slice(nonce);
            }
            Message::TaskResult { group, results } => {
                out.push(4);
                out.extend_from_slice(&group.to_le_bytes());
                put_u32(&mut out, results.len());
                for (i, r) in results {
                    out.extend_from_slice(&i.to_le_bytes());
                    out.extend_from_slice(&r.transfer.to_bits().to_le_bytes());
                    out.extend_from_slice(&r.clamp.to_bits().to_le_bytes());
                    out.push(u8::from(r.fell_back));
                }
            }
            Message::OutputHash(h) => {
                out.push(5);
                out.extend_from_slice(h);
            }
            Message::TaskFailed { group, message } => {
                out.push(7);
                out.extend_from_slice(&group.to_le_bytes());
                put_u32(&mut out, message.len());
                out.extend_from_slice(message.as_bytes());
            }
            Message::Abort(p) => {
                out.push(6);
                out.push(Phase::ALL.iter().position(|q| q == p).unwrap_or(0) as u8);
            }
        }
        out
    }

    /// Reads a message; `None` if the bytes are not exactly one message.
    pub fn decode(bytes: &[u8]) -> Option<Message> {
        let mut r = Reader { bytes, at: 0 };
        let m = match r.u8()? {
            0 => {
                let n = r.u32()? as usize;
                let mut bids = Vec::with_capacity(n.min(bytes.len()));
                for _ in 0..n {
                    bids.push(match r.u8()? {
                        0 => None,
                        1 => Some(f64::from_bits(r.u64()?)),
                        _ => return None,
                    });
                }
                Message::Echo(bids)
            }
            1 => Message::InputHash(r.digest()?),
            2 => Message::CoinCommit(r.digest()?),
            3 => Message::CoinReveal {
                share: r.u64()?,
                nonce: r.digest()?,
            },
            4 => {
                let group = r.u32()?;
                let n = r.u32()? as usize;
                let mut results = Vec::with_capacity(n.min(bytes.len()));
                for _ in 0..n {
                    let i = r.u32()?;
                    let transfer = f64::from_bits(r.u64()?);
                    let clamp = f64::from_bits(r.u64()?);
                    let fell_back = match r.u8()? {
                        0 => false,
                        1 => true,
                        _ => return None,
                    };
                    results.push((
                        i,
                        VcgTransfer {
                            transfer,
                            clamp,
                            fell_back,
                        },
                    ));
                }
                Message::TaskResult { group, results }
            }
            5 => Message::OutputHash(r.digest()?),
            6 => Message::Abort(*Phase::ALL.get(r.u8()? as usize)?),
            7 => {
                let group = r.u32()?;
                let n = r.u32()? as usize;
                let message = String::from_utf8(r.take(n)?.to_vec()).ok()?;
                Message::TaskFailed { group, message }
            }
            _ => return None,
        };
        (r.at == bytes.len()).then_some(m)
    }
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn digest(&mut self) -> Option<Digest> {
        self.take(32)?.try_into().ok()
    }
}

/// Lower-case hex of a digest, as outputs show hashes.
pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips_and_trailing_bytes_are_refused() {
        let t = VcgTransfer {
            transfer: -0.0,
            clamp: 1e-12,
            fell_back: true,
        };
        let all = [
            Message::Echo(vec![Some(1.5), None, Some(f64::MIN_POSITIVE)]),
            Message::InputHash([7; 32]),
            Message::CoinCommit([8; 32]),
            Message::CoinReveal {
                share: u64::MAX,
                nonce: [9; 32],
            },
            Message::TaskResult {
                group: 3,
                results: vec![(0, t), (5, t)],
            },
            Message::TaskFailed {
                group: 1,
                message: "P3 is infeasible".to_string(),
            },
            Message::OutputHash([1; 32]),
            Message::Abort(Phase::Tasks),
        ];
        for m in all {
            let mut bytes = m.encode();
            let back = Message::decode(&bytes).unwrap();
            // Bit-exact, including the sign of −0.0.
            assert_eq!(back.encode(), bytes);
            assert_eq!(back, m);
            bytes.push(0);
            assert_eq!(Message::decode(&bytes), None);
        }
        assert_eq!(Message::decode(&[]), None);
        assert_eq!(Message::decode(&[0, 5, 0, 0, 0, 1]), None);
    }
}
