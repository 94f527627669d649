//! JSON views of a notification in the bundle's schemas: timeline elements with the
//! details of their category, the status history, the detail, the request status and
//! the price.
//!
//! The detail and stream events are written field by field into the response buffer
//! (`json_out`), the request status is a typed struct serialized there, and both copy
//! the request's fields from its stored text. The values elements quote from it
//! (addresses, protocol number, payment) are copied from the places noted when it was
//! stored (`request_text`); it is not parsed.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use sim::model::timeline::{
    AddressSource, Category, DigitalChannel, EndWorkflowStatus, LegalFactCategory, ResponseStatus,
    TimelineElement,
};
use sim::model::{Model, outcome::RecipientOutcome};

use crate::clock::SimClock;
use crate::json_out::{Joined, Json, Obj, Raw, array, json_by_serde, write_parts};
use crate::request_text::{Quote, RecipientQuote};
use crate::store::Record;

/// `tick` as RFC 3339 in UTC with milliseconds (`2025-03-01T08:00:00.000Z`), the form
/// every instant in a view takes.
pub fn iso(clock: &SimClock, tick: i64) -> String {
    String::from_utf8(instant(clock, tick).as_bytes().to_vec()).expect("ASCII")
}

/// An instant's text, kept on the stack: a detail writes some forty of them.
#[derive(Clone, Copy)]
struct Instant {
    bytes: [u8; 32],
    len: u8,
}

impl Instant {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl Json for Instant {
    fn write(&self, buf: &mut Vec<u8>) {
        // Digits and separators, or chrono's text: nothing JSON escapes.
        if self.len == 24 {
            // The usual length, quotes included, as one copy of a size known here.
            let mut quoted = [b'"'; 26];
            quoted[1..25].copy_from_slice(&self.bytes[..24]);
            buf.extend_from_slice(&quoted);
        } else {
            buf.push(b'"');
            buf.extend_from_slice(self.as_bytes());
            buf.push(b'"');
        }
    }
}

/// `tick` as `iso` writes it.
fn instant(clock: &SimClock, tick: i64) -> Instant {
    let (epoch_secs, epoch_millis) = clock.epoch_unix();
    let secs = epoch_secs + tick;
    let days = secs.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = Instant {
        bytes: [0; 32],
        len: 24,
    };
    if !(0..=9999).contains(&y) {
        let text = clock
            .to_utc(tick)
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        out.bytes[..text.len()].copy_from_slice(text.as_bytes());
        out.len = text.len() as u8;
        return out;
    }
    // chrono's general formatter took a tenth of a detail's rendering, and digits one
    // at a time a tenth of what was left.
    let of_day = secs.rem_euclid(86_400) as usize;
    let millis = epoch_millis as usize;
    let (y, m, d) = (y as usize, m as usize, d as usize);
    let b = &mut out.bytes;
    b[..24].copy_from_slice(b"0000-00-00T00:00:00.000Z");
    for (at, v) in [
        (0, y / 100),
        (2, y % 100),
        (5, m),
        (8, d),
        (11, of_day / 3600),
        (14, of_day / 60 % 60),
        (17, of_day % 60),
        (21, millis % 100),
    ] {
        b[at..at + 2].copy_from_slice(&PAIRS[2 * v..2 * v + 2]);
    }
    b[20] = b'0' + (millis / 100) as u8;
    out
}

/// "00" to "99".
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The API version a view is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The current one (`FullSentNotificationV29`, `TimelineElementV28`).
    Current,
    /// v2.3, as production's versioning adapter maps the current one: categories it does
    /// not know are left out, RETURNED_TO_SENDER reads as DELIVERED, elements keep the
    /// v2.3 fields.
    V23,
}

