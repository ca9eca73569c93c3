//! The aggregates of design §8, defined once: means with 95 % confidence intervals
//! from Student's t (n − 1 degrees of freedom), paired differences between two
//! methods on the same scenarios, and nearest-rank percentiles ("worst decile" = the
//! 10th percentile).
//!
//! Undefined measures (`None` in a row) are left out before aggregating; every
//! function says what it returns for too few values instead of panicking.

use serde::Serialize;

/// The confidence level of every interval brokerflow reports.
pub const CONFIDENCE: f64 = 0.95;

/// A mean with its confidence interval: mean ± half_width.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// How many values.
    pub n: usize,
    /// Their arithmetic mean.
    pub mean: f64,
    /// Half-width of the 95 % Student-t interval, t(0.975, n − 1)·s/√n; `None` for
    /// n < 2 (no spread to estimate).
    pub half_width: Option<f64>,
}

impl Estimate {
    /// Lower end of the interval (`None` for n < 2).
    pub fn low(&self) -> Option<f64> {
        self.half_width.map(|h| self.mean - h)
    }

    /// Upper end of the interval (`None` for n < 2).
    pub fn high(&self) -> Option<f64> {
        self.half_width.map(|h| self.mean + h)
    }
}

/// Arithmetic mean of a measure over scenarios.
///
/// # Arguments
/// * `xs`: the defined values.
///
/// # Returns
/// Σ x / n; `None` for no values.
///
/// # Complexity
/// O(n).
///
/// # Example
/// ```
/// use brokerflow_solvers::stats::mean;
///
/// assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
/// assert_eq!(mean(&[]), None);
/// ```
///
/// Paper: [MCF-Grid] §6 (averages over random scenarios); the statistics are textbook.
pub fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample standard deviation with Bessel's correction (divisor n − 1).
///
/// # Arguments
/// * `xs`: the defined values.
///
/// # Returns
/// s = √(Σ (x − x̄)² / (n − 1)); `None` for n < 2.
///
/// # Complexity
/// O(n).
///
/// # Example
/// ```
/// use brokerflow_solvers::stats::sample_std_dev;
///
/// // mean 3, squared deviations 4 + 1 + 0 + 1 + 4 = 10, 10 / 4 = 2.5
/// let s = sample_std_dev(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
/// assert!((s - 2.5f64.sqrt()).abs() < 1e-12);
/// assert_eq!(sample_std_dev(&[7.0]), None);
/// ```
///
/// Paper: [MCF-Grid] §6 (averages over random scenarios); the statistics are textbook.
pub fn sample_std_dev(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    Some((ss / (xs.len() - 1) as f64).sqrt())
}

/// Mean with its 95 % Student-t confidence interval (n − 1 degrees of freedom);
/// `None` for no values, a `None` half-width for one value.
///
/// # Arguments
/// * `xs`: the defined values.
///
/// # Returns
/// The [`Estimate`]: n, the mean and t(0.975, n − 1)·s/√n.
///
/// # Complexity
/// O(n), plus the t quantile's bisection (about 50 CDF evaluations).
///
/// # Example
/// ```
/// use brokerflow_solvers::stats::mean_ci;
///
/// // Mean 3, s = √2.5 and t(0.975, 4) = 2.776 (tables), so the half-width is
/// // 2.776·√2.5/√5 ≈ 1.963.
/// let e = mean_ci(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
/// assert_eq!((e.n, e.mean), (5, 3.0));
/// assert!((e.half_width.unwrap() - 1.963).abs() < 1e-3);
/// assert_eq!(mean_ci(&[4.0]).unwrap().half_width, None);
/// ```
///
/// Paper: [MCF-Grid] §6 (averages over random scenarios); the statistics are textbook.
pub fn mean_ci(xs: &[f64]) -> Option<Estimate> {
    let n = xs.len();
    let m = mean(xs)?;
    let half_width = sample_std_dev(xs)
        .map(|s| t_quantile(0.5 + CONFIDENCE / 2.0, (n - 1) as f64) * s / (n as f64).sqrt());
    Some(Estimate {
        n,
        mean: m,
        half_width,
    })
}

