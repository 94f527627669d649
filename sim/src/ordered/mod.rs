//! One replication in time order, for the postal capacity that couples notifications.
//!
//! Recipients are independent except for the carriers' weekly capacity, so each
//! notification first runs on its own, in parallel, as if every letter were posted as
//! soon as it is ready (a speculative trajectory, tallied at once); its capacity-bound
//! letters become posting requests. One queue then takes the requests in time order, week
//! by week and lane by lane. A request the lane's week can still take confirms the
//! speculation and costs nothing more. A request that must wait makes its recipient's
//! later requests stale; when the letter is released at the start of a later week, the
//! notification runs again with the delays known so far and queues its new requests.
//! Once all of a notification's requests are settled, its speculative tally is replaced
//! by the one with its real delays (tallies are integer sums, so this is exact).
//!
//! Arrivals never decrease with the notification index, so batches of notifications can
//! be speculated (in parallel with the queue) while the queue works through every request
//! earlier than the next batch's first arrival: nothing later can add a request before it.

pub mod queue;
mod tracked;

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use smallvec::SmallVec;

use crate::capacity::CapacityPlan;
use crate::model::{Model, NotificationInput, PostRequest, Posting};
use crate::rng::StreamKey;
use crate::run::CHUNK;
use crate::scenario::LetterClass;
use crate::tally::Tally;
use crate::time::Tick;
use queue::{DayQueue, Fifo, Timed};
use tracked::{Delays, RecDelays, Tracked, TrackedSet};

/// Chunks speculated between two passes of the queue (the result does not depend on it).
pub const BATCH_CHUNKS: u64 = 16;

/// Marks a request queued by a re-run rather than by the first, speculative pass.
const RERUN: u8 = u8::MAX;
/// Marks the requests of a notification with more first-pass requests than a rank holds;
/// such a notification is tracked from the start.
const BIG: u8 = u8::MAX - 1;
/// The deferred bit of `Request::flags` (the low bits hold the priority rank).
const DEFERRED: u8 = 0x80;

/// A letter asking to be posted. Field order is queue order; kept to 16 bytes since
/// every letter in flight has one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Request {
    /// Seconds from the start (the horizon is far below 2^32 s).
    at: u32,
    notification: u32,
    rec: u16,
    letter: u8,
    /// The recipient's re-run that queued it; older ones are stale.
    epoch: u8,
    lane: u8,
    /// Position among the notification's first-pass requests in queue order, `RERUN` or
    /// `BIG`.
    rank: u8,
    /// The notification's first-pass requests.
    total: u8,
    /// Priority rank, and `DEFERRED` when the notification's speculative tally was not
    /// counted (see `speculate`).
    flags: u8,
}

impl Request {
    fn class(&self) -> usize {
        (self.flags & !DEFERRED) as usize
    }

    fn deferred(&self) -> bool {
        self.flags & DEFERRED != 0
    }
}

impl Timed for Request {
    #[inline]
    fn at(&self) -> u32 {
        self.at
    }
}

/// Posting decisions for one run of one notification: letters with a known delay get
/// it, the others are posted when ready and, if capacity-bound, queued.
struct Oracle<'a> {
    plan: &'a CapacityPlan,
    delays: &'a [RecDelays],
    /// Where to queue requests, and from which recipient only (if set).
    record: Option<&'a mut Vec<Request>>,
    only: Option<u16>,
    epoch: u8,
    notification: u32,
    cancelled: Option<Tick>,
}

impl<'a> Oracle<'a> {
    fn new(plan: &'a CapacityPlan, notification: u32, delays: &'a [RecDelays]) -> Self {
        Oracle {
            plan,
            delays,
            record: None,
            only: None,
            epoch: 0,
            notification,
            cancelled: None,
        }
    }
}

