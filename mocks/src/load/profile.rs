//! Arrival-rate profiles and the intended start times they produce (open loop).
//!
//! A profile is a list of stages, each ramping linearly to a target rate over its
//! duration. Start times are found by inverting the cumulative intensity Λ(t):
//! evenly spaced ("constant") arrivals solve Λ(t) = k, Poisson arrivals
//! Λ(t) = E₁ + … + Eₖ with exponential Eᵢ.

use std::fmt;

use sim::rng::SplitMix64;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// Seconds.
    pub duration: f64,
    /// Rate (per second) reached at the end of the stage.
    pub target: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    /// Rate at t = 0.
    pub start: f64,
    pub stages: Vec<Stage>,
}

impl Profile {
    pub fn constant(rate: f64, seconds: f64) -> Profile {
        Profile {
            name: format!("constant {rate}/s"),
            start: rate,
            stages: vec![Stage {
                duration: seconds,
                target: rate,
            }],
        }
    }

    pub fn duration(&self) -> f64 {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The rate at `t` seconds.
    pub fn rate_at(&self, t: f64) -> f64 {
        let mut from = self.start;
        let mut t0 = 0.0;
        for s in &self.stages {
            if t < t0 + s.duration {
                return from + (s.target - from) * (t - t0) / s.duration;
            }
            t0 += s.duration;
            from = s.target;
        }
        0.0
    }

    /// Expected arrivals up to the end.
    pub fn total(&self) -> f64 {
        let mut from = self.start;
        self.stages
            .iter()
            .map(|s| {
                let a = (from + s.target) / 2.0 * s.duration;
                from = s.target;
                a
            })
            .sum()
    }

    /// The same shape at `share` of the rate (a worker's or a connection's part).
    pub fn scaled(&self, share: f64) -> Profile {
        Profile {
            name: self.name.clone(),
            start: self.start * share,
            stages: self
                .stages
                .iter()
                .map(|s| Stage {
                    duration: s.duration,
                    target: s.target * share,
                })
                .collect(),
        }
    }

    /// Cut at `seconds`.
    pub fn truncated(&self, seconds: f64) -> Profile {
        let mut out = Vec::new();
        let mut t = 0.0;
        let mut from = self.start;
        for s in &self.stages {
            if t >= seconds {
                break;
            }
            if t + s.duration <= seconds {
                out.push(*s);
            } else {
                let d = seconds - t;
                out.push(Stage {
                    duration: d,
                    target: from + (s.target - from) * d / s.duration,
                });
            }
            t += s.duration;
            from = s.target;
        }
        Profile {
            name: self.name.clone(),
            start: self.start,
            stages: out,
        }
    }

    /// A named profile mirroring PagoPA's k6 suites (`pn-load-test` test types). Their
    /// virtual-user stages become arrival rates at one iteration per user per second,
    /// times `per_vu`.
    pub fn named(name: &str, per_vu: f64) -> Option<Profile> {
        let m = 60.0;
        let vu = |stages: &[(f64, f64)]| -> Vec<Stage> {
            stages
                .iter()
                .map(|(d, v)| Stage {
                    duration: *d,
                    target: v * per_vu,
                })
                .collect()
        };
        let fixed = |rate: f64, seconds: f64| {
            vec![Stage {
                duration: seconds,
                target: rate,
            }]
        };
        let (start, stages) = match name {
            "smoke" => (per_vu, vu(&[(m, 1.0)])),
            "load" => (
                0.0,
                vu(&[(5.0 * m, 100.0), (10.0 * m, 100.0), (5.0 * m, 0.0)]),
            ),
            "stress" => (
                0.0,
                vu(&[
                    (2.0 * m, 100.0),
                    (5.0 * m, 100.0),
                    (2.0 * m, 200.0),
                    (5.0 * m, 200.0),
                    (2.0 * m, 300.0),
                    (5.0 * m, 300.0),
                    (2.0 * m, 400.0),
                    (5.0 * m, 400.0),
                    (10.0 * m, 0.0),
                ]),
            ),
            "spike" => (
                0.0,
                vu(&[
                    (10.0, 100.0),
                    (m, 100.0),
                    (10.0, 1400.0),
                    (3.0 * m, 1400.0),
                    (10.0, 100.0),
                    (3.0 * m, 100.0),
                    (10.0, 0.0),
                ]),
            ),
            "soak" => (
                0.0,
                vu(&[(2.0 * m, 400.0), (236.0 * m, 400.0), (2.0 * m, 0.0)]),
            ),
            // Fixed-rate suites are arrival rates already.
            "fixed-rate" => (20.0, fixed(20.0, 80.0)),
            "spike-fixed-rate" => (40.0, fixed(40.0, 60.0)),
            "load-fixed-rate" => (5.0, fixed(5.0, 30.0 * m)),
            "stages-fixed-rate" => (
                6.0,
                vec![
                    Stage {
                        duration: 5.0 * m,
                        target: 65.0,
                    },
                    Stage {
                        duration: 40.0 * m,
                        target: 65.0,
                    },
                ],
            ),
            _ => return None,
        };
        Some(Profile {
            name: name.to_string(),
            start,
            stages,
        })
    }

    pub const NAMES: [&'static str; 9] = [
        "smoke",
        "load",
        "stress",
        "spike",
        "soak",
        "fixed-rate",
        "spike-fixed-rate",
        "load-fixed-rate",
        "stages-fixed-rate",
    ];

    /// Parses `STAGES` written `30s:100,2m:100,30s:0` (duration:target rate), starting
    /// from rate 0.
    pub fn parse_stages(text: &str) -> Result<Profile, String> {
        let mut stages = Vec::new();
        for part in text.split(',') {
            let (d, r) = part
                .split_once(':')
                .ok_or_else(|| format!("stage {part:?}: expected DURATION:RATE, e.g. 30s:100"))?;
            let duration = parse_duration(d)?;
            let target: f64 = r
                .trim()
                .parse()
                .map_err(|_| format!("stage {part:?}: rate {r:?} is not a number"))?;
            if !(target.is_finite() && target >= 0.0) {
                return Err(format!("stage {part:?}: rate must be >= 0"));
            }
            stages.push(Stage { duration, target });
        }
        Ok(Profile {
            name: format!("stages {text}"),
            start: 0.0,
            stages,
        })
    }
}

/// The arrival pattern of a simulator run: `sendsim`'s `daily.csv` (its `notifications`
/// column, notifications sent per simulated day), each day compressed into
/// `day_seconds` real seconds at a constant rate. Volumes are kept as they are
/// (notifications per day / `day_seconds`) unless `mean_rate` rescales them so that the
/// whole replay averages that many arrivals per second. `source` names the file in errors.
pub fn replay(
    source: &str,
    csv: &str,
    day_seconds: f64,
    mean_rate: Option<f64>,
) -> Result<Profile, String> {
    let mut lines = csv
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| format!("{source}: empty; expected sendsim's daily.csv"))?;
    let col = header
        .split(',')
        .position(|c| c.trim() == "notifications")
        .ok_or_else(|| {
            format!(
                "{source}: no `notifications` column in the header ({header:?}); expected the \
                 daily.csv that `sendsim run --out DIR` writes"
            )
        })?;
    let mut volumes = Vec::new();
    for (i, line) in lines {
        let cell = line.split(',').nth(col).unwrap_or("").trim();
        let v: f64 = cell.parse().map_err(|_| {
            format!(
                "{source}, line {}: notifications {cell:?} is not a number",
                i + 1
            )
        })?;
        if !(v.is_finite() && v >= 0.0) {
            return Err(format!(
                "{source}, line {}: notifications must be >= 0, got {v}",
                i + 1
            ));
        }
        volumes.push(v);
    }
    // The simulator's horizon runs on after the last sending day, to watch payments
    // arrive; those empty days are not part of the arrival pattern.
    while volumes.last() == Some(&0.0) {
        volumes.pop();
    }
    let total: f64 = volumes.iter().sum();
    if total <= 0.0 {
        return Err(format!(
            "{source}: no notifications on any day, nothing to replay"
        ));
    }
    let seconds = day_seconds * volumes.len() as f64;
    let scale = match mean_rate {
        Some(r) => r * seconds / (total * day_seconds),
        None => 1.0 / day_seconds,
    };
    // Each day is a step: a stage of no length jumps to the day's rate, which then holds.
    let stages = volumes
        .iter()
        .flat_map(|v| {
            let rate = v * scale;
            [
                Stage {
                    duration: 0.0,
                    target: rate,
                },
                Stage {
                    duration: day_seconds,
                    target: rate,
                },
            ]
        })
        .collect();
    Ok(Profile {
        name: format!(
            "replay of {source} ({} days, {day_seconds} s each)",
            volumes.len()
        ),
        start: 0.0,
        stages,
    })
}

