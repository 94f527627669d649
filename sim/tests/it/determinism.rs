//! The same scenario and seed give byte-identical results on any thread count.

use sim::report::{daily_csv, summary};

use crate::support::*;

fn outputs(threads: usize) -> (String, String) {
    let m = model("horizon_days = 90");
    // More than one chunk per replication, so the threads really share the work.
    let tallies = run(&m, 99, 2, 10_000, threads);
    let s = summary("default", "hash", 99, 10_000, 90, &tallies);
    (
        serde_json::to_string_pretty(&s).unwrap(),
        daily_csv(&tallies, &[]),
    )
}

#[test]
fn one_and_two_threads_give_identical_summary_and_daily_series() {
    let one = outputs(1);
    let two = outputs(2);
    assert_eq!(one.0, two.0);
    assert_eq!(one.1, two.1);
}

#[test]
fn a_different_seed_gives_different_results() {
    let m = model("horizon_days = 90");
    let a = run(&m, 1, 1, 3000, 2);
    let b = run(&m, 2, 1, 3000, 2);
    assert_ne!(a[0].send.cash_in_cents, b[0].send.cash_in_cents);
}

#[test]
fn a_timeline_written_into_a_reused_buffer_is_the_timeline_alone() {
    // The mock keeps one buffer per thread for every notification it computes: what a
    // notification gets must not depend on what the buffer held before.
    let m = fixed("");
    let digital = sim::model::RecipientProfile {
        platform_domicile: true,
        ..citizen()
    };
    let paper = notification(&m, vec![citizen()]);
    let two = notification(&m, vec![digital, citizen()]);
    let mut buffer = Vec::new();
    for (n, k) in [(&two, 3), (&paper, 1), (&two, 2), (&paper, 1)] {
        let (verdict, alone, outcomes) = m.timeline(&key(k), n);
        let (verdict_b, outcomes_b) = m.timeline_into(&key(k), n, &mut buffer);
        assert!(!alone.is_empty());
        assert_eq!(buffer, alone);
        assert_eq!(format!("{verdict:?}"), format!("{verdict_b:?}"));
        assert_eq!(outcomes_b.len(), outcomes.len());
    }
}
