//! Matching over time ([Stream-Market] §2.1, §3.3): slots, expiry, δ_min chunks,
//! replicas, and one brokerflow market per slot solved for welfare and priced by
//! McAfee's double auction.
//!
//! **Time.** The allocator matches once per slot, at decision times
//! now_k = now + k·slot. An allocation decided at now_k is constructed and signed
//! (δ_alloc), set up (δ_setup), and then serves from s_k = now_k + δ_alloc + δ_setup.
//! An offer has *expired* at now_k when t_end − δ_min − δ_setup − δ_alloc < now_k
//! ([Stream-Market] §3.3): not even one minimum service time is left.
//!
//! **Chunks.** A customer's window is served in chunks, each starting at some s_k and
//! lasting m·slot with m = ⌈δ_min / slot⌉ (so at least δ_min), cut short at c_end —
//! never below δ_min, since an offer that is not expired has c_end ≥ s_k + δ_min. A
//! chunk occupies the slots [s_j, s_j + slot) it overlaps; a customer is matched
//! again when its chunk ends, and a customer that got nothing retries next slot.
//!
//! **Matching conditions** ([Stream-Market] Eq. 1–2), for a chunk [a, b]: I_c·λ ≤ I_s
//! (every replica processes the whole stream), R_c ≤ R_s, π_xmin ≤ π_xmax, and the
//! supplier's window contains [a, b]. Eq. 2 asks only that the windows intersect; an
//! allocation that lasts δ_min needs the intersection to hold it.
//!
//! **Each slot's market.** Suppliers available for the slot become providers with
//! capacity = their MIPS not yet reserved in the chunk's slots, rounded down to whole
//! streams of the largest customer that may use them, and cost c_p = π_xmin; the
//! customers due become users with demand r·λ (r replicas, each the whole stream), requirement I_c and valuation π_xmax·I_c per input, eligible
//! exactly for the suppliers meeting the matching conditions; one broker (the
//! allocator) links every user to every provider, all unlimited. So one unit of the
//! provider's resource is one million instructions and every price is per million
//! instructions. P3 ([MCF-Grid] §4.2) gives the welfare-maximising trades; McAfee's
//! rule ([Dist-Auctioneer] §V-B1, [`mcafee::clear`]) on the book of those trades
//! (bids π_xmax, asks π_xmin; the next bids from the market's users and providers
//! that P3 left without volume) decides who trades and at what prices: buyers pay
//! `price`, sellers receive `supplier_price` per million instructions, and the gap
//! (zero unless trades were reduced) is the allocator's.
//!
//! **Rounding (an approximation, said in the output).** P3 is a relaxation: it may
//! split a customer's r·λ over suppliers in any proportions and knows nothing of
//! memory. The kept buyers, highest bid first, then each take r *distinct* kept
//! sellers that meet the conditions and still have I_c·λ MIPS and R_c memory free in
//! every slot of the chunk, preferring the suppliers P3 gave them most flow, then
//! the lower ask. A buyer that cannot get r is void (`not_enough_replicas`). So no
//! supplier's MIPS or memory is ever exceeded in any slot.

use std::collections::BTreeMap;

use brokerflow_graphs::{Broker, ExpandedGraph, Link, Market, NodeKind, Provider, User};
use serde::Serialize;

use super::offers::{CustomerOffer, Offers, Parameters, SupplierOffer};
use super::replicas::{failure_probability, replica_count};
use super::StreamError;
use crate::lp::{self, Backend, LpOptions};
use crate::settle::mcafee::{self, Entry};

/// One of the four matching conditions of [Stream-Market] Eq. 1–2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// I_c·λ ≤ I_s: the supplier keeps up with the stream.
    Compute,
    /// R_c ≤ R_s.
    Memory,
    /// π_xmin ≤ π_xmax: some price suits both.
    Price,
    /// The supplier's window holds the allocation (Eq. 2, see the module doc).
    Window,
}

