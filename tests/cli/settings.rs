//! Engine settings that contradict each other are refused before any work, on every
//! command that takes them (run, compare, settle's engine allocation, experiment
//! specs), with one line naming the settings and the rule.

use crate::util::{market, refused, run, scratch_file};

#[test]
fn eta_plus_epsilon_above_five_percent_is_refused_everywhere() {
    let t = market("tiny");
    let broken = ["--eta", "0.03", "--epsilon", "0.03"];
    for cmd in [
        vec!["run", &t],
        vec!["run", &t, "--inject", "feasible"],
        vec!["compare", &t],
        vec!["settle", &t, "--mechanism", "engine-prices"],
    ] {
        let mut args = cmd.clone();
        args.extend(broken);
        refused(&args, "eta + epsilon = 0.06 is out of range: η + ε ≤ 0.05");
    }
    let spec = scratch_file(
        "broken.toml",
        "name = \"t\"\nmethods = [\"fair/demand\"]\n[[configuration]]\nname = \"K3\"\nseeds = 1\n\
         [configuration.generator]\nusers = 3\nbrokers = 2\nproviders = 2\n\
         [engine]\neta = 0.04\nepsilon = 0.02\n",
    );
    refused(&["experiment", &spec], "eta + epsilon");
}

#[test]
fn eta_plus_epsilon_of_exactly_five_percent_runs() {
    let t = market("tiny");
    for (eta, epsilon) in [("0.02", "0.03"), ("0.04", "0.01"), ("0", "0.05")] {
        let out = run(&[
            "run",
            &t,
            "--inject",
            "feasible",
            "--eta",
            eta,
            "--epsilon",
            epsilon,
        ]);
        assert!(
            out.status.success(),
            "eta {eta} epsilon {epsilon}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
