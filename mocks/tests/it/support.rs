use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Utc};
use mocks::clock::SimClock;
use mocks::server::{self, App, Config};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const KEY: &str = "key-a";
pub const SENDER: &str = "80016350821";
pub const OTHER_KEY: &str = "key-b";
pub const OTHER_SENDER: &str = "00000000000";

/// A running mock: its app (for checks against the model) and base URL. The server
/// stops when the test's runtime ends.
pub struct Mock {
    pub app: Arc<App>,
    pub url: String,
    pub http: reqwest::Client,
}

pub fn epoch() -> DateTime<Utc> {
    "2026-03-02T08:00:00Z".parse().unwrap()
}

/// Starts a mock whose clock runs in real time (scale 1), so tests move it with the
/// admin API.
pub async fn start(seed: u64, gpd_open: bool) -> Mock {
    start_with(seed, gpd_open, HashMap::new()).await
}

/// As `start`, holding at most `cap` notifications in full.
pub async fn start_capped(seed: u64, cap: usize) -> Mock {
    start_full(seed, true, HashMap::new(), Some(cap)).await
}

/// As `start`, pushing the consolidator's events to `push_url`.
pub async fn start_pushing(seed: u64, push_url: &str) -> Mock {
    start_config(Config {
        push: Some(mocks::channels::consolidator::PushTarget {
            url: push_url.to_string(),
            api_key: "ingress-key".into(),
        }),
        ..test_config(seed, true, HashMap::new(), None)
    })
    .await
}

/// As `start`, with the gateway's usage plans per key.
pub async fn start_with(
    seed: u64,
    gpd_open: bool,
    plans: HashMap<String, mocks::gateway::UsagePlan>,
) -> Mock {
    start_full(seed, gpd_open, plans, None).await
}

async fn start_full(
    seed: u64,
    gpd_open: bool,
    plans: HashMap<String, mocks::gateway::UsagePlan>,
    max_notifications: Option<usize>,
) -> Mock {
    start_config(test_config(seed, gpd_open, plans, max_notifications)).await
}

fn test_config(
    seed: u64,
    gpd_open: bool,
    plans: HashMap<String, mocks::gateway::UsagePlan>,
    max_notifications: Option<usize>,
) -> Config {
    Config {
        keys: HashMap::from([
            (KEY.into(), SENDER.into()),
            (OTHER_KEY.into(), OTHER_SENDER.into()),
        ]),
        validation_seconds: 2.0,
        legal_fact_seconds: 30.0,
        gpd_open,
        seed,
        stream_retry_after_ms: 300,
        // Off unless asked for, as for a load test.
        plans,
        faults: Default::default(),
        max_notifications,
        ..Default::default()
    }
}

/// As `start`, sending the notifications' PEC messages and letters through the External
/// Channel at `channel` (the mock's own when `None`).
/// `sets` override the default scenario (`--set` syntax).
pub async fn start_through_channel(seed: u64, channel: Option<String>, sets: &[&str]) -> Mock {
    let (listener, url) = server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let config = Config {
        external_channel: Some(channel.unwrap_or_else(|| url.clone())),
        ..test_config(seed, true, HashMap::new(), None)
    };
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let scenario = sim::Scenario::compose(None, &sets).unwrap();
    serve_scenario(listener, url, config, scenario)
}

async fn start_config(config: Config) -> Mock {
    let (listener, url) = server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    serve_on(listener, url, config)
}

fn serve_on(listener: tokio::net::TcpListener, url: String, config: Config) -> Mock {
    serve_scenario(listener, url, config, sim::Scenario::builtin_default())
}

fn serve_scenario(
    listener: tokio::net::TcpListener,
    url: String,
    config: Config,
    scenario: sim::Scenario,
) -> Mock {
    let app =
        Arc::new(App::new(scenario, SimClock::new(epoch(), 1.0), config, url.clone()).unwrap());
    tokio::spawn(server::run(listener, app.clone(), std::future::pending()));
    Mock {
        app,
        url,
        http: reqwest::Client::new(),
    }
}

