//! File formats besides the market JSON (which is [`crate::Market`]'s serde form).

pub mod dot;
pub mod flows_csv;
pub mod mcf;
pub mod sndlib;
