//! Event streams: creation and limits, events in id order from the stream's creation on,
//! at most 50 a call, `retry-after` and 429, filters, groups, replacement, v2.3.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const STREAMS: &str = "/delivery-progresses/v2.9/streams";

async fn create(m: &Mock, base: &str, body: Value) -> (u16, Value) {
    let (s, _, v) = m.call("POST", base, Some(KEY), Some(body)).await;
    if s == 200 {
        check(base, "post", s, &v);
    }
    (s, v)
}

async fn new_stream(m: &Mock, body: Value) -> String {
    let (s, v) = create(m, STREAMS, body).await;
    assert_eq!(s, 200, "{v:#}");
    v["streamId"].as_str().unwrap().to_string()
}

/// Sends a notification and lets it be accepted; returns its IUN.
async fn send(m: &Mock, protocol: &str, pec: Option<&str>, group: Option<&str>) -> String {
    let (s, body) = post_request(m, protocol, "token-1", pec, group).await;
    assert_eq!(s, 202, "{body:#}");
    m.advance(5).await;
    let path =
        format!("/delivery/v2.6/requests?paProtocolNumber={protocol}&idempotenceToken=token-1");
    let (_, _, st) = m.call("GET", &path, Some(KEY), None).await;
    assert_eq!(st["notificationRequestStatus"], "ACCEPTED", "{st:#}");
    st["iun"].as_str().unwrap().to_string()
}

struct Read {
    status: u16,
    retry_after: Option<u64>,
    events: Vec<Value>,
}

async fn read(m: &Mock, base: &str, id: &str, last: Option<&str>) -> Read {
    let path = match last {
        Some(l) => format!("{base}/{id}/events?lastEventId={l}"),
        None => format!("{base}/{id}/events"),
    };
    let (s, h, v) = m.call("GET", &path, Some(KEY), None).await;
    if s == 200 {
        check(&format!("{base}/{{streamId}}/events"), "get", 200, &v);
    }
    Read {
        status: s,
        retry_after: h.get("retry-after").map(|r| r.parse().unwrap()),
        events: v.as_array().cloned().unwrap_or_default(),
    }
}

/// Reads a stream to its end as a compliant client does: `lastEventId` each time, and
/// `retry-after` honoured.
async fn drain(m: &Mock, base: &str, id: &str, mut last: Option<String>) -> (Vec<Value>, Vec<u64>) {
    let mut all = Vec::new();
    let mut waits = Vec::new();
    loop {
        let r = read(m, base, id, last.as_deref()).await;
        assert_eq!(r.status, 200);
        let wait = r.retry_after.expect("retry-after on every read");
        waits.push(wait);
        assert!(r.events.len() <= 50);
        if let Some(e) = r.events.last() {
            last = Some(e["eventId"].as_str().unwrap().to_string());
        }
        all.extend(r.events);
        if wait > 0 {
            return (all, waits);
        }
    }
}

fn ids(events: &[Value]) -> Vec<u128> {
    events
        .iter()
        .map(|e| {
            let t = e["eventId"].as_str().unwrap();
            assert_eq!(t.len(), 38);
            t.parse().unwrap()
        })
        .collect()
}

