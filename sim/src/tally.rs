//! Aggregation: integer counts and sums per replication (so merging is exact and the
//! result cannot depend on the order or the thread that produced it), and the KPIs of
//! `design.md` computed from them.

use crate::model::outcome::{BaselineOutcome, FinalState, RecipientOutcome};
use crate::model::payment::PROMPT_PAYMENT_DAYS;
use crate::model::{Model, NotificationInput};
use crate::prices::{Product, with_vat};
use crate::time::{DAY, Tick, days};

/// Postal products in table order.
pub const PRODUCTS: [Product; 5] = [
    Product::Ar,
    Product::R890,
    Product::Rs,
    Product::Rir,
    Product::Ris,
];

fn product_slot(p: Product) -> usize {
    PRODUCTS
        .iter()
        .position(|x| *x == p)
        .expect("known product")
}

/// Applies `op` (`+=` or `-=`) to every field of two `SideTally`s: one list of fields
/// for adding and removing tallies.
macro_rules! side_fields {
    ($a:expr, $b:expr, $op:tt) => {{
        let (a, b) = ($a, $b);
        a.recipients $op b.recipients;
        a.refused $op b.refused;
        a.digital $op b.digital;
        a.paper $op b.paper;
        for (x, y) in a.final_states.iter_mut().zip(&b.final_states) {
            *x $op y;
        }
        a.viewed $op b.viewed;
        a.with_notice $op b.with_notice;
        a.paid $op b.paid;
        a.paid_within_5d $op b.paid_within_5d;
        a.pay_delay_seconds $op b.pay_delay_seconds;
        a.body_cost_cents $op b.body_cost_cents;
        a.citizen_charges_cents $op b.citizen_charges_cents;
        a.outlay_cents $op b.outlay_cents;
        a.cash_in_cents $op b.cash_in_cents;
        a.cash_seconds $op b.cash_seconds;
        for (x, y) in a.letters.iter_mut().zip(&b.letters) {
            *x $op y;
        }
        a.letter_cents $op b.letter_cents;
        a.letters_waited $op b.letters_waited;
        a.letter_wait_seconds $op b.letter_wait_seconds;
        a.pec_sends $op b.pec_sends;
        for (x, y) in a.courtesy.iter_mut().zip(&b.courtesy) {
            *x $op y;
        }
        for (x, y) in a.pay_days.iter_mut().zip(&b.pay_days) {
            *x $op y;
        }
    }};
}

/// The same for `DayRow`.
macro_rules! day_fields {
    ($a:expr, $b:expr, $op:tt) => {{
        let (a, b) = ($a, $b);
        a.notifications $op b.notifications;
        for (x, y) in a.courtesy.iter_mut().zip(&b.courtesy) {
            *x $op y;
        }
        a.pec_sends $op b.pec_sends;
        for (x, y) in a.letters.iter_mut().zip(&b.letters) {
            *x $op y;
        }
        a.views $op b.views;
        a.refinements $op b.refinements;
        a.payments $op b.payments;
        a.cash_in_cents $op b.cash_in_cents;
        a.body_cost_cents $op b.body_cost_cents;
        a.baseline_letters $op b.baseline_letters;
        a.baseline_payments $op b.baseline_payments;
        a.baseline_cash_in_cents $op b.baseline_cash_in_cents;
        a.baseline_body_cost_cents $op b.baseline_body_cost_cents;
    }};
}

/// One side (SEND or the baseline) of one replication.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SideTally {
    pub recipients: u64,
    pub refused: u64,
    pub digital: u64,
    pub paper: u64,
    pub final_states: [u64; FinalState::ALL.len()],
    pub viewed: u64,
    pub with_notice: u64,
    pub paid: u64,
    pub paid_within_5d: u64,
    pub pay_delay_seconds: i64,
    pub body_cost_cents: i64,
    pub citizen_charges_cents: i64,
    pub outlay_cents: i64,
    pub cash_in_cents: i64,
    /// Σ paid amount × seconds from sending, for the amount-weighted payment day.
    pub cash_seconds: i128,
    pub letters: [u64; 5],
    pub letter_cents: i64,
    /// Letters that waited for a carrier's weekly capacity, and for how long in all.
    pub letters_waited: u64,
    pub letter_wait_seconds: i64,
    pub pec_sends: u64,
    pub courtesy: [u64; 3],
    /// Payments by whole days from sending.
    pub pay_days: Vec<u64>,
}

/// One simulated day of both sides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DayRow {
    /// Notifications sent that day (the arrival pattern `sendmock load --replay` reads).
    pub notifications: u64,
    pub courtesy: [u64; 3],
    pub pec_sends: u64,
    pub letters: [u64; 5],
    pub views: u64,
    pub refinements: u64,
    pub payments: u64,
    pub cash_in_cents: i64,
    pub body_cost_cents: i64,
    pub baseline_letters: u64,
    pub baseline_payments: u64,
    pub baseline_cash_in_cents: i64,
    pub baseline_body_cost_cents: i64,
}