/// Per-scenario differences a_i − b_i over the scenarios where both are defined
/// (design §8: a gain of one method over another is the mean of these, with its own
/// paired CI). Slices are aligned by scenario; extra entries of the longer are ignored.
///
/// # Arguments
/// * `a`, `b`: one measure of two methods, per scenario, `None` where undefined.
///
/// # Returns
/// a_i − b_i for every scenario i where both are defined, in scenario order.
///
/// # Complexity
/// O(min(|a|, |b|)).
///
/// # Example
/// ```
/// use brokerflow_solvers::stats::paired_differences;
///
/// let a = [Some(5.0), None, Some(2.0), Some(9.0)];
/// let b = [Some(3.0), Some(1.0), None];
/// assert_eq!(paired_differences(&a, &b), vec![2.0]);
/// ```
///
/// Paper: [MCF-Grid] §6 Table 1 (utility-aware against fair on the same scenarios);
/// the statistics are textbook.
pub fn paired_differences(a: &[Option<f64>], b: &[Option<f64>]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .filter_map(|(x, y)| Some((*x)? - (*y)?))
        .collect()
}

/// The p-th percentile by nearest rank (0 < p ≤ 100): the value of rank ⌈p/100 · n⌉
/// (1-based) among the sorted values; p ≤ 0 gives the minimum. `None` for no values,
/// for a NaN among them, or for p outside [0, 100] or NaN. design §8's "worst
/// decile" is `percentile(xs, 10.0)`.
///
/// # Arguments
/// * `xs`: the values.
/// * `p`: the percentile, in [0, 100].
///
/// # Returns
/// The value of nearest rank ⌈p/100 · n⌉, or `None` as above.
///
/// # Complexity
/// O(n log n) (a sorted copy).
///
/// # Example
/// ```
/// use brokerflow_solvers::stats::percentile;
///
/// let xs: Vec<f64> = (1..=20).rev().map(f64::from).collect();
/// assert_eq!(percentile(&xs, 10.0), Some(2.0)); // rank ⌈0.1 · 20⌉ = 2
/// assert_eq!(percentile(&xs, 50.0), Some(10.0));
/// assert_eq!(percentile(&xs, 100.0), Some(20.0));
/// assert_eq!(percentile(&xs, 101.0), None);
/// ```
///
/// Paper: [MCF-Grid] §6 (averages over random scenarios); the statistics are textbook.
pub fn percentile(xs: &[f64], p: f64) -> Option<f64> {
    if xs.is_empty() || !(0.0..=100.0).contains(&p) || xs.iter().any(|x| x.is_nan()) {
        return None;
    }
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Student's t quantile: the t with P(T ≤ t) = p for `df` > 0 degrees of freedom
/// (0 < p < 1), by bisection on the CDF to about 1e-12. `NaN` for arguments out of
/// range.
///
/// # Arguments
/// * `p`: the probability, 0 < p < 1.
/// * `df`: the degrees of freedom, > 0.
///
/// # Returns
/// The quantile, or NaN.
///
/// # Complexity
/// O(log(t) + 45) CDF evaluations: doubling up to t, then bisection to about 1e-13.
///
/// # Example
/// ```
/// use brokerflow_solvers::stats::t_quantile;
///
/// // One degree of freedom is the Cauchy distribution: Q(p) = tan(π(p − ½)).
/// let q = t_quantile(0.975, 1.0);
/// assert!((q - (std::f64::consts::PI * 0.475).tan()).abs() < 1e-8);
/// assert!(t_quantile(0.5, 3.0).abs() < 1e-9);
/// assert!(t_quantile(1.0, 3.0).is_nan());
/// ```
///
/// Paper: [MCF-Grid] §6 (averages over random scenarios); the statistics are textbook.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if !(p > 0.0 && p < 1.0 && df > 0.0) {
        return f64::NAN;
    }
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while t_cdf(hi, df) < p {
        lo = hi;
        hi *= 2.0;
        if hi > 1e12 {
            return hi;
        }
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-13 * hi.max(1.0) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// Student's t CDF: P(T ≤ t) = 1 − ½·I_x(df/2, ½) for t ≥ 0, x = df/(df + t²).
///
/// # Arguments
/// * `t`: the value.
/// * `df`: the degrees of freedom, > 0.
///
/// # Returns
/// P(T ≤ t).
///
/// # Complexity
/// O(1): a continued fraction of at most a fixed number of terms.
///
/// # Example
/// ```
/// use brokerflow_solvers::stats::t_cdf;
///
/// // df = 1: ½ + atan(t)/π; df = 2: ½ + t / (2·√(2 + t²)).
/// assert!((t_cdf(1.0, 1.0) - 0.75).abs() < 1e-9);
/// assert!((t_cdf(1.0, 2.0) - (0.5 + 1.0 / (2.0 * 3f64.sqrt()))).abs() < 1e-9);
/// assert!((t_cdf(-1.0, 2.0) + t_cdf(1.0, 2.0) - 1.0).abs() < 1e-9);
/// ```
///
/// Paper: [MCF-Grid] §6 (averages over random scenarios); the statistics are textbook.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let x = df / (df + t * t);
    let tail = 0.5 * regularized_incomplete_beta(x, df / 2.0, 0.5);
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// I_x(a, b) by its continued fraction (modified Lentz), using the symmetry
/// I_x(a, b) = 1 − I_{1−x}(b, a) where that converges faster.
fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_continued_fraction(1.0 - x, b, a) / b
    }
}

