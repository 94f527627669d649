//! Refinement rules with exact instants (`domain.md` §3.8).

use sim::model::outcome::WorkflowEnd;
use sim::model::{Category, RecipientOutcome, TimelineElement};
use sim::time::{DAY, HOUR, MINUTE, Tick};

use crate::support::*;

fn walk(
    overrides: &str,
    profile: sim::model::RecipientProfile,
    accepted_at: Tick,
) -> (RecipientOutcome, Vec<TimelineElement>) {
    let m = fixed(overrides);
    let n = notification(&m, vec![profile]);
    let mut sink = Vec::new();
    let out = m.recipient(&key(0), &n, 0, accepted_at, &mut sink);
    sink.sort_by_key(|e| e.at);
    (out, sink)
}

fn at_of(timeline: &[TimelineElement], c: Category) -> Vec<Tick> {
    timeline
        .iter()
        .filter(|e| e.category == c)
        .map(|e| e.at)
        .collect()
}

#[test]
fn pec_delivery_refines_after_7_days_and_after_8_from_21_00_rome_time() {
    let pec = || sim::model::RecipientProfile {
        platform_domicile: true,
        ..citizen()
    };
    // Start 2025-03-03 00:00 CET. Acceptance + 10 min lookup + 20 min delivery.
    let accepted = 20 * HOUR + 29 * MINUTE; // delivered 20:59 local
    let (o, t) = walk("", pec(), accepted);
    let delivered = 20 * HOUR + 59 * MINUTE;
    assert_eq!(at_of(&t, Category::DigitalSuccessWorkflow), vec![delivered]);
    assert_eq!(o.refined_at, Some(delivered + 7 * DAY));
    assert_eq!(o.end, WorkflowEnd::DigitalSuccess);
    assert_eq!(o.n_letters, 0);

    let (o, _) = walk("", pec(), accepted + MINUTE); // delivered 21:00 local
    assert_eq!(o.refined_at, Some(21 * HOUR + 8 * DAY));
    let (o, _) = walk("", pec(), accepted + 3 * HOUR); // 23:59 local
    assert_eq!(o.refined_at, Some(23 * HOUR + 59 * MINUTE + 8 * DAY));

    // In summer time (CEST, UTC+2) the rule follows Rome's clock: 21:00 local on
    // 2025-04-07 is tick 35 days + 21 h (the start is in CET, one hour behind).
    let day35 = 35 * DAY - HOUR;
    let (o, _) = walk("", pec(), day35 + 20 * HOUR + 29 * MINUTE);
    assert_eq!(
        o.refined_at,
        Some(day35 + 20 * HOUR + 59 * MINUTE + 7 * DAY)
    );
    let (o, _) = walk("", pec(), day35 + 20 * HOUR + 30 * MINUTE);
    assert_eq!(o.refined_at, Some(day35 + 21 * HOUR + 8 * DAY));
}

#[test]
fn digital_failure_refines_after_15_days_and_sends_a_simple_registered_letter() {
    let profile = sim::model::RecipientProfile {
        special_domicile: true,
        ..citizen()
    };
    let (o, t) = walk("[pec]\nworking_box_share = 0.0", profile, 0);
    let first = 10 * MINUTE;
    // Round 1 fails after 2 h; round 2 runs 7 days after the first attempt, fails after 2 h.
    let failed = first + 7 * DAY + 2 * HOUR;
    assert_eq!(
        at_of(&t, Category::SendDigitalDomicile),
        vec![first, first + 7 * DAY]
    );
    assert_eq!(at_of(&t, Category::DigitalFailureWorkflow), vec![failed]);
    assert_eq!(o.refined_at, Some(failed + 15 * DAY));
    assert_eq!(o.end, WorkflowEnd::DigitalFailure);
    let rs = at_of(&t, Category::SendSimpleRegisteredLetter);
    assert_eq!(rs, vec![failed + 24 * HOUR]);
    assert_eq!(o.letters()[0].product, sim::prices::Product::Rs);
}

