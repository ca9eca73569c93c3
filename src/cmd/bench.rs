//! `brokerflow bench lp`: LP build and solve times per backend on generated markets
//! of growing size and on the imported planar30 benchmark (design §4).
//!
//! Each measurement runs in a child process (`brokerflow bench lp-one …`, hidden), so
//! one that exceeds the time limit is killed cleanly and larger sizes for that
//! backend are skipped.
//!
//! `brokerflow bench engine`: the distributed engine's cost per round against the
//! usable (edge, commodity) pairs of G′ (design §5), per variant, runtime and thread
//! count, on generated markets of growing size, in one process; and the engine's
//! memory per pair.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use brokerflow_graphs::formats::mcf::parse_mcf;
use brokerflow_graphs::generate::{generate, GeneratorConfig};
use brokerflow_graphs::{ExpandedGraph, ValidMarket};
use brokerflow_solvers::engine::runtime::timely::{with_cluster, Cluster, Traffic};
use brokerflow_solvers::engine::{Engine, EngineOptions, Injection, Observers, Runtime, Variant};
use brokerflow_solvers::lp::{self, Backend, LpOptions, Objective};
use serde::{Deserialize, Serialize};

use crate::cmd::solve::ObjectiveArg;

/// The sizes (users, brokers, providers) of the LP benchmark: small to mid-size
/// markets, then the scale sizes of experiments/scale.toml (brokers K/40,
/// providers K/20).
const SIZES: [(usize, usize, usize); 6] = [
    (20, 5, 5),
    (200, 20, 20),
    (1000, 50, 50),
    (5000, 100, 100),
    (20000, 500, 1000),
    (100000, 2500, 5000),
];

const PLANAR30: &str = include_str!("../../graphs/markets/mcf/planar30.txt");

/// Benchmarks: LP build and solve time per backend and market size.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

/// What to benchmark.
#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// LP build and solve time and peak memory (max RSS of the measuring process)
    /// for generated markets of (users, brokers, providers) = (20,5,5), (200,20,20),
    /// (1000,50,50), (5000,100,100), (20000,500,1000), (100000,2500,5000) and the
    /// imported planar30 benchmark, for every LP backend in this build, side by
    /// side. A measurement over the time limit is stopped and larger sizes for that
    /// backend skipped.
    Lp(LpArgs),
    /// brokerflow's P3 against an analyst's scipy script, whole processes side by
    /// side on the same generated markets (skipped without python3 and scipy).
    Peers(super::bench_peers::PeersArgs),
    /// Engine cost per round: for generated markets of growing size (default
    /// economics; brokers and providers scaled with the users as in
    /// experiments/scale.toml), every variant in demand mode runs a fixed number of
    /// rounds on every runtime and thread count asked for; prints the usable (edge,
    /// commodity) pairs, ns per round, ns per round per pair, the speed-up over one
    /// thread and the engine's bytes per pair, so linearity in the pairs can be read
    /// off one run.
    Engine(EngineBenchArgs),
    /// One measurement (used by `bench lp`; prints one JSON line).
    #[command(hide = true)]
    LpOne(OneArgs),
}

/// Options of `bench lp`.
#[derive(Debug, clap::Args)]
pub struct LpArgs {
    /// Which LPs to time, comma-separated. On planar30 (valuations 0, so P3 serves
    /// nothing) `welfare` is replaced by `utility`, its min-cost flow.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "concurrent,welfare"
    )]
    pub objective: Vec<ObjectiveArg>,
    /// Seconds allowed per measurement.
    #[arg(long, default_value_t = 60.0)]
    pub time_limit: f64,
    /// Backends to time, comma-separated (default: every backend in this build).
    #[arg(long, value_delimiter = ',')]
    pub backends: Vec<Backend>,
    /// Generator seed of the benchmark markets.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the rows as JSON lines instead of a Markdown table.
    #[arg(long)]
    pub json: bool,
}

