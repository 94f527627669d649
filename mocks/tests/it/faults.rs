//! Injected faults: latency, error statuses, dropped connections, timeouts, outages shown
//! by `GET /status`, and the same faults for the same requests under the same seed.

use std::time::{Duration, Instant};

use mocks::spec::Spec;
use serde_json::{Value, json};

use crate::support::*;

async fn set_faults(m: &Mock, profile: Value) {
    let (s, _, body) = m.call("PUT", "/mock/faults", None, Some(profile)).await;
    assert_eq!(s, 204, "{body:#}");
}

#[tokio::test]
async fn latency_and_error_statuses_are_injected_per_route() {
    let m = start(31, true).await;
    set_faults(
        &m,
        json!({ "routes": [
            { "path": "/status", "latency_ms": { "kind": "constant", "value": 200.0 } },
            { "path": "/delivery/v2.9/notifications/sent/{iun}", "method": "GET", "errors": { "503": 1.0 } }
        ] }),
    )
    .await;
    let t = Instant::now();
    let (s, _, _) = m.call("GET", "/status", Some(KEY), None).await;
    assert_eq!(s, 200);
    assert!(t.elapsed() >= Duration::from_millis(200));
    let (s, h, body) = m
        .call(
            "GET",
            "/delivery/v2.9/notifications/sent/ABCD-EFGH-IJKL-202603-A-1",
            Some(KEY),
            None,
        )
        .await;
    assert_eq!((s, body["status"].as_u64()), (503, Some(503)));
    assert_eq!(h["content-type"], "application/problem+json");
    // Other routes are untouched, and a bad profile is refused with its field.
    let (s, _, _) = m
        .call("GET", "/delivery-progresses/v2.9/streams", Some(KEY), None)
        .await;
    assert_eq!(s, 200);
    let (s, _, body) = m
        .call(
            "PUT",
            "/mock/faults",
            None,
            Some(json!({ "routes": [{ "path": "*", "drop_share": 2.0 }] })),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("routes[0].drop_share"),
        "{body:#}"
    );
}

#[tokio::test]
async fn dropped_connections_and_timeouts_fail_on_the_client() {
    let m = start(32, true).await;
    set_faults(
        &m,
        json!({ "routes": [{ "path": "/status", "drop_share": 1.0 }] }),
    )
    .await;
    let r = m.http.get(format!("{}/status", m.url)).send().await;
    let failed = match r {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "the connection was dropped");

    set_faults(
        &m,
        json!({ "routes": [{ "path": "/status", "timeout_share": 1.0, "timeout_ms": 400.0 }] }),
    )
    .await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let e = client
        .get(format!("{}/status", m.url))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
}

#[tokio::test]
async fn an_outage_shows_in_status_and_takes_its_functionality_down() {
    let m = start(33, true).await;
    let (s, _, body) = m
        .call(
            "POST",
            "/mock/outages",
            None,
            Some(json!({ "functionality": "NOTIFICATION_CREATE", "duration_seconds": 1.0 })),
        )
        .await;
    assert_eq!(s, 204, "{body:#}");
    let (s, _, status) = m.call("GET", "/status", Some(KEY), None).await;
    assert_eq!(s, 500);
    let errors = Spec::embedded().check_response("/status", "get", 500, &status);
    assert!(errors.is_empty(), "{errors:#?}\n{status:#}");
    assert_eq!(
        status["openIncidents"][0]["functionality"],
        "NOTIFICATION_CREATE"
    );
    assert_eq!(status["openIncidents"][0]["status"], "KO");
    let (s, _, _) = m
        .call(
            "POST",
            "/delivery/v2.6/requests",
            Some(KEY),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 503, "sending is down");
    let (s, _, _) = m
        .call("GET", "/delivery-progresses/v2.9/streams", Some(KEY), None)
        .await;
    assert_eq!(s, 200, "other functionalities are up");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, _, status) = m.call("GET", "/status", Some(KEY), None).await;
    assert_eq!(
        (s, status["openIncidents"].as_array().map(Vec::len)),
        (200, Some(0))
    );
}

#[tokio::test]
async fn the_same_seed_gives_the_same_faults_to_the_same_requests() {
    let profile = json!({ "seed": 9, "routes": [{ "path": "/status", "errors": { "500": 0.3, "502": 0.2 } }] });
    let mut runs = Vec::new();
    for seed in [34, 35] {
        let m = start(seed, true).await;
        set_faults(&m, profile.clone()).await;
        let mut statuses = Vec::new();
        for _ in 0..30 {
            statuses.push(m.call("GET", "/status", Some(KEY), None).await.0);
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains(&500) && runs[0].contains(&502) && runs[0].contains(&200));
}