#[test]
fn paper_delivery_refines_10_days_after_delivery() {
    let (o, t) = walk("", citizen(), 0);
    let posted = 10 * MINUTE + 24 * HOUR;
    assert_eq!(at_of(&t, Category::SendAnalogDomicile), vec![posted]);
    let delivered = posted + 5 * DAY;
    assert_eq!(at_of(&t, Category::AnalogSuccessWorkflow), vec![delivered]);
    assert_eq!(o.refined_at, Some(delivered + 10 * DAY));
    assert_eq!(at_of(&t, Category::Refinement), vec![delivered + 10 * DAY]);
}

#[test]
fn courtesy_message_delays_paper_by_120_hours() {
    let profile = sim::model::RecipientProfile {
        io: true,
        ..citizen()
    };
    let (o, t) = walk("", profile, 0);
    let courtesy = 2 * MINUTE;
    assert_eq!(at_of(&t, Category::SendCourtesyMessage), vec![courtesy]);
    assert_eq!(
        at_of(&t, Category::PrepareAnalogDomicile),
        vec![courtesy + 120 * HOUR]
    );
    assert_eq!(o.letters()[0].at, courtesy + 120 * HOUR + 24 * HOUR);
}

#[test]
fn giacenza_collected_early_refines_10_days_after_pickup() {
    let (o, t) = walk(
        "[paper]\ndelivered_share = 0.0\npickup_share = 1.0",
        citizen(),
        0,
    );
    let notice = 10 * MINUTE + 24 * HOUR + 5 * DAY;
    let pickup = notice + 4 * DAY;
    assert_eq!(at_of(&t, Category::AnalogSuccessWorkflow), vec![pickup]);
    assert_eq!(o.refined_at, Some(pickup + 10 * DAY));
}

#[test]
fn giacenza_collected_after_10_days_refines_at_notice_plus_20_days() {
    let (o, t) = walk(
        "[paper]\ndelivered_share = 0.0\npickup_share = 1.0\npickup_days = { kind = \"constant\", value = 12.0 }",
        citizen(),
        0,
    );
    let notice = 10 * MINUTE + 24 * HOUR + 5 * DAY;
    assert_eq!(o.refined_at, Some(notice + 20 * DAY));
    let feedback = t
        .iter()
        .find(|e| e.category == Category::SendAnalogFeedback)
        .unwrap();
    let expected = match o.letters()[0].product {
        sim::prices::Product::R890 => "PNAG012",
        _ => "PNRN012",
    };
    assert_eq!(
        feedback.details.delivery_detail_code.copied(),
        Some(expected)
    );
    assert_eq!(feedback.details.scheduled_at, Some(notice + 10 * DAY));
}

#[test]
fn compiuta_giacenza_refines_at_notice_plus_20_days() {
    let (o, t) = walk(
        "[paper]\ndelivered_share = 0.0\npickup_share = 0.0",
        citizen(),
        0,
    );
    let notice = 10 * MINUTE + 24 * HOUR + 5 * DAY;
    // The outcome arrives after the 30-day term; the refinement's legal instant is
    // the deposit notice + 10 days + 10 days, written when the outcome is processed.
    assert_eq!(
        at_of(&t, Category::AnalogSuccessWorkflow),
        vec![notice + 30 * DAY]
    );
    assert_eq!(o.refined_at, Some(notice + 20 * DAY));
    let refinement = t
        .iter()
        .find(|e| e.category == Category::Refinement)
        .unwrap();
    assert_eq!(refinement.at, notice + 30 * DAY);
    assert_eq!(refinement.details.scheduled_at, Some(notice + 20 * DAY));
}

#[test]
fn unreachable_refines_10_days_after_the_failure() {
    let profile = sim::model::RecipientProfile {
        address_correct: false,
        ..citizen()
    };
    let (o, t) = walk("", profile, 0);
    let failed = 10 * MINUTE + 24 * HOUR + 5 * DAY + 8 * DAY;
    assert_eq!(at_of(&t, Category::CompletelyUnreachable), vec![failed]);
    assert_eq!(
        at_of(&t, Category::PrepareAnalogDomicileFailure),
        vec![failed]
    );
    assert_eq!(o.refined_at, Some(failed + 10 * DAY));
    assert_eq!(o.end, WorkflowEnd::Unreachable);
}

