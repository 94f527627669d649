//! The mock's state: uploaded files, notifications with their model trajectories, and
//! the indexes the API looks them up by.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use sim::Model;
use sim::model::status::{StatusChange, status_history};
use sim::model::{Category, NotificationInput, RecipientOutcome, TimelineElement};
use sim::rng::{SplitMix64, StreamKey, seed_from_label};

use crate::FastMap;
use crate::ids;
use crate::request::Refusal;
use crate::request_keys::RequestKeys;
use crate::request_text::{Quote, Quotes, RecipientQuote};
use crate::streams::{EventLog, Stream};

thread_local! {
    /// The model's elements for the notification being computed on this thread.
    static TIMELINE: std::cell::RefCell<Vec<TimelineElement>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Its element ids, joined, while they are built.
    static ID_TEXT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// A presigned upload slot and what was uploaded to it.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The sender whose preload created the slot.
    pub owner: String,
    pub secret: String,
    pub sha256: String,
    pub content_type: String,
    /// `x-amz-version-id` once uploaded.
    pub version: Option<String>,
    pub data: Vec<u8>,
    /// Notifications held that refer to it; it goes with the last of them.
    pub refs: u32,
}

/// One notification request and, once validated, its trajectory.
#[derive(Debug, Clone)]
pub struct Record {
    pub request_id: String,
    pub iun: String,
    pub sender: String,
    pub api_version: &'static str,
    /// The request as received (after upgrade), as compact JSON text: parsed, it held
    /// about 7 KB in some 70 allocations, eight times its text, and only views,
    /// downloads and the relay read it. `request_value` parses it. Written only by
    /// `set_request`, so its fields are in name order, each once (views rely on it).
    request: Box<str>,
    /// Where the values views quote stand in `request`.
    quotes: Quotes,
    /// `request_plain`, found once: looking for a view's fields in the text was a
    /// twentieth of a detail and half of a request status.
    request_plain: bool,
    /// How many recipients the request names.
    pub recipients: usize,
    /// The request's `group`, which stream filters read for every event.
    pub group: Option<Box<str>>,
    pub sent_at: i64,
    pub validated_at: i64,
    pub refusal: Vec<Refusal>,
    pub key: StreamKey,
    pub input: Option<NotificationInput>,
    pub elements: Vec<TimelineElement>,
    pub element_ids: ElementIds,
    pub legal_keys: LegalKeys,
    pub outcomes: Vec<RecipientOutcome>,
    /// Elements already in the event log.
    pub logged: usize,
    /// Times the timeline was computed (views cached before a change are stale).
    pub generation: u32,
    /// A send waiting for its provider (`--external-channel`): the element id, and the
    /// index of the first element held back after it.
    pub hold_id: Option<String>,
    pub hold: Option<usize>,
}

/// Short strings in one text: a few dozen each would cost an allocation apiece for the
/// notification's whole life.
#[derive(Debug, Clone, Default)]
pub struct Texts {
    text: Box<str>,
    /// Where each string ends in `text`.
    ends: Box<[u32]>,
}

impl Texts {
    /// The strings `text` holds, each ending where `ends` says.
    fn new(text: &str, ends: Vec<u32>) -> Texts {
        Texts {
            text: text.into(),
            ends: ends.into_boxed_slice(),
        }
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn touch(&self) {
        touch_bytes(self.text.as_bytes());
        let end = self.ends.iter().step_by(16).fold(0, |x, e| x ^ e);
        std::hint::black_box(end);
    }

    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }
}

/// Loads one byte of each cache line of `bytes`. The loads do not wait for one another,
/// so the lines arrive together, where a reader taking them in turn would wait for each.
fn touch_bytes(bytes: &[u8]) {
    let mut x = 0u8;
    for k in (0..bytes.len()).step_by(64) {
        x ^= bytes[k];
    }
    std::hint::black_box(x);
}

/// A notification's element ids (`CATEGORY.IUN_….RECINDEX_n…`). Each is held as what
/// follows its IUN: the category is the element's, and the IUN, in every id, is the
/// notification's. Half of each id's bytes, and of what a detail reads, are not held.
#[derive(Debug, Clone, Default)]
pub struct ElementIds(Texts);

impl ElementIds {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One element id, in its three parts.
#[derive(Debug, Clone, Copy)]
pub struct ElementId<'a> {
    category: &'static str,
    iun: &'a str,
    /// `.RECINDEX_n`, `.SOURCE_…`, `.ATTEMPT_n`, `.IDX_n`, as they apply.
    rest: &'a str,
}

