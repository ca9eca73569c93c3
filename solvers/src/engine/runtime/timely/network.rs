//! Connecting the processes of a cluster: every process listens on its address and
//! connects to every process before it, as timely's own networking does, but with a
//! deadline, a clear error for a taken port, and a handshake that refuses a peer
//! running another market or options. Each connection remembers when it drops, so a
//! failure names the process that was lost.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brokerflow_graphs::ExpandedGraph;
use sha2::{Digest, Sha256};

use super::{Cluster, TimelyError};
use crate::engine::faults::FaultPlan;
use crate::engine::EngineOptions;

/// What a connection starts with: a tag, the sender's process index, the run's key.
const HELLO: &[u8; 8] = b"bflow-t1";

/// A digest of everything the processes of a run must agree on: G′'s size, the
/// options, the cluster and the fault schedule.
pub(super) fn run_key(
    g: &ExpandedGraph,
    o: &EngineOptions,
    c: &Cluster,
    faults: Option<&FaultPlan>,
) -> [u8; 32] {
    let mut h = Sha256::new();
    if let Some(plan) = faults {
        h.update(format!("{:?}", plan.schedule()));
    }
    h.update(format!(
        "{} {} {} {} {:?} {} {:?}",
        g.graph.node_count(),
        g.graph.edge_count(),
        g.commodities.len(),
        g.pairs().len(),
        o,
        c.workers,
        c.addresses
    ));
    h.finalize().into()
}

/// The cluster's connections as seen from this process.
pub(super) struct Network {
    me: usize,
    addresses: Vec<String>,
    timeout: Duration,
    /// Processes whose connection dropped, in the order it was noticed.
    dropped: Mutex<Vec<usize>>,
}

impl Network {
    pub(super) fn new(c: &Cluster) -> Network {
        Network {
            me: c.process,
            addresses: c.addresses.clone(),
            timeout: c.timeout,
            dropped: Mutex::new(Vec::new()),
        }
    }

    /// The first process whose connection dropped, with its address.
    pub(super) fn lost(&self) -> Option<(usize, String)> {
        let d = self.dropped.lock().unwrap_or_else(|e| e.into_inner());
        d.first().map(|&p| (p, self.addresses[p].clone()))
    }

    fn dropped(&self, process: usize) {
        let mut d = self.dropped.lock().unwrap_or_else(|e| e.into_inner());
        if !d.contains(&process) {
            d.push(process);
        }
    }

    /// Connects to every other process (a socket per process, `None` for this one);
    /// nothing with one process.
    pub(super) fn connect(
        self: &Arc<Self>,
        key: [u8; 32],
    ) -> Result<Vec<Option<Link>>, TimelyError> {
        let n = self.addresses.len();
        if n <= 1 {
            return Ok(Vec::new());
        }
        let me = self.me;
        let deadline = Instant::now() + self.timeout;
        let seconds = self.timeout.as_secs();
        // Listen first (later processes connect here), then connect to earlier ones.
        let listener = if me + 1 < n {
            let listen_error = |source| TimelyError::Listen {
                process: me,
                address: self.addresses[me].clone(),
                source,
            };
            let l = TcpListener::bind(&self.addresses[me]).map_err(listen_error)?;
            l.set_nonblocking(true)
                .map_err(|source| TimelyError::Network {
                    during: "listening",
                    source,
                })?;
            Some(l)
        } else {
            None
        };
        let mut sockets: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
        for (p, socket) in sockets.iter_mut().enumerate().take(me) {
            let stream = loop {
                match TcpStream::connect(&self.addresses[p]) {
                    Ok(s) => break s,
                    Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    Err(_) => {
                        return Err(TimelyError::Connect {
                            process: p,
                            address: self.addresses[p].clone(),
                            seconds,
                        })
                    }
                }
            };
            let stream = self.greet(stream, Some(p), key, deadline)?.1;
            *socket = Some(stream);
        }
        if let Some(listener) = listener {
            while sockets[me + 1..].iter().any(Option::is_none) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream
                            .set_nonblocking(false)
                            .map_err(|source| TimelyError::Network {
                                during: "accepting",
                                source,
                            })?;
                        let (p, stream) = self.greet(stream, None, key, deadline)?;
                        if p <= me || sockets[p].is_some() {
                            return Err(TimelyError::Mismatch { process: p, me });
                        }
                        sockets[p] = Some(stream);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if Instant::now() > deadline {
                            let p = (me + 1..n).find(|&p| sockets[p].is_none()).unwrap_or(me);
                            return Err(TimelyError::Connect {
                                process: p,
                                address: self.addresses[p].clone(),
                                seconds,
                            });
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(source) => {
                        return Err(TimelyError::Network {
                            during: "accepting",
                            source,
                        })
                    }
                }
            }
        }
        Ok(sockets
            .into_iter()
            .enumerate()
            .map(|(p, s)| {
                s.map(|stream| Link {
                    stream,
                    peer: p,
                    network: Arc::clone(self),
                })
            })
            .collect())
    }

    /// The handshake: both sides send (tag, own index, key) and check the other's;
    /// `expect` is the peer's index when this side connected. Returns the peer's index.
    fn greet(
        &self,
        mut stream: TcpStream,
        expect: Option<usize>,
        key: [u8; 32],
        deadline: Instant,
    ) -> Result<(usize, TcpStream), TimelyError> {
        let io = |source: io::Error| TimelyError::Network {
            during: "handshake",
            source,
        };
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100));
        stream.set_read_timeout(Some(wait)).map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        let mut hello = Vec::with_capacity(48);
        hello.extend_from_slice(HELLO);
        hello.extend_from_slice(&(self.me as u64).to_le_bytes());
        hello.extend_from_slice(&key);
        stream.write_all(&hello).map_err(io)?;
        let mut theirs = [0u8; 48];
        let read = stream.read_exact(&mut theirs);
        let p = u64::from_le_bytes(theirs[8..16].try_into().expect("8 bytes")) as usize;
        let who = expect.unwrap_or(p);
        if read.is_err() || &theirs[..8] != HELLO || expect.is_some_and(|e| e != p) {
            return Err(match expect {
                Some(e) => TimelyError::Connect {
                    process: e,
                    address: self.addresses[e].clone(),
                    seconds: self.timeout.as_secs(),
                },
                None => TimelyError::Timely(format!(
                    "an unknown peer connected to {}",
                    self.addresses[self.me]
                )),
            });
        }
        if theirs[16..] != key || who >= self.addresses.len() {
            return Err(TimelyError::Mismatch {
                process: who,
                me: self.me,
            });
        }
        stream.set_read_timeout(None).map_err(io)?;
        Ok((p, stream))
    }
}

/// A connection to one process, for timely's network threads; notes when it drops.
pub(super) struct Link {
    stream: TcpStream,
    peer: usize,
    network: Arc<Network>,
}

impl Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.stream.read(buf);
        // End of stream or an error: after a clean shutdown too, which is harmless
        // (only a run that fails asks who dropped).
        if matches!(r, Ok(0) | Err(_)) && !buf.is_empty() {
            self.network.dropped(self.peer);
        }
        r
    }
}

impl Write for Link {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.stream.write(buf);
        if r.is_err() {
            self.network.dropped(self.peer);
        }
        r
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl timely::communication::allocator::zero_copy::stream::Stream for Link {
    fn try_clone(&self) -> io::Result<Self> {
        Ok(Link {
            stream: self.stream.try_clone()?,
            peer: self.peer,
            network: Arc::clone(&self.network),
        })
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.stream.set_nonblocking(nonblocking)
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.stream.shutdown(how)
    }
}
