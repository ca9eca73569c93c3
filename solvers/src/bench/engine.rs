//! The engine benchmark: the distributed engine's cost per round against the usable
//! (edge, commodity) pairs of G′, per variant, runtime and thread count, on generated
//! markets of growing size, in one process; and the engine's memory per pair. A
//! linear-time round shows as a flat ns-per-pair column.

use std::time::Instant;

use brokerflow_graphs::{ExpandedGraph, Market};
use serde::Serialize;

use super::machine::{machine, own_cpu_seconds};
use super::markets::{engine_bench_size, generated};
use super::{count, BenchError, BenchRow, SettingError, Sink};
use crate::engine::runtime::timely::{with_cluster, Cluster, Traffic};
use crate::engine::{Engine, EngineOptions, Footprint, Injection, Observers, Runtime, Variant};

/// The engine benchmark's settings.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct EngineBench {
    /// Users of each market, comma-separated, each ≥ 1; brokers = max(5, users/40)
    /// and providers = max(5, users/20) (experiments/scale.toml: 2 000 / 50 / 100).
    #[cfg_attr(
        feature = "clap",
        arg(long, value_delimiter = ',', default_value = "20,100,500,2000")
    )]
    pub sizes: Vec<usize>,
    /// Rounds timed per (market, variant, runtime, threads), after the engine is set up
    /// (and after an untimed warm-up of up to 20 fair rounds per market and runtime); a
    /// run that converges earlier is timed over the rounds it ran (a run needs at
    /// least two windows to converge).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 200))]
    pub rounds: usize,
    /// Runtimes to time, comma-separated.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_delimiter = ',', default_value = "flat,nodes", value_enum)
    )]
    pub runtimes: Vec<Runtime>,
    /// Thread counts to time (a rayon pool of each size; for the timely runtime, its
    /// workers per process), comma-separated, each ≥ 1.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_delimiter = ',', default_value = "1,2")
    )]
    pub threads: Vec<usize>,
    /// timely runtime: process counts to time, comma-separated. Processes beyond the
    /// first are threads of this program, each its own timely process with its own
    /// engine, connected over loopback TCP on ports the OS hands out.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_delimiter = ',', default_value = "1")
    )]
    pub processes: Vec<usize>,
    /// Variants to time, comma-separated (default: every variant).
    #[cfg_attr(feature = "clap", arg(long, value_delimiter = ',', value_enum))]
    pub variants: Vec<Variant>,
    /// Generator seed of the benchmark markets.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1))]
    pub seed: u64,
}

impl Default for EngineBench {
    fn default() -> Self {
        EngineBench {
            sizes: vec![20, 100, 500, 2000],
            rounds: 200,
            runtimes: vec![Runtime::Flat, Runtime::Nodes],
            threads: vec![1, 2],
            processes: vec![1],
            variants: Vec::new(),
            seed: 1,
        }
    }
}

/// One row of the engine benchmark: one (market, variant, runtime, threads,
/// processes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineRow {
    /// Users K.
    pub users: usize,
    /// Brokers B.
    pub brokers: usize,
    /// Providers P.
    pub providers: usize,
    /// The push weights.
    pub variant: Variant,
    /// Who runs the nodes.
    pub runtime: Runtime,
    /// Threads (timely: workers per process).
    pub threads: usize,
    /// timely processes (1 for the other runtimes).
    pub processes: usize,
    /// Usable (edge, commodity) pairs of G′.
    pub usable_pairs: usize,
    /// Rounds timed.
    pub rounds: usize,
    /// Wall-clock ns per round.
    pub ns_per_round: Option<f64>,
    /// Wall-clock ns per round per usable pair.
    pub ns_per_round_per_pair: Option<f64>,
    /// ns per round on one thread / on this many (same market, variant, runtime).
    pub speedup: Option<f64>,
    /// Engine configuration and round state per usable pair.
    pub state_bytes_per_pair: Option<f64>,
    /// The sliding window (history of the reported averages) per usable pair.
    pub window_bytes_per_pair: Option<f64>,
    /// timely: announcements and job messages per round (to any worker).
    pub messages_per_round: Option<f64>,
    /// timely: payload bytes per round sent to other processes.
    pub remote_bytes_per_round: Option<f64>,
    /// CPU time of the rounds (user + system, every thread of this process) per round
    /// per pair: less disturbed than the wall clock on a shared machine.
    pub cpu_ns_per_round_per_pair: Option<f64>,
}

