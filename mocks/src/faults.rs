//! Injected faults: per-route latency, error rates (500, 502, 503, 504), dropped
//! connections and timeouts, and scheduled outages that `GET /status` reports, from a
//! profile file (`--faults FILE`) or the admin API. Every draw comes from a generator
//! seeded by the profile's seed and the route's request count, so the same requests in
//! the same order meet the same faults.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sim::dist::{Dist, Sampler, unit};
use sim::rng::SplitMix64;

/// The statuses an error rate may name.
pub const ERROR_STATUSES: [u16; 4] = [500, 502, 503, 504];

/// The SEND functionalities `GET /status` reports on.
pub const FUNCTIONALITIES: [&str; 3] = [
    "NOTIFICATION_CREATE",
    "NOTIFICATION_VISUALIZATION",
    "NOTIFICATION_WORKFLOW",
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultProfile {
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub routes: Vec<RouteFaults>,
    #[serde(default)]
    pub outages: Vec<Outage>,
}

/// Faults on the routes a path pattern matches (`{x}` matches one segment, a final `*`
/// any rest, `*` alone every path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFaults {
    pub path: String,
    /// `GET`, `POST`, ...; every method if absent.
    #[serde(default)]
    pub method: Option<String>,
    /// Added latency in milliseconds.
    #[serde(default)]
    pub latency_ms: Option<Dist>,
    /// Status -> share of requests answered with it (a Problem).
    #[serde(default)]
    pub errors: BTreeMap<String, f64>,
    /// Share of requests whose connection is dropped before a response.
    #[serde(default)]
    pub drop_share: f64,
    /// Share of requests that hang `timeout_ms` and are then dropped.
    #[serde(default)]
    pub timeout_share: f64,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: f64,
}

fn default_timeout_ms() -> f64 {
    30_000.0
}

/// A functionality down for a while: its paths answer `status` (503 by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    pub functionality: String,
    /// Real seconds after the server starts (or, from the admin API, after the call).
    #[serde(default)]
    pub start_after_seconds: f64,
    pub duration_seconds: f64,
    /// Path patterns it takes down (default: every path of the functionality).
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default = "default_outage_status")]
    pub status: u16,
}

fn default_outage_status() -> u16 {
    503
}

impl FaultProfile {
    /// Every problem, each naming its field.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, r) in self.routes.iter().enumerate() {
            let p = |f: &str| format!("routes[{i}].{f}");
            let mut sum = r.drop_share + r.timeout_share;
            for (status, share) in &r.errors {
                if !status
                    .parse::<u16>()
                    .is_ok_and(|s| ERROR_STATUSES.contains(&s))
                {
                    out.push(format!(
                        "{}: unknown status {status:?}; expected one of 500, 502, 503, 504",
                        p("errors")
                    ));
                }
                sum += share;
                if !(0.0..=1.0).contains(share) {
                    out.push(format!(
                        "{}: a share between 0 and 1, got {share}",
                        p("errors")
                    ));
                }
            }
            for (f, v) in [
                ("drop_share", r.drop_share),
                ("timeout_share", r.timeout_share),
            ] {
                if !(0.0..=1.0).contains(&v) {
                    out.push(format!("{}: a share between 0 and 1, got {v}", p(f)));
                }
            }
            if sum > 1.0 + 1e-9 {
                out.push(format!(
                    "{}: errors, drop_share and timeout_share add up to {sum}, more than 1",
                    p("errors")
                ));
            }
            if let Some(d) = &r.latency_ms {
                if let Err(e) = d.check() {
                    out.push(format!("{}: {e}", p("latency_ms")));
                }
            }
            if !(r.timeout_ms.is_finite() && r.timeout_ms >= 0.0) {
                out.push(format!(
                    "{}: milliseconds >= 0, got {}",
                    p("timeout_ms"),
                    r.timeout_ms
                ));
            }
        }
        for (i, o) in self.outages.iter().enumerate() {
            let p = |f: &str| format!("outages[{i}].{f}");
            if !FUNCTIONALITIES.contains(&o.functionality.as_str()) {
                out.push(format!(
                    "{}: unknown {:?}; expected one of {}",
                    p("functionality"),
                    o.functionality,
                    FUNCTIONALITIES.join(", ")
                ));
            }
            if !(o.duration_seconds.is_finite() && o.duration_seconds > 0.0) {
                out.push(format!(
                    "{}: seconds > 0, got {}",
                    p("duration_seconds"),
                    o.duration_seconds
                ));
            }
            if !(o.start_after_seconds.is_finite() && o.start_after_seconds >= 0.0) {
                out.push(format!("{}: seconds >= 0", p("start_after_seconds")));
            }
            if !(400..600).contains(&o.status) {
                out.push(format!(
                    "{}: an HTTP error status, got {}",
                    p("status"),
                    o.status
                ));
            }
        }
        out
    }
}