/// The conditions a supplier fails for serving customer `c` over `[start, end]`
/// (empty: they match). [Stream-Market] Eq. 1–2.
///
/// # Arguments
/// * `s`, `c`: the supplier's and the customer's offers.
/// * `start`, `end`: the allocation's window.
///
/// # Returns
/// The failed [`Condition`]s, in the order compute, memory, price, window.
///
/// # Complexity
/// O(1).
///
/// # Example
/// See [`match_offers`], which matches only pairs without mismatches.
///
/// Paper: [Stream-Market] §2.1, Eq. 1–2.
pub fn mismatches(s: &SupplierOffer, c: &CustomerOffer, start: f64, end: f64) -> Vec<Condition> {
    let mut out = offer_conditions(s, c);
    if !(s.start <= start && end <= s.end) {
        out.push(Condition::Window);
    }
    out
}

/// The conditions a pair of offers fails before any slot is fixed (empty: they are
/// matchable): Eq. 1, and for Eq. 2 windows that overlap for at least δ_min.
pub fn offer_mismatches(s: &SupplierOffer, c: &CustomerOffer, delta_min: f64) -> Vec<Condition> {
    let mut out = offer_conditions(s, c);
    if s.end.min(c.end) - s.start.max(c.start) < delta_min {
        out.push(Condition::Window);
    }
    out
}

fn offer_conditions(s: &SupplierOffer, c: &CustomerOffer) -> Vec<Condition> {
    let mut out = Vec::new();
    if c.mi_per_input * c.rate > s.mips {
        out.push(Condition::Compute);
    }
    if c.memory > s.memory {
        out.push(Condition::Memory);
    }
    if s.min_price > c.max_price {
        out.push(Condition::Price);
    }
    out
}

/// Whether an offer ending at `end` has expired at decision time `now`:
/// t_end − δ_min − δ_setup − δ_alloc < now ([Stream-Market] §3.3).
///
/// # Arguments
/// * `end`: t_end, the end of the offer's window.
/// * `now`: the decision time.
/// * `p`: the market's δ_min, δ_setup and δ_alloc.
///
/// # Returns
/// Whether too little of the window is left for a valid allocation.
///
/// # Complexity
/// O(1).
///
/// # Example
/// ```
/// use brokerflow_solvers::stream::matching::is_expired;
/// use brokerflow_solvers::stream::Parameters;
///
/// let p = Parameters { delta_min: 700.0, delta_setup: 0.0, delta_alloc: 0.0, failure_rate: 0.0,
///                      deposit_factor: 1.0, test_inputs: 1, slot: 600.0, now: 0.0 };
/// // A window ending at 1000 has its last valid start at 1000 − 700 = 300.
/// assert!(!is_expired(1000.0, 300.0, &p));
/// assert!(is_expired(1000.0, 301.0, &p));
/// ```
///
/// Paper: [Stream-Market] §3.3 (expiry time t_e = t_end − δ_min − δ_setup − δ_alloc).
pub fn is_expired(end: f64, now: f64, p: &Parameters) -> bool {
    end - p.delta_min - p.delta_setup - p.delta_alloc < now
}

/// Slots per full chunk of a customer's offer: m = ⌈δ_min / slot⌉, so a chunk lasts
/// m·slot ≥ δ_min, the minimum service time.
///
/// # Arguments
/// * `p`: the market's δ_min and slot length.
///
/// # Returns
/// m ≥ 1.
///
/// # Complexity
/// O(1).
///
/// # Example
/// ```
/// use brokerflow_solvers::stream::matching::{chunk, slots_per_chunk};
/// use brokerflow_solvers::stream::Parameters;
///
/// let p = Parameters { delta_min: 700.0, delta_setup: 0.0, delta_alloc: 0.0, failure_rate: 0.0,
///                      deposit_factor: 1.0, test_inputs: 1, slot: 600.0, now: 0.0 };
/// // δ_min 700 over slots of 600: two slots, so chunks of 1200.
/// assert_eq!(slots_per_chunk(&p), 2);
/// assert_eq!(chunk(0.0, 3600.0, &p), (0.0, 1200.0));
/// assert_eq!(chunk(3000.0, 3600.0, &p), (3000.0, 3600.0)); // cut at the window's end
/// ```
///
/// Paper: [Stream-Market] §3.3 (chunking into sub-offers of at least δ_min).
pub fn slots_per_chunk(p: &Parameters) -> usize {
    ((p.delta_min / p.slot) - 1e-9).ceil().max(1.0) as usize
}

