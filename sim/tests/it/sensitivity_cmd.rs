//! `sendsim sensitivity`: parameters of the scenario's [ranges] moved one at a time and
//! ranked by their swing of a KPI.

use std::process::Command;

use sim::Scenario;
use sim::report::kpi_reports;
use sim::sensitivity::{analyse, literal};

use crate::support::run;

#[test]
fn parameters_are_ranked_by_swing_and_each_end_is_a_plain_run() {
    let ranges = vec![
        (
            "recipients.citizen.io_send_enabled_share".to_string(),
            0.1,
            0.4,
        ),
        ("prices.body_handling_cents".to_string(), 30.0, 120.0),
    ];
    let model = |sets: &[String]| sim::Model::new(Scenario::compose(None, sets).unwrap()).unwrap();
    let mut models = vec![model(&[])];
    for (p, lo, hi) in &ranges {
        for v in [lo, hi] {
            models.push(model(&[format!("{p}={}", literal(*v))]));
        }
    }
    let opts = sim::run::RunOptions {
        seed: 3,
        replications: 2,
        notifications: 1500,
        threads: 2,
    };
    let reports = sim::sweep::run_points(&models, &opts, 2, &|_| {});
    let r = analyse(
        &["digital_share", "cost_body_cents_per_notification"],
        &ranges,
        &reports,
    );
    // IO moves the digital share; the body's own handling cost cannot.
    let digital = &r["digital_share"];
    assert_eq!(
        digital.swings[0].parameter,
        "recipients.citizen.io_send_enabled_share"
    );
    assert!(digital.swings[0].width() > 0.05, "{:?}", digital.swings[0]);
    assert_eq!(digital.swings[1].width(), 0.0);
    // The body's cost moves with its handling cost (and with IO, less).
    let cost = &r["cost_body_cents_per_notification"];
    let handling = cost
        .swings
        .iter()
        .find(|s| s.parameter == "prices.body_handling_cents")
        .unwrap();
    assert!(
        handling.width() >= 90.0 - 1e-6,
        "at least 90 cents more: {handling:?}"
    );
    // Each end is what `run` gives with that value set.
    let alone = run(&models[1], 3, 2, 1500, 1);
    let expected = kpi_reports(&alone)
        .into_iter()
        .find(|(n, _)| *n == "digital_share")
        .unwrap()
        .1
        .send;
    assert_eq!(digital.swings[0].at_low, expected);
    assert_eq!(literal(30.0), "30");
    assert_eq!(literal(0.1), "0.1");
}

#[test]
fn the_command_writes_a_table_a_csv_and_tornado_charts() {
    let out = std::env::temp_dir().join(format!("sendsim-sensitivity-{}", std::process::id()));
    let r = Command::new(env!("CARGO_BIN_EXE_sendsim"))
        .args([
            "sensitivity",
            "--kpi",
            "digital_share",
            "--notifications",
            "600",
            "--replications",
            "2",
            "-q",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        stdout.contains("recipients.citizen.io_send_enabled_share"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(out.join("sensitivity.csv")).unwrap();
    let default_ranges = Scenario::builtin_default().ranges.len();
    assert_eq!(csv.lines().count(), 1 + default_ranges);
    assert!(out.join("tornado_digital_share.png").exists());
    assert!(out.join("tornado_digital_share.svg").exists());
    std::fs::remove_dir_all(&out).ok();
    let bad = Command::new(env!("CARGO_BIN_EXE_sendsim"))
        .args(["sensitivity", "--kpi", "happiness"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("digital_share"));
    // A range end outside what the field allows is refused before anything runs.
    let bad = Command::new(env!("CARGO_BIN_EXE_sendsim"))
        .args([
            "sensitivity",
            "--set",
            "ranges.\"pec.working_box_share\"=[0.5, 1.5]",
            "-q",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("pec.working_box_share") && err.contains("probability"),
        "{err}"
    );
}
