//! `sendmock load`: an open-loop load generator for SEND integrations.
//!
//! Each flow instance (or, for the raw `get` flow, each request) starts at its
//! intended time whether or not earlier ones finished, and its latency is measured from
//! that intended time, so a stalled server shows in the percentiles instead of
//! silently slowing the generator down (no coordinated omission). The generator's own
//! lateness is recorded too. A closed-loop mode with virtual users exists for
//! comparison and is labelled as such.

pub mod acceptance;
pub mod flows;
pub mod measure;
pub mod output;
pub mod profile;
pub mod raw;
pub mod threshold;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use sim::rng::SplitMix64;

use flows::{FlowContext, FlowRecorder};
use measure::{LATENESS, Measurements};
use profile::{Arrivals, Profile};

/// What each flow instance does.
#[derive(Debug, Clone, PartialEq)]
pub enum Flow {
    /// preload → upload → send → poll → detail → legal facts → price
    Send,
    /// detail, legal facts and price of a notification this run created (else `/status`)
    Read,
    /// One GET of any path, like wrk.
    Get(String),
}

impl Flow {
    pub fn name(&self) -> &'static str {
        match self {
            Flow::Send => "send",
            Flow::Read => "read",
            Flow::Get(_) => "get",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    OpenLoop {
        poisson: bool,
    },
    /// N virtual users, each running flows back to back (coordinated omission is NOT
    /// corrected: for comparison only).
    ClosedLoop {
        users: usize,
    },
}

#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub target: String,
    pub api_key: String,
    pub sender_tax_id: String,
    /// Flows with their weights.
    pub mix: Vec<(Flow, f64)>,
    /// Arrivals per second over time (flows per second; requests for `get`).
    pub profile: Profile,
    pub mode: Mode,
    pub duration: Duration,
    pub max_requests: Option<u64>,
    /// Connections for the raw `get` fast path.
    pub connections: usize,
    pub timeout: Duration,
    pub interval_secs: f64,
    pub seed: u64,
    /// This worker's index and the number of workers.
    pub worker: (u32, u32),
    pub start_at: Option<SystemTime>,
    pub headers: Vec<(String, String)>,
    pub max_polls: u32,
    /// How send flows learn their request's outcome.
    pub accept: acceptance::Accept,
    pub progress: bool,
}

/// What a run did.
pub struct RunResult {
    pub measurements: Measurements,
    pub seconds: f64,
    pub interrupted: bool,
    pub flows_started: u64,
    pub started_at: SystemTime,
}

struct Shared {
    m: Mutex<Measurements>,
    requests: AtomicU64,
    errors: AtomicU64,
    remaining: AtomicI64,
    /// When the last request or flow started, in µs from the run's start: a generator
    /// that fell behind goes on starting what was due after the deadline, and its
    /// throughput is counted over that longer time.
    last_start_us: AtomicU64,
    stop: Arc<AtomicBool>,
    /// The latest notifications this run created, for read flows: a bounded window, so
    /// a long soak does not grow the generator.
    iuns: Mutex<std::collections::VecDeque<String>>,
    /// With `--accept-via stream`: outcomes from the stream's reader.
    acceptances: Option<Arc<acceptance::Acceptances>>,
}

impl Shared {
    fn absorb(&self, rec: FlowRecorder) {
        self.requests.fetch_add(rec.requests, Ordering::Relaxed);
        self.errors.fetch_add(rec.errors, Ordering::Relaxed);
        self.m.lock().expect("measurements").merge(&rec.m);
    }

    fn started(&self, start: Instant, at: Instant) {
        let us = at.saturating_duration_since(start).as_micros() as u64;
        self.last_start_us.fetch_max(us, Ordering::Relaxed);
    }

    /// Takes one request from the `--max-requests` budget.
    fn take(&self) -> bool {
        self.remaining.fetch_sub(1, Ordering::Relaxed) > 0 && !self.stop.load(Ordering::Relaxed)
    }
}

fn authority(target: &str) -> Option<String> {
    let rest = target.strip_prefix("http://")?;
    let host = rest.split('/').next()?;
    Some(if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    })
}