const IUN_MARK: &str = ".IUN_";

impl ElementId<'_> {
    /// The pieces it reads as, in order.
    fn parts(&self) -> [&str; 4] {
        [self.category, IUN_MARK, self.iun, self.rest]
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.parts().iter().map(|p| p.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether it is `id`, without writing it out.
    pub fn is(&self, id: &str) -> bool {
        let mut rest = Some(id);
        for p in self.parts() {
            rest = rest.and_then(|t| t.strip_prefix(p));
        }
        rest == Some("")
    }

    /// Appends it to `out`.
    pub fn push_to(&self, out: &mut String) {
        self.parts().iter().for_each(|p| out.push_str(p));
    }
}

impl std::fmt::Display for ElementId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.parts().iter().try_for_each(|p| f.write_str(p))
    }
}

impl crate::json_out::Json for ElementId<'_> {
    fn write(&self, buf: &mut Vec<u8>) {
        // A category name, the mock's own IUN and digits: nothing JSON escapes.
        buf.push(b'"');
        self.parts()
            .iter()
            .for_each(|p| buf.extend_from_slice(p.as_bytes()));
        buf.push(b'"');
    }
}

/// A notification's legal-fact keys, one for each element that has a legal fact, in one
/// text as the element ids are: a string and a slot apiece took some 670 bytes a
/// notification and four more allocations for a detail to reach.
#[derive(Debug, Clone, Default)]
pub struct LegalKeys(Texts);

impl LegalKeys {
    /// The key of element `i`, if it has a legal fact.
    pub fn get(&self, i: usize) -> Option<&str> {
        (i < self.0.len())
            .then(|| self.0.get(i))
            .filter(|k| !k.is_empty())
    }

    /// Each element's key, or `None`.
    pub fn iter(&self) -> impl Iterator<Item = Option<&str>> {
        (0..self.0.len()).map(|i| self.get(i))
    }
}