fn beta_continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=500 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        for coefficient in [aa, -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0))] {
            d = 1.0 + coefficient * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + coefficient / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; ~1e-15 relative).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1 − x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn t_quantiles_match_the_printed_table() {
        // Two-sided 95 % critical values, t(0.975, df), from any statistics table.
        for (df, t) in [
            (1.0, 12.706),
            (2.0, 4.303),
            (3.0, 3.182),
            (4.0, 2.776),
            (5.0, 2.571),
            (9.0, 2.262),
            (10.0, 2.228),
            (29.0, 2.045),
            (30.0, 2.042),
            (99.0, 1.984),
            (1000.0, 1.962),
        ] {
            let q = t_quantile(0.975, df);
            assert!(close(q, t, 6e-4), "df {df}: {q} vs {t}");
        }
        // One-sided 99 % at 10 d.o.f., and symmetry.
        assert!(close(t_quantile(0.99, 10.0), 2.764, 6e-4));
        assert!(close(t_quantile(0.025, 4.0), -2.776, 6e-4));
        assert!(t_quantile(0.5, 7.0).abs() < 1e-12);
        // df = 1 is the Cauchy distribution: t(p) = tan(π(p − ½)) exactly.
        let exact = (std::f64::consts::PI * 0.475).tan();
        assert!(close(t_quantile(0.975, 1.0), exact, 1e-9));
        assert!(t_quantile(1.0, 3.0).is_nan() && t_quantile(0.9, 0.0).is_nan());
    }

    #[test]
    fn mean_and_interval_by_hand() {
        // [1..5]: mean 3, s² = (4+1+0+1+4)/4 = 2.5, half-width 2.776·√2.5/√5 = 1.963.
        let e = mean_ci(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!((e.n, e.mean), (5, 3.0));
        assert!(close(
            sample_std_dev(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap(),
            2.5f64.sqrt(),
            1e-12
        ));
        assert!(close(e.half_width.unwrap(), 1.963, 1e-3), "{e:?}");
        assert!(close(e.low().unwrap(), 1.037, 1e-3));
        // [2, 4]: mean 3, s = √2, half-width 12.706·√2/√2 = 12.706.
        let e = mean_ci(&[2.0, 4.0]).unwrap();
        assert!(close(e.half_width.unwrap(), 12.706, 1e-3));
        // One value: a mean, no interval; none: nothing.
        let e = mean_ci(&[7.0]).unwrap();
        assert_eq!((e.mean, e.half_width, e.high()), (7.0, None, None));
        assert_eq!(mean_ci(&[]), None);
        assert_eq!(mean(&[]), None);
    }

    #[test]
    fn paired_differences_skip_undefined_scenarios() {
        let a = [Some(10.0), None, Some(7.0), Some(4.0)];
        let b = [Some(8.0), Some(1.0), None, Some(5.0)];
        assert_eq!(paired_differences(&a, &b), vec![2.0, -1.0]);
        // Paired CI of [2, -1]: mean 0.5, s = √4.5, half-width 12.706·√4.5/√2 = 19.059.
        let e = mean_ci(&paired_differences(&a, &b)).unwrap();
        assert!(close(e.mean, 0.5, 1e-12));
        assert!(close(e.half_width.unwrap(), 19.059, 1e-3));
    }

    #[test]
    fn nearest_rank_percentiles() {
        // The textbook example: 15, 20, 35, 40, 50.
        let xs = [50.0, 15.0, 40.0, 20.0, 35.0];
        assert_eq!(percentile(&xs, 5.0), Some(15.0)); // rank ⌈0.25⌉ = 1
        assert_eq!(percentile(&xs, 30.0), Some(20.0)); // rank ⌈1.5⌉ = 2
        assert_eq!(percentile(&xs, 40.0), Some(20.0)); // rank 2
        assert_eq!(percentile(&xs, 50.0), Some(35.0)); // rank ⌈2.5⌉ = 3
        assert_eq!(percentile(&xs, 100.0), Some(50.0));
        assert_eq!(percentile(&xs, 0.0), Some(15.0));
        // Worst decile of 1..=20 is the 2nd smallest.
        let ys: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&ys, 10.0), Some(2.0));
        assert_eq!(percentile(&[], 10.0), None);
        assert_eq!(percentile(&xs, 101.0), None);
        assert_eq!(percentile(&[1.0, f64::NAN], 50.0), None);
    }
}
