//! The External Channel API (`api-internal-v1.yaml`): SEND, or anyone building such a
//! flow, sends legal PEC messages, courtesy e-mails and SMS, and paper engagements, then
//! pulls each request's progress. Bodies are validated against the official schemas;
//! errors are the contract's Problem (`schemas-pn-errors-v1.yaml`).

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::outcomes::{self, Event, Kind};
use crate::render::iso;
use crate::server::{App, Shared};
use crate::spec::Spec;

const LEGAL: &str =
    "/external-channels/v1/digital-deliveries/legal-full-message-requests/{requestIdx}";
const MAIL: &str =
    "/external-channels/v1/digital-deliveries/courtesy-full-message-requests/{requestIdx}";
const SMS: &str =
    "/external-channels/v1/digital-deliveries/courtesy-simple-message-requests/{requestIdx}";
const PAPER: &str = "/external-channels/v1/paper-deliveries-engagements/{requestIdx}";

/// One accepted request.
#[derive(Debug, Clone)]
pub struct Request {
    pub kind: Kind,
    pub client: String,
    pub body: Value,
    pub events: Vec<Event>,
}

/// A consolidator engagement and how far its events have been pushed.
#[derive(Debug, Clone)]
pub struct Engagement {
    pub request: Request,
    /// Events pushed so far (acknowledged by the webhook).
    pub pushed: usize,
    /// Failed pushes in a row, and the real instant of the next try.
    pub failures: u32,
    pub retry_at: Option<std::time::Instant>,
}

/// The requests the provider side holds.
#[derive(Debug, Default)]
pub struct Store {
    requests: HashMap<String, Request>,
    /// The consolidator's engagements (their own namespace of request ids).
    pub(crate) engagements: std::collections::BTreeMap<String, Engagement>,
    /// Pushes that failed, in all.
    pub(crate) push_failures: u64,
    /// Earlier sends per recipient and address (which phase a script plays).
    sends: HashMap<String, usize>,
    drawn: u64,
}

impl Store {
    /// The External Channel requests (for a snapshot).
    pub fn requests_iter(&self) -> impl Iterator<Item = (&String, &Request)> {
        self.requests.iter()
    }
    pub fn sends_iter(&self) -> impl Iterator<Item = (&String, &usize)> {
        self.sends.iter()
    }
    pub fn drawn(&self) -> u64 {
        self.drawn
    }
    pub fn insert_request(&mut self, id: String, r: Request) {
        self.requests.insert(id, r);
    }
    pub fn restore_sends(&mut self, sends: Vec<(String, usize)>, drawn: u64) {
        self.sends = sends.into_iter().collect();
        self.drawn = drawn;
    }

    /// The phase a script plays for this recipient and address, and a fresh generator.
    pub(crate) fn next_send(&mut self, key: String, seed: u64) -> (usize, sim::rng::Stream) {
        let nth = self.sends.entry(key).or_insert(0);
        let n = *nth;
        *nth += 1;
        self.drawn += 1;
        (n, sim::rng::StreamKey::stream_for(seed, 7, self.drawn))
    }
}

impl Store {
    pub fn get(&self, id: &str) -> Option<&Request> {
        self.requests.get(id)
    }
    pub fn len(&self) -> usize {
        self.requests.len()
    }
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }
}

/// The contract's Problem: `code` is `<status>-<nnnn>`.
pub struct EcProblem {
    status: StatusCode,
    detail: String,
    /// (element, detail) of each error.
    errors: Vec<(String, String)>,
}

pub(crate) fn problem(
    status: StatusCode,
    detail: &str,
    errors: Vec<(String, String)>,
) -> EcProblem {
    EcProblem {
        status,
        detail: detail.to_string(),
        errors,
    }
}

