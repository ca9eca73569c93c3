//! Where the `timely` runtime runs \[Timely\]: worker threads, local processes started
//! on loopback, or processes the user starts on several machines with a host file, as
//! timely's own examples do.
//!
//! Every process runs the same command on the same market and computes the same
//! rounds; only process 0 writes outputs ([`Role::writes`]). A process that fails ends
//! the run everywhere with an error naming it: timely does not recover from a lost
//! process.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use thiserror::Error;

use super::{with_cluster, Cluster, TimelyError, Traffic};
use crate::engine::Runtime;

/// Workers and processes of the `timely` runtime, as the command line gives them
/// (each field's doc is its flag's help).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ClusterSpec {
    /// timely runtime: worker threads per process.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1, value_name = "W"))]
    pub workers: usize,
    /// timely runtime: run on N processes. Without --hosts this command starts the
    /// other N − 1 itself, on loopback ports --port, --port + 1, …
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub processes: Option<usize>,
    /// timely runtime: the first loopback port of local processes.
    #[cfg_attr(
        feature = "clap",
        arg(long, default_value_t = 2101, value_name = "BASE")
    )]
    pub port: u16,
    /// timely runtime: this process's index in --hosts (0 writes the outputs).
    #[cfg_attr(feature = "clap", arg(long, value_name = "I"))]
    pub process: Option<usize>,
    /// timely runtime: a file with one host:port per line, one line per process, the
    /// same for every process; start each process yourself with its --process I.
    #[cfg_attr(feature = "clap", arg(long, value_name = "HOSTFILE"))]
    pub hosts: Option<PathBuf>,
    /// timely runtime: seconds to wait for another process (to connect, or in a round)
    /// before taking it as lost.
    #[cfg_attr(
        feature = "clap",
        arg(long, default_value_t = 120, value_name = "SECONDS")
    )]
    pub peer_timeout: u64,
}

impl Default for ClusterSpec {
    /// One process with one worker.
    fn default() -> ClusterSpec {
        ClusterSpec {
            workers: 1,
            processes: None,
            port: 2101,
            process: None,
            hosts: None,
            peer_timeout: 120,
        }
    }
}

impl ClusterSpec {
    fn any_given(&self) -> bool {
        self.workers != 1
            || self.processes.is_some()
            || self.process.is_some()
            || self.hosts.is_some()
    }
}

/// What this process does in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    /// Whether this process writes outputs and prints (process 0, or no cluster).
    pub writes: bool,
}

/// A process of the cluster that failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("process {index} failed ({status}): {said}")]
pub struct ProcessFailed {
    /// Its index.
    pub index: usize,
    /// How it ended.
    pub status: ExitStatus,
    /// The last line it wrote to standard error (its error message).
    pub said: String,
}