/// The chunk a customer ending at `end` gets when served from `start`:
/// [start, min(start + m·slot, end)].
///
/// # Arguments
/// * `start`: where service resumes.
/// * `end`: the end of the customer's window.
/// * `p`: the market's δ_min and slot length.
///
/// # Returns
/// The chunk's (start, end).
///
/// # Complexity
/// O(1).
///
/// # Example
/// See [`slots_per_chunk`].
///
/// Paper: [Stream-Market] §3.3.
pub fn chunk(start: f64, end: f64, p: &Parameters) -> (f64, f64) {
    (start, (start + slots_per_chunk(p) as f64 * p.slot).min(end))
}

/// Why a customer's offer (or part of it) got no allocation ([Stream-Market] §3.3's
/// void allocations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidReason {
    /// Less than δ_min + δ_setup + δ_alloc was left (the rest of the window).
    Expired,
    /// No supplier meets the four matching conditions for the chunk.
    NoMatch,
    /// Fewer than r suppliers meeting the conditions had capacity left (or P3 gave
    /// the customer none).
    NotEnoughReplicas,
    /// McAfee's trade reduction dropped the customer (the price of truthfulness).
    TradeReduction,
}

impl VoidReason {
    /// The name used in outputs.
    pub fn name(self) -> &'static str {
        match self {
            VoidReason::Expired => "expired",
            VoidReason::NoMatch => "no_match",
            VoidReason::NotEnoughReplicas => "not_enough_replicas",
            VoidReason::TradeReduction => "trade_reduction",
        }
    }
}

/// An allocation Ω ([Stream-Market] §2.1): a customer, its replicas, a chunk, a price.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Allocation {
    /// The customer's id.
    pub customer: String,
    /// Supplier ids, one per replica, distinct.
    pub suppliers: Vec<String>,
    /// a_start.
    pub start: f64,
    /// a_end (a_end − a_start ≥ δ_min).
    pub end: f64,
    /// π_x: what the customer pays per million instructions.
    pub price: f64,
    /// What each supplier receives per million instructions (≤ `price`).
    pub supplier_price: f64,
    /// The slot whose market made it.
    pub slot: usize,
}

impl Allocation {
    /// Δ = a_end − a_start.
    pub fn duration(&self) -> f64 {
        self.end - self.start
    }
}

/// A void allocation: a customer, the part of its window it lost, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Void {
    /// The customer's id.
    pub customer: String,
    /// Start of the lost part.
    pub start: f64,
    /// End of the lost part.
    pub end: f64,
    /// Why.
    pub reason: VoidReason,
}

/// What one slot's market did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotReport {
    /// Slot index k.
    pub slot: usize,
    /// now_k, when the allocator matched.
    pub decided_at: f64,
    /// s_k, when service starts.
    pub start: f64,
    /// Customers in the slot's market.
    pub customers: usize,
    /// Suppliers in the slot's market.
    pub suppliers: usize,
    /// P3's welfare of the slot's market (money per second, the relaxation).
    pub lp_welfare: f64,
    /// McAfee's buyer price per million instructions (`None`: no trade).
    pub buyer_price: Option<f64>,
    /// McAfee's seller price per million instructions.
    pub seller_price: Option<f64>,
    /// Whether McAfee's trade reduction was applied.
    pub reduced: bool,
    /// Allocations made.
    pub allocations: usize,
}

