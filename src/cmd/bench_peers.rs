//! `brokerflow bench peers`: a thin adapter over `brokerflow_solvers::bench::peers`;
//! without python3, numpy and scipy it says so and skips (exit 0), so nothing in the
//! CI depends on them.

use std::path::Path;

use brokerflow_solvers::bench::peers::{scipy_missing, PeersBench};

/// Runs `bench peers` with the brokerflow executable `exe`.
pub fn run(a: PeersBench, exe: &Path) -> anyhow::Result<()> {
    if let Some(why) = scipy_missing(&a.python) {
        println!("bench peers: skipped: {why}");
        return Ok(());
    }
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/peers/scipy_welfare_lp.py");
    a.run(exe, &script, &mut super::bench::printer(false))?;
    Ok(())
}