impl Record {
    /// Element `i`'s id.
    pub fn element_id(&self, i: usize) -> ElementId<'_> {
        ElementId {
            category: self.elements[i].category.as_str(),
            iun: &self.iun,
            rest: self.element_ids.0.get(i),
        }
    }

    /// Every element's id, in timeline order.
    pub fn element_ids(&self) -> impl Iterator<Item = ElementId<'_>> {
        (0..self.element_ids.len()).map(|i| self.element_id(i))
    }

    /// The element whose id is `id`.
    pub fn element_index(&self, id: &str) -> Option<usize> {
        self.element_ids().position(|e| e.is(id))
    }

    /// A request as received: its timeline comes with `with_timeline`.
    pub fn new(
        iun: &str,
        sender: &str,
        api_version: &'static str,
        key: StreamKey,
        sent_at: i64,
        validated_at: i64,
        refusal: Vec<Refusal>,
    ) -> Record {
        Record {
            request_id: ids::request_id(iun),
            iun: iun.to_string(),
            sender: sender.to_string(),
            api_version,
            request: "null".into(),
            quotes: Quotes::default(),
            request_plain: false,
            recipients: 0,
            group: None,
            sent_at,
            validated_at,
            refusal,
            key,
            input: None,
            elements: Vec::new(),
            element_ids: ElementIds::default(),
            legal_keys: LegalKeys::default(),
            outcomes: Vec::new(),
            logged: 0,
            generation: 0,
            hold_id: None,
            hold: None,
        }
    }

    /// The timeline: the model's from `input` when accepted, else REQUEST_REFUSED.
    pub fn with_timeline(
        mut self,
        model: &Model,
        input: impl FnOnce() -> NotificationInput,
    ) -> Record {
        if self.accepted() {
            self.input = Some(input());
            self.recompute(model);
        } else {
            self.refused_timeline();
        }
        self
    }

    /// Finished: refused, or every element of its timeline has happened by `now` (and
    /// none waits for a provider).
    pub fn finished(&self, now: i64) -> bool {
        self.hold.is_none()
            && now >= self.validated_at
            && self.elements.last().is_none_or(|e| e.at <= now)
    }

    /// A refused request's timeline: REQUEST_REFUSED when validation ends.
    fn refused_timeline(&mut self) {
        self.elements = vec![TimelineElement {
            at: self.validated_at,
            category: Category::RequestRefused,
            legal_fact: None,
            details: Default::default(),
        }];
        self.assign_ids();
    }

    /// Holds the timeline after element `id` (or lets it go with `None`).
    pub fn set_hold(&mut self, id: Option<String>) {
        self.hold = id
            .as_ref()
            .and_then(|id| self.element_index(id))
            .map(|i| i + 1);
        self.hold_id = id;
    }

    /// Keeps `request` (as text: serde_json writes an object's fields in name order)
    /// and the facts read from it often.
    pub fn set_request(&mut self, request: &Value) {
        (self.request, self.quotes) = crate::request_text::write(request);
        self.request_plain = match request.as_object() {
            Some(fields) => crate::render::has_no_view_field(fields),
            None => crate::render::names_no_view_field(&self.request),
        };
        self.recipients = request["recipients"].as_array().map_or(0, Vec::len);
        self.group = request["group"].as_str().map(Into::into);
    }

    /// Asks the processor for the memory a view reads, all at once: a rotating read finds
    /// none of it in cache, and fetched line by line as rendering reaches it, each miss
    /// would wait for the one before.
    pub fn touch(&self) {
        let at = self.elements.iter().fold(0, |x, e| x ^ e.at);
        std::hint::black_box(at);
        self.element_ids.0.touch();
        self.legal_keys.0.touch();
        touch_bytes(self.request.as_bytes());
    }

    /// The request as compact JSON text, its fields in name order.
    pub fn request_text(&self) -> &str {
        &self.request
    }

    /// The raw JSON of a request-level value views quote, if the request has it.
    pub fn quote(&self, quote: Quote) -> Option<&str> {
        self.quotes.get(&self.request, quote)
    }

    /// The raw JSON of a value of recipient `rec` views quote, if it has it.
    pub fn recipient_quote(&self, rec: usize, quote: RecipientQuote) -> Option<&str> {
        self.quotes.recipient(&self.request, rec, quote)
    }

    /// Whether the request has none of the fields a view writes itself or leaves out,
    /// so that every view copies it whole.
    pub fn request_plain(&self) -> bool {
        self.request_plain
    }

    /// The request, parsed.
    pub fn request_value(&self) -> Value {
        serde_json::from_str(&self.request).expect("a stored request is JSON")
    }

    pub fn recipients(&self) -> usize {
        self.recipients
    }

    pub fn accepted(&self) -> bool {
        self.refusal.is_empty()
    }

    pub fn cancelled(&self) -> bool {
        self.input
            .as_ref()
            .is_some_and(|i| i.cancelled_at.is_some())
    }

    /// Runs the model again (after a reported payment or a cancellation changed the
    /// input): the same streams, so everything before the change stays as it was.
    pub fn recompute(&mut self, model: &Model) {
        self.generation += 1;
        if let Some(input) = &self.input {
            // The model writes into a buffer kept per thread; the record gets a copy of
            // exactly its size (held for the notification's life), so a send neither
            // allocates the model's generous room nor trims it.
            let outcomes = TIMELINE.with_borrow_mut(|elements| {
                let (_, outcomes) = model.timeline_into(&self.key, input, elements);
                let mut exact = Vec::with_capacity(elements.len());
                exact.append(elements);
                self.elements = exact;
                // A notification with very many recipients does not keep its room here.
                elements.shrink_to(1024);
                outcomes
            });
            self.outcomes = outcomes;
            self.outcomes.shrink_to_fit();
        }
        self.assign_ids();
        let held = self.hold_id.take();
        self.set_hold(held);
    }

    /// Element ids in the production format (`CATEGORY.IUN_….RECINDEX_n…`), unique
    /// within the notification, and legal-fact keys.
    pub fn assign_ids(&mut self) {
        let ids = ID_TEXT.with_borrow_mut(|text| {
            text.clear();
            let mut ends = Vec::with_capacity(self.elements.len());
            // What each id says before any `.IDX_n` (the IUN is the same for all):
            // repeats of the same stem are numbered.
            let mut stems = Vec::with_capacity(self.elements.len());
            let mut number = itoa::Buffer::new();
            for e in &self.elements {
                let d = &e.details;
                if let Some(r) = d.rec_index {
                    text.push_str(".RECINDEX_");
                    text.push_str(number.format(r));
                }
                if let Some(s) = d.digital_address_source {
                    text.push_str(".SOURCE_");
                    text.push_str(s.as_str());
                }
                if let Some(a) = d.sent_attempt_made {
                    text.push_str(".ATTEMPT_");
                    text.push_str(number.format(a));
                }
                let stem = (
                    e.category,
                    d.rec_index,
                    d.digital_address_source,
                    d.sent_attempt_made,
                );
                let n = 1 + stems.iter().filter(|&&s| s == stem).count();
                stems.push(stem);
                if n > 1
                    || matches!(
                        e.category,
                        Category::SendAnalogProgress
                            | Category::SendDigitalProgress
                            | Category::SendSimpleRegisteredLetterProgress
                    )
                {
                    text.push_str(".IDX_");
                    text.push_str(number.format(n));
                }
                ends.push(text.len() as u32);
            }
            // Built in a buffer kept per thread, stored at exactly its size.
            Texts::new(text, ends)
        });
        self.element_ids = ElementIds(ids);
        let keys = ID_TEXT.with_borrow_mut(|text| {
            text.clear();
            let mut ends = Vec::with_capacity(self.elements.len());
            let mut id = String::new();
            for (i, e) in self.elements.iter().enumerate() {
                if let Some(c) = e.legal_fact {
                    id.clear();
                    self.element_id(i).push_to(&mut id);
                    let mut rng = SplitMix64(seed_from_label(&id));
                    ids::push_legal_fact_key(
                        text,
                        &mut rng,
                        c == sim::model::timeline::LegalFactCategory::PecReceipt,
                    );
                }
                ends.push(text.len() as u32);
            }
            // In the same per-thread buffer as the ids, stored at exactly its size.
            Texts::new(text, ends)
        });
        self.legal_keys = LegalKeys(keys);
    }

    /// How many elements are visible at `now` (they are sorted by time): none past a
    /// send that waits for its provider.
    pub fn visible(&self, now: i64) -> usize {
        let n = self.elements.partition_point(|e| e.at <= now);
        self.hold.map_or(n, |h| n.min(h))
    }

    pub fn history(&self, now: i64) -> Vec<StatusChange> {
        let n = self.visible(now);
        status_history(
            self.sent_at,
            self.recipients(),
            &self.elements[..n],
            i64::MAX,
        )
    }
}