/// The result of matching an offers file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchOutcome {
    /// The allocations, by slot, then customer order in the file.
    pub allocations: Vec<Allocation>,
    /// The void allocations, by time found.
    pub void: Vec<Void>,
    /// One report per slot with a market.
    pub slots: Vec<SlotReport>,
    /// Replica count r per customer (file order); `None` when unreachable (p_f = 1).
    pub replicas: Vec<Option<u32>>,
}

/// Options of [`match_offers`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchOptions {
    /// LP backend of the per-slot P3.
    pub backend: Backend,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions {
            backend: Backend::DEFAULT,
        }
    }
}

/// What the approximation of [`match_offers`] is, for outputs to say.
pub const ROUNDING_NOTE: &str = "each slot's P3 is a relaxation (fractional, MIPS only); allocations round it to r distinct suppliers per customer that have MIPS and memory free, highest bid first";

/// The replica count of a customer for an allocation of `duration`: its `replicas`,
/// or ⌈ln(1 − P(b)) / ln p_f⌉ with p_f = 1 − e^(−qΔ) ([Stream-Market] §2.2, corrected).
pub fn replicas_for(c: &CustomerOffer, p: &Parameters, duration: f64) -> Option<u32> {
    match (c.replicas, c.success_probability) {
        (Some(r), _) => Some(r),
        (None, Some(pb)) => replica_count(failure_probability(p.failure_rate, duration), pb),
        (None, None) => Some(1),
    }
}