/// Why the cluster could not be set up, or ended the run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// Cluster settings on another runtime.
    #[error("--workers, --processes, --process and --hosts need --runtime timely")]
    NeedsTimely,
    /// The host file cannot be read.
    #[error("{path}: cannot read the host file")]
    HostFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The host file lists no process.
    #[error("{path}: no host:port lines")]
    NoHosts {
        /// The file.
        path: String,
    },
    /// A process count other than the host file's.
    #[error("--processes {given} but {path} lists {listed} processes")]
    ProcessCount {
        /// The count given.
        given: usize,
        /// The file.
        path: String,
        /// The processes it lists.
        listed: usize,
    },
    /// A host file without this process's index.
    #[error("--hosts needs --process I: this process's line in the host file, from 0")]
    NeedsProcess,
    /// An index past the host file's end.
    #[error("--process {process}: {path} lists processes 0 to {last}")]
    ProcessOutOfRange {
        /// The index given.
        process: usize,
        /// The file.
        path: String,
        /// The last index it lists.
        last: usize,
    },
    /// An index without a host file (`local`: with a local process count).
    #[error("--process needs --hosts{}", if *.local { "; with --processes alone this command starts every process" } else { "" })]
    ProcessWithoutHosts {
        /// Whether a local process count was given.
        local: bool,
    },
    /// Local ports past 65535.
    #[error("--port + --processes passes port 65535")]
    PortRange,
    /// A local port that is taken.
    #[error("port {port} is taken (process {index} listens on {address}); pick free ports with --port BASE")]
    PortTaken {
        /// The port.
        port: u16,
        /// The process that would listen on it.
        index: usize,
        /// Its address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// The local host file cannot be written.
    #[error("writing {path}")]
    WriteHostFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// This program cannot be found to start its processes.
    #[error("finding this program to start its processes")]
    FindProgram(#[source] std::io::Error),
    /// A local process cannot be started.
    #[error("starting process {index}")]
    Start {
        /// Its index.
        index: usize,
        /// Why.
        source: std::io::Error,
    },
    /// A local process failed after this one finished.
    #[error(transparent)]
    Process(#[from] ProcessFailed),
    /// A local process did not finish in time after this one did.
    #[error("process {index} did not finish within {seconds} s")]
    Unfinished {
        /// Its index.
        index: usize,
        /// The timeout.
        seconds: u64,
    },
    /// A timely run failed.
    #[error(transparent)]
    Timely(#[from] TimelyError),
    /// A timely run failed, and a local process failed with it (named first).
    #[error("{failed}")]
    TimelyAndProcess {
        /// The local process.
        failed: ProcessFailed,
        /// The run's failure.
        source: TimelyError,
    },
}

/// Why a launched body did not give its result: the cluster, or the body's own error
/// (with the local process that failed with it, if any).
#[derive(Debug)]
pub enum LaunchError<E> {
    /// The cluster failed.
    Cluster(ClusterError),
    /// The body failed.
    Body {
        /// Its error.
        error: E,
        /// A local process that failed too (likely why).
        failed: Option<ProcessFailed>,
    },
}

/// What a launched body gave, and what the protocol exchanged (process 0 of a timely
/// cluster only).
#[derive(Debug)]
pub struct Launched<R> {
    /// The body's result.
    pub value: R,
    /// The protocol's traffic per round, in words, for standard error (not an output:
    /// the outputs are the same on every runtime).
    pub traffic: Option<String>,
}

/// Runs `body` on the runtime's cluster: directly unless the runtime is `timely`;
/// otherwise as this process of the cluster `spec` describes, starting local
/// processes (this same program, with `--process i --hosts FILE` added to its
/// arguments) if asked to.
///
/// # Arguments
/// * `spec` — workers and processes; `runtime` — the engine's runtime;
/// * `body` — what runs, told its [`Role`]; it must run the same engine runs in every
///   process.
///
/// # Returns
/// The body's result and the traffic, or the cluster's or the body's error; a local
/// process that failed is named.
///
/// # Complexity
/// The body's, plus starting and waiting for the local processes.
///
/// # Example
/// ```
/// use brokerflow_solvers::engine::runtime::timely::launch::{launch, ClusterSpec};
/// use brokerflow_solvers::engine::Runtime;
///
/// let done = launch(&ClusterSpec::default(), Runtime::Flat, |role| Ok::<_, ()>(role.writes));
/// assert!(done.unwrap().value);
/// ```
///
/// Paper: \[Timely\] (its processes and workers).
pub fn launch<R, E>(
    spec: &ClusterSpec,
    runtime: Runtime,
    body: impl FnOnce(Role) -> Result<R, E>,
) -> Result<Launched<R>, LaunchError<E>> {
    if runtime != Runtime::Timely {
        if spec.any_given() {
            return Err(LaunchError::Cluster(ClusterError::NeedsTimely));
        }
        return match body(Role { writes: true }) {
            Ok(value) => Ok(Launched {
                value,
                traffic: None,
            }),
            Err(error) => Err(LaunchError::Body {
                error,
                failed: None,
            }),
        };
    }
    let timeout = Duration::from_secs(spec.peer_timeout.max(1));
    let mut children = Vec::new();
    let cluster = plan(spec, &mut children).map_err(LaunchError::Cluster)?;
    let cluster = Cluster { timeout, ..cluster };
    let role = Role {
        writes: cluster.writes_outputs(),
    };
    let outcome = quiet_timely_panics(|| with_cluster(&cluster, || body(role)));
    let traffic = match (role.writes, &outcome) {
        (true, Ok((Ok(_), t))) => Some(traffic_line(&cluster, t)),
        _ => None,
    };
    finish(children, outcome, timeout).map(|value| Launched { value, traffic })
}

/// The cluster `spec` describes, starting the local processes it asks for.
fn plan(spec: &ClusterSpec, children: &mut Vec<Local>) -> Result<Cluster, ClusterError> {
    match (&spec.hosts, spec.processes) {
        (Some(file), processes) => {
            let path = file.display().to_string();
            let text = std::fs::read_to_string(file).map_err(|source| ClusterError::HostFile {
                path: path.clone(),
                source,
            })?;
            let addresses: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect();
            if addresses.is_empty() {
                return Err(ClusterError::NoHosts { path });
            }
            if let Some(given) = processes.filter(|&n| n != addresses.len()) {
                let listed = addresses.len();
                return Err(ClusterError::ProcessCount {
                    given,
                    path,
                    listed,
                });
            }
            let process = spec.process.ok_or(ClusterError::NeedsProcess)?;
            if process >= addresses.len() {
                let last = addresses.len() - 1;
                return Err(ClusterError::ProcessOutOfRange {
                    process,
                    path,
                    last,
                });
            }
            Ok(Cluster::processes(spec.workers, process, addresses))
        }
        (None, Some(n)) if n > 1 => {
            if spec.process.is_some() {
                return Err(ClusterError::ProcessWithoutHosts { local: true });
            }
            let addresses = local_addresses(spec.port, n)?;
            let file = host_file(&addresses)?;
            *children = start_local(n, &file)?;
            Ok(Cluster::processes(spec.workers, 0, addresses))
        }
        (None, _) => {
            if spec.process.is_some() {
                return Err(ClusterError::ProcessWithoutHosts { local: false });
            }
            Ok(Cluster::threads(spec.workers))
        }
    }
}

/// What the protocol exchanged, per round, in words.
fn traffic_line(cluster: &Cluster, t: &Traffic) -> String {
    let per_round = |x: u64| x as f64 / t.rounds.max(1) as f64;
    format!(
        "timely on {} worker(s) x {} process(es): {} rounds; per round {:.0} messages, {:.0} of them to another process, {:.0} payload bytes to other processes",
        cluster.workers,
        cluster.process_count(),
        t.rounds,
        per_round(t.messages),
        per_round(t.remote_messages),
        per_round(t.remote_bytes)
    )
}

/// Loopback addresses from `base`, refusing a port that is taken.
fn local_addresses(base: u16, n: usize) -> Result<Vec<String>, ClusterError> {
    (0..n)
        .map(|index| {
            let port =
                u16::try_from(usize::from(base) + index).map_err(|_| ClusterError::PortRange)?;
            let address = format!("127.0.0.1:{port}");
            match TcpListener::bind(&address) {
                Ok(_) => Ok(address),
                Err(source) => Err(ClusterError::PortTaken {
                    port,
                    index,
                    address,
                    source,
                }),
            }
        })
        .collect()
}

/// A host file in the temporary directory for the local processes.
fn host_file(addresses: &[String]) -> Result<PathBuf, ClusterError> {
    let path = std::env::temp_dir().join(format!(
        "brokerflow-hosts-{}-{}.txt",
        std::process::id(),
        addresses[0].replace([':', '.'], "_")
    ));
    std::fs::write(&path, addresses.join("\n") + "\n").map_err(|source| {
        ClusterError::WriteHostFile {
            path: path.display().to_string(),
            source,
        }
    })?;
    Ok(path)
}

/// A local process of the cluster and what it said on standard error.
struct Local {
    index: usize,
    child: Child,
    stderr: Arc<Mutex<String>>,
}

/// Starts processes 1..n as this same program with `--process i --hosts FILE`.
fn start_local(n: usize, hosts: &Path) -> Result<Vec<Local>, ClusterError> {
    let exe = std::env::current_exe().map_err(ClusterError::FindProgram)?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut children: Vec<Local> = Vec::new();
    for index in 1..n {
        let spawned = Command::new(&exe)
            .args(&args)
            .arg("--process")
            .arg(index.to_string())
            .arg("--hosts")
            .arg(hosts)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(source) => {
                kill_all(&mut children);
                return Err(ClusterError::Start { index, source });
            }
        };
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&text);
                }
            });
        }
        children.push(Local {
            index,
            child,
            stderr,
        });
    }
    Ok(children)
}