#[tokio::test]
async fn a_stream_returns_every_element_once_in_id_order_fifty_at_a_time() {
    let m = start(11, true).await;
    let id = new_stream(
        &m,
        json!({ "title": "all", "eventType": "TIMELINE", "groups": [], "filterValues": [] }),
    )
    .await;
    let mut iuns = Vec::new();
    for (k, pec) in [Some("ok@pec.it"), None, None, Some("ok@pec.it")]
        .into_iter()
        .enumerate()
    {
        iuns.push(send(&m, &format!("PROT-000{k}"), pec, None).await);
    }
    m.advance(90 * 86_400).await;
    let (events, waits) = drain(&m, STREAMS, &id, None).await;
    assert!(events.len() > 50, "{} events", events.len());
    assert_eq!(waits[0], 0, "more events were waiting");
    assert_eq!(
        *waits.last().unwrap(),
        300,
        "drained: the configured retry-after"
    );
    let ids = ids(&events);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids strictly increasing"
    );
    // Exactly the notifications' timelines, nothing twice.
    let mut expected = Vec::new();
    for iun in &iuns {
        let (_, _, d) = m
            .call(
                "GET",
                &format!("/delivery/v2.9/notifications/sent/{iun}"),
                Some(KEY),
                None,
            )
            .await;
        for e in d["timeline"].as_array().unwrap() {
            expected.push(e["elementId"].as_str().unwrap().to_string());
        }
    }
    let mut got: Vec<String> = events
        .iter()
        .map(|e| e["element"]["elementId"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    // Polled again at once: too early.
    let early = read(&m, STREAMS, &id, None).await;
    assert_eq!(early.status, 429);
    assert!(early.retry_after.is_some_and(|w| (1..=300).contains(&w)));
    tokio::time::sleep(Duration::from_millis(350)).await;
    let last = events.last().unwrap()["eventId"].as_str().unwrap();
    let later = read(&m, STREAMS, &id, Some(last)).await;
    assert_eq!((later.status, later.events.len()), (200, 0));
}

#[tokio::test]
async fn filters_groups_and_status_streams_select_their_events() {
    let m = start(12, true).await;
    let status = new_stream(
        &m,
        json!({ "title": "s", "eventType": "STATUS", "groups": [], "filterValues": ["DEFAULT"] }),
    )
    .await;
    let some = new_stream(
        &m,
        json!({ "title": "t", "eventType": "TIMELINE", "groups": [],
                "filterValues": ["REQUEST_ACCEPTED", "REFINEMENT"] }),
    )
    .await;
    let grouped = new_stream(
        &m,
        json!({ "title": "g", "eventType": "TIMELINE", "groups": ["ufficio-tributi"], "filterValues": [] }),
    )
    .await;
    send(&m, "PROT-0101", Some("ok@pec.it"), Some("ufficio-tributi")).await;
    send(&m, "PROT-0102", None, None).await;
    m.advance(60 * 86_400).await;

    let (events, _) = drain(&m, STREAMS, &status, None).await;
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| {
            e["newStatus"]
                .as_str()
                .expect("status events carry newStatus")
        })
        .collect();
    assert_eq!(statuses[0], "ACCEPTED", "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == "ACCEPTED").count(), 2);
    assert!(
        statuses.len() > 3 && !statuses.contains(&"IN_VALIDATION"),
        "{statuses:?}"
    );

    let (events, _) = drain(&m, STREAMS, &some, None).await;
    let cats: Vec<&str> = events
        .iter()
        .map(|e| e["element"]["category"].as_str().unwrap())
        .collect();
    assert!(
        cats.iter()
            .all(|c| *c == "REQUEST_ACCEPTED" || *c == "REFINEMENT"),
        "{cats:?}"
    );
    assert_eq!(cats.iter().filter(|c| **c == "REQUEST_ACCEPTED").count(), 2);

    let (events, _) = drain(&m, STREAMS, &grouped, None).await;
    let iuns: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e["iun"].as_str().unwrap()).collect();
    assert_eq!(iuns.len(), 1, "only the group's notification");
}

#[tokio::test]
async fn events_start_at_creation_and_a_replacement_continues_without_gaps() {
    let m = start(13, true).await;
    send(&m, "PROT-0201", Some("ok@pec.it"), None).await;
    m.advance(86_400).await;
    let all = json!({ "title": "a", "eventType": "TIMELINE", "groups": [], "filterValues": [] });
    let a = new_stream(&m, all.clone()).await;
    let first = read(&m, STREAMS, &a, None).await;
    assert_eq!(
        (first.status, first.events.len()),
        (200, 0),
        "nothing before creation"
    );

    send(&m, "PROT-0202", None, None).await;
    m.advance(40 * 86_400).await;
    tokio::time::sleep(Duration::from_millis(350)).await;
    let part = read(&m, STREAMS, &a, None).await;
    assert!(part.events.len() > 3);
    let acked = part.events[2]["eventId"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(350)).await;
    // Acknowledge three events, then replace the stream.
    let r = read(&m, STREAMS, &a, Some(&acked)).await;
    assert_eq!(r.status, 200);
    let mut with_replace = all.clone();
    with_replace["replacedStreamId"] = json!(a);
    let (s, b) = create(&m, STREAMS, with_replace).await;
    assert_eq!(s, 200, "{b:#}");
    let b = b["streamId"].as_str().unwrap().to_string();
    let (_, _, old) = m
        .call("GET", &format!("{STREAMS}/{a}"), Some(KEY), None)
        .await;
    check(&format!("{STREAMS}/{{streamId}}"), "get", 200, &old);
    assert!(
        old["disabledDate"].is_string(),
        "the replaced stream is disabled"
    );
    let (events, _) = drain(&m, STREAMS, &b, None).await;
    let ids_b = ids(&events);
    let acked: u128 = acked.parse().unwrap();
    assert_eq!(
        ids_b[0],
        ids(&part.events)[3],
        "continues after the acknowledged event"
    );
    assert!(ids_b.iter().all(|i| *i > acked));
}

