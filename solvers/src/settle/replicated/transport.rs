//! How replicas talk (design §10): a [`Transport`] delivers one replica's broadcasts
//! to every other replica. Replicas share nothing else, so a run over in-process
//! [`Channels`] and one over loopback TCP ([`super::tcp::Tcp`]) are the same
//! protocol; only the delivery differs.
//!
//! A transport broadcasts: the same bytes go to every peer. A replica therefore
//! cannot tell different peers different things (in [Dist-Auctioneer]'s terms, input
//! validation and data transfer "broadcast" their values), which is what makes every
//! honest replica see the same messages and output the same thing.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Instant;

/// What a replica's transport hands it next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Bytes broadcast by replica `from` (an index into the replica list).
    Message {
        /// The sender.
        from: usize,
        /// The encoded [`super::wire::Message`].
        bytes: Vec<u8>,
    },
    /// Replica `from` closed its end: nothing more will come from it.
    Closed {
        /// The replica gone.
        from: usize,
    },
    /// Nothing arrived before the deadline.
    Timeout,
}

/// One replica's connection to all the others (design §10).
pub trait Transport: Send {
    /// This replica's index.
    fn me(&self) -> usize;
    /// Sends `bytes` to every other replica. Delivery to a peer that is gone fails
    /// silently: its absence shows up on the receiving side.
    fn broadcast(&mut self, bytes: &[u8]);
    /// The next event, waiting at most until `deadline`.
    fn receive(&mut self, deadline: Instant) -> Event;
}

/// In-process channels: one queue per replica, fed by every other replica. Dropping
/// a replica's end tells every peer it is closed, as a closed socket would.
pub struct Channels {
    me: usize,
    peers: Vec<Option<Sender<Event>>>,
    inbox: Receiver<Event>,
}

impl Channels {
    /// Connected ends for `m` replicas, in replica order.
    pub fn connect(m: usize) -> Vec<Channels> {
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..m).map(|_| mpsc::channel()).unzip();
        receivers
            .into_iter()
            .enumerate()
            .map(|(me, inbox)| Channels {
                me,
                peers: senders
                    .iter()
                    .enumerate()
                    .map(|(j, s)| (j != me).then(|| s.clone()))
                    .collect(),
                inbox,
            })
            .collect()
    }
}

impl Transport for Channels {
    fn me(&self) -> usize {
        self.me
    }

    fn broadcast(&mut self, bytes: &[u8]) {
        for s in self.peers.iter().flatten() {
            let _ = s.send(Event::Message {
                from: self.me,
                bytes: bytes.to_vec(),
            });
        }
    }

    fn receive(&mut self, deadline: Instant) -> Event {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.inbox.recv_timeout(wait) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => Event::Timeout,
        }
    }
}

impl Drop for Channels {
    fn drop(&mut self) {
        for s in self.peers.iter().flatten() {
            let _ = s.send(Event::Closed { from: self.me });
        }
    }
}
