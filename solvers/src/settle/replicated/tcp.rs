//! Replicas over real TCP sockets on loopback (design §10): every replica has its own
//! listener (bound to port 0, so parallel runs never collide), one outgoing
//! connection to every peer for its broadcasts and one incoming connection from every
//! peer, read by a thread of its own. Frames are a 4-byte little-endian length and a
//! [`super::wire::Message`]; a connection opens with the sender's index.
//!
//! Every wait is bounded: connecting, accepting and reading the first frame by the
//! run's timeout; afterwards a peer that closes its socket (a killed replica) shows
//! up at once as [`Event::Closed`], and one that stays connected but mute as a
//! timeout at the step that waits for it.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use super::transport::{Event, Transport};
use super::ReplicationError;

/// Frames longer than this are refused as malformed (a bid vector of a million
/// participants is 9 MB).
const MAX_FRAME: usize = 64 << 20;

/// The listeners of a TCP run, bound before any replica starts so every address is
/// known.
pub struct Listeners {
    listeners: Vec<TcpListener>,
    addresses: Vec<SocketAddr>,
}

impl Listeners {
    /// Binds `m` listeners on 127.0.0.1, port 0 (the system picks a free port).
    pub fn bind(m: usize) -> Result<Listeners, ReplicationError> {
        let mut listeners = Vec::with_capacity(m);
        let mut addresses = Vec::with_capacity(m);
        for _ in 0..m {
            let l = TcpListener::bind("127.0.0.1:0").map_err(io("binding a loopback listener"))?;
            addresses.push(l.local_addr().map_err(io("reading a listener's address"))?);
            listeners.push(l);
        }
        Ok(Listeners {
            listeners,
            addresses,
        })
    }

    /// One [`TcpSetup`] per replica, in replica order, each to be connected in its
    /// own worker ([`TcpSetup::connect`]).
    pub fn into_setups(self) -> Vec<TcpSetup> {
        let addresses = self.addresses;
        self.listeners
            .into_iter()
            .enumerate()
            .map(|(me, listener)| TcpSetup {
                me,
                listener,
                addresses: addresses.clone(),
            })
            .collect()
    }
}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> ReplicationError {
    move |source| ReplicationError::Transport { what, source }
}

/// A replica's listener and its peers' addresses, not yet connected.
pub struct TcpSetup {
    me: usize,
    listener: TcpListener,
    addresses: Vec<SocketAddr>,
}

impl TcpSetup {
    /// Connects to every peer and accepts every peer's connection, each wait bounded
    /// by `timeout`. A peer that never connects is simply absent: the protocol then
    /// sees it as closed and names it.
    pub fn connect(self, timeout: Duration) -> Tcp {
        let m = self.addresses.len();
        let (events, inbox) = mpsc::channel();
        let mut outgoing: Vec<Option<TcpStream>> = (0..m).map(|_| None).collect();
        for (j, addr) in self.addresses.iter().enumerate() {
            if j == self.me {
                continue;
            }
            if let Ok(mut s) = TcpStream::connect_timeout(addr, timeout) {
                let _ = s.set_nodelay(true);
                let _ = s.set_write_timeout(Some(timeout));
                if s.write_all(&(self.me as u32).to_le_bytes()).is_ok() {
                    outgoing[j] = Some(s);
                }
            }
        }
        let mut incoming = Vec::new();
        let deadline = Instant::now() + timeout;
        let mut seen = vec![false; m];
        seen[self.me] = true;
        let _ = self.listener.set_nonblocking(true);
        while seen.iter().any(|s| !s) && Instant::now() < deadline {
            match self.listener.accept() {
                Ok((mut s, _)) => {
                    let _ = s.set_nonblocking(false);
                    let _ = s.set_read_timeout(Some(timeout));
                    let mut hello = [0u8; 4];
                    if s.read_exact(&mut hello).is_err() {
                        continue;
                    }
                    let from = u32::from_le_bytes(hello) as usize;
                    if from >= m || seen[from] {
                        continue;
                    }
                    seen[from] = true;
                    // After the hello, reads block until the peer closes; our Drop shuts
                    // the socket down, which ends the read.
                    let _ = s.set_read_timeout(None);
                    if let Ok(c) = s.try_clone() {
                        incoming.push(c);
                    }
                    let tx = events.clone();
                    std::thread::spawn(move || read_frames(s, from, tx));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(_) => break,
            }
        }
        // Peers that never connected are gone from the start.
        for (from, _) in seen.iter().enumerate().filter(|(_, s)| !**s) {
            let _ = events.send(Event::Closed { from });
        }
        Tcp {
            me: self.me,
            outgoing,
            incoming,
            inbox,
        }
    }
}

/// Reads frames from one peer until it closes, then reports it closed.
fn read_frames(mut s: TcpStream, from: usize, tx: Sender<Event>) {
    loop {
        let mut len = [0u8; 4];
        if s.read_exact(&mut len).is_err() {
            break;
        }
        let n = u32::from_le_bytes(len) as usize;
        if n > MAX_FRAME {
            break;
        }
        let mut bytes = vec![0u8; n];
        if s.read_exact(&mut bytes).is_err() {
            break;
        }
        if tx.send(Event::Message { from, bytes }).is_err() {
            return;
        }
    }
    let _ = tx.send(Event::Closed { from });
}

/// A replica's TCP connections to all its peers.
pub struct Tcp {
    me: usize,
    outgoing: Vec<Option<TcpStream>>,
    incoming: Vec<TcpStream>,
    inbox: Receiver<Event>,
}

impl Transport for Tcp {
    fn me(&self) -> usize {
        self.me
    }

    fn broadcast(&mut self, bytes: &[u8]) {
        let mut frame = Vec::with_capacity(bytes.len() + 4);
        frame.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        frame.extend_from_slice(bytes);
        for slot in &mut self.outgoing {
            let failed = slot.as_mut().is_some_and(|s| s.write_all(&frame).is_err());
            if failed {
                *slot = None;
            }
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

impl Drop for Tcp {
    fn drop(&mut self) {
        for s in self.outgoing.iter().flatten() {
            let _ = s.shutdown(Shutdown::Write);
        }
        for s in &self.incoming {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}
