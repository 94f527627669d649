//! One recipient through the SEND workflow (`domain.md` §3): courtesy messages, the
//! digital domicile in the order platform → special → general with two PEC rounds 7
//! days apart, the simple registered letter after a digital failure, the paper
//! workflow after the courtesy wait (attempt 0 at the sender's address, attempt 1 at a
//! discovered or registry address), views at any moment (a view refines at once and,
//! like a payment, stops paper not yet prepared), refinement per channel, and payment.

use super::outcome::{Awareness, Letter, PaymentOutcome, RecipientOutcome, WorkflowEnd};
use super::payment::PaymentDraws;
use super::postal::{PostalFate, PostalResult, codes, failure_cause};
use super::timeline::{
    AddressSource, Category, Code, Details, DigitalChannel, EndWorkflowStatus, LegalFactCategory,
    ResponseStatus, TimelineElement, TimelineSink,
};
use super::{
    Model, NotificationInput, RecipientProfile, VIEW_EMAIL, VIEW_IO, VIEW_PAPER, VIEW_PEC, VIEW_SMS,
};
use crate::dist::unit;
use crate::prices::{PaperAddress, Product};
use crate::rng::{Purpose, Stream, StreamKey};
use crate::scenario::LetterClass;
use crate::time::{HOUR, MINUTE, Tick, days, hours, minutes};

/// Envelope weight reported on letters: 5 g per sheet plus 5 g (pn-paper-channel).
fn envelope_weight(sheets: u32) -> u32 {
    5 * sheets + 5
}

fn earliest<T: Copy>(a: Option<(Tick, T)>, b: Option<(Tick, T)>) -> Option<(Tick, T)> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.0 < x.0 { y } else { x }),
        (x, y) => x.or(y),
    }
}

/// One registered letter to send: when it is prepared, what, and whether the address
/// (the recipient's) is right. Posting follows preparation by the printing time.
struct LetterSpec {
    prepared: Tick,
    product: Product,
    address_correct: bool,
    attempt: u8,
    /// The simple registered letter (RS/RIS) after a digital failure.
    simple: bool,
}

/// A registered letter asking to be posted: the capacity queue's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostRequest {
    pub rec: u32,
    /// The recipient's letters before this one (resends included).
    pub letter: u32,
    /// Printed and ready to hand to the carrier.
    pub ready: Tick,
    pub class: LetterClass,
    pub product: Product,
    pub address: PaperAddress,
}

/// Decides when a ready letter is handed to the carrier.
pub trait Posting {
    fn post(&mut self, request: &PostRequest) -> Tick;
    /// The notification is cancelled at `at` (told before its recipients run).
    fn notification_cancelled(&mut self, _at: Tick) {}
}

/// No capacity limit: every letter is posted as soon as it is ready.
pub struct PostWhenReady;

impl Posting for PostWhenReady {
    #[inline]
    fn post(&mut self, request: &PostRequest) -> Tick {
        request.ready
    }
}

struct Walk<'a, S: TimelineSink> {
    m: &'a Model,
    posting: &'a mut dyn Posting,
    n: &'a NotificationInput,
    r: &'a RecipientProfile,
    rec: u32,
    key: StreamKey,
    sink: &'a mut S,
    out: RecipientOutcome,
    /// Earliest view so far, and how it came about.
    view: Option<(Tick, Awareness)>,
    /// Earliest moment the recipient learned of the act.
    aware: Option<(Tick, Awareness)>,
    spontaneous_payment: Option<Tick>,
    /// The view draws (share, delay) per channel.
    view_draws: [(f64, f64); 5],
    /// The latest instant the workflow itself acted at (REFINEMENT cannot precede it).
    last_action: Tick,
}