#[tokio::test]
async fn ten_active_streams_per_sender_and_streams_belong_to_their_sender() {
    let m = start(14, true).await;
    let body = json!({ "title": "x", "eventType": "STATUS", "groups": [] });
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(new_stream(&m, body.clone()).await);
    }
    let (s, p) = create(&m, STREAMS, body.clone()).await;
    assert_eq!(s, 409, "{p:#}");
    assert_eq!(p["errors"][0]["code"], "PN_WEBHOOK_MAXSTREAMSCOUNTREACHED");
    let (s, _, v) = m
        .call(
            "POST",
            &format!("{STREAMS}/{}/action/disable", ids[0]),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(s, 200);
    check(
        &format!("{STREAMS}/{{streamId}}/action/disable"),
        "post",
        200,
        &v,
    );
    assert_eq!(create(&m, STREAMS, body.clone()).await.0, 200);

    let (s, _, list) = m.call("GET", STREAMS, Some(KEY), None).await;
    assert_eq!(s, 200);
    check(STREAMS, "get", 200, &list);
    assert_eq!(list.as_array().unwrap().len(), 11);
    let (s, _, v) = m
        .call(
            "PUT",
            &format!("{STREAMS}/{}", ids[1]),
            Some(KEY),
            Some(json!({ "title": "renamed", "eventType": "TIMELINE", "groups": [] })),
        )
        .await;
    assert_eq!((s, v["title"].as_str()), (200, Some("renamed")));
    check(&format!("{STREAMS}/{{streamId}}"), "put", 200, &v);

    let other = m
        .call(
            "GET",
            &format!("{STREAMS}/{}", ids[1]),
            Some(OTHER_KEY),
            None,
        )
        .await;
    assert_eq!(other.0, 404, "another sender's stream is not found");
    let nokey = m
        .call("GET", &format!("{STREAMS}/{}", ids[1]), None, None)
        .await;
    assert_eq!(nokey.0, 403);
    let (s, _, _) = m
        .call("DELETE", &format!("{STREAMS}/{}", ids[1]), Some(KEY), None)
        .await;
    assert_eq!(s, 204);
    let gone = m
        .call("GET", &format!("{STREAMS}/{}", ids[1]), Some(KEY), None)
        .await;
    assert_eq!(gone.0, 404);
}

#[tokio::test]
async fn version_2_3_streams_follow_their_schemas() {
    let m = start(15, true).await;
    let base = "/delivery-progresses/v2.3/streams";
    let (s, v) = create(
        &m,
        base,
        json!({ "title": "old", "eventType": "TIMELINE", "groups": [], "filterValues": [] }),
    )
    .await;
    assert_eq!(s, 200, "{v:#}");
    let id = v["streamId"].as_str().unwrap().to_string();
    send(&m, "PROT-0301", None, None).await;
    m.advance(60 * 86_400).await;
    let (events, _) = drain(&m, base, &id, None).await;
    assert!(events.len() > 5);
}

