//! Conservation laws: every recipient ends in exactly one final state, and the cash
//! counted equals the payments made.

use sim::model::FinalState;
use sim::rng::StreamKey;

use crate::support::*;

#[test]
fn every_recipient_ends_in_one_state_and_cash_adds_up() {
    let m = model("horizon_days = 120");
    for t in run(&m, 11, 2, 6000, 2) {
        for side in [&t.send, &t.baseline] {
            assert_eq!(side.final_states.iter().sum::<u64>(), side.recipients);
            assert_eq!(side.digital + side.paper + side.refused, side.recipients);
            assert_eq!(side.pay_days.iter().sum::<u64>(), side.paid);
            assert_eq!(side.outlay_cents, side.cash_in_cents);
        }
        assert_eq!(t.send.recipients, t.baseline.recipients);
        let daily_cash: i64 = t.daily.iter().map(|d| d.cash_in_cents).sum();
        let daily_payments: u64 = t.daily.iter().map(|d| d.payments).sum();
        assert_eq!(daily_cash, t.send.cash_in_cents);
        assert_eq!(daily_payments, t.send.paid);
        let base_cash: i64 = t.daily.iter().map(|d| d.baseline_cash_in_cents).sum();
        assert_eq!(base_cash, t.baseline.cash_in_cents);
        let letters: u64 = t.daily.iter().map(|d| d.letters.iter().sum::<u64>()).sum();
        assert_eq!(letters, t.send.letters.iter().sum::<u64>());
        assert!(t.send.paid <= t.send.with_notice);
    }
}

#[test]
fn each_recipient_outcome_is_consistent() {
    let m = model("");
    for i in 0..3000 {
        let key = StreamKey {
            seed: 3,
            replication: 0,
            notification: i,
        };
        let n = m.sample_notification(&key, 1 << 20);
        m.notification(&key, &n, &mut (), |_, send, base| {
            let state = send.final_state(Tick::MAX);
            assert!(FinalState::ALL.contains(&state));
            // Refinement is never later than the scheduled one, and a view refines.
            if let (Some(r), Some(s)) = (send.refined_at, send.scheduled_refinement) {
                assert!(r <= s);
            }
            if let Some(v) = send.viewed_at {
                assert!(
                    send.refined_at.is_some_and(|r| r <= v)
                        || send.end == sim::model::outcome::WorkflowEnd::Deceased
                );
            }
            // Letters are sent in time order, and paper is never sent after a view
            // that came before its preparation.
            let letters = send.letters();
            assert!(letters.windows(2).all(|w| w[0].at <= w[1].at));
            if let Some(p) = send.payment {
                assert!(p.amount_cents >= 0 && p.charges_cents >= 0);
                assert!(n.terms.has_payment_notice);
            }
            assert!(
                base.n_letters >= 1 || base.returned_at.is_some() || base.cancelled_at.is_some()
            );
        });
    }
}

use sim::time::Tick;
