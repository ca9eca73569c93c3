//! The replicated auctioneer's settings as a command line gives them ([Dist-Auctioneer]:
//! m replicas among the market's providers, resilience k, the deviations to simulate,
//! the transport, the step timeout and the coin's seed), turned into a checked
//! [`ReplicationConfig`]. Each field's doc is its flag's help.

use std::path::PathBuf;
use std::time::Duration;

use super::{ReplicationConfig, TransportKind};
use crate::settle::{AllocationRule, Mechanism, SettleOptions};

/// The replicated auctioneer's flag group ([Dist-Auctioneer]); `replicas: None` is the
/// centralised settlement.
// `<provider>` and `<user>` in the help are placeholders the user reads, not HTML.
#[allow(rustdoc::invalid_html_tags)]
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ReplicationSettings {
    /// Replicated auctioneer (design §10): M of the market's providers (its first M,
    /// in file order) compute the settlement among themselves, with no trusted
    /// centre: bid agreement, input validation, a common coin, the allocation and
    /// the VCG payments in ⌊M/(K+1)⌋ payment groups, and the output. A settled run's
    /// statement equals the centralised one; an aborted run exits with code 3.
    /// vcg or mcafee, allocation lp; needs --resilience.
    #[cfg_attr(
        feature = "clap",
        arg(
            long,
            value_name = "M",
            requires = "resilience",
            help_heading = "Replicated auctioneer"
        )
    )]
    pub replicas: Option<usize>,
    /// K: how many deviating replicas the run withstands (they can make it abort,
    /// never change it); needs M > 2K.
    #[cfg_attr(
        feature = "clap",
        arg(
            long,
            value_name = "K",
            requires = "replicas",
            help_heading = "Replicated auctioneer"
        )
    )]
    pub resilience: Option<usize>,
    /// Deviations to simulate: a JSON list of {"kind": "bid-vector" | "equivocate" |
    /// "task-result" | "coin-reveal" | "silent" | "crash", "replica": "<provider>" or
    /// "bidder": "<user>", ...} (optional "amount", "participant", "bids": {"<replica>":
    /// valuation}, "phase": bid-agreement | input-validation | coin | tasks | output).
    /// Several entries with the same lie make a coalition.
    #[cfg_attr(
        feature = "clap",
        arg(
            long,
            value_name = "FILE",
            requires = "replicas",
            help_heading = "Replicated auctioneer"
        )
    )]
    pub deviate: Option<PathBuf>,
    /// How the replicas talk: in-process channels, or TCP on loopback (one listener
    /// per replica).
    #[cfg_attr(
        feature = "clap",
        arg(
            long,
            value_enum,
            default_value = "channels",
            help_heading = "Replicated auctioneer"
        )
    )]
    pub transport: TransportKind,
    /// The longest wait, in seconds, for one protocol step's messages; a replica
    /// silent that long is named in the abort.
    #[cfg_attr(
        feature = "clap",
        arg(
            long,
            value_name = "SECONDS",
            default_value_t = 30.0,
            help_heading = "Replicated auctioneer"
        )
    )]
    pub timeout: f64,
    /// Seed of the replicas' coin shares (runs are reproducible).
    #[cfg_attr(
        feature = "clap",
        arg(long, default_value_t = 0, help_heading = "Replicated auctioneer")
    )]
    pub seed: u64,
}

/// Why replication settings cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicationSettingsError {
    /// Replicas settle P3's allocation only.
    #[error("--replicas settles P3's allocation: use --allocation lp (the default)")]
    NeedsLp,
    /// The step timeout is not a positive number of seconds up to a day.
    #[error("--timeout {0} must be a positive number of seconds (at most a day)")]
    Timeout(f64),
}

impl ReplicationSettings {
    /// The checked [`ReplicationConfig`] of `mechanism` with `options`, or `None` when
    /// no replicas are asked for (the centralised settlement).
    ///
    /// # Errors
    /// [`ReplicationSettingsError::NeedsLp`] for an allocation other than P3's,
    /// [`ReplicationSettingsError::Timeout`] for a timeout that is not in (0, 86 400] s.
    pub fn config(
        &self,
        mechanism: &'static dyn Mechanism,
        allocation: AllocationRule,
        options: SettleOptions,
    ) -> Result<Option<ReplicationConfig>, ReplicationSettingsError> {
        let Some(replicas) = self.replicas else {
            return Ok(None);
        };
        if allocation != AllocationRule::Lp {
            return Err(ReplicationSettingsError::NeedsLp);
        }
        if !(self.timeout.is_finite() && self.timeout > 0.0 && self.timeout <= 86_400.0) {
            return Err(ReplicationSettingsError::Timeout(self.timeout));
        }
        Ok(Some(ReplicationConfig {
            mechanism,
            replicas,
            resilience: self.resilience.unwrap_or(0),
            transport: self.transport,
            timeout: Duration::from_secs_f64(self.timeout),
            seed: self.seed,
            options,
        }))
    }
}