/// The Markdown header of the engine benchmark's table.
const HEADER: &str = "| users | brokers | providers | variant | runtime | threads | processes | usable pairs | rounds | ns per round | ns per round per pair | speed-up | state bytes per pair | window bytes per pair | messages per round | remote bytes per round | CPU ns per round per pair |\n|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

/// What the engine benchmark's columns mean.
pub const NOTES: &str = "ns per round = wall clock of the rounds (Engine::advance) / rounds, set-up excluded; linear cost shows as a flat ns-per-pair column. Speed-up = ns per round on 1 thread / on this many. timely: threads = workers per process; processes beyond the first are threads of this program connected over loopback TCP; messages = announcements and job messages per round, remote bytes = their payload (and the reports) sent to other processes per round, as timely encodes them, without its headers and progress messages. State = configuration and round state; window = the last `window` rounds of every out-edge's amount, every capacity node's multiplier and every commodity's ledger, which the reported averages and the convergence test are taken over. CPU ns = CPU time of the rounds (user + system, every thread of the process, idle or spinning) / rounds / pairs, less disturbed by other work on the machine than the wall clock (not measured for timely). Timings vary from run to run.";

impl BenchRow for EngineRow {
    fn markdown(&self) -> String {
        let num = |x: Option<f64>, d: usize| x.map_or("-".to_string(), |x| format!("{x:.d$}"));
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            self.users,
            self.brokers,
            self.providers,
            self.variant.name(),
            self.runtime.name(),
            self.threads,
            self.processes,
            self.usable_pairs,
            self.rounds,
            num(self.ns_per_round, 0),
            num(self.ns_per_round_per_pair, 1),
            num(self.speedup, 2),
            num(self.state_bytes_per_pair, 0),
            num(self.window_bytes_per_pair, 0),
            num(self.messages_per_round, 0),
            num(self.remote_bytes_per_round, 0),
            num(self.cpu_ns_per_round_per_pair, 1),
        )
    }
}

/// One timed run: wall-clock ns, CPU ns (not for timely), rounds run, the engine's
/// memory and the timely protocol's traffic.
struct Timed {
    ns: f64,
    cpu_ns: Option<f64>,
    rounds: usize,
    footprint: Footprint,
    traffic: Option<Traffic>,
}

impl EngineBench {
    /// Checks the settings: at least one market, each with a user; at least one
    /// round; at least one thread and process count, none 0.
    pub fn validate(&self) -> Result<(), SettingError> {
        if self.sizes.is_empty() || self.sizes.contains(&0) {
            return Err(SettingError::Sizes(self.sizes.clone()));
        }
        if self.rounds == 0 {
            return Err(SettingError::Rounds);
        }
        if self.processes.is_empty() || self.processes.contains(&0) {
            return Err(SettingError::Processes);
        }
        if self.threads.is_empty() || self.threads.contains(&0) {
            return Err(SettingError::Threads(self.threads.clone()));
        }
        Ok(())
    }

