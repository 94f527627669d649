//! The event-stream operations of the bundle (`/delivery-progresses/v2.9/streams` and
//! v2.3): create, list, read, update, disable, delete, and consume with `lastEventId`
//! and `retry-after`.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::conformance::Note;
use crate::problem::{Problem, ProblemError};
use crate::query::QueryParams;
use crate::render;
use crate::server::{App, Shared, check_params, forbidden, json_reply, parse_body, sender};
use crate::store::Store;
use crate::streams::{EventType, MAX_STREAMS, Stream, event_id_text, millis_until};

type Reply = Result<Response, Problem>;

/// An API version of the stream operations.
#[derive(Clone, Copy)]
struct Version {
    /// Path segment (`v2.9`).
    path: &'static str,
    /// The `version` the metadata reports (`v29`).
    tag: &'static str,
    /// Answers are the current ones projected onto this version's schemas (`versions`).
    projected: bool,
}

const V29: Version = Version {
    path: "v2.9",
    tag: "v29",
    projected: false,
};
const V23: Version = Version {
    path: "v2.3",
    tag: "v23",
    projected: false,
};
/// The unversioned first API: its events are flat (`ProgressResponseElement`).
const V1: Version = Version {
    path: "",
    tag: "v10",
    projected: true,
};
/// The versions between, served by projection.
const PROJECTED: [Version; 5] = [
    Version {
        path: "v2.4",
        tag: "v24",
        projected: true,
    },
    Version {
        path: "v2.5",
        tag: "v25",
        projected: true,
    },
    Version {
        path: "v2.6",
        tag: "v26",
        projected: true,
    },
    Version {
        path: "v2.7",
        tag: "v27",
        projected: true,
    },
    Version {
        path: "v2.8",
        tag: "v28",
        projected: true,
    },
];

/// A reply of version `v` to `method` on `rest` (under `…/streams`), projected onto the
/// version's schema when `v` is served by projection.
async fn finish(v: Version, rest: &str, method: &str, reply: Reply) -> Response {
    let resp = match reply {
        Ok(r) => r,
        Err(p) => return p.into_response(),
    };
    if !v.projected || resp.status() != StatusCode::OK {
        return resp;
    }
    let path = spec_path(v, rest);
    let schema = crate::spec::Spec::embedded().response_schema(&path, method, 200);
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "answer unavailable",
            Vec::new(),
        )
        .into_response();
    };
    let value: Value = serde_json::from_slice(&bytes).expect("the mock's own answer is JSON");
    let projected = crate::versions::project_onto(crate::spec::Spec::embedded(), value, &schema);
    (parts.headers, axum::Json(projected)).into_response()
}

fn spec_path(v: Version, rest: &str) -> String {
    if v.path.is_empty() {
        format!("/delivery-progresses/streams{rest}")
    } else {
        format!("/delivery-progresses/{}/streams{rest}", v.path)
    }
}

/// A current stream event as the first API's flat element: the timeline element's
/// category, instant, recipient, cost, channel, legal facts and refusal reasons.
fn v1_event(item: Value) -> Value {
    let e = &item["element"];
    let d = &e["details"];
    let mut out = json!({
        "eventId": item["eventId"],
        "notificationRequestId": item["notificationRequestId"],
        "timestamp": e["timestamp"],
        "timelineEventCategory": e["category"],
    });
    for (from, to) in [("iun", "iun"), ("newStatus", "newStatus")] {
        if !item[from].is_null() {
            out[to] = item[from].clone();
        }
    }
    if let Some(r) = d["recIndex"].as_i64() {
        out["recipientIndex"] = json!(r);
    }
    if let Some(c) = d["analogCost"].as_i64() {
        out["analogCost"] = json!(c);
    }
    let channel =
        d["channel"]
            .as_str()
            .map(String::from)
            .or_else(|| match d["productType"].as_str() {
                Some("AR") => Some("AR_REGISTERED_LETTER".into()),
                Some("890") => Some("REGISTERED_LETTER_890".into()),
                Some("RS") => Some("SIMPLE_REGISTERED_LETTER".into()),
                _ => d["digitalAddress"]["type"].as_str().map(String::from),
            });
    if let Some(c) = channel {
        out["channel"] = json!(c);
    }
    let facts: Vec<Value> = e["legalFactsIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["key"].as_str().map(|k| json!(k)))
        .collect();
    if !facts.is_empty() {
        out["legalfactIds"] = json!(facts);
    }
    if let Some(reasons) = d["refusalReasons"].as_array() {
        out["validationErrors"] = json!(reasons);
    }
    out
}

/// The stream metadata (`StreamMetadataResponseV29`).
fn metadata(app: &App, s: &Stream) -> Value {
    let mut v = json!({
        "title": s.title,
        "eventType": s.event_type.as_str(),
        "groups": s.groups,
        "filterValues": s.filter_values,
        "streamId": s.id,
        "activationDate": render::iso(&app.clock, s.activated),
        "version": s.version,
    });
    if s.version != "v23" {
        v["waitForAccepted"] = json!(s.wait_for_accepted);
    }
    if let Some(d) = s.disabled {
        v["disabledDate"] = json!(render::iso(&app.clock, d));
    }
    v
}

fn stream_problem(status: StatusCode, code: &str, detail: &str) -> Problem {
    Problem::new(status, detail, vec![ProblemError::new(code, "", detail)])
}

/// The caller's stream `id`, or 404 (another sender's stream is not found either).
fn find<'a>(store: &'a mut Store, sender: &str, id: &str) -> Result<&'a mut Stream, Problem> {
    store
        .streams
        .iter_mut()
        .find(|s| s.id == id && s.sender == sender)
        .ok_or_else(|| Problem::not_found(&format!("stream {id}")))
}