/// Runs the load; `stop` ends it early (ctrl-c), with a report of what was done.
pub async fn run(cfg: LoadConfig, stop: Arc<AtomicBool>) -> anyhow::Result<RunResult> {
    if let Some(at) = cfg.start_at {
        if let Ok(wait) = at.duration_since(SystemTime::now()) {
            tokio::time::sleep(wait).await;
        }
    }
    let (index, workers) = cfg.worker;
    let share = 1.0 / workers.max(1) as f64;
    let horizon = cfg.duration.as_secs_f64().min(cfg.profile.duration());
    let profile = cfg.profile.truncated(horizon).scaled(share);
    let shared = Arc::new(Shared {
        m: Mutex::new(Measurements::new(cfg.interval_secs)),
        requests: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        remaining: AtomicI64::new(cfg.max_requests.map_or(i64::MAX, |n| n as i64)),
        last_start_us: AtomicU64::new(0),
        stop: stop.clone(),
        iuns: Mutex::new(Default::default()),
        acceptances: (cfg.accept == acceptance::Accept::Stream
            && cfg.mix.iter().any(|(f, _)| matches!(f, Flow::Send)))
        .then(Default::default),
    });
    let started_at = SystemTime::now();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(horizon);
    let progress = cfg.progress.then(|| {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let n = shared.requests.load(Ordering::Relaxed);
                eprint!(
                    "\r{:>6.0}s  requests {:>9}  errors {:>7}  {:>8} req/s   ",
                    start.elapsed().as_secs_f64(),
                    n,
                    shared.errors.load(Ordering::Relaxed),
                    n - last
                );
                last = n;
            }
        })
    });

    let reader_done = Arc::new(AtomicBool::new(false));
    let reader = match &shared.acceptances {
        Some(acceptances) => Some(
            outcome_reader(
                &cfg,
                acceptances.clone(),
                &shared,
                start,
                deadline,
                reader_done.clone(),
            )
            .await?,
        ),
        None => None,
    };
    let raw_only = cfg.mix.iter().all(|(f, _)| matches!(f, Flow::Get(_)));
    let flows_started = match (cfg.mode, raw_only.then(|| authority(&cfg.target)).flatten()) {
        (mode, Some(auth)) => raw_loop(&cfg, &profile, mode, &auth, start, deadline, &shared).await,
        (Mode::OpenLoop { poisson }, None) => {
            flows_open_loop(&cfg, &profile, poisson, start, deadline, &shared).await?
        }
        (Mode::ClosedLoop { users }, _) => {
            closed_loop(&cfg, users, start, deadline, &shared).await?
        }
    };
    if let Some(r) = reader {
        reader_done.store(true, Ordering::Relaxed);
        let _ = r.await;
    }
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }
    let _ = index;
    let last_start = shared.last_start_us.load(Ordering::Relaxed) as f64 / 1e6;
    let seconds = start
        .elapsed()
        .as_secs_f64()
        .min(horizon.max(1e-9))
        .max(last_start);
    let m = std::mem::take(&mut *shared.m.lock().expect("measurements"));
    Ok(RunResult {
        measurements: m,
        seconds,
        interrupted: stop.load(Ordering::Relaxed),
        flows_started,
        started_at,
    })
}

/// What a flow needs of the run: requests may go on until `--timeout` past the deadline.
fn flow_context<'a>(
    cfg: &'a LoadConfig,
    client: &'a reqwest::Client,
    start: Instant,
    deadline: Instant,
    acceptances: Option<&'a acceptance::Acceptances>,
) -> FlowContext<'a> {
    FlowContext {
        client,
        base: cfg.target.trim_end_matches('/'),
        api_key: &cfg.api_key,
        sender_tax_id: &cfg.sender_tax_id,
        headers: &cfg.headers,
        deadline: deadline + cfg.timeout,
        max_polls: cfg.max_polls,
        run_start: start,
        interval_secs: cfg.interval_secs,
        acceptances,
    }
}

