//! The command-line tests: the built `brokerflow` binary run as a user would, one
//! module per subcommand (or theme), all in one test binary so the suite links once
//! (ripgrep's layout). `util` holds the helpers every module shares, `macros` the
//! `cases!` macro that stamps one test per case.

#[macro_use]
mod macros;
mod util;

mod evaluate;
mod experiment;
mod faults;
mod generate;
mod hostile;
mod import;
mod inspect;
mod limits;
mod mca;
mod outputs;
mod progress;
mod replan;
mod report;
mod run;
mod settings;
mod settle;
mod settle_replicated;
mod solve;
mod stream;
mod timely;
