//! Restart without loss (`--state FILE`): the mock's state written as one JSON
//! snapshot, atomically (a temporary file synced, then renamed over the old one), on
//! shutdown and every few seconds; a restart with the same file resumes every
//! notification, upload, stream and its cursor, provider request, and the clock.
//!
//! A notification is saved as what it was built from (request, instants, the model's
//! stream key, the reported payments and cancellation); its timeline is computed again
//! on restore by the same model, which is why the scenario, seed and time scale must be
//! the snapshot's (checked).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sim::rng::StreamKey;

use crate::channels::api::{Engagement, Request};
use crate::channels::outcomes::{Event as ChannelEvent, Kind};
use crate::request::Refusal;
use crate::server::App;
use crate::store::{Record, Store, Upload};
use crate::streams::{Event, EventType, Stream};

pub const SCHEMA: &str = "sendmock-state/1";

#[derive(Debug, Serialize, Deserialize)]
pub struct Snapshot {
    pub schema: String,
    pub scenario_hash: String,
    pub seed: u64,
    /// RFC 3339.
    pub epoch: String,
    pub scale: f64,
    /// The simulated clock when the snapshot was taken.
    pub tick: i64,
    store: StoreSnap,
    channels: ChannelsSnap,
}

#[derive(Debug, Serialize, Deserialize)]
struct UploadSnap {
    key: String,
    owner: String,
    secret: String,
    sha256: String,
    content_type: String,
    version: Option<String>,
    /// Base64.
    data: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct RecordSnap {
    index: usize,
    request_id: String,
    iun: String,
    sender: String,
    api_version: String,
    request: Box<serde_json::value::RawValue>,
    sent_at: i64,
    validated_at: i64,
    /// (code, detail, recipient).
    refusal: Vec<(String, String, Option<usize>)>,
    key: (u64, u32, u64),
    cancelled_at: Option<i64>,
    /// Per recipient, a payment the sender reported.
    reported_payments: Vec<Option<i64>>,
    logged: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct StreamSnap {
    id: String,
    sender: String,
    title: String,
    event_type: String,
    filter_values: Vec<String>,
    groups: Vec<String>,
    wait_for_accepted: bool,
    version: String,
    activated: i64,
    disabled: Option<i64>,
    after: u64,
    acked: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct EventSnap {
    id: u64,
    record: usize,
    element: usize,
    at: i64,
    logged_at: i64,
    status: String,
    status_changed: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoreSnap {
    uploads: Vec<UploadSnap>,
    records: Vec<RecordSnap>,
    gpd: Vec<(String, String)>,
    ids: u64,
    streams: Vec<StreamSnap>,
    events: Vec<EventSnap>,
    events_logged: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct ChannelEventSnap {
    at: i64,
    code: String,
    fail_cause: Option<String>,
    docs: Vec<String>,
    discovered: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ChannelRequestSnap {
    id: String,
    kind: String,
    client: String,
    body: Value,
    events: Vec<ChannelEventSnap>,
    /// Consolidator engagements: events pushed so far (`None` for External Channel).
    pushed: Option<usize>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ChannelsSnap {
    requests: Vec<ChannelRequestSnap>,
    sends: Vec<(String, usize)>,
    drawn: u64,
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Legal => "LEGAL",
        Kind::Mail => "MAIL",
        Kind::Sms => "SMS",
        Kind::Paper => "PAPER",
    }
}

fn kind_of(s: &str) -> Result<Kind, String> {
    Ok(match s {
        "LEGAL" => Kind::Legal,
        "MAIL" => Kind::Mail,
        "SMS" => Kind::Sms,
        "PAPER" => Kind::Paper,
        other => return Err(format!("unknown request kind {other:?}")),
    })
}

/// A `&'static str` of `known` equal to `s`.
fn interned(s: &str, known: &[&'static str], what: &str) -> Result<&'static str, String> {
    known
        .iter()
        .find(|k| **k == s)
        .copied()
        .ok_or_else(|| format!("unknown {what} {s:?}"))
}

const STATUSES: [&str; 10] = [
    "IN_VALIDATION",
    "ACCEPTED",
    "REFUSED",
    "DELIVERING",
    "DELIVERED",
    "VIEWED",
    "EFFECTIVE_DATE",
    "UNREACHABLE",
    "CANCELLED",
    "RETURNED_TO_SENDER",
];

fn channel_event(e: &ChannelEvent) -> ChannelEventSnap {
    ChannelEventSnap {
        at: e.at,
        code: e.code.clone(),
        fail_cause: e.fail_cause.clone(),
        docs: e.docs.clone(),
        discovered: e.discovered.clone(),
    }
}

fn channel_request(id: &str, r: &Request, pushed: Option<usize>) -> ChannelRequestSnap {
    ChannelRequestSnap {
        id: id.to_string(),
        kind: kind_name(r.kind).into(),
        client: r.client.clone(),
        body: r.body.clone(),
        events: r.events.iter().map(channel_event).collect(),
        pushed,
    }
}

/// The state as it is now (the store's lock is held only while its parts are copied;
/// notifications are shared, not copied).
pub fn take(app: &App) -> Snapshot {
    let (records, uploads, mut snap) = {
        let store = app.store();
        let records: Vec<(usize, Arc<Record>)> = store.records.indexed().collect();
        // Copied under the lock, encoded after it.
        let uploads: Vec<(String, Upload)> = store
            .upload_keys()
            .filter_map(|k| store.uploads.get(k).map(|u| (k.clone(), u.clone())))
            .collect();
        // In a fixed order: the same state gives the same file.
        let mut gpd: Vec<(String, String)> = store.gpd.iter().cloned().collect();
        gpd.sort_unstable();
        let snap = StoreSnap {
            uploads: Vec::new(),
            records: Vec::new(),
            gpd,
            ids: store.ids,
            streams: store
                .streams
                .iter()
                .map(|s| StreamSnap {
                    id: s.id.clone(),
                    sender: s.sender.clone(),
                    title: s.title.clone(),
                    event_type: s.event_type.as_str().into(),
                    filter_values: s.filter_values.clone(),
                    groups: s.groups.clone(),
                    wait_for_accepted: s.wait_for_accepted,
                    version: s.version.into(),
                    activated: s.activated,
                    disabled: s.disabled,
                    after: s.after,
                    acked: s.acked,
                })
                .collect(),
            events: store
                .log
                .events()
                .map(|e| EventSnap {
                    id: e.id,
                    record: e.record,
                    element: e.element,
                    at: e.at,
                    logged_at: e.logged_at,
                    status: e.status.into(),
                    status_changed: e.status_changed,
                })
                .collect(),
            events_logged: store.log.last_id(),
        };
        (records, uploads, snap)
    };
    snap.uploads = uploads
        .into_iter()
        .map(|(key, u)| UploadSnap {
            key,
            owner: u.owner,
            secret: u.secret,
            sha256: u.sha256,
            content_type: u.content_type,
            version: u.version,
            data: base64::engine::general_purpose::STANDARD.encode(&u.data),
        })
        .collect();
    snap.records = records
        .iter()
        .map(|(i, r)| RecordSnap {
            index: *i,
            request_id: r.request_id.clone(),
            iun: r.iun.clone(),
            sender: r.sender.clone(),
            api_version: r.api_version.into(),
            request: serde_json::value::RawValue::from_string(r.request_text().into())
                .expect("a stored request is JSON"),
            sent_at: r.sent_at,
            validated_at: r.validated_at,
            refusal: r
                .refusal
                .iter()
                .map(|x| (x.code.to_string(), x.detail.clone(), x.rec_index))
                .collect(),
            key: (r.key.seed, r.key.replication, r.key.notification),
            cancelled_at: r.input.as_ref().and_then(|i| i.cancelled_at),
            reported_payments: r
                .input
                .as_ref()
                .map(|i| i.recipients.iter().map(|p| p.reported_payment).collect())
                .unwrap_or_default(),
            logged: r.logged,
        })
        .collect();
    let channels = {
        let c = app.channels();
        let mut requests: Vec<ChannelRequestSnap> = c
            .requests_iter()
            .map(|(id, r)| channel_request(id, r, None))
            .collect();
        requests.sort_by(|a, b| a.id.cmp(&b.id));
        requests.extend(
            c.engagements
                .iter()
                .map(|(id, e)| channel_request(id, &e.request, Some(e.pushed))),
        );
        let mut sends: Vec<(String, usize)> =
            c.sends_iter().map(|(k, n)| (k.clone(), *n)).collect();
        sends.sort();
        ChannelsSnap {
            requests,
            sends,
            drawn: c.drawn(),
        }
    };
    Snapshot {
        schema: SCHEMA.into(),
        scenario_hash: app.model.scenario.hash(),
        seed: app.config.seed,
        epoch: app.clock.epoch().to_rfc3339(),
        scale: app.clock.scale(),
        tick: app.clock.now(),
        store: snap,
        channels,
    }
}

/// Writes `snapshot` to `path` so that a reader (or a crash) sees the old file or the
/// whole new one, never a part.
pub fn write(path: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer(std::io::BufWriter::new(tmp.as_file_mut()), snapshot)?;
    tmp.as_file_mut().flush()?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Reads a snapshot; `Ok(None)` when the file does not exist.
pub fn read(path: &Path) -> Result<Option<Snapshot>, String> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let s: Snapshot = serde_json::from_slice(&text)
        .map_err(|e| format!("{}: not a sendmock state file ({e})", path.display()))?;
    if s.schema != SCHEMA {
        return Err(format!(
            "{}: state schema {:?}, this sendmock reads {SCHEMA:?}",
            path.display(),
            s.schema
        ));
    }
    s.epoch_utc()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(s))
}

impl Snapshot {
    /// The clock's start.
    pub fn epoch_utc(&self) -> Result<DateTime<Utc>, String> {
        self.epoch
            .parse()
            .map_err(|e| format!("epoch {:?}: {e}", self.epoch))
    }
}

/// Puts a snapshot's state into a fresh app (whose clock already stands at the
/// snapshot's instant). The app must run the snapshot's scenario and seed.
pub fn restore(app: &App, s: Snapshot) -> Result<(), String> {
    if s.scenario_hash != app.model.scenario.hash() || s.seed != app.config.seed {
        return Err(
            "the state was saved with another scenario, seed or start: restart with the same --scenario and --seed (the clock's start and scale come from the state)".into(),
        );
    }
    let mut store = Store::with_capacity(app.config.max_notifications.unwrap_or(0));
    for u in s.store.uploads {
        let data = base64::engine::general_purpose::STANDARD
            .decode(&u.data)
            .map_err(|e| format!("upload {}: {e}", u.key))?;
        store.add_upload(
            u.key,
            Upload {
                owner: u.owner,
                secret: u.secret,
                sha256: u.sha256,
                content_type: u.content_type,
                version: u.version,
                data,
                refs: 0,
            },
            None,
        );
    }
    let mut records = s.store.records;
    records.sort_by_key(|r| r.index);
    for r in records {
        let refusal = r
            .refusal
            .into_iter()
            .map(|(code, detail, rec_index)| {
                Ok(Refusal {
                    code: interned(&code, &crate::request::REFUSAL_CODES, "refusal code")?,
                    detail,
                    rec_index,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let request: Value = serde_json::from_str(r.request.get())
            .map_err(|e| format!("the request of {}: {e}", r.iun))?;
        let key = StreamKey {
            seed: r.key.0,
            replication: r.key.1,
            notification: r.key.2,
        };
        let api_version = interned(
            &r.api_version,
            &["1", "2.1", "2.3", "2.4", "2.5", "2.6"],
            "API version",
        )?;
        let mut record = Record::new(
            &r.iun,
            &r.sender,
            api_version,
            key,
            r.sent_at,
            r.validated_at,
            refusal,
        )
        .with_timeline(&app.model, || {
            let mut input =
                crate::request::model_input(&app.model, &key, &request, r.sent_at, s.scale);
            input.cancelled_at = r.cancelled_at;
            for (p, paid) in input.recipients.iter_mut().zip(&r.reported_payments) {
                p.reported_payment = *paid;
            }
            input
        });
        record.request_id = r.request_id;
        record.set_request(&request);
        record.logged = r.logged.min(record.elements.len());
        store.insert_at(r.index, record, &request);
    }
    store.gpd = s.store.gpd.into_iter().collect();
    store.ids = s.store.ids;
    for st in s.store.streams {
        store.streams.push(Stream {
            id: st.id,
            sender: st.sender,
            title: st.title,
            event_type: EventType::parse(&st.event_type)
                .ok_or_else(|| format!("stream event type {:?}", st.event_type))?,
            filter_values: st.filter_values,
            groups: st.groups,
            wait_for_accepted: st.wait_for_accepted,
            version: interned(
                &st.version,
                &["v10", "v23", "v24", "v25", "v26", "v27", "v28", "v29"],
                "stream version",
            )?,
            activated: st.activated,
            disabled: st.disabled,
            after: st.after,
            acked: st.acked,
            not_before: None,
        });
    }
    let events = s
        .store
        .events
        .into_iter()
        .map(|e| {
            Ok(Event {
                id: e.id,
                record: e.record,
                element: e.element,
                at: e.at,
                logged_at: e.logged_at,
                status: interned(&e.status, &STATUSES, "status")?,
                status_changed: e.status_changed,
            })
        })
        .collect::<Result<VecDeque<_>, String>>()?;
    let streams = !store.streams.is_empty();
    store
        .log
        .restore(events, s.store.events_logged, &store.records, streams);
    *app.store() = store;

    let mut channels = crate::channels::api::Store::default();
    for r in s.channels.requests {
        let request = Request {
            kind: kind_of(&r.kind)?,
            client: r.client,
            body: r.body,
            events: r
                .events
                .into_iter()
                .map(|e| ChannelEvent {
                    at: e.at,
                    code: e.code,
                    fail_cause: e.fail_cause,
                    docs: e.docs,
                    discovered: e.discovered,
                })
                .collect(),
        };
        match r.pushed {
            Some(pushed) => {
                channels.engagements.insert(
                    r.id,
                    Engagement {
                        request,
                        pushed,
                        failures: 0,
                        retry_at: None,
                    },
                );
            }
            None => channels.insert_request(r.id, request),
        }
    }
    channels.restore_sends(s.channels.sends, s.channels.drawn);
    *app.channels() = channels;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_payment_positions_are_saved_in_the_same_order() {
        // Two apps hash their sets with different random keys: their files must agree.
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| {
            let app = App::new(
                sim::Scenario::builtin_default(),
                crate::clock::SimClock::new("2026-01-05T09:00:00Z".parse().unwrap(), 1.0),
                crate::server::Config::default(),
                "http://127.0.0.1:8080".into(),
            )
            .unwrap();
            for k in 0..64 {
                app.store()
                    .gpd
                    .insert(("80016350821".into(), format!("3020001{k:011}")));
            }
            let path = dir.path().join(name);
            write(&path, &take(&app)).unwrap();
            std::fs::read_to_string(path).unwrap()
        };
        let (a, b) = (file("a.json"), file("b.json"));
        assert!(a.contains("302000100000000063"));
        assert_eq!(a, b);
    }

    #[test]
    fn a_damaged_or_foreign_file_is_named_and_a_missing_one_is_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert!(read(&path).unwrap().is_none());
        std::fs::write(&path, b"{\"schema\": \"sendmock-state/1\", \"trunc").unwrap();
        let e = read(&path).unwrap_err();
        assert!(
            e.contains("state.json") && e.contains("not a sendmock state file"),
            "{e}"
        );
        std::fs::write(&path, b"{\"schema\": \"other/9\"}").unwrap();
        assert!(read(&path).is_err());
    }
}