/// Starts the reader of `--accept-via stream` once its stream exists (so the first
/// flows' outcomes are on it); it reads until `done`, then deletes the stream. Its
/// requests are measured with the flows' (`stream_create`, `stream_read`, `stream_delete`).
async fn outcome_reader(
    cfg: &LoadConfig,
    acceptances: Arc<acceptance::Acceptances>,
    shared: &Arc<Shared>,
    start: Instant,
    deadline: Instant,
    done: Arc<AtomicBool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let cfg = cfg.clone();
    let client = client(&cfg)?;
    let shared = shared.clone();
    let (created, is_created) = tokio::sync::oneshot::channel();
    let handle = tokio::spawn(async move {
        let ctx = flow_context(&cfg, &client, start, deadline, None);
        let mut rec = FlowRecorder::new(cfg.interval_secs, None);
        match acceptance::create_stream(&ctx, &mut rec).await {
            Ok(id) => {
                let _ = created.send(Ok(()));
                acceptance::read_outcomes(&ctx, &mut rec, &id, &acceptances, &done).await;
                acceptance::delete_stream(&ctx, &mut rec, &id).await;
            }
            Err(why) => {
                let _ = created.send(Err(why));
            }
        }
        shared.absorb(rec);
    });
    match is_created.await {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(why)) => {
            anyhow::bail!("--accept-via stream: creating the event stream failed: {why}")
        }
        Err(_) => anyhow::bail!("--accept-via stream: the stream reader stopped"),
    }
}

/// Sleeps until `at` with sub-millisecond precision: the timer wheel ticks in
/// milliseconds, so the last millisecond is spent yielding to other tasks. A late start
/// caused by the timer would otherwise be charged to the server.
async fn precise_sleep_until(at: Instant) {
    let coarse = at.checked_sub(Duration::from_millis(1)).unwrap_or(at);
    if coarse > Instant::now() {
        tokio::time::sleep_until(coarse.into()).await;
    }
    while Instant::now() < at {
        tokio::task::yield_now().await;
    }
}

fn client(cfg: &LoadConfig) -> anyhow::Result<reqwest::Client> {
    // No compression is asked for (the client has none built in): compressed responses
    // change servers' throughput and would skew comparisons.
    Ok(reqwest::Client::builder()
        .timeout(cfg.timeout)
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .build()?)
}

/// The raw `get` flow: `connections` keep-alive connections, each with its share of
/// the schedule; or, closed loop, one connection per user sending back to back (as wrk
/// does, for comparison with it).
async fn raw_loop(
    cfg: &LoadConfig,
    profile: &Profile,
    mode: Mode,
    authority: &str,
    start: Instant,
    deadline: Instant,
    shared: &Arc<Shared>,
) -> u64 {
    let conns = match mode {
        Mode::OpenLoop { .. } => cfg.connections.max(1),
        Mode::ClosedLoop { users } => users.max(1),
    };
    let path = match &cfg.mix[0].0 {
        Flow::Get(p) => p.clone(),
        _ => "/".into(),
    };
    let mut headers = cfg.headers.clone();
    headers.push(("x-api-key".into(), cfg.api_key.clone()));
    let mut tasks = Vec::new();
    for j in 0..conns {
        let schedule = match mode {
            Mode::OpenLoop { poisson } => Some(Arrivals::new(
                profile.scaled(1.0 / conns as f64),
                poisson,
                cfg.seed ^ ((cfg.worker.0 as u64) << 32) ^ j as u64,
                j as f64 / conns as f64,
            )),
            Mode::ClosedLoop { .. } => None,
        };
        let conn = raw::RawConn::new(authority, &path, &headers);
        tasks.push(tokio::spawn(raw_connection(
            conn,
            schedule,
            cfg.timeout,
            cfg.interval_secs,
            start,
            deadline,
            shared.clone(),
        )));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or(0);
    }
    total
}

