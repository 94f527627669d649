//! The SEND side through the providers (`--external-channel URL`): a notification's
//! first legal PEC and first registered letter of each recipient are sent over HTTP to an
//! External Channel (the mock's own, or a real provider's), and what the provider
//! reports decides the outcome. Until it does, the notification's timeline stops at
//! that send (a hold); the provider's final event then forces the recipient's outcome in
//! the model (every PEC attempt delivered or not; every letter ending that way, that long
//! after posting), the timeline is computed again from it, and goes on.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sim::model::Category;

use crate::server::{App, Shared};
use crate::store::Record;

/// Which send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Pec,
    Paper,
}

/// One send handed to the provider, and where it stands.
#[derive(Debug, Clone)]
pub struct Relay {
    pub iun: String,
    /// The SEND element id, which is also the provider's requestId (with
    /// `.RETRY_n` after `n` retryable errors).
    pub element_id: String,
    /// Retryable errors (C008, C010) so far, and the simulated instant of the next send.
    pub retries: u32,
    pub retry_at: Option<i64>,
    pub recipient: usize,
    pub channel: Channel,
    /// Sent to the provider (else due when the clock reaches the element).
    pub sent: bool,
    pub done: bool,
    /// No HTTP exchange before this instant (after a failure).
    pub not_before: Option<Instant>,
    pub failures: u32,
}

/// The sends of `record` the provider handles that `known` does not hold yet: the
/// first legal PEC and the first letter of each recipient.
fn untracked(record: &Record, known: &[(usize, Channel)]) -> Vec<Relay> {
    let mut seen: Vec<(usize, Channel)> = known.to_vec();
    let mut out = Vec::new();
    for (e, id) in record.elements.iter().zip(record.element_ids()) {
        let channel = match e.category {
            Category::SendDigitalDomicile => Channel::Pec,
            Category::SendAnalogDomicile => Channel::Paper,
            _ => continue,
        };
        let rec = e.details.rec_index.unwrap_or(0) as usize;
        if !seen.contains(&(rec, channel)) {
            seen.push((rec, channel));
            out.push(Relay {
                iun: record.iun.clone(),
                element_id: id.to_string(),
                recipient: rec,
                channel,
                retries: 0,
                retry_at: None,
                sent: false,
                done: false,
                not_before: None,
                failures: 0,
            });
        }
    }
    out
}

/// The timeline is held after the earliest send still waiting for its provider.
fn hold_at_first_waiting(record: &mut Record, relays: &[Relay]) {
    let first = record
        .element_ids()
        .find(|id| {
            relays
                .iter()
                .any(|r| r.iun == record.iun && !r.done && id.is(&r.element_id))
        })
        .map(|id| id.to_string());
    record.set_hold(first);
}

/// A new record's sends for the provider; its timeline is held at the first.
pub fn track(record: &mut Record) -> Vec<Relay> {
    let out = untracked(record, &[]);
    hold_at_first_waiting(record, &out);
    out
}

fn path(channel: Channel, id: &str) -> String {
    match channel {
        Channel::Pec => {
            format!("/external-channels/v1/digital-deliveries/legal-full-message-requests/{id}")
        }
        Channel::Paper => format!("/external-channels/v1/paper-deliveries-engagements/{id}"),
    }
}

/// The provider's request for a send, from the notification's request.
fn body(app: &App, r: &Record, relay: &Relay) -> Option<Value> {
    let request = r.request_value();
    let rec = &request["recipients"][relay.recipient];
    let at = r
        .element_index(&relay.element_id)
        .map(|i| r.elements[i].clone())?;
    let stamp = crate::render::iso(&app.clock, at.at);
    Some(match relay.channel {
        Channel::Pec => {
            let address = rec["digitalDomicile"]["address"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| {
                    format!(
                        "{}@pec.sendmock.local",
                        rec["taxId"]
                            .as_str()
                            .unwrap_or("recipient")
                            .to_ascii_lowercase()
                    )
                });
            json!({
                "requestId": relay.element_id,
                "eventType": "DIGITAL_LEGAL",
                "qos": "BATCH",
                "clientRequestTimeStamp": stamp,
                "channel": "PEC",
                "receiverDigitalAddress": address,
                "messageText": format!("Notifica {}", r.iun),
                "subjectText": format!("SEND notifica {}", r.iun),
                "messageContentType": "text/plain",
            })
        }
        Channel::Paper => {
            let a = &rec["physicalAddress"];
            let product = match at.details.product_type {
                Some(sim::prices::Product::R890) => "890",
                Some(sim::prices::Product::Rs) => "RS",
                Some(sim::prices::Product::Rir) => "RIR",
                Some(sim::prices::Product::Ris) => "RIS",
                _ => "AR",
            };
            json!({
                "iun": r.iun,
                "requestId": relay.element_id,
                "requestSenderId": "pn-delivery-push",
                "requestPAId": r.sender,
                "clientRequestTimeStamp": stamp,
                "eventType": "PN_EXTERNAL_CHANNEL",
                "productType": product,
                "attachments": [{
                    "uri": format!("safestorage://PN_AAR-{}.pdf", r.iun),
                    "order": 0,
                    "documentType": "AAR",
                    "sha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
                }],
                "printType": "BN_FRONTE_RETRO",
                "receiverName": rec["denomination"],
                "receiverAddress": a["address"],
                "receiverCap": a["zip"].as_str().unwrap_or(""),
                "receiverCity": a["municipality"],
                "receiverPr": a["province"].as_str().unwrap_or(""),
                "senderName": request["senderDenomination"],
                "senderAddress": "Piazza Colonna 370",
                "senderCity": "Roma",
                "senderPr": "RM",
            })
        }
    })
}

