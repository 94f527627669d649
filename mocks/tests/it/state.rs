//! `sendmock serve --state FILE`: a mock killed (SIGKILL) and started again with the
//! same file keeps what its last snapshot held: notifications, uploads, streams and
//! their cursors, provider requests, and the clock.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{cf, recipient, request};

const KEY: &str = "sendmock-key";

struct Remote {
    url: String,
    http: reqwest::Client,
    child: Child,
}

impl Drop for Remote {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(state: &Path, addr_file: &Path) -> Remote {
    let _ = std::fs::remove_file(addr_file);
    let child = Command::new(env!("CARGO_BIN_EXE_sendmock"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-rate-limit",
            "--time-scale",
            "1",
            "--seed",
            "5",
        ])
        .args(["--validation-seconds", "0.5", "--state-every", "0.2"])
        .arg("--state")
        .arg(state)
        .arg("--addr-file")
        .arg(addr_file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sendmock starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = loop {
        match std::fs::read_to_string(addr_file) {
            Ok(u) if !u.is_empty() => break u,
            _ => {}
        }
        assert!(Instant::now() < deadline, "sendmock did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    Remote {
        url,
        http: reqwest::Client::new(),
        child,
    }
}

impl Remote {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .header("x-api-key", KEY);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn upload(&self, content: &[u8]) -> Value {
        crate::support::upload_pdf_to(&self.http, &self.url, KEY, content).await
    }

    /// Uploads `document` and sends a notification to one recipient without a PEC.
    async fn send(
        &self,
        document: &[u8],
        protocol: &str,
        cf15: &str,
        address: &str,
        notice: &str,
    ) -> (u16, Value) {
        let doc = self.upload(document).await;
        let req = request(
            protocol,
            &doc,
            vec![recipient(&cf(cf15), address, None, notice)],
        );
        self.call("POST", "/delivery/v2.6/requests", Some(req), &[])
            .await
    }

    async fn tick(&self) -> i64 {
        self.call("GET", "/mock/clock", None, &[]).await.1["tick"]
            .as_i64()
            .unwrap()
    }

    async fn advance(&self, seconds: i64) {
        let (s, _) = self
            .call(
                "POST",
                "/mock/clock",
                Some(json!({ "advanceSeconds": seconds })),
                &[],
            )
            .await;
        assert_eq!(s, 200);
    }
}

fn ids(detail: &Value) -> Vec<String> {
    detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["elementId"].as_str().unwrap().to_string())
        .collect()
}

/// Waits for a snapshot written after now.
fn wait_for_snapshot(path: &PathBuf) {
    let start = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        if now.is_some() && now != start {
            // One more interval, so the snapshot holds everything done before the wait.
            std::thread::sleep(Duration::from_millis(500));
            return;
        }
        assert!(Instant::now() < deadline, "no snapshot written");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_mock_restarts_with_what_it_had_saved() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let addr = dir.path().join("addr");
    let before = serve(&state, &addr);

    // A notification, a stream read once, a provider request.
    let (s, sent) = before
        .send(
            b"%PDF-1.4 state",
            "STATE-1",
            "RSSMRA80A01H501",
            "via Roma 1 @OK-Giacenza_AR",
            "302000100000019601",
        )
        .await;
    assert_eq!(s, 202, "{sent}");
    let request_id = sent["notificationRequestId"].as_str().unwrap().to_string();
    let (s, stream) = before
        .call(
            "POST",
            "/delivery-progresses/v2.9/streams",
            Some(
                json!({ "title": "s", "eventType": "TIMELINE", "groups": [], "filterValues": [] }),
            ),
            &[],
        )
        .await;
    assert_eq!(s, 200, "{stream}");
    let stream_id = stream["streamId"].as_str().unwrap().to_string();
    before.advance(5 * 86_400).await;
    let (_, st) = before
        .call(
            "GET",
            &format!("/delivery/v2.6/requests?notificationRequestId={request_id}"),
            None,
            &[],
        )
        .await;
    let iun = st["iun"].as_str().unwrap().to_string();
    let events_path = format!("/delivery-progresses/v2.9/streams/{stream_id}/events");
    let (s, first) = before.call("GET", &events_path, None, &[]).await;
    assert_eq!(s, 200);
    let first = first.as_array().unwrap().clone();
    assert!(!first.is_empty());
    let last_id = first.last().unwrap()["eventId"]
        .as_str()
        .unwrap()
        .to_string();
    let pec = json!({
        "requestId": "r", "eventType": "LEGAL", "qos": "INTERACTIVE",
        "clientRequestTimeStamp": "2026-03-02T08:00:00Z", "channel": "PEC",
        "receiverDigitalAddress": "mario@ok.pec.it @ok", "messageText": "m",
        "subjectText": "s", "messageContentType": "text/plain",
    });
    let legal = "/external-channels/v1/digital-deliveries/legal-full-message-requests/STATE-PEC-1";
    let cx = [("x-pagopa-extch-cx-id", "pn-delivery-push")];
    let (s, _) = before.call("PUT", legal, Some(pec), &cx).await;
    assert_eq!(s, 204);
    let (_, detail_before) = before
        .call(
            "GET",
            &format!("/delivery/v2.9/notifications/sent/{iun}"),
            None,
            &[],
        )
        .await;
    let tick_before = before.tick().await;
    wait_for_snapshot(&state);

    // Killed without a chance to save; started again on the same file.
    drop(before);
    let after = serve(&state, &addr);
    assert!(after.tick().await >= tick_before, "the clock resumes");
    let (s, detail_after) = after
        .call(
            "GET",
            &format!("/delivery/v2.9/notifications/sent/{iun}"),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 200, "{detail_after}");
    let (a, b) = (ids(&detail_before), ids(&detail_after));
    assert_eq!(
        &b[..a.len()],
        &a[..],
        "the timeline goes on from where it was"
    );
    assert_eq!(detail_after["recipients"], detail_before["recipients"]);
    let (s, _) = after
        .call(
            "GET",
            &format!("/delivery/v2.6/requests?notificationRequestId={request_id}"),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 200);
    // The stream goes on after the last event read, with no event twice.
    let (s, meta) = after
        .call(
            "GET",
            &format!("/delivery-progresses/v2.9/streams/{stream_id}"),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 200, "{meta}");
    // The provider request too (its forced script takes 20 s).
    after.advance(60).await;
    let (s, pec_state) = after.call("GET", legal, None, &cx).await;
    assert_eq!(
        (s, pec_state["eventCode"].as_str()),
        (200, Some("C003")),
        "{pec_state}"
    );
    // A new notification gets a new IUN (the id counter resumed).
    let (s, sent2) = after
        .send(
            b"%PDF-1.4 state 2",
            "STATE-2",
            "VRDLGU70B02H501",
            "via Verdi 2",
            "302000100000019602",
        )
        .await;
    assert_eq!(s, 202, "{sent2}");
    assert_ne!(
        sent2["notificationRequestId"],
        sent["notificationRequestId"]
    );
    // The stream goes on after the last event read before the kill: the new
    // notification's events follow, with later ids (none given twice).
    after.advance(5 * 86_400).await;
    let (s, next) = after
        .call(
            "GET",
            &format!("{events_path}?lastEventId={last_id}"),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 200, "{next}");
    let next = next.as_array().unwrap();
    assert!(!next.is_empty(), "later events are there");
    assert!(
        next.iter()
            .all(|e| e["eventId"].as_str().unwrap() > last_id.as_str())
    );
    assert!(
        next.iter()
            .any(|e| e["notificationRequestId"] == sent2["notificationRequestId"])
    );
}

#[test]
fn a_damaged_state_file_stops_the_start_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("broken.json");
    std::fs::write(&state, b"{ not json").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sendmock"))
        .args(["serve", "--listen", "127.0.0.1:0", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.json") && err.contains("not a sendmock state file"),
        "{err}"
    );
}