fn kill_all(children: &mut [Local]) {
    for c in children.iter_mut() {
        let _ = c.child.kill();
        let _ = c.child.wait();
    }
}

/// A local process that ended with `status`, and the last line it wrote to standard
/// error (its error message).
fn failure(c: &Local, status: ExitStatus) -> ProcessFailed {
    let text = c.stderr.lock().map(|s| s.clone()).unwrap_or_default();
    let said = text
        .lines()
        .rev()
        .find(|l| l.starts_with("brokerflow:"))
        .or_else(|| text.lines().last())
        .unwrap_or("")
        .trim()
        .to_string();
    ProcessFailed {
        index: c.index,
        status,
        said,
    }
}

/// Waits for the local processes (killing them all if the run failed) and names a
/// process that failed.
fn finish<R, E>(
    mut children: Vec<Local>,
    outcome: Result<(Result<R, E>, Traffic), TimelyError>,
    timeout: Duration,
) -> Result<R, LaunchError<E>> {
    let failed = |e: &mut Vec<Local>| -> Option<ProcessFailed> {
        // Give a failing child a moment to report why, then end every one.
        std::thread::sleep(Duration::from_millis(200));
        let f = e.iter_mut().find_map(|c| match c.child.try_wait() {
            Ok(Some(status)) if !status.success() => Some(failure(c, status)),
            _ => None,
        });
        kill_all(e);
        f
    };
    match outcome {
        Ok((Ok(r), _)) => {
            let deadline = Instant::now() + timeout;
            for i in 0..children.len() {
                loop {
                    let e = match children[i].child.try_wait() {
                        Ok(Some(status)) if status.success() => break,
                        Ok(Some(status)) => failure(&children[i], status).into(),
                        _ if Instant::now() > deadline => ClusterError::Unfinished {
                            index: children[i].index,
                            seconds: timeout.as_secs(),
                        },
                        _ => {
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                    };
                    kill_all(&mut children);
                    return Err(LaunchError::Cluster(e));
                }
            }
            Ok(r)
        }
        Ok((Err(error), _)) => Err(LaunchError::Body {
            error,
            failed: failed(&mut children),
        }),
        Err(source) => Err(LaunchError::Cluster(match failed(&mut children) {
            Some(failed) => ClusterError::TimelyAndProcess { failed, source },
            None => ClusterError::Timely(source),
        })),
    }
}

/// Runs `f` without the panic messages of timely's threads: when a process is lost,
/// timely's network and worker threads panic by design, and the run reports the
/// loss as one error instead.
fn quiet_timely_panics<T>(f: impl FnOnce() -> T) -> T {
    let previous = Arc::new(std::panic::take_hook());
    let inner = Arc::clone(&previous);
    std::panic::set_hook(Box::new(move |info| {
        let timely = std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("timely:"));
        if !timely {
            inner(info);
        }
    }));
    let r = f();
    let _ = std::panic::take_hook();
    if let Ok(hook) = Arc::try_unwrap(previous) {
        std::panic::set_hook(hook);
    }
    r
}
