//! The load generator against local servers: rate accuracy, coordinated omission,
//! bounds, thresholds, merging, retry-after handling, errors and timeouts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use mocks::load::measure::Measurements;
use mocks::load::profile::Profile;
use mocks::load::{self, Flow, LoadConfig, Mode};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock as WireMock, MockServer, ResponseTemplate};

/// A trivial server whose `/hello` can be made to stall until a given instant.
async fn hello_server(stall_until: Arc<std::sync::Mutex<Option<Instant>>>) -> String {
    let app = Router::new().route(
        "/hello",
        get(move || {
            let stall = stall_until.clone();
            async move {
                let until = *stall.lock().unwrap();
                if let Some(t) = until {
                    tokio::time::sleep_until(t.into()).await;
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn config(target: &str, flow: Flow, rate: f64, seconds: f64) -> LoadConfig {
    LoadConfig {
        target: target.to_string(),
        api_key: "k".into(),
        sender_tax_id: "80016350821".into(),
        mix: vec![(flow, 1.0)],
        profile: Profile::constant(rate, seconds),
        mode: Mode::OpenLoop { poisson: false },
        duration: Duration::from_secs_f64(seconds),
        max_requests: None,
        connections: 8,
        timeout: Duration::from_secs(5),
        interval_secs: 0.5,
        seed: 1,
        worker: (0, 1),
        start_at: None,
        headers: Vec::new(),
        max_polls: 10,
        accept: load::acceptance::Accept::Poll,
        progress: false,
    }
}

async fn run(cfg: LoadConfig) -> load::RunResult {
    load::run(cfg, Arc::new(AtomicBool::new(false)))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_requested_rate_is_held() {
    let url = hello_server(Default::default()).await;
    let r = run(config(&url, Flow::Get("/hello".into()), 1000.0, 2.0)).await;
    let s = r.measurements.summary(Some("get"), r.seconds);
    assert!(
        (s.count as f64 - 2000.0).abs() <= 2.0,
        "{} requests",
        s.count
    );
    assert_eq!(s.errors, 0);
    // Requests were spread over the run, not bunched: each half second has its share.
    let per_interval: Vec<u64> = r.measurements.series[&("get".to_string(), "2xx".to_string())]
        .values()
        .map(|h| h.len())
        .collect();
    assert_eq!(per_interval.len(), 4);
    assert!(
        per_interval.iter().all(|n| (*n as i64 - 500).abs() <= 2),
        "{per_interval:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_second_stall_shows_in_p99() {
    let stall = Arc::new(std::sync::Mutex::new(None));
    let url = hello_server(stall.clone()).await;
    let s2 = stall.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        *s2.lock().unwrap() = Some(Instant::now() + Duration::from_secs(1));
    });
    let r = run(config(&url, Flow::Get("/hello".into()), 200.0, 3.0)).await;
    let h = r.measurements.total(Some("get"), |_| true);
    // A third of the requests were due during or just after the stall: with latency
    // measured from each intended start, p90 and above reflect the wait.
    let p99 = h.value_at_quantile(0.99) as f64 / 1000.0;
    let p90 = h.value_at_quantile(0.90) as f64 / 1000.0;
    assert!(
        h.max() as f64 / 1000.0 >= 900.0,
        "max {} ms",
        h.max() as f64 / 1000.0
    );
    assert!(p99 >= 800.0, "p99 {p99} ms");
    assert!(p90 >= 100.0, "p90 {p90} ms");
    assert!(h.value_at_quantile(0.5) < 50_000, "median stays low");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_stop_on_time_and_on_max_requests() {
    let stall = Arc::new(std::sync::Mutex::new(Some(
        Instant::now() + Duration::from_secs(30),
    )));
    let url = hello_server(stall).await;
    let mut cfg = config(&url, Flow::Get("/hello".into()), 50.0, 1.0);
    cfg.timeout = Duration::from_millis(500);
    let t0 = Instant::now();
    let r = run(cfg).await;
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t0.elapsed()
    );
    let s = r.measurements.summary(None, r.seconds);
    assert!(s.by_class.contains_key("err-timeout"), "{:?}", s.by_class);

    let url = hello_server(Default::default()).await;
    let mut cfg = config(&url, Flow::Get("/hello".into()), 1000.0, 10.0);
    cfg.max_requests = Some(300);
    let t0 = Instant::now();
    let r = run(cfg).await;
    assert_eq!(r.measurements.summary(None, r.seconds).count, 300);
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_merge_into_one_runs_histogram() {
    let url = hello_server(Default::default()).await;
    let dir = tempfile_dir();
    let mut whole = Measurements::new(0.5);
    for w in 0..2 {
        let mut cfg = config(&url, Flow::Get("/hello".into()), 400.0, 1.0);
        cfg.worker = (w, 2);
        let r = run(cfg).await;
        assert!((r.measurements.summary(None, r.seconds).count as i64 - 200).abs() <= 1);
        whole.merge(&r.measurements);
        let s = load::output::summarize(
            &r.measurements,
            &url,
            "open-loop",
            "test",
            2,
            Some(w),
            String::new(),
            r.seconds,
            false,
            0,
            &[],
        );
        load::output::write_all(&dir.join(format!("worker-{w}")), &s, &r.measurements).unwrap();
    }
    let (merged, parts) = load::output::merge_dirs(std::slice::from_ref(&dir)).unwrap();
    assert_eq!(parts.len(), 2);
    let a = merged.total(None, |_| true);
    let b = whole.total(None, |_| true);
    assert_eq!(a.len(), b.len());
    for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
        assert_eq!(a.value_at_quantile(q), b.value_at_quantile(q), "q {q}");
    }
    assert_eq!(
        merged.series.keys().collect::<Vec<_>>(),
        whole.series.keys().collect::<Vec<_>>()
    );
    std::fs::remove_dir_all(dir).ok();
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "sendmock-load-{}-{}",
        std::process::id(),
        uuid_like()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn uuid_like() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
        ^ (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_send_flow_honours_retry_after_against_wiremock() {
    let server = MockServer::start().await;
    let base = server.uri();
    WireMock::given(method("POST"))
        .and(path("/delivery/attachments/preload"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([{
            "preloadIdx": "0", "secret": "s", "httpMethod": "PUT", "url": format!("{base}/upload/k1"), "key": "k1"
        }])))
        .mount(&server)
        .await;
    WireMock::given(method("PUT"))
        .and(path("/upload/k1"))
        .respond_with(ResponseTemplate::new(200).insert_header("x-amz-version-id", "v1"))
        .mount(&server)
        .await;
    WireMock::given(method("POST"))
        .and(path("/delivery/v2.6/requests"))
        .respond_with(ResponseTemplate::new(202).set_body_json(serde_json::json!({
            "notificationRequestId": "UUxZTS1QSExHLVpBUEotMjAyNDAyLUgtMQ==", "paProtocolNumber": "p"
        })))
        .mount(&server)
        .await;
    // First poll: WAITING with retryAfter 1; then ACCEPTED.
    WireMock::given(method("GET"))
        .and(path("/delivery/v2.6/requests"))
        .and(query_param("notificationRequestId", "UUxZTS1QSExHLVpBUEotMjAyNDAyLUgtMQ=="))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "notificationRequestId": "x", "notificationRequestStatus": "WAITING", "retryAfter": 1 })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    WireMock::given(method("GET"))
        .and(path("/delivery/v2.6/requests"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "notificationRequestId": "x", "notificationRequestStatus": "ACCEPTED", "iun": "QLYM-PHLG-ZAPJ-202402-H-1" })))
        .with_priority(2)
        .mount(&server)
        .await;
    WireMock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .with_priority(10)
        .mount(&server)
        .await;

    let mut cfg = config(&base, Flow::Send, 1.0, 1.0);
    cfg.max_requests = Some(1);
    cfg.duration = Duration::from_secs(1);
    let r = run(cfg).await;
    let received = server.received_requests().await.unwrap();
    let polls: Vec<Instant> = Vec::new();
    let _ = polls;
    let poll_times: Vec<_> = received
        .iter()
        .filter(|r| r.url.path() == "/delivery/v2.6/requests" && r.method.as_str() == "GET")
        .collect();
    assert_eq!(
        poll_times.len(),
        2,
        "{:?}",
        received
            .iter()
            .map(|r| r.url.to_string())
            .collect::<Vec<_>>()
    );
    // The generator waited for retryAfter before polling again (detail was read after).
    let s = r.measurements.summary(Some("request_status"), r.seconds);
    assert_eq!(s.count, 2);
    assert!(received.iter().any(|r| {
        r.url
            .path()
            .ends_with("/notifications/sent/QLYM-PHLG-ZAPJ-202402-H-1")
    }));
    assert!(r.seconds >= 0.9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_reads_honour_retry_after_in_milliseconds() {
    let server = MockServer::start().await;
    WireMock::given(method("GET"))
        .and(path("/delivery-progresses/v2.9/streams/s1/events"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("retry-after", "400")
                .set_body_json(serde_json::json!([])),
        )
        .mount(&server)
        .await;
    let client = reqwest::Client::new();
    let start = Instant::now();
    let ctx = load::flows::FlowContext {
        client: &client,
        base: &server.uri(),
        api_key: "k",
        sender_tax_id: "80016350821",
        headers: &[],
        deadline: start + Duration::from_secs(10),
        max_polls: 3,
        run_start: start,
        interval_secs: 1.0,
        acceptances: None,
    };
    let mut rec = load::flows::FlowRecorder::new(1.0, None);
    load::flows::consume_stream(
        &ctx,
        &mut rec,
        "/delivery-progresses/v2.9/streams/s1/events",
        3,
    )
    .await;
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    // Three reads, each followed by the 400 ms the server asked for.
    assert!(
        start.elapsed() >= Duration::from_millis(1150),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_timeouts_are_counted_by_kind() {
    let server = MockServer::start().await;
    WireMock::given(method("GET"))
        .and(path("/boom"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    WireMock::given(method("GET"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let r = run(config(&server.uri(), Flow::Get("/boom".into()), 20.0, 1.0)).await;
    let s = r.measurements.summary(None, r.seconds);
    assert_eq!(s.by_class.get("5xx"), Some(&20));
    assert_eq!(s.error_rate, 1.0);
    let mut cfg = config(&server.uri(), Flow::Get("/slow".into()), 5.0, 1.0);
    cfg.timeout = Duration::from_millis(200);
    let r = run(cfg).await;
    let s = r.measurements.summary(None, r.seconds);
    assert_eq!(s.by_class.get("err-timeout"), Some(&5), "{:?}", s.by_class);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modest_run_against_the_mock_has_no_errors() {
    let m = crate::support::start(21, true).await;
    // The mock's clock runs in real time here: validation takes 2 s, so the flows poll.
    let mut cfg = config(&m.url, Flow::Send, 4.0, 2.0);
    cfg.api_key = crate::support::KEY.into();
    cfg.sender_tax_id = crate::support::SENDER.into();
    let r = run(cfg).await;
    let s = r.measurements.summary(None, r.seconds);
    assert_eq!(s.errors, 0, "{:?}", s.by_class);
    for op in [
        "preload",
        "upload",
        "send",
        "request_status",
        "detail",
        "legal_facts",
        "price",
    ] {
        assert!(
            r.measurements.summary(Some(op), r.seconds).count >= 8,
            "{op}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_flows_can_learn_their_outcome_from_an_event_stream() {
    let m = crate::support::start(22, true).await;
    let mut cfg = config(&m.url, Flow::Send, 4.0, 2.0);
    cfg.api_key = crate::support::KEY.into();
    cfg.sender_tax_id = crate::support::SENDER.into();
    cfg.accept = load::acceptance::Accept::Stream;
    let r = run(cfg).await;
    let s = r.measurements.summary(None, r.seconds);
    assert_eq!(s.errors, 0, "{:?}", s.by_class);
    let count = |op| r.measurements.summary(Some(op), r.seconds).count;
    assert_eq!(count("request_status"), 0, "no polling");
    assert_eq!(count("stream_create"), 1);
    assert_eq!(count("stream_delete"), 1);
    assert!(count("stream_read") >= 2);
    assert_eq!(count("stream_outcome"), count("send"));
    // The wait for an outcome is shown, but it is not a request.
    let ops = r.measurements.operations();
    let requests: u64 = ops
        .iter()
        .filter(|op| *op != "stream_outcome")
        .map(|op| r.measurements.summary(Some(op), r.seconds).count)
        .sum();
    assert_eq!(s.count, requests);
    assert!(count("detail") >= 8, "every accepted flow went on");
    // The reader honoured the stream's retry-after, as the mock's conformance watch saw.
    let (_, _, report) = m.call("GET", "/mock/conformance", None, None).await;
    let streams = report[crate::support::SENDER]["behaviour"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["check"] == "retry-after honoured (streams)")
        .cloned()
        .unwrap();
    assert_eq!(streams["passed"], true, "{streams}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_set_the_exit_code() {
    let url = hello_server(Default::default()).await;
    let out = tempfile_dir();
    let run_cli = |threshold: &'static str, out: Option<std::path::PathBuf>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sendmock"));
            cmd.args([
                "load",
                "--target",
                &url,
                "--flow",
                "get",
                "--path",
                "/hello",
                "--rate",
                "100",
                "--duration",
                "1s",
                "-q",
            ]);
            cmd.args(["--threshold", threshold]);
            if let Some(o) = out {
                cmd.arg("--out").arg(o);
            }
            cmd.output().unwrap()
        })
    };
    let ok = run_cli("p99<5s", Some(out.clone())).await.unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        stdout.contains("threshold p99<5s") && stdout.contains("passed"),
        "{stdout}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["schema"], "sendmock-load-summary/1");
    assert_eq!(summary["operations"]["get"]["count"], 100);
    for f in [
        "timeseries.csv",
        "latency.hlog",
        "latency_over_time.png",
        "throughput.svg",
        "latency_distribution.png",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let failed = run_cli("p99<0.001ms", None).await.unwrap();
    assert_eq!(failed.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&failed.stdout).contains("FAILED"));
    let bad = run_cli("p99~1", None).await.unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("threshold"));
    // Merging one worker's folder reproduces its counts and applies thresholds.
    let merged = tokio::task::spawn_blocking({
        let out = out.clone();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_sendmock"))
                .args(["load", "merge"])
                .arg(&out)
                .args(["--threshold", "errors<1%"])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(
        merged.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    assert!(String::from_utf8_lossy(&merged.stdout).contains("merged 1 workers"));
    std::fs::remove_dir_all(out).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulator_runs_daily_volumes_are_replayed_in_compressed_days() {
    let url = hello_server(Default::default()).await;
    let dir = tempfile_dir();
    // sendsim's own header, so a change to its daily.csv that breaks replays fails here.
    let columns = sim::report::DAILY_COLUMNS.split(',').count();
    let row = |day: u32, sent: &str| {
        let mut cells = vec![day.to_string(), format!("2025-03-0{}", day + 3)];
        cells.push(sent.to_string());
        cells.resize(columns, "0".to_string());
        cells.join(",")
    };
    let csv = format!(
        "{}\n{}\n{}\n{}\n",
        sim::report::DAILY_COLUMNS,
        row(0, "120"),
        row(1, "0"),
        row(2, "60.5")
    );
    std::fs::write(dir.join("daily.csv"), csv).unwrap();
    let out = dir.join("out");
    let output = tokio::task::spawn_blocking({
        let (url, dir, out) = (url.clone(), dir.clone(), out.clone());
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_sendmock"))
                .args([
                    "load", "--target", &url, "--flow", "get", "--path", "/hello",
                ])
                .arg("--replay")
                .arg(dir.join("daily.csv"))
                .args(["--replay-day", "500ms", "--interval", "500ms", "-q"])
                .arg("--out")
                .arg(&out)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let series = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    let per_day: Vec<(String, u64)> = series
        .lines()
        .filter(|l| l.split(',').nth(1) == Some("get"))
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0].to_string(), c[2].parse().unwrap())
        })
        .collect();
    let count_at = |t: &str| per_day.iter().find(|(s, _)| s == t).map_or(0, |(_, n)| *n);
    assert_eq!(
        (count_at("0.000"), count_at("0.500"), count_at("1.000")),
        // Arrivals fall where the cumulative volume reaches a whole number: 120 to 180.
        (120, 0, 61),
        "{series}"
    );
    // A file that is not a daily.csv is named, with what was expected.
    std::fs::write(dir.join("bad.csv"), "day,views\n0,1\n").unwrap();
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_sendmock"))
        .args(["load", "--target", &url, "--flow", "get", "--replay"])
        .arg(dir.join("bad.csv"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("bad.csv") && err.contains("notifications"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_flow_reads_chunked_closing_and_large_responses() {
    use axum::body::Body;
    let app = Router::new()
        .route(
            "/chunked",
            get(|| async {
                let parts = ["first ", "second ", "third"].map(Ok::<_, std::io::Error>);
                Body::from_stream(futures_util::stream::iter(parts))
            }),
        )
        .route(
            "/close",
            get(|| async { ([(axum::http::header::CONNECTION, "close")], "bye") }),
        )
        .route("/big", get(|| async { vec![b'x'; 1 << 20] }))
        .route("/hello", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    for p in ["/chunked", "/close", "/big"] {
        let r = run(config(&url, Flow::Get(p.into()), 100.0, 0.5)).await;
        let s = r.measurements.summary(Some("get"), r.seconds);
        assert_eq!((s.count, s.errors), (50, 0), "{p}: {:?}", s.by_class);
    }
    // Closed loop: back to back on each user's connection, no schedule, so no lateness.
    let mut cfg = config(&url, Flow::Get("/hello".into()), 1.0, 0.5);
    cfg.mode = Mode::ClosedLoop { users: 2 };
    let r = run(cfg).await;
    let s = r.measurements.summary(Some("get"), r.seconds);
    assert!(s.count > 100 && s.errors == 0, "{s:?}");
    assert_eq!(
        r.measurements
            .summary(Some(mocks::load::measure::LATENESS), r.seconds)
            .count,
        0
    );
}
