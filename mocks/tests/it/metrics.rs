//! `GET /metrics`: requests by route and status, latency histograms, stored
//! notifications and stream lag, in Prometheus' text format.

use serde_json::json;

use crate::support::*;

async fn metrics(m: &Mock) -> String {
    let resp = m
        .http
        .get(format!("{}/metrics", m.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    resp.text().await.unwrap()
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let m = start(41, true).await;
    for _ in 0..3 {
        m.call("GET", "/status", Some(KEY), None).await;
    }
    m.call(
        "GET",
        "/delivery/v2.9/notifications/sent/ABCD-EFGH-IJKL-202603-A-1",
        Some(KEY),
        None,
    )
    .await;
    let (s, _, _) = m
        .call(
            "POST",
            "/delivery-progresses/v2.9/streams",
            Some(KEY),
            Some(json!({ "title": "m", "eventType": "TIMELINE", "groups": [] })),
        )
        .await;
    assert_eq!(s, 200);
    let text = metrics(&m).await;
    assert_eq!(
        value(
            &text,
            r#"sendmock_requests_total{route="/status",method="GET",status="200"}"#
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"sendmock_requests_total{route="/delivery/v2.9/notifications/sent/{iun}",method="GET",status="404"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            r#"sendmock_request_duration_seconds_count{route="/status"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        value(&text, "sendmock_notifications_stored "),
        Some(0.0),
        "{text}"
    );
    assert!(text.contains("sendmock_stream_lag_events{stream="));
    assert!(text.contains("sendmock_notifications_evicted_total 0"));
}

/// Sends one notification; returns its request id.
async fn send(m: &Mock, protocol: &str) -> String {
    let (s, body) = post_request(m, protocol, "token-1", Some("ok@pec.it"), None).await;
    assert_eq!(s, 202, "{body:#}");
    body["notificationRequestId"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn finished_notifications_are_evicted_beyond_the_cap_and_counted() {
    let m = start_capped(42, 3).await;
    let mut ids = Vec::new();
    for k in 0..4 {
        ids.push(send(&m, &format!("PROT-100{k}")).await);
    }
    // Not finished yet: all four are kept, over the cap.
    assert_eq!(
        value(&metrics(&m).await, "sendmock_notifications_stored "),
        Some(4.0)
    );
    m.advance(200 * 86_400).await;
    ids.push(send(&m, "PROT-1009").await);
    let text = metrics(&m).await;
    assert_eq!(
        value(&text, "sendmock_notifications_stored "),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "sendmock_notifications_evicted_total "),
        Some(2.0),
        "{text}"
    );
    let status = |id: &String| format!("/delivery/v2.6/requests?notificationRequestId={id}");
    let (s, _, _) = m.call("GET", &status(&ids[0]), Some(KEY), None).await;
    assert_eq!(s, 404, "the oldest finished one is gone");
    let (s, _, _) = m.call("GET", &status(&ids[4]), Some(KEY), None).await;
    assert_eq!(s, 200, "the newest stays");
    let (_, _, list) = m.call("GET", "/mock/notifications", None, None).await;
    assert_eq!(list.as_array().unwrap().len(), 3);
}
