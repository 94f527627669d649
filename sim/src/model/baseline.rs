//! The all-paper baseline ("processo analogico"): the body prints and posts a
//! registered letter itself, and the act is legally notified on delivery, on pickup, or
//! when the deposit term after a deposit notice ends. The first letter uses the same
//! postal draws as SEND's first attempt and the same payment draws, so the comparison
//! is paired.

use super::outcome::{Awareness, BaselineOutcome, Letter, PaymentOutcome};
use super::payment::PaymentDraws;
use super::postal::PostalFate;
use super::{Model, NotificationInput};
use crate::dist::unit;
use crate::prices::Product;
use crate::rng::{Purpose, StreamKey};
use crate::time::{Tick, days};

impl Model {
    fn baseline_postage(&self, product: Product) -> i64 {
        let b = &self.scenario.baseline;
        b.print_and_handling_cents
            + match product {
                Product::R890 => b.postage_890_cents,
                Product::Rir | Product::Ris => b.postage_rir_cents,
                Product::Ar | Product::Rs => b.postage_ar_cents,
            }
    }

    /// One recipient of the notification, served by the all-paper process.
    pub fn baseline_recipient(
        &self,
        key: &StreamKey,
        n: &NotificationInput,
        rec: u32,
    ) -> BaselineOutcome {
        let r = &n.recipients[rec as usize];
        let b = &self.scenario.baseline;
        let mut own = key.stream(rec, Purpose::Baseline);
        let dispatch = days(self.baseline_dispatch.sample(&mut own));
        let u_second = unit(&mut own);
        let u_second_delay = unit(&mut own);
        let mut out = BaselineOutcome {
            letters: [Letter {
                at: 0,
                product: Product::Ar,
                cents: 0,
                waited: 0,
            }; super::outcome::MAX_LETTERS],
            n_letters: 0,
            notified_at: None,
            returned_at: None,
            unreachable_at: None,
            cancelled_at: None,
            payment: None,
        };
        let product = self.product_for(&n.terms, r);
        let deposit_term = days(b.deposit_term_days);
        let max_resends = self.scenario.paper.max_resends;

        let post =
            |out: &mut BaselineOutcome, rng: &mut crate::rng::Stream, at: Tick, correct: bool| {
                let mut posted = at;
                let mut resends = 0;
                loop {
                    out.add_letter(Letter {
                        at: posted,
                        product,
                        cents: self.baseline_postage(product),
                        waited: 0,
                    });
                    let res = self
                        .postal
                        .attempt(rng, product, correct, r.deceased, posted);
                    if res.fate == PostalFate::Lost && resends < max_resends {
                        resends += 1;
                        posted = res.at + days(1.0);
                        continue;
                    }
                    return res;
                }
            };

        let mut first = key.stream(rec, Purpose::PostalFirst);
        // Same first draw as SEND's preparation time, so the postal draws line up.
        let _prep = unit(&mut first);
        let mut result = post(
            &mut out,
            &mut first,
            n.sent_at + dispatch,
            r.address_correct,
        );
        if matches!(result.fate, PostalFate::Failed { .. } | PostalFate::Lost)
            && u_second < b.second_attempt_share
        {
            let mut second = key.stream(rec, Purpose::PostalSecond);
            let _registry = unit(&mut second);
            let u_correct = unit(&mut second);
            let _prep = unit(&mut second);
            let correct = u_correct < self.scenario.paper.second_attempt_correct_share;
            let second_delay = days(self.baseline_second.at(u_second_delay));
            result = post(&mut out, &mut second, result.at + second_delay, correct);
        }
        match result.fate {
            PostalFate::Delivered | PostalFate::Refused => out.notified_at = Some(result.at),
            PostalFate::Collected { notice } => {
                out.notified_at = Some(result.at.min(notice + deposit_term))
            }
            PostalFate::CompiutaGiacenza { notice } => {
                out.notified_at = Some(notice + deposit_term)
            }
            PostalFate::Deceased => out.returned_at = Some(result.at),
            PostalFate::Failed { .. } | PostalFate::Lost => out.unreachable_at = Some(result.at),
        }
        let aware = result
            .fate
            .informs()
            .then_some((result.at, Awareness::Paper));
        let mut pay = key.stream(rec, Purpose::Payment);
        let draws = PaymentDraws::draw(&mut pay);
        if let Some(at) = self.payment_instant(&n.terms, n.sent_at, aware, &draws) {
            let amount = Model::amount_due(&n.terms, n.sent_at, out.notified_at, at);
            out.payment = Some(PaymentOutcome {
                at,
                amount_cents: amount,
                charges_cents: n.terms.baseline_charge_cents,
            });
        }
        out
    }
}
