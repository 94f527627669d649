//! The mock's simulated clock: simulated seconds run `scale` times faster than real
//! ones (one simulated day per real second by default), from an epoch; the admin API
//! can set or advance it.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

fn real_now() -> Instant {
    Instant::now()
}

pub struct SimClock {
    epoch: DateTime<Utc>,
    /// The epoch's Unix seconds and milliseconds, which every instant a view writes
    /// starts from: chrono works them out from the date each time.
    epoch_unix: (i64, u32),
    scale: f64,
    state: Mutex<(Instant, f64)>,
}

impl SimClock {
    /// `epoch` is the simulated instant at tick 0, which is also the clock's start.
    pub fn new(epoch: DateTime<Utc>, scale: f64) -> SimClock {
        SimClock {
            epoch,
            epoch_unix: (epoch.timestamp(), epoch.timestamp_subsec_millis().min(999)),
            scale,
            state: Mutex::new((real_now(), 0.0)),
        }
    }

    pub fn epoch(&self) -> DateTime<Utc> {
        self.epoch
    }

    /// The epoch as Unix seconds and the milliseconds after them.
    pub fn epoch_unix(&self) -> (i64, u32) {
        self.epoch_unix
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Simulated seconds since the epoch.
    pub fn now(&self) -> i64 {
        let s = self.state.lock().expect("clock");
        (s.1 + s.0.elapsed().as_secs_f64() * self.scale).floor() as i64
    }

    pub fn to_utc(&self, tick: i64) -> DateTime<Utc> {
        self.epoch + Duration::seconds(tick)
    }

    pub fn tick_of(&self, at: DateTime<Utc>) -> i64 {
        (at - self.epoch).num_seconds()
    }

    /// Moves the clock to `tick` (never backwards: timelines already shown stay shown).
    pub fn set(&self, tick: i64) -> Result<(), String> {
        let now = self.now();
        if tick < now {
            return Err(format!(
                "the clock cannot go back (now {now}, asked {tick})"
            ));
        }
        *self.state.lock().expect("clock") = (real_now(), tick as f64);
        Ok(())
    }

    pub fn advance(&self, seconds: i64) -> Result<(), String> {
        if seconds < 0 {
            return Err("the clock cannot go back".into());
        }
        let mut s = self.state.lock().expect("clock");
        let now = s.1 + s.0.elapsed().as_secs_f64() * self.scale;
        *s = (real_now(), now + seconds as f64);
        Ok(())
    }

    /// Real seconds until simulated `tick` (0 if passed).
    pub fn real_seconds_until(&self, tick: i64) -> f64 {
        ((tick - self.now()) as f64 / self.scale).max(0.0)
    }
}