/// Everything one replication (or part of one) adds up to.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    pub notifications: u64,
    pub send: SideTally,
    pub baseline: SideTally,
    pub daily: Vec<DayRow>,
}

impl SideTally {
    fn new(days: usize) -> SideTally {
        SideTally {
            pay_days: vec![0; days],
            ..Default::default()
        }
    }

    fn add(&mut self, o: &SideTally) {
        side_fields!(self, o, +=);
    }

    /// Removes a tally added before (exact: integers only).
    fn sub(&mut self, o: &SideTally) {
        side_fields!(self, o, -=);
    }

    fn count_payment(
        &mut self,
        sent_at: Tick,
        at: Tick,
        legal: Option<Tick>,
        amount: i64,
        charges: i64,
    ) {
        let delay = at - sent_at;
        self.paid += 1;
        if legal.is_some_and(|l| at <= l + days(PROMPT_PAYMENT_DAYS)) {
            self.paid_within_5d += 1;
        }
        self.pay_delay_seconds += delay;
        self.citizen_charges_cents += charges;
        self.outlay_cents += amount + charges;
        self.cash_in_cents += amount + charges;
        self.cash_seconds += (amount + charges) as i128 * delay as i128;
        let d = (delay / DAY) as usize;
        if d < self.pay_days.len() {
            self.pay_days[d] += 1;
        }
    }
}

impl DayRow {
    fn add(&mut self, o: &DayRow) {
        day_fields!(self, o, +=);
    }

    fn sub(&mut self, o: &DayRow) {
        day_fields!(self, o, -=);
    }
}

impl Tally {
    pub fn new(horizon_days: usize) -> Tally {
        Tally {
            notifications: 0,
            send: SideTally::new(horizon_days),
            baseline: SideTally::new(horizon_days),
            daily: vec![DayRow::default(); horizon_days],
        }
    }

    /// Adds another tally of the same replication (exact: integers only).
    pub fn merge(mut self, o: Tally) -> Tally {
        self.notifications += o.notifications;
        self.send.add(&o.send);
        self.baseline.add(&o.baseline);
        for (a, b) in self.daily.iter_mut().zip(&o.daily) {
            a.add(b);
        }
        self
    }

    /// Removes a tally that was merged into this one before, such as a notification
    /// counted on a trajectory that later changed.
    pub fn subtract(&mut self, o: &Tally) {
        self.notifications -= o.notifications;
        self.send.sub(&o.send);
        self.baseline.sub(&o.baseline);
        for (a, b) in self.daily.iter_mut().zip(&o.daily) {
            a.sub(b);
        }
    }

    /// Counts one notification sent at `sent_at`.
    pub fn count_notification(&mut self, sent_at: Tick, horizon: Tick) {
        self.notifications += 1;
        if let Some(d) = self.day(sent_at, horizon) {
            d.notifications += 1;
        }
    }

    fn day(&mut self, at: Tick, horizon: Tick) -> Option<&mut DayRow> {
        if (0..horizon).contains(&at) {
            self.daily.get_mut((at / DAY) as usize)
        } else {
            None
        }
    }

