//! What each client (API key's sender) exercised and what it did wrong: the official
//! emulator's checklists TC-INVIO-01..04 and TC-COSTO-01 (`domain.md` §2.1), and the
//! behaviour production expects of an integration: `retryAfter` and `retry-after`
//! honoured, no polling storms, a backoff after a 429, retries with the same idempotence
//! token, streams consumed without gaps.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Polls of one request within a second that make a storm.
pub const STORM_POLLS_PER_SECOND: usize = 5;
/// A request this soon after a 429 shows no backoff.
pub const MIN_BACKOFF: Duration = Duration::from_millis(100);

/// How far apart the polls of a storm are at most.
const STORM_WINDOW: Duration = Duration::from_secs(1);

/// A request's last polls, in a ring: one more than a storm, so that "exactly a storm
/// within the window" is told as a list of every poll would tell it. Held inline: a
/// load test polls tens of thousands of requests a second, and a list on the heap for
/// each cost an allocation a poll, and a cache miss for each when they were swept.
#[derive(Debug, Clone, Copy, Default)]
struct RecentPolls {
    times: [Option<Instant>; STORM_POLLS_PER_SECOND + 2],
    next: usize,
}

impl RecentPolls {
    /// Notes a poll at `now`; gives how many of the polls held are within the window
    /// before it (itself included).
    fn push(&mut self, now: Instant) -> usize {
        self.times[self.next] = Some(now);
        self.next = (self.next + 1) % self.times.len();
        self.times
            .iter()
            .flatten()
            .filter(|t| now.duration_since(**t) <= STORM_WINDOW)
            .count()
    }

    #[cfg(test)]
    fn last(&self) -> Option<Instant> {
        self.times[(self.next + self.times.len() - 1) % self.times.len()]
    }
}

/// The recent polls of each request polled lately, in two generations: a request polled
/// again moves into the current one, and the older one is emptied whole once a window.
/// A request's polls stay at least a window after its last, which is all a storm looks
/// back. Sweeping one map for stale requests instead, under the lock every request
/// takes, held them all up for milliseconds once a load polled 50,000 requests a second.
#[derive(Debug, Default)]
struct PollWindows {
    current: crate::FastMap<u64, RecentPolls>,
    previous: crate::FastMap<u64, RecentPolls>,
    current_since: Option<Instant>,
}