/// Matches suppliers' and customers' offers for stream computation over time (see
/// the module doc): per slot a brokerflow market solved by P3 and priced by
/// McAfee's rule, rounded to whole replicas.
///
/// # Arguments
/// * `offers`: the suppliers' and customers' offers (time windows, MIPS, memory,
///   prices, replicas or a success probability) and the market's parameters.
/// * `options`: the LP backend of the per-slot P3.
///
/// # Returns
/// The [`MatchOutcome`]: allocations (customer, its replicas' suppliers, window,
/// prices), the void parts of customers' windows with the reason, per-slot records
/// and each customer's replica count.
///
/// # Errors
/// [`StreamError`]: more slots than the limit, or a per-slot LP that failed.
///
/// # Complexity
/// S slots, each one P3 over the due customers' eligible (customer, supplier) pairs,
/// plus O(C · S_up) per slot for the rounding, with C customers and S_up suppliers.
///
/// # Example
/// ```
/// use brokerflow_solvers::stream::{match_offers, MatchOptions, Offers};
///
/// // Each customer needs 10 MI × 20 inputs/s = 200 MIPS, one whole supplier. c1 bids
/// // 5, c2 2; s1 asks 1, s2 4: only c1 with s1 gains (c2 with s1 would gain 1 but
/// // leave c1 to s2, 1 + 1 < 4).
/// let json = r#"{"suppliers": [
///   {"id": "s1", "mips": 200, "memory": 512, "start": 0, "end": 3600, "min_price": 1},
///   {"id": "s2", "mips": 200, "memory": 512, "start": 0, "end": 3600, "min_price": 4}],
///  "customers": [
///   {"id": "c1", "mi_per_input": 10, "memory": 128, "start": 0, "end": 3600,
///    "max_price": 5, "rate": 20, "replicas": 1},
///   {"id": "c2", "mi_per_input": 10, "memory": 128, "start": 0, "end": 3600,
///    "max_price": 2, "rate": 20, "replicas": 1}],
///  "parameters": {"delta_min": 600, "delta_setup": 0, "delta_alloc": 0, "failure_rate": 0,
///   "deposit_factor": 1000, "test_inputs": 12, "slot": 600}}"#;
/// let offers = Offers::from_json_str(json, "offers.json")?;
/// let out = match_offers(&offers, &MatchOptions::default())?;
/// assert!(!out.allocations.is_empty());
/// for a in &out.allocations {
///     assert_eq!((a.customer.as_str(), a.suppliers.as_slice()), ("c1", &["s1".to_string()][..]));
///     // Individually rational: the customer pays at most its bid, the supplier gets
///     // at least its ask.
///     assert!(a.price <= 5.0 && a.supplier_price >= 1.0);
///     assert!(a.duration() >= 600.0);
/// }
/// # Ok::<_, brokerflow_solvers::stream::StreamError>(())
/// ```
///
/// Paper: [Stream-Market] §2.1, §3.3.
pub fn match_offers(offers: &Offers, options: &MatchOptions) -> Result<MatchOutcome, StreamError> {
    let p = &offers.parameters;
    let m = slots_per_chunk(p);
    let lead = p.delta_alloc + p.delta_setup;
    let horizon = offers
        .customers
        .iter()
        .map(|c| c.end)
        .fold(f64::MIN, f64::max);
    let slots = if offers.customers.is_empty() || horizon <= p.now + lead {
        0
    } else {
        ((horizon - p.now - lead) / p.slot).ceil() as usize
    };
    let (ns, nc) = (offers.suppliers.len(), offers.customers.len());
    if slots > MAX_SLOTS || m > MAX_SLOTS {
        return Err(StreamError::TooManySlots {
            slots: slots.max(m),
            limit: MAX_SLOTS,
        });
    }
    // Reserved (MIPS, memory) per supplier, only for the slots something uses.
    let mut used: Vec<Usage> = vec![Usage::new(); ns];
    let mut served_until: Vec<f64> = offers.customers.iter().map(|c| c.start).collect();
    let mut finished = vec![false; nc];
    let mut out = MatchOutcome {
        allocations: Vec::new(),
        void: Vec::new(),
        slots: Vec::new(),
        replicas: offers
            .customers
            .iter()
            .map(|c| replicas_for(c, p, slots_per_chunk(p) as f64 * p.slot))
            .collect(),
    };
    for k in 0..=slots {
        let now_k = p.now + k as f64 * p.slot;
        let s_k = now_k + lead;
        // Customers due this slot, with their chunk and replica count.
        let mut due: Vec<Due> = Vec::new();
        for (ci, c) in offers.customers.iter().enumerate() {
            if finished[ci] || served_until[ci] > s_k || c.start > s_k {
                continue;
            }
            if is_expired(c.end, now_k, p) {
                finished[ci] = true;
                let from = served_until[ci].max(c.start);
                if from < c.end {
                    out.void.push(void(c, from, c.end, VoidReason::Expired));
                }
                continue;
            }
            let (a, b) = chunk(s_k, c.end, p);
            let span = span_slots(a, b, p);
            let lost = (s_k, (s_k + p.slot).min(c.end));
            let matching: Vec<usize> = (0..ns)
                .filter(|&si| mismatches(&offers.suppliers[si], c, a, b).is_empty())
                .collect();
            if matching.is_empty() {
                out.void.push(void(c, lost.0, lost.1, VoidReason::NoMatch));
                served_until[ci] = lost.1;
                continue;
            }
            let Some(r) = replicas_for(c, p, b - a) else {
                out.void
                    .push(void(c, lost.0, lost.1, VoidReason::NotEnoughReplicas));
                served_until[ci] = lost.1;
                continue;
            };
            let free: Vec<usize> = matching
                .into_iter()
                .filter(|&si| fits(&used[si], &offers.suppliers[si], c, k, span))
                .collect();
            if (free.len() as u64) < u64::from(r) {
                out.void
                    .push(void(c, lost.0, lost.1, VoidReason::NotEnoughReplicas));
                served_until[ci] = lost.1;
                continue;
            }
            due.push(Due {
                customer: ci,
                start: a,
                end: b,
                span,
                replicas: r,
                eligible: free,
                lost,
            });
        }
        if due.is_empty() {
            continue;
        }
        let slot = solve_slot(offers, &used, k, m, &due, options)?;
        let mut report = SlotReport {
            slot: k,
            decided_at: now_k,
            start: s_k,
            customers: due.len(),
            suppliers: slot.providers.len(),
            lp_welfare: slot.welfare,
            buyer_price: None,
            seller_price: None,
            reduced: slot.clearing.reduced,
            allocations: 0,
        };
        let kept_buyers: Vec<usize> = slot.clearing.buyers.clone();
        let trades = !kept_buyers.is_empty() && !slot.clearing.sellers.is_empty();
        if trades {
            report.buyer_price = Some(slot.clearing.buyer_price);
            report.seller_price = Some(slot.clearing.seller_price);
        }
        // Who P3 served and McAfee kept; the rest are void now.
        let in_book: Vec<bool> = (0..due.len())
            .map(|u| slot.lp_served[u] > LP_FLOOR)
            .collect();
        let kept: Vec<bool> = (0..due.len())
            .map(|u| trades && kept_buyers.contains(&u))
            .collect();
        let mut order: Vec<usize> = (0..due.len()).filter(|&u| kept[u]).collect();
        order.sort_by(|&x, &y| {
            let (cx, cy) = (
                &offers.customers[due[x].customer],
                &offers.customers[due[y].customer],
            );
            cy.max_price.total_cmp(&cx.max_price).then(x.cmp(&y))
        });
        let kept_sellers: Vec<usize> = slot
            .clearing
            .sellers
            .iter()
            .map(|&j| slot.providers[j])
            .collect();
        let mut made: BTreeMap<usize, Allocation> = BTreeMap::new();
        let mut short: Vec<usize> = Vec::new();
        for &u in &order {
            let d = &due[u];
            let c = &offers.customers[d.customer];
            let mut cands: Vec<usize> = d
                .eligible
                .iter()
                .copied()
                .filter(|si| kept_sellers.contains(si))
                .collect();
            cands.sort_by(|&x, &y| {
                let fx = slot.lp_pair.get(&(u, x)).copied().unwrap_or(0.0);
                let fy = slot.lp_pair.get(&(u, y)).copied().unwrap_or(0.0);
                fy.total_cmp(&fx)
                    .then(
                        offers.suppliers[x]
                            .min_price
                            .total_cmp(&offers.suppliers[y].min_price),
                    )
                    .then(x.cmp(&y))
            });
            let chosen: Vec<usize> = {
                let mut chosen = Vec::new();
                for si in cands {
                    if chosen.len() as u64 == u64::from(d.replicas) {
                        break;
                    }
                    if fits(&used[si], &offers.suppliers[si], c, k, d.span) {
                        chosen.push(si);
                    }
                }
                chosen
            };
            if (chosen.len() as u64) < u64::from(d.replicas) {
                short.push(u);
                continue;
            }
            for &si in &chosen {
                for j in k..k + d.span {
                    let cell = used[si].entry(j).or_insert((0.0, 0.0));
                    cell.0 += c.mi_per_input * c.rate;
                    cell.1 += c.memory;
                }
            }
            made.insert(
                u,
                Allocation {
                    customer: c.id.clone(),
                    suppliers: chosen
                        .iter()
                        .map(|&si| offers.suppliers[si].id.clone())
                        .collect(),
                    start: d.start,
                    end: d.end,
                    price: slot.clearing.buyer_price,
                    supplier_price: slot.clearing.seller_price,
                    slot: k,
                },
            );
        }
        for (u, d) in due.iter().enumerate() {
            let c = &offers.customers[d.customer];
            if let Some(a) = made.remove(&u) {
                served_until[d.customer] = a.end;
                out.allocations.push(a);
                report.allocations += 1;
                continue;
            }
            let reason = if in_book[u] && !kept[u] && !short.contains(&u) {
                VoidReason::TradeReduction
            } else {
                VoidReason::NotEnoughReplicas
            };
            out.void.push(void(c, d.lost.0, d.lost.1, reason));
            served_until[d.customer] = d.lost.1;
        }
        out.slots.push(report);
    }
    Ok(out)
}