/// One connection of the raw flow: requests at their scheduled times (open loop), or
/// back to back until the deadline (closed loop, `schedule` None).
async fn raw_connection(
    mut conn: raw::RawConn,
    mut schedule: Option<Arrivals>,
    timeout: Duration,
    interval: f64,
    start: Instant,
    deadline: Instant,
    shared: Arc<Shared>,
) -> u64 {
    let mut m = measure::IntervalRecorder::new(interval);
    let (mut n, mut errors) = (0u64, 0u64);
    let mut prev_done = start;
    let mut last_sent = start;
    loop {
        let intended = match schedule.as_mut() {
            Some(s) => match s.next() {
                Some(t) => start + Duration::from_secs_f64(t),
                None => break,
            },
            None => Instant::now(),
        };
        // What was due before the deadline still starts, late, while a behind
        // generator catches up; nothing starts once --timeout past it (a stalled
        // server must not keep the run going past --duration + --timeout).
        if intended >= deadline || Instant::now() >= deadline + timeout || !shared.take() {
            break;
        }
        if schedule.is_some() {
            precise_sleep_until(intended).await;
        }
        let interval_idx = (intended.duration_since(start).as_secs_f64() / interval) as u64;
        let sent = Instant::now();
        last_sent = sent;
        if schedule.is_some() {
            m.record(
                LATENESS,
                "2xx",
                interval_idx,
                sent.saturating_duration_since(intended).as_micros() as u64,
            );
        }
        // If the previous request ended before this one was due, any delay since is
        // the timer's, not the server's: time from the send. Otherwise the server held
        // us up, and the wait counts (no coordinated omission).
        let from = if prev_done <= intended {
            sent
        } else {
            intended
        };
        let outcome = conn.get(timeout).await;
        prev_done = Instant::now();
        m.record(
            "get",
            outcome.class(),
            interval_idx,
            prev_done.duration_since(from).as_micros() as u64,
        );
        n += 1;
        if measure::is_error_class(outcome.class()) {
            errors += 1;
        }
        if n % 1024 == 0 {
            shared.requests.fetch_add(1024, Ordering::Relaxed);
        }
    }
    shared.requests.fetch_add(n % 1024, Ordering::Relaxed);
    shared.errors.fetch_add(errors, Ordering::Relaxed);
    shared.started(start, last_sent);
    shared.m.lock().expect("measurements").merge(&m.finish());
    n
}

fn pick(mix: &[(Flow, f64)], rng: &mut SplitMix64) -> Flow {
    let total: f64 = mix.iter().map(|(_, w)| w).sum();
    let mut u = (rng.advance() >> 11) as f64 / (1u64 << 53) as f64 * total;
    for (f, w) in mix {
        if u < *w {
            return f.clone();
        }
        u -= w;
    }
    mix.last().expect("a flow").0.clone()
}

/// How many of the latest created notifications read flows choose from.
const READ_WINDOW: usize = 100_000;

/// What every flow task of a run shares.
#[derive(Clone)]
struct Runner {
    cfg: Arc<LoadConfig>,
    client: reqwest::Client,
    shared: Arc<Shared>,
    start: Instant,
    deadline: Instant,
}

impl Runner {
    fn new(
        cfg: &LoadConfig,
        shared: &Arc<Shared>,
        start: Instant,
        deadline: Instant,
    ) -> anyhow::Result<Runner> {
        Ok(Runner {
            cfg: Arc::new(cfg.clone()),
            client: client(cfg)?,
            shared: shared.clone(),
            start,
            deadline,
        })
    }
}