impl PollWindows {
    /// Notes a poll of `request` at `now`, as `RecentPolls::push` does.
    fn push(&mut self, request: u64, now: Instant) -> usize {
        let age = self.current_since.map(|t| now.duration_since(t));
        if age.is_none_or(|a| a >= STORM_WINDOW) {
            // `clear` keeps the table's memory and, for plain values, only resets its
            // control bytes: no stall, and no allocation when the next one fills.
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.clear();
            if age.is_some_and(|a| a >= 2 * STORM_WINDOW) {
                // After a pause both are older than a window.
                self.previous.clear();
            }
            self.current_since = Some(now);
        }
        if let Some(polls) = self.current.get_mut(&request) {
            return polls.push(now);
        }
        let mut polls = self.previous.remove(&request).unwrap_or_default();
        let within = polls.push(now);
        self.current.insert(request, polls);
        within
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

/// Something a client did, as the handlers see it.
#[derive(Debug, Clone)]
pub enum Note {
    Preload {
        pdf_slots: usize,
    },
    Upload,
    Send(SendNote),
    /// A request-status read (of the request whose id has this `request_key`);
    /// `retry_after` when the answer was WAITING.
    StatusPoll {
        request: u64,
        retry_after: Option<Duration>,
    },
    StreamCreated {
        timeline: bool,
    },
    StreamRead {
        stream: String,
        last_event_id: Option<u64>,
        returned: Vec<u64>,
        accepted_with_iun: bool,
        too_early: bool,
    },
    DocumentDownloaded,
    PaymentAttachmentDownloaded,
    LegalFactsListed,
    LegalFactDownloaded,
    /// A price read; `own` when the notice is one of the client's notifications with
    /// the sender as creditor.
    Price {
        own: bool,
    },
    /// Any call, with its status (for the backoff check).
    Call {
        status: u16,
    },
}

#[derive(Debug, Clone, Default)]
pub struct SendNote {
    pub protocol: String,
    pub token: String,
    pub accepted: bool,
    pub is_890: bool,
    pub recipients_complete: bool,
    pub uploaded_documents: usize,
    /// (creditorTaxId, noticeCode) of its pagoPA notices.
    pub notices: Vec<(String, String)>,
    pub pagopa_attachment: bool,
    pub sender_tax_id: String,
}

/// Protocol numbers remembered for the idempotence check (a window, so a long run
/// stays in bounded memory).
pub const TOKEN_WINDOW: usize = 1_000_000;
/// Notes between two sweeps of the per-request polling state.
const SWEEP_EVERY: u64 = 4096;

#[derive(Debug, Default)]
struct Client {
    pdf_slots: usize,
    uploads: u64,
    /// What the sends showed, for the checklists.
    sent_890: bool,
    sent_complete_recipients: bool,
    sent_uploaded_documents: bool,
    accepted_without_payment: bool,
    accepted_with_payment: bool,
    accepted_with_pagopa_attachment: bool,
    own_creditor_payment: bool,
    /// hash(protocol) -> hash(first idempotence token).
    tokens: HashMap<u64, u64>,
    notes: u64,
    non_idempotent_retries: u64,
    /// By `request_key`: a key per request polled, without a copy of its id.
    next_poll: crate::FastMap<u64, Instant>,
    recent_polls: PollWindows,
    early_polls: u64,
    storms: u64,
    polls: u64,
    timeline_stream: bool,
    stream_reads: u64,
    stream_accepted_seen: bool,
    stream_early_reads: u64,
    stream_last: HashMap<String, u64>,
    stream_gaps: u64,
    document: bool,
    payment_attachment: bool,
    legal_listed: bool,
    legal_downloaded: bool,
    own_notice_prices: u64,
    last_429: Option<Instant>,
    no_backoff: u64,
    throttled: u64,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub passed: bool,
}

#[derive(Debug, Serialize)]
pub struct Checklist {
    pub id: &'static str,
    pub passed: bool,
    pub checks: Vec<Check>,
}

#[derive(Debug, Serialize)]
pub struct Behaviour {
    pub check: &'static str,
    pub passed: bool,
    pub violations: u64,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct ClientReport {
    pub checklists: Vec<Checklist>,
    pub behaviour: Vec<Behaviour>,
}

#[derive(Default)]
pub struct Conformance {
    clients: Mutex<BTreeMap<String, Client>>,
}

fn checklist(id: &'static str, checks: Vec<(&'static str, bool)>) -> Checklist {
    let checks: Vec<Check> = checks
        .into_iter()
        .map(|(check, passed)| Check { check, passed })
        .collect();
    Checklist {
        id,
        passed: checks.iter().all(|c| c.passed),
        checks,
    }
}

fn behaviour(check: &'static str, violations: u64, detail: String) -> Behaviour {
    Behaviour {
        check,
        passed: violations == 0,
        violations,
        detail,
    }
}

impl Conformance {
    pub fn note(&self, sender: &str, note: Note, now: Instant) {
        let mut clients = self.clients.lock().expect("conformance");
        if !clients.contains_key(sender) {
            clients.insert(sender.to_string(), Client::default());
        }
        let c = clients.get_mut(sender).expect("inserted above");
        c.notes += 1;
        if c.notes % SWEEP_EVERY == 0 {
            // Waits already over say nothing more. Few requests wait at once (those
            // still in validation), so this map stays small.
            c.next_poll.retain(|_, t| *t > now);
        }
        match note {
            Note::Preload { pdf_slots } => c.pdf_slots += pdf_slots,
            Note::Upload => c.uploads += 1,
            Note::Send(s) => {
                let token = hash(&s.token);
                match c.tokens.get(&hash(&s.protocol)) {
                    Some(first) if *first != token => c.non_idempotent_retries += 1,
                    Some(_) => {}
                    None => {
                        if c.tokens.len() >= TOKEN_WINDOW {
                            c.tokens.clear();
                        }
                        c.tokens.insert(hash(&s.protocol), token);
                    }
                }
                c.sent_890 |= s.is_890;
                c.sent_complete_recipients |= s.recipients_complete;
                c.sent_uploaded_documents |= s.uploaded_documents > 0;
                if s.accepted {
                    c.accepted_without_payment |= s.notices.is_empty();
                    c.accepted_with_payment |= !s.notices.is_empty();
                    c.accepted_with_pagopa_attachment |= s.pagopa_attachment;
                }
                c.own_creditor_payment |= s.notices.iter().any(|(cr, _)| *cr == s.sender_tax_id);
            }
            Note::StatusPoll {
                request,
                retry_after,
            } => {
                c.polls += 1;
                if c.next_poll.get(&request).is_some_and(|t| now < *t) {
                    c.early_polls += 1;
                }
                match retry_after {
                    Some(d) => {
                        c.next_poll.insert(request, now + d);
                    }
                    None => {
                        c.next_poll.remove(&request);
                    }
                }
                let within = c.recent_polls.push(request, now);
                if within == STORM_POLLS_PER_SECOND + 1 {
                    c.storms += 1;
                }
            }
            Note::StreamCreated { timeline } => c.timeline_stream |= timeline,
            Note::StreamRead {
                stream,
                last_event_id,
                returned,
                accepted_with_iun,
                too_early,
            } => {
                c.stream_reads += 1;
                if too_early {
                    c.stream_early_reads += 1;
                    return;
                }
                let last_given = c.stream_last.get(&stream).copied().unwrap_or(0);
                if last_event_id.unwrap_or(0) > last_given {
                    // Acknowledging events never received: they are skipped.
                    c.stream_gaps += 1;
                }
                if let Some(m) = returned.iter().max() {
                    c.stream_last.insert(stream, (*m).max(last_given));
                }
                c.stream_accepted_seen |= accepted_with_iun;
            }
            Note::DocumentDownloaded => c.document = true,
            Note::PaymentAttachmentDownloaded => c.payment_attachment = true,
            Note::LegalFactsListed => c.legal_listed = true,
            Note::LegalFactDownloaded => c.legal_downloaded = true,
            Note::Price { own } => {
                if own {
                    c.own_notice_prices += 1;
                }
            }
            Note::Call { status } => {
                if c.last_429
                    .is_some_and(|t| now.duration_since(t) < MIN_BACKOFF)
                {
                    c.no_backoff += 1;
                }
                if status == 429 {
                    c.throttled += 1;
                    c.last_429 = Some(now);
                }
            }
        }
    }

    /// The report of every client seen.
    pub fn report(&self) -> BTreeMap<String, ClientReport> {
        let clients = self.clients.lock().expect("conformance");
        clients
            .iter()
            .map(|(sender, c)| (sender.clone(), report_of(c)))
            .collect()
    }

    /// The report as text, a line per check.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (sender, r) in self.report() {
            out.push_str(&format!("client (sender {sender})\n"));
            for l in &r.checklists {
                let failing: Vec<&str> = l
                    .checks
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| c.check)
                    .collect();
                out.push_str(&format!(
                    "  {} {}{}\n",
                    if l.passed { "PASS" } else { "----" },
                    l.id,
                    if failing.is_empty() {
                        String::new()
                    } else {
                        format!(" (missing: {})", failing.join("; "))
                    }
                ));
            }
            for b in &r.behaviour {
                out.push_str(&format!(
                    "  {} {}{}\n",
                    if b.passed { "ok  " } else { "FAIL" },
                    b.check,
                    if b.passed {
                        String::new()
                    } else {
                        format!(": {}", b.detail)
                    }
                ));
            }
        }
        out
    }
}

