//! Event streams (`/delivery-progresses/v2.x/streams`): the senders' stream
//! configurations and one append-only log of progress events.
//!
//! Timeline elements enter the log when the simulated clock passes them, in time order,
//! each with the next event id; a stream reads the log from the point it was created (or
//! from where the stream it replaced was acknowledged), through its filters, at most 50
//! events a call.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use sim::model::status::status_history;

use crate::store::{Record, Records};

/// Events returned by one call.
pub const MAX_EVENTS: usize = 50;
/// Active streams a sender may have.
pub const MAX_STREAMS: usize = 10;
/// How long events stay readable after they enter the log, in simulated seconds (7 days).
pub const RETENTION: i64 = 7 * 86_400;

/// The timeline categories of the `DEFAULT` filter.
pub const DEFAULT_CATEGORIES: &[&str] = &[
    "REQUEST_REFUSED",
    "REQUEST_ACCEPTED",
    "SEND_DIGITAL_DOMICILE",
    "SEND_DIGITAL_FEEDBACK",
    "DIGITAL_SUCCESS_WORKFLOW",
    "DIGITAL_FAILURE_WORKFLOW",
    "SEND_SIMPLE_REGISTERED_LETTER",
    "SEND_SIMPLE_REGISTERED_LETTER_PROGRESS",
    "SEND_ANALOG_DOMICILE",
    "SEND_ANALOG_PROGRESS",
    "SEND_ANALOG_FEEDBACK",
    "ANALOG_SUCCESS_WORKFLOW",
    "ANALOG_FAILURE_WORKFLOW",
    "COMPLETELY_UNREACHABLE",
    "REFINEMENT",
    "NOTIFICATION_VIEWED",
    "NOTIFICATION_CANCELLED",
    "NOTIFICATION_RADD_RETRIEVED",
    "ANALOG_WORKFLOW_RECIPIENT_DECEASED",
];

/// The statuses of the `DEFAULT` filter of a STATUS stream: every status a sender sees
/// change.
pub const DEFAULT_STATUSES: &[&str] = &[
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Status,
    Timeline,
}

impl EventType {
    pub fn parse(s: &str) -> Option<EventType> {
        match s {
            "STATUS" => Some(EventType::Status),
            "TIMELINE" => Some(EventType::Timeline),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Status => "STATUS",
            EventType::Timeline => "TIMELINE",
        }
    }
}

/// One sender's stream configuration and its reader's state.
#[derive(Debug, Clone)]
pub struct Stream {
    pub id: String,
    pub sender: String,
    pub title: String,
    pub event_type: EventType,
    /// As configured (`DEFAULT` kept, for reading back).
    pub filter_values: Vec<String>,
    pub groups: Vec<String>,
    pub wait_for_accepted: bool,
    /// The API version it was created with (`v29`, `v23`).
    pub version: &'static str,
    pub activated: i64,
    pub disabled: Option<i64>,
    /// Events with a greater id may belong to it.
    pub after: u64,
    /// The last event id the reader acknowledged.
    pub acked: u64,
    /// The reader may not poll again before this instant (the `retry-after` it was given).
    pub not_before: Option<Instant>,
}

impl Stream {
    /// Whether an event of this notification in this status passes the stream's filters.
    fn accepts(&self, record: &Record, category: &str, status_changed: bool, status: &str) -> bool {
        if !self.groups.is_empty() {
            let group = record.group.as_deref().unwrap_or_default();
            if !self.groups.iter().any(|g| g == group) {
                return false;
            }
        }
        let (value, defaults) = match self.event_type {
            EventType::Status => {
                if !status_changed {
                    return false;
                }
                (status, DEFAULT_STATUSES)
            }
            EventType::Timeline => (category, DEFAULT_CATEGORIES),
        };
        self.filter_values.is_empty()
            || self
                .filter_values
                .iter()
                .any(|f| f == value || (f == "DEFAULT" && defaults.contains(&value)))
    }
}

/// A timeline element as an event of the log.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: u64,
    pub record: usize,
    pub element: usize,
    /// The element's instant (simulated).
    pub at: i64,
    /// When it entered the log (simulated): the first read or creation after the clock
    /// passed the element. Retention counts from here.
    pub logged_at: i64,
    /// The notification's status after it, and whether it changed it.
    pub status: &'static str,
    pub status_changed: bool,
}

/// What a read returns.
pub struct Batch {
    pub events: Vec<Event>,
    /// More events wait after these.
    pub more: bool,
}

/// The log and the elements not yet in it.
#[derive(Debug, Default)]
pub struct EventLog {
    /// Events still retained, oldest first.
    events: VecDeque<Event>,
    /// Events ever logged (the last id).
    logged: u64,
    /// (time of a record's next element, record).
    next: BinaryHeap<Reverse<(i64, usize)>>,
    /// Whether elements are followed into the log: only while a stream exists. Nobody
    /// could read their events otherwise, and following every element of 200,000
    /// notifications kept a send waiting up to a second after a pause.
    following: bool,
}

impl EventLog {
    /// Room for `records` notifications waiting for their next element.
    pub fn reserve(&mut self, records: usize) {
        self.next.reserve(records);
    }

