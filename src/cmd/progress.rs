//! Progress of long work on standard error: drawn only when standard error is a
//! terminal and `--quiet` was not given, so it never reaches a pipe, a log or a file,
//! and standard output and written files are the same with or without it.

use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};

/// `--quiet`, for the whole process (a display preference, set once by `main`).
static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet`: no progress display from here on.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether progress is drawn: standard error is a terminal and `--quiet` is off.
pub fn shown() -> bool {
    use std::io::IsTerminal;
    !QUIET.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

fn target() -> ProgressDrawTarget {
    if shown() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A bar of `len` steps counted in `unit` ("scenarios", "rounds", …), with the
/// elapsed time, an ETA against `len` and a free message (`experiment`'s style).
pub fn counter(len: u64, unit: &str) -> ProgressBar {
    counter_on(target(), len, unit)
}

/// [`counter`] on a given draw target (tests use the hidden one).
pub fn counter_on(target: ProgressDrawTarget, len: u64, unit: &str) -> ProgressBar {
    // Cleared when dropped too, so an error leaves no stale line above its message.
    let bar =
        ProgressBar::with_draw_target(Some(len), target).with_finish(ProgressFinish::AndClear);
    // `{` and `}` in the unit would be read as template keys.
    let unit = unit.replace(['{', '}'], "");
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {unit}, eta {{eta}} {{msg}}"
    )) {
        bar.set_style(style);
    }
    bar
}

/// A spinner for one step of unknown length, with the elapsed time and a message.
pub fn spinner(message: String) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, target()).with_finish(ProgressFinish::AndClear);
    if let Ok(style) = ProgressStyle::with_template("{elapsed_precise} {spinner} {msg}") {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_counts_and_finishes_without_a_terminal() {
        let bar = counter_on(ProgressDrawTarget::hidden(), 10, "cases");
        bar.inc(3);
        bar.set_message("case c");
        assert_eq!((bar.position(), bar.length()), (3, Some(10)));
        assert_eq!(bar.message(), "case c");
        bar.finish_and_clear();
        assert!(bar.is_finished());
    }

    #[test]
    fn quiet_hides_every_display() {
        set_quiet(true);
        assert!(!shown());
        assert!(counter(5, "rounds").is_hidden());
        assert!(spinner("solving".into()).is_hidden());
    }
}
