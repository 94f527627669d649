//! Flows that behave like a real integration: the send flow (preload → upload with
//! sha256 → send → poll the request status honouring `retryAfter` → detail → legal facts
//! honouring `retryAfter` → price), a read flow, and the raw `get` flow; request
//! bodies generated from templates, deterministic under a seed.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sim::prices::PaperPriceList;
use sim::rng::SplitMix64;

use super::measure::{Measurements, Outcome, STREAM_OUTCOME};

/// What one flow instance needs.
pub struct FlowContext<'a> {
    pub client: &'a reqwest::Client,
    pub base: &'a str,
    pub api_key: &'a str,
    pub sender_tax_id: &'a str,
    pub headers: &'a [(String, String)],
    pub deadline: Instant,
    pub max_polls: u32,
    pub run_start: Instant,
    pub interval_secs: f64,
    /// Outcomes read from an event stream, when send flows wait for them there
    /// instead of polling.
    pub acceptances: Option<&'a super::acceptance::Acceptances>,
}

/// Records a flow's requests; the first is timed from the flow's intended start.
pub struct FlowRecorder {
    pub m: Measurements,
    pub requests: u64,
    pub errors: u64,
    first_from: Option<Instant>,
}

impl FlowRecorder {
    pub fn new(interval_secs: f64, intended: Option<Instant>) -> FlowRecorder {
        FlowRecorder {
            m: Measurements::new(interval_secs),
            requests: 0,
            errors: 0,
            first_from: intended,
        }
    }

    fn record(&mut self, ctx: &FlowContext, op: &str, sent: Instant, outcome: Outcome) {
        let from = self.first_from.take().unwrap_or(sent);
        let micros = from.elapsed().as_micros() as u64;
        let interval = (from.saturating_duration_since(ctx.run_start).as_secs_f64()
            / ctx.interval_secs) as u64;
        self.m.record(op, outcome.class(), interval, micros);
        if !super::measure::is_request(op) {
            return;
        }
        self.requests += 1;
        if super::measure::is_error_class(outcome.class()) {
            self.errors += 1;
        }
    }
}

fn outcome_of(e: &reqwest::Error) -> Outcome {
    if e.is_timeout() {
        Outcome::Timeout
    } else if e.is_connect() {
        Outcome::Connect
    } else {
        Outcome::OtherError
    }
}

/// One request: returns the status, headers and JSON body (if any).
pub(super) async fn call(
    ctx: &FlowContext<'_>,
    rec: &mut FlowRecorder,
    op: &str,
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
) -> Option<(u16, reqwest::header::HeaderMap, Value)> {
    let mut req = ctx
        .client
        .request(method, url)
        .header("x-api-key", ctx.api_key);
    for (k, v) in ctx.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let sent = Instant::now();
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let bytes = resp.bytes().await.unwrap_or_default();
            rec.record(ctx, op, sent, Outcome::Status(status));
            Some((
                status,
                headers,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            ))
        }
        Err(e) => {
            rec.record(ctx, op, sent, outcome_of(&e));
            None
        }
    }
}

/// A stream read's `retry-after` header (milliseconds); a second when absent.
pub(super) fn retry_after_ms(headers: &reqwest::header::HeaderMap) -> f64 {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000.0)
}

/// Sleeps for a server-requested `retryAfter` (seconds), within the deadline.
pub(super) async fn wait_retry_after(ctx: &FlowContext<'_>, seconds: f64) -> bool {
    let wait = Duration::from_secs_f64(seconds.clamp(0.0, 3600.0));
    if Instant::now() + wait > ctx.deadline {
        return false;
    }
    tokio::time::sleep(wait).await;
    true
}

/// A valid codice fiscale or partita IVA.
fn tax_id(rng: &mut SplitMix64, company: bool) -> String {
    let digit = |rng: &mut SplitMix64| (b'0' + (rng.advance() % 10) as u8) as char;
    let letter = |rng: &mut SplitMix64| (b'A' + (rng.advance() % 26) as u8) as char;
    if company {
        let mut d: Vec<u32> = (0..10).map(|_| (rng.advance() % 10) as u32).collect();
        let sum: u32 = d
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if i % 2 == 0 {
                    *v
                } else if v * 2 > 9 {
                    v * 2 - 9
                } else {
                    v * 2
                }
            })
            .sum();
        d.push((10 - sum % 10) % 10);
        return d
            .iter()
            .map(|v| char::from_digit(*v, 10).expect("digit"))
            .collect();
    }
    let mut s = String::new();
    for _ in 0..6 {
        s.push(letter(rng));
    }
    s.push(digit(rng));
    s.push(digit(rng));
    s.push(letter(rng));
    s.push(digit(rng));
    s.push(digit(rng));
    s.push(letter(rng));
    for _ in 0..3 {
        s.push(digit(rng));
    }
    s.push(crate::request::cf_check_char(&s).expect("15 characters"));
    s
}

