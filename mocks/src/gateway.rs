//! The API gateway in front of the B2B API: a usage plan per API key (a token bucket
//! for the rate and the burst, and a daily quota), as production's STANDARD_B2B plan:
//! 50 requests a second, bursts of 100, 100,000 a day (`domain.md` §1.11).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Instant;

/// One key's limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UsagePlan {
    pub rate_per_second: f64,
    pub burst: u32,
    pub daily_quota: u64,
}

impl UsagePlan {
    /// Production's plan for B2B integrations.
    pub const STANDARD_B2B: UsagePlan = UsagePlan {
        rate_per_second: 50.0,
        burst: 100,
        daily_quota: 100_000,
    };
}

impl FromStr for UsagePlan {
    type Err = String;

    /// `RATE/BURST/DAILY`, e.g. `50/100/100000`.
    fn from_str(s: &str) -> Result<UsagePlan, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || format!("expected RATE/BURST/DAILY (e.g. 50/100/100000), got {s:?}");
        let [rate, burst, daily] = parts.as_slice() else {
            return Err(bad());
        };
        let plan = UsagePlan {
            rate_per_second: rate.parse().map_err(|_| bad())?,
            burst: burst.parse().map_err(|_| bad())?,
            daily_quota: daily.parse().map_err(|_| bad())?,
        };
        if !(plan.rate_per_second.is_finite() && plan.rate_per_second > 0.0) || plan.burst == 0 {
            return Err(format!(
                "{s:?}: the rate and the burst must be greater than 0"
            ));
        }
        Ok(plan)
    }
}

/// The gateway's answer to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Pass,
    /// Over the rate or the burst: `{"message":"Too Many Requests"}`.
    Throttled,
    /// Over the day's quota: `{"message":"Limit Exceeded"}`.
    QuotaExceeded,
}

struct Bucket {
    tokens: f64,
    last: Instant,
    day: i64,
    used: u64,
}

/// Limits per key; keys without a plan are not limited.
pub struct Gateway {
    plans: HashMap<String, UsagePlan>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Gateway {
    pub fn new(plans: HashMap<String, UsagePlan>) -> Gateway {
        Gateway {
            plans,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Admits or refuses one request of `key` at `now` (real time) on `day` (days since
    /// the Unix epoch, UTC: the quota's period).
    /// Whether any key has a plan (with none, nothing is ever refused).
    pub fn limits(&self) -> bool {
        !self.plans.is_empty()
    }

    pub fn admit(&self, key: &str, now: Instant, day: i64) -> Admission {
        let Some(plan) = self.plans.get(key) else {
            return Admission::Pass;
        };
        let mut buckets = self.buckets.lock().expect("gateway buckets");
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: plan.burst as f64,
            last: now,
            day,
            used: 0,
        });
        if b.day != day {
            b.day = day;
            b.used = 0;
        }
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * plan.rate_per_second).min(plan.burst as f64);
        b.last = now;
        if b.used >= plan.daily_quota {
            return Admission::QuotaExceeded;
        }
        if b.tokens < 1.0 {
            return Admission::Throttled;
        }
        b.tokens -= 1.0;
        b.used += 1;
        Admission::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_passes_then_the_rate_refills_and_the_quota_ends_the_day() {
        let plan = UsagePlan {
            rate_per_second: 10.0,
            burst: 5,
            daily_quota: 12,
        };
        let g = Gateway::new(HashMap::from([("k".to_string(), plan)]));
        let t0 = Instant::now();
        let first: Vec<Admission> = (0..7).map(|_| g.admit("k", t0, 1)).collect();
        assert_eq!(first.iter().filter(|a| **a == Admission::Pass).count(), 5);
        assert_eq!(first[5], Admission::Throttled);
        // 0.3 s later three tokens are back.
        let t1 = t0 + Duration::from_millis(300);
        let again: Vec<Admission> = (0..4).map(|_| g.admit("k", t1, 1)).collect();
        assert_eq!(
            again,
            [
                Admission::Pass,
                Admission::Pass,
                Admission::Pass,
                Admission::Throttled
            ]
        );
        // 8 used; 4 more exhaust the quota of 12.
        let t2 = t1 + Duration::from_secs(10);
        let rest: Vec<Admission> = (0..5).map(|_| g.admit("k", t2, 1)).collect();
        assert_eq!(rest[4], Admission::QuotaExceeded);
        assert_eq!(
            g.admit("k", t2, 2),
            Admission::Pass,
            "a new day, a new quota"
        );
        assert_eq!(
            g.admit("other", t2, 2),
            Admission::Pass,
            "keys without a plan pass"
        );
    }

    #[test]
    fn plans_parse_with_clear_errors() {
        assert_eq!(
            "50/100/100000".parse::<UsagePlan>(),
            Ok(UsagePlan::STANDARD_B2B)
        );
        assert!(
            "50/100"
                .parse::<UsagePlan>()
                .unwrap_err()
                .contains("RATE/BURST/DAILY")
        );
        assert!(
            "0/100/5"
                .parse::<UsagePlan>()
                .unwrap_err()
                .contains("greater than 0")
        );
    }
}
