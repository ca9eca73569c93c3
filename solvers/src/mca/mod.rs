//! Max-consensus auctions (MCA) among agents, and an explorer that finds where they
//! fail ([MCA-Alloy]), under two sets of conflict rules: [MCA-Alloy]'s bid-time
//! rules and \[CBBA\]'s information-time rules (design §9).
//!
//! A set of agents bid on a set of items with private bundle values, and agree on
//! the winners by exchanging full views with their neighbours only (max-consensus,
//! [MCA-Alloy] §II-A, Definition 1). brokerflow uses it with providers as agents
//! and lots of jobs as items ([`crate::settle::mca`]); here it is generic.
//!
//! - [`scenario`]: the scenario file (agents, items, neighbours, values, policy),
//!   validated as strictly as a market file;
//! - [`values`]: bundle values behind the [`BundleValues`] seam, marginal
//!   utilities, the sub-modularity test, the brute-force optimum;
//! - [`protocol`]: one agent's view, bidding, the conflict rules;
//! - [`run`]: the synchronous runner;
//! - [`explore`](mod@explore): every asynchronous delivery order, breadth-first; or, where that
//!   is too large, random delivery orders ([`explore::sample`]).
//!
//! # The protocol as brokerflow reads it
//!
//! Each agent i keeps per item j the highest bid it knows b_ij, the winner it
//! believes a_ij (or none) and the time t_ij of that bid, its bundle m_i in the
//! order it added items (always exactly the items with a_ij = i), and the items it
//! has lost.
//!
//! **Bidding.** While |m_i| < T_i, add the item of highest marginal utility
//! u_i(j | m_i) = v_i(m_i ∪ {j}) − v_i(m_i) that beats b_ij — higher, or equal
//! when the known winner has a higher id (ties go to the lower agent id; ids are
//! ordered as the scenario lists the agents) — and is positive; ties between items
//! go to the lower item index. An agent never bids again on an item it was outbid
//! on ([MCA-Alloy] Remark 1), unless `rebid_lost` is set: then, before bidding, it
//! re-asserts its own last bid on every lost item it does not hold, with a fresh
//! time, whether or not that bid beats the one it knows (the rebidding attack).
//!
//! **Messages.** After a change of its view an agent sends the whole view
//! (a, b, t) to every neighbour.
//!
//! **Conflict rules**, one of two sets ([`Rules`]).
//!
//! *Bid-time rules* ([`Rules::BidTime`], [`protocol::resolve`]): receiver i,
//! sender k, per item, the first match wins (UPDATE = take k's (a, b, t); LEAVE =
//! keep; RESET = (none, 0, now)):
//! 1. i thinks it won and k names another winner: UPDATE if b_k > b_i (equal bids:
//!    if k's winner has the lower id — the bidding tie rule, without which two
//!    equal claims would both stand), else keep a and b with t = max(t_i, t_k);
//! 2. same winner and bid: LEAVE;
//! 3. different winners, not naming each other, equal bids: the lower winner id;
//! 4. k names a third agent: UPDATE if i names k or none, or another agent with an
//!    older time;
//! 5. k names itself: UPDATE if i names none, names k with an older time, or
//!    names another agent with a lower bid or an older time;
//! 6. k names none and i names k: UPDATE;
//! 7. k names none and i names a third agent with an older time: UPDATE;
//! 8. k names i while i names k: RESET;
//! 9. k names i while i names none: keep, with t = now;
//! 10. otherwise LEAVE.
//!
//! *\[CBBA\] rules* ([`Rules::Cbba`], the default, [`protocol::resolve_cbba`]):
//! entries carry no time; each agent keeps s_iq, the time of the latest
//! information it has from agent q, and a message carries the sender's. Decisions
//! about a winner m compare s_km with s_im (Table I, 17 cells; the table is in
//! [`protocol::resolve_cbba`]'s documentation); after the items, s_iq =
//! max(s_iq, s_kq) for q ≠ i. A belief about m is overturned only by newer
//! information from m, so a later, lower bid or a reset cannot outdate a higher
//! one.
//!
//! Items are resolved in item order. When an item i held is no longer i's, i has
//! been outbid on it: the item is lost and leaves the bundle, and under
//! `release_outbid` the items added after it are released at once (none, 0, now),
//! so an item resolved later in the same receipt is resolved against the release.
//! After a receipt the agent bids, then sends if its view changed.
//!
//! **Where brokerflow departs from the seed's Alloy model.** Its release-outbid
//! switch is inverted and its reset unreachable; brokerflow follows the paper's
//! meaning: `release_outbid = true` releases (and lets the agent rebid) the items
//! after an outbid item (§V Result 1: "the agents release (and rebid) all
//! subsequent items to an outbid item"), and RESET is rule 8.
//!
//! **Time.** One logical clock: every bidding phase, send and receipt takes a tick
//! newer than every time in the system. Rules compare times only by order and only
//! within a column (one item's bid times; the stamps about one agent), so the
//! explorer ranks them column by column ([`protocol::rank_columns`]), which keeps
//! the state space finite without changing behaviour.
//!
//! **Consensus** ([`protocol::consensus`], [MCA-Alloy] §V's consensusPred made
//! conflict-free): every agent agrees on every item's winner and bid, a winner
//! holds the item and nobody else does, no bundle exceeds T. A run reaches it when
//! it goes quiet in such a state.
//!
//! **Links** ([`explore::Channels`]): the synchronous runner delivers every message
//! of a round; the explorer by default lets each link hold only the sender's newest
//! view (a newer one replaces one not yet delivered), which keeps the state space
//! finite; FIFO and unordered links are options.
//!
//! **What holds.** The literature ([MCA-Alloy] Remark 3, §V) expects, with
//! sub-modular values and no rebidding, consensus within D·|J| synchronous rounds at
//! ≥ (1 − 1/e) of the optimum. Under \[CBBA\] rules the explorer confirms
//! convergence in every delivery order on the committed 2 × 2, 3 × 2 and 3 × 3
//! scenarios, and the property tests consensus within D·|J| rounds on random
//! connected graphs; the value bound that holds is greedy's 1/2, not (1 − 1/e)
//! (`submodular-2x2-greedy-gap.json` reaches 7 of 12). Under bid-time rules a later,
//! lower bid can displace a higher one at third parties, because they compare *bid*
//! times: 4 agents × 2 items can oscillate, and sparse graphs can go quiet without
//! consensus (a reset's "none" is newer than the true winner's bid). The committed
//! scenarios and the census example measure both.

pub mod explore;
pub mod protocol;
pub mod report;
pub mod run;
pub mod scenario;
pub mod settings;
pub mod values;

pub use explore::{explore, sample, Exploration, ExploreOptions, Sample, Trace, Verdict};
pub use protocol::{AgentState, Entry, Message, Rules};
pub use run::{run_synchronous, SyncRun};
pub use scenario::{McaError, Policy, Scenario, ScenarioFile};
pub use values::{BundleValues, ItemSet, TableValues};
