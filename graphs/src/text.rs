//! Numbers and counts as every report prints them: one definition, so the text of
//! `solve`, `run`, `compare`, `settle` and the HTML report agree to the digit.

use crate::Market;

/// `x` with `decimals` decimals, without the sign of a value that rounds to zero
/// ("0.0000", never "-0.0000").
///
/// # Example
/// ```
/// use brokerflow_graphs::text::fixed;
/// assert_eq!(fixed(-1e-12, 4), "0.0000");
/// assert_eq!(fixed(12.34567, 2), "12.35");
/// ```
pub fn fixed(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
        _ => s,
    }
}

/// `n` and the noun, in the plural unless `n` is 1: "1 broker", "2 brokers".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A market's size in words: brokers, links, users and providers.
pub fn census(m: &Market) -> String {
    format!(
        "{}, {}, {}, {}",
        count(m.brokers.len(), "broker"),
        count(m.links.len(), "link"),
        count(m.users.len(), "user"),
        count(m.providers.len(), "provider")
    )
}

#[cfg(test)]
mod tests {
    use super::{census, count, fixed};

    #[test]
    fn fixed_never_prints_a_negative_zero() {
        assert_eq!(fixed(-1e-12, 4), "0.0000");
        assert_eq!(fixed(-0.0, 4), "0.0000");
        assert_eq!(fixed(-0.00004, 4), "0.0000");
        assert_eq!(fixed(-0.0001, 4), "-0.0001");
        assert_eq!(fixed(12.34567, 2), "12.35");
        assert_eq!(fixed(-3.0, 0), "-3");
    }

    #[test]
    fn counts_are_singular_for_one() {
        assert_eq!(count(1, "broker"), "1 broker");
        assert_eq!(count(0, "broker"), "0 brokers");
        assert_eq!(count(2, "thread"), "2 threads");
    }

    #[test]
    fn the_census_of_tiny_counts_its_participants() {
        // graphs/markets/tiny.json lists 2 brokers, 6 links, 3 users and 2 providers.
        let m = crate::examples::tiny();
        assert_eq!(census(&m), "2 brokers, 6 links, 3 users, 2 providers");
    }
}