/// The notifications by index. A dropped one leaves an empty slot until every older one
/// is gone too: indexes stay valid, and memory follows the notifications held.
#[derive(Default)]
pub struct Records {
    /// Index of the first slot.
    base: usize,
    /// Shared, so a view can be rendered from a record outside the store's lock; a
    /// change while a view is being rendered copies the record first.
    slots: VecDeque<Option<Arc<Record>>>,
}

impl Records {
    pub fn get(&self, i: usize) -> Option<&Record> {
        let k = i.checked_sub(self.base)?;
        self.slots.get(k)?.as_deref()
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut Record> {
        let k = i.checked_sub(self.base)?;
        self.slots.get_mut(k)?.as_mut().map(Arc::make_mut)
    }

    /// The record itself, to read after the lock is let go.
    pub fn shared(&self, i: usize) -> Option<Arc<Record>> {
        let k = i.checked_sub(self.base)?;
        self.slots.get(k)?.clone()
    }

    fn push(&mut self, r: Record) -> usize {
        self.slots.push_back(Some(Arc::new(r)));
        self.base + self.slots.len() - 1
    }

    fn remove(&mut self, i: usize) -> Option<Arc<Record>> {
        let k = i.checked_sub(self.base)?;
        let r = self.slots.get_mut(k)?.take();
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.base += 1;
        }
        r
    }

    /// The indexes from the oldest record held to the newest (some may be dropped).
    pub fn span(&self) -> std::ops::Range<usize> {
        self.base..self.base + self.slots.len()
    }

    /// The notifications held, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Record> {
        self.slots.iter().filter_map(|s| s.as_deref())
    }

    /// The notifications held with their indexes, shared (for a snapshot).
    pub fn indexed(&self) -> impl Iterator<Item = (usize, Arc<Record>)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(k, s)| s.clone().map(|r| (self.base + k, r)))
    }

    /// Leaves empty slots up to index `i`, so that the next push lands there.
    fn skip_to(&mut self, i: usize) {
        if self.slots.is_empty() {
            self.base = i;
        }
        while self.base + self.slots.len() < i {
            self.slots.push_back(None);
        }
    }
}

impl std::ops::Index<usize> for Records {
    type Output = Record;

