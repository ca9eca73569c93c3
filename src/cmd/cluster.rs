//! Where the `timely` runtime runs (design §5 "Protocol and runtimes", §12): worker
//! threads, local processes this command starts on loopback, or processes the user
//! starts on several machines with a host file, as timely's own examples do.
//!
//! Every process runs the same command on the same market and computes the same
//! rounds; only process 0 writes outputs and prints. A process that fails ends the run
//! everywhere with an error naming it: timely does not recover from a lost process.

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use brokerflow_solvers::engine::runtime::timely::{with_cluster, Cluster, TimelyError, Traffic};
use brokerflow_solvers::engine::Runtime;

/// Workers and processes of the `timely` runtime.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// timely runtime: worker threads per process.
    #[arg(long, default_value_t = 1, value_name = "W")]
    pub workers: usize,
    /// timely runtime: run on N processes. Without --hosts this command starts the
    /// other N − 1 itself, on loopback ports --port, --port + 1, …
    #[arg(long, value_name = "N")]
    pub processes: Option<usize>,
    /// timely runtime: the first loopback port of local processes.
    #[arg(long, default_value_t = 2101, value_name = "BASE")]
    pub port: u16,
    /// timely runtime: this process's index in --hosts (0 writes the outputs).
    #[arg(long, value_name = "I")]
    pub process: Option<usize>,
    /// timely runtime: a file with one host:port per line, one line per process, the
    /// same for every process; start each process yourself with its --process I.
    #[arg(long, value_name = "HOSTFILE")]
    pub hosts: Option<PathBuf>,
    /// timely runtime: seconds to wait for another process (to connect, or in a round)
    /// before taking it as lost.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub peer_timeout: u64,
}

impl ClusterArgs {
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

/// Runs `body` on the runtime's cluster: directly unless the runtime is `timely`;
/// otherwise as this process of the cluster the arguments describe, starting local
/// processes if asked to. `body` must run the same engine runs in every process.
pub fn launch<R>(
    args: &ClusterArgs,
    runtime: Runtime,
    body: impl FnOnce(Role) -> anyhow::Result<R>,
) -> anyhow::Result<R> {
    if runtime != Runtime::Timely {
        if args.any_given() {
            bail!("--workers, --processes, --process and --hosts need --runtime timely");
        }
        return body(Role { writes: true });
    }
    let timeout = Duration::from_secs(args.peer_timeout.max(1));
    let mut children = Vec::new();
    let cluster = match (&args.hosts, args.processes) {
        (Some(file), processes) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("{}: cannot read the host file", file.display()))?;
            let addresses: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect();
            if addresses.is_empty() {
                bail!("{}: no host:port lines", file.display());
            }
            if let Some(n) = processes.filter(|&n| n != addresses.len()) {
                bail!(
                    "--processes {n} but {} lists {} processes",
                    file.display(),
                    addresses.len()
                );
            }
            let Some(process) = args.process else {
                bail!("--hosts needs --process I: this process's line in the host file, from 0");
            };
            if process >= addresses.len() {
                bail!(
                    "--process {process}: {} lists processes 0 to {}",
                    file.display(),
                    addresses.len() - 1
                );
            }
            Cluster::processes(args.workers, process, addresses)
        }
        (None, Some(n)) if n > 1 => {
            if args.process.is_some() {
                bail!("--process needs --hosts; with --processes alone this command starts every process");
            }
            let addresses = local_addresses(args.port, n)?;
            let file = host_file(&addresses)?;
            children = start_local(n, &file)?;
            Cluster::processes(args.workers, 0, addresses)
        }
        (None, _) => {
            if args.process.is_some() {
                bail!("--process needs --hosts");
            }
            Cluster::threads(args.workers)
        }
    };
    let cluster = Cluster { timeout, ..cluster };
    let role = Role {
        writes: cluster.writes_outputs(),
    };
    if !role.writes {
        silence_stdout();
    }
    let outcome = quiet_timely_panics(|| with_cluster(&cluster, || body(role)));
    if let (true, Ok((Ok(_), traffic))) = (role.writes, &outcome) {
        eprintln!("brokerflow: {}", traffic_line(&cluster, traffic));
    }
    finish(children, outcome, timeout)
}

