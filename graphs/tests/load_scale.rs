//! Loading grows with the links plus the usable (edge, commodity) pairs (design §12),
//! not with users × users. The test builds G′ for a market whose size a linear build
//! handles in about a second while the quadratic step it guards against would take
//! many minutes: nothing is timed; a quadratic build simply does not finish (the test
//! run hangs instead of passing). The expected sizes are counted by hand from the
//! market's shape.

use brokerflow_graphs::{Broker, ExpandedGraph, Link, Market, Provider, User, ValidMarket};

fn user(i: usize, eligible: Option<Vec<String>>) -> User {
    User {
        id: format!("u{i}"),
        demand: 1.0,
        requirement: 1.0,
        valuation: 10.0,
        eligible,
    }
}

fn link(from: &str, to: &str, bandwidth: Option<f64>) -> Link {
    Link {
        from: from.to_string(),
        to: to.to_string(),
        bandwidth,
        cost: 0.0,
    }
}

fn provider(id: &str) -> Provider {
    Provider {
        id: id.to_string(),
        capacity: None,
        cost: 0.0,
    }
}

fn valid(users: Vec<User>, providers: Vec<Provider>, links: Vec<Link>) -> ValidMarket {
    Market {
        name: "scale".to_string(),
        users,
        brokers: vec![Broker {
            id: "b".to_string(),
            capacity: None,
            cost: 0.0,
        }],
        providers,
        links,
        prices: None,
        meta: None,
    }
    .validate()
    .expect("a valid market")
}

/// 200 000 users on one broker and one provider: every user reaches the one provider,
/// which then has 200 000 edges to collection points. Walking those edges for every
/// user (the quadratic step this test guards against: 4·10¹⁰ steps) would take hours;
/// the linear build takes about a second.
#[test]
fn two_hundred_thousand_users_on_one_broker_load() {
    let n = 200_000;
    let users: Vec<User> = (0..n).map(|i| user(i, None)).collect();
    let mut links: Vec<Link> = (0..n)
        .map(|i| link(&format!("u{i}"), "b", Some(1.0)))
        .collect();
    links.push(link("b", "p", Some(n as f64)));
    let market = valid(users, vec![provider("p")], links);
    let g = ExpandedGraph::new(&market);
    // Users, the broker, the provider, one bandwidth node per link, one collection
    // point per user.
    assert_eq!(g.graph.node_count(), n + 1 + 1 + (n + 1) + n);
    // Two edges per finite link, one provider → t_k edge per user.
    assert_eq!(g.graph.edge_count(), 2 * (n + 1) + n);
    // Per user: u → u->b → b → b->p → p → t(u).
    assert_eq!(g.usable_pairs(), 5 * n);
    assert_eq!(g.stranded().count(), 0);
}