#[tokio::test]
async fn events_are_kept_seven_simulated_days_after_they_enter_the_stream() {
    let m = start(16, true).await;
    let all = json!({ "title": "r", "eventType": "TIMELINE", "groups": [], "filterValues": [] });
    let early = new_stream(&m, all.clone()).await;
    let late = new_stream(&m, all).await;
    send(&m, "PROT-0401", None, None).await;
    m.advance(2 * 86_400).await;
    // The early reader's call brings the first two days' elements into the log.
    let (seen, _) = drain(&m, STREAMS, &early, None).await;
    assert!(!seen.is_empty());
    m.advance(8 * 86_400).await;
    let (kept, _) = drain(&m, STREAMS, &late, None).await;
    let first_ids: std::collections::BTreeSet<&str> = seen
        .iter()
        .map(|e| e["eventId"].as_str().unwrap())
        .collect();
    assert!(
        kept.iter()
            .all(|e| !first_ids.contains(e["eventId"].as_str().unwrap())),
        "events logged more than 7 days ago are gone"
    );
    assert!(!kept.is_empty(), "later events are still there");
}

#[tokio::test]
async fn versions_2_4_to_2_8_follow_their_schemas() {
    let m = start(19, true).await;
    let mut streams = Vec::new();
    for v in ["v2.4", "v2.5", "v2.6", "v2.7", "v2.8"] {
        let base = format!("/delivery-progresses/{v}/streams");
        let (s, meta) = create(
            &m,
            &base,
            json!({ "title": v, "eventType": "TIMELINE", "groups": [], "filterValues": [] }),
        )
        .await;
        assert_eq!(s, 200, "{v}: {meta:#}");
        let id = meta["streamId"].as_str().unwrap().to_string();
        let (s, _, got) = m
            .call("GET", &format!("{base}/{id}"), Some(KEY), None)
            .await;
        assert_eq!(s, 200);
        check(&format!("{base}/{{streamId}}"), "get", 200, &got);
        let (s, _, list) = m.call("GET", &base, Some(KEY), None).await;
        assert_eq!(s, 200);
        check(&base, "get", 200, &list);
        streams.push((v, base, id));
    }
    send(&m, "PROT-0501", None, None).await;
    m.advance(60 * 86_400).await;
    for (v, base, id) in &streams {
        let (events, _) = drain(&m, base, id, None).await;
        assert!(events.len() > 5, "{v}: {}", events.len());
        check(
            &format!("{base}/{{streamId}}/events"),
            "get",
            200,
            &Value::Array(events),
        );
    }
}

#[tokio::test]
async fn the_first_stream_api_gives_flat_events_in_its_schema() {
    let m = start(20, true).await;
    let base = "/delivery-progresses/streams";
    let (s, meta) = create(&m, base, json!({ "title": "v1", "eventType": "TIMELINE" })).await;
    assert_eq!(s, 200, "{meta:#}");
    let id = meta["streamId"].as_str().unwrap().to_string();
    let (s, _, got) = m
        .call("GET", &format!("{base}/{id}"), Some(KEY), None)
        .await;
    assert_eq!(s, 200);
    check("/delivery-progresses/streams/{streamId}", "get", 200, &got);
    send(&m, "PROT-0601", None, None).await;
    m.advance(60 * 86_400).await;
    let (events, _) = drain(&m, base, &id, None).await;
    assert!(events.len() > 5, "{}", events.len());
    check(
        "/delivery-progresses/streams/{streamId}/events",
        "get",
        200,
        &Value::Array(events.clone()),
    );
    let categories: Vec<&str> = events
        .iter()
        .map(|e| e["timelineEventCategory"].as_str().unwrap())
        .collect();
    assert!(
        categories.contains(&"REQUEST_ACCEPTED") && categories.contains(&"REFINEMENT"),
        "{categories:?}"
    );
    assert!(
        events.iter().all(|e| e.get("element").is_none()),
        "flat, without the element"
    );
    assert!(
        events.iter().any(|e| e["channel"].is_string()),
        "letters and messages carry their channel"
    );
    assert!(events.iter().any(|e| e["recipientIndex"] == 0));
    // No disable action in the first API.
    let (s, _, _) = m
        .call(
            "POST",
            &format!("{base}/{id}/action/disable"),
            Some(KEY),
            None,
        )
        .await;
    assert!(s == 404 || s == 405, "{s}");
}
