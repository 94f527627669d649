//! Whether and when a recipient pays, and how much: the act's amount (reduced when
//! paid within the reduced term of the legal notification date, surcharged after the
//! due term) plus the notification charges as they stand at the payment instant.
//!
//! SEND and the baseline use the same draws for the same recipient, so the paired
//! difference isolates the effect of the channel.

use rand::Rng;

use super::outcome::Awareness;
use super::{ActTerms, Model};
use crate::dist::unit;
use crate::scenario::FeePolicy;
use crate::time::{Tick, days};

/// Indices into `Model::payments`.
const AFTER_APP: usize = 0;
const AFTER_WEB: usize = 1;
const AFTER_PEC: usize = 2;
const AFTER_PAPER: usize = 3;
const UNAWARE: usize = 4;
const SPONTANEOUS: usize = 5;

/// The uniforms of one recipient's payment behaviour, drawn up front.
#[derive(Debug, Clone, Copy)]
pub struct PaymentDraws {
    spontaneous: f64,
    spontaneous_delay: f64,
    pays: f64,
    delay: f64,
    unaware: f64,
    unaware_delay: f64,
}

impl PaymentDraws {
    pub fn draw<R: Rng + ?Sized>(rng: &mut R) -> PaymentDraws {
        PaymentDraws {
            spontaneous: unit(rng),
            spontaneous_delay: unit(rng),
            pays: unit(rng),
            delay: unit(rng),
            unaware: unit(rng),
            unaware_delay: unit(rng),
        }
    }
}

impl Model {
    /// A payment made from the pagoPA notice known from elsewhere, independent of the
    /// notification: the one kind of payment that can stop paper before any view.
    pub(crate) fn spontaneous_payment(
        &self,
        terms: &ActTerms,
        sent_at: Tick,
        d: &PaymentDraws,
    ) -> Option<Tick> {
        let r = &self.payments[SPONTANEOUS];
        (terms.has_payment_notice && d.spontaneous < r.share * terms.pay_propensity)
            .then(|| sent_at + days(r.delay.at(d.spontaneous_delay)))
    }

    /// The payment instant, if any: the earliest of a spontaneous payment and one made
    /// after the recipient learned of the act (or, never informed, after a reminder).
    pub(crate) fn payment_instant(
        &self,
        terms: &ActTerms,
        sent_at: Tick,
        awareness: Option<(Tick, Awareness)>,
        d: &PaymentDraws,
    ) -> Option<Tick> {
        if !terms.has_payment_notice {
            return None;
        }
        let informed = match awareness {
            Some((at, how)) => {
                let r = &self.payments[match how {
                    Awareness::AppView => AFTER_APP,
                    Awareness::WebView => AFTER_WEB,
                    Awareness::Pec => AFTER_PEC,
                    Awareness::Paper => AFTER_PAPER,
                }];
                (d.pays < r.share * terms.pay_propensity).then(|| at + days(r.delay.at(d.delay)))
            }
            None => {
                let r = &self.payments[UNAWARE];
                (d.unaware < r.share * terms.pay_propensity)
                    .then(|| sent_at + days(r.delay.at(d.unaware_delay)))
            }
        };
        match (self.spontaneous_payment(terms, sent_at, d), informed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The act's amount paid at `at`, given the legal notification instant.
    pub fn amount_due(terms: &ActTerms, sent_at: Tick, legal_date: Option<Tick>, at: Tick) -> i64 {
        let amount = terms.amount_cents as f64;
        let reference = legal_date.unwrap_or(sent_at);
        let paid = if terms.reduction_share > 0.0
            && legal_date.is_some()
            && at <= reference + terms.reduced_within
        {
            amount * (1.0 - terms.reduction_share)
        } else if at > reference + terms.due {
            amount * (1.0 + terms.late_surcharge_share)
        } else {
            amount
        };
        paid.round() as i64
    }

    /// Notification charges the citizen pays with the act, under SEND, given the paper
    /// cost counted by then.
    pub(crate) fn send_charges(&self, terms: &ActTerms, analog_cost: i64) -> i64 {
        match terms.fee_policy {
            FeePolicy::DeliveryMode if terms.apply_cost => {
                crate::prices::recipient_cost(
                    true,
                    self.scenario.prices.send_fee_cents,
                    analog_cost,
                    terms.pa_fee_cents,
                    terms.vat_percent,
                )
                .total_price
            }
            FeePolicy::DeliveryMode => 0,
            FeePolicy::FlatRate => terms.flat_rate_charge_cents,
        }
    }
}

/// The days from the legal date within which a payment counts as prompt (KPI
/// `paid_within_5d_share`).
pub const PROMPT_PAYMENT_DAYS: f64 = 5.0;

impl Model {
    /// The recipient's `totalPrice` as the price API reports it (0 unless DELIVERY_MODE
    /// with `applyCost`).
    pub fn send_charges_total(&self, terms: &ActTerms, analog_cost: i64) -> i64 {
        crate::prices::recipient_cost(
            terms.fee_policy == FeePolicy::DeliveryMode && terms.apply_cost,
            self.scenario.prices.send_fee_cents,
            analog_cost,
            terms.pa_fee_cents,
            terms.vat_percent,
        )
        .total_price
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{DAY, HOUR};

    fn fine() -> ActTerms {
        let m = Model::new(crate::Scenario::builtin_default()).unwrap();
        let mut t = m.acts[1].terms.clone();
        assert_eq!(m.scenario.acts[1].name, "traffic_fine");
        t.amount_cents = 10_000;
        t
    }

    #[test]
    fn a_fine_paid_within_5_days_of_refinement_is_reduced_by_30_percent() {
        let t = fine();
        let refined = 20 * DAY;
        assert_eq!(
            Model::amount_due(&t, 0, Some(refined), refined + 5 * DAY),
            7_000
        );
        // Paying before refinement counts as within the term.
        assert_eq!(Model::amount_due(&t, 0, Some(refined), 3 * DAY), 7_000);
        assert_eq!(
            Model::amount_due(&t, 0, Some(refined), refined + 5 * DAY + HOUR),
            10_000
        );
        assert_eq!(
            Model::amount_due(&t, 0, Some(refined), refined + 60 * DAY),
            10_000
        );
        assert_eq!(
            Model::amount_due(&t, 0, Some(refined), refined + 61 * DAY),
            15_000
        );
        // Never notified: no reduction, the due term runs from sending.
        assert_eq!(Model::amount_due(&t, 0, None, 2 * DAY), 10_000);
    }
}
