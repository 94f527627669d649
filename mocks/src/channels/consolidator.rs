//! The consolidator API (`consolidatore-v1.yml`): the API a printing and postal
//! consolidator offers SEND. Engagements (409 on a repeated requestId), progress pull,
//! and progress events pushed to SEND's ingress (`push-progress-events` of
//! `api-consolidatore-ingress-v1.yaml`) as they happen, retried with backoff when the
//! webhook fails.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::api::{Engagement, Request, iun_of, view};
use super::outcomes::{self, Kind};
use crate::server::{App, Shared};
use crate::spec::Spec;

const ENGAGE: &str = "/piattaforma-notifiche-ingress/v1/paper-deliveries-engagement";
const PROGRESS: &str = "/piattaforma-notifiche-ingress/v1/paper-deliveries-progresses/{requestId}";
/// SEND's ingress, where events are pushed.
pub const PUSH_PATH: &str = "/consolidatore-ingress/v1/push-progress-events";

/// Where events are pushed and with which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    /// SEND's ingress base URL (the push path is appended).
    pub url: String,
    pub api_key: String,
}

/// A refusal, answered as an `OperationResultCodeResponse`.
struct Refusal(StatusCode, &'static str, String, Vec<String>);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        result(self.0, self.1, &self.2, self.3)
    }
}

