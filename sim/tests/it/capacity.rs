//! Postal capacity: letters wait for a week with room, so everything after them moves
//! later; a capacity too large to bind changes nothing; time order is kept exactly.

use sim::capacity::CapacityPlan;
use sim::ordered::simulate_replication;
use sim::tally::{DayRow, Tally};
use sim::time::DAY;

use crate::support::*;

const N: u64 = 6000;

fn on(scale: f64) -> String {
    format!("horizon_days = 150\n[postal_capacity]\nenabled = true\nscale = {scale}\n")
}

/// Mean day of something counted per day.
fn mean_day(t: &Tally, f: impl Fn(&DayRow) -> u64) -> f64 {
    let (n, s) = t
        .daily
        .iter()
        .enumerate()
        .fold((0u64, 0u64), |(n, s), (d, r)| {
            (n + f(r), s + d as u64 * f(r))
        });
    s as f64 / n as f64
}

fn national_letters(r: &DayRow) -> u64 {
    r.letters[0] + r.letters[1] + r.letters[2]
}

#[test]
fn a_capacity_too_large_to_bind_gives_the_results_of_no_capacity() {
    let off = run(&model("horizon_days = 150"), 5, 2, N, 2);
    let huge = run(&model(&on(1000.0)), 5, 2, N, 2);
    assert_eq!(off, huge);
}

#[test]
fn a_tiny_capacity_moves_letters_refinements_and_payments_later() {
    let off = &run(&model("horizon_days = 150"), 5, 1, N, 2)[0];
    let tiny = &run(&model(&on(0.0002)), 5, 1, N, 2)[0];
    let letters = (
        mean_day(off, national_letters),
        mean_day(tiny, national_letters),
    );
    let refined = (
        mean_day(off, |r| r.refinements),
        mean_day(tiny, |r| r.refinements),
    );
    let paid = (
        mean_day(off, |r| r.payments),
        mean_day(tiny, |r| r.payments),
    );
    assert!(letters.1 > letters.0 + 7.0, "letters {letters:?}");
    assert!(refined.1 > refined.0 + 3.0, "refinements {refined:?}");
    assert!(paid.1 > paid.0 + 1.0, "payments {paid:?}");
    // Fewer letters in the first weeks, and the digital side is untouched.
    let first_weeks = |t: &Tally| t.daily[..21].iter().map(national_letters).sum::<u64>();
    assert!(first_weeks(tiny) * 2 < first_weeks(off));
    assert_eq!(off.send.pec_sends, tiny.send.pec_sends);
    assert_eq!(off.send.courtesy, tiny.send.courtesy);
    assert_eq!(off.send.recipients, tiny.send.recipients);
    // The all-paper baseline has its own contracts: not queued.
    assert_eq!(off.baseline, tiny.baseline);
}

#[test]
fn a_peak_period_lets_more_letters_through() {
    let base = on(0.0005);
    let peak = format!("{base}peak_periods = [{{ from = \"2025-01-01\", to = \"2025-12-31\" }}]\n");
    let normal = &run(&model(&base), 5, 1, N, 2)[0];
    let peaked = &run(&model(&peak), 5, 1, N, 2)[0];
    assert!(mean_day(peaked, national_letters) < mean_day(normal, national_letters));
}

#[test]
fn results_do_not_depend_on_threads_or_on_how_arrivals_are_batched() {
    // Partly binding, so letters wait, re-runs happen and stale requests are dropped.
    let m = model(&on(0.001));
    let plan = CapacityPlan::new(&m);
    let one = run(&m, 9, 1, 3 * 4096, 1);
    let two = run(&m, 9, 1, 3 * 4096, 2);
    assert_eq!(one, two);
    let (batched, stats) = simulate_replication(&m, &plan, 9, 0, 3 * 4096, 1, &|_| {});
    assert_eq!(one[0], batched);
    assert!(stats.delayed > 100 && stats.stale > 0, "{stats:?}");
    assert!(stats.delay_seconds >= stats.delayed, "{stats:?}");
}

#[test]
fn every_week_starts_on_a_monday_at_midnight_in_rome() {
    let m = model(&on(1.0));
    let plan = CapacityPlan::new(&m);
    for w in &plan.week_starts {
        let local = m.calendar.local(*w);
        assert_eq!(local.format("%a %H:%M").to_string(), "Mon 00:00", "{local}");
    }
    // Daylight saving weeks are an hour short or long.
    let lengths: std::collections::BTreeSet<i64> =
        plan.week_starts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(lengths.contains(&(7 * DAY)) && lengths.contains(&(7 * DAY - 3600)));
}

#[test]
fn a_bad_priority_list_is_refused_with_the_allowed_classes() {
    let e = sim::Scenario::from_toml_str(
        "[postal_capacity]\npriority = [\"first_attempt\", \"first_attempt\"]\n",
        "cap.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("cap.toml: field `postal_capacity.priority`"),
        "{e}"
    );
    assert!(
        e.contains("second_attempt, resend, simple_registered, first_attempt"),
        "{e}"
    );
    let e =
        sim::Scenario::from_toml_str("[postal_capacity]\npriority = [\"urgent\"]\n", "cap.toml")
            .unwrap_err()
            .to_string();
    assert!(e.contains("postal_capacity.priority"), "{e}");
    assert!(e.contains("unknown variant `urgent`"), "{e}");
}

#[test]
fn notifications_with_hundreds_of_letters_are_queued_like_any_other() {
    // 300 recipients each: more posting requests than a notification's ranks hold.
    let many = "[recipients]\nper_notification = { kind = \"constant\", value = 300.0 }\n";
    let off = run(&model(&format!("horizon_days = 150\n{many}")), 3, 1, 6, 2);
    let huge = run(&model(&format!("{}{many}", on(1000.0))), 3, 1, 6, 2);
    assert_eq!(off, huge);
    let m = model(&format!("{}{many}", on(0.0002)));
    let one = run(&m, 3, 1, 6, 1);
    let two = run(&m, 3, 1, 6, 2);
    assert_eq!(one, two);
    assert_ne!(one, off, "a tiny capacity moves some of their letters");
}