/// PEC errors SEND sends again (after `PEC_RETRY_SECONDS`), as production's workflow
/// classifies them; the other errors are final.
pub const PEC_RETRYABLE: [&str; 2] = ["C008", "C010"];
pub const PEC_RETRY_SECONDS: i64 = 600;

/// The request id of a send's `n`-th try.
fn request_id(element_id: &str, retries: u32) -> String {
    if retries == 0 {
        element_id.to_string()
    } else {
        format!("{element_id}.RETRY_{retries}")
    }
}

/// What a provider's events say.
enum Answer {
    Pending,
    Retry,
    Final(sim::model::Forced),
}

/// What the provider's events so far decide.
fn outcome(channel: Channel, events: &[Value], posted_at: i64, app: &App) -> Answer {
    decide(channel, events, posted_at, app).unwrap_or(Answer::Pending)
}

fn decide(channel: Channel, events: &[Value], posted_at: i64, app: &App) -> Option<Answer> {
    let last = events.last()?;
    match channel {
        Channel::Pec => {
            let code = last["eventCode"].as_str()?;
            if PEC_RETRYABLE.contains(&code) {
                return Some(Answer::Retry);
            }
            match crate::channels::outcomes::digital_status(code) {
                "OK" => Some(Answer::Final(sim::model::Forced {
                    pec: Some(true),
                    paper: None,
                })),
                "ERROR" => Some(Answer::Final(sim::model::Forced {
                    pec: Some(false),
                    paper: None,
                })),
                _ => None,
            }
        }
        Channel::Paper => {
            let code = last["statusCode"].as_str()?;
            let cause = events
                .iter()
                .rev()
                .find_map(|e| e["deliveryFailureCause"].as_str());
            let discovery = events.iter().any(|e| e["discoveredAddress"].is_object());
            let fate = crate::request::fate_of_code(code, cause, discovery)?;
            let at: chrono::DateTime<chrono::Utc> =
                last["statusDateTime"].as_str()?.parse().ok()?;
            let delay = (app.clock.tick_of(at) - posted_at).max(1);
            Some(Answer::Final(sim::model::Forced {
                pec: None,
                paper: Some((fate, delay)),
            }))
        }
    }
}