impl Version {
    pub fn status(self, status: &'static str) -> &'static str {
        match (self, status) {
            (Version::V23, "RETURNED_TO_SENDER") => "DELIVERED",
            _ => status,
        }
    }

    fn knows(self, category: Category) -> bool {
        !(self == Version::V23 && category == Category::AnalogWorkflowRecipientDeceased)
    }
}

/// Declares a struct of optional fields with their JSON names, written in that order
/// and each left out of the JSON when absent.
macro_rules! optional_fields {
    ($(#[$m:meta])* struct $name:ident<$lt:lifetime> { $($field:ident $json:literal : $ty:ty,)* }) => {
        $(#[$m])*
        #[derive(Default)]
        struct $name<$lt> {
            $( $field: Option<$ty>, )*
        }

        impl Json for $name<'_> {
            fn write(&self, buf: &mut Vec<u8>) {
                let mut o = Obj::new(buf);
                $( o.optional($json, self.$field.as_ref()); )*
                o.close();
            }
        }

        #[cfg(test)]
        const FIELD_NAMES: &[(&str, &str)] = &[$((stringify!($field), $json)),*];
    };
}

optional_fields! {
    /// The union of the detail schemas' fields the mock fills in.
    struct DetailsOut<'a> {
        rec_index "recIndex": u32,
        legal_fact_id "legalFactId": &'a str,
        notification_request_id "notificationRequestId": &'a str,
        pa_protocol_number "paProtocolNumber": Raw<'a>,
        idempotence_token "idempotenceToken": Cow<'a, str>,
        refusal_reasons "refusalReasons": Vec<RefusalOut<'a>>,
        generated_aar_url "generatedAarUrl": AarUrl<'a>,
        number_of_pages "numberOfPages": u32,
        digital_address "digitalAddress": AddressOut,
        send_date "sendDate": &'a Instant,
        io_send_message_result "ioSendMessageResult": &'static str,
        digital_address_source "digitalAddressSource": &'static str,
        is_available "isAvailable": bool,
        attempt_date "attemptDate": &'a Instant,
        delivery_mode "deliveryMode": &'static str,
        contact_phase "contactPhase": &'static str,
        sent_attempt_made "sentAttemptMade": u8,
        last_attempt_date "lastAttemptDate": &'a Instant,
        scheduling_date "schedulingDate": &'a Instant,
        retry_number "retryNumber": u8,
        delivery_detail_code "deliveryDetailCode": &'static str,
        notification_date "notificationDate": &'a Instant,
        sending_receipts "sendingReceipts": [ReceiptOut; 1],
        should_retry "shouldRetry": bool,
        response_status "responseStatus": ResponseStatus,
        end_workflow_status "endWorkflowStatus": EndWorkflowStatus,
        completion_workflow_date "completionWorkflowDate": &'a Instant,
        physical_address "physicalAddress": Raw<'a>,
        service_level "serviceLevel": Raw<'a>,
        analog_cost "analogCost": i64,
        envelope_weight "envelopeWeight": u32,
        product_type "productType": &'static str,
        delivery_failure_cause "deliveryFailureCause": &'static str,
        registered_letter_code "registeredLetterCode": LetterCode,
        attachments "attachments": [AttachmentOut<'a>; 1],
        scheduling_analog_date "schedulingAnalogDate": &'a Instant,
        failure_cause "failureCause": &'static str,
        legal_fact_generation_date "legalFactGenerationDate": &'a Instant,
        notification_cost "notificationCost": i64,
        event_timestamp "eventTimestamp": &'a Instant,
        recipient_type "recipientType": Raw<'a>,
        payment_source_channel "paymentSourceChannel": &'static str,
        amount "amount": i64,
        creditor_tax_id "creditorTaxId": Raw<'a>,
        notice_code "noticeCode": Raw<'a>,
        cancellation_request_id "cancellationRequestId": String,
        not_refined_recipient_indexes "notRefinedRecipientIndexes": Vec<usize>,
    }
}

struct RefusalOut<'a> {
    error_code: &'a str,
    detail: &'a str,
    rec_index: Option<usize>,
}

impl Json for RefusalOut<'_> {
    fn write(&self, buf: &mut Vec<u8>) {
        let mut o = Obj::new(buf);
        o.field("errorCode", self.error_code);
        o.field("detail", self.detail);
        o.optional("recIndex", self.rec_index);
        o.close();
    }
}

struct AddressOut {
    kind: &'static str,
    address: String,
}

impl Json for AddressOut {
    fn write(&self, buf: &mut Vec<u8>) {
        let mut o = Obj::new(buf);
        o.field("type", self.kind);
        o.field("address", &self.address);
        o.close();
    }
}

struct ReceiptOut {
    id: String,
    system: &'static str,
}

impl Json for ReceiptOut {
    fn write(&self, buf: &mut Vec<u8>) {
        let mut o = Obj::new(buf);
        o.field("id", &self.id);
        o.field("system", self.system);
        o.close();
    }
}

struct AttachmentOut<'a> {
    id: &'a str,
    document_type: &'static str,
    url: Joined<'a, 2>,
    date: &'a Instant,
}

impl Json for AttachmentOut<'_> {
    fn write(&self, buf: &mut Vec<u8>) {
        let mut o = Obj::new(buf);
        o.field("id", self.id);
        o.field("documentType", self.document_type);
        o.field("url", &self.url);
        o.field("date", self.date);
        o.close();
    }
}

json_by_serde!(LegalFactCategory, ResponseStatus, EndWorkflowStatus);

/// An element's instants as text, computed once per element.
struct Times {
    at: Instant,
    sched: Option<Instant>,
}

/// The stand-in physical address when the request has none.
const NO_ADDRESS: &str = r#"{"address":"-","municipality":"-"}"#;

/// The two fields of a payment notice an element quotes.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QuotedNotice<'a> {
    #[serde(borrow, default)]
    creditor_tax_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    notice_code: Option<&'a RawValue>,
}

