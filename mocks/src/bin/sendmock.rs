//! `sendmock`: a mock of SEND's B2B API for integrators, driven by the sendsim model.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Timelike, Utc};
use clap::{Parser, Subcommand};
use mocks::clock::SimClock;
use mocks::server::{self, App, Config, DEFAULT_API_KEY, DEFAULT_SENDER_TAX_ID};

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

#[derive(Subcommand)]
enum Command {
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
    },
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

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
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
        } => {
            if !(time_scale.is_finite() && time_scale > 0.0) {
                bail!("--time-scale must be a number > 0, got {time_scale}");
            }
            let scenario = match &scenario {
                Some(p) => sim::Scenario::load(p)?,
                None => sim::Scenario::builtin_default(),
            };
            let config = Config {
                keys: parse_keys(&api_keys)?,
                validation_seconds,
                legal_fact_seconds,
                gpd_open: !gpd_closed,
                seed,
            };
            #[allow(clippy::disallowed_methods)]
            let now = Utc::now();
            let epoch = start
                .unwrap_or(now)
                .with_second(0)
                .and_then(|t| t.with_nanosecond(0))
                .expect("valid instant");
            let (listener, base_url) = server::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let app = Arc::new(App::new(
                scenario,
                SimClock::new(epoch, time_scale),
                config,
                base_url.clone(),
            )?);
            if let Some(f) = addr_file {
                std::fs::write(&f, &base_url)
                    .with_context(|| format!("cannot write {}", f.display()))?;
            }
            println!("sendmock listening on {base_url}");
            tracing::info!(%base_url, keys = app.config.keys.len(), time_scale, "serving the SEND B2B mock");
            server::run(listener, app, shutdown_signal()).await?;
        }
    }
    Ok(())
}