    /// A notification an index of the store points to (the indexes forget dropped ones).
    fn index(&self, i: usize) -> &Record {
        self.get(i).expect("an indexed notification is held")
    }
}

impl std::ops::IndexMut<usize> for Records {
    fn index_mut(&mut self, i: usize) -> &mut Record {
        self.get_mut(i).expect("an indexed notification is held")
    }
}

#[derive(Default)]
pub struct Store {
    pub uploads: HashMap<String, Upload>,
    /// Upload keys, oldest first (dropped beyond the cap).
    upload_order: VecDeque<String>,
    pub records: Records,
    pub by_request_id: FastMap<String, usize>,
    pub by_iun: FastMap<String, usize>,
    pub by_token: FastMap<(String, String, String), usize>,
    /// (creditorTaxId, noticeCode) -> (record, recipient)
    pub by_notice: HashMap<(String, String), (usize, usize)>,
    /// Payment positions registered on GPD through the admin API.
    pub gpd: HashSet<(String, String)>,
    pub ids: u64,
    pub streams: Vec<Stream>,
    pub log: EventLog,
    pub views: ViewCache,
    /// Records held, oldest first (candidates for eviction).
    live: VecDeque<usize>,
}

/// Which rendered view of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    Detail,
    DetailV23,
}

/// What a view depends on: the notification, its timeline's generation and how much of
/// it is visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewKey {
    pub record: usize,
    pub generation: u32,
    pub view: View,
    pub visible: usize,
}

/// Views rendered lately: a notification polled again and again is serialized once per
/// change of what it shows. A view is kept only when it is asked for a second time
/// while its first rendering is still remembered: a load test reading thousands of
/// notifications in turn would otherwise fill the cache with views never read again,
/// megabytes that push the notifications themselves out of the processor's cache.
/// Bounded: full, it starts afresh.
pub struct ViewCache {
    views: FastMap<ViewKey, bytes::Bytes>,
    /// A hash of the view last rendered in each slot (slots by hash).
    seen: Box<[u64]>,
}

/// Views kept at most (a detail is a few kilobytes).
pub const VIEWS_CACHED: usize = 2048;

/// Views remembered as rendered once.
const VIEWS_SEEN: usize = 4096;

impl Default for ViewCache {
    fn default() -> ViewCache {
        ViewCache {
            views: FastMap::default(),
            seen: vec![0; VIEWS_SEEN].into_boxed_slice(),
        }
    }
}

impl ViewCache {
    pub fn get(&self, key: &ViewKey) -> Option<bytes::Bytes> {
        self.views.get(key).cloned()
    }

    /// Whether the view `key`, about to be rendered, is to be kept (`put`): it was
    /// rendered lately already. Remembers it otherwise.
    pub fn admit(&mut self, key: &ViewKey) -> bool {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        // Never 0, the empty slot.
        let h = BuildHasherDefault::<DefaultHasher>::default().hash_one(key) | 1;
        let slot = &mut self.seen[(h >> 1) as usize % VIEWS_SEEN];
        let again = *slot == h;
        *slot = h;
        again
    }

    pub fn put(&mut self, key: ViewKey, body: bytes::Bytes) {
        if self.views.len() >= VIEWS_CACHED {
            self.views.clear();
        }
        self.views.insert(key, body);
    }
}

/// Indexes are reserved for at most this many notifications (a larger cap grows them).
const MAX_RESERVED: usize = 1_000_000;

/// Uploads kept per notification held at most (a document and a payment form or two).
pub const UPLOADS_PER_NOTIFICATION: usize = 4;

impl Store {
    /// A store sized for `notifications` held: its indexes never grow while the cap
    /// holds, so no send waits for a table of a hundred thousand entries to be copied
    /// under the lock. (Reserved memory costs nothing until it is written.)
    pub fn with_capacity(notifications: usize) -> Store {
        let n = notifications.min(MAX_RESERVED);
        let mut s = Store::default();
        s.records.slots.reserve(n);
        s.live.reserve(n);
        s.by_request_id.reserve(n);
        s.by_iun.reserve(n);
        s.by_token.reserve(n);
        s.by_notice.reserve(n);
        s.uploads.reserve(n);
        s.upload_order.reserve(n);
        s.log.reserve(n);
        s
    }