/// The paths a functionality covers when an outage lists none.
fn functionality_paths(f: &str) -> &'static [&'static str] {
    match f {
        "NOTIFICATION_CREATE" => &["/delivery/attachments/preload", "/delivery/*/requests"],
        "NOTIFICATION_VISUALIZATION" => &[
            "/delivery/*/notifications/sent/*",
            "/delivery/notifications/sent/*",
            "/delivery-push/*",
        ],
        _ => &["/delivery-progresses/*"],
    }
}

/// Whether `pattern` matches `path` (see `RouteFaults::path`).
pub fn matches(pattern: &str, path: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let mut p = pattern.trim_matches('/').split('/');
    let mut s = path.trim_matches('/').split('/');
    loop {
        match (p.next(), s.next()) {
            (Some("*"), Some(_)) if p.clone().next().is_none() => return true,
            (Some(a), Some(b))
                if a == b || a == "*" || (a.starts_with('{') && a.ends_with('}')) => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Answer this status (an outage or an error rate).
    Status(u16),
    /// Close the connection without a response.
    Drop,
    /// Hang this long, then close the connection.
    Timeout(Duration),
}

/// A decision: a delay first, then maybe a fault.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Decision {
    pub delay: Duration,
    pub fault: Option<Fault>,
}

struct Active {
    outage: Outage,
    from: Instant,
    /// Simulated instant it started, for `/status`.
    from_tick: i64,
}

struct Compiled {
    profile: FaultProfile,
    latency: Vec<Option<Sampler>>,
    counts: Vec<u64>,
}

/// The faults in force.
pub struct Faults {
    compiled: Mutex<Compiled>,
    outages: Mutex<Vec<Active>>,
    /// Whether any route fault or outage was ever configured: without, a request
    /// passes without taking a lock.
    armed: AtomicBool,
}

impl Faults {
    pub fn new(profile: FaultProfile, started: Instant, start_tick: i64) -> Faults {
        let f = Faults {
            compiled: Mutex::new(compile(FaultProfile::default())),
            outages: Mutex::new(Vec::new()),
            armed: AtomicBool::new(false),
        };
        f.replace(profile, started, start_tick);
        f
    }

    /// Replaces the profile; its outages count from `now`.
    pub fn replace(&self, profile: FaultProfile, now: Instant, now_tick: i64) {
        let mut outages = self.outages.lock().expect("outages");
        outages.clear();
        for o in &profile.outages {
            outages.push(active(o.clone(), now, now_tick));
        }
        if !profile.routes.is_empty() || !profile.outages.is_empty() {
            self.armed.store(true, Ordering::Release);
        }
        *self.compiled.lock().expect("faults") = compile(profile);
    }

    pub fn profile(&self) -> FaultProfile {
        self.compiled.lock().expect("faults").profile.clone()
    }

    /// Schedules one more outage, counted from `now`.
    pub fn add_outage(&self, o: Outage, now: Instant, now_tick: i64) {
        self.armed.store(true, Ordering::Release);
        self.outages
            .lock()
            .expect("outages")
            .push(active(o, now, now_tick));
    }

    /// Open incidents at `now`: (functionality, simulated start tick).
    pub fn incidents(&self, now: Instant) -> Vec<(String, i64)> {
        self.outages
            .lock()
            .expect("outages")
            .iter()
            .filter(|a| is_open(a, now))
            .map(|a| (a.outage.functionality.clone(), a.from_tick))
            .collect()
    }

    pub fn decide(&self, method: &str, path: &str, now: Instant) -> Decision {
        if !self.armed.load(Ordering::Acquire) {
            return Decision::default();
        }
        for a in self.outages.lock().expect("outages").iter() {
            if is_open(a, now) {
                let hit = if a.outage.paths.is_empty() {
                    functionality_paths(&a.outage.functionality)
                        .iter()
                        .any(|p| matches(p, path))
                } else {
                    a.outage.paths.iter().any(|p| matches(p, path))
                };
                if hit {
                    return Decision {
                        delay: Duration::ZERO,
                        fault: Some(Fault::Status(a.outage.status)),
                    };
                }
            }
        }
        let mut c = self.compiled.lock().expect("faults");
        let Some(i) = c.profile.routes.iter().position(|r| {
            r.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && matches(&r.path, path)
        }) else {
            return Decision::default();
        };
        c.counts[i] += 1;
        let mut rng = SplitMix64(
            c.profile.seed
                ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ c.counts[i].wrapping_mul(0xBF58_476D_1CE4_E5B9),
        );
        let (u_fault, u_latency) = (unit(&mut rng), unit(&mut rng));
        let r = &c.profile.routes[i];
        let delay = c.latency[i].as_ref().map_or(Duration::ZERO, |s| {
            Duration::from_secs_f64(s.at(u_latency).max(0.0) / 1000.0)
        });
        let mut acc = 0.0;
        let mut fault = None;
        for (status, share) in &r.errors {
            acc += share;
            if u_fault < acc {
                fault = Some(Fault::Status(status.parse().expect("validated status")));
                break;
            }
        }
        if fault.is_none() {
            acc += r.drop_share;
            if u_fault < acc {
                fault = Some(Fault::Drop);
            } else if u_fault < acc + r.timeout_share {
                fault = Some(Fault::Timeout(Duration::from_secs_f64(
                    r.timeout_ms / 1000.0,
                )));
            }
        }
        Decision { delay, fault }
    }
}

fn compile(profile: FaultProfile) -> Compiled {
    Compiled {
        latency: profile
            .routes
            .iter()
            .map(|r| r.latency_ms.as_ref().map(Dist::sampler))
            .collect(),
        counts: vec![0; profile.routes.len()],
        profile,
    }
}

fn active(outage: Outage, now: Instant, now_tick: i64) -> Active {
    Active {
        from: now + Duration::from_secs_f64(outage.start_after_seconds),
        from_tick: now_tick,
        outage,
    }
}

fn is_open(a: &Active, now: Instant) -> bool {
    now >= a.from && now < a.from + Duration::from_secs_f64(a.outage.duration_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_segments_and_rests() {
        assert!(matches(
            "/delivery/v2.9/notifications/sent/{iun}",
            "/delivery/v2.9/notifications/sent/ABCD"
        ));
        assert!(!matches(
            "/delivery/v2.9/notifications/sent/{iun}",
            "/delivery/v2.9/notifications/sent"
        ));
        assert!(matches("/delivery/*/requests", "/delivery/v2.6/requests"));
        assert!(matches(
            "/delivery-progresses/*",
            "/delivery-progresses/v2.9/streams/x/events"
        ));
        assert!(matches("*", "/status"));
        assert!(!matches(
            "/delivery/*/requests",
            "/delivery/v2.6/requests/x"
        ));
    }

    #[test]
    fn the_same_requests_meet_the_same_faults() {
        let profile: FaultProfile = toml::from_str(
            r#"
            seed = 5
            [[routes]]
            path = "/status"
            errors = { "503" = 0.3, "500" = 0.1 }
            drop_share = 0.1
            "#,
        )
        .unwrap();
        assert!(profile.problems().is_empty());
        let t = Instant::now();
        let run = || {
            let f = Faults::new(profile.clone(), t, 0);
            (0..200)
                .map(|_| f.decide("GET", "/status", t).fault)
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let n = |x: Option<Fault>| a.iter().filter(|f| **f == x).count();
        assert!(
            (40..80).contains(&n(Some(Fault::Status(503)))),
            "{}",
            n(Some(Fault::Status(503)))
        );
        assert!(n(None) > 60);
    }

    #[test]
    fn bad_profiles_name_the_field() {
        let profile: FaultProfile = toml::from_str(
            r#"
            [[routes]]
            path = "*"
            errors = { "418" = 0.5 }
            drop_share = 0.7
            [[outages]]
            functionality = "COFFEE"
            duration_seconds = 0
            "#,
        )
        .unwrap();
        let p = profile.problems().join("\n");
        assert!(
            p.contains("routes[0].errors: unknown status \"418\""),
            "{p}"
        );
        assert!(p.contains("add up to 1.2"), "{p}");
        assert!(
            p.contains("outages[0].functionality: unknown \"COFFEE\""),
            "{p}"
        );
        assert!(p.contains("outages[0].duration_seconds"), "{p}");
    }
}
