//! Notification status history (`domain.md` §3.3), single and multi-recipient.

use sim::model::status::{NotificationStatus as S, status_history};
use sim::model::{Category, RecipientProfile};

use crate::support::*;

fn statuses(recipients: Vec<RecipientProfile>, overrides: &str) -> Vec<S> {
    let m = fixed(overrides);
    let n = notification(&m, recipients.clone());
    let (_, timeline, _) = m.timeline(&key(0), &n);
    status_history(n.sent_at, recipients.len(), &timeline, i64::MAX)
        .into_iter()
        .map(|c| c.status)
        .collect()
}

#[test]
fn paper_notification_goes_through_delivering_delivered_effective_date() {
    assert_eq!(
        statuses(vec![citizen()], ""),
        vec![
            S::InValidation,
            S::Accepted,
            S::Delivering,
            S::Delivered,
            S::EffectiveDate
        ]
    );
}

#[test]
fn multi_recipient_is_delivered_only_when_every_recipient_completed() {
    let digital = RecipientProfile {
        platform_domicile: true,
        ..citizen()
    };
    let m = fixed("");
    let n = notification(&m, vec![digital, citizen()]);
    let (_, timeline, outcomes) = m.timeline(&key(0), &n);
    let history = status_history(n.sent_at, 2, &timeline, i64::MAX);
    let delivered = history.iter().find(|c| c.status == S::Delivered).unwrap();
    // The digital recipient completes in minutes; DELIVERED waits for the paper one.
    let paper_done = timeline
        .iter()
        .find(|e| e.category == Category::AnalogSuccessWorkflow)
        .unwrap()
        .at;
    assert_eq!(delivered.active_from, paper_done);
    let digital_done = timeline
        .iter()
        .find(|e| e.category == Category::DigitalDeliveryCreationRequest)
        .unwrap()
        .at;
    assert!(digital_done < paper_done);
    assert_eq!(outcomes.len(), 2);
}

#[test]
fn unreachable_and_viewed_statuses() {
    let lost = RecipientProfile {
        address_correct: false,
        ..citizen()
    };
    assert_eq!(
        statuses(vec![lost], ""),
        vec![
            S::InValidation,
            S::Accepted,
            S::Delivering,
            S::Unreachable,
            S::EffectiveDate
        ]
    );
    let io = RecipientProfile {
        io: true,
        ..citizen()
    };
    assert_eq!(
        statuses(
            vec![io],
            "[views]\nio = { share = 1.0, delay_hours = { kind = \"constant\", value = 1.0 } }"
        ),
        vec![S::InValidation, S::Accepted, S::Viewed]
    );
}
