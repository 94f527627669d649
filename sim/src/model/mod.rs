//! The SEND model: one notification's request fields and a seed in, each recipient's
//! trajectory out (timeline elements, refinement, costs, payment), plus the same
//! recipient served by the all-paper baseline. The simulator's tallies and the mock
//! server's timelines both come from `Model::notification`.

pub mod baseline;
pub mod outcome;
pub mod payment;
pub mod postal;
pub mod status;
pub mod timeline;
pub mod workflow;

use crate::dist::{Sampler, unit};
use crate::prices::{PaperAddress, PaperPriceList, Product, Zone};
use crate::rng::{Purpose, StreamKey};
use crate::scenario::{FeePolicy, PhysicalCommunicationType, Scenario};
use crate::time::{Calendar, DAY, Tick, days, hours, round_half_away};

pub use outcome::{BaselineOutcome, FinalState, Letter, PaymentOutcome, RecipientOutcome};
pub use timeline::{Category, TimelineElement, TimelineSink};
pub use workflow::{PostRequest, PostWhenReady, Posting};

/// Citizen (PF) or company (PG).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientType {
    Pf,
    Pg,
}

/// What the model knows of one recipient: what the request says and what SEND finds in
/// its registries, and the hidden facts that decide the outcomes.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipientProfile {
    pub kind: RecipientType,
    pub platform_domicile: bool,
    pub special_domicile: bool,
    pub general_domicile: bool,
    pub io: bool,
    pub email: bool,
    pub sms: bool,
    pub address: PaperAddress,
    pub address_correct: bool,
    pub deceased: bool,
    /// Outcomes forced by the caller (the mock's `@ok` / `@fail` / `@sequence`
    /// addresses); `None` leaves them to the model.
    pub forced: Forced,
    /// A payment the sender reported (`POST /delivery/events/payment/pagopa`): like any
    /// payment, it stops paper not yet prepared.
    pub reported_payment: Option<Tick>,
}

/// Outcomes a caller can force on one recipient.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forced {
    /// Every PEC attempt succeeds (`true`) or fails (`false`).
    pub pec: Option<bool>,
    /// Every registered letter ends this way, this long after it is posted.
    pub paper: Option<(postal::PostalFate, Tick)>,
}

impl RecipientProfile {
    pub fn has_domicile(&self, source: timeline::AddressSource) -> bool {
        match source {
            timeline::AddressSource::Platform => self.platform_domicile,
            timeline::AddressSource::Special => self.special_domicile,
            timeline::AddressSource::General => self.general_domicile,
        }
    }
}

/// The act and the request fields that matter to costs and payments.
#[derive(Debug, Clone, PartialEq)]
pub struct ActTerms {
    pub act: usize,
    pub has_payment_notice: bool,
    pub amount_cents: i64,
    pub reduction_share: f64,
    pub reduced_within: Tick,
    pub due: Tick,
    pub late_surcharge_share: f64,
    pub physical_communication_type: PhysicalCommunicationType,
    pub fee_policy: FeePolicy,
    pub apply_cost: bool,
    pub pa_fee_cents: i64,
    pub vat_percent: i64,
    pub flat_rate_charge_cents: i64,
    pub sheets: u32,
    pub pay_propensity: f64,
    pub baseline_charge_cents: i64,
}

/// One notification as the model sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationInput {
    pub sent_at: Tick,
    /// A cancellation the sender requested; `None` leaves it to the scenario.
    pub cancelled_at: Option<Tick>,
    pub terms: ActTerms,
    pub recipients: Vec<RecipientProfile>,
}

/// Validation's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accepted { at: Tick },
    Refused { at: Tick, reason: timeline::Code },
}

#[derive(Debug, Clone)]
pub(crate) struct Reaction {
    pub share: f64,
    pub delay: Sampler,
}

#[derive(Debug, Clone)]
pub(crate) struct ActModel {
    pub cum_share: f64,
    pub amount: Sampler,
    pub sheets: Sampler,
    pub terms: ActTerms,
}