    /// Runs the benchmark: for every market size ([`engine_bench_size`]), runtime,
    /// variant (demand injection, default engine settings) and thread count (and, on
    /// timely, process count), an untimed warm-up per market and runtime, then
    /// [`EngineBench::rounds`] timed rounds of a fresh engine. Rows go to `sink` as
    /// they are measured.
    ///
    /// # Arguments
    /// * `sink` — where the caption, progress and rows go.
    ///
    /// # Returns
    /// `Ok(())` after every row; an error for settings out of range
    /// ([`EngineBench::validate`]), a thread pool or loopback port that cannot start,
    /// or an engine run that fails.
    ///
    /// # Complexity
    /// Sizes × runtimes × variants × thread counts (× process counts on timely) runs
    /// of `rounds` rounds, each round linear in the usable pairs.
    ///
    /// # Example
    /// ```
    /// use brokerflow_solvers::bench::engine::{EngineBench, EngineRow};
    /// use brokerflow_solvers::bench::{BenchError, Sink};
    /// struct Rows(Vec<EngineRow>);
    /// impl Sink<EngineRow> for Rows {
    ///     fn start(&mut self, _: &str, _: usize) -> Result<(), BenchError> { Ok(()) }
    ///     fn case(&mut self, _: &str) {}
    ///     fn row(&mut self, r: &EngineRow) -> Result<(), BenchError> { self.0.push(r.clone()); Ok(()) }
    ///     fn finish(&mut self, _: &str) -> Result<(), BenchError> { Ok(()) }
    /// }
    /// let bench = EngineBench { sizes: vec![5], rounds: 3, threads: vec![1], ..EngineBench::default() };
    /// let mut rows = Rows(Vec::new());
    /// bench.run(&mut rows).unwrap();
    /// // 2 runtimes × 3 variants × 1 thread count.
    /// assert_eq!(rows.0.len(), 6);
    /// assert!(rows.0.iter().all(|r| r.rounds == 3 && r.speedup == Some(1.0)));
    /// ```
    ///
    /// Paper: [MCF-Grid] §5; the timely runtime on \[Timely\].
    pub fn run(&self, sink: &mut impl Sink<EngineRow>) -> Result<(), BenchError> {
        self.validate()?;
        let variants: Vec<Variant> = if self.variants.is_empty() {
            Variant::ALL.to_vec()
        } else {
            self.variants.clone()
        };
        let pools = self
            .threads
            .iter()
            .map(|&t| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .map(|p| (t, p))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(BenchError::ThreadPool)?;
        let process_counts = |runtime: Runtime| {
            if runtime == Runtime::Timely {
                self.processes.clone()
            } else {
                vec![1]
            }
        };
        let cases: usize = self
            .runtimes
            .iter()
            .map(|&r| variants.len() * pools.len() * process_counts(r).len())
            .sum::<usize>()
            * self.sizes.len();
        let caption = format!(
            "Engine benchmark: demand mode, {} rounds per run, seed {}, default engine settings; brokerflow {} on {}\n\n{HEADER}",
            self.rounds,
            self.seed,
            env!("CARGO_PKG_VERSION"),
            machine(),
        );
        sink.start(&caption, cases)?;
        for &users in &self.sizes {
            let (users, brokers, providers) = engine_bench_size(users);
            let market = generated(users, brokers, providers, self.seed).map_err(|source| {
                BenchError::GenerateSized {
                    users,
                    brokers,
                    providers,
                    source,
                }
            })?;
            let g = ExpandedGraph::new(&market);
            let pairs = g.usable_pairs();
            for &runtime in &self.runtimes {
                // Warm-up, untimed: a few rounds on this market (allocator, caches).
                let mut warm = EngineOptions::new(Variant::Fair, Injection::Demand);
                warm.max_rounds = self.rounds.min(20);
                warm.runtime = runtime;
                Engine::new(&market, &g, &warm)?.advance(warm.max_rounds, &mut Observers::new());
                for &variant in &variants {
                    let mut one_thread = None;
                    let shapes: Vec<(usize, usize)> = (0..pools.len())
                        .flat_map(|i| process_counts(runtime).into_iter().map(move |p| (i, p)))
                        .collect();
                    for (pool_index, processes) in shapes {
                        let (threads, pool) = &pools[pool_index];
                        sink.case(&format!(
                            "{users} users, {} {}, {}",
                            runtime.name(),
                            variant.name(),
                            count(*threads, "thread")
                        ));
                        let mut o = EngineOptions::new(variant, Injection::Demand);
                        o.max_rounds = self.rounds;
                        o.runtime = runtime;
                        let t = if runtime == Runtime::Timely {
                            timed_timely(&market, &g, &o, *threads, processes, self.rounds)?
                        } else {
                            // Built inside the pool: the flat runtime sizes its chunks to it.
                            pool.install(|| {
                                let mut engine = Engine::new(&market, &g, &o)?;
                                let start = Instant::now();
                                let cpu = own_cpu_seconds();
                                engine.advance(self.rounds, &mut Observers::new());
                                let ns = start.elapsed().as_nanos() as f64;
                                let cpu_ns = (own_cpu_seconds() - cpu) * 1e9;
                                Ok::<_, BenchError>(Timed {
                                    ns,
                                    cpu_ns: Some(cpu_ns),
                                    rounds: engine.rounds(),
                                    footprint: engine.footprint(),
                                    traffic: None,
                                })
                            })?
                        };
                        let rounds = t.rounds;
                        let per_round = (rounds > 0).then(|| t.ns / rounds as f64);
                        if *threads == 1 && processes == 1 {
                            one_thread = per_round;
                        }
                        let per_pair = |x: f64| (pairs > 0).then(|| x / pairs as f64);
                        let traffic = t.traffic.filter(|t| t.rounds > 0);
                        sink.row(&EngineRow {
                            users,
                            brokers,
                            providers,
                            variant,
                            runtime,
                            threads: *threads,
                            processes,
                            usable_pairs: pairs,
                            rounds,
                            ns_per_round: per_round,
                            ns_per_round_per_pair: per_round.and_then(per_pair),
                            speedup: one_thread.zip(per_round).map(|(one, this)| one / this),
                            state_bytes_per_pair: per_pair(t.footprint.state as f64),
                            window_bytes_per_pair: per_pair(t.footprint.window as f64),
                            messages_per_round: traffic
                                .map(|t| t.messages as f64 / t.rounds as f64),
                            remote_bytes_per_round: traffic
                                .map(|t| t.remote_bytes as f64 / t.rounds as f64),
                            cpu_ns_per_round_per_pair: t
                                .cpu_ns
                                .filter(|_| rounds > 0)
                                .and_then(|c| per_pair(c / rounds as f64)),
                        })?;
                    }
                }
            }
        }
        sink.finish(NOTES)
    }
}

/// Times `rounds` rounds of `o` on the timely runtime: `workers` per process on
/// `processes` processes (process 0 here, the others on threads of this program over
/// loopback TCP, each with its own engine, as separate programs would run). Returns
/// process 0's wall clock, rounds, footprint and the protocol's traffic; no CPU time,
/// as the other processes' threads are this program's too.
fn timed_timely(
    market: &Market,
    g: &ExpandedGraph,
    o: &EngineOptions,
    workers: usize,
    processes: usize,
    rounds: usize,
) -> Result<Timed, BenchError> {
    let addresses = if processes > 1 {
        let listeners = (0..processes)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(BenchError::io("finding free loopback ports"))?;
        listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.to_string()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(BenchError::io("finding free loopback ports"))?
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
            Ok::<_, BenchError>((ns, engine.rounds(), engine.footprint()))
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
            Err(_) => return Err(BenchError::TimelyPanicked),
        }
    }
    let (run, traffic) = first?;
    let (ns, rounds, footprint) = run?;
    Ok(Timed {
        ns,
        cpu_ns: None,
        rounds,
        footprint,
        traffic: Some(traffic),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_out_of_range_are_refused_in_order() {
        let ok = EngineBench::default();
        assert_eq!(ok.validate(), Ok(()));
        let bad = |f: fn(&mut EngineBench)| {
            let mut b = EngineBench::default();
            f(&mut b);
            b.validate().unwrap_err()
        };
        assert_eq!(
            bad(|b| b.sizes = vec![0, 5]),
            SettingError::Sizes(vec![0, 5])
        );
        assert_eq!(bad(|b| b.sizes.clear()), SettingError::Sizes(vec![]));
        assert_eq!(bad(|b| b.rounds = 0), SettingError::Rounds);
        assert_eq!(bad(|b| b.processes = vec![1, 0]), SettingError::Processes);
        assert_eq!(bad(|b| b.threads = vec![0]), SettingError::Threads(vec![0]));
        assert_eq!(
            SettingError::Sizes(vec![0, 5]).to_string(),
            "sizes: every market needs at least 1 user (got [0, 5])"
        );
    }
}