impl<S: TimelineSink> Walk<'_, S> {
    #[inline]
    fn emit(
        &mut self,
        at: Tick,
        category: Category,
        mut details: Details,
        legal_fact: Option<LegalFactCategory>,
    ) {
        details.rec_index = Some(self.rec);
        self.sink.push(TimelineElement {
            at,
            category,
            legal_fact,
            details,
        });
    }

    /// A reaction on channel `k` to something at `at`: maybe a view.
    fn maybe_view(&mut self, k: usize, at: Tick, how: Awareness) {
        let (u, u_delay) = self.view_draws[k];
        let reaction = &self.m.views[k];
        if u < reaction.share {
            let t = at + hours(reaction.delay.at(u_delay)).max(1);
            self.view = earliest(self.view, Some((t, how)));
            self.aware = earliest(self.aware, Some((t, how)));
        }
    }

    fn learn(&mut self, at: Tick, how: Awareness) {
        self.aware = earliest(self.aware, Some((at, how)));
    }

    /// A view or a payment before `at` stops paper not yet prepared.
    fn stopped_before(&self, at: Tick) -> Option<Tick> {
        let v = self.view.map(|v| v.0);
        let blocker = match (v, self.spontaneous_payment) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        blocker.filter(|b| *b < at)
    }

    fn schedule_refinement(&mut self, now: Tick, refine_at: Tick, end: WorkflowEnd) {
        self.out.end = end;
        self.out.ended_at = now;
        self.out.scheduled_refinement = Some(refine_at);
        self.last_action = self.last_action.max(now);
        self.emit(
            now,
            Category::ScheduleRefinement,
            Details {
                scheduled_at: Some(refine_at),
                ..Default::default()
            },
            None,
        );
    }

    fn post(&mut self, ready: Tick, class: LetterClass, product: Product) -> Tick {
        let posted = self.posting.post(&PostRequest {
            rec: self.rec,
            letter: self.out.n_letters as u32,
            ready,
            class,
            product,
            address: self.r.address,
        });
        debug_assert!(
            posted >= ready,
            "a letter cannot be posted before it is ready"
        );
        posted
    }

    /// Sends one letter and follows it to its outcome, resending it after a loss.
    fn letter(&mut self, rng: &mut Stream, spec: LetterSpec) -> PostalResult {
        let LetterSpec {
            prepared,
            product,
            address_correct,
            attempt,
            simple,
        } = spec;
        let address = self.r.address;
        let ready = prepared + hours(self.m.paper_preparation.sample(rng));
        let class = match (simple, attempt) {
            (true, _) => LetterClass::SimpleRegistered,
            (false, 0) => LetterClass::FirstAttempt,
            _ => LetterClass::SecondAttempt,
        };
        let mut ready = ready;
        let mut posted = self.post(ready, class, product);
        let sheets = if simple { 1 } else { self.n.terms.sheets };
        let mut resends = 0;
        loop {
            let cents = self.m.letter_cents(posted, product, address, sheets);
            self.out.add_letter(Letter {
                at: posted,
                product,
                cents,
                waited: u32::try_from(posted - ready).expect("a letter waits less than 136 years"),
            });
            let letter_no = self.out.n_letters - 1;
            let sent = if simple {
                Category::SendSimpleRegisteredLetter
            } else {
                Category::SendAnalogDomicile
            };
            let progress = if simple {
                Category::SendSimpleRegisteredLetterProgress
            } else {
                Category::SendAnalogProgress
            };
            self.emit(
                posted,
                sent,
                Details {
                    sent_attempt_made: Some(attempt),
                    product_type: Some(product),
                    analog_cost: Some(cents),
                    number_of_pages: Some(sheets),
                    envelope_weight: Some(envelope_weight(sheets)),
                    letter: Some(letter_no),
                    ..Default::default()
                },
                None,
            );
            let step = |code: Code| Details {
                sent_attempt_made: Some(attempt),
                delivery_detail_code: Some(code),
                letter: Some(letter_no),
                ..Default::default()
            };
            self.emit(posted + HOUR, progress, step(&"CON080"), None);
            self.emit(posted + 12 * HOUR, progress, step(&"CON018"), None);
            let mut result =
                self.m
                    .postal
                    .attempt(rng, product, address_correct, self.r.deceased, posted);
            if let (Some((fate, after)), false) = (self.r.forced.paper, simple) {
                let at = posted + after.max(1);
                let notice = posted + after.max(2) / 2;
                let fate = match fate {
                    PostalFate::Collected { .. } => PostalFate::Collected { notice },
                    PostalFate::CompiutaGiacenza { .. } => PostalFate::CompiutaGiacenza { notice },
                    other => other,
                };
                result = PostalResult {
                    fate,
                    arrival: at.min(notice),
                    at,
                };
            }
            let c = codes(product);
            if let PostalFate::Collected { notice } | PostalFate::CompiutaGiacenza { notice } =
                result.fate
            {
                self.emit(notice, progress, step(&c.inesito), None);
                self.emit(notice + MINUTE, progress, step(&c.giacenza), None);
            }
            let triplet = match result.fate {
                PostalFate::Delivered => c.delivered.each_ref(),
                PostalFate::Refused | PostalFate::Deceased => c.refused.each_ref(),
                PostalFate::Collected { .. } => c.collected.each_ref(),
                PostalFate::CompiutaGiacenza { .. } => c.compiuta.each_ref(),
                PostalFate::Failed { .. } => c.failed.each_ref(),
                PostalFate::Lost => [&c.lost; 3],
            };
            let cause = failure_cause(result.fate);
            if result.fate == PostalFate::Lost {
                self.emit(
                    result.at,
                    progress,
                    Details {
                        delivery_failure_cause: cause,
                        ..step(&c.lost)
                    },
                    None,
                );
                if resends < self.m.scenario.paper.max_resends {
                    resends += 1;
                    ready = result.at + hours(self.m.paper_preparation.sample(rng));
                    posted = self.post(ready, LetterClass::Resend, product);
                    continue;
                }
                return PostalResult {
                    fate: PostalFate::Failed { discovered: false },
                    ..result
                };
            }
            self.emit(result.at, progress, step(triplet[0]), None);
            self.emit(
                result.at,
                progress,
                step(triplet[1]),
                Some(LegalFactCategory::AnalogDelivery),
            );
            if simple {
                self.emit(result.at, progress, step(triplet[2]), None);
            } else {
                let legal = self.legal_date(result);
                let (code, business) = if legal < result.at && result.fate != PostalFate::Delivered
                {
                    (&c.perfected_in_giacenza, legal)
                } else {
                    (triplet[2], result.at)
                };
                self.emit(
                    result.at,
                    Category::SendAnalogFeedback,
                    Details {
                        sent_attempt_made: Some(attempt),
                        delivery_detail_code: Some(code),
                        delivery_failure_cause: cause,
                        response_status: Some(if result.fate.delivers() {
                            ResponseStatus::Ok
                        } else {
                            ResponseStatus::Ko
                        }),
                        scheduled_at: Some(business),
                        letter: Some(letter_no),
                        ..Default::default()
                    },
                    None,
                );
            }
            if result.fate.informs() {
                self.learn(result.at, Awareness::Paper);
                self.maybe_view(VIEW_PAPER, result.at, Awareness::WebView);
            }
            self.last_action = self.last_action.max(result.at);
            return result;
        }
    }

    /// The legal delivery instant of a letter that delivered: on delivery; when held,
    /// at pickup, but no later than the deposit notice plus the 10-day rule (PNRN012).
    fn legal_date(&self, result: PostalResult) -> Tick {
        let rule = days(self.m.scenario.paper.giacenza_rule_days);
        match result.fate {
            PostalFate::Collected { notice } | PostalFate::CompiutaGiacenza { notice } => {
                result.at.min(notice + rule)
            }
            _ => result.at,
        }
    }

    fn analog_success(&mut self, result: PostalResult) {
        let legal = self.legal_date(result);
        self.emit(
            result.at,
            Category::AnalogSuccessWorkflow,
            Details::default(),
            None,
        );
        let refine = legal + days(self.m.scenario.paper.refinement_days);
        self.schedule_refinement(result.at, refine, WorkflowEnd::AnalogSuccess);
    }

    fn deceased(&mut self, at: Tick) {
        self.out.end = WorkflowEnd::Deceased;
        self.out.ended_at = at;
        self.last_action = self.last_action.max(at);
        self.emit(
            at,
            Category::AnalogWorkflowRecipientDeceased,
            Details {
                notification_cost: Some(self.m.scenario.prices.send_fee_cents),
                ..Default::default()
            },
            None,
        );
    }

    fn unreachable(&mut self, at: Tick) {
        self.emit(
            at,
            Category::AnalogFailureWorkflow,
            Details::default(),
            None,
        );
        self.emit(
            at,
            Category::CompletelyUnreachableCreationRequest,
            Details::default(),
            None,
        );
        self.emit(
            at,
            Category::CompletelyUnreachable,
            Details::default(),
            Some(LegalFactCategory::AnalogFailureDelivery),
        );
        let refine = at + days(self.m.scenario.paper.unreachable_refinement_days);
        self.schedule_refinement(at, refine, WorkflowEnd::Unreachable);
    }

    fn no_paper(&mut self, at: Tick) {
        self.out.end = WorkflowEnd::NoPaperNeeded;
        self.out.ended_at = at;
    }

    fn address_lookups(&mut self, at: Tick, lookup: Tick) {
        for source in AddressSource::ORDER {
            if source == AddressSource::General {
                self.emit(at, Category::PublicRegistryCall, Details::default(), None);
                self.emit(
                    at + lookup / 2,
                    Category::PublicRegistryResponse,
                    Details::default(),
                    None,
                );
            }
            let available = self.r.has_domicile(source);
            self.emit(
                at + lookup / 2,
                Category::GetAddress,
                Details {
                    digital_address_source: Some(source),
                    is_available: Some(available),
                    sent_attempt_made: Some(0),
                    ..Default::default()
                },
                None,
            );
        }
    }

    fn digital(&mut self, start: Tick, draws: &[[(f64, f64); 3]; 2]) {
        let m = self.m;
        let pec = &m.scenario.pec;
        let mut t = start;
        let mut last = [None::<Tick>; 3];
        let mut delivered: Option<Tick> = None;
        'rounds: for round in 0..2u8 {
            for (k, source) in AddressSource::ORDER.into_iter().enumerate() {
                if !self.r.has_domicile(source) {
                    continue;
                }
                if round == 1 {
                    let due = last[k].unwrap_or(t) + days(pec.second_round_wait_days);
                    self.emit(
                        t,
                        Category::ScheduleDigitalWorkflow,
                        Details {
                            digital_address_source: Some(source),
                            scheduled_at: Some(due),
                            ..Default::default()
                        },
                        None,
                    );
                    t = t.max(due);
                }
                let attempt = Details {
                    digital_address_source: Some(source),
                    sent_attempt_made: Some(round),
                    channel: Some(DigitalChannel::Pec),
                    ..Default::default()
                };
                self.out.add_pec_send(t);
                self.emit(t, Category::SendDigitalDomicile, attempt.clone(), None);
                self.emit(
                    t + MINUTE,
                    Category::SendDigitalProgress,
                    Details {
                        delivery_detail_code: Some(&"C001"),
                        ..attempt.clone()
                    },
                    Some(LegalFactCategory::PecReceipt),
                );
                let (u_ok, u_delay) = draws[round as usize][k];
                let share = if round == 0 {
                    pec.working_box_share
                } else {
                    pec.second_round_success_share
                };
                let ok = self.r.forced.pec.unwrap_or(u_ok < share);
                let at = if ok {
                    t + minutes(m.pec_delivery.at(u_delay)).max(2 * MINUTE)
                } else {
                    t + hours(m.pec_failure.at(u_delay)).max(2 * MINUTE)
                };
                self.emit(
                    at,
                    Category::SendDigitalFeedback,
                    Details {
                        delivery_detail_code: Some(if ok { &"C003" } else { &"C004" }),
                        response_status: Some(if ok {
                            ResponseStatus::Ok
                        } else {
                            ResponseStatus::Ko
                        }),
                        scheduled_at: Some(at),
                        ..attempt
                    },
                    Some(LegalFactCategory::PecReceipt),
                );
                last[k] = Some(t);
                t = at;
                if ok {
                    delivered = Some(at);
                    break 'rounds;
                }
            }
        }
        let end = |status| Details {
            end_workflow_status: Some(status),
            ..Default::default()
        };
        match delivered {
            Some(at) => {
                self.emit(
                    at,
                    Category::DigitalDeliveryCreationRequest,
                    end(EndWorkflowStatus::Success),
                    None,
                );
                self.emit(
                    at,
                    Category::DigitalSuccessWorkflow,
                    Details::default(),
                    Some(LegalFactCategory::DigitalDelivery),
                );
                // Delivered at or after 21:00 Rome time: one more day (the non-visibility rule).
                let late =
                    m.calendar.local_second_of_day(at) >= pec.late_delivery_hour as i64 * HOUR;
                let mut refine = at + days(pec.success_refinement_days);
                if late {
                    refine += days(pec.late_delivery_extra_days);
                }
                self.schedule_refinement(at, refine, WorkflowEnd::DigitalSuccess);
                self.learn(at, Awareness::Pec);
                self.maybe_view(VIEW_PEC, at, Awareness::WebView);
            }
            None => {
                let at = t;
                self.emit(
                    at,
                    Category::DigitalDeliveryCreationRequest,
                    end(EndWorkflowStatus::Failure),
                    None,
                );
                self.emit(
                    at,
                    Category::DigitalFailureWorkflow,
                    Details::default(),
                    Some(LegalFactCategory::DigitalDelivery),
                );
                self.schedule_refinement(
                    at,
                    at + days(pec.failure_refinement_days),
                    WorkflowEnd::DigitalFailure,
                );
                // The "avviso di mancato recapito" by simple registered letter.
                self.emit(
                    at,
                    Category::PrepareSimpleRegisteredLetter,
                    Details::default(),
                    None,
                );
                if self.stopped_before(at).is_none() {
                    let mut rng = self.key.stream(self.rec, Purpose::PostalSimple);
                    let product = match self.r.address {
                        PaperAddress::Abroad { .. } => Product::Ris,
                        PaperAddress::National { .. } => Product::Rs,
                    };
                    self.letter(
                        &mut rng,
                        LetterSpec {
                            prepared: at,
                            product,
                            address_correct: self.r.address_correct,
                            attempt: 0,
                            simple: true,
                        },
                    );
                }
            }
        }
    }

    fn analog(&mut self, start: Tick) {
        let m = self.m;
        let wait_until = match self.courtesy_at() {
            Some(c) => {
                let at = (c + m.courtesy_wait).max(start);
                self.emit(
                    c,
                    Category::ProbableSchedulingAnalogDate,
                    Details {
                        scheduled_at: Some(at),
                        ..Default::default()
                    },
                    None,
                );
                at
            }
            None => start,
        };
        self.emit(
            start,
            Category::ScheduleAnalogWorkflow,
            Details {
                scheduled_at: Some(wait_until),
                ..Default::default()
            },
            None,
        );
        if let Some(b) = self.stopped_before(wait_until) {
            self.no_paper(b);
            return;
        }
        let product = m.product_for(&self.n.terms, self.r);
        let mut first = self.key.stream(self.rec, Purpose::PostalFirst);
        let prepare = |walk: &mut Self, at: Tick, attempt: u8| {
            walk.emit(
                at,
                Category::PrepareAnalogDomicile,
                Details {
                    sent_attempt_made: Some(attempt),
                    ..Default::default()
                },
                None,
            );
        };
        prepare(self, wait_until, 0);
        let result = self.letter(
            &mut first,
            LetterSpec {
                prepared: wait_until,
                product,
                address_correct: self.r.address_correct,
                attempt: 0,
                simple: false,
            },
        );
        match result.fate {
            f if f.delivers() => return self.analog_success(result),
            PostalFate::Deceased => return self.deceased(result.at),
            _ => {}
        }
        // Attempt 1: the postman's discovered address, else the registries (ANPR for
        // citizens, Registro Imprese for companies).
        let mut second = self.key.stream(self.rec, Purpose::PostalSecond);
        let u_registry = unit(&mut second);
        let u_correct = unit(&mut second);
        let discovered = matches!(result.fate, PostalFate::Failed { discovered: true });
        let found = discovered || u_registry < m.scenario.paper.registry_address_share;
        if !found {
            self.emit(
                result.at,
                Category::PrepareAnalogDomicileFailure,
                Details {
                    sent_attempt_made: Some(1),
                    delivery_failure_cause: Some(&"D00"),
                    ..Default::default()
                },
                None,
            );
            return self.unreachable(result.at);
        }
        if let Some(b) = self.stopped_before(result.at) {
            self.no_paper(b);
            return;
        }
        prepare(self, result.at, 1);
        let correct = u_correct < m.scenario.paper.second_attempt_correct_share;
        let result = self.letter(
            &mut second,
            LetterSpec {
                prepared: result.at,
                product,
                address_correct: correct,
                attempt: 1,
                simple: false,
            },
        );
        match result.fate {
            f if f.delivers() => self.analog_success(result),
            PostalFate::Deceased => self.deceased(result.at),
            _ => self.unreachable(result.at),
        }
    }

    fn courtesy_at(&self) -> Option<Tick> {
        self.out.courtesy.iter().flatten().copied().min()
    }
}

