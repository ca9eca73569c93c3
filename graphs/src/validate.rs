//! The rules of design §3, checked in file order so the first offender is reported.

use std::collections::{HashMap, HashSet};

use crate::error::{MarketError, Rule, MONEY_LIMIT};
use crate::market::{Market, ValidMarket};
use crate::role::Role;

impl Market {
    /// Checks that a market is one of the paper's linked markets: users, brokers and
    /// providers with unique ids, links only user → broker, broker → broker and
    /// broker → provider, non-negative demands, valuations, capacities and costs,
    /// positive requirements r_k, and totals small enough that welfare stays finite
    /// (the rules of design §3, checked in file order).
    ///
    /// # Arguments
    /// * `self`: the parsed market, taken so that only a checked one can become a
    ///   [`ValidMarket`].
    ///
    /// # Returns
    /// The market as a [`ValidMarket`], the only input [`crate::ExpandedGraph::new`]
    /// accepts.
    ///
    /// # Errors
    /// [`MarketError::Invalid`] naming the first offender in file order and the
    /// [`Rule`] it breaks.
    ///
    /// # Complexity
    /// O(N + L + E + T) expected time for N participants, L links, E entries in the
    /// users' eligible lists and T posted prices (hash sets of the ids and link pairs).
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::examples;
    ///
    /// let mut m = examples::tiny().into_market();
    /// assert!(m.clone().validate().is_ok());
    /// // A link from a provider back to a broker is not one of the market's roles.
    /// let mut back = m.links[0].clone();
    /// back.from = "p1".to_string();
    /// back.to = "b1".to_string();
    /// m.links.push(back);
    /// assert!(m.validate().is_err());
    /// ```
    ///
    /// Paper: [MCF-Grid] §4.1.
    pub fn validate(self) -> Result<ValidMarket, MarketError> {
        self.validate_as("<market>")
    }

    /// Checks the rules of [`Market::validate`] without taking the market (for a
    /// yes/no answer; to build G′, [`Market::validate`] it).
    ///
    /// # Arguments
    /// * `self`: the market to check.
    ///
    /// # Returns
    /// `Ok(())` when the market is valid.
    ///
    /// # Errors
    /// As [`Market::validate`].
    ///
    /// # Complexity
    /// As [`Market::validate`].
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::examples;
    ///
    /// let mut m = examples::tiny().into_market();
    /// assert!(m.check().is_ok());
    /// m.users[0].requirement = 0.0; // r_k must be positive
    /// assert!(m.check().is_err());
    /// ```
    ///
    /// Paper: [MCF-Grid] §4.1.
    pub fn check(&self) -> Result<(), MarketError> {
        validate(self, "<market>")
    }

    /// [`Market::validate`], naming the input `origin` (a file name) in the error.
    ///
    /// # Arguments
    /// * `self`: the parsed market.
    /// * `origin`: where it came from, quoted in the error.
    ///
    /// # Returns
    /// The market as a [`ValidMarket`].
    ///
    /// # Errors
    /// As [`Market::validate`], with `origin` in [`MarketError::Invalid`].
    ///
    /// # Complexity
    /// As [`Market::validate`].
    ///
    /// # Example
    /// ```
    /// use brokerflow_graphs::examples;
    ///
    /// let mut m = examples::tiny().into_market();
    /// m.users[1].demand = -1.0;
    /// let e = m.validate_as("tiny.json").unwrap_err();
    /// assert!(e.to_string().contains("tiny.json"));
    /// ```
    ///
    /// Paper: [MCF-Grid] §4.1.
    pub fn validate_as(self, origin: &str) -> Result<ValidMarket, MarketError> {
        validate(&self, origin)?;
        Ok(ValidMarket(self))
    }
}

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
        if let Some(problem) = id_problem(id) {
            return Err(fail(
                at,
                Rule::BadId {
                    id: id.to_string(),
                    problem,
                },
            ));
        }
        if id.contains("->") || id == "sink" || collection_name {
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
    money_bound(m).map_err(|(at, rule)| fail(at, rule))
}