impl Mock {
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, HashMap<String, String>, Value) {
        let url = format!("{}{path}", self.url);
        let mut req = self.http.request(method.parse().unwrap(), &url);
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let bytes = resp.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, body)
    }

    /// The v2.6 request status of `id`, with the default key.
    pub async fn request_status(&self, id: &str) -> (u16, HashMap<String, String>, Value) {
        let path = format!("/delivery/v2.6/requests?notificationRequestId={id}");
        self.call("GET", &path, Some(KEY), None).await
    }

    pub async fn advance(&self, seconds: i64) {
        let (s, _, _) = self
            .call(
                "POST",
                "/mock/clock",
                None,
                Some(json!({ "advanceSeconds": seconds })),
            )
            .await;
        assert_eq!(s, 200);
    }

    /// Preloads and uploads a PDF; returns the document reference for a request.
    pub async fn upload_pdf(&self, content: &[u8]) -> Value {
        upload_pdf_to(&self.http, &self.url, KEY, content).await
    }

    /// Uploads a document named after `protocol` and sends a notification of it to
    /// `recipients`; returns the status and the body of the answer.
    pub async fn send_to(&self, protocol: &str, recipients: Vec<Value>) -> (u16, Value) {
        let doc = self
            .upload_pdf(format!("%PDF-1.4 {protocol}").as_bytes())
            .await;
        let (s, _, body) = self
            .call(
                "POST",
                "/delivery/v2.6/requests",
                Some(KEY),
                Some(request(protocol, &doc, recipients)),
            )
            .await;
        (s, body)
    }
}

/// Preloads and uploads a PDF to the mock at `url` with `key`; returns the document
/// reference for a request.
pub async fn upload_pdf_to(http: &reqwest::Client, url: &str, key: &str, content: &[u8]) -> Value {
    let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(content));
    let resp = http
        .post(format!("{url}/delivery/attachments/preload"))
        .header("x-api-key", key)
        .json(&json!([{ "preloadIdx": "0", "contentType": "application/pdf", "sha256": sha }]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    let slot = &body[0];
    assert_eq!(slot["httpMethod"], "PUT");
    let resp = http
        .put(slot["url"].as_str().unwrap())
        .header("content-type", "application/pdf")
        .header("x-amz-meta-secret", slot["secret"].as_str().unwrap())
        .header("x-amz-checksum-sha256", &sha)
        .body(content.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let version = resp.headers()["x-amz-version-id"]
        .to_str()
        .unwrap()
        .to_string();
    json!({
        "digests": { "sha256": sha },
        "contentType": "application/pdf",
        "ref": { "key": slot["key"], "versionToken": version },
        "title": "Atto",
        "docIdx": "0"
    })
}

/// A codice fiscale with a correct check character.
pub fn cf(first15: &str) -> String {
    format!(
        "{first15}{}",
        mocks::request::cf_check_char(first15).unwrap()
    )
}

pub fn recipient(tax_id: &str, address: &str, pec: Option<&str>, notice: &str) -> Value {
    let mut r = json!({
        "recipientType": "PF",
        "taxId": tax_id,
        "denomination": "Mario Rossi",
        "physicalAddress": { "address": address, "zip": "00118", "municipality": "Roma", "province": "RM" },
        "payments": [{ "pagoPa": { "noticeCode": notice, "creditorTaxId": SENDER, "applyCost": true } }]
    });
    if let Some(p) = pec {
        r["digitalDomicile"] = json!({ "type": "PEC", "address": p });
    }
    r
}

pub fn request(protocol: &str, document: &Value, recipients: Vec<Value>) -> Value {
    json!({
        "paProtocolNumber": protocol,
        "idempotenceToken": "token-1",
        "subject": "Verbale di accertamento",
        "recipients": recipients,
        "documents": [document],
        "physicalCommunicationType": "REGISTERED_LETTER_890",
        "notificationFeePolicy": "DELIVERY_MODE",
        "paFee": 100,
        "vat": 22,
        "senderDenomination": "Comune di Prova",
        "senderTaxId": SENDER,
        "taxonomyCode": "010202N",
        "pagoPaIntMode": "SYNC"
    })
}

/// Asserts a response matches the bundle's schema for it.
pub fn check(path: &str, method: &str, status: u16, body: &Value) {
    let errors = mocks::spec::Spec::embedded().check_response(path, method, status, body);
    assert!(
        errors.is_empty(),
        "{method} {path} {status} does not match the bundle: {errors:#?}\n{body:#}"
    );
}

/// Uploads a document and sends one notification to one recipient (with a PEC if
/// given, in a group if given); returns the status and the body of the answer.
pub async fn post_request(
    m: &Mock,
    protocol: &str,
    token: &str,
    pec: Option<&str>,
    group: Option<&str>,
) -> (u16, Value) {
    let doc = m
        .upload_pdf(format!("%PDF-1.4 {protocol} {token}").as_bytes())
        .await;
    let mut req = request(
        protocol,
        &doc,
        vec![recipient(
            &cf("RSSMRA80A01H501"),
            "Via Roma 1",
            pec,
            &format!("30200000000000{}", &protocol[protocol.len() - 4..]),
        )],
    );
    req["idempotenceToken"] = json!(token);
    if let Some(g) = group {
        req["group"] = json!(g);
    }
    let (s, _, body) = m
        .call("POST", "/delivery/v2.6/requests", Some(KEY), Some(req))
        .await;
    (s, body)
}
