//! One replica's run of the protocol (design §10): the phases in order, with its
//! deviation (if any) applied.

use brokerflow_graphs::Market;

use super::bid_agreement::{self, agreed_market, BidVector};
use super::coin::{self, CoinShare};
use super::deviation::{Behaviour, Plan};
use super::link::Link;
use super::tasks::{self, PaymentGroup};
use super::transport::Transport;
use super::wire::Message;
use super::{input_validation, output, Abort, Outcome, Phase, ReplicaReport, ReplicationConfig};
use crate::settle::{Setting, Statement};

/// What every replica knows before the run: the market (its structure and the true
/// values for the statement's utilities), the replicas, the settings, the
/// deviations.
pub(super) struct Context<'a> {
    pub truth: &'a Market,
    pub base: &'a Market,
    pub ids: &'a [String],
    pub config: &'a ReplicationConfig,
    pub plan: &'a Plan,
}

/// Where a replica got to: filled in phase by phase for its report.
#[derive(Default)]
struct Progress {
    agreed: Option<BidVector>,
    coin: Option<u64>,
    groups: Vec<PaymentGroup>,
}

/// Runs replica `me` over `transport` to its end.
pub(super) fn run(
    context: &Context<'_>,
    me: usize,
    transport: Box<dyn Transport>,
) -> ReplicaReport {
    let behaviour = &context.plan.behaviour[me];
    let mut link = Link::new(transport, context.ids.to_vec(), context.config.timeout);
    let mut progress = Progress::default();
    let result = protocol(context, me, behaviour, &mut link, &mut progress);
    let outcome = match result {
        Ok(statement) => Some(Outcome::Settled(Box::new(statement))),
        Err(Stop::Crashed) => None,
        Err(Stop::Silent) => {
            // Every honest replica gives up after one timeout per step; lingering for
            // all of the steps bounds this one's wait too.
            let steps = 6;
            let silent: Vec<bool> = context
                .plan
                .behaviour
                .iter()
                .map(|b| b.silent.is_some())
                .collect();
            link.linger(
                std::time::Instant::now() + context.config.timeout * steps,
                &silent,
            );
            None
        }
        Err(Stop::Aborted(abort)) => {
            // Tell the others at once rather than leave them waiting for the timeout.
            link.broadcast(&Message::Abort(abort.phase));
            Some(Outcome::Aborted(abort))
        }
    };
    let (messages, bytes) = link.sent();
    ReplicaReport {
        id: context.ids[me].clone(),
        honest: behaviour.honest(),
        outcome,
        agreed: progress.agreed,
        coin: progress.coin,
        groups: progress.groups,
        messages,
        bytes,
    }
}

enum Stop {
    Aborted(Abort),
    Crashed,
    Silent,
}

impl From<Abort> for Stop {
    fn from(a: Abort) -> Stop {
        Stop::Aborted(a)
    }
}

fn protocol(
    context: &Context<'_>,
    me: usize,
    behaviour: &Behaviour,
    link: &mut Link,
    progress: &mut Progress,
) -> Result<Statement, Stop> {
    // A `crash` or `silent` deviator stops at the start of its phase.
    let crash = |phase: Phase| {
        if behaviour.crash == Some(phase) {
            Err(Stop::Crashed)
        } else if behaviour.silent == Some(phase) {
            Err(Stop::Silent)
        } else {
            Ok(())
        }
    };
    let k = context.config.resilience;

    crash(Phase::BidAgreement)?;
    let received = context.plan.received[me].clone();
    let mut echo = received;
    let lie = behaviour.bid_vector.filter(|(i, _)| *i < echo.len());
    if let Some((i, amount)) = lie {
        echo[i] = Some(echo[i].unwrap_or(0.0) + amount);
    }
    let mut agreed = bid_agreement::run(link, echo.clone(), k)?;
    if let Some((i, _)) = lie {
        // The liar validates its input with the vector it broadcast.
        agreed[i] = echo[i];
    }
    progress.agreed = Some(agreed.clone());

    crash(Phase::InputValidation)?;
    input_validation::run(link, &agreed)?;

    crash(Phase::Coin)?;
    let share = CoinShare::draw(context.config.seed, &context.ids[me]);
    let reveal = if behaviour.bad_reveal {
        CoinShare {
            share: share.share.wrapping_add(1),
            ..share
        }
    } else {
        share
    };
    let u = coin::toss(link, share, reveal)?;
    progress.coin = Some(u);

    crash(Phase::Tasks)?;
    // The agreed bids passed input validation; a market they still make invalid is
    // the mechanism's failure, the same at every honest replica.
    let invalid = |e: brokerflow_graphs::MarketError| Abort {
        phase: Phase::Tasks,
        evidence: Box::new(super::Evidence::Mechanism {
            message: e.to_string(),
        }),
        replicas: Vec::new(),
    };
    let declared = agreed_market(context.base, &agreed)
        .validate()
        .map_err(invalid)?;
    let truth = context.truth.clone().validate().map_err(invalid)?;
    let setting = Setting::new(&truth, &declared);
    let (statement, groups) = tasks::run(
        link,
        &setting,
        context.config.mechanism,
        &context.config.options,
        u,
        k,
        behaviour.forgery,
    )?;
    progress.groups = groups;

    crash(Phase::Output)?;
    output::run(link, &statement)?;
    Ok(statement)
}