/// Refuses numbers whose products overflow: the volume Σ d_k (jobs) and Σ r_k·d_k
/// (resource units), the gross value Σ v_k·d_k, and every cost or posted price times
/// the most it can be charged on (Σ d_k jobs at a broker, on a link or at a price,
/// Σ r_k·d_k resource units at a provider) must each, and summed with all before them,
/// stay at or below [`MONEY_LIMIT`]. Each number alone may be finite (1e308) and still
/// make welfare infinite and payments NaN; this names the first field, in file order,
/// where that would begin.
fn money_bound(m: &Market) -> Result<(), (String, Rule)> {
    let mut total = 0.0_f64;
    let mut add = |at: String, term: &'static str, amount: f64| {
        total += amount;
        if !(within(amount) && within(total)) {
            return Err((
                at,
                Rule::TooLarge {
                    term,
                    value: if within(amount) { total } else { amount },
                },
            ));
        }
        Ok(())
    };
    let (mut jobs, mut units) = (0.0_f64, 0.0_f64);
    for (i, u) in m.users.iter().enumerate() {
        let at = || format!("users[{i}] ({})", u.id);
        jobs += u.demand;
        units += u.requirement * u.demand;
        for (term, amount) in [
            ("the demands' sum Σ d_k", jobs),
            ("the resource units demanded Σ r_k·d_k", units),
        ] {
            if !within(amount) {
                return Err((
                    at(),
                    Rule::TooLarge {
                        term,
                        value: amount,
                    },
                ));
            }
        }
        add(at(), "demand × valuation", u.demand * u.valuation)?;
    }
    for (i, b) in m.brokers.iter().enumerate() {
        add(
            format!("brokers[{i}] ({})", b.id),
            "cost × Σ d_k",
            b.cost * jobs,
        )?;
    }
    for (i, p) in m.providers.iter().enumerate() {
        let at = format!("providers[{i}] ({})", p.id);
        add(at, "cost × Σ r_k·d_k", p.cost * units)?;
    }
    for (i, l) in m.links.iter().enumerate() {
        let at = format!("links[{i}] ({}->{})", l.from, l.to);
        add(at, "cost × Σ d_k", l.cost * jobs)?;
    }
    if let Some(prices) = &m.prices {
        for (kind, table) in [("broker", &prices.broker), ("provider", &prices.provider)] {
            for (n, row) in table {
                for (k, price) in row {
                    add(
                        format!("prices.{kind}.{n}.{k}"),
                        "price × Σ d_k",
                        price * jobs,
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// At most [`MONEY_LIMIT`] (false for NaN and infinity).
fn within(amount: f64) -> bool {
    amount <= MONEY_LIMIT
}

/// What is wrong with `id` as a participant's id, or `None`: an id is not empty, not
/// only whitespace, has no leading or trailing whitespace, and contains no control
/// characters and no invisible format characters (zero-width space and joiners, the
/// byte-order mark, bidirectional controls, soft hyphen …), so that two ids that look
/// alike are alike.
pub fn id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        return Some("ids must not be empty");
    }
    if id.trim().is_empty() {
        return Some("ids must not be only whitespace");
    }
    if id.trim() != id {
        return Some("ids must not start or end with whitespace");
    }
    if id.chars().any(char::is_control) {
        return Some("ids must not contain control characters");
    }
    if id.chars().any(invisible) {
        return Some("ids must not contain invisible format characters (zero-width spaces or joiners, byte-order marks, bidirectional controls)");
    }
    None
}

/// Unicode's format characters (general category Cf) and the other code points that
/// render as nothing: look-alike ids differ only by these.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{0600}'..='\u{0605}' | '\u{06DD}'
        | '\u{070F}' | '\u{08E2}' | '\u{110BD}' | '\u{110CD}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
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