#[test]
fn second_attempt_at_a_registry_address_delivers() {
    let profile = sim::model::RecipientProfile {
        address_correct: false,
        ..citizen()
    };
    let (o, t) = walk(
        "[paper]\nregistry_address_share = 1.0\nsecond_attempt_correct_share = 1.0",
        profile,
        0,
    );
    let failed = 10 * MINUTE + 24 * HOUR + 5 * DAY + 8 * DAY;
    let second = failed + 24 * HOUR;
    assert_eq!(
        at_of(&t, Category::SendAnalogDomicile),
        vec![10 * MINUTE + 24 * HOUR, second]
    );
    assert_eq!(o.refined_at, Some(second + 5 * DAY + 10 * DAY));
    assert_eq!(o.n_letters, 2);
}

#[test]
fn deceased_recipient_is_returned_to_sender_without_refinement() {
    let profile = sim::model::RecipientProfile {
        deceased: true,
        ..citizen()
    };
    let (o, t) = walk("", profile, 0);
    assert_eq!(o.end, WorkflowEnd::Deceased);
    assert_eq!(o.refined_at, None);
    assert_eq!(
        at_of(&t, Category::AnalogWorkflowRecipientDeceased).len(),
        1
    );
}

#[test]
fn a_view_refines_at_once_and_stops_paper_not_yet_prepared() {
    let profile = sim::model::RecipientProfile {
        io: true,
        ..citizen()
    };
    let (o, t) = walk(
        "[views]\nio = { share = 1.0, delay_hours = { kind = \"constant\", value = 10.0 } }",
        profile,
        0,
    );
    let view = 2 * MINUTE + 10 * HOUR;
    assert_eq!(o.viewed_at, Some(view));
    assert_eq!(o.refined_at, Some(view));
    assert_eq!(o.n_letters, 0);
    assert!(at_of(&t, Category::SendAnalogDomicile).is_empty());
    assert!(at_of(&t, Category::Refinement).is_empty());

    // A view after the letter left refines at once too, earlier than delivery + 10 d.
    let profile = sim::model::RecipientProfile {
        io: true,
        ..citizen()
    };
    let (o, _) = walk(
        "[views]\nio = { share = 1.0, delay_hours = { kind = \"constant\", value = 150.0 } }",
        profile,
        0,
    );
    assert_eq!(o.n_letters, 1);
    assert_eq!(o.refined_at, Some(2 * MINUTE + 150 * HOUR));
}

#[test]
fn a_spontaneous_payment_stops_paper() {
    let profile = sim::model::RecipientProfile {
        io: true,
        ..citizen()
    };
    let m = fixed(
        r#"
[payments]
spontaneous = { share = 1.0, delay_days = { kind = "constant", value = 2.0 } }
[[acts]]
name = "fine"
share = 1.0
has_payment_notice = true
amount_cents = { kind = "constant", value = 10000.0 }
reduction_share = 0.3
reduced_within_days = 5.0
due_days = 60.0
late_surcharge_share = 0.5
physical_communication_type = "REGISTERED_LETTER_890"
fee_policy = "DELIVERY_MODE"
apply_cost = true
pa_fee_cents = 100
vat_percent = 22
flat_rate_charge_cents = 0
sheets = { kind = "constant", value = 3.0 }
pay_propensity = 1.0
baseline_charge_cents = 1500
"#,
    );
    let n = notification(&m, vec![profile]);
    let o = m.recipient(&key(0), &n, 0, 0, &mut ());
    assert_eq!(o.n_letters, 0);
    let p = o.payment.unwrap();
    assert_eq!(p.at, 2 * DAY);
    // Not notified: full amount, plus the digital charges (send fee + PA fee).
    assert_eq!(p.amount_cents, 10000);
    assert_eq!(p.charges_cents, 200);
}
