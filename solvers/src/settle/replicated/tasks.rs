//! The task graph (design §10; [Dist-Auctioneer] §IV-B and Algorithm 1): the
//! allocation, the payments, the output, each run by at least k + 1 replicas.
//!
//! * **vcg.** Task 1, P3's allocation and the warm-start base
//!   ([`VcgPayments::new`]), runs at every replica. Tasks 2.S, the payments: the
//!   trading participants are shuffled by the common coin and dealt to ⌊m/(k+1)⌋
//!   [`PaymentGroup`]s (replica j is in group j mod ⌊m/(k+1)⌋, so each has at least
//!   k + 1 members); every member computes its group's payments
//!   ([`VcgPayments::transfer`], the centralised code) and broadcasts them (the data
//!   transfer). Every replica checks that all members of a group sent bit-identical
//!   values — two different values abort — and assembles the statement
//!   ([`VcgPayments::statement`], task 3).
//! * **mcafee.** One task, run by every replica: the double auction is sorting and
//!   one small LP per broker market, nothing worth splitting ([Dist-Auctioneer]
//!   §V-B1); the output phase compares the results.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::link::{holders, Holding, Link};
use super::wire::Message;
use super::{Abort, Evidence, Holders, Phase};
use crate::settle::vcg::{VcgPayments, VcgTransfer};
use crate::settle::{mcafee, Allocation, Mechanism, Setting, SettleOptions, Statement};

/// A payment group: replicas that compute the same share of the VCG payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentGroup {
    /// Its position among the groups.
    pub index: usize,
    /// Its replicas (indices), at least k + 1.
    pub replicas: Vec<usize>,
    /// The participants (indices) whose payments it computes, ascending.
    pub participants: Vec<usize>,
}

/// The ⌊m/(k+1)⌋ payment groups: replica j in group j mod ⌊m/(k+1)⌋; the `trading`
/// participants shuffled with the coin and dealt in turn.
pub fn payment_groups(m: usize, k: usize, trading: &[usize], coin: u64) -> Vec<PaymentGroup> {
    let c = (m / (k + 1)).max(1);
    let mut order = trading.to_vec();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(coin));
    (0..c)
        .map(|g| {
            let mut participants: Vec<usize> = order.iter().skip(g).step_by(c).copied().collect();
            participants.sort_unstable();
            PaymentGroup {
                index: g,
                replicas: (g..m).step_by(c).collect(),
                participants,
            }
        })
        .collect()
}

/// The `task-result` deviation: results sent off by `amount`, for one participant
/// (index) or, with `None`, for every result of the replica's task.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forgery {
    /// Whose result is changed (`None`: all).
    pub participant: Option<usize>,
    /// Added to the transfer (vcg) or to what the participant pays (mcafee).
    pub amount: f64,
}

impl Forgery {
    fn hits(&self, i: usize) -> bool {
        self.participant.is_none_or(|p| p == i)
    }
}

/// Runs the task graph at one replica on the agreed setting `s`. Returns the
/// statement and, for vcg, the payment groups.
pub fn run(
    link: &mut Link,
    s: &Setting<'_>,
    mechanism: &'static dyn Mechanism,
    options: &SettleOptions,
    coin: u64,
    resilience: usize,
    forgery: Option<Forgery>,
) -> Result<(Statement, Vec<PaymentGroup>), Abort> {
    let failed = |e: crate::settle::SettleError| Abort {
        phase: Phase::Tasks,
        evidence: Box::new(Evidence::Mechanism {
            message: e.to_string(),
        }),
        replicas: Vec::new(),
    };
    let allocation = Allocation::lp(&s.g_declared, options.backend).map_err(failed)?;
    if mechanism.name() != crate::settle::vcg::Vcg.name() {
        let mut statement = mcafee::mcafee(s, &allocation, options).map_err(failed)?;
        if let Some(f) = forgery {
            for (i, line) in statement.participants.iter_mut().enumerate() {
                if f.hits(i) {
                    line.pays += f.amount;
                    line.utility -= f.amount;
                    statement.surplus += f.amount;
                }
            }
        }
        return Ok((statement, Vec::new()));
    }
    let payments = VcgPayments::new(s, &allocation, options).map_err(failed)?;
    let n = s.who.len();
    let trading: Vec<usize> = (0..n).filter(|&i| payments.trades(i)).collect();
    let m = link.replicas();
    let groups = payment_groups(m, resilience, &trading, coin);
    let mine = &groups[link.me() % groups.len()];
    let computed: Result<Vec<(u32, VcgTransfer)>, String> = mine
        .participants
        .iter()
        .map(|&i| {
            let mut t = payments.transfer(s, i).map_err(|e| e.to_string())?;
            if let Some(f) = forgery.filter(|f| f.hits(i)) {
                t.transfer += f.amount;
            }
            Ok((i as u32, t))
        })
        .collect();
    let own = match computed {
        Ok(results) => Message::TaskResult {
            group: mine.index as u32,
            results,
        },
        Err(message) => Message::TaskFailed {
            group: mine.index as u32,
            message,
        },
    };
    let all = link.exchange(own)?;
    // Per replica, its group's results in the group's participant order, or its error.
    let mut sent: Vec<Result<Vec<VcgTransfer>, String>> = Vec::with_capacity(m);
    for (j, msg) in all.iter().enumerate() {
        let g = &groups[j % groups.len()];
        let fits = |group: u32| group as usize == g.index;
        sent.push(match msg {
            Message::TaskResult { group, results }
                if fits(*group)
                    && results.len() == g.participants.len()
                    && results
                        .iter()
                        .zip(&g.participants)
                        .all(|((i, _), p)| *i as usize == *p) =>
            {
                Ok(results.iter().map(|(_, t)| *t).collect())
            }
            Message::TaskFailed { group, message } if fits(*group) => Err(message.clone()),
            _ => return Err(link.malformed(Phase::Tasks, j)),
        });
    }
    // Non-trading participants: exactly 0 without a solve, the same everywhere; the
    // trading ones are filled in from their groups below.
    let mut results: Vec<VcgTransfer> = Vec::with_capacity(n);
    for i in 0..n {
        let zero = VcgTransfer {
            transfer: 0.0,
            clamp: 0.0,
            fell_back: false,
        };
        results.push(if payments.trades(i) {
            zero
        } else {
            payments.transfer(s, i).map_err(failed)?
        });
    }
    for g in &groups {
        let values: Vec<&Result<Vec<VcgTransfer>, String>> =
            g.replicas.iter().map(|&j| &sent[j]).collect();
        if values.iter().all(|v| *v == values[0]) {
            match values[0] {
                Ok(ts) => {
                    for (&i, t) in g.participants.iter().zip(ts) {
                        results[i] = *t;
                    }
                }
                Err(message) => {
                    return Err(Abort {
                        phase: Phase::Tasks,
                        evidence: Box::new(Evidence::Mechanism {
                            message: message.clone(),
                        }),
                        replicas: Vec::new(),
                    })
                }
            }
            continue;
        }
        return Err(conflict(link, s, g, &values));
    }
    Ok((payments.statement(s, &allocation, &results), groups))
}