impl Model {
    /// One recipient's SEND trajectory, from acceptance at `accepted_at`. Elements go to
    /// `sink`; the summary is returned.
    pub fn recipient<S: TimelineSink>(
        &self,
        key: &StreamKey,
        n: &NotificationInput,
        rec: u32,
        accepted_at: Tick,
        sink: &mut S,
    ) -> RecipientOutcome {
        self.recipient_posted(key, n, rec, accepted_at, sink, &mut PostWhenReady)
    }

    /// As `recipient`, with letters posted when `posting` says.
    pub fn recipient_posted<S: TimelineSink>(
        &self,
        key: &StreamKey,
        n: &NotificationInput,
        rec: u32,
        accepted_at: Tick,
        sink: &mut S,
        posting: &mut dyn Posting,
    ) -> RecipientOutcome {
        let r = &n.recipients[rec as usize];
        let mut out = RecipientOutcome::refused(accepted_at);
        out.accepted = true;
        out.end = WorkflowEnd::NoPaperNeeded;

        let mut courtesy = key.stream(rec, Purpose::Courtesy);
        let delays = [
            unit(&mut courtesy),
            unit(&mut courtesy),
            unit(&mut courtesy),
        ];
        let mut views = key.stream(rec, Purpose::View);
        let mut view_draws = [(0.0, 0.0); 5];
        for d in view_draws.iter_mut() {
            *d = (unit(&mut views), unit(&mut views));
        }
        let mut pay = key.stream(rec, Purpose::Payment);
        let pay_draws = PaymentDraws::draw(&mut pay);
        let mut digital = key.stream(rec, Purpose::Digital);
        let lookup = minutes(self.lookup.sample(&mut digital)).max(MINUTE);
        let mut pec_draws = [[(0.0, 0.0); 3]; 2];
        for round in pec_draws.iter_mut() {
            for d in round.iter_mut() {
                *d = (unit(&mut digital), unit(&mut digital));
            }
        }

        let mut walk = Walk {
            m: self,
            posting,
            n,
            r,
            rec,
            key: *key,
            sink,
            out,
            view: None,
            aware: None,
            spontaneous_payment: match (
                self.spontaneous_payment(&n.terms, n.sent_at, &pay_draws),
                r.reported_payment,
            ) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            view_draws,
            last_action: accepted_at,
        };
        walk.emit(
            accepted_at + MINUTE,
            Category::AarGeneration,
            Details::default(),
            None,
        );
        let channels = [
            (r.io, DigitalChannel::Appio, VIEW_IO, Awareness::AppView),
            (
                r.email,
                DigitalChannel::Email,
                VIEW_EMAIL,
                Awareness::WebView,
            ),
            (r.sms, DigitalChannel::Sms, VIEW_SMS, Awareness::WebView),
        ];
        for (k, (has, channel, view, how)) in channels.into_iter().enumerate() {
            if has {
                // Drawn for every channel, computed only for those the recipient has.
                let at = accepted_at + 2 * MINUTE + minutes(self.courtesy_delays[k].at(delays[k]));
                walk.out.courtesy[k] = Some(at);
                walk.emit(
                    at,
                    Category::SendCourtesyMessage,
                    Details {
                        channel: Some(channel),
                        ..Default::default()
                    },
                    None,
                );
                walk.maybe_view(view, at, how);
            }
        }

        let start = accepted_at + lookup;
        walk.address_lookups(accepted_at, lookup);
        if AddressSource::ORDER.into_iter().any(|s| r.has_domicile(s)) {
            walk.digital(start, &pec_draws);
        } else {
            walk.analog(start);
        }
        walk.finish(&pay_draws)
    }
}