/// The fields of a creation or update request.
struct Fields {
    title: String,
    event_type: EventType,
    filter_values: Vec<String>,
    groups: Vec<String>,
    wait_for_accepted: bool,
}

fn fields(body: &Value) -> Fields {
    let strings = |k: &str| -> Vec<String> {
        body[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    };
    Fields {
        title: body["title"].as_str().unwrap_or_default().to_string(),
        // The schema allows only STATUS and TIMELINE, and the body was checked.
        event_type: body["eventType"]
            .as_str()
            .and_then(EventType::parse)
            .unwrap_or(EventType::Timeline),
        filter_values: strings("filterValues"),
        groups: strings("groups"),
        wait_for_accepted: body["waitForAccepted"].as_bool().unwrap_or(false),
    }
}

async fn create(app: &App, headers: &HeaderMap, body: &Bytes, v: Version) -> Reply {
    let Some(sender) = sender(app, headers) else {
        return Ok(forbidden());
    };
    let path = spec_path(v, "");
    let body = parse_body(&path, "post", body)?;
    let f = fields(&body);
    let now = app.clock.now();
    let mut store = app.store();
    let store = &mut *store;
    store
        .log
        .advance(now, &mut store.records, !store.streams.is_empty());
    let mut after = store.log.last_id();
    if let Some(old) = body["replacedStreamId"].as_str() {
        // The new stream takes over where the old one's reader had got to.
        let s = find(store, &sender, old)?;
        s.disabled.get_or_insert(now);
        after = s.acked.max(s.after);
    }
    let active = store
        .streams
        .iter()
        .filter(|s| s.sender == sender && s.disabled.is_none())
        .count();
    if active >= MAX_STREAMS {
        return Err(stream_problem(
            StatusCode::CONFLICT,
            "PN_WEBHOOK_MAXSTREAMSCOUNTREACHED",
            &format!("at most {MAX_STREAMS} active streams per sender"),
        ));
    }
    let mut rng = store.next_rng(app.config.seed);
    let mut bytes = [0u8; 16];
    for b in bytes.iter_mut() {
        *b = (rng.advance() >> 56) as u8;
    }
    let s = Stream {
        id: uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string(),
        sender,
        title: f.title,
        event_type: f.event_type,
        filter_values: f.filter_values,
        groups: f.groups,
        wait_for_accepted: f.wait_for_accepted,
        version: v.tag,
        activated: now,
        disabled: None,
        after,
        acked: after,
        not_before: None,
    };
    let reply = metadata(app, &s);
    app.conformance.note(
        &s.sender,
        Note::StreamCreated {
            timeline: s.event_type == EventType::Timeline,
        },
        Instant::now(),
    );
    store.streams.push(s);
    store.log.follow(now, &mut store.records);
    json_reply(StatusCode::OK, reply)
}

async fn list(app: &App, headers: &HeaderMap) -> Reply {
    let Some(sender) = sender(app, headers) else {
        return Ok(forbidden());
    };
    let store = app.store();
    let items: Vec<Value> = store
        .streams
        .iter()
        .filter(|s| s.sender == sender)
        .map(|s| json!({ "title": s.title, "streamId": s.id }))
        .collect();
    json_reply(StatusCode::OK, Value::Array(items))
}

fn id_params(v: Version, rest: &str, method: &str, id: &str) -> Result<(), Problem> {
    check_params(
        &spec_path(v, rest),
        method,
        &[("streamId", id)],
        &QueryParams::default(),
    )
}

async fn retrieve(app: &App, headers: &HeaderMap, id: &str, v: Version) -> Reply {
    let Some(sender) = sender(app, headers) else {
        return Ok(forbidden());
    };
    id_params(v, "/{streamId}", "get", id)?;
    let mut store = app.store();
    let s = find(&mut store, &sender, id)?;
    json_reply(StatusCode::OK, metadata(app, s))
}

async fn update(app: &App, headers: &HeaderMap, id: &str, body: &Bytes, v: Version) -> Reply {
    let Some(sender) = sender(app, headers) else {
        return Ok(forbidden());
    };
    id_params(v, "/{streamId}", "put", id)?;
    let body = parse_body(&spec_path(v, "/{streamId}"), "put", body)?;
    let f = fields(&body);
    let mut store = app.store();
    let s = find(&mut store, &sender, id)?;
    s.title = f.title;
    s.event_type = f.event_type;
    s.filter_values = f.filter_values;
    s.groups = f.groups;
    s.wait_for_accepted = f.wait_for_accepted;
    json_reply(StatusCode::OK, metadata(app, s))
}

async fn disable(app: &App, headers: &HeaderMap, id: &str, v: Version) -> Reply {
    let Some(sender) = sender(app, headers) else {
        return Ok(forbidden());
    };
    id_params(v, "/{streamId}/action/disable", "post", id)?;
    let now = app.clock.now();
    let mut store = app.store();
    let s = find(&mut store, &sender, id)?;
    s.disabled.get_or_insert(now);
    json_reply(StatusCode::OK, metadata(app, s))
}

async fn remove(app: &App, headers: &HeaderMap, id: &str, v: Version) -> Reply {
    let Some(sender) = sender(app, headers) else {
        return Ok(forbidden());
    };
    id_params(v, "/{streamId}", "delete", id)?;
    let mut store = app.store();
    find(&mut store, &sender, id)?;
    store
        .streams
        .retain(|s| !(s.id == id && s.sender == sender));
    if store.streams.is_empty() {
        // Nobody is left to read what happens next: the log stops following.
        let store = &mut *store;
        store
            .log
            .advance(app.clock.now(), &mut store.records, false);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn with_retry_after(mut r: Response, millis: u64) -> Response {
    r.headers_mut().insert(
        "retry-after",
        HeaderValue::from_str(&millis.to_string()).expect("digits"),
    );
    r
}

async fn consume(app: &App, headers: &HeaderMap, id: &str, uri: &Uri, v: Version) -> Reply {
    let Some(sender) = sender(app, headers) else {
        return Ok(forbidden());
    };
    let path = spec_path(v, "/{streamId}/events");
    let query = QueryParams::parse(uri.query());
    check_params(&path, "get", &[("streamId", id)], &query)?;
    // The schema admits 38 digits starting with 0; more than u64 holds is past any id.
    let last: u64 = query.get("lastEventId").map_or(0, |t| {
        let digits = t.trim_start_matches('0');
        if digits.is_empty() {
            0
        } else {
            digits.parse().unwrap_or(u64::MAX)
        }
    });
    let now = app.clock.now();
    let real = Instant::now();
    let mut store = app.store();
    let store = &mut *store;
    store
        .log
        .advance(now, &mut store.records, !store.streams.is_empty());
    let logged = store.log.last_id();
    let s = find(store, &sender, id)?;
    if let Some(nb) = s.not_before.filter(|nb| real < *nb) {
        let wait = millis_until(nb, real).max(1);
        app.conformance.note(
            &sender,
            Note::StreamRead {
                stream: id.to_string(),
                last_event_id: query.get("lastEventId").map(|_| last),
                returned: Vec::new(),
                accepted_with_iun: false,
                too_early: true,
            },
            real,
        );
        let p = stream_problem(
            StatusCode::TOO_MANY_REQUESTS,
            "PN_STREAM_RETRY_AFTER_ERROR",
            &format!("polled {wait} ms before the retry-after it was given"),
        );
        return Ok(with_retry_after(p.into_response(), wait));
    }
    s.acked = s.acked.max(last.min(logged));
    let s = store
        .streams
        .iter()
        .find(|s| s.id == id && s.sender == sender)
        .expect("found above");
    let batch = store.log.read(s, last, now, &store.records);
    let items: Vec<Value> = batch
        .events
        .iter()
        .filter_map(|e| {
            let r = &store.records[e.record];
            let version = if v.tag == "v23" {
                render::Version::V23
            } else {
                render::Version::Current
            };
            let element = render::element(r, e.element, &app.clock, version)?;
            let mut item = json!({
                "eventId": event_id_text(e.id),
                "notificationRequestId": r.request_id,
                "element": element,
            });
            if r.accepted() {
                item["iun"] = json!(r.iun);
            }
            if e.status_changed {
                let status = if v.tag == "v23" && e.status == "RETURNED_TO_SENDER" {
                    "DELIVERED"
                } else {
                    e.status
                };
                item["newStatus"] = json!(status);
            }
            Some(if v.path.is_empty() {
                v1_event(item)
            } else {
                item
            })
        })
        .collect();
    app.conformance.note(
        &sender,
        Note::StreamRead {
            stream: id.to_string(),
            last_event_id: query.get("lastEventId").map(|_| last),
            returned: batch.events.iter().map(|e| e.id).collect(),
            accepted_with_iun: items
                .iter()
                .any(|i| i["newStatus"] == "ACCEPTED" && i["iun"].is_string()),
            too_early: false,
        },
        real,
    );
    let wait = if batch.more {
        0
    } else {
        app.config.stream_retry_after_ms
    };
    let s = find(store, &sender, id)?;
    s.not_before = Some(real + Duration::from_millis(wait));
    let reply = json_reply(StatusCode::OK, Value::Array(items))?;
    Ok(with_retry_after(reply, wait))
}

/// The stream routes of one version.
fn version_routes(v: Version) -> Router<Shared> {
    let base = spec_path(v, "");
    let routes = Router::new()
        .route(
            &base,
            post(move |State(app): State<Shared>, h: HeaderMap, b: Bytes| async move {
                finish(v, "", "post", create(&app, &h, &b, v).await).await
            })
            .get(move |State(app): State<Shared>, h: HeaderMap| async move {
                finish(v, "", "get", list(&app, &h).await).await
            }),
        )
        .route(
            &format!("{base}/{{id}}"),
            get(
                move |State(app): State<Shared>, h: HeaderMap, Path(id): Path<String>| async move {
                    finish(v, "/{streamId}", "get", retrieve(&app, &h, &id, v).await).await
                },
            )
            .put(
                move |State(app): State<Shared>,
                      h: HeaderMap,
                      Path(id): Path<String>,
                      b: Bytes| async move {
                    finish(v, "/{streamId}", "put", update(&app, &h, &id, &b, v).await).await
                },
            )
            .delete(
                move |State(app): State<Shared>, h: HeaderMap, Path(id): Path<String>| async move {
                    remove(&app, &h, &id, v).await
                },
            ),
        )
        .route(
            &format!("{base}/{{id}}/events"),
            get(
                move |State(app): State<Shared>,
                      h: HeaderMap,
                      Path(id): Path<String>,
                      uri: Uri| async move {
                    finish(v, "/{streamId}/events", "get", consume(&app, &h, &id, &uri, v).await).await
                },
            ),
        );
    // The first API has no disable action.
    if v.path.is_empty() {
        return routes;
    }
    routes.route(
        &format!("{base}/{{id}}/action/disable"),
        post(
            move |State(app): State<Shared>, h: HeaderMap, Path(id): Path<String>| async move {
                finish(
                    v,
                    "/{streamId}/action/disable",
                    "post",
                    disable(&app, &h, &id, v).await,
                )
                .await
            },
        ),
    )
}

/// Every stream route: v2.9, v2.3, and the first API and v2.4 to v2.8 by projection.
pub fn routes() -> Router<Shared> {
    PROJECTED
        .into_iter()
        .chain([V1])
        .fold(version_routes(V29).merge(version_routes(V23)), |r, v| {
            r.merge(version_routes(v))
        })
}
