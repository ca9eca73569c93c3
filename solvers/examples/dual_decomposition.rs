//! A welfare-seeking exploration, candidate 2: price-based dual decomposition (tâtonnement), as a
//! fluid-model prototype on G′ — not an engine variant. Each capacitated node n posts a
//! price μ_n per resource unit and moves it with its excess demand,
//! μ_n ← max(0, μ_n + α·(v̄ + μ_n)·(load_n − R_n)/R_n) (multiplicative above v̄, so whales' prices are reached in log time); each node keeps, per commodity, a
//! smoothed cost-to-collection P^k_n = softmin_τ over out-edges of
//! (unit cost + r^k_n·μ_n + P^k_head), updated once per round from its out-neighbours'
//! last values (distance-vector); it splits its flow of k by the softmin weights; the
//! source admits d_k·σ((v_k − P^k_s)/τ). v̄ is the median valuation, τ = tau·v̄.
//! Reports, per market, P3, the window-averaged (200 rounds) welfare as % of P3, the
//! largest relative capacity violation of that averaged flow, and the first round from
//! which the welfare stays ≥ 95 % of P3 with every capacity violated by at most 1 %.
//! Usage: dual_decomposition ALPHA TAU ROUNDS market.json…
use brokerflow_graphs::{ExpandedGraph, Flow, Market};
use brokerflow_solvers::lp::{self, LpOptions, Objective};
use petgraph::graph::NodeIndex;
use std::collections::VecDeque;

const USAGE: &str = "usage: dual_decomposition ALPHA TAU ROUNDS market.json…";

fn main() {
    if let Err(e) = prototype() {
        eprintln!("dual_decomposition: {e}\n{USAGE}");
        std::process::exit(2);
    }
}