/// Sends what is due and reads what was sent, until the runtime stops.
pub async fn relay_loop(app: Shared, base: String) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client");
    let base = base.trim_end_matches('/').to_string();
    loop {
        step(&app, &http, &base).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn step(app: &App, http: &reqwest::Client, base: &str) {
    let now = app.clock.now();
    let real = Instant::now();
    let work: Vec<(usize, Relay)> = {
        let mut relays = app.relays();
        // Decided sends are forgotten with their notification (a decided one still
        // tells a later release which channels were decided); indexes are taken afresh
        // each step. Lock order: relays, then store.
        if relays.len() > 1024 && relays.iter().filter(|r| r.done).count() * 2 > relays.len() {
            let store = app.store();
            relays.retain(|r| !r.done || store.by_iun.contains_key(&r.iun));
        }
        relays
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.done && r.not_before.is_none_or(|t| t <= real))
            .map(|(i, r)| (i, r.clone()))
            .collect()
    };
    for (k, relay) in work {
        // The record's current state (its send element's instant, its request). The
        // store's lock is let go before the relays' is taken (that order only, always).
        let found = {
            let store = app.store();
            store.by_iun.get(&relay.iun).map(|&i| {
                let r = &store.records[i];
                r.element_index(&relay.element_id).map(|x| {
                    (
                        r.elements[x].at <= now,
                        body(app, r, &relay),
                        r.elements[x].at,
                    )
                })
            })
        };
        let (due, body, posted_at) = match found {
            // The notification is gone.
            None => {
                app.relays()[k].done = true;
                continue;
            }
            // The send no longer happens (a payment or cancellation stopped it).
            Some(None) => {
                app.relays()[k].done = true;
                release(app, &relay, None);
                continue;
            }
            Some(Some(x)) => x,
        };
        if !due || relay.retry_at.is_some_and(|t| t > now) {
            continue;
        }
        let id = request_id(&relay.element_id, relay.retries);
        let url = format!("{base}{}", path(relay.channel, &id));
        let body = body.map(|mut b| {
            b["requestId"] = json!(id);
            b
        });
        let ok = if !relay.sent {
            let sent = http
                .put(&url)
                .header("x-pagopa-extch-cx-id", "pn-delivery-push")
                .json(&body)
                .send()
                .await;
            // 409: sent before (e.g. by a previous run): it stands.
            let ok = sent
                .as_ref()
                .is_ok_and(|s| s.status().is_success() || s.status().as_u16() == 409);
            if ok {
                app.relays()[k].sent = true;
            }
            ok
        } else {
            let events = read_events(http, base, &url, &id).await;
            match events {
                Some(events) => {
                    match outcome(relay.channel, &events, posted_at, app) {
                        Answer::Pending => {}
                        Answer::Retry => {
                            // Sent again, under a new request id, after the retry delay.
                            let mut relays = app.relays();
                            let r = &mut relays[k];
                            r.retries += 1;
                            r.sent = false;
                            r.retry_at = Some(now + PEC_RETRY_SECONDS);
                        }
                        Answer::Final(forced) => {
                            app.relays()[k].done = true;
                            release(app, &relay, Some(forced));
                        }
                    }
                    true
                }
                None => false,
            }
        };
        let mut relays = app.relays();
        let r = &mut relays[k];
        if ok {
            r.failures = 0;
            r.not_before = None;
        } else {
            r.failures += 1;
            r.not_before =
                Some(Instant::now() + crate::channels::consolidator::backoff(r.failures));
            tracing::warn!(request = %relay.element_id, "the External Channel did not answer; retrying");
        }
    }
}

/// Every event of a provider request so far: the mock's own list when the provider is a
/// sendmock, else the latest event the contract's GET returns.
async fn read_events(
    http: &reqwest::Client,
    base: &str,
    url: &str,
    id: &str,
) -> Option<Vec<Value>> {
    let all = http
        .get(format!("{base}/mock/channels/requests/{id}/events"))
        .send()
        .await
        .ok()?;
    if all.status().is_success() {
        let v: Value = all.json().await.ok()?;
        return v["events"].as_array().cloned();
    }
    let latest = http
        .get(url)
        .header("x-pagopa-extch-cx-id", "pn-delivery-push")
        .send()
        .await
        .ok()?;
    match latest.status().as_u16() {
        200 => Some(vec![latest.json().await.ok()?]),
        // No event yet.
        404 => Some(Vec::new()),
        _ => None,
    }
}

/// The provider has decided (or the send went away): the recipient's outcome is forced,
/// the timeline computed again, its new sends handed to the provider, and held at the
/// next send still waiting, if any.
fn release(app: &App, relay: &Relay, forced: Option<sim::model::Forced>) {
    let mut relays = app.relays();
    let mut store = app.store();
    let Some(&i) = store.by_iun.get(&relay.iun) else {
        return;
    };
    let r = &mut store.records[i];
    if let (Some(f), Some(input)) = (forced, r.input.as_mut()) {
        let p = &mut input.recipients[relay.recipient].forced;
        if f.pec.is_some() {
            p.pec = f.pec;
        }
        if f.paper.is_some() {
            p.paper = f.paper;
        }
    }
    r.set_hold(None);
    r.recompute(&app.model);
    let known: Vec<(usize, Channel)> = relays
        .iter()
        .filter(|x| x.iun == relay.iun)
        .map(|x| (x.recipient, x.channel))
        .collect();
    let new = untracked(r, &known);
    relays.extend(new);
    hold_at_first_waiting(r, &relays);
    store.recomputed(i);
}
