//! Median, minimum and maximum of a few runs.

use serde::{Deserialize, Serialize};

/// The summary of one figure over its runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
    /// How many samples.
    pub n: usize,
}

impl Stats {
    /// The summary of `samples`; `None` when there is none or one is not a number.
    pub fn of(samples: &[f64]) -> Option<Stats> {
        if samples.is_empty() || samples.iter().any(|s| !s.is_finite()) {
            return None;
        }
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Stats {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        })
    }

    /// Every field scaled by `k` (units).
    pub fn scaled(self, k: f64) -> Stats {
        Stats {
            median: self.median * k,
            min: self.min * k,
            max: self.max * k,
            n: self.n,
        }
    }

    /// `median (min–max)` with at least `decimals` digits (more for small values, so
    /// two significant digits show); just the median for one sample.
    pub fn show(&self, decimals: usize) -> String {
        let d = decimals_for(self.min.min(self.median), decimals);
        if self.n <= 1 {
            format!("{:.*}", d, self.median)
        } else {
            format!(
                "{:.*} ({:.*}–{:.*})",
                d, self.median, d, self.min, d, self.max
            )
        }
    }
}

/// At least `decimals`, and enough for two significant digits of `v`.
pub fn decimals_for(v: f64, decimals: usize) -> usize {
    let a = v.abs();
    if a == 0.0 || !a.is_finite() {
        return decimals;
    }
    let need = (-a.log10()).ceil() + 1.0;
    decimals.max(need.clamp(0.0, 6.0) as usize)
}

/// `v` with at least `decimals` digits (see [`decimals_for`]).
pub fn num(v: f64, decimals: usize) -> String {
    format!("{:.*}", decimals_for(v, decimals), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_and_even_counts() {
        let s = Stats::of(&[3.0, 1.0, 2.0]).expect("stats");
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        let s = Stats::of(&[4.0, 1.0, 2.0, 10.0]).expect("stats");
        assert_eq!((s.median, s.min, s.max, s.n), (3.0, 1.0, 10.0, 4));
        let s = Stats::of(&[7.5]).expect("stats");
        assert_eq!((s.median, s.min, s.max), (7.5, 7.5, 7.5));
    }

    #[test]
    fn nothing_or_nan_gives_none() {
        assert_eq!(Stats::of(&[]), None);
        assert_eq!(Stats::of(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn display() {
        let s = Stats::of(&[1.0, 2.0, 4.0]).expect("stats");
        assert_eq!(s.show(1), "2.0 (1.0–4.0)");
        assert_eq!(Stats::of(&[2.25]).expect("stats").show(2), "2.25");
        assert_eq!(s.scaled(2.0).median, 4.0);
        assert_eq!(num(0.0123, 1), "0.012");
        assert_eq!(num(0.1, 1), "0.10");
        assert_eq!(num(231.25, 1), "231.2");
        assert_eq!(num(0.0, 2), "0.00");
        let small = Stats::of(&[0.05, 0.2]).expect("stats");
        assert_eq!(small.show(1), "0.125 (0.050–0.200)");
    }
}