/// A notification request from the template, varied by `rng`.
pub fn request_body(
    rng: &mut SplitMix64,
    protocol: &str,
    sender: &str,
    doc: &Value,
    notice_base: u64,
) -> Value {
    let caps = &PaperPriceList::embedded().geo.caps;
    let recipients = if rng.advance() % 10 == 0 { 2 } else { 1 };
    let recs: Vec<Value> = (0..recipients)
        .map(|k| {
            let company = rng.advance() % 100 < 15;
            let cap = &caps[(rng.advance() % caps.len() as u64) as usize];
            let mut r = json!({
                "recipientType": if company { "PG" } else { "PF" },
                "taxId": tax_id(rng, company),
                "denomination": if company { "Impresa di Prova srl" } else { "Maria Bianchi" },
                "physicalAddress": { "address": format!("via delle Prove {}", 1 + rng.advance() % 200), "zip": cap, "municipality": "Comune", "province": "RM" },
                "payments": [{ "pagoPa": {
                    "noticeCode": format!("{:018}", (notice_base * 4 + k) % 1_000_000_000_000_000_000),
                    "creditorTaxId": sender,
                    "applyCost": true
                } }]
            });
            if rng.advance() % 10 == 0 {
                r["digitalDomicile"] = json!({ "type": "PEC", "address": format!("destinatario{}@pec.example.it", rng.advance() % 100_000) });
            }
            r
        })
        .collect();
    json!({
        "paProtocolNumber": protocol,
        "idempotenceToken": "load",
        "subject": "Avviso di accertamento",
        "recipients": recs,
        "documents": [doc],
        "physicalCommunicationType": if rng.advance() % 2 == 0 { "AR_REGISTERED_LETTER" } else { "REGISTERED_LETTER_890" },
        "notificationFeePolicy": "DELIVERY_MODE",
        "paFee": 100,
        "vat": 22,
        "senderDenomination": "Ente di prova",
        "senderTaxId": sender,
        "taxonomyCode": "010202N",
        "pagoPaIntMode": "SYNC"
    })
}

/// A PDF-like document of a few pages.
fn document(rng: &mut SplitMix64, protocol: &str) -> Vec<u8> {
    let pages = 1 + rng.advance() % 8;
    let mut doc = format!("%PDF-1.4\n% {protocol}\n").into_bytes();
    for p in 0..pages {
        doc.extend_from_slice(format!("% page {p} {}\n", "x".repeat(1500)).as_bytes());
    }
    doc.extend_from_slice(b"%%EOF\n");
    doc
}

/// The send flow. Returns the IUN when the notification was accepted.
pub async fn send_flow(
    ctx: &FlowContext<'_>,
    rec: &mut FlowRecorder,
    rng: &mut SplitMix64,
    protocol: &str,
    notice_base: u64,
) -> Option<String> {
    let content = document(rng, protocol);
    let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&content));
    let preload = json!([{ "preloadIdx": "0", "contentType": "application/pdf", "sha256": sha }]);
    let (s, _, slots) = call(
        ctx,
        rec,
        "preload",
        reqwest::Method::POST,
        &format!("{}/delivery/attachments/preload", ctx.base),
        Some(&preload),
    )
    .await?;
    if s != 200 {
        return None;
    }
    let slot = slots.get(0)?;
    let url = slot["url"].as_str()?;
    let method = if slot["httpMethod"] == "POST" {
        reqwest::Method::POST
    } else {
        reqwest::Method::PUT
    };
    let sent = Instant::now();
    let upload = ctx
        .client
        .request(method, url)
        .header("content-type", "application/pdf")
        .header(
            "x-amz-meta-secret",
            slot["secret"].as_str().unwrap_or_default(),
        )
        .header("x-amz-checksum-sha256", &sha)
        .body(content)
        .send()
        .await;
    let version = match upload {
        Ok(r) => {
            rec.record(ctx, "upload", sent, Outcome::Status(r.status().as_u16()));
            if !r.status().is_success() {
                return None;
            }
            r.headers()
                .get("x-amz-version-id")?
                .to_str()
                .ok()?
                .to_string()
        }
        Err(e) => {
            rec.record(ctx, "upload", sent, outcome_of(&e));
            return None;
        }
    };
    let doc = json!({
        "digests": { "sha256": sha },
        "contentType": "application/pdf",
        "ref": { "key": slot["key"], "versionToken": version },
        "title": "Atto",
        "docIdx": "0"
    });
    let body = request_body(rng, protocol, ctx.sender_tax_id, &doc, notice_base);
    let (s, _, sent_resp) = call(
        ctx,
        rec,
        "send",
        reqwest::Method::POST,
        &format!("{}/delivery/v2.6/requests", ctx.base),
        Some(&body),
    )
    .await?;
    if s != 202 {
        return None;
    }
    let id = sent_resp["notificationRequestId"].as_str()?.to_string();
    let mut iun = None;
    if let Some(acceptances) = ctx.acceptances {
        let answered = Instant::now();
        let limit = ctx.deadline.saturating_duration_since(answered);
        match acceptances.wait(&id, limit).await {
            Some(outcome) => {
                rec.record(ctx, STREAM_OUTCOME, answered, Outcome::Status(200));
                iun = Some(outcome?);
            }
            None => {
                rec.record(ctx, STREAM_OUTCOME, answered, Outcome::Timeout);
                return None;
            }
        }
    }
    for _ in 0..ctx.max_polls * u32::from(iun.is_none()) {
        let url = format!(
            "{}/delivery/v2.6/requests?notificationRequestId={id}",
            ctx.base
        );
        let (s, _, st) = call(ctx, rec, "request_status", reqwest::Method::GET, &url, None).await?;
        if s != 200 {
            return None;
        }
        match st["notificationRequestStatus"].as_str() {
            Some("ACCEPTED") => {
                iun = st["iun"].as_str().map(str::to_string);
                break;
            }
            Some("REFUSED") => return None,
            _ => {
                let retry = st["retryAfter"].as_f64().unwrap_or(1.0);
                if !wait_retry_after(ctx, retry).await {
                    return None;
                }
            }
        }
    }
    let iun = iun?;
    read_flow(ctx, rec, &iun, &body).await;
    Some(iun)
}