/// The scenario compiled for sampling.
pub struct Model {
    pub scenario: Scenario,
    pub calendar: Calendar,
    pub prices: &'static PaperPriceList,
    pub horizon: Tick,
    pub(crate) acts: Vec<ActModel>,
    pub(crate) per_notification: Sampler,
    pub(crate) refusal_codes: Vec<(f64, timeline::Code)>,
    /// Tick from which each tender is in force (activation order).
    pub(crate) tender_from: Vec<Tick>,
    pub(crate) validation_delay: Sampler,
    pub(crate) cancellation_delay: Sampler,
    pub(crate) courtesy_delays: [Sampler; 3],
    pub(crate) courtesy_wait: Tick,
    pub(crate) lookup: Sampler,
    pub(crate) pec_delivery: Sampler,
    pub(crate) pec_failure: Sampler,
    pub(crate) paper_preparation: Sampler,
    pub(crate) postal: postal::PostalService,
    pub(crate) views: [Reaction; 5],
    pub(crate) payments: [Reaction; 6],
    pub(crate) baseline_dispatch: Sampler,
    pub(crate) baseline_second: Sampler,
    /// Per zone, the cumulative share of each CAP of `caps_by_zone` (residents of its
    /// postal area spread evenly over the area's CAPs), and a guide table into it.
    pub(crate) cap_cdf: [(Vec<f64>, Vec<u32>); 3],
}

/// Entries of the CAP guide tables.
const CAP_GUIDE: usize = 4096;

/// Cumulative sampling weights of the CAPs of each zone, with their guide tables (see
/// `Model::cap_cdf`).
fn cap_weights(prices: &PaperPriceList) -> [(Vec<f64>, Vec<u32>); 3] {
    let table = crate::capacity::CapacityTable::embedded();
    let geo = &prices.geo;
    let mut caps_in_area = std::collections::HashMap::<&str, f64>::new();
    for cap in &geo.caps {
        *caps_in_area.entry(&cap[..2]).or_default() += 1.0;
    }
    let weight = |cap: &str| {
        table.residents(cap).unwrap_or(0) as f64
            / caps_in_area.get(&cap[..2]).copied().unwrap_or(1.0)
    };
    std::array::from_fn(|zone| {
        let caps = &geo.caps_by_zone[zone];
        let total: f64 = caps.iter().map(|c| weight(&geo.caps[*c as usize])).sum();
        let mut acc = 0.0;
        let cdf: Vec<f64> = caps
            .iter()
            .map(|c| {
                acc += weight(&geo.caps[*c as usize]) / total;
                acc
            })
            .collect();
        let guide = (0..CAP_GUIDE)
            .map(|j| {
                let i = cdf.partition_point(|c| *c <= j as f64 / CAP_GUIDE as f64);
                i.min(cdf.len() - 1) as u32
            })
            .collect();
        (cdf, guide)
    })
}

/// Index of view reactions.
pub(crate) const VIEW_IO: usize = 0;
pub(crate) const VIEW_EMAIL: usize = 1;
pub(crate) const VIEW_SMS: usize = 2;
pub(crate) const VIEW_PEC: usize = 3;
pub(crate) const VIEW_PAPER: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("field `start`: {0}")]
    Start(String),
}

