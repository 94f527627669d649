//! The public monthly series of SEND notifications (SEND in numeri), embedded from
//! `sim/data/send_monthly.tsv` (made by `scripts/gen_monthly_series.py`).

use super::schema::month_index;

const SERIES: &str = include_str!("../../data/send_monthly.tsv");

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObservedMonth {
    /// Months since year 0 (see `month_index`).
    pub month: i64,
    pub analog: f64,
    pub digital: f64,
}

impl ObservedMonth {
    pub fn total(&self) -> f64 {
        self.analog + self.digital
    }
    pub fn digital_share(&self) -> f64 {
        if self.total() > 0.0 {
            self.digital / self.total()
        } else {
            0.0
        }
    }
}

/// Every observed month, in order.
pub fn series() -> Vec<ObservedMonth> {
    SERIES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("month"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            ObservedMonth {
                month: month_index(f[0]).expect("the embedded series is well formed"),
                analog: f[1].parse().expect("a count"),
                digital: f[2].parse().expect("a count"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_series_adds_up_to_the_published_yearly_totals() {
        let s = series();
        let year = |y: i64| -> (f64, f64) {
            s.iter()
                .filter(|m| m.month.div_euclid(12) == y)
                .fold((0.0, 0.0), |(t, d), m| (t + m.total(), d + m.digital))
        };
        // SEND in numeri: 2024 8,948,334 (17.7% digital); 2025 to September 11,170,807 (23.5%).
        let (t, d) = year(2024);
        assert_eq!(t, 8_948_334.0);
        assert!((d / t - 0.177).abs() < 0.0005);
        let (t, d) = year(2025);
        assert_eq!(t, 11_170_807.0);
        assert!((d / t - 0.235).abs() < 0.0005);
    }
}
