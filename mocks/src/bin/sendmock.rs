//! `sendmock`: a mock of SEND's B2B API for integrators, driven by the sendsim model,
//! and a load generator for any SEND endpoint.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Timelike, Utc};
use clap::{Parser, Subcommand};
use std::sync::atomic::{AtomicBool, Ordering};

use mocks::clock::SimClock;
use mocks::gateway::UsagePlan;
use mocks::load::{self, Flow, LoadConfig, Mode, profile, profile::Profile, threshold::Threshold};
use mocks::server::{self, App, Config, DEFAULT_API_KEY, DEFAULT_SENDER_TAX_ID};

// The mock frees whole notifications as the cap evicts them while new ones arrive;
// mimalloc returns that memory and reuses it, where the system allocator's resident
// size kept creeping up over a long run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "sendmock",
    version,
    about = "Mock SEND B2B API whose notifications follow the sendsim model"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Drive a SEND endpoint (the mock or a real one) at an open-loop rate and report
    /// latency percentiles; `sendmock load merge DIR...` merges workers' results.
    Load {
        #[command(subcommand)]
        action: Option<LoadAction>,
        #[command(flatten)]
        opts: LoadOpts,
    },
    /// Serve the mock SEND B2B API.
    Serve {
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Write the bound address (http://IP:PORT) to this file once listening.
        #[arg(long)]
        addr_file: Option<PathBuf>,
        /// API key, optionally bound to a sender tax id: KEY or KEY=TAXID (repeatable).
        #[arg(long = "api-key", value_name = "KEY[=SENDER_TAX_ID]")]
        api_keys: Vec<String>,
        /// Scenario whose behaviour notifications follow (default: the built-in default).
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Simulated seconds per real second (default: one day per second).
        #[arg(long, default_value_t = 86_400.0)]
        time_scale: f64,
        /// Real seconds a new request stays WAITING before validation.
        #[arg(long, default_value_t = 1.0)]
        validation_seconds: f64,
        /// Real seconds before a legal fact can be downloaded (retryAfter until then).
        #[arg(long, default_value_t = 1.0)]
        legal_fact_seconds: f64,
        /// Simulated start instant, RFC 3339 (default: now, to the minute).
        #[arg(long)]
        start: Option<DateTime<Utc>>,
        /// Seed of every notification's trajectory (with its IUN).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// ASYNC payments are refused unless their position was registered with
        /// `PUT /mock/gpd/{creditorTaxId}/{noticeCode}`.
        #[arg(long)]
        gpd_closed: bool,
        /// `retry-after` of an event-stream read that found nothing more to return, in
        /// real milliseconds (production waits longer; the mock's clock is faster).
        #[arg(long, default_value_t = 1000)]
        stream_retry_after_ms: u64,
        /// The gateway's usage plan for every key, RATE/BURST/DAILY (production's
        /// STANDARD_B2B plan by default).
        #[arg(long, default_value = "50/100/100000")]
        rate_limit: UsagePlan,
        /// A usage plan for one key, KEY=RATE/BURST/DAILY (repeatable).
        #[arg(long = "key-rate-limit", value_name = "KEY=PLAN")]
        key_rate_limits: Vec<String>,
        /// No gateway limits at all (for load tests).
        #[arg(long)]
        no_rate_limit: bool,
        /// A fault profile (TOML): per-route latency, error rates, dropped connections,
        /// timeouts, scheduled outages.
        #[arg(long)]
        faults: Option<PathBuf>,
        /// Notifications held in full at most; beyond, the oldest finished ones are
        /// dropped (0: no cap).
        #[arg(long, default_value_t = server::DEFAULT_MAX_NOTIFICATIONS)]
        max_notifications: usize,
        /// Also write the conformance report as JSON here on shutdown (the text report
        /// goes to stderr).
        #[arg(long)]
        report: Option<PathBuf>,
        /// A key (`x-api-key`) the consolidator API accepts (repeatable).
        #[arg(long = "consolidator-key", default_value = server::DEFAULT_CONSOLIDATOR_KEY)]
        consolidator_keys: Vec<String>,
        /// Push the consolidator's progress events to this SEND ingress base URL
        /// (PUT URL/consolidatore-ingress/v1/push-progress-events), retrying on failure.
        #[arg(long, value_name = "URL")]
        push_events: Option<String>,
        /// The x-api-key sent with pushed events.
        #[arg(long, default_value = "sendmock-push-key")]
        push_api_key: String,
        /// Keep the state in this file: written on shutdown and every --state-every
        /// seconds, atomically; a restart with it resumes every notification, stream
        /// cursor, provider request and the clock (whose start and scale then come from
        /// the file).
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
        /// Seconds between snapshots of --state (a crash loses at most this much).
        #[arg(long, default_value_t = 10.0)]
        state_every: f64,
        /// Send each notification's first PEC and first letter per recipient through
        /// this External Channel (base URL; `self` for this mock's own) and let its
        /// outcome decide the timeline.
        #[arg(long, value_name = "URL")]
        external_channel: Option<String>,
    },
}