impl Posting for Oracle<'_> {
    fn post(&mut self, r: &PostRequest) -> Tick {
        let Some(lane) = self.plan.lane(r) else {
            return r.ready;
        };
        // Letters ready after the horizon or after a cancellation take no capacity.
        if r.ready >= self.plan.horizon || self.cancelled.is_some_and(|c| r.ready >= c) {
            return r.ready;
        }
        let rec = r.rec as u16;
        if let Some(d) = self
            .delays
            .iter()
            .find(|x| x.rec == rec)
            .and_then(|x| x.delays.get(r.letter as usize))
        {
            return r.ready + *d as Tick;
        }
        if let Some(out) = self.record.as_deref_mut() {
            if self.only.is_none_or(|o| o == rec) {
                out.push(Request {
                    at: r.ready as u32,
                    notification: self.notification,
                    rec,
                    letter: u8::try_from(r.letter).expect("fewer than 256 letters per recipient"),
                    epoch: self.epoch,
                    lane: u8::try_from(lane).expect("fewer than 256 capacity lanes"),
                    rank: RERUN,
                    total: 0,
                    flags: self.plan.class_rank[r.class as usize],
                });
            }
        }
        r.ready
    }

    fn notification_cancelled(&mut self, at: Tick) {
        self.cancelled = Some(at);
    }
}

/// A letter waiting in a lane for a later week.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Waiting {
    at: u32,
    notification: u32,
    rec: u16,
    letter: u8,
    /// The notification's whole state, when the letter is all that is pending of it.
    state: Carried,
}

/// A notification's state carried by its only pending letter rather than kept in the
/// table (most waiting letters: the table stays small however long the lines grow).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Carried {
    present: bool,
    deferred: bool,
    epoch: u8,
    n_delays: u8,
    delays: [u32; 2],
}

/// A lane's week and its waiting letters, one first-in first-out line per priority rank
/// (requests arrive in time order, so each line is in time order).
#[derive(Default)]
struct Lane {
    week: usize,
    used: u32,
    backlog: [Fifo<Waiting>; 4],
}

impl Lane {
    fn is_waiting(&self) -> bool {
        self.backlog.iter().any(|l| !l.is_empty())
    }

    fn next_waiting(&mut self) -> Option<Waiting> {
        self.backlog.iter_mut().find_map(|l| l.pop_front())
    }
}

/// What the queue did in one replication.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Capacity-bound letters that asked to be posted.
    pub requests: u64,
    /// Of those, letters that had to wait for a later week.
    pub delayed: u64,
    /// Seconds the delayed letters waited, in all.
    pub delay_seconds: u64,
    /// Requests dropped because their recipient's trajectory changed.
    pub stale: u64,
}

/// One replication's fixed inputs, shared by the speculating and the re-running code.
#[derive(Clone, Copy)]
struct Replication<'a> {
    model: &'a Model,
    plan: &'a CapacityPlan,
    seed: u64,
    replication: u32,
    total: u64,
}

impl Replication<'_> {
    /// Notification `n`'s stream key and input.
    fn notification(&self, n: u64) -> (StreamKey, NotificationInput) {
        let key = StreamKey {
            seed: self.seed,
            replication: self.replication,
            notification: n,
        };
        (key, self.model.sample_notification(&key, self.total))
    }
}

/// Settled notifications are re-tallied in parallel once this many have gathered.
const SETTLE_BATCH: usize = 4096;

struct Queue<'a> {
    run: Replication<'a>,
    queue: DayQueue<Request>,
    lanes: Vec<Lane>,
    waiting: usize,
    now: Tick,
    tracked: TrackedSet,
    /// Settled notifications and their delays.
    to_settle: Vec<(u32, Tracked)>,
    /// Lanes with letters waiting, as the speculating threads see them.
    saturated: &'a [AtomicBool],
    plus: Tally,
    minus: Tally,
    stats: QueueStats,
}