/// `500ms`, `30s`, `2m`, `1h` or plain seconds.
pub fn parse_duration(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("duration {s:?}: expected e.g. 500ms, 30s, 2m, 1h"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("duration {s:?}: unit must be ms, s, m or h")),
    };
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("duration {s:?} must be > 0"));
    }
    Ok(secs)
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({:.0} s, about {:.0} arrivals)",
            self.name,
            self.duration(),
            self.total()
        )
    }
}

/// Intended start times, in seconds from the run's start.
pub struct Arrivals {
    profile: Profile,
    poisson: bool,
    rng: SplitMix64,
    stage: usize,
    stage_start_t: f64,
    stage_start_l: f64,
    stage_from: f64,
    target_l: f64,
}

impl Arrivals {
    /// `offset` (0..1) shifts evenly spaced arrivals so that several schedules sharing
    /// one rate interleave instead of firing together.
    pub fn new(profile: Profile, poisson: bool, seed: u64, offset: f64) -> Arrivals {
        let mut rng = SplitMix64(seed);
        let first = if poisson {
            exp1(&mut rng)
        } else {
            offset.clamp(0.0, 1.0)
        };
        let from = profile.start;
        Arrivals {
            profile,
            poisson,
            rng,
            stage: 0,
            stage_start_t: 0.0,
            stage_start_l: 0.0,
            stage_from: from,
            target_l: first,
        }
    }
}