impl<S: TimelineSink> Walk<'_, S> {
    /// Views, refinement and payment, once the workflow's path is known.
    fn finish(mut self, pay_draws: &PaymentDraws) -> RecipientOutcome {
        let m = self.m;
        let terms = &self.n.terms;
        let cost_at = |out: &RecipientOutcome, at: Tick| {
            m.send_charges_total(terms, out.analog_cost_until(at))
        };
        let view = self.view.map(|v| v.0);
        if let Some(v) = view {
            let cost = cost_at(&self.out, v);
            self.emit(
                v,
                Category::NotificationViewedCreationRequest,
                Details::default(),
                None,
            );
            self.emit(
                v,
                Category::NotificationViewed,
                Details {
                    notification_cost: Some(cost),
                    ..Default::default()
                },
                Some(LegalFactCategory::RecipientAccess),
            );
        }
        self.out.viewed_at = view;
        let scheduled = self.out.scheduled_refinement;
        self.out.refined_at = match (view, scheduled) {
            (Some(v), Some(s)) => Some(v.min(s)),
            (Some(v), None) if self.out.end != WorkflowEnd::Deceased || v < self.out.ended_at => {
                Some(v)
            }
            (None, s) => s,
            _ => None,
        };
        if let Some(s) = scheduled {
            if view.is_none_or(|v| v > s) {
                let cost = cost_at(&self.out, s.max(self.last_action));
                self.emit(
                    s.max(self.last_action),
                    Category::Refinement,
                    Details {
                        notification_cost: Some(cost),
                        scheduled_at: Some(s),
                        ..Default::default()
                    },
                    None,
                );
            }
        }
        self.out.notification_cost_cents = cost_at(&self.out, Tick::MAX);
        let modelled = m.payment_instant(terms, self.n.sent_at, self.aware, pay_draws);
        let instant = match (modelled, self.r.reported_payment) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(at) = instant {
            let amount = Model::amount_due(terms, self.n.sent_at, self.out.refined_at, at);
            let charges = m.send_charges(terms, self.out.analog_cost_until(at));
            self.out.payment = Some(PaymentOutcome {
                at,
                amount_cents: amount,
                charges_cents: charges,
            });
            self.emit(
                at,
                Category::Payment,
                Details {
                    amount: Some(amount + charges),
                    ..Default::default()
                },
                None,
            );
        }
        self.out
    }
}
