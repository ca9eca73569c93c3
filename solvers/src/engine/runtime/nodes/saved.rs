//! Saving and resuming the `nodes` runtime's state ([`crate::engine::replan`]): every
//! owned node's state read out into, and written back from, the runtimes' common
//! [`NodesState`].

use super::Nodes;
use crate::engine::accounting::Ring;
use crate::engine::node::{NodeConfig, NodeState};
use crate::engine::runtime::{LoadError, NodesState};
use crate::engine::variants::PushPolicy;

impl<P: PushPolicy> Nodes<'_, P> {
    pub(super) fn save_state(&self) -> NodesState {
        save_owned(&self.configs, &self.states, &self.sent, &self.lambda)
    }

    pub(super) fn load_state(
        &mut self,
        saved: &mut NodesState,
        window: bool,
    ) -> Result<(), LoadError> {
        load_owned(
            &self.configs,
            &mut self.states,
            &mut self.sent,
            &mut self.lambda,
            saved,
            window,
        )
    }
}

/// Every owned node's state and window (`configs` in node order, with their
/// `states` and windows `sent` and `lambda`) in the runtimes' common form. Shared by
/// every runtime that runs owned nodes.
pub(crate) fn save_owned<P: PushPolicy>(
    configs: &[NodeConfig<P>],
    states: &[NodeState<P>],
    sent: &[Ring],
    lambda: &[Ring],
) -> NodesState {
    let mut saved = NodesState::default();
    for (config, state) in configs.iter().zip(states) {
        let n = config.node;
        let mut j = 0;
        for (i, c) in config.commodities.iter().enumerate() {
            let k = c.local.k;
            let policy = serde_json::to_value(state.policy[i]).unwrap_or_default();
            saved.queues.insert((n, k), (state.held[i], policy));
            for e in &config.out[j..j + c.out_edges] {
                saved.pushed.insert((n, k, e.edge), state.pushed[j]);
                j += 1;
            }
        }
    }
    let rounds = sent.first().map_or(0, Ring::len);
    let mut rows: Vec<Vec<Vec<f64>>> = sent
        .iter()
        .map(|r| r.rows().map(<[f64]>::to_vec).collect())
        .collect();
    saved.sent = (0..rounds)
        .map(|r| {
            rows.iter_mut()
                .flat_map(|node| std::mem::take(&mut node[r]))
                .collect()
        })
        .collect();
    let priced: Vec<&Ring> = configs
        .iter()
        .zip(lambda)
        .filter(|(c, _)| c.capacity.is_some() && !c.commodities.is_empty())
        .map(|(_, l)| l)
        .collect();
    let lambdas: Vec<Vec<f64>> = priced
        .iter()
        .map(|l| l.rows().map(|row| row[0]).collect())
        .collect();
    saved.lambda = (0..rounds)
        .map(|r| lambdas.iter().map(|l| l[r]).collect())
        .collect();
    saved
}

/// Takes every owned node's state (and the window too when `window`) out of `saved`
/// into `states`, `sent` and `lambda` (aligned with `configs`, in node order), as
/// [`crate::engine::runtime::Executor::load`] says. Shared by every runtime that runs
/// owned nodes.
pub(crate) fn load_owned<P: PushPolicy>(
    configs: &[NodeConfig<P>],
    states: &mut [NodeState<P>],
    sent: &mut [Ring],
    lambda: &mut [Ring],
    saved: &mut NodesState,
    window: bool,
) -> Result<(), LoadError> {
    for (config, state) in configs.iter().zip(states.iter_mut()) {
        let n = config.node;
        let mut j = 0;
        for (i, c) in config.commodities.iter().enumerate() {
            let k = c.local.k;
            // As the flat runtime: jobs only where some usable edge brings them.
            let reachable = c.local.injection > 0.0 || c.local.queues as usize > c.out_edges;
            if reachable {
                if let Some((held, policy)) = saved.queues.remove(&(n, k)) {
                    state.policy[i] =
                        serde_json::from_value(policy).map_err(|source| LoadError::Policy {
                            commodity: k,
                            node: n,
                            source,
                        })?;
                    state.held[i] = held;
                }
            }
            for e in &config.out[j..j + c.out_edges] {
                state.pushed[j] = saved.pushed.remove(&(n, k, e.edge)).unwrap_or(0.0);
                j += 1;
            }
        }
    }
    if window {
        let width: usize = configs.iter().map(|c| c.out.len()).sum();
        let priced = configs
            .iter()
            .filter(|c| c.capacity.is_some() && !c.commodities.is_empty())
            .count();
        if saved.sent.iter().any(|r| r.len() != width)
            || saved.lambda.iter().any(|r| r.len() != priced)
            || saved.sent.len() != saved.lambda.len()
        {
            return Err(LoadError::WindowShape {
                out_edges: width,
                priced,
            });
        }
        let size = sent.first().map_or(0, Ring::size);
        // Refused before any node's window is written: a window that does not fit
        // leaves the windows empty.
        if !sent.is_empty() && saved.sent.len() > size {
            return Err(LoadError::TooLong);
        }
        let (mut at, mut column) = (0, 0);
        for ((config, sent), lambda) in configs.iter().zip(sent.iter_mut()).zip(lambda.iter_mut()) {
            let w = config.out.len();
            let rows: Vec<Vec<f64>> = saved.sent.iter().map(|r| r[at..at + w].to_vec()).collect();
            *sent = Ring::from_rows(size, w, &rows).ok_or(LoadError::TooLong)?;
            at += w;
            let rows: Vec<Vec<f64>> = if config.capacity.is_some() && !config.commodities.is_empty()
            {
                column += 1;
                saved.lambda.iter().map(|r| vec![r[column - 1]]).collect()
            } else {
                saved.sent.iter().map(|_| vec![0.0]).collect()
            };
            *lambda = Ring::from_rows(size, 1, &rows).ok_or(LoadError::TooLong)?;
        }
    }
    Ok(())
}