    /// A fresh generator for ids, from a counter (deterministic for a given seed).
    pub fn next_rng(&mut self, seed: u64) -> SplitMix64 {
        self.ids += 1;
        SplitMix64(seed ^ self.ids.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// Adds an upload slot; beyond `cap` slots the oldest are dropped.
    pub fn add_upload(&mut self, key: String, upload: Upload, cap: Option<usize>) {
        if self.upload_order.len() > 2 * self.uploads.len() + 1024 {
            // Keys of uploads gone with their notifications.
            let uploads = &self.uploads;
            self.upload_order.retain(|k| uploads.contains_key(k));
        }
        self.upload_order.push_back(key.clone());
        self.uploads.insert(key, upload);
        if let Some(cap) = cap {
            while self.uploads.len() > cap.max(1) {
                let Some(old) = self.upload_order.pop_front() else {
                    break;
                };
                self.uploads.remove(&old);
            }
        }
    }

    /// The upload keys, oldest first.
    pub fn upload_keys(&self) -> impl Iterator<Item = &String> {
        self.upload_order
            .iter()
            .filter(|k| self.uploads.contains_key(*k))
    }

    /// Inserts a restored record at the index it had (indexes must grow).
    pub fn insert_at(&mut self, index: usize, r: Record, request: &Value) -> usize {
        self.records.skip_to(index);
        self.insert(r, request)
    }

    /// Stores `r`, whose request is `request` (the caller has it parsed).
    pub fn insert(&mut self, r: Record, request: &Value) -> usize {
        let i = self.records.push(r);
        let r = &self.records[i];
        self.by_request_id.insert(r.request_id.clone(), i);
        self.by_iun.insert(r.iun.clone(), i);
        let keys = RequestKeys::of_value(request);
        self.by_token.insert(
            (r.sender.clone(), keys.protocol.into(), keys.token.into()),
            i,
        );
        if r.accepted() {
            for ((creditor, notice), k) in keys.notices {
                self.by_notice
                    .insert((creditor.into(), notice.into()), (i, k));
            }
        }
        for key in &keys.uploads {
            if let Some(u) = self.uploads.get_mut(key.as_ref()) {
                u.refs += 1;
            }
        }
        self.log.watch(i, r);
        self.live.push_back(i);
        i
    }

    /// Notifications held in full.
    pub fn live(&self) -> usize {
        self.live.len()
    }

    /// Drops the oldest finished notifications until at most `cap` are held (a bounded
    /// look at the oldest, so a send never pays for a long scan); returns how many went.
    pub fn evict_over(&mut self, cap: usize, now: i64) -> usize {
        let mut evicted = 0;
        let mut looked = 0;
        while self.live.len() > cap && looked < 64 {
            looked += 1;
            let Some(i) = self.live.pop_front() else {
                break;
            };
            if !self.records[i].finished(now) {
                // Still unfolding: it waits its turn again.
                self.live.push_back(i);
                continue;
            }
            self.evict(i);
            evicted += 1;
        }
        evicted
    }

    fn evict(&mut self, i: usize) {
        let Some(r) = self.records.remove(i) else {
            return;
        };
        self.by_request_id.remove(&r.request_id);
        self.by_iun.remove(&r.iun);
        let parsed;
        let keys = match RequestKeys::of_text(r.request_text()) {
            Some(keys) => keys,
            None => {
                parsed = r.request_value();
                RequestKeys::of_value(&parsed)
            }
        };
        let token = (r.sender.clone(), keys.protocol.into(), keys.token.into());
        if self.by_token.get(&token) == Some(&i) {
            self.by_token.remove(&token);
        }
        for ((creditor, notice), _) in keys.notices {
            let key = (creditor.into_owned(), notice.into_owned());
            if self.by_notice.get(&key).is_some_and(|v| v.0 == i) {
                self.by_notice.remove(&key);
            }
        }
        for key in &keys.uploads {
            if let Some(u) = self.uploads.get_mut(key.as_ref()) {
                u.refs = u.refs.saturating_sub(1);
                if u.refs == 0 {
                    self.uploads.remove(key.as_ref());
                }
            }
        }
    }

    /// Record `i`'s timeline was computed again: the log follows its new elements.
    pub fn recomputed(&mut self, i: usize) {
        self.log.watch(i, &self.records[i]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: usize) -> Record {
        let key = StreamKey {
            seed: 1,
            replication: 0,
            notification: 0,
        };
        let mut r = Record::new(&format!("IUN-{n}"), "s", "2.6", key, 0, 0, Vec::new());
        r.request_id = format!("req-{n}");
        r
    }

    #[test]
    fn a_view_is_kept_when_asked_for_again_and_the_cache_stays_bounded() {
        let key = |record| ViewKey {
            record,
            generation: 1,
            view: View::Detail,
            visible: 5,
        };
        let mut cache = ViewCache::default();
        // Read once: not kept. Read again: kept.
        assert!(!cache.admit(&key(1)));
        assert!(cache.admit(&key(1)));
        cache.put(key(1), bytes::Bytes::from_static(b"{}"));
        assert_eq!(cache.get(&key(1)).as_deref(), Some(&b"{}"[..]));
        // Another moment of the same notification is another view.
        assert!(!cache.admit(&ViewKey {
            visible: 6,
            ..key(1)
        }));
        // Thousands read in turn are not kept: each is forgotten before it comes back.
        let readmitted = (0..3)
            .flat_map(|_| 0..100_000)
            .filter(|&r| cache.admit(&key(r + 10)))
            .count();
        assert!(readmitted < 3 * 100_000 / 50, "{readmitted} kept");
        for r in 0..VIEWS_CACHED + 10 {
            cache.put(key(r), bytes::Bytes::new());
        }
        assert!(cache.views.len() <= VIEWS_CACHED);
    }
    #[test]
    fn element_ids_number_repeats_and_progress_elements() {
        let element = |category, rec: Option<u32>, attempt: Option<u8>| TimelineElement {
            at: 0,
            category,
            legal_fact: None,
            details: sim::model::timeline::Details {
                rec_index: rec,
                sent_attempt_made: attempt,
                ..Default::default()
            },
        };
        let mut r = record(7);
        r.elements = vec![
            element(Category::RequestAccepted, None, None),
            element(Category::SendAnalogProgress, Some(0), Some(0)),
            element(Category::SendAnalogProgress, Some(0), Some(0)),
            element(Category::SendAnalogProgress, Some(1), Some(0)),
            element(Category::Refinement, Some(0), None),
            element(Category::Refinement, Some(0), None),
        ];
        r.assign_ids();
        let ids: Vec<String> = r.element_ids().map(|id| id.to_string()).collect();
        assert_eq!(
            ids,
            [
                "REQUEST_ACCEPTED.IUN_IUN-7",
                "SEND_ANALOG_PROGRESS.IUN_IUN-7.RECINDEX_0.ATTEMPT_0.IDX_1",
                "SEND_ANALOG_PROGRESS.IUN_IUN-7.RECINDEX_0.ATTEMPT_0.IDX_2",
                "SEND_ANALOG_PROGRESS.IUN_IUN-7.RECINDEX_1.ATTEMPT_0.IDX_1",
                "REFINEMENT.IUN_IUN-7.RECINDEX_0",
                "REFINEMENT.IUN_IUN-7.RECINDEX_0.IDX_2",
            ]
        );
        assert_eq!(
            r.element_id(4).to_string(),
            "REFINEMENT.IUN_IUN-7.RECINDEX_0"
        );
        assert!(r.element_id(4).is("REFINEMENT.IUN_IUN-7.RECINDEX_0"));
        assert!(!r.element_id(4).is("REFINEMENT.IUN_IUN-7.RECINDEX_01"));
        assert!(!r.element_id(4).is("REFINEMENT.IUN_IUN-8.RECINDEX_0"));
        assert_eq!(r.element_index("REFINEMENT.IUN_IUN-7.RECINDEX_0"), Some(4));
        assert_eq!(
            r.element_id(4).len(),
            "REFINEMENT.IUN_IUN-7.RECINDEX_0".len()
        );
        assert_eq!(r.element_ids.len(), 6);
    }

    #[test]
    fn legal_fact_keys_go_with_the_elements_that_have_one() {
        use sim::model::timeline::LegalFactCategory;
        let element = |category, legal_fact| TimelineElement {
            at: 0,
            category,
            legal_fact,
            details: Default::default(),
        };
        let mut r = record(8);
        r.elements = vec![
            element(Category::SenderAckCreationRequest, None),
            element(
                Category::RequestAccepted,
                Some(LegalFactCategory::SenderAck),
            ),
            element(Category::AarGeneration, None),
            element(
                Category::SendDigitalFeedback,
                Some(LegalFactCategory::PecReceipt),
            ),
            element(Category::Refinement, None),
        ];
        r.assign_ids();
        let keys: Vec<Option<&str>> = r.legal_keys.iter().collect();
        assert_eq!(keys.len(), 5);
        assert_eq!(
            keys.iter().map(Option::is_some).collect::<Vec<_>>(),
            [false, true, false, true, false]
        );
        assert!(keys[1].is_some_and(|k| k.starts_with("PN_LEGAL_FACTS-0002-")));
        assert!(keys[3].is_some_and(|k| k.starts_with("PN_EXTERNAL_LEGAL_FACTS-0002-")));
        assert_ne!(keys[1], keys[3]);
        assert_eq!(r.legal_keys.get(3), keys[3]);
        assert_eq!(r.legal_keys.get(5), None);
        // The same element ids give the same keys.
        let again = r.legal_keys.clone();
        r.assign_ids();
        assert_eq!(
            r.legal_keys.iter().collect::<Vec<_>>(),
            again.iter().collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_log_follows_elements_only_while_a_stream_exists() {
        let mut store = Store::default();
        let mut r = record(1);
        r.elements = [10, 20, 30, 40]
            .map(|at| TimelineElement {
                at,
                category: Category::Refinement,
                legal_fact: None,
                details: Default::default(),
            })
            .to_vec();
        let i = store.insert(r, &Value::Null);
        // No stream: nothing is queued, nothing logged.
        store.log.advance(25, &mut store.records, false);
        assert_eq!(store.log.last_id(), 0);
        // A stream from 25 on: the two elements before pass, the two after are logged.
        store.log.follow(25, &mut store.records);
        assert_eq!(store.records[i].logged, 2);
        store.log.advance(35, &mut store.records, true);
        store.log.advance(45, &mut store.records, true);
        let logged: Vec<(usize, i64)> = store.log.events().map(|e| (e.element, e.at)).collect();
        assert_eq!(logged, [(2, 30), (3, 40)]);
        // The last stream gone, and another from 60: nothing new to log.
        store.log.advance(50, &mut store.records, false);
        store.log.follow(60, &mut store.records);
        store.log.advance(70, &mut store.records, true);
        assert_eq!(store.log.last_id(), 2);
    }

    #[test]
    fn dropped_notifications_free_their_slots_and_keep_indexes() {
        let mut store = Store::default();
        let ids: Vec<usize> = (0..4)
            .map(|n| store.insert(record(n), &Value::Null))
            .collect();
        assert_eq!(ids, [0, 1, 2, 3]);
        // Finished (no elements): the two oldest go, the others keep their index.
        assert_eq!(store.evict_over(2, 0), 2);
        assert!(store.records.get(0).is_none() && store.records.get(1).is_none());
        assert_eq!(store.records[2].iun, "IUN-2");
        assert_eq!(store.records.slots.len(), 2, "the freed slots are gone");
        assert!(!store.by_iun.contains_key("IUN-0"));
        assert_eq!(store.insert(record(4), &Value::Null), 4);
        assert_eq!(store.records.iter().count(), 3);
    }

    #[test]
    fn an_upload_goes_with_the_last_notification_that_refers_to_it() {
        let mut store = Store::default();
        let upload = Upload {
            owner: "s".into(),
            secret: String::new(),
            sha256: String::new(),
            content_type: "application/pdf".into(),
            version: Some("v1".into()),
            data: vec![0; 10],
            refs: 0,
        };
        store.add_upload("doc".into(), upload, None);
        for n in 0..2 {
            let request = serde_json::json!({ "documents": [{ "ref": { "key": "doc" } }] });
            let mut r = record(n);
            r.set_request(&request);
            store.insert(r, &request);
        }
        assert_eq!(store.uploads["doc"].refs, 2);
        store.evict_over(1, 0);
        assert_eq!(store.uploads["doc"].refs, 1, "still referred to");
        store.evict_over(0, 0);
        assert!(store.uploads.is_empty());
    }

    #[test]
    fn uploads_beyond_the_cap_drop_the_oldest() {
        let mut store = Store::default();
        for k in 0..5 {
            let upload = Upload {
                owner: "s".into(),
                secret: String::new(),
                sha256: String::new(),
                content_type: "application/pdf".into(),
                version: None,
                data: vec![0; 10],
                refs: 0,
            };
            store.add_upload(format!("key-{k}"), upload, Some(3));
        }
        let mut keys: Vec<&String> = store.uploads.keys().collect();
        keys.sort();
        assert_eq!(keys, ["key-2", "key-3", "key-4"]);
    }
}
