//! Shared by the engine's comparison tests: everything a run reports, as bits.

use brokerflow_graphs::ExpandedGraph;
use brokerflow_solvers::engine::{routing_table, EngineRun, TraceRow};

/// Everything a run reports, one line per part, f64s by `to_bits` (so that 0.0 vs
/// −0.0 or the last ulp count): rounds, stop, window averages, ledger residuals, served
/// amounts, prices, the flows and moved amounts per commodity, every broker's routing
/// table and the trace.
pub fn fingerprint(g: &ExpandedGraph, r: &EngineRun, trace: &[TraceRow]) -> Vec<String> {
    let bits = |xs: &[f64]| {
        xs.iter()
            .map(|x| format!("{:016x}", x.to_bits()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = vec![
        format!(
            "rounds {} converged {} stop {:?}",
            r.rounds, r.converged, r.stop
        ),
        format!("injected {}", bits(&r.injected)),
        format!("discarded {}", bits(&r.discarded)),
        format!("injection {}", bits(&r.injection)),
        format!(
            "residuals {}",
            bits(&[r.max_ledger_residual, r.max_capacity_violation])
        ),
        format!(
            "served {}",
            bits(
                &(0..g.commodities.len())
                    .map(|k| r.served(g, k))
                    .collect::<Vec<_>>()
            )
        ),
        format!(
            "prices {}",
            bits(
                &r.prices
                    .iter()
                    .map(|p| p.unwrap_or(f64::NAN))
                    .collect::<Vec<_>>()
            )
        ),
    ];
    for (k, (flow, moved)) in r.flow.x.iter().zip(&r.moved.x).enumerate() {
        out.push(format!("flow {k}: {}", bits(flow)));
        out.push(format!("moved {k}: {}", bits(moved)));
    }
    for route in routing_table(g, &r.flow) {
        out.push(format!(
            "route {} {} {} {:016x}",
            route.broker,
            route.commodity,
            route.next_hop,
            route.fraction.to_bits()
        ));
    }
    for row in trace {
        out.push(format!(
            "trace {} {} {}",
            row.round,
            row.commodity,
            bits(&[row.injected, row.absorbed, row.queued, row.discarded])
        ));
    }
    out
}
