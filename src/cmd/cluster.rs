//! Where the `timely` runtime runs: the flags, and the launch
//! ([`brokerflow_solvers::engine::runtime::timely::launch`]) with its errors as text.

use brokerflow_solvers::engine::runtime::timely::launch::{self, ClusterSpec, LaunchError};
use brokerflow_solvers::engine::Runtime;

pub use launch::Role;

/// Runs `body` on the runtime's cluster ([`launch::launch`]); a process other than 0
/// prints nothing, and process 0 reports the protocol's traffic on standard error.
pub fn launch<R>(
    spec: &ClusterSpec,
    runtime: Runtime,
    body: impl FnOnce(Role) -> anyhow::Result<R>,
) -> anyhow::Result<R> {
    let launched = launch::launch(spec, runtime, |role| {
        if !role.writes {
            silence_stdout();
        }
        body(role)
    });
    match launched {
        Ok(done) => {
            if let Some(traffic) = done.traffic {
                eprintln!("brokerflow: {traffic}");
            }
            Ok(done.value)
        }
        Err(LaunchError::Cluster(e)) => Err(e.into()),
        Err(LaunchError::Body { error, failed }) => match failed {
            Some(process) => Err(error.context(process.to_string())),
            None => Err(error),
        },
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
