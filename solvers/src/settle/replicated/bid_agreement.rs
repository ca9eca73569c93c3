//! Bid agreement (design §10; [Dist-Auctioneer] §IV-A): from the bids each replica
//! received, one bid vector every honest replica agrees on.
//!
//! Every replica broadcasts the vector it received (its echo). A bid is agreed where
//! at least m − k echoes carry the same value; since m > 2k, m − k is more than half
//! of m, so at most one value can. Validity: a bidder that sent the same bid to every
//! replica has at least m − k honest echoes of it, so its bid is agreed whatever k
//! deviators echo. A bidder that sent different bids to different replicas ends with
//! the one bid m − k replicas received, or — without such a bid — is excluded (the
//! paper's neutral bid: a user's demand, a broker's or provider's capacity set to
//! 0). The rule is a function of the echoes alone, which every replica receives
//! alike (the transport broadcasts), so every honest replica agrees on the same
//! vector. The paper reaches the same properties with rational consensus, bit by
//! bit; the echo vote needs one round.

use brokerflow_graphs::{Market, Role};

use super::link::Link;
use super::wire::Message;
use super::Abort;
use crate::settle::{vcg, Participants};

/// A bid per participant, in [`Participants`] order (users' valuations, brokers'
/// costs, providers' costs); `None` is no valid bid — an excluded bidder.
pub type BidVector = Vec<Option<f64>>;

/// A bid as a replica accepts it: finite and ≥ 0 (otherwise the neutral bid).
pub fn valid(bid: f64) -> Option<f64> {
    (bid.is_finite() && bid >= 0.0).then_some(bid)
}

/// The bids declared in `market`: the vector honest bidders send to every replica.
pub fn declared_bids(market: &Market) -> BidVector {
    market
        .users
        .iter()
        .map(|u| u.valuation)
        .chain(market.brokers.iter().map(|b| b.cost))
        .chain(market.providers.iter().map(|p| p.cost))
        .map(valid)
        .collect()
}

/// The agreed vector from the m echoes (`echoes[j]` is replica j's; an echo of the
/// wrong length votes for nothing): per bid, the value echoed by at least m − k
/// replicas, else `None`.
pub fn agree(echoes: &[&BidVector], len: usize, resilience: usize) -> BidVector {
    let m = echoes.len();
    let needed = m.saturating_sub(resilience).max(1);
    (0..len)
        .map(|i| {
            let votes: Vec<f64> = echoes
                .iter()
                .filter(|e| e.len() == len)
                .filter_map(|e| e[i].and_then(valid))
                .collect();
            votes
                .iter()
                .copied()
                .find(|v| votes.iter().filter(|w| w.to_bits() == v.to_bits()).count() >= needed)
        })
        .collect()
}

/// `base` with the agreed bids: valuations and costs set, excluded bidders removed
/// as VCG removes a participant ([`vcg::without`]). With every bid agreed as
/// declared, this is `base` unchanged.
pub fn agreed_market(base: &Market, agreed: &BidVector) -> Market {
    let who = Participants::of(base);
    let mut m = base.clone();
    for (i, bid) in agreed.iter().enumerate().take(who.len()) {
        let (role, j) = who.role(i);
        match (bid, role) {
            (Some(v), Role::User) => m.users[j].valuation = *v,
            (Some(v), Role::Broker) => m.brokers[j].cost = *v,
            (Some(v), Role::Provider) => m.providers[j].cost = *v,
            (None, _) => m = vcg::without(&m, role, j),
        }
    }
    m
}

/// Runs bid agreement at one replica: broadcasts `echo` (the received vector, or a
/// deviator's changed one) and agrees from everybody's echoes.
pub fn run(link: &mut Link, echo: BidVector, resilience: usize) -> Result<BidVector, Abort> {
    let len = echo.len();
    let echoes = link.exchange(Message::Echo(echo))?;
    let empty = BidVector::new();
    let vectors: Vec<&BidVector> = echoes
        .iter()
        .map(|m| match m {
            Message::Echo(v) => v,
            _ => &empty,
        })
        .collect();
    Ok(agree(&vectors, len, resilience))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// m = 5, k = 2: a value needs 3 echoes. Bid 0: all agree on 1. Bid 1: 3 × 2.0
    /// and 2 × 9.0 → 2.0. Bid 2: 2/2/1 → excluded. Bid 3: every echo invalid →
    /// excluded. A wrong-length echo votes for nothing.
    #[test]
    fn agreement_by_hand() {
        let e = |v: [Option<f64>; 4]| v.to_vec();
        let a = e([Some(1.0), Some(2.0), Some(5.0), None]);
        let b = e([Some(1.0), Some(2.0), Some(5.0), Some(-1.0)]);
        let c = e([Some(1.0), Some(2.0), Some(6.0), None]);
        let d = e([Some(1.0), Some(9.0), Some(6.0), None]);
        let f = e([Some(1.0), Some(9.0), Some(7.0), None]);
        let agreed = agree(&[&a, &b, &c, &d, &f], 4, 2);
        assert_eq!(agreed, vec![Some(1.0), Some(2.0), None, None]);
        let short = vec![Some(1.0)];
        let agreed = agree(&[&a, &b, &short, &d, &f], 4, 2);
        assert_eq!(agreed, vec![Some(1.0), None, None, None]);
    }
}