impl Queue<'_> {
    /// Works through every event before `frontier`.
    fn run_until(&mut self, frontier: Tick) {
        loop {
            let next = self.queue.peek().map(|r| r.at as Tick);
            if self.waiting > 0 {
                let w = self.run.plan.week_of(self.now) + 1;
                let b = self.run.plan.week_starts[w];
                if b < frontier && next.is_none_or(|t| b <= t) {
                    self.new_week(w, b);
                    continue;
                }
            }
            match next {
                Some(t) if t < frontier => {
                    let r = self.queue.pop().expect("peeked");
                    self.request(r);
                }
                _ => break,
            }
        }
        self.settle_gathered();
    }

    /// Week `w` starts at `at`: each lane posts its waiting letters, best first, up to
    /// its capacity (all of them past the horizon, where nothing is counted); their
    /// recipients run again, in parallel, from there.
    fn new_week(&mut self, w: usize, at: Tick) {
        self.now = at;
        let mut released = Vec::new();
        for lane in 0..self.lanes.len() {
            if !self.lanes[lane].is_waiting() {
                continue;
            }
            let cap = if at >= self.run.plan.horizon {
                u32::MAX
            } else {
                self.run.plan.capacity(lane as u16, w)
            };
            let l = &mut self.lanes[lane];
            l.week = w;
            l.used = 0;
            while l.used < cap {
                let Some(x) = l.next_waiting() else {
                    break;
                };
                l.used += 1;
                released.push(x);
            }
            self.saturated[lane].store(l.is_waiting(), Ordering::Relaxed);
        }
        self.waiting -= released.len();
        // In index order: cheaper lookups, and one notification's releases side by side.
        released.sort_unstable_by_key(|x| (x.notification, x.rec, x.letter));
        let mut jobs: Vec<(Waiting, Delays, bool)> = Vec::with_capacity(released.len());
        for (i, x) in released.iter().enumerate() {
            let delay = (at - x.at as Tick) as u32;
            self.stats.delay_seconds += delay as u64;
            if x.state.present {
                // Nothing else of it is pending: it is released alone.
                let mut delays: SmallVec<[u32; 2]> =
                    x.state.delays[..x.state.n_delays as usize].into();
                set_delay(&mut delays, x.letter, delay);
                let rec = RecDelays {
                    rec: x.rec,
                    epoch: x.state.epoch,
                    delays,
                };
                jobs.push((*x, smallvec::smallvec![rec], true));
                continue;
            }
            let t = self
                .tracked
                .get_mut(x.notification)
                .expect("waiting letters are tracked");
            t.pending -= 1;
            let rec = t
                .recs
                .iter_mut()
                .find(|r| r.rec == x.rec)
                .expect("tracked recipient");
            set_delay(&mut rec.delays, x.letter, delay);
            // Released alone with nothing else pending, the notification settles right
            // after its re-run if that queues nothing: the re-run's tally is then its
            // final one, counted on the spot.
            let alone = (i == 0 || released[i - 1].notification != x.notification)
                && released
                    .get(i + 1)
                    .is_none_or(|y| y.notification != x.notification);
            jobs.push((*x, t.recs.clone(), alone && t.pending == 0));
        }
        let run = self.run;
        let (model, plan) = (run.model, run.plan);
        let days = model.scenario.horizon_days as usize;
        let (counted, reruns) = jobs
            .par_iter()
            .fold(
                || (Tally::new(days), Vec::new()),
                |(mut tally, mut reruns), (x, delays, last)| {
                    let (key, n) = run.notification(x.notification as u64);
                    let mut out = Vec::new();
                    let mut outcomes = SmallVec::<[_; 2]>::new();
                    let mut oracle = Oracle::new(plan, x.notification, delays);
                    oracle.record = Some(&mut out);
                    oracle.only = Some(x.rec);
                    oracle.epoch = delays
                        .iter()
                        .find(|r| r.rec == x.rec)
                        .map_or(0, |r| r.epoch);
                    model.notification_posted(&key, &n, &mut (), &mut oracle, |_, s, b| {
                        if *last {
                            outcomes.push((s.clone(), b.clone()));
                        }
                    });
                    let settled = *last && out.is_empty();
                    if settled {
                        for (s, b) in &outcomes {
                            tally.count_recipient(model, &n, s, b);
                        }
                    }
                    reruns.push((out, settled));
                    (tally, reruns)
                },
            )
            .reduce(
                || (Tally::new(days), Vec::new()),
                |(a, mut ra), (b, rb)| {
                    ra.extend(rb);
                    (a.merge(b), ra)
                },
            );
        self.add_plus(counted);
        // One notification's re-runs all queue their requests before it may settle.
        let mut i = 0;
        let mut reruns = reruns.into_iter();
        while i < jobs.len() {
            let notification = jobs[i].0.notification;
            let (mut added, mut counted) = (0, false);
            while jobs
                .get(i)
                .is_some_and(|j| j.0.notification == notification)
            {
                let (out, settled) = reruns.next().expect("one re-run per job");
                added += out.len() as u32;
                counted |= settled;
                for r in out {
                    debug_assert!(r.at as Tick > at);
                    self.queue.push(r);
                }
                i += 1;
            }
            let first = &jobs[i - 1];
            if first.0.state.present {
                let t = Tracked {
                    pending: added,
                    recs: first.1.clone(),
                    counted,
                    deferred: first.0.state.deferred,
                };
                if added == 0 {
                    self.set_aside(notification, t);
                } else {
                    self.tracked.insert(notification, t);
                }
                continue;
            }
            let done = self.tracked.update(notification, |t| {
                t.pending += added;
                t.counted |= counted;
            });
            if let Some(((), Some(t))) = done {
                self.set_aside(notification, t);
            }
        }
    }

    fn request(&mut self, r: Request) {
        self.now = r.at as Tick;
        let tracked = self.tracked.has(r.notification);
        if tracked {
            let t = self.tracked.get_mut(r.notification).expect("tracked");
            let epoch = t
                .recs
                .iter()
                .find(|x| x.rec == r.rec)
                .map_or(0, |x| x.epoch);
            if r.epoch != epoch {
                self.stats.stale += 1;
                if let Some(((), Some(t))) = self.tracked.update(r.notification, |t| t.pending -= 1)
                {
                    self.set_aside(r.notification, t);
                }
                return;
            }
        }
        self.stats.requests += 1;
        let w = self.run.plan.week_of(self.now);
        let cap = self.run.plan.capacity(r.lane as u16, w);
        let lane = &mut self.lanes[r.lane as usize];
        if lane.week != w {
            lane.week = w;
            lane.used = 0;
        }
        if lane.used < cap && !lane.is_waiting() {
            lane.used += 1;
            if !tracked && r.deferred() && r.rank + 1 == r.total {
                // A deferred notification that never waited: its tally is still to count.
                let t = Tracked {
                    pending: 0,
                    recs: SmallVec::new(),
                    counted: false,
                    deferred: true,
                };
                self.set_aside(r.notification, t);
            } else if tracked {
                let done = self.tracked.update(r.notification, |t| {
                    t.pending -= 1;
                    if let Some(x) = t.recs.iter_mut().find(|x| x.rec == r.rec) {
                        set_delay(&mut x.delays, r.letter, 0);
                    }
                });
                if let Some(((), Some(t))) = done {
                    self.set_aside(r.notification, t);
                }
            }
            return;
        }
        // The week is full: the letter waits, and what its recipient did after posting
        // it no longer holds. (A tracked notification's pending count is unchanged: this
        // request leaves the queue and joins the lane.)
        self.stats.delayed += 1;
        self.saturated[r.lane as usize].store(true, Ordering::Relaxed);
        self.waiting += 1;
        let t = self.tracked.get_or_insert_with(r.notification, || {
            debug_assert_ne!(
                r.rank, RERUN,
                "re-run requests belong to tracked notifications"
            );
            debug_assert_ne!(r.rank, BIG, "big notifications are tracked from the start");
            Tracked {
                pending: (r.total - r.rank) as u32,
                recs: SmallVec::new(),
                counted: false,
                deferred: r.deferred(),
            }
        });
        match t.recs.iter_mut().find(|x| x.rec == r.rec) {
            Some(x) => x.epoch = x.epoch.wrapping_add(1),
            None => t.recs.push(RecDelays {
                rec: r.rec,
                epoch: 1,
                delays: SmallVec::new(),
            }),
        }
        let carried = t.pending == 1 && t.recs.len() == 1 && t.recs[0].delays.len() <= 2;
        let mut state = Carried::default();
        if carried {
            let t = self.tracked.remove(r.notification).expect("tracked");
            let rec = &t.recs[0];
            state = Carried {
                present: true,
                deferred: t.deferred,
                epoch: rec.epoch,
                n_delays: rec.delays.len() as u8,
                delays: [0; 2],
            };
            state.delays[..rec.delays.len()].copy_from_slice(&rec.delays);
        }
        self.lanes[r.lane as usize].backlog[r.class()].push_back(Waiting {
            at: r.at,
            notification: r.notification,
            rec: r.rec,
            letter: r.letter,
            state,
        });
    }

    /// A notification with nothing pending is set aside to be re-tallied.
    fn set_aside(&mut self, notification: u32, t: Tracked) {
        self.to_settle.push((notification, t));
        if self.to_settle.len() >= SETTLE_BATCH {
            self.settle_gathered();
        }
    }

    /// The tallies with the real delays replace the speculative ones.
    fn settle_gathered(&mut self) {
        if self.to_settle.is_empty() {
            return;
        }
        let run = self.run;
        let (model, plan) = (run.model, run.plan);
        let days = model.scenario.horizon_days as usize;
        let (plus, minus) = self
            .to_settle
            .par_iter()
            .fold(
                || (Tally::new(days), Tally::new(days)),
                |(mut plus, mut minus), (notification, t)| {
                    let (key, n) = run.notification(*notification as u64);
                    // The speculative tally comes out unless it was deferred; the final one
                    // goes in unless a re-run counted it.
                    let runs = [
                        (!t.deferred).then_some((&mut minus, &[][..])),
                        (!t.counted).then_some((&mut plus, &t.recs[..])),
                    ];
                    for (tally, delays) in runs.into_iter().flatten() {
                        let mut oracle = Oracle::new(plan, *notification, delays);
                        model.notification_posted(&key, &n, &mut (), &mut oracle, |_, s, b| {
                            tally.count_recipient(model, &n, s, b);
                        });
                    }
                    (plus, minus)
                },
            )
            .reduce(
                || (Tally::new(days), Tally::new(days)),
                |(p, m), (p2, m2)| (p.merge(p2), m.merge(m2)),
            );
        self.to_settle.clear();
        self.add_plus(plus);
        let days = model.scenario.horizon_days as usize;
        let before = std::mem::replace(&mut self.minus, Tally::new(days));
        self.minus = before.merge(minus);
    }

    fn add_plus(&mut self, t: Tally) {
        let days = self.run.model.scenario.horizon_days as usize;
        let before = std::mem::replace(&mut self.plus, Tally::new(days));
        self.plus = before.merge(t);
    }
}