/// Options of `bench engine`.
#[derive(Debug, clap::Args)]
pub struct EngineBenchArgs {
    /// Users of each market, comma-separated, each ≥ 1; brokers = max(5, users/40)
    /// and providers = max(5, users/20) (experiments/scale.toml: 2 000 / 50 / 100).
    #[arg(long, value_delimiter = ',', default_value = "20,100,500,2000")]
    pub sizes: Vec<usize>,
    /// Rounds timed per (market, variant, runtime, threads), after the engine is set up
    /// (and after an untimed warm-up of up to 20 fair rounds per market and runtime); a
    /// run that converges earlier is timed over the rounds it ran (a run needs at
    /// least two windows to converge).
    #[arg(long, default_value_t = 200)]
    pub rounds: usize,
    /// Runtimes to time, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "flat,nodes")]
    pub runtimes: Vec<crate::cmd::args::RuntimeArg>,
    /// Thread counts to time (a rayon pool of each size; for the timely runtime, its
    /// workers per process), comma-separated, each ≥ 1.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub threads: Vec<usize>,
    /// timely runtime: process counts to time, comma-separated. Processes beyond the
    /// first are threads of this program, each its own timely process with its own
    /// engine, connected over loopback TCP on ports the OS hands out.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub processes: Vec<usize>,
    /// Variants to time, comma-separated (default: every variant).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub variants: Vec<crate::cmd::args::VariantArg>,
    /// Generator seed of the benchmark markets.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the rows as JSON lines instead of a Markdown table.
    #[arg(long)]
    pub json: bool,
}

/// Options of one measurement.
#[derive(Debug, clap::Args)]
pub struct OneArgs {
    #[arg(long, value_enum)]
    pub objective: ObjectiveArg,
    #[arg(long)]
    pub backend: Backend,
    /// `planar30` or `K,B,P`.
    #[arg(long)]
    pub market: String,
    #[arg(long)]
    pub seed: u64,
}

/// One row of the benchmark table.
#[derive(Debug, Serialize, Deserialize)]
struct Row {
    market: String,
    objective: String,
    backend: String,
    variables: usize,
    constraints: usize,
    usable_pairs: usize,
    build_seconds: f64,
    solve_seconds: f64,
    objective_value: Option<f64>,
    /// Peak resident memory of the measuring process (market, G′, LP, solve), MiB.
    #[serde(default)]
    max_rss_mib: Option<f64>,
    /// CPU seconds (user + system) of the solve, all threads: wall-clock times
    /// mislead on a shared machine.
    #[serde(default)]
    solve_cpu_seconds: f64,
}

/// Runs `bench`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.what {
        What::Lp(a) => run_lp(a),
        What::Engine(a) => run_engine(a),
        What::Peers(a) => super::bench_peers::run(a),
        What::LpOne(a) => {
            let row = measure(&a)?;
            println!("{}", serde_json::to_string(&row)?);
            Ok(())
        }
    }
}

fn bench_market(name: &str, seed: u64) -> anyhow::Result<ValidMarket> {
    if name == "planar30" {
        return Ok(parse_mcf(PLANAR30, "planar30.txt")?);
    }
    let sizes: Vec<usize> = name
        .split(',')
        .map(|s| s.parse())
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad market size '{name}'"))?;
    let [users, brokers, providers] = sizes[..] else {
        anyhow::bail!("bad market size '{name}': expected K,B,P");
    };
    let config = GeneratorConfig {
        users,
        brokers,
        providers,
        ..GeneratorConfig::default()
    };
    Ok(generate(&config, seed)?)
}