/// A digital domicile's address.
#[derive(Deserialize)]
struct QuotedDomicile<'a> {
    #[serde(borrow, default)]
    address: Option<&'a RawValue>,
}

/// A value of recipient `rec` that elements quote, as it stands in the stored request.
fn quoted(r: &Record, rec: usize, quote: RecipientQuote) -> Raw<'_> {
    Raw(r.recipient_quote(rec, quote))
}

/// A raw value parsed out of a quoted one.
fn raw(v: Option<&RawValue>) -> Raw<'_> {
    Raw(v.map(RawValue::get))
}

/// The physical address a detail reports: the request's, as sent.
fn physical_address(r: &Record, rec: usize) -> Raw<'_> {
    let a = quoted(r, rec, RecipientQuote::PhysicalAddress);
    if a.is_object() {
        a
    } else {
        Raw(Some(NO_ADDRESS))
    }
}

/// The PEC address of a source: the special domicile from the request; for the
/// platform and registry domiciles, which SEND finds on its own, a stand-in address.
fn digital_address(r: &Record, rec: usize, source: Option<AddressSource>) -> AddressOut {
    let special = quoted(r, rec, RecipientQuote::DigitalDomicile)
        .fields::<QuotedDomicile>()
        .and_then(|d| raw(d.address).text());
    let tax = || {
        quoted(r, rec, RecipientQuote::TaxId)
            .text()
            .unwrap_or("recipient".into())
            .to_ascii_lowercase()
    };
    let address = match (source, special) {
        (Some(AddressSource::Special), Some(a)) => a.into_owned(),
        (Some(AddressSource::Platform), _) => format!("{}@send.pec.example", tax()),
        _ => format!("{}@registry.pec.example", tax()),
    };
    AddressOut {
        kind: "PEC",
        address,
    }
}

/// Where a notification's AAR is kept: its IUN without the dashes, after a fixed prefix.
struct AarUrl<'a>(&'a str);

impl Json for AarUrl<'_> {
    fn write(&self, buf: &mut Vec<u8>) {
        let parts = std::iter::once("safestorage://PN_AAR-0002-").chain(self.0.split('-'));
        write_parts(buf, parts);
    }
}

/// A registered letter's code: `RL`, the recipient's index and the letter's.
struct LetterCode {
    rec: usize,
    letter: u8,
}

impl Json for LetterCode {
    fn write(&self, buf: &mut Vec<u8>) {
        Joined([
            "RL",
            itoa::Buffer::new().format(self.rec),
            itoa::Buffer::new().format(self.letter),
        ])
        .write(buf);
    }
}

