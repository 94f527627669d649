//! JSON views of a notification in the bundle's schemas: timeline elements with the
//! details of their category, the status history, the detail, the request status and
//! the price.

use chrono::SecondsFormat;
use serde_json::{Map, Value, json};
use sim::model::timeline::{AddressSource, Category, DigitalChannel, TimelineElement};
use sim::model::{Model, outcome::RecipientOutcome};

use crate::clock::SimClock;
use crate::store::Record;

pub fn iso(clock: &SimClock, tick: i64) -> String {
    clock
        .to_utc(tick)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The physical address a detail reports: the request's, as sent.
fn physical_address(r: &Record, rec: usize) -> Value {
    let a = &r.request["recipients"][rec]["physicalAddress"];
    if a.is_object() {
        a.clone()
    } else {
        json!({ "address": "-", "municipality": "-" })
    }
}

/// The PEC address of a source: the special domicile from the request; for the
/// platform and registry domiciles, which SEND finds on its own, a stand-in address.
fn digital_address(r: &Record, rec: usize, source: Option<AddressSource>) -> Value {
    let special = r.request["recipients"][rec]["digitalDomicile"]["address"].as_str();
    let tax = r.request["recipients"][rec]["taxId"]
        .as_str()
        .unwrap_or("recipient")
        .to_ascii_lowercase();
    let address = match (source, special) {
        (Some(AddressSource::Special), Some(a)) => a.to_string(),
        (Some(AddressSource::Platform), _) => format!("{tax}@send.pec.example"),
        _ => format!("{tax}@registry.pec.example"),
    };
    json!({ "type": "PEC", "address": address })
}

fn service_level(r: &Record) -> Value {
    r.request["physicalCommunicationType"].clone()
}

fn recipient_type(r: &Record, rec: usize) -> Value {
    r.request["recipients"][rec]["recipientType"].clone()
}

/// The details object of one element, in its category's schema.
fn details(r: &Record, i: usize, e: &TimelineElement, clock: &SimClock) -> Value {
    let d = &e.details;
    let rec = d.rec_index.unwrap_or(0) as usize;
    let at = iso(clock, e.at);
    let sched = d.scheduled_at.map(|t| iso(clock, t));
    let mut m = Map::new();
    if let Some(x) = d.rec_index {
        m.insert("recIndex".into(), json!(x));
    }
    let mut put = |k: &str, v: Value| {
        m.insert(k.into(), v);
    };
    let legal = r.legal_keys.get(i).cloned().flatten();
    let source = d.digital_address_source;
    // The last PEC source attempted for this recipient, for elements that report it.
    let last_source = r.elements[..=i]
        .iter()
        .rev()
        .filter(|x| x.details.rec_index == d.rec_index)
        .find_map(|x| x.details.digital_address_source);
    use Category::*;
    match e.category {
        SenderAckCreationRequest => {
            let key = r
                .legal_keys
                .iter()
                .flatten()
                .next()
                .cloned()
                .unwrap_or_default();
            put("legalFactId", json!(key));
        }
        RequestAccepted => {
            put("notificationRequestId", json!(r.request_id));
            put("paProtocolNumber", r.request["paProtocolNumber"].clone());
            if let Some(t) = r.request["idempotenceToken"].as_str() {
                put("idempotenceToken", json!(t));
            }
        }
        RequestRefused => {
            put("notificationRequestId", json!(r.request_id));
            put("paProtocolNumber", r.request["paProtocolNumber"].clone());
            put(
                "refusalReasons",
                Value::Array(
                    r.refusal
                        .iter()
                        .map(|f| {
                            let mut o = json!({ "errorCode": f.code, "detail": f.detail });
                            if let Some(k) = f.rec_index {
                                o["recIndex"] = json!(k);
                            }
                            o
                        })
                        .collect(),
                ),
            );
        }
        AarGeneration => {
            put(
                "generatedAarUrl",
                json!(format!(
                    "safestorage://PN_AAR-0002-{}",
                    &r.iun.replace('-', "")
                )),
            );
            put("numberOfPages", json!(1));
        }
        SendCourtesyMessage => {
            let (kind, address) = match d.channel {
                Some(DigitalChannel::Appio) => ("APPIO", "".to_string()),
                Some(DigitalChannel::Sms) => ("SMS", "+39***".to_string()),
                _ => ("EMAIL", "***@***".to_string()),
            };
            put(
                "digitalAddress",
                json!({ "type": kind, "address": address }),
            );
            put("sendDate", json!(at));
            if kind == "APPIO" {
                put("ioSendMessageResult", json!("SENT_COURTESY"));
            }
        }
        GetAddress => {
            put("digitalAddressSource", json!(source.map(|s| s.as_str())));
            put("isAvailable", json!(d.is_available.unwrap_or(false)));
            put("attemptDate", json!(at));
        }
        PublicRegistryCall => {
            put("deliveryMode", json!("DIGITAL"));
            put("contactPhase", json!("CHOOSE_DELIVERY"));
            put("sentAttemptMade", json!(0));
            put("sendDate", json!(at));
        }
        PublicRegistryResponse => {}
        ScheduleDigitalWorkflow => {
            put("digitalAddressSource", json!(source.map(|s| s.as_str())));
            put("sentAttemptMade", json!(1));
            put("lastAttemptDate", json!(at));
            if let Some(s) = sched {
                put("schedulingDate", json!(s));
            }
            put("digitalAddress", digital_address(r, rec, source));
        }
        SendDigitalDomicile => {
            put("digitalAddress", digital_address(r, rec, source));
            put("digitalAddressSource", json!(source.map(|s| s.as_str())));
            put("retryNumber", json!(d.sent_attempt_made.unwrap_or(0)));
        }
        SendDigitalProgress | SendDigitalFeedback => {
            put("digitalAddress", digital_address(r, rec, source));
            if let Some(c) = d.delivery_detail_code {
                put("deliveryDetailCode", json!(c));
            }
            put("notificationDate", json!(at));
            put(
                "sendingReceipts",
                json!([{ "id": format!("{}@pec.mock", &r.element_ids[i].len()), "system": "mock-pec" }]),
            );
            if e.category == SendDigitalProgress {
                put("digitalAddressSource", json!(source.map(|s| s.as_str())));
                put("retryNumber", json!(d.sent_attempt_made.unwrap_or(0)));
                put("shouldRetry", json!(false));
            } else {
                put("responseStatus", json!(d.response_status));
            }
        }
        DigitalDeliveryCreationRequest => {
            put("digitalAddress", digital_address(r, rec, last_source));
            put("endWorkflowStatus", json!(d.end_workflow_status));
            put("completionWorkflowDate", json!(at));
        }
        DigitalSuccessWorkflow => {
            put("digitalAddress", digital_address(r, rec, last_source));
        }
        DigitalFailureWorkflow => {}
        PrepareSimpleRegisteredLetter | PrepareAnalogDomicile => {
            put("physicalAddress", physical_address(r, rec));
            if e.category == PrepareAnalogDomicile {
                put("serviceLevel", service_level(r));
                put("sentAttemptMade", json!(d.sent_attempt_made.unwrap_or(0)));
            }
        }
        SendSimpleRegisteredLetter | SendAnalogDomicile => {
            put("physicalAddress", physical_address(r, rec));
            put("analogCost", json!(d.analog_cost));
            put("envelopeWeight", json!(d.envelope_weight));
            put("numberOfPages", json!(d.number_of_pages));
            put("productType", json!(d.product_type.map(|p| p.code())));
            if e.category == SendAnalogDomicile {
                put("serviceLevel", service_level(r));
                put("sentAttemptMade", json!(d.sent_attempt_made.unwrap_or(0)));
            }
        }
        SendSimpleRegisteredLetterProgress | SendAnalogProgress => {
            if let Some(c) = d.delivery_detail_code {
                put("deliveryDetailCode", json!(c));
            }
            if let Some(c) = d.delivery_failure_cause {
                put("deliveryFailureCause", json!(c));
            }
            put("notificationDate", json!(at));
            put(
                "registeredLetterCode",
                json!(format!("RL{}{}", rec, d.letter.unwrap_or(0))),
            );
            if e.category == SendAnalogProgress {
                put("serviceLevel", service_level(r));
            }
            if let Some(key) = &legal {
                put(
                    "attachments",
                    json!([{ "id": key, "documentType": "AR", "url": format!("safestorage://{key}"), "date": at }]),
                );
            }
        }
        SendAnalogFeedback => {
            put("physicalAddress", physical_address(r, rec));
            put("serviceLevel", service_level(r));
            put("sentAttemptMade", json!(d.sent_attempt_made.unwrap_or(0)));
            put("responseStatus", json!(d.response_status));
            if let Some(c) = d.delivery_detail_code {
                put("deliveryDetailCode", json!(c));
            }
            if let Some(c) = d.delivery_failure_cause {
                put("deliveryFailureCause", json!(c));
            }
            put("notificationDate", json!(sched.unwrap_or(at)));
            put(
                "registeredLetterCode",
                json!(format!("RL{}{}", rec, d.letter.unwrap_or(0))),
            );
        }
        ProbableSchedulingAnalogDate => {
            put("schedulingAnalogDate", json!(sched));
        }
        ScheduleAnalogWorkflow | ScheduleRefinement => {
            if let Some(s) = sched {
                put("schedulingDate", json!(s));
            }
        }
        PrepareAnalogDomicileFailure => {
            if let Some(c) = d.delivery_failure_cause {
                put("failureCause", json!(c));
            }
        }
        AnalogSuccessWorkflow => {
            put("physicalAddress", physical_address(r, rec));
        }
        AnalogFailureWorkflow => {
            put(
                "generatedAarUrl",
                json!(format!(
                    "safestorage://PN_AAR-0002-{}",
                    &r.iun.replace('-', "")
                )),
            );
        }
        CompletelyUnreachableCreationRequest => {
            put("endWorkflowStatus", json!("FAILURE"));
            put("completionWorkflowDate", json!(at));
        }
        CompletelyUnreachable => {
            put("legalFactGenerationDate", json!(at));
        }
        AnalogWorkflowRecipientDeceased => {
            put("physicalAddress", physical_address(r, rec));
            put("notificationCost", json!(d.notification_cost));
        }
        Refinement => {
            put("eventTimestamp", json!(sched.unwrap_or(at)));
            put("notificationCost", json!(d.notification_cost));
        }
        NotificationViewedCreationRequest => {
            put("eventTimestamp", json!(at));
        }
        NotificationViewed => {
            put("eventTimestamp", json!(at));
            put("notificationCost", json!(d.notification_cost));
        }
        Payment => {
            put("recipientType", recipient_type(r, rec));
            put("paymentSourceChannel", json!("PA"));
            put("amount", json!(d.amount));
            put("eventTimestamp", json!(at));
            if let Some(p) = r.request["recipients"][rec]["payments"][0]["pagoPa"].as_object() {
                put("creditorTaxId", p["creditorTaxId"].clone());
                put("noticeCode", p["noticeCode"].clone());
            }
        }
        NotificationCancellationRequest => {
            put(
                "cancellationRequestId",
                json!(format!("{}-cancel", r.request_id)),
            );
        }
        NotificationCancelled => {
            put("notificationCost", json!(d.notification_cost.unwrap_or(0)));
            let not_refined: Vec<usize> = r
                .outcomes
                .iter()
                .enumerate()
                .filter(|(_, o)| o.end == sim::model::outcome::WorkflowEnd::Cancelled)
                .map(|(k, _)| k)
                .collect();
            put("notRefinedRecipientIndexes", json!(not_refined));
        }
    }
    Value::Object(m)
}

/// One `TimelineElementV28`.
pub fn element(r: &Record, i: usize, clock: &SimClock) -> Value {
    let e = &r.elements[i];
    let at = iso(clock, e.at);
    let legal: Vec<Value> = match (&r.legal_keys.get(i).cloned().flatten(), e.legal_fact) {
        (Some(key), Some(cat)) => vec![json!({ "key": key, "category": cat })],
        _ => Vec::new(),
    };
    json!({
        "elementId": r.element_ids[i],
        "timestamp": at,
        "ingestionTimestamp": at,
        "eventTimestamp": at,
        "notificationSentAt": iso(clock, r.sent_at),
        "legalFactsIds": legal,
        "category": e.category.as_str(),
        "details": details(r, i, e, clock),
    })
}

/// `notificationStatusHistory` and the current status at `now`.
pub fn history(r: &Record, now: i64, clock: &SimClock) -> (Value, &'static str) {
    let h = r.history(now);
    let status = h.last().map_or("IN_VALIDATION", |c| c.status.as_str());
    let items = h
        .iter()
        .map(|c| {
            json!({
                "status": c.status.as_str(),
                "activeFrom": iso(clock, c.active_from),
                "relatedTimelineElements": c.related.iter().map(|k| &r.element_ids[*k]).collect::<Vec<_>>(),
            })
        })
        .collect();
    (Value::Array(items), status)
}

/// `FullSentNotificationV29`: the request as sent, plus what SEND adds.
pub fn detail(r: &Record, now: i64, clock: &SimClock) -> Value {
    let mut v = r.request.clone();
    let visible = r.visible(now);
    let (history, status) = history(r, now, clock);
    v["iun"] = json!(r.iun);
    v["senderPaId"] = json!(format!("mock-pa-{}", r.sender));
    v["sentAt"] = json!(iso(clock, r.sent_at));
    v["documentsAvailable"] = json!(true);
    v["notificationStatus"] = json!(status);
    v["notificationStatusHistory"] = history;
    v["timeline"] = Value::Array((0..visible).map(|i| element(r, i, clock)).collect());
    v
}

/// `NewNotificationRequestStatusResponseV26` at `now`.
pub fn request_status(r: &Record, now: i64, clock: &SimClock) -> Value {
    let mut v = r.request.clone();
    v["notificationRequestId"] = json!(r.request_id);
    if now < r.validated_at {
        v["notificationRequestStatus"] = json!("WAITING");
        v["retryAfter"] = json!(clock.real_seconds_until(r.validated_at).ceil().max(1.0) as i64);
    } else if r.accepted() {
        v["notificationRequestStatus"] = json!("ACCEPTED");
        v["iun"] = json!(r.iun);
    } else {
        v["notificationRequestStatus"] = json!("REFUSED");
        v["errors"] = Value::Array(
            r.refusal
                .iter()
                .map(|f| {
                    let mut o = json!({ "code": f.code, "element": "", "detail": f.detail });
                    if let Some(k) = f.rec_index {
                        o["recIndex"] = json!(k);
                    }
                    o
                })
                .collect(),
        );
    }
    v
}

/// `NotificationPriceResponseV23` for one recipient, as the cost stands at `now`.
pub fn price(
    model: &Model,
    r: &Record,
    rec: usize,
    apply_cost: bool,
    now: i64,
    clock: &SimClock,
) -> Value {
    let input = r.input.as_ref().expect("accepted notification");
    let o: &RecipientOutcome = &r.outcomes[rec];
    let analog = o.analog_cost_until(now);
    let terms = &input.terms;
    let cost = sim::prices::recipient_cost(
        terms.fee_policy == sim::scenario::FeePolicy::DeliveryMode && apply_cost,
        model.scenario.prices.send_fee_cents,
        analog,
        terms.pa_fee_cents,
        terms.vat_percent,
    );
    let mut v = json!({
        "iun": r.iun,
        "partialPrice": cost.partial_price,
        "totalPrice": cost.total_price,
        "vat": cost.vat,
        "paFee": cost.pa_fee,
        "sendFee": cost.send_fee,
        "analogCost": cost.analog_cost,
    });
    if let Some(t) = o.refined_at.filter(|t| *t <= now) {
        v["refinementDate"] = json!(iso(clock, t));
    }
    if let Some(t) = o.viewed_at.filter(|t| *t <= now) {
        v["notificationViewDate"] = json!(iso(clock, t));
    }
    v
}

/// `FullSentNotificationV23`, mapped from the current version as production's
/// versioning adapter does: categories v2.3 does not know are left out, the
/// RETURNED_TO_SENDER status reads as DELIVERED, elements keep the v2.3 fields.
pub fn detail_v23(r: &Record, now: i64, clock: &SimClock) -> Value {
    let mut v = detail(r, now, clock);
    let old_status = |s: &Value| -> Value {
        match s.as_str() {
            Some("RETURNED_TO_SENDER") => json!("DELIVERED"),
            _ => s.clone(),
        }
    };
    v["notificationStatus"] = old_status(&v["notificationStatus"]);
    if let Some(h) = v["notificationStatusHistory"].as_array_mut() {
        for e in h.iter_mut() {
            e["status"] = old_status(&e["status"]);
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("usedServices");
    }
    let timeline: Vec<Value> = v["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(element_v23)
        .collect();
    v["timeline"] = Value::Array(timeline);
    v
}

/// A `TimelineElementV28` as v2.3 knows it (`TimelineElementV23`), or `None` for a
/// category v2.3 does not have.
pub fn element_v23(e: &Value) -> Option<Value> {
    if e["category"] == "ANALOG_WORKFLOW_RECIPIENT_DECEASED" {
        return None;
    }
    Some(json!({
        "elementId": e["elementId"],
        "timestamp": e["timestamp"],
        "legalFactsIds": e["legalFactsIds"],
        "category": e["category"],
        "details": e["details"],
    }))
}