fn set_delay(delays: &mut SmallVec<[u32; 2]>, letter: u8, delay: u32) {
    let i = letter as usize;
    if delays.len() <= i {
        delays.resize(i + 1, 0);
    }
    delays[i] = delay;
}

/// What speculating a chunk yields: its tally, its requests, and its notifications with
/// too many requests to rank, with their counts.
type Speculated = (Tally, Vec<Request>, Vec<(u32, u32)>);

/// Speculates notifications `first..first + count`: their tally and their requests. A
/// notification with a recipient in a lane that has letters waiting will most likely
/// wait too, so its tally is deferred to when it settles rather than counted now and
/// replaced then. Which notifications are deferred depends on timing, the tally does not.
fn speculate(run: Replication, saturated: &[AtomicBool], first: u64, count: u64) -> Speculated {
    let (model, plan) = (run.model, run.plan);
    let mut tally = Tally::new(model.scenario.horizon_days as usize);
    let mut requests = Vec::new();
    let mut bigs = Vec::new();
    let mut mine = Vec::new();
    let mut outcomes = Vec::new();
    for i in first..first + count {
        let (key, n) = run.notification(i);
        tally.count_notification(n.sent_at, model.horizon);
        let likely_to_wait = n.recipients.iter().enumerate().any(|(rec, r)| {
            plan.lane(&PostRequest {
                rec: rec as u32,
                letter: 0,
                ready: n.sent_at,
                class: LetterClass::FirstAttempt,
                product: model.product_for(&n.terms, r),
                address: r.address,
            })
            .is_some_and(|lane| saturated[lane as usize].load(Ordering::Relaxed))
        });
        let mut oracle = Oracle::new(plan, i as u32, &[]);
        oracle.record = Some(&mut mine);
        model.notification_posted(&key, &n, &mut (), &mut oracle, |_, send, base| {
            if likely_to_wait {
                outcomes.push((send.clone(), base.clone()));
            } else {
                tally.count_recipient(model, &n, send, base);
            }
        });
        let big = mine.len() >= BIG as usize;
        let defer = likely_to_wait && !mine.is_empty() && !big;
        if likely_to_wait && !defer {
            for (send, base) in &outcomes {
                tally.count_recipient(model, &n, send, base);
            }
        }
        outcomes.clear();
        if big {
            bigs.push((i as u32, mine.len() as u32));
        }
        mine.sort_unstable();
        let count = mine.len() as u8;
        for (rank, mut r) in mine.drain(..).enumerate() {
            (r.rank, r.total) = if big { (BIG, 0) } else { (rank as u8, count) };
            if defer {
                r.flags |= DEFERRED;
            }
            requests.push(r);
        }
    }
    (tally, requests, bigs)
}