async fn run_flow(runner: Runner, flow: Flow, intended: Option<Instant>, index: u64) {
    let Runner {
        cfg,
        client,
        shared,
        start,
        deadline,
    } = runner;
    if !shared.take() {
        return;
    }
    let ctx = flow_context(
        &cfg,
        &client,
        start,
        deadline,
        shared.acceptances.as_deref(),
    );
    let mut rec = FlowRecorder::new(cfg.interval_secs, intended);
    let mut rng = SplitMix64(
        cfg.seed ^ ((cfg.worker.0 as u64) << 40) ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    match flow {
        Flow::Send => {
            let protocol = format!("LOAD-{}-{}-{}", cfg.seed, cfg.worker.0, index);
            let notice = (cfg.seed % 1000) * 1_000_000_000_000
                + (cfg.worker.0 as u64) * 10_000_000_000
                + index;
            if let Some(iun) = flows::send_flow(&ctx, &mut rec, &mut rng, &protocol, notice).await {
                let mut iuns = shared.iuns.lock().expect("iuns");
                if iuns.len() == READ_WINDOW {
                    iuns.pop_front();
                }
                iuns.push_back(iun);
            }
        }
        Flow::Read => {
            let iun = {
                let iuns = shared.iuns.lock().expect("iuns");
                (!iuns.is_empty())
                    .then(|| iuns[(rng.advance() % iuns.len() as u64) as usize].clone())
            };
            match iun {
                Some(iun) => flows::read_flow(&ctx, &mut rec, &iun, &serde_json::Value::Null).await,
                None => flows::get_flow(&ctx, &mut rec, "/status").await,
            }
        }
        Flow::Get(path) => flows::get_flow(&ctx, &mut rec, &path).await,
    }
    shared.absorb(rec);
}

/// Flows started at their intended times by one scheduler.
async fn flows_open_loop(
    cfg: &LoadConfig,
    profile: &Profile,
    poisson: bool,
    start: Instant,
    deadline: Instant,
    shared: &Arc<Shared>,
) -> anyhow::Result<u64> {
    let runner = Runner::new(cfg, shared, start, deadline)?;
    let mut rng = SplitMix64(cfg.seed ^ 0xF10F);
    let mut tasks = tokio::task::JoinSet::new();
    let mut lateness = Measurements::new(cfg.interval_secs);
    let mut started = 0u64;
    for t in Arrivals::new(
        profile.clone(),
        poisson,
        cfg.seed ^ ((cfg.worker.0 as u64) << 32),
        0.0,
    ) {
        let intended = start + Duration::from_secs_f64(t);
        if intended >= deadline
            || shared.stop.load(Ordering::Relaxed)
            || shared.remaining.load(Ordering::Relaxed) <= 0
        {
            break;
        }
        precise_sleep_until(intended).await;
        let late = Instant::now().saturating_duration_since(intended);
        lateness.record(
            LATENESS,
            "2xx",
            (t / cfg.interval_secs) as u64,
            late.as_micros() as u64,
        );
        // Timer granularity (about a millisecond) is not the server's doing; a larger
        // delay means the generator fell behind, and then it counts.
        let from = if late > Duration::from_millis(2) {
            intended
        } else {
            Instant::now()
        };
        let flow = pick(&cfg.mix, &mut rng);
        shared.started(start, Instant::now());
        tasks.spawn(run_flow(runner.clone(), flow, Some(from), started));
        started += 1;
        while tasks.try_join_next().is_some() {}
    }
    shared.m.lock().expect("measurements").merge(&lateness);
    // In-flight flows get the request timeout to finish after the deadline.
    let grace = tokio::time::sleep_until((deadline.max(Instant::now()) + cfg.timeout).into());
    tokio::pin!(grace);
    loop {
        tokio::select! {
            next = tasks.join_next() => if next.is_none() { break },
            _ = &mut grace => { tasks.abort_all(); break; }
        }
    }
    Ok(started)
}

/// N users running flows back to back.
async fn closed_loop(
    cfg: &LoadConfig,
    users: usize,
    start: Instant,
    deadline: Instant,
    shared: &Arc<Shared>,
) -> anyhow::Result<u64> {
    let runner = Runner::new(cfg, shared, start, deadline)?;
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for u in 0..users.max(1) {
        let (runner, counter) = (runner.clone(), counter.clone());
        tasks.spawn(async move {
            let mut rng = SplitMix64(runner.cfg.seed ^ 0xC105 ^ u as u64);
            while Instant::now() < deadline
                && !runner.shared.stop.load(Ordering::Relaxed)
                && runner.shared.remaining.load(Ordering::Relaxed) > 0
            {
                let flow = pick(&runner.cfg.mix, &mut rng);
                let i = counter.fetch_add(1, Ordering::Relaxed);
                run_flow(runner.clone(), flow, None, i).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok(counter.load(Ordering::Relaxed))
}