/// The details object of one element, in its category's schema.
fn details<'a>(r: &'a Record, i: usize, t: &'a Times) -> DetailsOut<'a> {
    let e = &r.elements[i];
    let d = &e.details;
    let rec = d.rec_index.unwrap_or(0) as usize;
    let at = &t.at;
    let sched = t.sched.as_ref();
    let mut o = DetailsOut {
        rec_index: d.rec_index,
        ..Default::default()
    };
    let legal = r.legal_keys.get(i);
    let source = d.digital_address_source;
    let source_text = source.map(|s| s.as_str());
    // The last PEC source attempted for this recipient, for elements that report it.
    let last_source = || {
        r.elements[..=i]
            .iter()
            .rev()
            .filter(|x| x.details.rec_index == d.rec_index)
            .find_map(|x| x.details.digital_address_source)
    };
    let service_level = || Raw(r.quote(Quote::PhysicalCommunicationType));
    let letter_code = || LetterCode {
        rec,
        letter: d.letter.unwrap_or(0),
    };
    use Category::*;
    match e.category {
        SenderAckCreationRequest => {
            o.legal_fact_id = Some(r.legal_keys.iter().flatten().next().unwrap_or(""));
        }
        RequestAccepted => {
            o.notification_request_id = Some(&r.request_id);
            o.pa_protocol_number = Some(Raw(r.quote(Quote::ProtocolNumber)));
            o.idempotence_token = Raw(r.quote(Quote::IdempotenceToken)).text();
        }
        RequestRefused => {
            o.notification_request_id = Some(&r.request_id);
            o.pa_protocol_number = Some(Raw(r.quote(Quote::ProtocolNumber)));
            o.refusal_reasons = Some(
                r.refusal
                    .iter()
                    .map(|f| RefusalOut {
                        error_code: f.code,
                        detail: &f.detail,
                        rec_index: f.rec_index,
                    })
                    .collect(),
            );
        }
        AarGeneration => {
            o.generated_aar_url = Some(AarUrl(&r.iun));
            o.number_of_pages = Some(1);
        }
        SendCourtesyMessage => {
            let (kind, address) = match d.channel {
                Some(DigitalChannel::Appio) => ("APPIO", ""),
                Some(DigitalChannel::Sms) => ("SMS", "+39***"),
                _ => ("EMAIL", "***@***"),
            };
            o.digital_address = Some(AddressOut {
                kind,
                address: address.to_string(),
            });
            o.send_date = Some(at);
            if kind == "APPIO" {
                o.io_send_message_result = Some("SENT_COURTESY");
            }
        }
        GetAddress => {
            o.digital_address_source = source_text;
            o.is_available = Some(d.is_available.unwrap_or(false));
            o.attempt_date = Some(at);
        }
        PublicRegistryCall => {
            o.delivery_mode = Some("DIGITAL");
            o.contact_phase = Some("CHOOSE_DELIVERY");
            o.sent_attempt_made = Some(0);
            o.send_date = Some(at);
        }
        PublicRegistryResponse => {}
        ScheduleDigitalWorkflow => {
            o.digital_address_source = source_text;
            o.sent_attempt_made = Some(1);
            o.last_attempt_date = Some(at);
            o.scheduling_date = sched;
            o.digital_address = Some(digital_address(r, rec, source));
        }
        SendDigitalDomicile => {
            o.digital_address = Some(digital_address(r, rec, source));
            o.digital_address_source = source_text;
            o.retry_number = Some(d.sent_attempt_made.unwrap_or(0));
        }
        SendDigitalProgress | SendDigitalFeedback => {
            o.digital_address = Some(digital_address(r, rec, source));
            o.delivery_detail_code = d.delivery_detail_code.copied();
            o.notification_date = Some(at);
            o.sending_receipts = Some([ReceiptOut {
                id: format!("{}@pec.mock", r.element_id(i).len()),
                system: "mock-pec",
            }]);
            if e.category == SendDigitalProgress {
                o.digital_address_source = source_text;
                o.retry_number = Some(d.sent_attempt_made.unwrap_or(0));
                o.should_retry = Some(false);
            } else {
                o.response_status = d.response_status;
            }
        }
        DigitalDeliveryCreationRequest => {
            o.digital_address = Some(digital_address(r, rec, last_source()));
            o.end_workflow_status = d.end_workflow_status;
            o.completion_workflow_date = Some(at);
        }
        DigitalSuccessWorkflow => {
            o.digital_address = Some(digital_address(r, rec, last_source()));
        }
        DigitalFailureWorkflow => {}
        PrepareSimpleRegisteredLetter | PrepareAnalogDomicile => {
            o.physical_address = Some(physical_address(r, rec));
            if e.category == PrepareAnalogDomicile {
                o.service_level = Some(service_level());
                o.sent_attempt_made = Some(d.sent_attempt_made.unwrap_or(0));
            }
        }
        SendSimpleRegisteredLetter | SendAnalogDomicile => {
            o.physical_address = Some(physical_address(r, rec));
            o.analog_cost = d.analog_cost;
            o.envelope_weight = d.envelope_weight;
            o.number_of_pages = d.number_of_pages;
            o.product_type = d.product_type.map(|p| p.code());
            if e.category == SendAnalogDomicile {
                o.service_level = Some(service_level());
                o.sent_attempt_made = Some(d.sent_attempt_made.unwrap_or(0));
            }
        }
        SendSimpleRegisteredLetterProgress | SendAnalogProgress => {
            o.delivery_detail_code = d.delivery_detail_code.copied();
            o.delivery_failure_cause = d.delivery_failure_cause.copied();
            o.notification_date = Some(at);
            o.registered_letter_code = Some(letter_code());
            if e.category == SendAnalogProgress {
                o.service_level = Some(service_level());
            }
            if let Some(key) = legal {
                o.attachments = Some([AttachmentOut {
                    id: key,
                    document_type: "AR",
                    url: Joined(["safestorage://", key]),
                    date: at,
                }]);
            }
        }
        SendAnalogFeedback => {
            o.physical_address = Some(physical_address(r, rec));
            o.service_level = Some(service_level());
            o.sent_attempt_made = Some(d.sent_attempt_made.unwrap_or(0));
            o.response_status = d.response_status;
            o.delivery_detail_code = d.delivery_detail_code.copied();
            o.delivery_failure_cause = d.delivery_failure_cause.copied();
            o.notification_date = Some(sched.unwrap_or(at));
            o.registered_letter_code = Some(letter_code());
        }
        ProbableSchedulingAnalogDate => {
            o.scheduling_analog_date = sched;
        }
        ScheduleAnalogWorkflow | ScheduleRefinement => {
            o.scheduling_date = sched;
        }
        PrepareAnalogDomicileFailure => {
            o.failure_cause = d.delivery_failure_cause.copied();
        }
        AnalogSuccessWorkflow => {
            o.physical_address = Some(physical_address(r, rec));
        }
        AnalogFailureWorkflow => {
            o.generated_aar_url = Some(AarUrl(&r.iun));
        }
        CompletelyUnreachableCreationRequest => {
            o.end_workflow_status = Some(EndWorkflowStatus::Failure);
            o.completion_workflow_date = Some(at);
        }
        CompletelyUnreachable => {
            o.legal_fact_generation_date = Some(at);
        }
        AnalogWorkflowRecipientDeceased => {
            o.physical_address = Some(physical_address(r, rec));
            o.notification_cost = d.notification_cost;
        }
        Refinement => {
            o.event_timestamp = Some(sched.unwrap_or(at));
            o.notification_cost = d.notification_cost;
        }
        NotificationViewedCreationRequest => {
            o.event_timestamp = Some(at);
        }
        NotificationViewed => {
            o.event_timestamp = Some(at);
            o.notification_cost = d.notification_cost;
        }
        Payment => {
            o.recipient_type = Some(quoted(r, rec, RecipientQuote::RecipientType));
            o.payment_source_channel = Some("PA");
            o.amount = d.amount;
            o.event_timestamp = Some(at);
            let p = quoted(r, rec, RecipientQuote::FirstPagoPa);
            if let Some(notice) = p.fields::<QuotedNotice>() {
                o.creditor_tax_id = Some(raw(notice.creditor_tax_id));
                o.notice_code = Some(raw(notice.notice_code));
            }
        }
        NotificationCancellationRequest => {
            o.cancellation_request_id = Some(format!("{}-cancel", r.request_id));
        }
        NotificationCancelled => {
            o.notification_cost = Some(d.notification_cost.unwrap_or(0));
            o.not_refined_recipient_indexes = Some(
                r.outcomes
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| o.end == sim::model::outcome::WorkflowEnd::Cancelled)
                    .map(|(k, _)| k)
                    .collect(),
            );
        }
    }
    o
}

