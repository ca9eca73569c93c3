//! An error with its causes as one line of text, `outer: inner: …` (the form the
//! command line prints, as anyhow's `{:#}` does): for the outputs that record an error
//! as text — a failed row's `error` cell, an LP that was not solved — where the error
//! itself travels typed, each layer's cause in its `source`.

use std::error::Error;
use std::fmt;

/// Displays an error followed by each of its [`Error::source`]s, separated by `: `,
/// each cause once.
///
/// # Example
/// ```
/// use brokerflow_solvers::causes::Causes;
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("reading the market")]
/// struct Outer(#[source] std::io::Error);
///
/// let e = Outer(std::io::Error::other("disk on fire"));
/// assert_eq!(Causes(&e).to_string(), "reading the market: disk on fire");
///
/// // A message that already quotes its cause does not repeat it.
/// #[derive(Debug, thiserror::Error)]
/// #[error("reading the market: {0}")]
/// struct Quoting(#[source] std::io::Error);
///
/// let e = Quoting(std::io::Error::other("disk on fire"));
/// assert_eq!(Causes(&e).to_string(), "reading the market: disk on fire");
/// ```
#[derive(Clone, Copy)]
pub struct Causes<'e>(pub &'e dyn Error);

impl fmt::Display for Causes<'_> {
    /// A cause whose text the line already holds is left out: an error that quotes
    /// its source in its own message (an OS error, say) would otherwise say it twice.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.0.to_string();
        let mut source = self.0.source();
        while let Some(inner) = source {
            let text = inner.to_string();
            if !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            source = inner.source();
        }
        f.write_str(&line)
    }
}

impl fmt::Debug for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
