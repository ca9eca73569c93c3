//! A replica's end of the protocol (design §10): broadcasts one message per step and
//! gathers every peer's message for a step, with a bounded wait. Messages that arrive
//! early (a faster peer already in a later step) are kept for their step.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::transport::{Event, Transport};
use super::wire::{Message, Step};
use super::{Abort, Evidence, Phase};

/// One replica's messaging: its [`Transport`], what it has received so far, and what
/// it has sent (counted).
pub struct Link {
    transport: Box<dyn Transport>,
    ids: Vec<String>,
    timeout: Duration,
    inbox: BTreeMap<(Step, usize), Message>,
    closed: Vec<bool>,
    aborted: Vec<bool>,
    malformed: Vec<bool>,
    messages: u64,
    bytes: u64,
}

impl Link {
    /// A link over `transport` among the replicas `ids` (provider ids, in replica
    /// order), waiting at most `timeout` for any one step.
    pub fn new(transport: Box<dyn Transport>, ids: Vec<String>, timeout: Duration) -> Link {
        let m = ids.len();
        Link {
            transport,
            ids,
            timeout,
            inbox: BTreeMap::new(),
            closed: vec![false; m],
            aborted: vec![false; m],
            malformed: vec![false; m],
            messages: 0,
            bytes: 0,
        }
    }

    /// This replica's index.
    pub fn me(&self) -> usize {
        self.transport.me()
    }

    /// m.
    pub fn replicas(&self) -> usize {
        self.ids.len()
    }

    /// The provider ids of the replicas.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The ids of replicas `js`.
    pub fn names(&self, js: impl IntoIterator<Item = usize>) -> Vec<String> {
        js.into_iter().map(|j| self.ids[j].clone()).collect()
    }

    /// Stays connected without sending anything until every peer not in `coalition`
    /// has closed, or the `deadline` (the `silent` deviation: a mute replica that has
    /// not crashed; its fellow silent replicas linger too, so it does not wait for
    /// them).
    pub fn linger(&mut self, deadline: Instant, coalition: &[bool]) {
        let me = self.me();
        let waiting = |l: &Link| {
            (0..l.ids.len())
                .any(|j| j != me && !l.closed[j] && !coalition.get(j).copied().unwrap_or(false))
        };
        while waiting(self) {
            match self.transport.receive(deadline) {
                Event::Timeout => return,
                Event::Closed { from } => {
                    if let Some(c) = self.closed.get_mut(from) {
                        *c = true;
                    }
                }
                Event::Message { .. } => {}
            }
        }
    }

    /// Messages and bytes sent so far (one message per peer per broadcast).
    pub fn sent(&self) -> (u64, u64) {
        (self.messages, self.bytes)
    }

    /// Broadcasts `message` to every peer.
    pub fn broadcast(&mut self, message: &Message) {
        let bytes = message.encode();
        let peers = (self.ids.len() - 1) as u64;
        self.messages += peers;
        self.bytes += peers * bytes.len() as u64;
        self.transport.broadcast(&bytes);
    }

    /// Broadcasts `own` and waits for every peer's message of the same step, at most
    /// the timeout. Returns all m messages in replica order (`own` at this replica's
    /// place), or the abort that names who is missing.
    pub fn exchange(&mut self, own: Message) -> Result<Vec<Message>, Abort> {
        let Some(step) = own.step() else {
            return Err(self.missing(Phase::Output, &[]));
        };
        self.broadcast(&own);
        let me = self.me();
        let m = self.ids.len();
        let deadline = Instant::now() + self.timeout;
        let waiting = |l: &Link| {
            (0..m)
                .filter(|&j| {
                    j != me
                        && !l.inbox.contains_key(&(step, j))
                        && !l.closed[j]
                        && !l.aborted[j]
                        && !l.malformed[j]
                })
                .count()
        };
        while waiting(self) > 0 {
            match self.transport.receive(deadline) {
                Event::Timeout => break,
                Event::Closed { from } => {
                    if let Some(c) = self.closed.get_mut(from) {
                        *c = true;
                    }
                }
                Event::Message { from, bytes } => self.file(from, &bytes),
            }
        }
        let missing: Vec<usize> = (0..m)
            .filter(|&j| j != me && !self.inbox.contains_key(&(step, j)))
            .collect();
        if !missing.is_empty() {
            return Err(self.missing(step.phase(), &missing));
        }
        Ok((0..m)
            .map(|j| {
                if j == me {
                    own.clone()
                } else {
                    self.inbox.remove(&(step, j)).unwrap_or_else(|| own.clone())
                }
            })
            .collect())
    }