fn times(e: &TimelineElement, clock: &SimClock) -> Times {
    Times {
        at: instant(clock, e.at),
        sched: e.details.scheduled_at.map(|t| instant(clock, t)),
    }
}

/// Writes element `i` of `r` (`TimelineElementV28`, or `TimelineElementV23` without
/// the newer timestamps), given its instants and the notification's `sentAt` as text.
fn write_element(
    buf: &mut Vec<u8>,
    r: &Record,
    i: usize,
    t: &Times,
    sent_at: &Instant,
    version: Version,
) {
    let e = &r.elements[i];
    let mut o = Obj::new(buf);
    o.field("elementId", &r.element_id(i));
    o.field("timestamp", &t.at);
    if version == Version::Current {
        o.field("ingestionTimestamp", &t.at);
        o.field("eventTimestamp", &t.at);
        o.field("notificationSentAt", sent_at);
    }
    let legal = match (r.legal_keys.get(i), e.legal_fact) {
        (Some(key), Some(category)) => Some((key, category)),
        _ => None,
    };
    array(o.key("legalFactsIds"), legal, |buf, (key, category)| {
        let mut id = Obj::new(buf);
        id.field("key", key);
        id.field("category", &category);
        id.close();
    });
    o.field("category", e.category.as_str());
    o.field("details", &details(r, i, t));
    o.close();
}

/// One element as a JSON value (for stream events), or `None` when `version` does not
/// know its category.
pub fn element(r: &Record, i: usize, clock: &SimClock, version: Version) -> Option<Value> {
    if !version.knows(r.elements[i].category) {
        return None;
    }
    let t = times(&r.elements[i], clock);
    let sent_at = instant(clock, r.sent_at);
    let mut buf = Vec::with_capacity(1024);
    write_element(&mut buf, r, i, &t, &sent_at, version);
    Some(serde_json::from_slice(&buf).expect("an element is JSON"))
}

/// The current status at `now`.
pub fn status_at(r: &Record, now: i64) -> &'static str {
    r.history(now)
        .last()
        .map_or("IN_VALIDATION", |c| c.status.as_str())
}

/// Writes `head` and then the request's own fields (except those `head` has and
/// those in `drop`) as one JSON object.
fn merged(
    head: &impl Serialize,
    head_keys: &[&str],
    drop: &[&str],
    request: &str,
    plain: bool,
    size_hint: usize,
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(size_hint);
    sonic_rs::to_writer(&mut buf, head).expect("view serialises");
    with_request(buf, head_keys, drop, request, plain)
}

/// Adds the request's own fields (except those in `head_keys` and `drop`) to the JSON
/// object that `buf` holds. `plain`: the request is known to have none of the fields
/// of any view (`names_no_view_field`).
fn with_request(
    mut buf: Vec<u8>,
    head_keys: &[&str],
    drop: &[&str],
    request: &str,
    plain: bool,
) -> Vec<u8> {
    debug_assert_eq!(buf.last(), Some(&b'}'));
    buf.pop();
    let first = buf.last() == Some(&b'{');
    let text = request;
    // A stored request is serde_json's compact text, its fields already in name order
    // and each once: unless it has a field to leave out, what follows its opening brace
    // is the view's tail as it stands, copied instead of parsed.
    match text.strip_prefix('{') {
        Some(fields) if plain || copied_whole(text, head_keys, drop) => {
            if !first && fields != "}" {
                buf.push(b',');
            }
            buf.extend_from_slice(fields.as_bytes());
        }
        _ => {
            fields_parsed(&mut buf, first, head_keys, drop, text);
            buf.push(b'}');
        }
    }
    buf
}

