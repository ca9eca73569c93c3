//! An error with its causes as one line of text, `outer: inner: …` (the form the
//! command line prints, as anyhow's `{:#}` does): for the outputs that record an error
//! as text — a failed row's `error` cell, an LP that was not solved — where the error
//! itself travels typed, each layer's cause in its `source`.

use std::error::Error;
use std::fmt;

/// Displays an error followed by each of its [`Error::source`]s, separated by `: `.
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
/// ```
#[derive(Clone, Copy)]
pub struct Causes<'e>(pub &'e dyn Error);

impl fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(inner) = source {
            write!(f, ": {inner}")?;
            source = inner.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