impl IntoResponse for EcProblem {
    fn into_response(self) -> Response {
        let status = self.status;
        let errors: Vec<Value> = if self.errors.is_empty() {
            vec![json!({ "code": format!("{}-0000", status.as_u16()), "detail": self.detail })]
        } else {
            self.errors
                .into_iter()
                .enumerate()
                .map(|(i, (element, d))| {
                    json!({ "code": format!("{}-{:04}", status.as_u16(), i + 1), "element": element, "detail": d })
                })
                .collect()
        };
        let mut detail = self.detail;
        detail.truncate(1024);
        let body = json!({
            "type": "about:blank",
            "status": status.as_u16(),
            "title": status.canonical_reason().unwrap_or("Error"),
            "detail": detail,
            "traceId": uuid::Uuid::new_v4().to_string(),
            "errors": errors,
        });
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}

fn client(headers: &HeaderMap) -> Result<String, EcProblem> {
    headers
        .get("x-pagopa-extch-cx-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .map(String::from)
        .ok_or_else(|| {
            problem(
                StatusCode::BAD_REQUEST,
                "missing header x-pagopa-extch-cx-id",
                vec![("x-pagopa-extch-cx-id".into(), "required".into())],
            )
        })
}

pub(crate) fn check_idx(idx: &str) -> Result<(), EcProblem> {
    if (5..=100).contains(&idx.chars().count()) {
        Ok(())
    } else {
        Err(problem(
            StatusCode::BAD_REQUEST,
            "requestIdx must be 5 to 100 characters",
            vec![(
                "requestIdx".into(),
                format!("{} characters", idx.chars().count()),
            )],
        ))
    }
}

/// The IUN a request is about: the paper request's `iun`, or the `IUN_…` segment SEND
/// puts in its request ids.
pub(crate) fn iun_of(kind: Kind, id: &str, body: &Value) -> String {
    if let (Kind::Paper, Some(iun)) = (kind, body["iun"].as_str()) {
        return iun.to_string();
    }
    id.split(['.', '/'])
        .find_map(|p| p.strip_prefix("IUN_"))
        .unwrap_or("")
        .to_string()
}

fn put(
    app: &App,
    kind: Kind,
    path: &str,
    idx: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let run = || -> Result<Response, EcProblem> {
        let client = client(headers)?;
        check_idx(idx)?;
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            problem(
                StatusCode::BAD_REQUEST,
                &format!("the body is not valid JSON: {e}"),
                vec![("body".into(), e.to_string())],
            )
        })?;
        let errors = Spec::external_channels().check_body(path, "put", &v);
        if !errors.is_empty() {
            return Err(problem(
                StatusCode::BAD_REQUEST,
                "the body does not follow the schema: see errors",
                errors.into_iter().map(|e| (e.element, e.detail)).collect(),
            ));
        }
        let address = match kind {
            Kind::Paper => v["receiverAddress"].as_str().unwrap_or_default(),
            _ => v["receiverDigitalAddress"].as_str().unwrap_or_default(),
        }
        .to_string();
        let mut store = app.channels();
        if store.requests.contains_key(idx) {
            return Err(problem(
                StatusCode::CONFLICT,
                &format!("request {idx} was already sent and cannot be replaced"),
                Vec::new(),
            ));
        }
        let key = format!("{}|{address}", iun_of(kind, idx, &v));
        let (nth, mut rng) = store.next_send(key, app.config.seed);
        let now = app.clock.now();
        let scale = app.clock.scale();
        let events = match kind {
            Kind::Paper => {
                let product_type = v["productType"].as_str().unwrap_or_default();
                let product = outcomes::product(product_type).ok_or_else(|| {
                    problem(
                        StatusCode::BAD_REQUEST,
                        &format!(
                            "unknown productType {product_type:?}; expected AR, 890, RS, RIR or RIS"
                        ),
                        vec![("productType".into(), product_type.into())],
                    )
                })?;
                outcomes::paper(&app.model, product, &address, nth, &mut rng, now, scale)
            }
            _ => outcomes::digital(&app.model, kind, &address, nth, &mut rng, now, scale),
        }
        .map_err(|e| {
            problem(
                StatusCode::BAD_REQUEST,
                &e,
                vec![("receiverAddress".into(), e.clone())],
            )
        })?;
        store.requests.insert(
            idx.to_string(),
            Request {
                kind,
                client,
                body: v,
                events,
            },
        );
        Ok(StatusCode::NO_CONTENT.into_response())
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

/// An attachment's download key: its type, request and event, in URL-safe base64.
fn attachment_key(doc: &str, id: &str, code: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{doc}|{id}|{code}"))
}

/// The placeholder file of an attachment (a tiny PDF naming what it stands for).
pub fn attachment_bytes(key: &str) -> Option<Vec<u8>> {
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(key)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())?;
    let mut parts = text.splitn(3, '|');
    let (doc, id, code) = (parts.next()?, parts.next()?, parts.next()?);
    Some(
        format!("%PDF-1.4\n% sendmock placeholder: {doc} of request {id}, event {code}\n%%EOF\n")
            .into_bytes(),
    )
}

fn sha256_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// The progress event as the contract's view of it.
pub fn view(app: &App, id: &str, r: &Request, e: &Event) -> Value {
    let at = iso(&app.clock, e.at);
    match r.kind {
        Kind::Legal | Kind::Mail | Kind::Sms => {
            let mut v = json!({
                "requestId": id,
                "eventTimestamp": at,
                "status": outcomes::digital_status(&e.code),
                "eventDetails": outcomes::description(&e.code),
                "eventCode": e.code,
            });
            if r.kind == Kind::Legal && e.code != "C000" {
                v["generatedMessage"] = json!({
                    "system": "sendmock-pec",
                    "id": format!("<{}.{}@pec.sendmock.local>", id.replace(['<', '>', '@'], "_"), e.code),
                });
            }
            v
        }
        Kind::Paper => {
            let b = &r.body;
            let digest = Sha256::digest(id.as_bytes());
            let letter: String = digest[..6].iter().map(|x| format!("{x:02X}")).collect();
            // The event names the engagement's own requestId (the contract wants 30 or
            // more characters, which the path's requestIdx need not have).
            let mut v = json!({
                "requestId": b["requestId"],
                "registeredLetterCode": format!("RL{letter}"),
                "productType": b["productType"],
                "statusCode": e.code,
                "statusDescription": outcomes::description(&e.code),
                "statusDateTime": at,
                "clientRequestTimeStamp": b["clientRequestTimeStamp"],
            });
            if let Some(iun) = b["iun"].as_str() {
                v["iun"] = json!(iun);
            }
            if let Some(c) = &e.fail_cause {
                v["deliveryFailureCause"] = json!(c);
            }
            if !e.docs.is_empty() {
                let attachments: Vec<Value> = e
                    .docs
                    .iter()
                    .enumerate()
                    .map(|(i, doc)| {
                        let key = attachment_key(doc, id, &e.code);
                        let bytes = attachment_bytes(&key).expect("a key just made");
                        // The consolidator's contract allows ids of 10 characters.
                        json!({
                            "id": (i + 1).to_string(),
                            "documentType": doc,
                            "uri": format!("{}/mock/channels/attachments/{key}", app.base_url),
                            "sha256": sha256_b64(&bytes),
                            "date": at,
                        })
                    })
                    .collect();
                v["attachments"] = json!(attachments);
            }
            if let Some(address) = &e.discovered {
                v["discoveredAddress"] = json!({
                    "name": b["receiverName"],
                    "address": address,
                    "city": b["receiverCity"],
                    "cap": b["receiverCap"].as_str().unwrap_or("00100"),
                });
            }
            v
        }
    }
}

fn get_progress(app: &App, kind: Kind, idx: &str, headers: &HeaderMap) -> Response {
    if let Err(r) = client(headers) {
        return r.into_response();
    }
    let store = app.channels();
    let Some(r) = store.requests.get(idx).filter(|r| r.kind == kind) else {
        return problem(
            StatusCode::NOT_FOUND,
            &format!("request {idx} not found"),
            Vec::new(),
        )
        .into_response();
    };
    let now = app.clock.now();
    match r.events.iter().rev().find(|e| e.at <= now) {
        Some(e) => axum::Json(view(app, idx, r, e)).into_response(),
        None => problem(
            StatusCode::NOT_FOUND,
            &format!(
                "request {idx} has no progress event yet: the first is due at {}",
                iso(&app.clock, r.events[0].at)
            ),
            Vec::new(),
        )
        .into_response(),
    }
}

macro_rules! pair {
    ($put:ident, $get:ident, $kind:expr, $path:expr) => {
        async fn $put(
            State(app): State<Shared>,
            Path(idx): Path<String>,
            headers: HeaderMap,
            body: Bytes,
        ) -> Response {
            put(&app, $kind, $path, &idx, &headers, &body)
        }
        async fn $get(
            State(app): State<Shared>,
            Path(idx): Path<String>,
            headers: HeaderMap,
        ) -> Response {
            get_progress(&app, $kind, &idx, &headers)
        }
    };
}

pair!(put_legal, get_legal, Kind::Legal, LEGAL);
pair!(put_mail, get_mail, Kind::Mail, MAIL);
pair!(put_sms, get_sms, Kind::Sms, SMS);
pair!(put_paper, get_paper, Kind::Paper, PAPER);

async fn configurations() -> Response {
    axum::Json(json!([{
        "xPagopaExtchCxId": "pn-delivery-push",
        "sqsArn": "arn:aws:sqs:eu-south-1:000000000000:sendmock-external-channel-events",
        "sqsName": "sendmock-external-channel-events",
        "pecReplyTo": "noreply@pec.sendmock.local",
        "mailReplyTo": "noreply@sendmock.local",
        "senderPhysicalAddress": { "name": "PagoPA S.p.A.", "address": "Via Sardegna 38", "cap": "00187", "city": "Roma", "pr": "RM" },
    }]))
    .into_response()
}

/// Every event of a request that has happened (for inspection and tests).
async fn events(State(app): State<Shared>, Path(idx): Path<String>) -> Response {
    let store = app.channels();
    let Some(r) = store.requests.get(&idx) else {
        return problem(
            StatusCode::NOT_FOUND,
            &format!("request {idx} not found"),
            Vec::new(),
        )
        .into_response();
    };
    let now = app.clock.now();
    let list: Vec<Value> = r
        .events
        .iter()
        .filter(|e| e.at <= now)
        .map(|e| view(&app, &idx, r, e))
        .collect();
    axum::Json(json!({ "requestId": idx, "events": list, "pending": r.events.iter().filter(|e| e.at > now).count() })).into_response()
}

async fn attachment(Path(key): Path<String>) -> Response {
    match attachment_bytes(&key) {
        Some(bytes) => ([(header::CONTENT_TYPE, "application/pdf")], bytes).into_response(),
        None => problem(StatusCode::NOT_FOUND, "no such attachment", Vec::new()).into_response(),
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(LEGAL, get(get_legal).put(put_legal))
        .route(MAIL, get(get_mail).put(put_mail))
        .route(SMS, get(get_sms).put(put_sms))
        .route(PAPER, get(get_paper).put(put_paper))
        .route("/external-channels/v1/configurations", get(configurations))
        .route("/mock/channels/requests/{requestIdx}/events", get(events))
        .route("/mock/channels/attachments/{key}", get(attachment))
}
