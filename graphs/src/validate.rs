//! The rules of design §3, checked in file order so the first offender is reported.

use std::collections::{HashMap, HashSet};

use crate::error::{MarketError, Rule};
use crate::market::{Market, Role};

pub(crate) fn validate<'m>(m: &'m Market, origin: &str) -> Result<(), MarketError> {
    let fail = |at: String, rule: Rule| MarketError::Invalid {
        origin: origin.to_string(),
        at,
        rule,
    };
    let mut roles: HashMap<&'m str, Role> = HashMap::new();
    let mut declare = |id: &'m str, role: Role, at: String| -> Result<(), MarketError> {
        // `t(k)` is how G′ names collection points: a participant so named would alias one.
        let collection_name = id.starts_with("t(") && id.ends_with(')');
        if id.is_empty() || id.contains("->") || id == "sink" || collection_name {
            return Err(fail(at, Rule::ReservedId(id.to_string())));
        }
        if roles.insert(id, role).is_some() {
            return Err(fail(at, Rule::DuplicateId(id.to_string())));
        }
        Ok(())
    };
    for (i, u) in m.users.iter().enumerate() {
        let at = format!("users[{i}] ({})", u.id);
        declare(&u.id, Role::User, at.clone())?;
        non_negative(u.demand, "demand").map_err(|r| fail(at.clone(), r))?;
        finite(u.requirement, "requirement").map_err(|r| fail(at.clone(), r))?;
        if u.requirement <= 0.0 {
            return Err(fail(at, Rule::RequirementNotPositive(u.requirement)));
        }
        non_negative(u.valuation, "valuation").map_err(|r| fail(at, r))?;
    }
    for (i, b) in m.brokers.iter().enumerate() {
        let at = format!("brokers[{i}] ({})", b.id);
        declare(&b.id, Role::Broker, at.clone())?;
        if let Some(c) = b.capacity {
            non_negative(c, "capacity").map_err(|r| fail(at.clone(), r))?;
        }
        non_negative(b.cost, "cost").map_err(|r| fail(at, r))?;
    }
    for (i, p) in m.providers.iter().enumerate() {
        let at = format!("providers[{i}] ({})", p.id);
        declare(&p.id, Role::Provider, at.clone())?;
        if let Some(c) = p.capacity {
            non_negative(c, "capacity").map_err(|r| fail(at.clone(), r))?;
        }
        non_negative(p.cost, "cost").map_err(|r| fail(at, r))?;
    }
    let role = |id: &str, at: &str| -> Result<Role, MarketError> {
        roles
            .get(id)
            .copied()
            .ok_or_else(|| fail(at.to_string(), Rule::UnknownId(id.to_string())))
    };
    let expect = |id: &str, expected: Role, at: &str| -> Result<(), MarketError> {
        let found = role(id, at)?;
        if found != expected {
            return Err(fail(
                at.to_string(),
                Rule::WrongRole {
                    id: id.to_string(),
                    found,
                    expected,
                },
            ));
        }
        Ok(())
    };
    for (i, u) in m.users.iter().enumerate() {
        if let Some(list) = &u.eligible {
            let mut seen = HashSet::new();
            for (j, p) in list.iter().enumerate() {
                let at = format!("users[{i}].eligible[{j}] ({})", u.id);
                expect(p, Role::Provider, &at)?;
                if !seen.insert(p.as_str()) {
                    return Err(fail(at, Rule::DuplicateEligible(p.clone())));
                }
            }
        }
    }
    let mut pairs = HashSet::new();
    for (i, l) in m.links.iter().enumerate() {
        let at = format!("links[{i}] ({}->{})", l.from, l.to);
        let from = role(&l.from, &at)?;
        let to = role(&l.to, &at)?;
        if l.from == l.to {
            return Err(fail(at, Rule::SelfLoop(l.from.clone())));
        }
        let allowed = matches!(
            (from, to),
            (Role::User, Role::Broker)
                | (Role::Broker, Role::Broker)
                | (Role::Broker, Role::Provider)
        );
        if !allowed {
            return Err(fail(at, Rule::WrongRolePair { from, to }));
        }
        if !pairs.insert((l.from.as_str(), l.to.as_str())) {
            return Err(fail(at, Rule::DuplicateLink(l.from.clone(), l.to.clone())));
        }
        if let Some(bw) = l.bandwidth {
            non_negative(bw, "bandwidth").map_err(|r| fail(at.clone(), r))?;
        }
        non_negative(l.cost, "cost").map_err(|r| fail(at, r))?;
    }
    if let Some(prices) = &m.prices {
        for (kind, table, seller) in [
            ("broker", &prices.broker, Role::Broker),
            ("provider", &prices.provider, Role::Provider),
        ] {
            for (n, row) in table {
                expect(n, seller, &format!("prices.{kind}.{n}"))?;
                for (k, price) in row {
                    let at = format!("prices.{kind}.{n}.{k}");
                    expect(k, Role::User, &at)?;
                    non_negative(*price, "price").map_err(|r| fail(at, r))?;
                }
            }
        }
    }
    Ok(())
}

fn finite(x: f64, field: &'static str) -> Result<(), Rule> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(Rule::NonFinite { field })
    }
}

fn non_negative(x: f64, field: &'static str) -> Result<(), Rule> {
    finite(x, field)?;
    if x < 0.0 {
        return Err(Rule::Negative { field, value: x });
    }
    Ok(())
}
