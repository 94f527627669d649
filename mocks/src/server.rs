//! The HTTP server: SEND B2B operations (paths and schemas of the bundle), the
//! presigned-upload storage, and the admin API under `/mock/`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine;
use chrono::Datelike;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sim::Model;
use sim::rng::{StreamKey, seed_from_label};
use tokio::net::TcpListener;

use crate::clock::SimClock;
use crate::conformance::{Conformance, Note, SendNote};
use crate::faults::{Fault, FaultProfile, Faults, Outage};
use crate::gateway::{Admission, Gateway, UsagePlan};
use crate::problem::{Problem, ProblemError};
use crate::query::QueryParams;
use crate::request::{model_input, semantic_checks};
use crate::spec::{ParamIn, Spec};
use crate::store::{Record, Store, Upload};
use crate::{ids, render};

/// The default API key and the sender it is bound to.
pub const DEFAULT_API_KEY: &str = "sendmock-key";
pub const DEFAULT_SENDER_TAX_ID: &str = "80016350821";
/// The default cap on notifications held in full.
pub const DEFAULT_MAX_NOTIFICATIONS: usize = 100_000;

#[derive(Debug, Clone)]
pub struct Config {
    /// API key -> sender tax id.
    pub keys: HashMap<String, String>,
    /// Real seconds a request stays WAITING before it is validated.
    pub validation_seconds: f64,
    /// Real seconds a legal fact takes to be "produced" (download returns retryAfter).
    pub legal_fact_seconds: f64,
    /// Every payment position exists on GPD (ASYNC mode) unless registered otherwise.
    pub gpd_open: bool,
    pub seed: u64,
    /// `retry-after` (real milliseconds) of a stream read that drained the stream.
    pub stream_retry_after_ms: u64,
    /// The gateway's usage plan per API key (keys without one are not limited).
    pub plans: HashMap<String, UsagePlan>,
    /// Injected faults (none by default).
    pub faults: FaultProfile,
    /// Notifications held in full at most; the oldest finished ones are dropped beyond.
    pub max_notifications: Option<usize>,
    /// Keys (`x-api-key`) the consolidator API accepts.
    pub consolidator_keys: Vec<String>,
    /// Where the consolidator pushes its progress events (SEND's ingress), if anywhere.
    pub push: Option<crate::channels::consolidator::PushTarget>,
    /// The External Channel the notifications' PEC messages and letters go through
    /// (base URL), if any; else the model alone decides.
    pub external_channel: Option<String>,
}

/// The consolidator API's key when none is given.
pub const DEFAULT_CONSOLIDATOR_KEY: &str = "sendmock-consolidator-key";

impl Default for Config {
    fn default() -> Config {
        Config {
            keys: HashMap::from([(
                DEFAULT_API_KEY.to_string(),
                DEFAULT_SENDER_TAX_ID.to_string(),
            )]),
            validation_seconds: 1.0,
            legal_fact_seconds: 1.0,
            gpd_open: true,
            seed: 1,
            stream_retry_after_ms: 1000,
            plans: HashMap::from([(DEFAULT_API_KEY.to_string(), UsagePlan::STANDARD_B2B)]),
            faults: FaultProfile::default(),
            max_notifications: Some(DEFAULT_MAX_NOTIFICATIONS),
            consolidator_keys: vec![DEFAULT_CONSOLIDATOR_KEY.to_string()],
            push: None,
            external_channel: None,
        }
    }
}

pub struct App {
    pub model: Model,
    pub clock: SimClock,
    pub config: Config,
    pub base_url: String,
    pub gateway: Gateway,
    pub faults: Faults,
    pub metrics: crate::metrics::Metrics,
    pub conformance: Conformance,
    store: Mutex<Store>,
    channels: Mutex<crate::channels::api::Store>,
    /// Sends handed to the External Channel (with `external_channel`). Taken before the
    /// store's lock when both are needed.
    relays: Mutex<Vec<crate::channels::relay::Relay>>,
}

pub type Shared = Arc<App>;

impl App {
    /// `scenario` is laid over the model's behaviour; the mock sets the start instant to
    /// its clock's epoch, validation to `config.validation_seconds` and turns off the
    /// scenario's random refusals and cancellations (the API decides those).
    pub fn new(
        scenario: sim::Scenario,
        clock: SimClock,
        config: Config,
        base_url: String,
    ) -> anyhow::Result<App> {
        let local = clock
            .epoch()
            .with_timezone(&chrono_tz::Europe::Rome)
            .naive_local();
        let mut s = scenario;
        s.start = local.format("%Y-%m-%dT%H:%M:%S").to_string();
        s.validation.refused_share = 0.0;
        s.validation.delay_seconds = sim::dist::Dist::Constant {
            value: (config.validation_seconds * clock.scale()).max(1.0),
        };
        s.cancellation.share = 0.0;
        let model = Model::new(s)?;
        let faults = Faults::new(
            config.faults.clone(),
            std::time::Instant::now(),
            clock.now(),
        );
        let reserved = config.max_notifications.unwrap_or(0);
        Ok(App {
            model,
            clock,
            gateway: Gateway::new(config.plans.clone()),
            faults,
            metrics: Default::default(),
            conformance: Default::default(),
            config,
            base_url,
            store: Mutex::new(Store::with_capacity(reserved)),
            channels: Mutex::new(Default::default()),
            relays: Mutex::new(Vec::new()),
        })
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().expect("store")
    }

    /// The sends waiting for (or decided by) the External Channel.
    pub fn relays(&self) -> MutexGuard<'_, Vec<crate::channels::relay::Relay>> {
        self.relays.lock().expect("relays")
    }

    /// The provider side's requests (External Channel).
    pub fn channels(&self) -> MutexGuard<'_, crate::channels::api::Store> {
        self.channels.lock().expect("channels")
    }
}

type Reply = Result<Response, Problem>;

pub(crate) fn json_reply(status: StatusCode, v: Value) -> Reply {
    Ok((status, Json(v)).into_response())
}

