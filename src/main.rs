//! The `brokerflow` command line: file IO, progress and printing over the
//! `brokerflow-graphs`, `brokerflow-solvers` and `brokerflow-experiments` libraries,
//! which define each subcommand's flags (their `clap` feature). Every mode is one
//! function in `cmd/`; library errors become messages and exit codes only here.
// The binary's doc comments on its clap types are its `--help` text, where `<FILE>`
// and `<variant>/<mode>` are placeholders the user reads, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use std::process::ExitCode;

use brokerflow_solvers::causes::Causes;
use clap::{Parser, Subcommand};

mod cmd;

/// Plan job routing in linked grid markets.
///
/// A market (users → brokers → providers, with capacities, bandwidths, costs and
/// valuations) is read from a JSON file, expanded into a multi-commodity flow graph,
/// and analysed. Start with `brokerflow compare graphs/markets/tiny.json`.
#[derive(Debug, Parser)]
#[command(name = "brokerflow", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// No progress display on standard error (it is drawn only when standard error is
    /// a terminal, and never changes standard output or a written file).
    #[arg(long, global = true)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    Inspect(cmd::inspect::Args),
    Solve(cmd::solve::Args),
    Run(cmd::run::Args),
    Compare(cmd::compare::Args),
    Settle(cmd::settle::Args),
    Evaluate(cmd::evaluate::Args),
    Bench(cmd::bench::Args),
    Import(cmd::import::Args),
    Generate(cmd::generate::Args),
    Experiment(cmd::experiment::Args),
    Stream(cmd::stream::Args),
    Mca(cmd::mca::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `print!` panics when standard output fails (a reader that closed the pipe, a
    // full disk). Such a panic is not a bug to report: it is caught below and becomes
    // a quiet exit (closed pipe, as `head` expects) or a one-line error.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if stdout_failure(info.payload()).is_none() {
            default_hook(info)
        }
    }));
    let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(cli))) {
        Ok(result) => result.and_then(|()| match std::io::Write::flush(&mut std::io::stdout()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => Err(anyhow::anyhow!(
                "writing to standard output: {e}; the output is incomplete"
            )),
            Ok(()) => Ok(()),
        }),
        Err(payload) => match stdout_failure(&*payload) {
            Some(_) if closed_pipe(&*payload) => return ExitCode::SUCCESS,
            Some(message) => Err(anyhow::anyhow!(
                "writing to standard output: {message}; the output is incomplete"
            )),
            None => std::panic::resume_unwind(payload),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A replicated settlement that aborted (design §10) has printed its outcome.
        Err(e) if e.is::<cmd::settle::Aborted>() => {
            eprintln!("brokerflow: {}", one_message(&e));
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("brokerflow: {}", one_message(&e));
            match e.downcast_ref::<cmd::Verdict>() {
                Some(verdict) => ExitCode::from(verdict.code),
                None => ExitCode::FAILURE,
            }
        }
    }
}

/// The error and its causes on one line, `error: cause: cause`, each cause once
/// ([`Causes`]).
fn one_message(e: &anyhow::Error) -> String {
    Causes(e.as_ref()).to_string()
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    cmd::progress::set_quiet(cli.quiet);
    match cli.command {
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Solve(args) => cmd::solve::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Compare(args) => cmd::compare::run(args),
        Command::Settle(args) => cmd::settle::run(args),
        Command::Evaluate(args) => cmd::evaluate::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Import(args) => cmd::import::run(args),
        Command::Generate(args) => cmd::generate::run(args),
        Command::Experiment(args) => cmd::experiment::run(args),
        Command::Stream(args) => cmd::stream::run(args),
        Command::Mca(args) => cmd::mca::run(args),
    }
}

/// The error of a `print!` whose standard output failed, from its panic payload.
fn stdout_failure(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    let text = match payload.downcast_ref::<String>() {
        Some(s) => s.as_str(),
        None => *payload.downcast_ref::<&str>()?,
    };
    text.strip_prefix("failed printing to stdout: ")
}

/// Whether the failed `print!` met a reader that had closed the pipe (EPIPE).
fn closed_pipe(payload: &(dyn std::any::Any + Send)) -> bool {
    stdout_failure(payload).is_some_and(|m| m.contains("Broken pipe") || m.contains("os error 32"))
}
