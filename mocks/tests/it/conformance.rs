//! The conformance report: a client that ignores retryAfter and retry-after, storms,
//! retries without its idempotence token, skips stream events and does not back off is
//! flagged on each point; a compliant client on none.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const STREAMS: &str = "/delivery-progresses/v2.9/streams";

async fn report(m: &Mock) -> Value {
    let (s, _, r) = m.call("GET", "/mock/conformance", None, None).await;
    assert_eq!(s, 200);
    r[SENDER].clone()
}

fn behaviour(r: &Value, check: &str) -> bool {
    r["behaviour"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["check"].as_str().unwrap().starts_with(check))
        .unwrap_or_else(|| panic!("no check {check}"))["passed"]
        .as_bool()
        .unwrap()
}

const CHECKS: [&str; 6] = [
    "retryAfter honoured",
    "no polling storms",
    "retry-after honoured",
    "backoff after 429",
    "retries idempotent",
    "streams consumed without gaps",
];

async fn send(m: &Mock, protocol: &str, token: &str) -> (u16, Value) {
    post_request(m, protocol, token, Some("ok@pec.it"), None).await
}

#[tokio::test]
async fn a_misbehaving_client_is_flagged_on_each_point() {
    let m = start(51, true).await;
    let (s, body) = send(&m, "PROT-5001", "token-1").await;
    assert_eq!(s, 202);
    let id = body["notificationRequestId"].as_str().unwrap().to_string();
    // Polls at once, again and again: retryAfter ignored, a storm.
    for _ in 0..7 {
        m.call(
            "GET",
            &format!("/delivery/v2.6/requests?notificationRequestId={id}"),
            Some(KEY),
            None,
        )
        .await;
    }
    // Retries the send with a new token: a second notification.
    assert_eq!(send(&m, "PROT-5001", "token-2").await.0, 202);
    // Reads a stream twice at once (429), and again at once after the 429.
    let events = timeline_stream_events(&m).await;
    m.call("GET", &events, Some(KEY), None).await;
    assert_eq!(m.call("GET", &events, Some(KEY), None).await.0, 429);
    m.call("GET", &events, Some(KEY), None).await;
    // Acknowledges events it never received.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let skip = format!("{events}?lastEventId={:038}", 999);
    m.call("GET", &skip, Some(KEY), None).await;

    let r = report(&m).await;
    for check in CHECKS {
        assert!(!behaviour(&r, check), "{check} should be flagged: {r:#}");
    }
    let text = m
        .http
        .get(format!("{}/mock/conformance?format=text", m.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("FAIL retries idempotent"), "{text}");
    assert!(text.contains("FAIL backoff after 429"), "{text}");
}

/// Creates a TIMELINE stream; returns the path of its events.
async fn timeline_stream_events(m: &crate::support::Mock) -> String {
    let (_, _, st) = m
        .call(
            "POST",
            STREAMS,
            Some(KEY),
            Some(json!({ "title": "x", "eventType": "TIMELINE", "groups": [] })),
        )
        .await;
    format!("{STREAMS}/{}/events", st["streamId"].as_str().unwrap())
}

#[tokio::test]
async fn a_compliant_client_is_flagged_on_none() {
    let m = start(52, true).await;
    let events = timeline_stream_events(&m).await;
    let (s, body) = send(&m, "PROT-5101", "token-1").await;
    assert_eq!(s, 202);
    let id = body["notificationRequestId"].as_str().unwrap().to_string();
    // Polls as told.
    loop {
        let (_, _, st) = m.request_status(&id).await;
        if st["notificationRequestStatus"] != "WAITING" {
            break;
        }
        let wait = st["retryAfter"].as_u64().unwrap();
        m.advance(wait as i64).await;
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
    // A retry of the same send carries the same token: 409, nothing duplicated.
    assert_eq!(send(&m, "PROT-5101", "token-1").await.0, 409);
    m.advance(10 * 86_400).await;
    // Reads the stream with lastEventId, waiting retry-after each time.
    let mut last: Option<String> = None;
    for _ in 0..3 {
        let path = match &last {
            Some(l) => format!("{events}?lastEventId={l}"),
            None => events.clone(),
        };
        let (s, h, got) = m.call("GET", &path, Some(KEY), None).await;
        assert_eq!(s, 200);
        if let Some(e) = got.as_array().unwrap().last() {
            last = Some(e["eventId"].as_str().unwrap().to_string());
        }
        let wait: u64 = h["retry-after"].parse().unwrap();
        tokio::time::sleep(Duration::from_millis(wait + 20)).await;
    }
    let r = report(&m).await;
    for check in CHECKS {
        assert!(behaviour(&r, check), "{check} should pass: {r:#}");
    }
    let invio03 = &r["checklists"][2];
    assert_eq!(invio03["id"], "TC-INVIO-03");
    assert_eq!(invio03["passed"], true, "{invio03:#}");
}