#[derive(Subcommand)]
enum LoadAction {
    /// Merge the histogram logs of several workers' `--out` folders exactly, then
    /// evaluate thresholds on the merged data.
    Merge {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        #[arg(long)]
        threshold: Vec<String>,
        /// Write the merged summary, time series, log and plots here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct LoadOpts {
    /// Base URL of the endpoint (http:// or https://).
    #[arg(long)]
    target: Option<String>,
    #[arg(long, default_value = DEFAULT_API_KEY)]
    api_key: String,
    /// Sender tax id put in generated requests and payment notices.
    #[arg(long, default_value = DEFAULT_SENDER_TAX_ID)]
    sender_tax_id: String,
    /// send | read | get
    #[arg(long, default_value = "send")]
    flow: String,
    /// Path of the `get` flow.
    #[arg(long, default_value = "/status")]
    path: String,
    /// Weighted mix of flows, e.g. send=1,read=4 (overrides --flow).
    #[arg(long)]
    mix: Option<String>,
    /// Arrivals per second: flows per second, requests per second for `get`.
    #[arg(long)]
    rate: Option<f64>,
    /// Named profile: smoke, load, stress, spike, soak, fixed-rate, spike-fixed-rate,
    /// load-fixed-rate, stages-fixed-rate.
    #[arg(long)]
    profile: Option<String>,
    /// Custom stages DURATION:RATE,... (ramps from 0), e.g. 30s:50,2m:50,30s:0.
    #[arg(long)]
    stages: Option<String>,
    /// Replay the daily volumes of a simulator run (`sendsim run --out DIR` writes
    /// DIR/daily.csv): each simulated day lasts --replay-day; with --rate the whole
    /// replay is rescaled to average that many arrivals per second.
    #[arg(long, value_name = "DAILY_CSV")]
    replay: Option<PathBuf>,
    /// Real time one simulated day of --replay takes.
    #[arg(long, default_value = "10s")]
    replay_day: String,
    /// Arrivals per virtual user per second when turning k6 profiles into rates.
    #[arg(long, default_value_t = 1.0)]
    vu_rate: f64,
    /// Poisson arrivals instead of evenly spaced ones.
    #[arg(long)]
    poisson: bool,
    /// Closed loop with N virtual users instead of open-loop arrivals (comparison only).
    #[arg(long)]
    vus: Option<usize>,
    /// Upper bound on the run's length (always applies).
    #[arg(long, default_value = "60s")]
    duration: String,
    /// Upper bound on the number of flows (requests for `get`).
    #[arg(long)]
    max_requests: Option<u64>,
    /// Connections of the raw `get` flow.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    #[arg(long, default_value = "10s")]
    timeout: String,
    /// Length of the time-series intervals.
    #[arg(long, default_value = "1s")]
    interval: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// This worker's share: INDEX/COUNT (0-based), e.g. 0/4. Defaults to the
    /// Kubernetes Indexed Job's JOB_COMPLETION_INDEX with --workers (or
    /// SENDMOCK_LOAD_WORKERS) as the count.
    #[arg(long)]
    worker: Option<String>,
    #[arg(long, env = "SENDMOCK_LOAD_WORKERS")]
    workers: Option<u32>,
    /// Wall-clock instant (RFC 3339) at which every worker starts.
    #[arg(long)]
    start_at: Option<DateTime<Utc>>,
    /// Extra request header "Name: value" (repeatable).
    #[arg(long)]
    header: Vec<String>,
    /// Most status polls per send flow.
    #[arg(long, default_value_t = 30)]
    max_polls: u32,
    /// How send flows learn their request's outcome: `poll` its status (honouring
    /// retryAfter), or `stream`: one reader consumes an event stream it creates (honouring
    /// retry-after) and hands each flow its outcome.
    #[arg(long, value_enum, default_value = "poll")]
    accept_via: AcceptVia,
    /// Write summary.json, timeseries.csv, latency.hlog and plots here (under
    /// worker-INDEX/ when there are several workers).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Threshold that sets the exit code, e.g. 'send:p99<1500ms' or 'errors<0.1%'.
    #[arg(long)]
    threshold: Vec<String>,
    /// No live progress line.
    #[arg(long, short)]
    quiet: bool,
}

/// Exit codes of `sendmock load`.
const EXIT_THRESHOLD_FAILED: u8 = 3;

fn parse_worker(opts: &LoadOpts) -> Result<(u32, u32)> {
    if let Some(w) = &opts.worker {
        let (i, n) = w
            .split_once('/')
            .ok_or_else(|| anyhow::anyhow!("--worker {w:?}: expected INDEX/COUNT, e.g. 0/4"))?;
        let (i, n): (u32, u32) = (i.parse()?, n.parse()?);
        if n == 0 || i >= n {
            bail!("--worker {w:?}: INDEX must be below COUNT");
        }
        return Ok((i, n));
    }
    if let Ok(idx) = std::env::var("JOB_COMPLETION_INDEX") {
        let i: u32 = idx
            .parse()
            .map_err(|_| anyhow::anyhow!("JOB_COMPLETION_INDEX={idx:?} is not a number"))?;
        let n = opts
            .workers
            .ok_or_else(|| anyhow::anyhow!("JOB_COMPLETION_INDEX is set: give the worker count with --workers or SENDMOCK_LOAD_WORKERS"))?;
        if i >= n {
            bail!("JOB_COMPLETION_INDEX={i} must be below the worker count {n}");
        }
        return Ok((i, n));
    }
    Ok((0, opts.workers.unwrap_or(1).max(1)))
}

fn parse_flow(name: &str, path: &str) -> Result<Flow> {
    Ok(match name {
        "send" => Flow::Send,
        "read" => Flow::Read,
        "get" => Flow::Get(path.to_string()),
        other => bail!("flow {other:?}: expected send, read or get"),
    })
}

fn load_config(opts: &LoadOpts) -> Result<LoadConfig> {
    let target = opts
        .target
        .clone()
        .ok_or_else(|| anyhow::anyhow!("--target URL is required (e.g. http://127.0.0.1:8080)"))?;
    if !(target.starts_with("http://") || target.starts_with("https://")) {
        bail!("--target {target:?}: expected an http:// or https:// URL");
    }
    let secs = |what: &str, v: &str| {
        profile::parse_duration(v).map_err(|e| anyhow::anyhow!("--{what}: {e}"))
    };
    let duration = secs("duration", &opts.duration)?;
    let mix = match &opts.mix {
        Some(m) => m
            .split(',')
            .map(|part| {
                let (f, w) = part.split_once('=').unwrap_or((part, "1"));
                let w: f64 = w
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--mix {part:?}: weight must be a number"))?;
                Ok((parse_flow(f.trim(), &opts.path)?, w))
            })
            .collect::<Result<Vec<_>>>()?,
        None => vec![(parse_flow(&opts.flow, &opts.path)?, 1.0)],
    };
    let profile = match (&opts.profile, &opts.stages, opts.rate) {
        _ if opts.replay.is_some() => {
            let path = opts.replay.as_deref().expect("replay");
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--replay: cannot read {}", path.display()))?;
            if opts.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
                bail!("--rate must be > 0, got {:?}", opts.rate);
            }
            profile::replay(
                &path.display().to_string(),
                &text,
                secs("replay-day", &opts.replay_day)?,
                opts.rate,
            )
            .map_err(|e| anyhow::anyhow!("--replay: {e}"))?
        }
        (Some(p), _, _) => Profile::named(p, opts.vu_rate).ok_or_else(|| {
            anyhow::anyhow!(
                "--profile {p:?}: expected one of {}",
                Profile::NAMES.join(", ")
            )
        })?,
        (None, Some(s), _) => {
            Profile::parse_stages(s).map_err(|e| anyhow::anyhow!("--stages: {e}"))?
        }
        (None, None, Some(r)) if r > 0.0 && r.is_finite() => Profile::constant(r, duration),
        (None, None, Some(r)) => bail!("--rate must be > 0, got {r}"),
        (None, None, None) if opts.vus.is_some() => Profile::constant(1.0, duration),
        (None, None, None) => bail!("give --rate, --profile, --stages or --vus"),
    };
    let headers = opts
        .header
        .iter()
        .map(|h| {
            h.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| anyhow::anyhow!("--header {h:?}: expected \"Name: value\""))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(LoadConfig {
        target,
        api_key: opts.api_key.clone(),
        sender_tax_id: opts.sender_tax_id.clone(),
        mix,
        profile,
        mode: match opts.vus {
            Some(u) => Mode::ClosedLoop { users: u },
            None => Mode::OpenLoop {
                poisson: opts.poisson,
            },
        },
        duration: std::time::Duration::from_secs_f64(duration),
        max_requests: opts.max_requests,
        connections: opts.connections,
        timeout: std::time::Duration::from_secs_f64(secs("timeout", &opts.timeout)?),
        interval_secs: secs("interval", &opts.interval)?,
        seed: opts.seed,
        worker: parse_worker(opts)?,
        start_at: opts.start_at.map(std::time::SystemTime::from),
        headers,
        max_polls: opts.max_polls,
        accept: match opts.accept_via {
            AcceptVia::Poll => load::acceptance::Accept::Poll,
            AcceptVia::Stream => load::acceptance::Accept::Stream,
        },
        progress: !opts.quiet,
    })
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum AcceptVia {
    Poll,
    Stream,
}

async fn load(opts: LoadOpts) -> Result<u8> {
    let thresholds = opts
        .threshold
        .iter()
        .map(|t| Threshold::parse(t).map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    let cfg = load_config(&opts)?;
    if cfg.profile.duration() > cfg.duration.as_secs_f64() + 1e-9 && !opts.quiet {
        eprintln!(
            "note: --duration {} ends the run before the profile ({:.0} s) does",
            opts.duration,
            cfg.profile.duration()
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nstopping: finishing requests in flight");
                stop.store(true, Ordering::Relaxed);
            }
        });
    }
    let mode = match cfg.mode {
        Mode::OpenLoop { poisson: true } => "open-loop (Poisson arrivals)".to_string(),
        Mode::OpenLoop { poisson: false } => "open-loop".to_string(),
        Mode::ClosedLoop { users } => {
            format!("closed-loop, {users} users (coordinated omission NOT corrected)")
        }
    };
    let flows: Vec<String> = cfg
        .mix
        .iter()
        .map(|(f, w)| format!("{}={w}", f.name()))
        .collect();
    let profile_text = format!("{} · flows {}", cfg.profile, flows.join(","));
    let (index, workers) = cfg.worker;
    let target = cfg.target.clone();
    let result = load::run(cfg, stop).await?;
    let started = DateTime::<Utc>::from(result.started_at)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let summary = load::output::summarize(
        &result.measurements,
        &target,
        &mode,
        &profile_text,
        workers,
        (workers > 1).then_some(index),
        started,
        result.seconds,
        result.interrupted,
        result.flows_started,
        &thresholds,
    );
    print!("{}", load::output::text(&summary));
    if let Some(out) = &opts.out {
        let dir = if workers > 1 {
            out.join(format!("worker-{index}"))
        } else {
            out.clone()
        };
        if workers > 1 && dir.exists() {
            // A re-run worker replaces its share, never adds to it.
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot replace {}", dir.display()))?;
        }
        load::output::write_all(&dir, &summary, &result.measurements)?;
        println!("results in {}", dir.display());
    }
    Ok(if summary.thresholds.iter().all(|v| v.passed) {
        0
    } else {
        EXIT_THRESHOLD_FAILED
    })
}

fn merge(dirs: &[PathBuf], threshold: &[String], out: Option<&PathBuf>) -> Result<u8> {
    let thresholds = threshold
        .iter()
        .map(|t| Threshold::parse(t).map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    let (m, parts) = load::output::merge_dirs(dirs).map_err(anyhow::Error::msg)?;
    let seconds = parts.iter().map(|s| s.seconds).fold(0.0, f64::max);
    let first = &parts[0];
    let summary = load::output::summarize(
        &m,
        &first.target,
        &first.mode,
        &first.profile,
        parts.len() as u32,
        None,
        first.started_at.clone(),
        seconds,
        parts.iter().any(|s| s.interrupted),
        parts.iter().map(|s| s.flows_started).sum(),
        &thresholds,
    );
    print!(
        "merged {} workers\n{}",
        parts.len(),
        load::output::text(&summary)
    );
    if let Some(dir) = out {
        load::output::write_all(dir, &summary, &m)?;
    }
    Ok(if summary.thresholds.iter().all(|v| v.passed) {
        0
    } else {
        EXIT_THRESHOLD_FAILED
    })
}

/// Reads a fault profile, naming the file and every bad field.
fn load_faults(path: &std::path::Path) -> Result<mocks::faults::FaultProfile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the fault profile {}", path.display()))?;
    let profile: mocks::faults::FaultProfile = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
    let problems = profile.problems();
    if !problems.is_empty() {
        bail!(
            "{}",
            problems
                .iter()
                .map(|p| {
                    let (field, message) = p.split_once(": ").unwrap_or(("", p));
                    format!("{}: field `{field}`: {message}", path.display())
                })
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(profile)
}

fn parse_keys(specs: &[String]) -> Result<HashMap<String, String>> {
    if specs.is_empty() {
        return Ok(HashMap::from([(
            DEFAULT_API_KEY.to_string(),
            DEFAULT_SENDER_TAX_ID.to_string(),
        )]));
    }
    let mut keys = HashMap::new();
    for s in specs {
        let (key, tax) = s
            .split_once('=')
            .unwrap_or((s.as_str(), DEFAULT_SENDER_TAX_ID));
        if key.is_empty() {
            bail!("--api-key {s:?}: the key is empty");
        }
        if !(tax.len() == 11 && tax.bytes().all(|b| b.is_ascii_digit())) {
            bail!("--api-key {s:?}: the sender tax id must be 11 digits, got {tax:?}");
        }
        keys.insert(key.to_string(), tax.to_string());
    }
    Ok(keys)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

fn main() -> std::process::ExitCode {
    // mimalloc asks for transparent huge pages, and the kernel then compacts memory and
    // clears 2 MB at a time on the faults of a growing store: sends ran 9,100–9,700 a
    // second with them against 10,400–14,800 without (README, "Speed and memory"). Set before the
    // runtime's threads start; they inherit it.
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        eprintln!("warning: transparent huge pages stay on ({e})");
    }
    match real_main() {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

#[tokio::main]
async fn real_main() -> Result<u8> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Load {
            action:
                Some(LoadAction::Merge {
                    dirs,
                    threshold,
                    out,
                }),
            ..
        } => return merge(&dirs, &threshold, out.as_ref()),
        Command::Load { action: None, opts } => return load(opts).await,
        Command::Serve {
            listen,
            addr_file,
            api_keys,
            scenario,
            time_scale,
            validation_seconds,
            legal_fact_seconds,
            start,
            seed,
            gpd_closed,
            stream_retry_after_ms,
            rate_limit,
            key_rate_limits,
            no_rate_limit,
            faults,
            max_notifications,
            report,
            consolidator_keys,
            push_events,
            push_api_key,
            state,
            state_every,
            external_channel,
        } => {
            let faults = match &faults {
                Some(p) => load_faults(p)?,
                None => Default::default(),
            };
            if !(time_scale.is_finite() && time_scale > 0.0) {
                bail!("--time-scale must be a number > 0, got {time_scale}");
            }
            let scenario = match &scenario {
                Some(p) => sim::Scenario::load(p)?,
                None => sim::Scenario::builtin_default(),
            };
            let keys = parse_keys(&api_keys)?;
            let mut plans: HashMap<String, UsagePlan> = if no_rate_limit {
                HashMap::new()
            } else {
                keys.keys().map(|k| (k.clone(), rate_limit)).collect()
            };
            for spec in &key_rate_limits {
                let (key, plan) = spec.split_once('=').with_context(|| {
                    format!("--key-rate-limit {spec:?}: expected KEY=RATE/BURST/DAILY")
                })?;
                let plan: UsagePlan = plan
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--key-rate-limit {spec:?}: {e}"))?;
                if !keys.contains_key(key) {
                    bail!("--key-rate-limit {spec:?}: {key:?} is not one of the --api-key keys");
                }
                plans.insert(key.to_string(), plan);
            }
            let config = Config {
                max_notifications: (max_notifications > 0).then_some(max_notifications),
                faults,
                plans,
                keys,
                validation_seconds,
                legal_fact_seconds,
                gpd_open: !gpd_closed,
                seed,
                stream_retry_after_ms,
                consolidator_keys,
                push: push_events.map(|url| mocks::channels::consolidator::PushTarget {
                    url,
                    api_key: push_api_key,
                }),
                external_channel: None,
            };
            let now = Utc::now();
            let epoch = start
                .unwrap_or(now)
                .with_second(0)
                .and_then(|t| t.with_nanosecond(0))
                .expect("valid instant");
            let saved = match &state {
                Some(path) => mocks::state::read(path).map_err(anyhow::Error::msg)?,
                None => None,
            };
            // A resumed state brings its own clock.
            let clock = match &saved {
                Some(s) => {
                    let clock = SimClock::new(s.epoch_utc().map_err(anyhow::Error::msg)?, s.scale);
                    clock.set(s.tick).map_err(anyhow::Error::msg)?;
                    clock
                }
                None => SimClock::new(epoch, time_scale),
            };
            let (listener, base_url) = server::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let mut config = config;
            config.external_channel =
                external_channel.map(|u| if u == "self" { base_url.clone() } else { u });
            let app = Arc::new(App::new(scenario, clock, config, base_url.clone())?);
            if let (Some(s), Some(path)) = (saved, &state) {
                let tick = s.tick;
                mocks::state::restore(&app, s)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                let store = app.store();
                println!(
                    "resumed {} notifications and {} streams from {} at simulated {}",
                    store.live(),
                    store.streams.len(),
                    path.display(),
                    app.clock.to_utc(tick).to_rfc3339()
                );
            }
            if let Some(path) = state.clone() {
                if !(state_every > 0.0 && state_every.is_finite()) {
                    bail!("--state-every must be a number of seconds > 0, got {state_every}");
                }
                let app = app.clone();
                tokio::spawn(async move {
                    let every = std::time::Duration::from_secs_f64(state_every);
                    loop {
                        tokio::time::sleep(every).await;
                        save_state(&app, &path).await;
                    }
                });
            }
            if let Some(f) = addr_file {
                std::fs::write(&f, &base_url)
                    .with_context(|| format!("cannot write {}", f.display()))?;
            }
            println!("sendmock listening on {base_url}");
            tracing::info!(%base_url, keys = app.config.keys.len(), time_scale, "serving the SEND B2B mock");
            server::run(listener, app.clone(), shutdown_signal()).await?;
            if let Some(path) = &state {
                save_state(&app, path).await;
                println!("state saved to {}", path.display());
            }
            // What the clients did, once they are done.
            eprint!("conformance report\n{}", app.conformance.text());
            if let Some(path) = report {
                let json = serde_json::to_string_pretty(&app.conformance.report())? + "\n";
                sim::report::write_atomic(&path, json.as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
    }
    Ok(0)
}

/// Writes the mock's state to `path` (the copy under the lock, the writing outside).
async fn save_state(app: &Arc<App>, path: &std::path::Path) {
    let app = app.clone();
    let path = path.to_path_buf();
    let result = tokio::task::spawn_blocking(move || {
        #[allow(clippy::disallowed_methods)]
        let started = std::time::Instant::now();
        let snapshot = mocks::state::take(&app);
        let notifications = app.store().live();
        mocks::state::write(&path, &snapshot).map_err(|e| format!("{}: {e}", path.display()))?;
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        tracing::info!(
            notifications,
            bytes,
            millis = started.elapsed().as_millis() as u64,
            "state saved"
        );
        Ok::<(), String>(())
    })
    .await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "cannot save the state"),
        Err(e) => tracing::error!(error = %e, "the state saver stopped"),
    }
}