fn measure(a: &OneArgs) -> anyhow::Result<Row> {
    let market = bench_market(&a.market, a.seed)?;
    let objective = Objective::from(a.objective);
    let start = Instant::now();
    let g = ExpandedGraph::new(&market);
    let f = match objective {
        Objective::Concurrent => lp::concurrent_formulation(&g),
        Objective::Utility | Objective::WorstUtility => {
            lp::utility_formulation(&g, lp::Sense::Maximise, &lp::utility_amounts(&g, Some(1.0)))
        }
        Objective::Welfare => lp::welfare_formulation(&g),
    };
    let build_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let cpu = super::bench_peers::own_cpu_seconds();
    let solution = lp::solve(
        &g,
        objective,
        &LpOptions {
            backend: a.backend,
            prices: false,
        },
    )?;
    let solve_seconds = start.elapsed().as_secs_f64();
    let solve_cpu_seconds = super::bench_peers::own_cpu_seconds() - cpu;
    let objective_value = match objective {
        Objective::Concurrent => solution.delta,
        _ => solution.welfare(&g),
    };
    Ok(Row {
        market: a.market.clone(),
        objective: objective.name().to_string(),
        backend: a.backend.name().to_string(),
        variables: f.lp.variables(),
        constraints: f.lp.rows.len(),
        usable_pairs: g.usable_pairs(),
        build_seconds,
        solve_seconds,
        objective_value,
        max_rss_mib: super::bench_peers::peak_rss_mib(),
        solve_cpu_seconds,
    })
}