/// Whether a request's text has none of the fields any view writes itself or leaves
/// out: then every view copies it whole.
pub fn names_no_view_field(text: &str) -> bool {
    copied_whole(text, DETAIL_KEYS, V23_DROPPED) && copied_whole(text, REQUEST_STATUS_KEYS, &[])
}

/// The same for the parsed request, exactly: only its own fields count, where the text
/// search also takes a name deeper down. A send has the parsed request at hand, and a
/// look-up a name costs less than a pass over the text.
pub fn has_no_view_field(fields: &serde_json::Map<String, Value>) -> bool {
    !DETAIL_KEYS
        .iter()
        .chain(V23_DROPPED)
        .chain(REQUEST_STATUS_KEYS)
        .any(|k| fields.contains_key(*k))
}

/// The request fields a v2.3 detail leaves out.
const V23_DROPPED: &[&str] = &["usedServices"];

/// Whether `merged` copies the request's text whole: it has none of the fields to
/// leave out.
fn copied_whole(text: &str, head_keys: &[&str], drop: &[&str]) -> bool {
    !head_keys.iter().chain(drop).any(|k| names_field(text, k))
}

/// Whether `text` may have a field called `name` (at any depth; a value that merely
/// contains the quoted name also counts, which only costs the parsing path).
fn names_field(text: &str, name: &str) -> bool {
    // `contains` has a vectorised search for short needles, and the usual answer is no.
    text.contains(name)
        && text.match_indices(name).any(|(at, _)| {
            at > 0 && text.as_bytes()[at - 1] == b'"' && text[at + name.len()..].starts_with("\":")
        })
}

/// The request's fields sorted by name, as the parsed request gave them, each value
/// copied as it is; names are borrowed from the text unless one has an escape.
fn fields_parsed(
    buf: &mut Vec<u8>,
    mut first: bool,
    head_keys: &[&str],
    drop: &[&str],
    text: &str,
) {
    let borrowed: Result<Option<BTreeMap<&str, &RawValue>>, _> = serde_json::from_str(text);
    let owned: Option<BTreeMap<String, &RawValue>> = match borrowed {
        Ok(_) => None,
        Err(_) => serde_json::from_str(text).expect("a stored request is JSON"),
    };
    let fields = borrowed
        .ok()
        .flatten()
        .into_iter()
        .flatten()
        .chain(owned.iter().flatten().map(|(k, v)| (k.as_str(), *v)));
    for (k, v) in fields {
        if head_keys.contains(&k) || drop.contains(&k) {
            continue;
        }
        if !first {
            buf.push(b',');
        }
        first = false;
        sonic_rs::to_writer(&mut *buf, k).expect("key serialises");
        buf.push(b':');
        buf.extend_from_slice(v.get().as_bytes());
    }
}

/// The fields a detail writes before the request's (`FullSentNotificationV29`).
const DETAIL_KEYS: &[&str] = &[
    "iun",
    "senderPaId",
    "sentAt",
    "documentsAvailable",
    "notificationStatus",
    "notificationStatusHistory",
    "timeline",
];