/// The API key's header, its name made once: from a `&str` each lookup would check and
/// hash the text anew.
static API_KEY: header::HeaderName = header::HeaderName::from_static("x-api-key");

/// The request's API key, if it has a readable one.
fn api_key(headers: &HeaderMap) -> Option<&str> {
    headers.get(&API_KEY).and_then(|k| k.to_str().ok())
}

/// The sender bound to the request's API key.
fn bound_sender<'a>(app: &'a App, headers: &HeaderMap) -> Option<&'a String> {
    api_key(headers).and_then(|k| app.config.keys.get(k))
}

/// The sender bound to the request's API key, owned.
pub(crate) fn sender(app: &App, headers: &HeaderMap) -> Option<String> {
    bound_sender(app, headers).cloned()
}

/// The API gateway's answer to a missing or unknown key.
pub(crate) fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(json!({ "message": "Forbidden" })),
    )
        .into_response()
}

macro_rules! auth {
    ($app:expr, $headers:expr) => {
        match sender(&$app, &$headers) {
            Some(s) => s,
            None => return Ok(forbidden()),
        }
    };
}

pub(crate) fn check_params(
    path: &str,
    method: &str,
    path_params: &[(&str, &str)],
    query: &QueryParams,
) -> Result<(), Problem> {
    let errors = Spec::embedded().check_params(path, method, |name, loc| match loc {
        ParamIn::Path => path_params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v),
        _ => query.get(name),
    });
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::bad_request(errors))
    }
}

pub fn parse_body(path: &str, method: &str, body: &Bytes) -> Result<Value, Problem> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        Problem::bad_request(vec![ProblemError::new(
            "PN_GENERIC_INVALIDPARAMETER",
            "body",
            &format!("not valid JSON: {e}"),
        )])
    })?;
    let errors = Spec::embedded().check_body(path, method, &v);
    if errors.is_empty() {
        Ok(v)
    } else {
        Err(Problem::bad_request(errors))
    }
}

async fn status(State(app): State<Shared>) -> Reply {
    let functionalities = crate::faults::FUNCTIONALITIES;
    let incidents: Vec<Value> = app
        .faults
        .incidents(std::time::Instant::now())
        .into_iter()
        .map(|(f, from)| {
            json!({
                "functionality": f,
                "status": "KO",
                "startDate": render::iso(&app.clock, from),
                "fileAvailable": false,
            })
        })
        .collect();
    if incidents.is_empty() {
        return json_reply(
            StatusCode::OK,
            json!({ "functionalities": functionalities, "openIncidents": [] }),
        );
    }
    // Production answers 500 while a functionality is down, with the open incidents.
    json_reply(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({
            "functionalities": functionalities,
            "openIncidents": incidents,
            "status": 500,
            "title": "Some functionalities are not available",
            "detail": "See openIncidents",
        }),
    )
}

async fn preload(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Reply {
    let sender = auth!(app, headers);
    let req = parse_body("/delivery/attachments/preload", "post", &body)?;
    let pdf_slots = req
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["contentType"] == "application/pdf")
        .count();
    app.conformance.note(
        &sender,
        Note::Preload { pdf_slots },
        std::time::Instant::now(),
    );
    let mut store = app.store();
    let mut out = Vec::new();
    for item in req.as_array().into_iter().flatten() {
        let mut rng = store.next_rng(app.config.seed);
        let key = ids::attachment_key(&mut rng);
        let secret = uuid::Uuid::new_v4().simple().to_string();
        let content_type = item["contentType"]
            .as_str()
            .unwrap_or("application/pdf")
            .to_string();
        store.add_upload(
            key.clone(),
            Upload {
                owner: sender.clone(),
                secret: secret.clone(),
                sha256: item["sha256"].as_str().unwrap_or_default().to_string(),
                content_type,
                version: None,
                data: Vec::new(),
                refs: 0,
            },
            app.config
                .max_notifications
                .map(|n| n.saturating_mul(crate::store::UPLOADS_PER_NOTIFICATION)),
        );
        out.push(json!({
            "preloadIdx": item["preloadIdx"],
            "secret": secret,
            "httpMethod": "PUT",
            "url": format!("{}/mock-storage/{key}", app.base_url),
            "key": key,
        }));
    }
    json_reply(StatusCode::OK, Value::Array(out))
}

/// The presigned upload: checks the secret, the content type and the sha256.
async fn upload(
    State(app): State<Shared>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut store = app.store();
    let next_version = store.ids + 1;
    let Some(slot) = store.uploads.get_mut(&key) else {
        return (
            StatusCode::NOT_FOUND,
            "NoSuchKey: no upload slot for this key",
        )
            .into_response();
    };
    let secret = headers
        .get("x-amz-meta-secret")
        .and_then(|v| v.to_str().ok());
    if secret != Some(slot.secret.as_str()) {
        return (
            StatusCode::FORBIDDEN,
            "AccessDenied: x-amz-meta-secret does not match the preload",
        )
            .into_response();
    }
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if ctype != slot.content_type {
        return (
            StatusCode::BAD_REQUEST,
            format!(
                "content-type {ctype:?} differs from the preloaded {:?}",
                slot.content_type
            ),
        )
            .into_response();
    }
    let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&body));
    if let Some(declared) = headers
        .get("x-amz-checksum-sha256")
        .and_then(|v| v.to_str().ok())
    {
        if declared != sha {
            return (
                StatusCode::BAD_REQUEST,
                "BadDigest: x-amz-checksum-sha256 does not match the body",
            )
                .into_response();
        }
    }
    if sha != slot.sha256 {
        return (
            StatusCode::BAD_REQUEST,
            "BadDigest: the body's sha256 differs from the preloaded one",
        )
            .into_response();
    }
    let version = format!("v{next_version:016x}");
    slot.version = Some(version.clone());
    slot.data = body.to_vec();
    let owner = slot.owner.clone();
    store.ids += 1;
    drop(store);
    app.conformance
        .note(&owner, Note::Upload, std::time::Instant::now());
    let mut r = StatusCode::OK.into_response();
    r.headers_mut().insert(
        "x-amz-version-id",
        HeaderValue::from_str(&version).expect("ascii"),
    );
    r
}

