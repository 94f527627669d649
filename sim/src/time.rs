//! Simulated time: integer seconds ("ticks") since the scenario's start instant, and the
//! Europe/Rome calendar that the legal rules are stated in.

use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Europe::Rome;

/// Seconds since the scenario's start instant.
pub type Tick = i64;

pub const MINUTE: Tick = 60;
pub const HOUR: Tick = 3600;
pub const DAY: Tick = 86_400;

/// Rounds to the nearest integer, half away from zero, as `f64::round` does (written
/// out because `f64::round` is a libm call on a hot path).
#[inline]
pub fn round_half_away(x: f64) -> f64 {
    to_ticks(x) as f64
}

/// Converts a duration in a scenario unit to ticks, rounding to the nearest second
/// (half away from zero).
#[inline]
fn to_ticks(x: f64) -> Tick {
    if x >= 0.0 {
        (x + 0.5) as Tick
    } else {
        (x - 0.5) as Tick
    }
}
#[inline]
pub fn hours(h: f64) -> Tick {
    to_ticks(h * HOUR as f64)
}
#[inline]
pub fn days(d: f64) -> Tick {
    to_ticks(d * DAY as f64)
}
#[inline]
pub fn minutes(m: f64) -> Tick {
    to_ticks(m * MINUTE as f64)
}

/// Maps ticks to instants and to Rome local time. The UTC offset is tabulated per hour
/// over the horizon so that the 21:00 rule costs a lookup, not a time-zone search.
#[derive(Debug, Clone)]
pub struct Calendar {
    start_utc: DateTime<Utc>,
    offsets_by_hour: Vec<i32>,
}

impl Calendar {
    /// `start_local` is a wall-clock time in Europe/Rome; `span` is how far ahead the
    /// offset table reaches (later ticks fall back to a time-zone computation).
    pub fn new(start_local: NaiveDateTime, span: Tick) -> Result<Self, String> {
        let start = Rome
            .from_local_datetime(&start_local)
            .single()
            .ok_or_else(|| {
                format!("{start_local} does not exist or is ambiguous in Europe/Rome")
            })?;
        let start_utc = start.with_timezone(&Utc);
        let hours = (span.max(0) / HOUR + 2) as usize;
        let offsets_by_hour = (0..hours)
            .map(|h| {
                let at = start_utc + Duration::hours(h as i64);
                at.with_timezone(&Rome).offset().fix().local_minus_utc()
            })
            .collect();
        Ok(Calendar {
            start_utc,
            offsets_by_hour,
        })
    }

    pub fn start_utc(&self) -> DateTime<Utc> {
        self.start_utc
    }

    pub fn to_utc(&self, t: Tick) -> DateTime<Utc> {
        self.start_utc + Duration::seconds(t)
    }

    fn offset_at(&self, t: Tick) -> i64 {
        // Offsets change on the hour in UTC, so an hourly table is exact.
        let start_second = self.start_utc.timestamp().rem_euclid(HOUR);
        let idx = (t + start_second).div_euclid(HOUR);
        match usize::try_from(idx)
            .ok()
            .and_then(|i| self.offsets_by_hour.get(i))
        {
            Some(o) => *o as i64,
            None => self
                .to_utc(t)
                .with_timezone(&Rome)
                .offset()
                .fix()
                .local_minus_utc() as i64,
        }
    }

    /// Seconds since local midnight in Europe/Rome.
    pub fn local_second_of_day(&self, t: Tick) -> i64 {
        (self.start_utc.timestamp() + t + self.offset_at(t)).rem_euclid(DAY)
    }

    /// Local (Europe/Rome) date-time of a tick.
    pub fn local(&self, t: Tick) -> DateTime<chrono_tz::Tz> {
        self.to_utc(t).with_timezone(&Rome)
    }

    /// Local hour (0..24) of a tick.
    pub fn local_hour(&self, t: Tick) -> u32 {
        self.local(t).hour()
    }

    /// The day index (0-based, from the start instant) a tick falls in, for daily series.
    pub fn day_index(t: Tick) -> i64 {
        t.div_euclid(DAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(s: &str) -> Calendar {
        Calendar::new(
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap(),
            400 * DAY,
        )
        .unwrap()
    }

    #[test]
    fn local_time_follows_daylight_saving() {
        let c = cal("2025-03-29T00:00:00");
        // 2025-03-30 02:00 CET becomes 03:00 CEST, so 48 h after a midnight start it is 01:00.
        assert_eq!(c.local_second_of_day(0), 0);
        assert_eq!(c.local_second_of_day(21 * HOUR), 21 * HOUR);
        // 45 h later the clocks have moved forward: 22:00, not 21:00.
        assert_eq!(c.local_second_of_day(45 * HOUR), 22 * HOUR);
        assert_eq!(c.local_second_of_day(48 * HOUR), HOUR);
        assert_eq!(c.local_hour(48 * HOUR), 1);
        // beyond the table the slow path agrees
        assert_eq!(c.local_second_of_day(500 * DAY), HOUR);
    }

    #[test]
    fn nonexistent_local_time_is_refused() {
        assert!(
            Calendar::new(
                NaiveDateTime::parse_from_str("2025-03-30T02:30:00", "%Y-%m-%dT%H:%M:%S").unwrap(),
                DAY
            )
            .is_err()
        );
    }
}