    /// Files a received message under its step; a second message for the same step
    /// is ignored (the first counts), bytes that do not decode mark the sender.
    fn file(&mut self, from: usize, bytes: &[u8]) {
        if from >= self.ids.len() {
            return;
        }
        match Message::decode(bytes) {
            None => self.malformed[from] = true,
            Some(Message::Abort(_)) => self.aborted[from] = true,
            Some(msg) => {
                if let Some(step) = msg.step() {
                    self.inbox.entry((step, from)).or_insert(msg);
                }
            }
        }
    }

    /// The abort for a step whose messages from `missing` never came.
    fn missing(&self, phase: Phase, missing: &[usize]) -> Abort {
        let pick = |f: &dyn Fn(usize) -> bool| -> Vec<String> {
            missing
                .iter()
                .copied()
                .filter(|&j| f(j))
                .map(|j| self.ids[j].clone())
                .collect()
        };
        Abort {
            phase,
            evidence: Box::new(Evidence::Missing {
                malformed: pick(&|j| self.malformed[j]),
                aborted: pick(&|j| !self.malformed[j] && self.aborted[j]),
                disconnected: pick(&|j| !self.malformed[j] && !self.aborted[j] && self.closed[j]),
                silent: pick(&|j| !self.malformed[j] && !self.aborted[j] && !self.closed[j]),
                timeout_seconds: self.timeout.as_secs_f64(),
            }),
            replicas: self.names(missing.iter().copied()),
        }
    }

    /// A malformed-message abort naming `j` (a message of the right step whose
    /// content does not fit, e.g. a payment group's results for the wrong group).
    pub fn malformed(&self, phase: Phase, j: usize) -> Abort {
        Abort {
            phase,
            evidence: Box::new(Evidence::Missing {
                silent: Vec::new(),
                disconnected: Vec::new(),
                aborted: Vec::new(),
                malformed: vec![self.ids[j].clone()],
                timeout_seconds: self.timeout.as_secs_f64(),
            }),
            replicas: vec![self.ids[j].clone()],
        }
    }
}

/// Distinct values (shown) with the replicas that sent each, and the replicas
/// outside the most common value ([`holders`]).
pub type Holding = (Vec<(String, Vec<usize>)>, Vec<usize>);

/// Groups replicas by the value they sent, the largest group first (ties: the
/// group with the lowest replica first), and names the replicas outside the
/// largest group (everybody, if two groups tie for the largest). `values[j]` is replica j's value.
pub fn holders<V: PartialEq>(
    values: &[V],
    show: impl Fn(&V) -> String,
) -> (Vec<(String, Vec<usize>)>, Vec<usize>) {
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for (j, v) in values.iter().enumerate() {
        match groups.iter_mut().find(|(first, _)| values[*first] == *v) {
            Some((_, members)) => members.push(j),
            None => groups.push((j, vec![j])),
        }
    }
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    // A tie for the most common value blames everybody: nothing says who is right.
    let tie = groups.len() > 1 && groups[0].1.len() == groups[1].1.len();
    let mut outside: Vec<usize> = groups
        .iter()
        .skip(usize::from(!tie))
        .flat_map(|(_, js)| js.iter().copied())
        .collect();
    outside.sort_unstable();
    let shown = groups
        .into_iter()
        .map(|(first, js)| (show(&values[first]), js))
        .collect();
    (shown, outside)
}