impl Model {
    /// Compiles a validated scenario.
    pub fn new(scenario: Scenario) -> Result<Model, ModelError> {
        let s = &scenario;
        let start = s.start_local().map_err(ModelError::Start)?;
        // Trajectories run past the horizon (the mock's clock can too); a year of margin
        // keeps most lookups in the table.
        let horizon = s.horizon_days as Tick * DAY;
        let calendar = Calendar::new(start, horizon + 400 * DAY).map_err(ModelError::Start)?;
        let total_share: f64 = s.acts.iter().map(|a| a.share).sum();
        let mut cum = 0.0;
        let acts = s
            .acts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                cum += a.share / total_share;
                ActModel {
                    cum_share: cum,
                    amount: a.amount_cents.sampler(),
                    sheets: a.sheets.sampler(),
                    terms: ActTerms {
                        act: i,
                        has_payment_notice: a.has_payment_notice,
                        amount_cents: 0,
                        reduction_share: a.reduction_share,
                        reduced_within: days(a.reduced_within_days),
                        due: days(a.due_days),
                        late_surcharge_share: a.late_surcharge_share,
                        physical_communication_type: a.physical_communication_type,
                        fee_policy: a.fee_policy,
                        apply_cost: a.apply_cost,
                        pa_fee_cents: a.pa_fee_cents,
                        vat_percent: a.vat_percent,
                        flat_rate_charge_cents: a.flat_rate_charge_cents,
                        sheets: 1,
                        pay_propensity: a.pay_propensity,
                        baseline_charge_cents: a.baseline_charge_cents,
                    },
                }
            })
            .collect();
        let total_w: f64 = s.validation.refusal_reasons.values().sum();
        let mut acc = 0.0;
        let refusal_codes = s
            .validation
            .refusal_reasons
            .iter()
            .map(|(code, w)| {
                acc += w / total_w.max(f64::MIN_POSITIVE);
                let code = crate::scenario::REFUSAL_CODES
                    .iter()
                    .find(|c| **c == code.as_str())
                    .unwrap_or(&"NOT_VALID_ADDRESS");
                (acc, code)
            })
            .collect();
        let p = &s.paper;
        let postal = postal::PostalService {
            transit_890: p.transit_days_890.sampler(),
            transit_ar: p.transit_days_ar.sampler(),
            transit_rs: p.transit_days_rs.sampler(),
            transit_rir: p.transit_days_rir.sampler(),
            delivered_share: p.delivered_share,
            refused_share: p.refused_share,
            lost_share: p.lost_share,
            pickup_share: p.pickup_share,
            pickup_days: p.pickup_days.sampler(),
            compiuta_giacenza: days(p.compiuta_giacenza_days),
            return_days: p.return_days.sampler(),
            discovered_address_share: p.discovered_address_share,
        };
        let reaction = |r: &crate::scenario::Reaction| Reaction {
            share: r.share,
            delay: r.delay_hours.sampler(),
        };
        let pay = |r: &crate::scenario::Payment| Reaction {
            share: r.share,
            delay: r.delay_days.sampler(),
        };
        let v = &s.views;
        let y = &s.payments;
        let prices = PaperPriceList::embedded();
        let tender_from = prices
            .tenders
            .iter()
            .map(|t| (t.activation - calendar.start_utc()).num_seconds())
            .collect();
        let cap_cdf = cap_weights(prices);
        Ok(Model {
            cap_cdf,
            calendar,
            prices,
            tender_from,
            horizon,
            acts,
            per_notification: s.recipients.per_notification.sampler(),
            refusal_codes,
            validation_delay: s.validation.delay_seconds.sampler(),
            cancellation_delay: s.cancellation.delay_days.sampler(),
            courtesy_delays: [
                s.courtesy.io_delay_minutes.sampler(),
                s.courtesy.email_delay_minutes.sampler(),
                s.courtesy.sms_delay_minutes.sampler(),
            ],
            courtesy_wait: hours(s.courtesy.wait_before_paper_hours),
            lookup: s.pec.address_lookup_minutes.sampler(),
            pec_delivery: s.pec.delivery_minutes.sampler(),
            pec_failure: s.pec.failure_hours.sampler(),
            paper_preparation: s.paper.preparation_hours.sampler(),
            postal,
            views: [
                reaction(&v.io),
                reaction(&v.email),
                reaction(&v.sms),
                reaction(&v.pec),
                reaction(&v.paper),
            ],
            payments: [
                pay(&y.after_app_view),
                pay(&y.after_web_view),
                pay(&y.after_pec),
                pay(&y.after_paper),
                pay(&y.unaware),
                pay(&y.spontaneous),
            ],
            baseline_dispatch: s.baseline.dispatch_days.sampler(),
            baseline_second: s.baseline.second_attempt_days.sampler(),
            scenario,
        })
    }

    /// Draws notification `key.notification` of the `total` in a replication: its act,
    /// its recipients and their attributes, and its submission instant. Arrivals are
    /// stratified: notification i is submitted at a uniform instant of the i-th of `total`
    /// equal slots of the arrival window, so submission instants never decrease with the
    /// index (the postal capacity queue relies on it).
    pub fn sample_notification(&self, key: &StreamKey, total: u64) -> NotificationInput {
        let mut rng = key.stream(0, Purpose::Notification);
        let u_arrival = unit(&mut rng);
        let sent_at = self.arrival_slot_start(key.notification as f64 + u_arrival, total);
        let u_act = unit(&mut rng);
        let act = self
            .acts
            .iter()
            .find(|a| u_act < a.cum_share)
            .unwrap_or_else(|| self.acts.last().expect("at least one act"));
        let u_amount = unit(&mut rng);
        let sheets = round_half_away(act.sheets.sample(&mut rng)).max(1.0) as u32;
        let count = round_half_away(self.per_notification.sample(&mut rng)).max(1.0) as u32;
        let mut terms = act.terms.clone();
        terms.amount_cents = if terms.has_payment_notice {
            round_half_away(act.amount.at(u_amount)).max(0.0) as i64
        } else {
            0
        };
        terms.sheets = sheets;
        let recipients = (0..count).map(|i| self.sample_recipient(key, i)).collect();
        NotificationInput {
            sent_at,
            cancelled_at: None,
            terms,
            recipients,
        }
    }

    /// The submission instant at `position` (a notification index plus a fraction) of
    /// `total` notifications spread over the arrival window.
    pub fn arrival_slot_start(&self, position: f64, total: u64) -> Tick {
        let window = days(self.scenario.arrivals.window_days) as f64;
        (position / total.max(1) as f64 * window) as Tick
    }

    /// One recipient's attributes. Every attribute consumes its draw whatever the
    /// outcome, so that changing one share does not reshuffle the others.
    pub fn sample_recipient(&self, key: &StreamKey, index: u32) -> RecipientProfile {
        let mut rng = key.stream(index, Purpose::Attributes);
        let r = &self.scenario.recipients;
        let company = unit(&mut rng) < r.company_share;
        let reach = if company { &r.company } else { &r.citizen };
        let abroad = unit(&mut rng) < r.abroad_share;
        let u_deceased = unit(&mut rng);
        let deceased = !company && u_deceased < r.deceased_share;
        let address_correct = unit(&mut rng) < r.correct_address_share;
        let platform_domicile = unit(&mut rng) < reach.platform_domicile_share;
        let special_domicile = unit(&mut rng) < reach.special_domicile_share;
        let general_domicile = unit(&mut rng) < reach.general_domicile_share;
        let io = unit(&mut rng) < reach.io_send_enabled_share;
        let email = unit(&mut rng) < reach.email_share;
        let sms = unit(&mut rng) < reach.sms_share;
        let u_zone = unit(&mut rng);
        let u_cap = unit(&mut rng);
        let address = if abroad {
            let z = &r.abroad_zone_shares;
            let zone = if u_zone < z.ZONE_1 {
                Zone::Zone1
            } else if u_zone < z.ZONE_1 + z.ZONE_2 {
                Zone::Zone2
            } else {
                Zone::Zone3
            };
            PaperAddress::Abroad { zone }
        } else {
            let z = &r.zone_shares;
            let slot = if u_zone < z.AM {
                0
            } else if u_zone < z.AM + z.CP {
                1
            } else {
                2
            };
            let caps = &self.prices.geo.caps_by_zone[slot];
            let (cdf, guide) = &self.cap_cdf[slot];
            // The guide table jumps to the first CAP whose share may hold u_cap.
            let mut i = guide[((u_cap * CAP_GUIDE as f64) as usize).min(CAP_GUIDE - 1)] as usize;
            while i + 1 < caps.len() && cdf[i] <= u_cap {
                i += 1;
            }
            PaperAddress::National { cap: caps[i] }
        };
        RecipientProfile {
            kind: if company {
                RecipientType::Pg
            } else {
                RecipientType::Pf
            },
            platform_domicile,
            special_domicile,
            general_domicile,
            io,
            email,
            sms,
            address,
            address_correct,
            deceased,
            forced: Forced::default(),
            reported_payment: None,
        }
    }

    /// Validation: accepted or refused, and when.
    pub fn validate(&self, key: &StreamKey, n: &NotificationInput) -> Verdict {
        let mut rng = key.stream(0, Purpose::Validation);
        let delay = round_half_away(self.validation_delay.sample(&mut rng).max(1.0)) as Tick;
        let u_refuse = unit(&mut rng);
        let u_reason = unit(&mut rng);
        let at = n.sent_at + delay;
        if u_refuse < self.scenario.validation.refused_share {
            let reason = self
                .refusal_codes
                .iter()
                .find(|(cum, _)| u_reason < *cum)
                .or(self.refusal_codes.last())
                .map(|(_, c)| *c)
                .unwrap_or(&"NOT_VALID_ADDRESS");
            Verdict::Refused { at, reason }
        } else {
            Verdict::Accepted { at }
        }
    }

    /// Whether and when the sender cancels an accepted notification.
    pub fn cancellation(&self, key: &StreamKey, accepted_at: Tick) -> Option<Tick> {
        let mut rng = key.stream(0, Purpose::Cancellation);
        let u = unit(&mut rng);
        let u_delay = unit(&mut rng);
        (u < self.scenario.cancellation.share)
            .then(|| accepted_at + days(self.cancellation_delay.at(u_delay)).max(1))
    }

    /// The postal product of a recipient's registered letters.
    pub fn product_for(&self, terms: &ActTerms, r: &RecipientProfile) -> Product {
        match (r.address, terms.physical_communication_type) {
            (PaperAddress::Abroad { .. }, _) => Product::Rir,
            (_, PhysicalCommunicationType::ArRegisteredLetter) => Product::Ar,
            (_, PhysicalCommunicationType::RegisteredLetter890) => Product::R890,
        }
    }

    /// A letter's cost in cents at the instant it is sent.
    pub fn letter_cents(
        &self,
        at: Tick,
        product: Product,
        address: PaperAddress,
        sheets: u32,
    ) -> i64 {
        // The tender in force at `at`, found by tick rather than by date-time.
        let tender = self
            .tender_from
            .partition_point(|t| *t <= at)
            .saturating_sub(1);
        self.prices
            .letter_cents_in(tender, product, address, sheets)
            .unwrap_or_else(|e| panic!("paper price table is incomplete: {e}"))
    }

    /// A whole notification: validation, then every recipient (SEND and baseline),
    /// each outcome handed to `on_recipient`, every timeline element to `sink`.
    pub fn notification<S: TimelineSink>(
        &self,
        key: &StreamKey,
        n: &NotificationInput,
        sink: &mut S,
        on_recipient: impl FnMut(u32, &RecipientOutcome, &BaselineOutcome),
    ) -> Verdict {
        self.notification_posted(key, n, sink, &mut PostWhenReady, on_recipient)
    }

    /// One PEC message sent on its own (an External Channel request): whether the box
    /// accepts delivery, and the seconds from sending to the provider's final receipt
    /// (C003 on success, C004 on failure), from the scenario's PEC parameters.
    pub fn pec_message<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> (bool, Tick) {
        let (u_ok, u_delay) = (unit(rng), unit(rng));
        let ok = u_ok < self.scenario.pec.working_box_share;
        let delay = if ok {
            crate::time::minutes(self.pec_delivery.at(u_delay)).max(2 * crate::time::MINUTE)
        } else {
            hours(self.pec_failure.at(u_delay)).max(2 * crate::time::MINUTE)
        };
        (ok, delay)
    }

    /// One registered letter posted on its own (a postal engagement) at `posted`, to an
    /// address the scenario finds correct with its `correct_address_share` (always when
    /// `address_known_good`), through the same postal model as SEND's letters.
    pub fn letter<R: rand::Rng + ?Sized>(
        &self,
        rng: &mut R,
        product: crate::prices::Product,
        address_known_good: bool,
        posted: Tick,
    ) -> postal::PostalResult {
        let r = &self.scenario.recipients;
        let correct = address_known_good || unit(rng) < r.correct_address_share;
        let deceased = unit(rng) < r.deceased_share;
        self.postal.attempt(rng, product, correct, deceased, posted)
    }

    /// As `notification`, with SEND's letters posted when `posting` says (the postal
    /// capacity queue); the baseline's letters are not queued.
    pub fn notification_posted<S: TimelineSink>(
        &self,
        key: &StreamKey,
        n: &NotificationInput,
        sink: &mut S,
        posting: &mut dyn Posting,
        mut on_recipient: impl FnMut(u32, &RecipientOutcome, &BaselineOutcome),
    ) -> Verdict {
        let verdict = self.validate(key, n);
        match verdict {
            Verdict::Refused { at, reason } => {
                sink.push(TimelineElement {
                    at,
                    category: Category::RequestRefused,
                    legal_fact: None,
                    details: timeline::Details {
                        refusal_reason: Some(reason),
                        notification_cost: Some(
                            self.scenario.prices.refusal_fee_cents * n.recipients.len() as i64,
                        ),
                        ..Default::default()
                    },
                });
            }
            Verdict::Accepted { at } => {
                sink.push(TimelineElement {
                    at: at - 1,
                    category: Category::SenderAckCreationRequest,
                    legal_fact: None,
                    details: Default::default(),
                });
                sink.push(TimelineElement {
                    at,
                    category: Category::RequestAccepted,
                    legal_fact: Some(timeline::LegalFactCategory::SenderAck),
                    details: Default::default(),
                });
            }
        }
        let cancelled = match verdict {
            Verdict::Accepted { at } => n.cancelled_at.or_else(|| self.cancellation(key, at)),
            Verdict::Refused { .. } => None,
        };
        if let Some(c) = cancelled {
            posting.notification_cancelled(c);
        }
        let mut not_refined = 0i64;
        for i in 0..n.recipients.len() as u32 {
            let send = match (verdict, cancelled) {
                (Verdict::Accepted { at }, None) => {
                    self.recipient_posted(key, n, i, at, sink, posting)
                }
                (Verdict::Accepted { at }, Some(c)) => {
                    let mut until = timeline::Until {
                        inner: &mut *sink,
                        until: c,
                    };
                    let mut o = self.recipient_posted(key, n, i, at, &mut until, posting);
                    o.cancel_at(c);
                    not_refined += (o.end == outcome::WorkflowEnd::Cancelled) as i64;
                    o
                }
                (Verdict::Refused { at, .. }, _) => RecipientOutcome::refused(at),
            };
            let mut base = self.baseline_recipient(key, n, i);
            if let Some(c) = cancelled {
                base.cancel_at(c);
            }
            on_recipient(i, &send, &base);
        }
        if let Some(c) = cancelled {
            sink.push(TimelineElement {
                at: c,
                category: Category::NotificationCancellationRequest,
                legal_fact: None,
                details: Default::default(),
            });
            // The sender pays one send fee per recipient not yet refined (pn-delivery-push).
            sink.push(TimelineElement {
                at: c + 1,
                category: Category::NotificationCancelled,
                legal_fact: None,
                details: timeline::Details {
                    notification_cost: Some(self.scenario.prices.send_fee_cents * not_refined),
                    ..Default::default()
                },
            });
        }
        verdict
    }

    /// A notification's whole timeline in time order (ties keep production order).
    pub fn timeline(
        &self,
        key: &StreamKey,
        n: &NotificationInput,
    ) -> (Verdict, Vec<TimelineElement>, Vec<RecipientOutcome>) {
        let mut elements = Vec::new();
        let (verdict, outcomes) = self.timeline_into(key, n, &mut elements);
        (verdict, elements, outcomes)
    }

    /// As [`Model::timeline`], with the elements left in `elements` (cleared first): a
    /// caller that keeps one buffer for many notifications allocates it only once.
    pub fn timeline_into(
        &self,
        key: &StreamKey,
        n: &NotificationInput,
        elements: &mut Vec<TimelineElement>,
    ) -> (Verdict, Vec<RecipientOutcome>) {
        elements.clear();
        // A recipient's trajectory has up to about 30 elements: room for them at once
        // spares the copies of growing one element at a time.
        elements.reserve(32 * n.recipients.len().max(1));
        let mut outcomes = Vec::with_capacity(n.recipients.len());
        let verdict = self.notification(key, n, elements, |_, o, _| outcomes.push(o.clone()));
        elements.sort_by_key(|e| e.at);
        (verdict, outcomes)
    }
}