async fn download(State(app): State<Shared>, Path(key): Path<String>) -> Response {
    let store = app.store();
    match store.uploads.get(&key).filter(|u| u.version.is_some()) {
        Some(u) => (
            [(header::CONTENT_TYPE, u.content_type.clone())],
            u.data.clone(),
        )
            .into_response(),
        None if key.starts_with("PN_LEGAL_FACTS") || key.starts_with("PN_EXTERNAL_LEGAL_FACTS") => {
            (
                [(header::CONTENT_TYPE, "application/pdf".to_string())],
                legal_fact_pdf(&key),
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "NoSuchKey").into_response(),
    }
}

/// A small valid PDF standing in for a legal fact.
fn legal_fact_pdf(key: &str) -> Vec<u8> {
    format!(
        "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n% sendmock legal fact {key}\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    .into_bytes()
}

async fn send_v26(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Reply {
    send(app, headers, body, "/delivery/v2.6/requests", "2.6")
}

async fn send_v23(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Reply {
    send(app, headers, body, "/delivery/v2.3/requests", "2.3")
}

fn send(app: Shared, headers: HeaderMap, body: Bytes, path: &str, version: &'static str) -> Reply {
    let sender = auth!(app, headers);
    let req = crate::versions::upgrade_request(version, parse_body(path, "post", &body)?);
    if req["notificationFeePolicy"] == "DELIVERY_MODE" {
        let missing: Vec<ProblemError> = ["paFee", "vat"]
            .iter()
            .filter(|f| req[**f].is_null())
            .map(|f| {
                ProblemError::new(
                    "PN_GENERIC_INVALIDPARAMETER_REQUIRED",
                    &format!("body.{f}"),
                    "required with DELIVERY_MODE",
                )
            })
            .collect();
        if !missing.is_empty() {
            return Err(Problem::bad_request(missing));
        }
    }
    let protocol = req["paProtocolNumber"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let token = req["idempotenceToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let now = app.clock.now();
    let duplicated = || {
        Problem::new(
            StatusCode::CONFLICT,
            "Duplicated notification for senderPaId##paProtocolNumber##idempotenceToken",
            vec![ProblemError::new(
                "PN_GENERIC_INVALIDPARAMETER_DUPLICATED",
                &format!("Duplicated notification for {sender}##{protocol}##{token}"),
                "a notification with this protocol number and idempotence token exists",
            )],
        )
    };
    let token_key = (sender.clone(), protocol.clone(), token.clone());
    let (request_id, note) = loop {
        // Under the lock: the duplicate check, a fresh IUN, the uploads and payment
        // positions the request refers to.
        let (iun, refusal, note) = {
            let mut store = app.store();
            if store.by_token.contains_key(&token_key) {
                return Err(duplicated());
            }
            let mut rng = store.next_rng(app.config.seed);
            let day = app.clock.to_utc(now);
            let month = format!("{:04}{:02}", day.year(), day.month());
            let iun = loop {
                let candidate = ids::iun(&mut rng, &month);
                if !store.by_iun.contains_key(&candidate) {
                    break candidate;
                }
            };
            let refusal = semantic_checks(
                &req,
                |key| {
                    store
                        .uploads
                        .get(key)
                        .and_then(|u| u.version.clone().map(|v| (u.sha256.clone(), v)))
                },
                |creditor, notice| {
                    app.config.gpd_open
                        || store
                            .gpd
                            .contains(&(creditor.to_string(), notice.to_string()))
                },
            );
            let note = send_note(&store, &req, &protocol, &token, refusal.is_empty());
            (iun, refusal, note)
        };
        // Without it: the notification's trajectory, while other requests go on.
        let mut record = new_record(&app, &sender, version, &iun, refusal, &req, now);
        let mut store = app.store();
        if store.by_token.contains_key(&token_key) {
            // A concurrent send with the same token got in first.
            return Err(duplicated());
        }
        if store.by_iun.contains_key(&iun) {
            // Drawn meanwhile for another notification (vanishingly rare): draw again.
            continue;
        }
        let request_id = record.request_id.clone();
        let relays = if app.config.external_channel.is_some() && record.accepted() {
            crate::channels::relay::track(&mut record)
        } else {
            Vec::new()
        };
        store.insert(record, &req);
        if !relays.is_empty() {
            // The relays' lock comes first: let the store go, then take both in order.
            drop(store);
            app.relays().extend(relays);
            store = app.store();
        }
        if let Some(cap) = app.config.max_notifications {
            let evicted = store.evict_over(cap, now);
            app.metrics.evictions.inc_by(evicted as u64);
        }
        break (request_id, note);
    };
    app.conformance
        .note(&sender, Note::Send(note), std::time::Instant::now());
    let mut resp = json!({ "notificationRequestId": request_id, "paProtocolNumber": protocol });
    if !token.is_empty() {
        resp["idempotenceToken"] = json!(token);
    }
    json_reply(StatusCode::ACCEPTED, resp)
}

/// A new notification request, kept with its request text and, when accepted (no
/// `refusal`), its trajectory from the model.
pub fn new_record(
    app: &App,
    sender: &str,
    version: &'static str,
    iun: &str,
    refusal: Vec<crate::request::Refusal>,
    req: &Value,
    now: i64,
) -> Record {
    let key = StreamKey {
        seed: seed_from_label(&format!("{}:{iun}", app.config.seed)),
        replication: 0,
        notification: 0,
    };
    let validation = (app.config.validation_seconds * app.clock.scale()).max(1.0) as i64;
    let scale = app.clock.scale();
    let mut record = Record::new(iun, sender, version, key, now, now + validation, refusal)
        .with_timeline(&app.model, || {
            model_input(&app.model, &key, req, now, scale)
        });
    record.set_request(req);
    record
}

async fn request_status_v26(State(app): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    request_status(app, headers, &uri, "/delivery/v2.6/requests")
}

async fn request_status_v23(State(app): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    request_status(app, headers, &uri, "/delivery/v2.3/requests")
}

fn request_status(app: Shared, headers: HeaderMap, uri: &Uri, path: &str) -> Reply {
    let sender = auth!(app, headers);
    let q = QueryParams::parse(uri.query());
    check_params(path, "get", &[], &q)?;
    let store = app.store();
    let idx = match (q.get("notificationRequestId"), q.get("paProtocolNumber")) {
        (Some(id), _) => store.by_request_id.get(id).copied(),
        (None, Some(p)) => {
            let token = q.get("idempotenceToken").unwrap_or_default();
            store
                .by_token
                .get(&(sender.clone(), p.to_string(), token.to_string()))
                .copied()
        }
        _ => {
            return Err(Problem::bad_request(vec![ProblemError::new(
                "PN_GENERIC_INVALIDPARAMETER_REQUIRED",
                "notificationRequestId",
                "give notificationRequestId, or paProtocolNumber and idempotenceToken",
            )]));
        }
    };
    let record = idx
        .map(|i| &store.records[i])
        .filter(|r| r.sender == sender)
        .ok_or_else(|| Problem::not_found("notification request"))?;
    let now = app.clock.now();
    let request = crate::conformance::request_key(&record.request_id);
    // The request's text follows a short head as it is: a copy, cheaper than a cached
    // view (which would also take a detail's place in the cache).
    let answer = render::request_status(record, now, &app.clock);
    drop(store);
    app.conformance.note(
        &sender,
        Note::StatusPoll {
            request,
            retry_after: answer.retry_after.map(std::time::Duration::from_secs),
        },
        std::time::Instant::now(),
    );
    Ok(json_bytes(StatusCode::OK, answer.body))
}

/// A JSON body already serialized.
pub(crate) fn json_bytes(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.into(),
    )
        .into_response()
}

/// Finds a notification the key's sender may see, once accepted and validated.
fn visible_record<'a>(
    store: &'a Store,
    app: &App,
    sender: &str,
    iun: &str,
) -> Result<&'a Record, Problem> {
    visible_index(store, app, sender, iun).map(|i| &store.records[i])
}

/// Where `visible_record` is in the store.
fn visible_index(store: &Store, app: &App, sender: &str, iun: &str) -> Result<usize, Problem> {
    store
        .by_iun
        .get(iun)
        .copied()
        .filter(|i| {
            let r = &store.records[*i];
            r.sender == sender && r.accepted() && r.validated_at <= app.clock.now()
        })
        .ok_or_else(|| Problem::not_found(&format!("notification {iun}")))
}

/// The detail of one notification in a version's schema (the IUN is checked against
/// that version's path parameter).
fn detail_of(
    app: &App,
    headers: &HeaderMap,
    iun: &str,
    path: &str,
    version: render::Version,
) -> Reply {
    let sender = auth!(app, headers);
    check_params(path, "get", &[("iun", iun)], &QueryParams::default())?;
    let mut store = app.store();
    let now = app.clock.now();
    let i = visible_index(&store, app, &sender, iun)?;
    let r = &store.records[i];
    r.touch();
    let key = crate::store::ViewKey {
        record: i,
        generation: r.generation,
        view: match version {
            render::Version::Current => crate::store::View::Detail,
            render::Version::V23 => crate::store::View::DetailV23,
        },
        visible: r.visible(now),
    };
    if let Some(body) = store.views.get(&key) {
        return Ok(json_bytes(StatusCode::OK, body));
    }
    let keep = store.views.admit(&key);
    // Rendered outside the lock, from the record as it is now; other requests go on.
    let record = store.records.shared(key.record).expect("indexed");
    drop(store);
    let body = Bytes::from(render::detail(&record, now, &app.clock, version));
    if keep {
        app.store().views.put(key, body.clone());
    }
    Ok(json_bytes(StatusCode::OK, body))
}

async fn detail(State(app): State<Shared>, headers: HeaderMap, Path(iun): Path<String>) -> Reply {
    detail_of(
        &app,
        &headers,
        &iun,
        "/delivery/v2.9/notifications/sent/{iun}",
        render::Version::Current,
    )
}

async fn detail_v23(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(iun): Path<String>,
) -> Reply {
    detail_of(
        &app,
        &headers,
        &iun,
        "/delivery/v2.3/notifications/sent/{iun}",
        render::Version::V23,
    )
}

/// The detail versions served by projecting the current one (`versions`): path and
/// the bundle's schema of its answer.
pub const OLDER_DETAILS: [(&str, &str); 8] = [
    ("/delivery/notifications/sent/{iun}", "FullSentNotification"),
    (
        "/delivery/v2.0/notifications/sent/{iun}",
        "FullSentNotificationV20",
    ),
    (
        "/delivery/v2.1/notifications/sent/{iun}",
        "FullSentNotificationV21",
    ),
    (
        "/delivery/v2.4/notifications/sent/{iun}",
        "FullSentNotificationV24",
    ),
    (
        "/delivery/v2.5/notifications/sent/{iun}",
        "FullSentNotificationV25",
    ),
    (
        "/delivery/v2.6/notifications/sent/{iun}",
        "FullSentNotificationV26",
    ),
    (
        "/delivery/v2.7/notifications/sent/{iun}",
        "FullSentNotificationV27",
    ),
    (
        "/delivery/v2.8/notifications/sent/{iun}",
        "FullSentNotificationV28",
    ),
];

async fn older_detail(
    app: &App,
    headers: &HeaderMap,
    iun: &str,
    path: &str,
    schema: &str,
) -> Response {
    let current = match detail_of(app, headers, iun, path, render::Version::Current) {
        Ok(r) => r,
        Err(p) => return p.into_response(),
    };
    if current.status() != StatusCode::OK {
        return current;
    }
    let Ok(bytes) = axum::body::to_bytes(current.into_body(), usize::MAX).await else {
        return Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "detail unavailable",
            Vec::new(),
        )
        .into_response();
    };
    let v: Value = serde_json::from_slice(&bytes).expect("the mock's own detail is JSON");
    Json(crate::versions::project(Spec::embedded(), v, schema)).into_response()
}

async fn document(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((iun, doc_idx)): Path<(String, String)>,
) -> Reply {
    let sender = auth!(app, headers);
    let store = app.store();
    let r = visible_record(&store, &app, &sender, &iun)?;
    let idx: usize = doc_idx
        .parse()
        .map_err(|_| Problem::not_found(&format!("document {doc_idx}")))?;
    let request = r.request_value();
    let doc = request["documents"]
        .get(idx)
        .ok_or_else(|| Problem::not_found(&format!("document {doc_idx}")))?;
    let reply = attachment_metadata(&app, &store, doc, &format!("{iun}-doc{idx}.pdf"))?;
    app.conformance
        .note(&sender, Note::DocumentDownloaded, std::time::Instant::now());
    Ok(reply)
}

async fn payment_attachment(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((iun, rec, name)): Path<(String, usize, String)>,
    uri: Uri,
) -> Reply {
    let sender = auth!(app, headers);
    let q = QueryParams::parse(uri.query());
    let store = app.store();
    let r = visible_record(&store, &app, &sender, &iun)?;
    let k: usize = q
        .get("attachmentIdx")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let field = if name == "PAGOPA" { "pagoPa" } else { "f24" };
    let request = r.request_value();
    let att = &request["recipients"][rec]["payments"][k][field];
    let doc = if field == "pagoPa" {
        &att["attachment"]
    } else {
        &att["metadataAttachment"]
    };
    if !doc.is_object() {
        return Err(Problem::not_found(&format!(
            "{name} attachment of recipient {rec}"
        )));
    }
    let reply = attachment_metadata(&app, &store, doc, &format!("{iun}-{name}-{rec}.pdf"))?;
    if name == "PAGOPA" {
        app.conformance.note(
            &sender,
            Note::PaymentAttachmentDownloaded,
            std::time::Instant::now(),
        );
    }
    Ok(reply)
}

fn attachment_metadata(app: &App, store: &Store, doc: &Value, filename: &str) -> Reply {
    let key = doc["ref"]["key"].as_str().unwrap_or_default();
    let u = store
        .uploads
        .get(key)
        .ok_or_else(|| Problem::not_found("attachment"))?;
    json_reply(
        StatusCode::OK,
        json!({
            "filename": filename,
            "contentType": u.content_type,
            "contentLength": u.data.len(),
            "sha256": u.sha256,
            "url": format!("{}/mock-storage/{key}", app.base_url),
        }),
    )
}

async fn legal_facts(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(iun): Path<String>,
) -> Reply {
    let sender = auth!(app, headers);
    let store = app.store();
    let r = visible_record(&store, &app, &sender, &iun)?;
    let n = r.visible(app.clock.now());
    let request = r.request_value();
    let list: Vec<Value> = (0..n)
        .filter_map(|i| {
            let key = r.legal_keys.get(i)?;
            let mut v = json!({ "iun": r.iun, "legalFactsId": { "key": key, "category": r.elements[i].legal_fact } });
            if let Some(rec) = r.elements[i].details.rec_index {
                v["taxId"] = request["recipients"][rec as usize]["taxId"].clone();
            }
            Some(v)
        })
        .collect();
    app.conformance
        .note(&sender, Note::LegalFactsListed, std::time::Instant::now());
    json_reply(StatusCode::OK, Value::Array(list))
}

async fn legal_fact_download(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((iun, id)): Path<(String, String)>,
) -> Reply {
    let sender = auth!(app, headers);
    let store = app.store();
    let r = visible_record(&store, &app, &sender, &iun)?;
    let now = app.clock.now();
    let n = r.visible(now);
    let i = (0..n)
        .find(|i| r.legal_keys.get(*i) == Some(id.as_str()))
        .ok_or_else(|| Problem::not_found(&format!("legal fact {id}")))?;
    let ready = r.elements[i].at + (app.config.legal_fact_seconds * app.clock.scale()) as i64;
    let pdf = legal_fact_pdf(&id);
    let mut v = json!({ "filename": format!("{id}.pdf"), "contentLength": pdf.len() });
    if now < ready {
        v["retryAfter"] = json!(app.clock.real_seconds_until(ready).ceil().max(1.0));
    } else {
        v["url"] = json!(format!("{}/mock-storage/{id}", app.base_url));
        app.conformance.note(
            &sender,
            Note::LegalFactDownloaded,
            std::time::Instant::now(),
        );
    }
    json_reply(StatusCode::OK, v)
}

fn find_notice<'a>(
    store: &'a Store,
    pa: &str,
    notice: &str,
) -> Result<(&'a Record, usize, bool), Problem> {
    let (i, rec) = *store
        .by_notice
        .get(&(pa.to_string(), notice.to_string()))
        .ok_or_else(|| Problem::not_found(&format!("payment {pa}/{notice}")))?;
    let r = &store.records[i];
    let apply = r.request_value()["recipients"][rec]["payments"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["pagoPa"]["noticeCode"] == notice)
        .and_then(|p| p["pagoPa"]["applyCost"].as_bool())
        .unwrap_or(false);
    Ok((r, rec, apply))
}

async fn price_v23(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((pa, notice)): Path<(String, String)>,
) -> Reply {
    let sender = auth!(app, headers);
    note_price(&app, &sender, &pa, &notice);
    check_params(
        "/delivery/v2.3/price/{paTaxId}/{noticeCode}",
        "get",
        &[("paTaxId", &pa), ("noticeCode", &notice)],
        &QueryParams::default(),
    )?;
    let store = app.store();
    let now = app.clock.now();
    let (r, rec, apply) = find_notice(&store, &pa, &notice)?;
    if r.validated_at > now {
        return Err(Problem::not_found(&format!("payment {pa}/{notice}")));
    }
    json_reply(
        StatusCode::OK,
        render::price(&app.model, r, rec, apply, now, &app.clock),
    )
}

async fn price_v1(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((pa, notice)): Path<(String, String)>,
) -> Reply {
    let sender = auth!(app, headers);
    note_price(&app, &sender, &pa, &notice);
    let store = app.store();
    let now = app.clock.now();
    let (r, rec, apply) = find_notice(&store, &pa, &notice)?;
    if r.validated_at > now {
        return Err(Problem::not_found(&format!("payment {pa}/{notice}")));
    }
    let p = render::price(&app.model, r, rec, apply, now, &app.clock);
    let mut v = json!({ "iun": p["iun"], "amount": p["totalPrice"] });
    for f in ["refinementDate", "notificationViewDate"] {
        if !p[f].is_null() {
            v[f] = p[f].clone();
        }
    }
    json_reply(StatusCode::OK, v)
}

async fn payment_events(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Reply {
    let _sender = auth!(app, headers);
    let req = parse_body("/delivery/events/payment/pagopa", "post", &body)?;
    let mut store = app.store();
    let now = app.clock.now();
    for (k, e) in req["events"].as_array().into_iter().flatten().enumerate() {
        let key = (
            e["creditorTaxId"].as_str().unwrap_or_default().to_string(),
            e["noticeCode"].as_str().unwrap_or_default().to_string(),
        );
        let Some(&(i, rec)) = store.by_notice.get(&key) else {
            return Err(Problem::new(
                StatusCode::NOT_FOUND,
                "payment position not found",
                vec![ProblemError::new(
                    "PN_DELIVERY_NOTIFICATION_NOT_FOUND",
                    &format!("body.events[{k}]"),
                    "no notification has this notice",
                )],
            ));
        };
        let at = e["paymentDate"]
            .as_str()
            .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
            .map(|d| app.clock.tick_of(d.with_timezone(&chrono::Utc)))
            .unwrap_or(now)
            .max(now);
        let r = &mut store.records[i];
        if let Some(input) = r.input.as_mut() {
            let p = &mut input.recipients[rec].reported_payment;
            *p = Some(p.map_or(at, |x| x.min(at)));
            r.recompute(&app.model);
            store.recomputed(i);
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn cancel(State(app): State<Shared>, headers: HeaderMap, Path(iun): Path<String>) -> Reply {
    let sender = auth!(app, headers);
    let mut store = app.store();
    let now = app.clock.now();
    let i = visible_record(&store, &app, &sender, &iun)?;
    let i = store.by_iun[&i.iun];
    let r = &mut store.records[i];
    let (code, level) = if r.cancelled() {
        ("NOTIFICATION_ALREADY_CANCELLED", "WARN")
    } else {
        if let Some(input) = r.input.as_mut() {
            input.cancelled_at = Some(now);
        }
        r.recompute(&app.model);
        store.recomputed(i);
        ("NOTIFICATION_CANCELLATION_ACCEPTED", "INFO")
    };
    json_reply(
        StatusCode::ACCEPTED,
        json!({ "status": "OK", "details": [{ "code": code, "level": level, "detail": format!("notification {iun}") }] }),
    )
}

// ---- admin API (outside the spec) ----

async fn admin_reset(State(app): State<Shared>) -> Response {
    *app.store() = Store::with_capacity(app.config.max_notifications.unwrap_or(0));
    *app.channels() = Default::default();
    StatusCode::NO_CONTENT.into_response()
}

fn clock_json(app: &App) -> Value {
    let now = app.clock.now();
    json!({ "now": render::iso(&app.clock, now), "tick": now, "epoch": render::iso(&app.clock, 0), "scale": app.clock.scale() })
}

async fn admin_clock(State(app): State<Shared>) -> Response {
    Json(clock_json(&app)).into_response()
}

async fn admin_clock_set(State(app): State<Shared>, Json(body): Json<Value>) -> Response {
    let result = match (
        body["now"].as_str(),
        body["advanceSeconds"].as_i64(),
        body["advanceDays"].as_f64(),
    ) {
        (Some(now), _, _) => chrono::DateTime::parse_from_rfc3339(now)
            .map_err(|e| format!("now: expected an RFC 3339 instant ({e})"))
            .and_then(|t| {
                app.clock
                    .set(app.clock.tick_of(t.with_timezone(&chrono::Utc)))
            }),
        (None, Some(s), _) => app.clock.advance(s),
        (None, None, Some(d)) => app.clock.advance((d * 86_400.0) as i64),
        _ => Err("give `now` (RFC 3339), `advanceSeconds` or `advanceDays`".into()),
    };
    match result {
        Ok(()) => Json(clock_json(&app)).into_response(),
        Err(e) => Problem::bad_request(vec![ProblemError::new(
            "PN_GENERIC_INVALIDPARAMETER",
            "body",
            &e,
        )])
        .into_response(),
    }
}

async fn admin_list(State(app): State<Shared>) -> Response {
    let store = app.store();
    let now = app.clock.now();
    let list: Vec<Value> = store
        .records
        .iter()
        .map(|r| {
            let status = render::status_at(r, now);
            json!({
                "iun": r.iun,
                "notificationRequestId": r.request_id,
                "senderTaxId": r.sender,
                "paProtocolNumber": r.request_value()["paProtocolNumber"],
                "sentAt": render::iso(&app.clock, r.sent_at),
                "notificationStatus": if r.accepted() || now < r.validated_at { status } else { "REFUSED" },
            })
        })
        .collect();
    Json(Value::Array(list)).into_response()
}

async fn admin_gpd(
    State(app): State<Shared>,
    Path((creditor, notice)): Path<(String, String)>,
) -> Response {
    app.store().gpd.insert((creditor, notice));
    StatusCode::NO_CONTENT.into_response()
}

/// The API gateway: usage plans per key on the B2B API (not on the presigned storage,
/// which is S3 in production, nor on the admin API).
fn gateway_refusal(app: &App, req: &axum::extract::Request) -> Option<Response> {
    let path = req.uri().path();
    if app.gateway.limits() && !(path.starts_with("/mock/") || path.starts_with("/mock-storage/")) {
        if let Some(key) = api_key(req.headers()) {
            let day = chrono::Utc::now().timestamp().div_euclid(86_400);
            let message = match app.gateway.admit(key, std::time::Instant::now(), day) {
                Admission::Pass => None,
                Admission::Throttled => Some("Too Many Requests"),
                Admission::QuotaExceeded => Some("Limit Exceeded"),
            };
            if let Some(message) = message {
                return Some(
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        Json(json!({ "message": message })),
                    )
                        .into_response(),
                );
            }
        }
    }
    None
}

/// Injected faults (outside the admin API and the presigned storage).
async fn with_faults(
    app: &App,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path();
    if path.starts_with("/mock/") || path.starts_with("/mock-storage/") || path == "/metrics" {
        return next.run(req).await;
    }
    let d = app
        .faults
        .decide(req.method().as_str(), path, std::time::Instant::now());
    if !d.delay.is_zero() {
        tokio::time::sleep(d.delay).await;
    }
    match d.fault {
        None => next.run(req).await,
        Some(Fault::Status(s)) => {
            let status = StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Problem::new(status, "injected fault", Vec::new()).into_response()
        }
        Some(Fault::Timeout(t)) => {
            tokio::time::sleep(t).await;
            dropped_connection()
        }
        Some(Fault::Drop) => dropped_connection(),
    }
}

/// A response whose body fails at once: the server closes the connection without
/// completing it, as a dropped connection looks to the client.
fn dropped_connection() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped (injected fault)"))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from_stream(failing))
        .expect("response")
}

async fn admin_faults(State(app): State<Shared>) -> Response {
    Json(serde_json::to_value(app.faults.profile()).expect("profile serialises")).into_response()
}

/// Replaces the fault profile (its outages count from now).
async fn admin_faults_set(State(app): State<Shared>, body: Bytes) -> Response {
    let profile: FaultProfile = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return admin_error(&format!("not a fault profile: {e}")),
    };
    let problems = profile.problems();
    if !problems.is_empty() {
        return admin_error(&problems.join("; "));
    }
    app.faults
        .replace(profile, std::time::Instant::now(), app.clock.now());
    StatusCode::NO_CONTENT.into_response()
}

/// Schedules one outage from now.
async fn admin_outage(State(app): State<Shared>, body: Bytes) -> Response {
    let outage: Outage = match serde_json::from_slice(&body) {
        Ok(o) => o,
        Err(e) => return admin_error(&format!("not an outage: {e}")),
    };
    let problems = FaultProfile {
        outages: vec![outage.clone()],
        ..Default::default()
    }
    .problems();
    if !problems.is_empty() {
        return admin_error(&problems.join("; "));
    }
    app.faults
        .add_outage(outage, std::time::Instant::now(), app.clock.now());
    StatusCode::NO_CONTENT.into_response()
}

/// The conformance report: JSON, or text with `?format=text`.
async fn admin_conformance(State(app): State<Shared>, uri: Uri) -> Response {
    if QueryParams::parse(uri.query()).get("format") == Some("text") {
        return app.conformance.text().into_response();
    }
    Json(serde_json::to_value(app.conformance.report()).expect("report serialises")).into_response()
}

fn note_price(app: &App, sender: &str, pa: &str, notice: &str) {
    let own = {
        let store = app.store();
        store
            .by_notice
            .get(&(pa.to_string(), notice.to_string()))
            .and_then(|(i, _)| store.records.get(*i))
            .is_some_and(|r| r.sender == sender && r.request_value()["senderTaxId"] == pa)
    };
    app.conformance
        .note(sender, Note::Price { own }, std::time::Instant::now());
}

/// What a send request shows of the client, for the checklists.
fn send_note(store: &Store, req: &Value, protocol: &str, token: &str, accepted: bool) -> SendNote {
    let recipients: Vec<&Value> = req["recipients"].as_array().into_iter().flatten().collect();
    let pagopa: Vec<&Value> = recipients
        .iter()
        .flat_map(|r| r["payments"].as_array().into_iter().flatten())
        .map(|p| &p["pagoPa"])
        .filter(|p| p.is_object())
        .collect();
    SendNote {
        protocol: protocol.to_string(),
        token: token.to_string(),
        accepted,
        is_890: req["physicalCommunicationType"] == "REGISTERED_LETTER_890",
        recipients_complete: recipients.iter().any(|r| {
            r["taxId"].is_string()
                && r["digitalDomicile"].is_object()
                && r["physicalAddress"].is_object()
        }),
        uploaded_documents: req["documents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| {
                d["ref"]["key"]
                    .as_str()
                    .and_then(|k| store.uploads.get(k))
                    .is_some_and(|u| u.version.is_some())
            })
            .count(),
        notices: pagopa
            .iter()
            .filter_map(|p| {
                Some((
                    p["creditorTaxId"].as_str()?.to_string(),
                    p["noticeCode"].as_str()?.to_string(),
                ))
            })
            .collect(),
        pagopa_attachment: pagopa.iter().any(|p| p["attachment"].is_object()),
        sender_tax_id: req["senderTaxId"].as_str().unwrap_or_default().to_string(),
    }
}

fn admin_error(detail: &str) -> Response {
    Problem::new(StatusCode::BAD_REQUEST, detail, Vec::new()).into_response()
}

/// In front of every route: counts and times each request by route template and
/// shows it to the conformance watch, then the API gateway's limits, then the injected
/// faults (production's gateway is in front of its services).
async fn front_door(
    State(app): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or(crate::metrics::Route::Unmatched, |p| {
            crate::metrics::Route::Matched(p.clone())
        });
    let method = match *req.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::HEAD => "HEAD",
        _ => "OTHER",
    };
    let client = bound_sender(&app, req.headers());
    let started = std::time::Instant::now();
    let resp = match gateway_refusal(&app, &req) {
        Some(refused) => refused,
        None => with_faults(&app, req, next).await,
    };
    let status = resp.status().as_u16();
    if let Some(sender) = client {
        app.conformance.note(sender, Note::Call { status }, started);
    }
    let m = &app.metrics;
    let elapsed = started.elapsed();
    tracing::debug!(
        route = %route.as_str(),
        method = %method,
        status,
        micros = elapsed.as_micros() as u64,
        "request"
    );
    m.latency
        .get_or_create(&crate::metrics::RouteLabels {
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64());
    m.requests
        .get_or_create(&crate::metrics::RequestLabels {
            route,
            method,
            status,
        })
        .inc();
    resp
}

async fn metrics(State(app): State<Shared>) -> Response {
    {
        let store = app.store();
        app.metrics.stored.set(store.live() as i64);
        let logged = store.log.last_id();
        for s in &store.streams {
            let lag = logged.saturating_sub(s.acked.max(s.after));
            app.metrics
                .stream_lag
                .get_or_create(&crate::metrics::StreamLabels {
                    stream: s.id.clone(),
                })
                .set(lag as i64);
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.encode(),
    )
        .into_response()
}

/// Every route of the mock.
/// The older request versions: path, version, and the bundle's schema of the status
/// answer (sends are upgraded to the current form, statuses projected back).
pub const OLDER_REQUESTS: [(&str, &str, &str); 4] = [
    (
        "/delivery/requests",
        "1",
        "NewNotificationRequestStatusResponse",
    ),
    (
        "/delivery/v2.1/requests",
        "2.1",
        "NewNotificationRequestStatusResponseV21",
    ),
    (
        "/delivery/v2.4/requests",
        "2.4",
        "NewNotificationRequestStatusResponseV24",
    ),
    (
        "/delivery/v2.5/requests",
        "2.5",
        "NewNotificationRequestStatusResponseV25",
    ),
];

async fn older_request_status(
    app: Shared,
    headers: HeaderMap,
    uri: Uri,
    path: &str,
    schema: &str,
) -> Response {
    let current = match request_status(app, headers, &uri, path) {
        Ok(r) => r,
        Err(p) => return p.into_response(),
    };
    if current.status() != StatusCode::OK {
        return current;
    }
    let (parts, body) = current.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "status unavailable",
            Vec::new(),
        )
        .into_response();
    };
    let v: Value = serde_json::from_slice(&bytes).expect("the mock's own status is JSON");
    let projected = crate::versions::project(Spec::embedded(), v, schema);
    (parts.headers, Json(projected)).into_response()
}