/// Detail, legal facts (honouring `retryAfter` once) and price of an accepted notification.
pub async fn read_flow(ctx: &FlowContext<'_>, rec: &mut FlowRecorder, iun: &str, body: &Value) {
    let base = ctx.base;
    call(
        ctx,
        rec,
        "detail",
        reqwest::Method::GET,
        &format!("{base}/delivery/v2.9/notifications/sent/{iun}"),
        None,
    )
    .await;
    if let Some((200, _, facts)) = call(
        ctx,
        rec,
        "legal_facts",
        reqwest::Method::GET,
        &format!("{base}/delivery-push/v2.0/{iun}/legal-facts"),
        None,
    )
    .await
    {
        if let Some(key) = facts[0]["legalFactsId"]["key"].as_str() {
            let url = format!("{base}/delivery-push/{iun}/download/legal-facts/{key}");
            for _ in 0..2 {
                match call(ctx, rec, "legal_fact", reqwest::Method::GET, &url, None).await {
                    Some((200, _, meta))
                        if meta["retryAfter"].is_number() && meta["url"].is_null() =>
                    {
                        if !wait_retry_after(ctx, meta["retryAfter"].as_f64().unwrap_or(1.0)).await
                        {
                            break;
                        }
                    }
                    _ => break,
                }
            }
        }
    }
    if let Some(p) = body["recipients"][0]["payments"][0]["pagoPa"].as_object() {
        let url = format!(
            "{base}/delivery/v2.3/price/{}/{}",
            p["creditorTaxId"].as_str().unwrap_or_default(),
            p["noticeCode"].as_str().unwrap_or_default()
        );
        call(ctx, rec, "price", reqwest::Method::GET, &url, None).await;
    }
}

/// Reads a stream's events honouring `retry-after` (milliseconds): keeps reading while
/// the server says more are waiting (0), waits as told otherwise. Returns the events read.
pub async fn consume_stream(
    ctx: &FlowContext<'_>,
    rec: &mut FlowRecorder,
    stream_path: &str,
    reads: u32,
) -> usize {
    let mut last: Option<String> = None;
    let mut events = 0;
    for _ in 0..reads {
        let url = match &last {
            Some(id) => format!("{}{stream_path}?lastEventId={id}", ctx.base),
            None => format!("{}{stream_path}", ctx.base),
        };
        let Some((status, headers, body)) =
            call(ctx, rec, "stream_read", reqwest::Method::GET, &url, None).await
        else {
            break;
        };
        let retry_ms = retry_after_ms(&headers);
        if status == 200 {
            if let Some(list) = body.as_array() {
                events += list.len();
                if let Some(id) = list.last().and_then(|e| e["eventId"].as_str()) {
                    last = Some(id.to_string());
                }
            }
        }
        if !wait_retry_after(ctx, retry_ms / 1000.0).await {
            break;
        }
    }
    events
}

/// The raw flow through reqwest (for https targets): one GET.
pub async fn get_flow(ctx: &FlowContext<'_>, rec: &mut FlowRecorder, path: &str) {
    call(
        ctx,
        rec,
        "get",
        reqwest::Method::GET,
        &format!("{}{path}", ctx.base),
        None,
    )
    .await;
}