/// `OperationResultCodeResponse`.
fn result(status: StatusCode, code: &str, description: &str, errors: Vec<String>) -> Response {
    let mut body = json!({
        "resultCode": code,
        "resultDescription": description,
        "clientResponseTimeStamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    if !errors.is_empty() {
        body["errorList"] = json!(errors);
    }
    (status, axum::Json(body)).into_response()
}

/// The service id and the key check (`401.00` for a missing or unknown key).
fn caller(app: &App, headers: &HeaderMap) -> Result<String, Refusal> {
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    if !key.is_some_and(|k| app.config.consolidator_keys.iter().any(|c| c == k)) {
        return Err(Refusal(
            StatusCode::UNAUTHORIZED,
            "401.00",
            "missing or unknown x-api-key".into(),
            Vec::new(),
        ));
    }
    headers
        .get("x-pagopa-extch-service-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .map(String::from)
        .ok_or_else(|| {
            Refusal(
                StatusCode::BAD_REQUEST,
                "400.01",
                "missing header x-pagopa-extch-service-id".into(),
                vec!["x-pagopa-extch-service-id: required".into()],
            )
        })
}

async fn engage(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let service = match caller(&app, &headers) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return result(
                StatusCode::BAD_REQUEST,
                "400.01",
                "syntax error: the body is not JSON",
                vec![e.to_string()],
            );
        }
    };
    let errors = Spec::external_channels().check_body(ENGAGE, "post", &v);
    if !errors.is_empty() {
        return result(
            StatusCode::BAD_REQUEST,
            "400.01",
            "syntax error: the body does not follow the schema",
            errors
                .into_iter()
                .map(|e| format!("{}: {}", e.element, e.detail))
                .collect(),
        );
    }
    let id = v["requestId"].as_str().unwrap_or_default().to_string();
    let product_type = v["productType"].as_str().unwrap_or_default();
    let Some(product) = outcomes::product(product_type) else {
        return result(
            StatusCode::BAD_REQUEST,
            "400.02",
            "semantic error: unknown productType",
            vec![format!(
                "productType: {product_type:?}; expected AR, 890, RS, RIR or RIS"
            )],
        );
    };
    let address = v["receiverAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut store = app.channels();
    if store.engagements.contains_key(&id) {
        return result(
            StatusCode::CONFLICT,
            "409.00",
            "duplicated requestId",
            vec![format!("requestId: {id} was already engaged")],
        );
    }
    let key = format!("cons|{}|{address}", iun_of(Kind::Paper, &id, &v));
    let (nth, mut rng) = store.next_send(key, app.config.seed);
    let events = match outcomes::paper(
        &app.model,
        product,
        &address,
        nth,
        &mut rng,
        app.clock.now(),
        app.clock.scale(),
    ) {
        Ok(e) => e,
        Err(e) => {
            return result(
                StatusCode::BAD_REQUEST,
                "400.02",
                "semantic error: the address's outcome script",
                vec![e],
            );
        }
    };
    store.engagements.insert(
        id,
        Engagement {
            request: Request {
                kind: Kind::Paper,
                client: service,
                body: v,
                events,
            },
            pushed: 0,
            failures: 0,
            retry_at: None,
        },
    );
    result(StatusCode::OK, "200.00", "OK", Vec::new())
}

async fn progress(
    State(app): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = caller(&app, &headers) {
        return r.into_response();
    }
    let store = app.channels();
    let Some(e) = store.engagements.get(&id) else {
        return result(
            StatusCode::NOT_FOUND,
            "404.00",
            "requestId not found",
            vec![format!("requestId: {id}")],
        );
    };
    let now = app.clock.now();
    let events: Vec<Value> = e
        .request
        .events
        .iter()
        .filter(|ev| ev.at <= now)
        .map(|ev| view(&app, &id, &e.request, ev))
        .collect();
    axum::Json(json!({ "requestId": id, "events": events })).into_response()
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(ENGAGE, post(engage))
        .route(PROGRESS, get(progress))
}

/// One batch to push: the engagement, the events' range and their JSON.
struct Batch {
    id: String,
    service: String,
    upto: usize,
    body: Vec<Value>,
}

/// Due events not yet pushed, a batch per engagement whose retry time has come.
fn due(app: &App, now_real: Instant) -> Vec<Batch> {
    let store = app.channels();
    let now = app.clock.now();
    store
        .engagements
        .iter()
        .filter(|(_, e)| e.retry_at.is_none_or(|t| t <= now_real))
        .filter_map(|(id, e)| {
            let upto = e.pushed
                + e.request.events[e.pushed..]
                    .iter()
                    .take_while(|ev| ev.at <= now)
                    .count();
            (upto > e.pushed).then(|| Batch {
                id: id.clone(),
                service: e.request.client.clone(),
                upto,
                body: e.request.events[e.pushed..upto]
                    .iter()
                    .map(|ev| view(app, id, &e.request, ev))
                    .collect(),
            })
        })
        .collect()
}

/// Backoff after `failures` failed pushes in a row: 250 ms doubling, at most 30 s.
pub fn backoff(failures: u32) -> Duration {
    Duration::from_millis((250u64 << failures.min(7)).min(30_000))
}

/// Pushes events to `target` as the clock makes them due, until the runtime stops.
/// Each engagement's events go in order; a failed push (an error status or no answer
/// within 5 s) is retried with `backoff`.
pub async fn push_loop(app: Shared, target: PushTarget) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client");
    let url = format!("{}{PUSH_PATH}", target.url.trim_end_matches('/'));
    loop {
        for batch in due(&app, Instant::now()) {
            let sent = client
                .put(&url)
                .header("x-api-key", &target.api_key)
                .header("x-pagopa-extch-service-id", &batch.service)
                .json(&batch.body)
                .send()
                .await;
            let ok = sent.as_ref().is_ok_and(|r| r.status().is_success());
            if !ok {
                tracing::warn!(request = %batch.id, status = ?sent.as_ref().map(|r| r.status().as_u16()).ok(), "push-progress-events failed; retrying");
            }
            let mut store = app.channels();
            if !ok {
                store.push_failures += 1;
            }
            if let Some(e) = store.engagements.get_mut(&batch.id) {
                if ok {
                    e.pushed = batch.upto;
                    e.failures = 0;
                    e.retry_at = None;
                } else {
                    e.retry_at = Some(Instant::now() + backoff(e.failures));
                    e.failures += 1;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        assert_eq!(backoff(0), Duration::from_millis(250));
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(6), Duration::from_millis(16_000));
        assert_eq!(backoff(20), Duration::from_millis(30_000));
    }
}