/// The older detail and request versions.
fn older_routes() -> Router<Shared> {
    let requests = OLDER_REQUESTS
        .iter()
        .fold(Router::new(), |r, &(path, version, schema)| {
            r.route(
                path,
                post(
                    move |State(app): State<Shared>, headers: HeaderMap, body: Bytes| async move {
                        send(app, headers, body, path, version)
                    },
                )
                .get(
                    move |State(app): State<Shared>, headers: HeaderMap, uri: Uri| async move {
                        older_request_status(app, headers, uri, path, schema).await
                    },
                ),
            )
        });
    OLDER_DETAILS.iter().fold(requests, |r, &(path, schema)| {
        r.route(
                path,
                get(
                    move |State(app): State<Shared>,
                          headers: HeaderMap,
                          Path(iun): Path<String>| async move {
                        older_detail(&app, &headers, &iun, path, schema).await
                    },
                ),
            )
    })
}

pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/delivery/attachments/preload", post(preload))
        .route(
            "/mock-storage/{key}",
            put(upload).post(upload).get(download),
        )
        .route(
            "/delivery/v2.6/requests",
            post(send_v26).get(request_status_v26),
        )
        .route(
            "/delivery/v2.3/requests",
            post(send_v23).get(request_status_v23),
        )
        .route("/delivery/v2.9/notifications/sent/{iun}", get(detail))
        .route("/delivery/v2.3/notifications/sent/{iun}", get(detail_v23))
        .route(
            "/delivery/notifications/sent/{iun}/attachments/documents/{doc_idx}",
            get(document),
        )
        .route(
            "/delivery/notifications/sent/{iun}/attachments/payment/{rec}/{name}",
            get(payment_attachment),
        )
        .route("/delivery/v2.3/price/{pa}/{notice}", get(price_v23))
        .route("/delivery/price/{pa}/{notice}", get(price_v1))
        .route("/delivery/events/payment/pagopa", post(payment_events))
        .route(
            "/delivery-push/v2.0/notifications/cancel/{iun}",
            put(cancel),
        )
        .route("/delivery-push/v2.0/{iun}/legal-facts", get(legal_facts))
        .route(
            "/delivery-push/{iun}/download/legal-facts/{id}",
            get(legal_fact_download),
        )
        .merge(crate::stream_api::routes())
        .route("/mock/reset", post(admin_reset))
        .route("/mock/clock", get(admin_clock).post(admin_clock_set))
        .route("/mock/notifications", get(admin_list))
        .route("/mock/gpd/{creditor}/{notice}", put(admin_gpd))
        .route("/mock/faults", get(admin_faults).put(admin_faults_set))
        .route("/mock/outages", post(admin_outage))
        .route("/mock/conformance", get(admin_conformance))
        .route("/metrics", get(metrics))
        .merge(older_routes())
        .merge(crate::channels::api::routes())
        .merge(crate::channels::consolidator::routes())
        .fallback(|| async { Problem::not_found("path").into_response() })
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            front_door,
        ))
        .with_state(app)
}

/// Serves on an already-bound listener until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    app: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Some(target) = app.config.push.clone() {
        tokio::spawn(crate::channels::consolidator::push_loop(
            app.clone(),
            target,
        ));
    }
    if let Some(base) = app.config.external_channel.clone() {
        tokio::spawn(crate::channels::relay::relay_loop(app.clone(), base));
    }
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `addr` (port 0 allowed) and returns the listener with its base URL.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, String)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, format!("http://{local}")))
}
