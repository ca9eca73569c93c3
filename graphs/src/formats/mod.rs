//! File formats besides the market JSON (which is [`crate::Market`]'s serde form).

pub mod dot;
pub mod flows_csv;
pub mod mcf;
pub mod sndlib;

use crate::ValidMarket;

/// A network format that [`import`] turns into a market. With the `clap` feature the
/// variants' doc comments are also the command line's help for each value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Format {
    /// Multicommodity-flow benchmark format: `p mcf n m k`, `k origin dest demand`, `a src dst cost capacity`.
    Mcf,
    /// SNDlib's native network format: NODES, LINKS (capacities, costs), DEMANDS.
    Sndlib,
}

/// Why a numeric field of a text network format (mcf, SNDlib) was refused: the one
/// vocabulary of [`mcf::Problem::Number`] and [`sndlib::Problem::Number`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NumberProblem {
    /// A field that is not a number of the required kind.
    #[error("{field} is {text:?}, expected {expected}")]
    NotANumber {
        /// Field name.
        field: &'static str,
        /// The text found (shortened).
        text: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A negative number.
    #[error("{field} is {text}, must not be negative")]
    Negative {
        /// Field name.
        field: &'static str,
        /// The text found (shortened).
        text: String,
    },
    /// A number that is infinite or NaN (or too large to be finite).
    #[error("{field} is {text:?}, not a finite number")]
    NotFinite {
        /// Field name.
        field: &'static str,
        /// The text found (shortened).
        text: String,
    },
}

/// `text` cut to its first `max` characters, with `…` where it was cut: what a
/// format's errors show of a field.
pub(crate) fn shortened(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max).collect();
        s.push('…');
        s
    }
}

/// A finite number field (−0 read as 0); errors show `text` cut to `max` characters.
pub(crate) fn finite(text: &str, field: &'static str, max: usize) -> Result<f64, NumberProblem> {
    let x: f64 = text.parse().map_err(|_| NumberProblem::NotANumber {
        field,
        text: shortened(text, max),
        expected: "a number",
    })?;
    if !x.is_finite() {
        return Err(NumberProblem::NotFinite {
            field,
            text: shortened(text, max),
        });
    }
    Ok(x + 0.0)
}

/// A finite, non-negative number field (a demand, cost or capacity).
pub(crate) fn amount(text: &str, field: &'static str, max: usize) -> Result<f64, NumberProblem> {
    let x = finite(text, field, max)?;
    if x < 0.0 {
        return Err(NumberProblem::Negative {
            field,
            text: shortened(text, max),
        });
    }
    Ok(x)
}

/// Why an imported file did not become a market: its format's own error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// An mcf file refused ([`mcf::parse_mcf`]).
    #[error(transparent)]
    Mcf(#[from] mcf::McfError),
    /// An SNDlib file refused ([`sndlib::parse_sndlib`]).
    #[error(transparent)]
    Sndlib(#[from] sndlib::SndlibError),
}

/// Imports a published network (a multicommodity-flow benchmark or an SNDlib
/// backbone) as a linked-broker market: its nodes become brokers, its demands users.
///
/// # Arguments
/// * `format`: [`Format::Mcf`] or [`Format::Sndlib`].
/// * `bytes`: the file's contents.
/// * `origin`: the input's name, quoted in errors and recorded in `meta`.
/// * `sndlib_max_demands`: for `sndlib`, keep only this many demands, in file order.
///
/// # Returns
/// The validated market.
///
/// # Errors
/// [`ImportError`]: the format's own parse or validation error.
///
/// # Complexity
/// That of the format's reader ([`mcf::parse_mcf`], [`sndlib::parse_sndlib`]),
/// linear in the file's size.
///
/// # Example
/// ```
/// use brokerflow_graphs::formats::{import, Format};
///
/// // Not a network in either format.
/// assert!(import(Format::Mcf, b"hello", "x.mcf", None).is_err());
/// assert!(import(Format::Sndlib, b"hello", "x.txt", None).is_err());
/// ```
///
/// Paper: \[SNDlib\] (the native format); the mcf benchmarks as design §4 describes.
pub fn import(
    format: Format,
    bytes: &[u8],
    origin: &str,
    sndlib_max_demands: Option<usize>,
) -> Result<ValidMarket, ImportError> {
    Ok(match format {
        Format::Mcf => mcf::parse_mcf_bytes(bytes, origin)?,
        Format::Sndlib => sndlib::parse_sndlib_bytes(
            bytes,
            origin,
            &sndlib::SndlibOptions {
                max_demands: sndlib_max_demands,
            },
        )?,
    })
}