    /// A record was added or its timeline changed: its next element is due.
    pub fn watch(&mut self, index: usize, record: &Record) {
        if !self.following {
            return;
        }
        if let Some(e) = record.elements.get(record.logged) {
            self.next.push(Reverse((e.at, index)));
        }
    }

    /// A stream exists (again): what the clock passed before `now` goes without an
    /// event, every element from then on is logged. One pass over the records held.
    pub fn follow(&mut self, now: i64, records: &mut Records) {
        if self.following {
            return;
        }
        self.following = true;
        self.next.clear();
        for i in records.span() {
            let Some(r) = records.get(i) else { continue };
            let mut k = r.logged;
            while r
                .elements
                .get(k)
                .is_some_and(|e| e.at <= now && r.hold.is_none_or(|h| k < h))
            {
                k += 1;
            }
            if let Some(e) = r.elements.get(k) {
                self.next.push(Reverse((e.at, i)));
            }
            // Written only when it moved: a record shared with a view being rendered is
            // copied on write.
            if k != r.logged {
                if let Some(r) = records.get_mut(i) {
                    r.logged = k;
                }
            }
        }
    }

    /// Logs every element the clock has passed, in time order, and forgets events past
    /// their retention. Without `streams` nobody can read them: the log stops following
    /// elements (a stream sees only what happens after it is created).
    pub fn advance(&mut self, now: i64, records: &mut Records, streams: bool) {
        if !streams {
            self.following = false;
            self.next.clear();
        } else if !self.following {
            self.follow(now, records);
        }
        while let Some(&Reverse((at, index))) = self.next.peek() {
            if at > now {
                break;
            }
            self.next.pop();
            // A dropped notification, or a re-computed timeline's stale entry: skip.
            let Some(r) = records.get_mut(index) else {
                continue;
            };
            let k = r.logged;
            let Some(e) = r.elements.get(k).filter(|e| e.at == at) else {
                continue;
            };
            if r.hold.is_some_and(|h| k >= h) {
                // Waits for its provider; the record is watched again when released.
                continue;
            }
            let before = status_history(r.sent_at, r.recipients(), &r.elements[..k], i64::MAX);
            let after = status_history(r.sent_at, r.recipients(), &r.elements[..=k], i64::MAX);
            let status_of = |h: &[sim::model::status::StatusChange]| {
                h.last().map_or("IN_VALIDATION", |c| c.status.as_str())
            };
            let status = status_of(&after);
            self.logged += 1;
            self.events.push_back(Event {
                id: self.logged,
                record: index,
                element: k,
                at: e.at,
                logged_at: now,
                status,
                status_changed: after.len() != before.len() || status != status_of(&before),
            });
            r.logged = k + 1;
            if let Some(n) = r.elements.get(k + 1) {
                self.next.push(Reverse((n.at, index)));
            }
        }
        while self
            .events
            .front()
            .is_some_and(|e| e.logged_at < now - RETENTION)
        {
            self.events.pop_front();
        }
    }

    /// The last event id so far.
    pub fn last_id(&self) -> u64 {
        self.logged
    }

    /// The events retained, oldest first.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter()
    }

    /// Puts back saved events and the last id; with `streams`, each record's elements
    /// are followed from where its log had got to.
    pub fn restore(
        &mut self,
        events: VecDeque<Event>,
        logged: u64,
        records: &Records,
        streams: bool,
    ) {
        self.events = events;
        self.logged = logged;
        self.following = streams;
        self.next.clear();
        for i in records.span() {
            if let Some(r) = records.get(i) {
                self.watch(i, r);
            }
        }
    }

    /// Events retained (for the metrics).
    pub fn retained(&self) -> usize {
        self.events.len()
    }

    /// Up to `MAX_EVENTS` events of `stream` after `last_event_id`, still retained at
    /// `now`.
    pub fn read(&self, stream: &Stream, last_event_id: u64, now: i64, records: &Records) -> Batch {
        let from = last_event_id.max(stream.after);
        let first = self.events.front().map_or(self.logged + 1, |e| e.id);
        let skip = (from + 1).saturating_sub(first) as usize;
        let mut events = Vec::new();
        let mut more = false;
        for e in self.events.iter().skip(skip) {
            if stream.disabled.is_some_and(|d| e.at > d) {
                break;
            }
            let Some(r) = records.get(e.record) else {
                continue;
            };
            if r.sender != stream.sender || e.logged_at < now - RETENTION {
                continue;
            }
            let category = r.elements[e.element].category.as_str();
            if stream.wait_for_accepted && !r.accepted() {
                continue;
            }
            if !stream.accepts(r, category, e.status_changed, e.status) {
                continue;
            }
            if events.len() == MAX_EVENTS {
                more = true;
                break;
            }
            events.push(e.clone());
        }
        Batch { events, more }
    }
}

/// The `eventId` text: 38 digits, zero-padded.
pub fn event_id_text(id: u64) -> String {
    format!("{id:038}")
}

/// Milliseconds left before `at`, rounded up.
pub fn millis_until(at: Instant, now: Instant) -> u64 {
    let d = at.saturating_duration_since(now);
    (d + Duration::from_nanos(999_999)).as_millis() as u64
}