fn exp1(rng: &mut SplitMix64) -> f64 {
    let u = (rng.advance() >> 11) as f64 / (1u64 << 53) as f64;
    -(1.0 - u).ln()
}

impl Iterator for Arrivals {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        loop {
            let s = *self.profile.stages.get(self.stage)?;
            let (r0, r1, d) = (self.stage_from, s.target, s.duration);
            let stage_l = (r0 + r1) / 2.0 * d;
            let dl = self.target_l - self.stage_start_l;
            if dl < stage_l {
                // Solve r0 τ + (r1 − r0) τ² / (2d) = dl for τ in [0, d].
                let a = (r1 - r0) / (2.0 * d);
                let tau = if a.abs() < 1e-12 {
                    dl / r0
                } else {
                    2.0 * dl / (r0 + (r0 * r0 + 4.0 * a * dl).max(0.0).sqrt())
                };
                let t = self.stage_start_t + tau.clamp(0.0, d);
                self.target_l += if self.poisson {
                    exp1(&mut self.rng)
                } else {
                    1.0
                };
                return Some(t);
            }
            self.stage += 1;
            self.stage_start_t += d;
            self.stage_start_l += stage_l;
            self.stage_from = r1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_arrivals_are_evenly_spaced() {
        let a: Vec<f64> = Arrivals::new(Profile::constant(10.0, 1.0), false, 1, 0.0).collect();
        assert_eq!(a.len(), 10);
        assert!((a[1] - a[0] - 0.1).abs() < 1e-9);
    }

    #[test]
    fn ramps_and_poisson_produce_the_expected_counts() {
        let p = Profile::parse_stages("10s:100,10s:100,10s:0").unwrap();
        assert!((p.total() - 2000.0).abs() < 1e-9);
        let n = Arrivals::new(p.clone(), false, 1, 0.0).count() as f64;
        assert!((n - 2000.0).abs() <= 1.0, "{n}");
        let n = Arrivals::new(p, true, 7, 0.0).count() as f64;
        assert!((n - 2000.0).abs() < 4.0 * 2000f64.sqrt(), "{n}");
        let times: Vec<f64> =
            Arrivals::new(Profile::parse_stages("10s:100").unwrap(), false, 1, 0.0).collect();
        // A linear ramp: half the arrivals in the last 30% of the time.
        let late = times
            .iter()
            .filter(|t| **t > 10.0 * (0.5f64).sqrt())
            .count();
        assert!((late as f64 - 250.0).abs() < 2.0, "{late}");
    }

    #[test]
    fn a_replay_keeps_each_days_volume_in_its_compressed_day() {
        let csv = "day,date,notifications,views\n0,2025-03-03,100,1\n1,2025-03-04,0,2\n2,2025-03-05,300,3\n3,2025-03-06,0,9\n";
        let p = replay("daily.csv", csv, 2.0, None).unwrap();
        assert_eq!(p.duration(), 6.0);
        assert!((p.total() - 400.0).abs() < 1e-9);
        let times: Vec<f64> = Arrivals::new(p.clone(), false, 1, 0.0).collect();
        let per_day = |d: f64| {
            times
                .iter()
                .filter(|t| **t >= d * 2.0 && **t < d * 2.0 + 2.0)
                .count()
        };
        assert_eq!((per_day(0.0), per_day(1.0), per_day(2.0)), (100, 0, 300));
        assert_eq!(p.rate_at(5.0), 150.0);
        // Rescaled to a mean of 10 arrivals a second: 60 in 6 s, same shape.
        let q = replay("daily.csv", csv, 2.0, Some(10.0)).unwrap();
        assert!((q.total() - 60.0).abs() < 1e-9);
        assert!((q.rate_at(0.5) / q.rate_at(5.0) - 100.0 / 300.0).abs() < 1e-9);
        let e = replay("x.csv", "day,views\n0,1\n", 1.0, None).unwrap_err();
        assert!(e.contains("x.csv") && e.contains("notifications"), "{e}");
        let e = replay("x.csv", "day,notifications\n0,1\n1,lots\n", 1.0, None).unwrap_err();
        assert!(e.contains("line 3") && e.contains("lots"), "{e}");
    }

    #[test]
    fn named_profiles_exist_and_durations_parse() {
        for n in Profile::NAMES {
            assert!(Profile::named(n, 1.0).unwrap().duration() > 0.0);
        }
        assert_eq!(parse_duration("2m").unwrap(), 120.0);
        assert!(parse_duration("2x").is_err());
    }
}