/// One replication with postal capacity, in time order; the result does not depend on
/// the number of threads nor on `batch_chunks`. `progress` gets the notifications
/// speculated after each batch.
pub fn simulate_replication(
    model: &Model,
    plan: &CapacityPlan,
    seed: u64,
    replication: u32,
    total: u64,
    batch_chunks: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> (Tally, QueueStats) {
    assert!(
        total <= u32::MAX as u64,
        "postal capacity simulates at most {} notifications per replication",
        u32::MAX
    );
    let horizon_days = model.scenario.horizon_days as usize;
    let run = Replication {
        model,
        plan,
        seed,
        replication,
        total,
    };
    let batch = batch_chunks.max(1) * CHUNK;
    let batches = total.div_ceil(batch);
    let saturated: Vec<AtomicBool> = (0..plan.lanes()).map(|_| AtomicBool::new(false)).collect();
    let run_batch = |b: u64| {
        let first = b * batch;
        let count = batch.min(total - first);
        let chunks = count.div_ceil(CHUNK);
        let out: Vec<Speculated> = (0..chunks)
            .into_par_iter()
            .map(|c| {
                let f = first + c * CHUNK;
                let n = CHUNK.min(first + count - f);
                speculate(run, &saturated, f, n)
            })
            .collect();
        progress(count);
        out
    };
    let mut queue = Queue {
        run,
        queue: DayQueue::default(),
        lanes: (0..plan.lanes()).map(|_| Lane::default()).collect(),
        waiting: 0,
        now: 0,
        tracked: TrackedSet::new(total as usize),
        to_settle: Vec::new(),
        saturated: &saturated,
        plus: Tally::new(horizon_days),
        minus: Tally::new(horizon_days),
        stats: QueueStats::default(),
    };
    let mut tally = Tally::new(horizon_days);
    let mut pending = (batches > 0).then(|| run_batch(0));
    for b in 1..=batches {
        for (t, requests, bigs) in pending.take().expect("speculated batch") {
            tally = tally.merge(t);
            for (notification, count) in bigs {
                let t = Tracked {
                    pending: count,
                    recs: SmallVec::new(),
                    counted: false,
                    deferred: false,
                };
                queue.tracked.insert(notification, t);
            }
            for r in requests {
                queue.queue.push(r);
            }
        }
        // Nothing from batch b or later can ask for a posting before its first arrival.
        let frontier = if b < batches {
            model.arrival_slot_start((b * batch) as f64, total)
        } else {
            Tick::MAX
        };
        let (next, ()) = rayon::join(
            || (b < batches).then(|| run_batch(b)),
            || queue.run_until(frontier),
        );
        pending = next;
    }
    debug_assert!(queue.tracked.is_empty() && queue.waiting == 0);
    let stats = queue.stats;
    tally = tally.merge(queue.plus);
    tally.subtract(&queue.minus);
    (tally, stats)
}