/// The most slots (and slots per chunk) one matching may span: offers files whose
/// horizon or δ_min is this many slots long are refused rather than run for ever.
pub const MAX_SLOTS: usize = 1_000_000;

/// Reserved (MIPS, memory) of one supplier by slot index.
type Usage = BTreeMap<usize, (f64, f64)>;

/// Flow below this is P3's round-off, not a trade.
const LP_FLOOR: f64 = 1e-9;

/// A customer due in a slot.
struct Due {
    customer: usize,
    start: f64,
    end: f64,
    span: usize,
    replicas: u32,
    /// Suppliers meeting the conditions with room for one replica.
    eligible: Vec<usize>,
    /// The slot's part of the window, lost if nothing is allocated.
    lost: (f64, f64),
}

/// A slot market's P3 and McAfee clearing.
struct SlotMarket {
    /// Market provider index → supplier index.
    providers: Vec<usize>,
    /// P3's welfare.
    welfare: f64,
    /// P3's served amount per due customer.
    lp_served: Vec<f64>,
    /// P3's flow per (due customer, supplier index).
    lp_pair: BTreeMap<(usize, usize), f64>,
    /// McAfee's outcome: buyers are due-customer indices, sellers provider indices.
    clearing: mcafee::Clearing,
}

fn void(c: &CustomerOffer, start: f64, end: f64, reason: VoidReason) -> Void {
    Void {
        customer: c.id.clone(),
        start,
        end,
        reason,
    }
}