fn run_lp(a: LpArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding the brokerflow executable")?;
    let mut markets: Vec<String> = SIZES
        .iter()
        .map(|(k, b, p)| format!("{k},{b},{p}"))
        .collect();
    markets.push("planar30".to_string());
    if !a.json {
        println!(
            "LP benchmark: seed {}, limit {} s per measurement; brokerflow {} on {}",
            a.seed,
            a.time_limit,
            env!("CARGO_PKG_VERSION"),
            machine()
        );
        println!();
        println!("| market (K,B,P) | LP | backend | variables | constraints | build s | solve s | solve CPU s | max RSS MiB | objective |");
        println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
    }
    let backends = if a.backends.is_empty() {
        Backend::available()
    } else {
        a.backends.clone()
    };
    let cases = a.objective.len() * backends.len() * markets.len();
    let bar = crate::cmd::progress::counter(cases as u64, "cases");
    for &objective in &a.objective {
        for &backend in &backends {
            let mut timed_out = false;
            for m in &markets {
                let objective = match (m.as_str(), objective) {
                    ("planar30", ObjectiveArg::Welfare) => ObjectiveArg::Utility,
                    (_, o) => o,
                };
                let lp_name = Objective::from(objective).name();
                bar.set_message(format!("{m} {lp_name} {backend}"));
                bar.inc(1);
                // planar30 is small; it is always tried.
                if timed_out && m != "planar30" {
                    print_skip(
                        &a,
                        m,
                        lp_name,
                        backend,
                        "skipped: a smaller size exceeded the limit",
                    );
                    continue;
                }
                match measure_in_child(&exe, m, objective, backend, a.seed, a.time_limit)? {
                    Ok(row) if a.json => println!("{}", serde_json::to_string(&row)?),
                    Ok(row) => println!(
                        "| {} | {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {} | {} |",
                        row.market,
                        row.objective,
                        row.backend,
                        row.variables,
                        row.constraints,
                        row.build_seconds,
                        row.solve_seconds,
                        row.solve_cpu_seconds,
                        row.max_rss_mib
                            .map_or("?".to_string(), |m| format!("{m:.0}")),
                        row.objective_value
                            .map_or("unbounded".to_string(), |v| format!("{v:.6}"))
                    ),
                    Err(why) => {
                        timed_out |= why.starts_with("over");
                        print_skip(&a, m, lp_name, backend, &why);
                    }
                }
            }
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// Runs one measurement in a child process; `Err(reason)` when it failed or ran over.
fn measure_in_child(
    exe: &std::path::Path,
    market: &str,
    objective: ObjectiveArg,
    backend: Backend,
    seed: u64,
    limit: f64,
) -> anyhow::Result<Result<Row, String>> {
    let mut child = Command::new(exe)
        .args(["bench", "lp-one", "--objective"])
        .arg(Objective::from(objective).name())
        .args(["--backend", backend.name(), "--market", market, "--seed"])
        .arg(seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting a measurement")?;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs_f64(limit) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.stdout.take() {
        s.read_to_string(&mut out)?;
    }
    if let Some(mut s) = child.stderr.take() {
        s.read_to_string(&mut err)?;
    }
    Ok(match status {
        None => Err(format!("over {limit} s")),
        Some(s) if !s.success() => Err(format!("failed: {}", err.trim())),
        Some(_) => Ok(serde_json::from_str(out.trim())
            .with_context(|| format!("reading a measurement: {out}"))?),
    })
}

fn print_skip(a: &LpArgs, market: &str, lp: &str, backend: Backend, why: &str) {
    if a.json {
        println!(
            "{}",
            serde_json::json!({"market": market, "objective": lp, "backend": backend.name(), "skipped": why})
        );
    } else {
        println!("| {market} | {lp} | {backend} | | | | | | | {why} |");
    }
}

/// CPU model and core count, for the table's caption.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}

/// Brokers and providers for a benchmark market of `users` users, scaled as in
/// experiments/scale.toml (2 000 users, 50 brokers, 100 providers), at least 5 each
/// (Table 1's 5 brokers and 5 providers).
fn engine_bench_size(users: usize) -> (usize, usize, usize) {
    (users, (users / 40).max(5), (users / 20).max(5))
}

/// One row of `bench engine`.
#[derive(Debug, Serialize)]
struct EngineRow {
    users: usize,
    brokers: usize,
    providers: usize,
    variant: &'static str,
    runtime: &'static str,
    threads: usize,
    /// timely processes (1 for the other runtimes).
    processes: usize,
    usable_pairs: usize,
    rounds: usize,
    ns_per_round: Option<f64>,
    ns_per_round_per_pair: Option<f64>,
    /// ns per round on one thread / on this many (same market, variant, runtime).
    speedup: Option<f64>,
    /// Engine configuration and round state per usable pair.
    state_bytes_per_pair: Option<f64>,
    /// The sliding window (history of the reported averages) per usable pair.
    window_bytes_per_pair: Option<f64>,
    /// timely: announcements and job messages per round (to any worker).
    messages_per_round: Option<f64>,
    /// timely: payload bytes per round sent to other processes.
    remote_bytes_per_round: Option<f64>,
    /// CPU time of the rounds (user + system, every thread of this process) per round
    /// per pair: less disturbed than the wall clock on a shared machine.
    cpu_ns_per_round_per_pair: Option<f64>,
}

fn run_engine(a: EngineBenchArgs) -> anyhow::Result<()> {
    if a.sizes.is_empty() || a.sizes.contains(&0) {
        anyhow::bail!(
            "--sizes: every market needs at least 1 user (got {:?})",
            a.sizes
        );
    }
    if a.rounds == 0 {
        anyhow::bail!("--rounds must be at least 1");
    }
    if a.processes.is_empty() || a.processes.contains(&0) {
        anyhow::bail!("--processes: every count must be at least 1");
    }
    if a.threads.is_empty() || a.threads.contains(&0) {
        anyhow::bail!(
            "--threads: every count must be at least 1 (got {:?})",
            a.threads
        );
    }
    let variants: Vec<Variant> = if a.variants.is_empty() {
        Variant::ALL.to_vec()
    } else {
        a.variants.iter().map(|v| v.0).collect()
    };
    let pools = a
        .threads
        .iter()
        .map(|&t| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .map(|p| (t, p))
        })
        .collect::<Result<Vec<_>, _>>()
        .context("starting the thread pools")?;
    if !a.json {
        println!(
            "Engine benchmark: demand mode, {} rounds per run, seed {}, default engine settings; brokerflow {} on {}",
            a.rounds,
            a.seed,
            env!("CARGO_PKG_VERSION"),
            machine(),
        );
        println!();
        println!("| users | brokers | providers | variant | runtime | threads | processes | usable pairs | rounds | ns per round | ns per round per pair | speed-up | state bytes per pair | window bytes per pair | messages per round | remote bytes per round | CPU ns per round per pair |");
        println!(
            "|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
    }
    let cases: usize = a
        .runtimes
        .iter()
        .map(|&r| {
            let processes = if Runtime::from(r) == Runtime::Timely {
                a.processes.len()
            } else {
                1
            };
            variants.len() * pools.len() * processes
        })
        .sum::<usize>()
        * a.sizes.len();
    let bar = crate::cmd::progress::counter(cases as u64, "cases");
    for &users in &a.sizes {
        let (users, brokers, providers) = engine_bench_size(users);
        let config = GeneratorConfig {
            users,
            brokers,
            providers,
            ..GeneratorConfig::default()
        };
        let market = generate(&config, a.seed)
            .with_context(|| format!("generating {users},{brokers},{providers}"))?;
        let g = ExpandedGraph::new(&market);
        let pairs = g.usable_pairs();
        for &runtime in &a.runtimes {
            let runtime = Runtime::from(runtime);
            // Warm-up, untimed: a few rounds on this market (allocator, caches).
            let mut warm = EngineOptions::new(Variant::Fair, Injection::Demand);
            warm.max_rounds = a.rounds.min(20);
            warm.runtime = runtime;
            Engine::new(&market, &g, &warm)?.advance(warm.max_rounds, &mut Observers::new());
            for &variant in &variants {
                let mut one_thread = None;
                let process_counts = if runtime == Runtime::Timely {
                    a.processes.clone()
                } else {
                    vec![1]
                };
                let shapes: Vec<(usize, usize)> = (0..pools.len())
                    .flat_map(|i| process_counts.iter().map(move |&p| (i, p)))
                    .collect();
                for (pool_index, processes) in shapes {
                    let (threads, pool) = &pools[pool_index];
                    bar.set_message(format!(
                        "{users} users, {} {}, {}",
                        runtime.name(),
                        variant.name(),
                        crate::cmd::count(*threads, "thread")
                    ));
                    bar.inc(1);
                    let mut o = EngineOptions::new(variant, Injection::Demand);
                    o.max_rounds = a.rounds;
                    o.runtime = runtime;
                    let (ns, cpu_ns, rounds, footprint, traffic) = if runtime == Runtime::Timely {
                        let (ns, rounds, footprint, traffic) =
                            timed_timely(&market, &g, &o, *threads, processes, a.rounds)?;
                        // Not measured: the other timely processes are threads of
                        // this program, so its CPU time is theirs too.
                        (ns, None, rounds, footprint, traffic)
                    } else {
                        // Built inside the pool: the flat runtime sizes its chunks to it.
                        let (ns, cpu_ns, rounds, footprint) = pool.install(|| {
                            let mut engine = Engine::new(&market, &g, &o)?;
                            let start = Instant::now();
                            let cpu = super::bench_peers::own_cpu_seconds();
                            engine.advance(a.rounds, &mut Observers::new());
                            let ns = start.elapsed().as_nanos() as f64;
                            let cpu_ns = (super::bench_peers::own_cpu_seconds() - cpu) * 1e9;
                            Ok::<_, anyhow::Error>((
                                ns,
                                cpu_ns,
                                engine.rounds(),
                                engine.footprint(),
                            ))
                        })?;
                        (ns, Some(cpu_ns), rounds, footprint, None)
                    };
                    let per_round = (rounds > 0).then(|| ns / rounds as f64);
                    if *threads == 1 && processes == 1 {
                        one_thread = per_round;
                    }
                    let per_pair = |x: f64| (pairs > 0).then(|| x / pairs as f64);
                    let row = EngineRow {
                        users,
                        brokers,
                        providers,
                        variant: variant.name(),
                        runtime: runtime.name(),
                        threads: *threads,
                        processes,
                        usable_pairs: pairs,
                        rounds,
                        ns_per_round: per_round,
                        ns_per_round_per_pair: per_round.and_then(per_pair),
                        speedup: one_thread.zip(per_round).map(|(one, this)| one / this),
                        state_bytes_per_pair: per_pair(footprint.state as f64),
                        window_bytes_per_pair: per_pair(footprint.window as f64),
                        messages_per_round: traffic
                            .filter(|t| t.rounds > 0)
                            .map(|t| t.messages as f64 / t.rounds as f64),
                        remote_bytes_per_round: traffic
                            .filter(|t| t.rounds > 0)
                            .map(|t| t.remote_bytes as f64 / t.rounds as f64),
                        cpu_ns_per_round_per_pair: cpu_ns
                            .filter(|_| rounds > 0)
                            .and_then(|c| per_pair(c / rounds as f64)),
                    };
                    if a.json {
                        println!("{}", serde_json::to_string(&row)?);
                    } else {
                        let num = |x: Option<f64>, d: usize| {
                            x.map_or("-".to_string(), |x| format!("{x:.d$}"))
                        };
                        println!(
                            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                            row.users,
                            row.brokers,
                            row.providers,
                            row.variant,
                            row.runtime,
                            row.threads,
                            row.processes,
                            row.usable_pairs,
                            row.rounds,
                            num(row.ns_per_round, 0),
                            num(row.ns_per_round_per_pair, 1),
                            num(row.speedup, 2),
                            num(row.state_bytes_per_pair, 0),
                            num(row.window_bytes_per_pair, 0),
                            num(row.messages_per_round, 0),
                            num(row.remote_bytes_per_round, 0),
                            num(row.cpu_ns_per_round_per_pair, 1),
                        );
                    }
                }
            }
        }
    }
    bar.finish_and_clear();
    if !a.json {
        println!();
        println!("ns per round = wall clock of the rounds (Engine::advance) / rounds, set-up excluded; linear cost shows as a flat ns-per-pair column. Speed-up = ns per round on 1 thread / on this many. timely: threads = workers per process; processes beyond the first are threads of this program connected over loopback TCP; messages = announcements and job messages per round, remote bytes = their payload (and the reports) sent to other processes per round, as timely encodes them, without its headers and progress messages. State = configuration and round state; window = the last `window` rounds of every out-edge's amount, every capacity node's multiplier and every commodity's ledger, which the reported averages and the convergence test are taken over. CPU ns = CPU time of the rounds (user + system, every thread of the process, idle or spinning) / rounds / pairs, less disturbed by other work on the machine than the wall clock (not measured for timely). Timings vary from run to run.");
    }
    Ok(())
}

/// Times `rounds` rounds of `o` on the timely runtime: `workers` per process on
/// `processes` processes (process 0 here, the others on threads of this program over
/// loopback TCP, each with its own engine, as separate programs would run). Returns
/// process 0's wall clock, rounds, footprint and the protocol's traffic.
fn timed_timely(
    market: &brokerflow_graphs::Market,
    g: &ExpandedGraph,
    o: &EngineOptions,
    workers: usize,
    processes: usize,
    rounds: usize,
) -> anyhow::Result<(
    f64,
    usize,
    brokerflow_solvers::engine::Footprint,
    Option<Traffic>,
)> {
    let addresses = if processes > 1 {
        let listeners = (0..processes)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<Vec<_>, _>>()
            .context("finding free loopback ports")?;
        listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.to_string()))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let timed = |process: usize| {
        let cluster = Cluster::processes(workers, process, addresses.clone());
        with_cluster(&cluster, || {
            let mut engine = Engine::new(market, g, o)?;
            let start = Instant::now();
            engine.advance(rounds, &mut Observers::new());
            let ns = start.elapsed().as_nanos() as f64;
            Ok::<_, anyhow::Error>((ns, engine.rounds(), engine.footprint()))
        })
    };
    let (first, others) = std::thread::scope(|s| {
        let others: Vec<_> = (1..processes).map(|p| s.spawn(move || timed(p))).collect();
        let first = timed(0);
        (
            first,
            others.into_iter().map(|h| h.join()).collect::<Vec<_>>(),
        )
    });
    for other in others {
        match other {
            Ok(r) => {
                r?.0?;
            }
            Err(_) => anyhow::bail!("a timely process of the benchmark panicked"),
        }
    }
    let (run, traffic) = first?;
    let (ns, rounds, footprint) = run?;
    Ok((ns, rounds, footprint, Some(traffic)))
}