/// The abort for a payment group whose members sent different results: the first
/// participant whose values differ (or the failure), with who sent what.
fn conflict(
    link: &Link,
    s: &Setting<'_>,
    g: &PaymentGroup,
    values: &[&Result<Vec<VcgTransfer>, String>],
) -> Abort {
    let show_failure = |v: &&Result<Vec<VcgTransfer>, String>| match v {
        Ok(_) => "results".to_string(),
        Err(e) => format!("failed: {e}"),
    };
    let (participant, shown): (String, Holding) = if values.iter().all(|v| v.is_ok()) {
        let at = (0..g.participants.len())
            .find(|&p| {
                let first = values[0].as_ref().ok().map(|ts| ts[p]);
                values
                    .iter()
                    .any(|v| v.as_ref().ok().map(|ts| ts[p]) != first)
            })
            .unwrap_or(0);
        let ts: Vec<Option<VcgTransfer>> = values
            .iter()
            .map(|v| v.as_ref().ok().and_then(|ts| ts.get(at).copied()))
            .collect();
        let show = |t: &Option<VcgTransfer>| match t {
            Some(t) if t.clamp == 0.0 && !t.fell_back => format!("{:?}", t.transfer),
            Some(t) => format!(
                "{:?} (clamp {:?}, fell back {})",
                t.transfer, t.clamp, t.fell_back
            ),
            None => "none".to_string(),
        };
        let id = g
            .participants
            .get(at)
            .map(|&i| s.who.id(s.truth, i))
            .unwrap_or_default();
        (id, holders(&ts, show))
    } else {
        ("(the task)".to_string(), holders(values, show_failure))
    };
    let (groups, outside) = shown;
    Abort {
        phase: Phase::Tasks,
        evidence: Box::new(Evidence::ConflictingResults {
            group: g.index,
            participant,
            values: groups
                .into_iter()
                .map(|(value, js)| Holders {
                    value,
                    replicas: link.names(js.into_iter().map(|x| g.replicas[x])),
                })
                .collect(),
        }),
        replicas: link.names(outside.into_iter().map(|x| g.replicas[x])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// m = 8, k = 1: 4 groups of 2 ({0,4}, {1,5}, {2,6}, {3,7}); m = 8, k = 3: 2
    /// groups of 4; m = 5, k = 2: 1 group of 5. Every trading participant is dealt
    /// to exactly one group, and group sizes differ by at most one.
    #[test]
    fn groups_by_hand() {
        let trading: Vec<usize> = (0..11).collect();
        let g = payment_groups(8, 1, &trading, 42);
        assert_eq!(g.len(), 4);
        assert_eq!(g[0].replicas, vec![0, 4]);
        assert_eq!(g[3].replicas, vec![3, 7]);
        let mut all: Vec<usize> = g.iter().flat_map(|g| g.participants.clone()).collect();
        all.sort_unstable();
        assert_eq!(all, trading);
        let sizes: Vec<usize> = g.iter().map(|g| g.participants.len()).collect();
        assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
        let g = payment_groups(8, 3, &trading, 42);
        assert_eq!(g.len(), 2);
        assert_eq!(g[1].replicas, vec![1, 3, 5, 7]);
        let g = payment_groups(5, 2, &trading, 7);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].replicas, vec![0, 1, 2, 3, 4]);
        assert_eq!(g[0].participants, trading);
    }
}