/// The key a request-status poll is noted by.
pub fn request_key(request_id: &str) -> u64 {
    hash(request_id)
}

/// A stable 64-bit digest (the same in every run).
fn hash(s: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(s)
}

fn report_of(c: &Client) -> ClientReport {
    let invio01 = checklist(
        "TC-INVIO-01",
        vec![
            ("a preload of a PDF", c.pdf_slots >= 1),
            ("an upload to a preloaded slot", c.uploads > 0),
            (
                "a request with physicalCommunicationType REGISTERED_LETTER_890",
                c.sent_890,
            ),
            (
                "recipients with taxId, digitalDomicile and physicalAddress",
                c.sent_complete_recipients,
            ),
            ("documents referencing uploads", c.sent_uploaded_documents),
            (
                "a notification accepted without payment",
                c.accepted_without_payment,
            ),
        ],
    );
    let invio02 = checklist(
        "TC-INVIO-02",
        vec![
            ("two or more uploads", c.uploads >= 2),
            (
                "a notification accepted with pagoPA payments",
                c.accepted_with_payment,
            ),
            (
                "a pagoPA form uploaded with it",
                c.accepted_with_pagopa_attachment,
            ),
        ],
    );
    let invio03 = checklist(
        "TC-INVIO-03",
        vec![
            ("a TIMELINE stream created", c.timeline_stream),
            ("the stream consumed", c.stream_reads > 0),
            (
                "an event with newStatus ACCEPTED and the IUN received",
                c.stream_accepted_seen,
            ),
            (
                "retry-after honoured",
                c.stream_reads > 0 && c.stream_early_reads == 0,
            ),
        ],
    );
    let invio04 = checklist(
        "TC-INVIO-04",
        vec![
            ("a notified document downloaded", c.document),
            ("a pagoPA attachment downloaded", c.payment_attachment),
            ("legal facts listed", c.legal_listed),
            ("a legal fact downloaded", c.legal_downloaded),
        ],
    );
    let costo01 = checklist(
        "TC-COSTO-01",
        vec![
            (
                "a payment whose creditorTaxId is the sender's",
                c.own_creditor_payment,
            ),
            ("the price asked for it", c.own_notice_prices > 0),
        ],
    );
    let behaviour = vec![
        behaviour(
            "retryAfter honoured (request status)",
            c.early_polls,
            format!(
                "{} of {} status polls came before the retryAfter given",
                c.early_polls, c.polls
            ),
        ),
        behaviour(
            "no polling storms",
            c.storms,
            format!(
                "{} times more than {STORM_POLLS_PER_SECOND} polls of one request within a second",
                c.storms
            ),
        ),
        behaviour(
            "retry-after honoured (streams)",
            c.stream_early_reads,
            format!(
                "{} of {} stream reads came before the retry-after given (429)",
                c.stream_early_reads, c.stream_reads
            ),
        ),
        behaviour(
            "backoff after 429",
            c.no_backoff,
            format!(
                "{} calls came less than {} ms after a 429 ({} 429s)",
                c.no_backoff,
                MIN_BACKOFF.as_millis(),
                c.throttled
            ),
        ),
        behaviour(
            "retries idempotent (same idempotenceToken)",
            c.non_idempotent_retries,
            format!(
                "{} sends repeated a protocol number with another idempotenceToken",
                c.non_idempotent_retries
            ),
        ),
        behaviour(
            "streams consumed without gaps",
            c.stream_gaps,
            format!("{} reads acknowledged events never received", c.stream_gaps),
        ),
    ];
    ClientReport {
        checklists: vec![invio01, invio02, invio03, invio04, costo01],
        behaviour,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[test]
    fn storms_are_counted_as_a_list_of_every_poll_would_count_them() {
        let start = Instant::now();
        // Bursts, steady polling just inside and just outside the window, pauses.
        let mut offsets_ms = Vec::new();
        let mut t = 0u64;
        for k in 0..3_000u64 {
            t += match (k / 40) % 5 {
                0 => 10,
                1 => 166 + k % 3,
                2 => 199 + k % 4,
                3 => 250,
                _ => (k * 7919) % 400,
            };
            offsets_ms.push(t);
        }
        let (mut ring, mut list) = (RecentPolls::default(), VecDeque::new());
        let (mut ring_storms, mut list_storms) = (0, 0);
        for ms in offsets_ms {
            let now = start + Duration::from_millis(ms);
            if ring.push(now) == STORM_POLLS_PER_SECOND + 1 {
                ring_storms += 1;
            }
            list.push_back(now);
            while list
                .front()
                .is_some_and(|t| now.duration_since(*t) > STORM_WINDOW)
            {
                list.pop_front();
            }
            if list.len() == STORM_POLLS_PER_SECOND + 1 {
                list_storms += 1;
            }
            assert_eq!(ring.last(), Some(now));
            assert_eq!(ring_storms, list_storms, "at {ms} ms");
        }
        assert!(
            ring_storms > 10,
            "{ring_storms} storms: the sequence should have some"
        );
    }

    #[test]
    fn polls_of_many_requests_count_storms_as_lists_would_and_old_ones_go() {
        let start = Instant::now();
        let mut rng = sim::rng::SplitMix64(11);
        let mut windows = PollWindows::default();
        let mut lists: HashMap<u64, VecDeque<Instant>> = HashMap::new();
        let (mut storms, mut list_storms) = (0, 0);
        let mut ms = 0u64;
        for k in 0..60_000u64 {
            // Bursts on a few requests, a rotation over many, and pauses of one or two
            // windows and more.
            ms += match (k / 2_000) % 6 {
                5 if k % 2_000 == 0 => 1_000 + rng.advance() % 2_500,
                0 | 1 => rng.advance() % 3,
                _ => rng.advance() % 60,
            };
            let request = if k % 5 == 0 {
                rng.advance() % 8
            } else {
                rng.advance() % 5_000
            };
            let now = start + Duration::from_millis(ms);
            if windows.push(request, now) == STORM_POLLS_PER_SECOND + 1 {
                storms += 1;
            }
            let list = lists.entry(request).or_default();
            list.push_back(now);
            list.retain(|t| now.duration_since(*t) <= STORM_WINDOW);
            if list.len() == STORM_POLLS_PER_SECOND + 1 {
                list_storms += 1;
            }
            assert_eq!(storms, list_storms, "poll {k} at {ms} ms");
            if k % 1_000 == 0 {
                // At most the requests polled within the last three windows are held.
                let lately = lists
                    .values()
                    .filter(|l| {
                        l.back()
                            .is_some_and(|t| now.duration_since(*t) < 3 * STORM_WINDOW)
                    })
                    .count();
                let held = windows.len();
                assert!(held <= lately, "{held} held, {lately} polled lately");
            }
        }
        assert!(
            storms > 20,
            "{storms} storms: the sequence should have some"
        );
    }
}