/// Slots a chunk [a, b] starting at a slot start overlaps.
fn span_slots(a: f64, b: f64, p: &Parameters) -> usize {
    (((b - a) / p.slot) - 1e-9).ceil().max(1.0) as usize
}

/// Whether one more replica of `c` fits on the supplier in slots k..k+span.
fn fits(used: &Usage, s: &SupplierOffer, c: &CustomerOffer, k: usize, span: usize) -> bool {
    used.range(k..k + span)
        .map(|(_, &cell)| cell)
        .all(|(mips, mem)| mips + c.mi_per_input * c.rate <= s.mips && mem + c.memory <= s.memory)
}

/// Builds the slot's brokerflow market (module doc), solves P3 and clears McAfee.
fn solve_slot(
    offers: &Offers,
    used: &[Usage],
    k: usize,
    m: usize,
    due: &[Due],
    options: &MatchOptions,
) -> Result<SlotMarket, StreamError> {
    let mut providers: Vec<usize> = due
        .iter()
        .flat_map(|d| d.eligible.iter().copied())
        .collect();
    providers.sort_unstable();
    providers.dedup();
    let name_p = |j: usize| format!("s{j}");
    let market = Market {
        name: format!("stream slot {k}"),
        users: due
            .iter()
            .enumerate()
            .map(|(u, d)| {
                let c = &offers.customers[d.customer];
                User {
                    id: format!("c{u}"),
                    demand: f64::from(d.replicas) * c.rate,
                    requirement: c.mi_per_input,
                    valuation: c.max_price * c.mi_per_input,
                    eligible: Some(
                        d.eligible
                            .iter()
                            .map(|si| name_p(providers.binary_search(si).unwrap_or(0)))
                            .collect(),
                    ),
                }
            })
            .collect(),
        brokers: vec![Broker {
            id: "allocator".to_string(),
            capacity: None,
            cost: 0.0,
        }],
        providers: providers
            .iter()
            .enumerate()
            .map(|(j, &si)| {
                let s = &offers.suppliers[si];
                let reserved = used[si]
                    .range(k..k + m)
                    .map(|(_, c)| c.0)
                    .fold(0.0, f64::max);
                // Whole streams only: capacity in multiples of the largest stream
                // that may use it, so P3's relaxation promises less that rounding
                // cannot keep (with equal streams P3 is then a transportation
                // problem with integral data, whose optimal vertices are integral).
                let stream = due
                    .iter()
                    .filter(|d| d.eligible.contains(&si))
                    .map(|d| {
                        let c = &offers.customers[d.customer];
                        c.mi_per_input * c.rate
                    })
                    .fold(0.0, f64::max);
                let free = (s.mips - reserved).max(0.0);
                let whole = if stream > 0.0 {
                    (free / stream).floor() * stream
                } else {
                    free
                };
                Provider {
                    id: name_p(j),
                    capacity: Some(whole),
                    cost: s.min_price,
                }
            })
            .collect(),
        links: (0..due.len())
            .map(|u| Link {
                from: format!("c{u}"),
                to: "allocator".to_string(),
                bandwidth: None,
                cost: 0.0,
            })
            .chain((0..providers.len()).map(|j| Link {
                from: "allocator".to_string(),
                to: name_p(j),
                bandwidth: None,
                cost: 0.0,
            }))
            .collect(),
        prices: None,
        meta: None,
    };
    let market = market
        .validate()
        .map_err(|source| StreamError::SlotMarket {
            slot: k,
            source: Box::new(source),
        })?;
    let g = ExpandedGraph::new(&market);
    let solution = lp::max_welfare(
        &g,
        &LpOptions {
            backend: options.backend,
            prices: false,
        },
    )
    .map_err(|source| StreamError::Lp { slot: k, source })?;
    let flow = solution.flow.ok_or(StreamError::NoFlow { slot: k })?;
    let welfare = flow.welfare(&g);
    let mut lp_served = vec![0.0; due.len()];
    let mut lp_pair = BTreeMap::new();
    let mut provider_flow = vec![0.0; providers.len()];
    for (u, served) in lp_served.iter_mut().enumerate() {
        *served = flow.served(&g, u);
        for (e, x) in flow.edges(&g, u) {
            let Some((tail, _)) = g.graph.edge_endpoints(e) else {
                continue;
            };
            if let (NodeKind::Provider(j), true) = (g.node(tail).kind, x > 0.0) {
                if let Some(head) = g.graph.edge_endpoints(e).map(|(_, h)| h) {
                    if matches!(g.node(head).kind, NodeKind::Collection(_)) {
                        *lp_pair.entry((u, providers[j])).or_insert(0.0) += x;
                        provider_flow[j] += x;
                    }
                }
            }
        }
    }
    let bid = |u: usize| offers.customers[due[u].customer].max_price;
    let ask = |j: usize| offers.suppliers[providers[j]].min_price;
    let buyers: Vec<Entry> = (0..due.len())
        .filter(|&u| lp_served[u] > LP_FLOOR)
        .map(|u| Entry {
            who: u,
            price: bid(u),
        })
        .collect();
    let sellers: Vec<Entry> = (0..providers.len())
        .filter(|&j| provider_flow[j] > LP_FLOOR)
        .map(|j| Entry {
            who: j,
            price: ask(j),
        })
        .collect();
    let next_buyer = (0..due.len())
        .filter(|&u| lp_served[u] <= LP_FLOOR)
        .map(bid)
        .max_by(f64::total_cmp);
    let next_seller = (0..providers.len())
        .filter(|&j| provider_flow[j] <= LP_FLOOR)
        .filter(|&j| market.providers[j].capacity.is_some_and(|c| c > 0.0))
        .map(ask)
        .min_by(f64::total_cmp);
    let clearing = mcafee::clear(&buyers, &sellers, next_buyer, next_seller);
    Ok(SlotMarket {
        providers,
        welfare,
        lp_served,
        lp_pair,
        clearing,
    })
}