/// What the protocol exchanged, per round, for standard error (not an output: the
/// outputs are the same on every runtime).
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
fn local_addresses(base: u16, n: usize) -> anyhow::Result<Vec<String>> {
    (0..n)
        .map(|i| {
            let port = u16::try_from(usize::from(base) + i)
                .ok()
                .context("--port + --processes passes port 65535")?;
            let address = format!("127.0.0.1:{port}");
            TcpListener::bind(&address).with_context(|| {
                format!("port {port} is taken (process {i} listens on {address}); pick free ports with --port BASE")
            })?;
            Ok(address)
        })
        .collect()
}

/// A host file in the temporary directory for the local processes.
fn host_file(addresses: &[String]) -> anyhow::Result<PathBuf> {
    let path = std::env::temp_dir().join(format!(
        "brokerflow-hosts-{}-{}.txt",
        std::process::id(),
        addresses[0].replace([':', '.'], "_")
    ));
    std::fs::write(&path, addresses.join("\n") + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// A local process of the cluster and what it said on standard error.
struct Local {
    index: usize,
    child: Child,
    stderr: Arc<Mutex<String>>,
}

/// Starts processes 1..n as this same command with `--process i --hosts FILE`.
fn start_local(n: usize, hosts: &std::path::Path) -> anyhow::Result<Vec<Local>> {
    let exe = std::env::current_exe().context("finding this program to start its processes")?;
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
            Err(e) => {
                kill_all(&mut children);
                return Err(e).with_context(|| format!("starting process {index}"));
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

/// The last line a local process wrote to standard error (its error message).
fn said(c: &Local) -> String {
    let text = c.stderr.lock().map(|s| s.clone()).unwrap_or_default();
    text.lines()
        .rev()
        .find(|l| l.starts_with("brokerflow:"))
        .or_else(|| text.lines().last())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Waits for the local processes (killing them all if the run failed) and names a
/// process that failed.
fn finish<R>(
    mut children: Vec<Local>,
    outcome: Result<(anyhow::Result<R>, Traffic), TimelyError>,
    timeout: Duration,
) -> anyhow::Result<R> {
    let failed_child = |children: &mut Vec<Local>| -> Option<String> {
        children.iter_mut().find_map(|c| match c.child.try_wait() {
            Ok(Some(status)) if !status.success() => Some(format!(
                "process {} failed ({status}): {}",
                c.index,
                said(c)
            )),
            _ => None,
        })
    };
    let result = match outcome {
        Ok((Ok(r), _)) => Ok(r),
        Ok((Err(e), _)) => Err(e),
        Err(e) => Err(anyhow::Error::new(e)),
    };
    match result {
        Ok(r) => {
            let deadline = Instant::now() + timeout;
            for c in children.iter_mut() {
                loop {
                    match c.child.try_wait() {
                        Ok(Some(status)) if status.success() => break,
                        Ok(Some(status)) => {
                            let message =
                                format!("process {} failed ({status}): {}", c.index, said(c));
                            kill_all(&mut children);
                            bail!(message);
                        }
                        _ if Instant::now() > deadline => {
                            let index = c.index;
                            kill_all(&mut children);
                            bail!(
                                "process {index} did not finish within {} s",
                                timeout.as_secs()
                            );
                        }
                        _ => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            }
            Ok(r)
        }
        Err(e) => {
            // Give a failing child a moment to report why, then end every one.
            std::thread::sleep(Duration::from_millis(200));
            let child = failed_child(&mut children);
            kill_all(&mut children);
            match child {
                Some(c) => Err(e.context(c)),
                None => Err(e),
            }
        }
    }
}

/// A process other than 0 prints nothing: its standard output goes nowhere.
fn silence_stdout() {
    use std::os::unix::io::AsRawFd;
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 on two valid descriptors; stdout stays open (onto /dev/null).
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
        }
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
