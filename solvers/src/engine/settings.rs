//! The engine's settings as a command line gives them ([MCF-Grid] §5's parameters η, ε,
//! the window, the round limit; the potential, momentum and welfare scale; the LP
//! backend beside the run; the runtime and its cluster), turned into checked
//! [`EngineOptions`]. Each field's doc is its flag's help.

use thiserror::Error;

use super::runtime::timely::launch::ClusterSpec;
use super::session;
use super::{EngineError, EngineOptions, Injection, InjectionMode, Potential, Runtime, Variant};
use crate::lp::{Backend, LpError};
use brokerflow_graphs::ExpandedGraph;

/// The engine's and the runtime's settings, shared by every command that runs the
/// engine.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct EngineSettings {
    /// Round limit.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 20_000))]
    pub rounds: usize,
    /// ε: convergence tolerance (over the window, every commodity's absorbed and
    /// admitted amounts agree within ε of the admitted amount, and the window welfare
    /// agrees within ε of its gross amount with the window half a window earlier).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.03))]
    pub epsilon: f64,
    /// η: feasible mode injects (1 − η)·min(δ*,1)·d_k (headroom for convergence).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.02))]
    pub eta: f64,
    /// Rounds of the sliding window for convergence and for the reported averages.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 50))]
    pub window: usize,
    /// Demand mode: the height a source's queues may reach (it holds at most this ×
    /// its queues × its demand); more is discarded (counted as unserved). Higher
    /// serves more over long paths but converges slower; default 1.25 for fair, 4 for
    /// utility-aware (welfare-seeking admits by value instead).
    #[cfg_attr(feature = "clap", arg(long))]
    pub ceiling: Option<f64>,
    /// Queue potential.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "quadratic"))]
    pub potential: Potential,
    /// welfare-seeking variant: the dimensionless scale c of V (error shrinks like 1/c,
    /// rounds grow like c); default 3 in demand mode, 1 in feasible mode.
    #[cfg_attr(feature = "clap", arg(long))]
    pub welfare_scale: Option<f64>,
    /// Momentum β on pushes, in [0, 1): each push over an edge adds β × the node's own
    /// last push over it; default 0.98 in demand mode, 0.95 in feasible mode (0 switches it
    /// off).
    #[cfg_attr(feature = "clap", arg(long))]
    pub momentum: Option<f64>,
    /// LP solver (see `brokerflow solve --help`): for δ* in feasible mode, and in
    /// `settle` for P3, its duals and VCG's re-solves.
    #[cfg_attr(feature = "clap", arg(long, default_value = "auto"))]
    pub backend: Backend,
    /// Who runs the nodes; every runtime gives the same result, bit for bit.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "flat"))]
    pub runtime: Runtime,
    /// The timely runtime's workers and processes.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub cluster: ClusterSpec,
}

impl Default for EngineSettings {
    /// [`EngineOptions::new`]'s defaults, the `auto` backend, one process.
    fn default() -> EngineSettings {
        let o = EngineOptions::new(Variant::WelfareSeeking, Injection::Demand);
        EngineSettings {
            rounds: o.max_rounds,
            epsilon: o.epsilon,
            eta: o.eta,
            window: o.window,
            ceiling: o.ceiling,
            potential: o.potential,
            welfare_scale: o.welfare_scale,
            momentum: o.momentum,
            backend: Backend::DEFAULT,
            runtime: o.runtime,
            cluster: ClusterSpec::default(),
        }
    }
}

/// Why settings cannot run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A window no run can fill.
    #[error("--window {window} is longer than the round limit (--rounds {rounds}): a run never fills it")]
    WindowTooLong {
        /// The window.
        window: usize,
        /// The round limit.
        rounds: usize,
    },
    /// A setting out of range ([`EngineOptions::check`]).
    #[error("engine settings: {0}")]
    Engine(EngineError),
    /// P1, for feasible injection's δ*, failed.
    #[error(transparent)]
    Lp(#[from] LpError),
}

impl EngineSettings {
    /// The settings as options for `variant` in demand mode, every one checked: what a
    /// command refuses before any work, whether or not it runs the engine.
    pub fn settings(&self, variant: Variant) -> Result<EngineOptions, SettingsError> {
        if self.window > self.rounds {
            // Also what keeps a mistyped window from allocating window × pairs.
            return Err(SettingsError::WindowTooLong {
                window: self.window,
                rounds: self.rounds,
            });
        }
        let o = EngineOptions {
            max_rounds: self.rounds,
            epsilon: self.epsilon,
            eta: self.eta,
            window: self.window,
            ceiling: self.ceiling,
            potential: self.potential,
            welfare_scale: self.welfare_scale,
            momentum: self.momentum,
            runtime: self.runtime,
            ..EngineOptions::new(variant, Injection::Demand)
        };
        o.check().map_err(SettingsError::Engine)?;
        Ok(o)
    }

    /// The options for `variant` and injection mode `inject` on the market of `g`
    /// (solving P1 for δ* when feasible injection needs it, [`session::injection`]).
    pub fn options(
        &self,
        g: &ExpandedGraph,
        variant: Variant,
        inject: InjectionMode,
    ) -> Result<EngineOptions, SettingsError> {
        let mut o = self.settings(variant)?;
        o.injection = session::injection(inject, g, self.backend)?;
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_settings_are_the_engines_defaults() {
        let o = EngineSettings::default().settings(Variant::Fair).unwrap();
        assert_eq!(o, EngineOptions::new(Variant::Fair, Injection::Demand));
    }

    #[test]
    fn a_window_longer_than_the_round_limit_is_refused() {
        let s = EngineSettings {
            rounds: 10,
            window: 11,
            ..EngineSettings::default()
        };
        let e = s.settings(Variant::Fair).unwrap_err();
        assert!(matches!(
            e,
            SettingsError::WindowTooLong {
                window: 11,
                rounds: 10
            }
        ));
        let s = EngineSettings {
            eta: 0.9,
            ..EngineSettings::default()
        };
        let e = s.settings(Variant::Fair).unwrap_err();
        assert!(
            matches!(e, SettingsError::Engine(EngineError::Setting { .. })),
            "{e:?}"
        );
    }
}