    /// Counts one recipient of a notification, on both sides, as of the horizon.
    pub fn count_recipient(
        &mut self,
        model: &Model,
        n: &NotificationInput,
        send: &RecipientOutcome,
        base: &BaselineOutcome,
    ) {
        let h = model.horizon;
        let prices = &model.scenario.prices;
        let terms = &n.terms;

        // SEND
        let s = &mut self.send;
        s.recipients += 1;
        if terms.has_payment_notice {
            s.with_notice += 1;
        }
        let state = send.final_state(h);
        s.final_states[state as usize] += 1;
        if !send.accepted {
            s.refused += 1;
            let fee = prices.refusal_fee_cents;
            s.body_cost_cents += fee;
            if let Some(d) = self.day(send.decided_at, h) {
                d.body_cost_cents += fee;
            }
        } else {
            let fixed = prices.send_fee_cents + prices.body_handling_cents;
            s.body_cost_cents += fixed;
            let letters = || send.letters().iter().filter(|l| l.at < h);
            if letters().next().is_none() {
                s.digital += 1;
            } else {
                s.paper += 1;
            }
            for (k, c) in send.courtesy.iter().enumerate() {
                if c.is_some_and(|t| t < h) {
                    s.courtesy[k] += 1;
                }
            }
            let pec = || send.pec_sends().iter().copied().filter(|t| *t < h);
            s.pec_sends += pec().count() as u64;
            for l in letters() {
                let billed = with_vat(l.cents, prices.paper_vat_percent);
                s.letters[product_slot(l.product)] += 1;
                s.letter_cents += l.cents;
                s.letters_waited += (l.waited > 0) as u64;
                s.letter_wait_seconds += l.waited as i64;
                s.body_cost_cents += billed;
            }
            if send.viewed_at.is_some_and(|t| t < h) {
                s.viewed += 1;
            }
            if let Some(d) = self.day(send.decided_at, h) {
                d.body_cost_cents += fixed;
            }
            for l in letters() {
                let billed = with_vat(l.cents, prices.paper_vat_percent);
                if let Some(d) = self.day(l.at, h) {
                    d.letters[product_slot(l.product)] += 1;
                    d.body_cost_cents += billed;
                }
            }
            for t in pec() {
                if let Some(d) = self.day(t, h) {
                    d.pec_sends += 1;
                }
            }
            for (k, c) in send.courtesy.iter().enumerate() {
                if let Some(t) = c {
                    if let Some(d) = self.day(*t, h) {
                        d.courtesy[k] += 1;
                    }
                }
            }
            if let Some(v) = send.viewed_at {
                if let Some(d) = self.day(v, h) {
                    d.views += 1;
                }
            }
            if let Some(r) = send.refined_at {
                if let Some(d) = self.day(r, h) {
                    d.refinements += 1;
                }
            }
        }
        if let Some(p) = send.payment.filter(|p| p.at < h) {
            self.send.count_payment(
                n.sent_at,
                p.at,
                send.refined_at,
                p.amount_cents,
                p.charges_cents,
            );
            if let Some(d) = self.day(p.at, h) {
                d.payments += 1;
                d.cash_in_cents += p.amount_cents + p.charges_cents;
            }
        }

        // Baseline
        let b = &mut self.baseline;
        b.recipients += 1;
        if terms.has_payment_notice {
            b.with_notice += 1;
        }
        b.final_states[base.final_state(h) as usize] += 1;
        let letters = || base.letters().iter().filter(|l| l.at < h);
        if letters().next().is_none() {
            b.digital += 1;
        } else {
            b.paper += 1;
        }
        for l in letters() {
            b.letters[product_slot(l.product)] += 1;
            b.letter_cents += l.cents;
            b.body_cost_cents += l.cents;
        }
        for l in letters() {
            if let Some(d) = self.day(l.at, h) {
                d.baseline_letters += 1;
                d.baseline_body_cost_cents += l.cents;
            }
        }
        if let Some(p) = base.payment.filter(|p| p.at < h) {
            self.baseline.count_payment(
                n.sent_at,
                p.at,
                base.notified_at,
                p.amount_cents,
                p.charges_cents,
            );
            if let Some(d) = self.day(p.at, h) {
                d.baseline_payments += 1;
                d.baseline_cash_in_cents += p.amount_cents + p.charges_cents;
            }
        }
    }
}

/// KPI names in report order (`design.md`).
pub const KPI_NAMES: [&str; 15] = [
    "refused_share",
    "digital_share",
    "paper_share",
    "reached_share",
    "unreachable_share",
    "returned_share",
    "viewed_share",
    "paid_share",
    "paid_within_5d_share",
    "mean_days_to_payment",
    "cost_body_cents_per_notification",
    "cost_citizen_cents_per_notification",
    "citizen_outlay_cents_per_notification",
    "cash_in_cents_per_notification",
    "cash_anticipation_days",
];

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The amount-weighted mean payment day from sending.
pub fn weighted_payment_day(s: &SideTally) -> f64 {
    if s.cash_in_cents == 0 {
        0.0
    } else {
        s.cash_seconds as f64 / s.cash_in_cents as f64 / DAY as f64
    }
}

/// The KPIs of one side, in `KPI_NAMES` order. `anticipation` is the baseline's
/// weighted payment day minus SEND's (reported on the SEND side; 0 for the baseline).
pub fn kpis(s: &SideTally, notifications: u64, anticipation: f64) -> [f64; 15] {
    let n = notifications.max(1) as f64;
    let reached: u64 = FinalState::ALL
        .iter()
        .filter(|f| f.reached())
        .map(|f| s.final_states[*f as usize])
        .sum();
    [
        ratio(s.refused, s.recipients),
        ratio(s.digital, s.recipients),
        ratio(s.paper, s.recipients),
        ratio(reached, s.recipients),
        ratio(
            s.final_states[FinalState::Unreachable as usize],
            s.recipients,
        ),
        ratio(
            s.final_states[FinalState::ReturnedToSender as usize],
            s.recipients,
        ),
        ratio(s.viewed, s.recipients),
        ratio(s.paid, s.with_notice),
        ratio(s.paid_within_5d, s.paid),
        if s.paid == 0 {
            0.0
        } else {
            s.pay_delay_seconds as f64 / s.paid as f64 / DAY as f64
        },
        s.body_cost_cents as f64 / n,
        s.citizen_charges_cents as f64 / n,
        s.outlay_cents as f64 / n,
        s.cash_in_cents as f64 / n,
        anticipation,
    ]
}
