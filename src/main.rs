//! The `brokerflow` command line: argument parsing, file IO and printing over the
//! `brokerflow-graphs` and `brokerflow-solvers` libraries. Every mode is one function
//! in `cmd/`; library errors become messages and exit codes only here.
// The binary's doc comments on its clap types are its `--help` text, where `<FILE>`
// and `<variant>/<mode>` are placeholders the user reads, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use std::process::ExitCode;

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
    let result = match cli.command {
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A replicated settlement that aborted (design §10) has printed its outcome.
        Err(e) if e.is::<cmd::settle::Aborted>() => {
            eprintln!("brokerflow: {e:#}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("brokerflow: {e:#}");
            match e.downcast_ref::<cmd::Verdict>() {
                Some(verdict) => ExitCode::from(verdict.code),
                None => ExitCode::FAILURE,
            }
        }
    }
}