fn prototype() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut number = |name: &str| -> Result<f64, String> {
        let text = args.next().ok_or(format!("missing {name}"))?;
        text.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x > 0.0)
            .ok_or(format!("{name} must be a positive number, got '{text}'"))
    };
    let alpha = number("ALPHA")?;
    let tau_rel = number("TAU")?;
    let max_rounds = number("ROUNDS")? as usize;
    for path in args {
        let market = Market::load(&path).map_err(|e| e.to_string())?;
        let g = ExpandedGraph::new(&market);
        let p3 = lp::solve(&g, Objective::Welfare, &LpOptions::default())
            .map_err(|e| format!("{path}: P3: {e}"))?
            .welfare(&g)
            .unwrap_or(0.0);
        let mut vals: Vec<f64> = g
            .commodities
            .iter()
            .filter(|c| c.demand > 0.0 && !c.is_stranded())
            .map(|c| c.valuation)
            .collect();
        vals.sort_by(f64::total_cmp);
        let Some(&vbar) = vals.get(vals.len() / 2) else {
            println!("{path}: no user with demand");
            continue;
        };
        let tau = tau_rel * vbar;
        let nn = g.graph.node_count();
        let cap: Vec<Option<f64>> = (0..nn)
            .map(|n| g.node(NodeIndex::new(n)).capacity)
            .collect();
        let mut mu = vec![0.0; nn];
        // Per commodity: P per node.
        let mut pk: Vec<Vec<f64>> = g.commodities.iter().map(|_| vec![0.0; nn]).collect();
        let mut window: VecDeque<Flow> = VecDeque::new();
        let mut sum = Flow::zero(&g);
        let mut stays: Option<usize> = None;
        let mut last_pct = 0.0;
        let mut last_viol = 0.0;
        for round in 1..=max_rounds {
            let mut flow = Flow::zero(&g);
            let mut load = vec![0.0; nn];
            for (k, c) in g.commodities.iter().enumerate() {
                if c.demand <= 0.0 || c.is_stranded() {
                    continue;
                }
                // Out-edges per node: (index in usable, head, z).
                let mut outs: Vec<Vec<(usize, usize, f64)>> = vec![Vec::new(); nn];
                for (i, &e) in c.usable.iter().enumerate() {
                    let (t, h) = g.graph.edge_endpoints(e).unwrap();
                    let ph = if h == c.sink { 0.0 } else { pk[k][h.index()] };
                    let z = g.unit_cost(e, k) + g.resource_use(t, k) * mu[t.index()] + ph;
                    outs[t.index()].push((i, h.index(), z));
                }
                let mut newp = pk[k].clone();
                let mut split: Vec<Vec<(usize, usize, f64)>> = vec![Vec::new(); nn];
                for n in 0..nn {
                    if outs[n].is_empty() {
                        continue;
                    }
                    let m = outs[n].iter().map(|o| o.2).fold(f64::INFINITY, f64::min);
                    let w: Vec<f64> = outs[n].iter().map(|o| (-(o.2 - m) / tau).exp()).collect();
                    let s: f64 = w.iter().sum();
                    newp[n] = m - tau * s.ln();
                    split[n] = outs[n]
                        .iter()
                        .zip(&w)
                        .map(|(o, w)| (o.0, o.1, w / s))
                        .collect();
                }
                pk[k] = newp;
                let s = c.source.index();
                let admit = c.demand / (1.0 + (-(c.valuation - pk[k][s]) / tau).exp());
                // Propagate (G′ is a DAG here; passes until nothing is left in transit).
                let mut mass = vec![0.0; nn];
                mass[s] = admit;
                for _ in 0..64 {
                    let mut next = vec![0.0; nn];
                    let mut moved = false;
                    for n in 0..nn {
                        if mass[n] <= 1e-15 || split[n].is_empty() {
                            continue;
                        }
                        moved = true;
                        load[n] += g.resource_use(NodeIndex::new(n), k) * mass[n];
                        for &(i, h, f) in &split[n] {
                            flow.x[k][i] += mass[n] * f;
                            if h != c.sink.index() {
                                next[h] += mass[n] * f;
                            }
                        }
                    }
                    mass = next;
                    if !moved {
                        break;
                    }
                }
            }
            for n in 0..nn {
                if let Some(r) = cap[n] {
                    if r > 0.0 {
                        mu[n] = (mu[n] + alpha * (vbar + mu[n]) * (load[n] - r) / r).max(0.0);
                    }
                }
            }
            for (k, xs) in flow.x.iter().enumerate() {
                for (i, x) in xs.iter().enumerate() {
                    sum.x[k][i] += x;
                }
            }
            window.push_back(flow);
            if window.len() > 200 {
                let old = window.pop_front().unwrap();
                for (k, xs) in old.x.iter().enumerate() {
                    for (i, x) in xs.iter().enumerate() {
                        sum.x[k][i] -= x;
                    }
                }
            }
            if round % 50 == 0 || round == max_rounds {
                let mut avg = Flow::zero(&g);
                let w = window.len() as f64;
                for (k, xs) in avg.x.iter_mut().enumerate() {
                    for (i, x) in xs.iter_mut().enumerate() {
                        *x = sum.x[k][i] / w;
                    }
                }
                let mut ld = vec![0.0; nn];
                for (k, c) in g.commodities.iter().enumerate() {
                    for (i, &e) in c.usable.iter().enumerate() {
                        let (t, _) = g.graph.edge_endpoints(e).unwrap();
                        ld[t.index()] += g.resource_use(t, k) * avg.x[k][i];
                    }
                }
                last_viol = (0..nn)
                    .filter_map(|n| cap[n].filter(|r| *r > 0.0).map(|r| (ld[n] - r) / r))
                    .fold(0.0, f64::max);
                last_pct = 100.0 * avg.welfare(&g) / p3;
                if last_pct >= 95.0 && last_viol <= 0.01 {
                    stays.get_or_insert(round);
                } else {
                    stays = None;
                }
            }
        }
        println!(
            "{path}\tp3={p3:.3}\tfinal={last_pct:.2}\tviolation={last_viol:.4}\tstays95={}",
            stays.map_or("never".into(), |r: usize| r.to_string())
        );
    }
    Ok(())
}
