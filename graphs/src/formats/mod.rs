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