/// The detail (`FullSentNotificationV29`, or `FullSentNotificationV23`) at `now`: the
/// request as sent, plus what SEND adds.
pub fn detail(r: &Record, now: i64, clock: &SimClock, version: Version) -> Vec<u8> {
    let visible = r.visible(now);
    let history = r.history(now);
    let status = history
        .last()
        .map_or("IN_VALIDATION", |c| c.status.as_str());
    let sent_at = instant(clock, r.sent_at);
    // Sized for the whole view, about 550 bytes an element and the request echoed:
    // growing a 12 KB detail by doubling copies it twice.
    let mut buf = Vec::with_capacity(2048 + 640 * visible);
    let mut o = Obj::new(&mut buf);
    o.field("iun", &r.iun);
    o.field("senderPaId", &Joined(["mock-pa-", &r.sender]));
    o.field("sentAt", &sent_at);
    o.field("documentsAvailable", &true);
    o.field("notificationStatus", version.status(status));
    array(o.key("notificationStatusHistory"), &history, |buf, c| {
        let mut h = Obj::new(buf);
        h.field("status", version.status(c.status.as_str()));
        h.field("activeFrom", &instant(clock, c.active_from));
        array(h.key("relatedTimelineElements"), &c.related, |buf, k| {
            r.element_id(*k).write(buf)
        });
        h.close();
    });
    let shown = (0..visible).filter(|i| version.knows(r.elements[*i].category));
    array(o.key("timeline"), shown, |buf, i| {
        let t = times(&r.elements[i], clock);
        write_element(buf, r, i, &t, &sent_at, version);
    });
    o.close();
    let drop: &[&str] = match version {
        Version::Current => &[],
        Version::V23 => V23_DROPPED,
    };
    with_request(buf, DETAIL_KEYS, drop, r.request_text(), r.request_plain())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorOut<'a> {
    code: &'a str,
    element: &'static str,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rec_index: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestStatusHead<'a> {
    notification_request_id: &'a str,
    notification_request_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iun: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<ErrorOut<'a>>>,
}

const REQUEST_STATUS_KEYS: &[&str] = &[
    "notificationRequestId",
    "notificationRequestStatus",
    "retryAfter",
    "iun",
    "errors",
];

/// What a request-status read answers at `now`: WAITING with the real seconds to wait,
/// ACCEPTED with the IUN, or REFUSED with the reasons.
pub struct RequestStatus {
    pub body: Vec<u8>,
    /// Real seconds to wait, while WAITING.
    pub retry_after: Option<u64>,
}

/// `NewNotificationRequestStatusResponseV26` at `now`.
pub fn request_status(r: &Record, now: i64, clock: &SimClock) -> RequestStatus {
    let mut head = RequestStatusHead {
        notification_request_id: &r.request_id,
        notification_request_status: "ACCEPTED",
        retry_after: None,
        iun: None,
        errors: None,
    };
    if now < r.validated_at {
        head.notification_request_status = "WAITING";
        head.retry_after = Some(clock.real_seconds_until(r.validated_at).ceil().max(1.0) as i64);
    } else if r.accepted() {
        head.iun = Some(&r.iun);
    } else {
        head.notification_request_status = "REFUSED";
        head.errors = Some(
            r.refusal
                .iter()
                .map(|f| ErrorOut {
                    code: f.code,
                    element: "",
                    detail: &f.detail,
                    rec_index: f.rec_index,
                })
                .collect(),
        );
    }
    let retry_after = head.retry_after.map(|s| s as u64);
    RequestStatus {
        body: merged(
            &head,
            REQUEST_STATUS_KEYS,
            &[],
            r.request_text(),
            r.request_plain(),
            2048,
        ),
        retry_after,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aar_urls_and_letter_codes_read_as_their_texts() {
        let written = |v: &dyn Json| {
            let mut buf = Vec::new();
            v.write(&mut buf);
            String::from_utf8(buf).expect("UTF-8")
        };
        for iun in [
            "QGWE-WDPX-PVPL-202612-G-1",
            "ABCD",
            "A-B",
            "A-B-C-D-E-F-G-H",
            "",
            "Q\"-1",
        ] {
            let text = format!("safestorage://PN_AAR-0002-{}", iun.replace('-', ""));
            assert_eq!(
                written(&AarUrl(iun)),
                serde_json::to_string(&text).expect("string"),
                "{iun}"
            );
        }
        for (rec, letter, text) in [
            (0, 0, "RL00"),
            (12, 3, "RL123"),
            (usize::MAX, 255, "RL18446744073709551615255"),
        ] {
            assert_eq!(written(&LetterCode { rec, letter }), format!("\"{text}\""));
        }
    }

    #[test]
    fn instants_read_as_chrono_writes_them() {
        let clock = SimClock::new(
            chrono::DateTime::parse_from_rfc3339("2025-03-01T08:00:00Z")
                .expect("instant")
                .with_timezone(&chrono::Utc),
            86_400.0,
        );
        let with_millis = SimClock::new(
            chrono::DateTime::parse_from_rfc3339("1999-12-31T23:59:59.250Z")
                .expect("instant")
                .with_timezone(&chrono::Utc),
            1.0,
        );
        for clock in [&clock, &with_millis] {
            // Leap days, centuries, before the epoch, far ahead.
            let ticks = (-800..800).map(|k| k * 86_400 * 37 + k * 3_613).chain([
                0,
                1,
                59,
                3_599,
                86_399,
                86_400 * 366,
                1_234_567_890,
            ]);
            for tick in ticks {
                let want = clock
                    .to_utc(tick)
                    .to_rfc3339_opts(SecondsFormat::Millis, true);
                assert_eq!(iso(clock, tick), want, "tick {tick}");
            }
        }
    }

    #[test]
    fn detail_fields_take_their_names_in_camel_case() {
        for (field, json) in FIELD_NAMES {
            let camel: String = field
                .split('_')
                .enumerate()
                .map(|(k, w)| match k {
                    0 => w.to_string(),
                    _ => w[..1].to_uppercase() + &w[1..],
                })
                .collect();
            assert_eq!(*json, camel);
        }
        assert_eq!(FIELD_NAMES.len(), 47);
    }

    /// Requests of the load generator's template, stored as a send stores them.
    fn stored_requests() -> Vec<Box<RawValue>> {
        let doc = json!({ "digests": { "sha256": "hM+Jd9C74LSf8lpn2XIQ9AFZUYj0zj6ttkTQ2lKv02M=" },
            "contentType": "application/pdf", "title": "Atto", "docIdx": "0",
            "ref": { "key": "PN_NOTIFICATION_ATTACHMENTS-0001", "versionToken": "v1" } });
        let mut rng = sim::rng::SplitMix64(3);
        (0..200)
            .map(|k| {
                let mut req = crate::load::flows::request_body(
                    &mut rng,
                    &format!("P-{k}"),
                    "80016350821",
                    &doc,
                    k,
                );
                // Now and then a field a view writes itself or leaves out, at the top
                // or deeper, and a name with an escape.
                match k % 7 {
                    0 => req["iun"] = json!("FROM-THE-CLIENT"),
                    1 => req["usedServices"] = json!({ "physicalAddressLookup": true }),
                    2 => req["recipients"][0]["timeline"] = json!([]),
                    3 => req["a\"quoted\"name"] = json!(1),
                    4 => req["abstract"] = json!("say \"iun\": here"),
                    _ => {}
                }
                serde_json::value::to_raw_value(&req).expect("request")
            })
            .collect()
    }

    #[test]
    fn a_stored_request_is_copied_as_its_fields_would_be_merged_one_by_one() {
        let head = json!({ "iun": "X", "notificationRequestId": "R" });
        let mut copied = 0;
        let mut plain_ones = 0;
        let mut exact_only = 0;
        for request in stored_requests() {
            // Found once when the request is stored: then every view copies it whole.
            let plain = names_no_view_field(request.get());
            plain_ones += usize::from(plain);
            let parsed: Value = serde_json::from_str(request.get()).expect("JSON");
            let exact = parsed.as_object().is_some_and(has_no_view_field);
            // The parsed look-up says plain whenever the text search does, and more often.
            assert!(exact || !plain, "{}", request.get());
            exact_only += usize::from(exact && !plain);
            for (keys, drop) in [
                (REQUEST_STATUS_KEYS, &[][..]),
                (DETAIL_KEYS, &[][..]),
                (DETAIL_KEYS, &["usedServices"][..]),
            ] {
                let mut want = br#"{"iun":"X","notificationRequestId":"R""#.to_vec();
                fields_parsed(&mut want, false, keys, drop, request.get());
                want.push(b'}');
                for known in [false, plain, exact] {
                    let got = merged(&head, keys, drop, request.get(), known, 64);
                    assert_eq!(
                        String::from_utf8(got).expect("UTF-8"),
                        String::from_utf8(want.clone()).expect("UTF-8"),
                        "{}",
                        request.get()
                    );
                }
                copied += usize::from(copied_whole(request.get(), keys, drop));
            }
        }
        // Most go by the copy; the others by parsing, with the same result.
        assert!((300..600).contains(&copied), "{copied} of 600 copied");
        // Some are plain, some name a field a view writes: both are checked.
        assert!((50..180).contains(&plain_ones), "{plain_ones} of 200 plain");
        // Those naming a view's field only deeper down are plain by the parsed look-up.
        assert!(
            exact_only >= 20,
            "{exact_only} plain by the parsed look-up alone"
        );
    }

    #[test]
    fn an_empty_request_adds_nothing_to_the_head() {
        let head = json!({ "iun": "X" });
        let empty = RawValue::from_string("{}".to_string()).expect("JSON");
        assert_eq!(
            merged(&head, DETAIL_KEYS, &[], empty.get(), false, 8),
            br#"{"iun":"X"}"#
        );
        let null = RawValue::from_string("null".to_string()).expect("JSON");
        assert_eq!(
            merged(&head, DETAIL_KEYS, &[], null.get(), false, 8),
            br#"{"iun":"X"}"#
        );
    }

    #[test]
    fn request_fields_follow_the_head_with_escaped_names_kept() {
        let head = json!({ "iun": "X", "timeline": [] });
        let request = RawValue::from_string(
            r#"{"a\"b":1,"iun":"dropped","paProtocolNumber":"P-1","z":[true]}"#.to_string(),
        )
        .expect("JSON");
        let out = merged(
            &head,
            &["iun", "timeline"],
            &["z"],
            request.get(),
            false,
            64,
        );
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            r#"{"iun":"X","timeline":[],"a\"b":1,"paProtocolNumber":"P-1"}"#
        );
        let plain = RawValue::from_string(r#"{"b":2,"iun":"dropped"}"#.to_string()).expect("JSON");
        let out = merged(&head, &["iun", "timeline"], &[], plain.get(), false, 64);
        assert_eq!(out, br#"{"iun":"X","timeline":[],"b":2}"#);
    }
}
