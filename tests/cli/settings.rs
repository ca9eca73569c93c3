//! Engine settings that contradict each other are refused before any work, on every
//! command that takes them (run, compare, settle's engine allocation, experiment
//! specs), with one line naming the settings and the rule.

use crate::util::{assert_ok, market, refused, run, scratch_file};

/// `command` with `rest` on tiny and η = ε = 0.03 is refused naming the rule.
fn above_five_percent_refused(command: &str, rest: &[&str]) {
    let t = market("tiny");
    let broken = ["--eta", "0.03", "--epsilon", "0.03"];
    let mut args = vec![command, t.as_str()];
    args.extend_from_slice(rest);
    args.extend(broken);
    refused(&args, "eta + epsilon = 0.06 is out of range: η + ε ≤ 0.05");
}

cases!(eta_plus_epsilon_above_five_percent_is_refused_everywhere, above_five_percent_refused, {
    run: ("run", &[]),
    run_feasible: ("run", &["--inject", "feasible"]),
    compare: ("compare", &[]),
    settle_engine_prices: ("settle", &["--mechanism", "engine-prices"]),
});

#[test]
fn eta_plus_epsilon_above_five_percent_is_refused_in_an_experiment_spec() {
    let spec = scratch_file(
        "broken.toml",
        "name = \"t\"\nmethods = [\"fair/demand\"]\n[[configuration]]\nname = \"K3\"\nseeds = 1\n\
         [configuration.generator]\nusers = 3\nbrokers = 2\nproviders = 2\n\
         [engine]\neta = 0.04\nepsilon = 0.02\n",
    );
    refused(&["experiment", &spec], "eta + epsilon");
}

/// `run --inject feasible --eta ETA --epsilon EPSILON` on tiny, η + ε = 0.05, runs.
fn five_percent_runs(eta: &str, epsilon: &str) {
    let t = market("tiny");
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
    assert_ok(&out, &format!("eta {eta} epsilon {epsilon}"));
}

cases!(eta_plus_epsilon_of_exactly_five_percent_runs, five_percent_runs, {
    eta_2_epsilon_3: ("0.02", "0.03"),
    eta_4_epsilon_1: ("0.04", "0.01"),
    eta_0_epsilon_5: ("0", "0.05"),
});
