//! Cancellation by the sender: nothing happens after it, the status is CANCELLED, and
//! the sender pays one send fee per recipient not yet refined.

use sim::model::status::{NotificationStatus, status_history};
use sim::model::{Category, FinalState};
use sim::time::{DAY, HOUR, MINUTE};

use crate::support::*;

#[test]
fn a_cancelled_paper_notification_stops_before_the_letter() {
    // Cancelled 3 days after acceptance: the letter would leave after the 120 h wait.
    let m = fixed("[cancellation]\nshare = 1.0\ndelay_days = { kind = \"constant\", value = 3.0 }");
    let profile = sim::model::RecipientProfile {
        io: true,
        ..citizen()
    };
    let n = notification(&m, vec![profile]);
    let (verdict, timeline, outcomes) = m.timeline(&key(0), &n);
    let sim::model::Verdict::Accepted { at: accepted } = verdict else {
        panic!("accepted")
    };
    let cancelled = accepted + 3 * DAY;
    assert!(timeline.iter().all(|e| e.at <= cancelled + 1));
    assert!(
        !timeline
            .iter()
            .any(|e| e.category == Category::SendAnalogDomicile)
    );
    let c = timeline
        .iter()
        .find(|e| e.category == Category::NotificationCancelled)
        .unwrap();
    assert_eq!(c.details.notification_cost, Some(100));
    assert_eq!(outcomes[0].n_letters, 0);
    assert_eq!(outcomes[0].final_state(i64::MAX), FinalState::Cancelled);
    let history = status_history(n.sent_at, 1, &timeline, i64::MAX);
    assert_eq!(
        history.last().unwrap().status,
        NotificationStatus::Cancelled
    );
    assert_eq!(history.last().unwrap().active_from, cancelled + 1);
}

#[test]
fn a_recipient_refined_before_the_cancellation_stays_refined() {
    let m =
        fixed("[cancellation]\nshare = 1.0\ndelay_days = { kind = \"constant\", value = 10.0 }");
    let profile = sim::model::RecipientProfile {
        platform_domicile: true,
        ..citizen()
    };
    let n = notification(&m, vec![profile]);
    let (_, timeline, outcomes) = m.timeline(&key(0), &n);
    // PEC delivered 30 min after acceptance, refined 7 days later, before day 10.
    let refined = outcomes[0].refined_at.unwrap();
    assert_eq!(refined, 60 + 30 * MINUTE + 7 * DAY);
    assert_eq!(
        outcomes[0].final_state(i64::MAX),
        FinalState::DigitalDelivered
    );
    let c = timeline
        .iter()
        .find(|e| e.category == Category::NotificationCancelled)
        .unwrap();
    assert_eq!(c.details.notification_cost, Some(0));
    assert!(c.at > refined + 2 * DAY - HOUR);
}
