//! `sendsim project`: bodies join over months and send through the model; the shipped
//! adoption scenario reproduces the public 2024 and 2025 totals and digital shares.

use sim::Scenario;
use sim::project::{Projected, project};

/// A projection of one body type and one case over the default scenario.
fn one_type(body: &str, case: &str, extra: &str) -> Scenario {
    let text = format!(
        r#"
[projection]
start_month = "2025-01"
months = 18
sample_notifications = 600
budget_eur = 1000000
contract_months = 4
implementation_months = 8
manual_upload_below = 120
async_update_hours = 24
fines_act = "traffic_fine"
{extra}

[projection.adoption]
io_send_enabled_share = {{ ceiling = 0.2, midpoint = "2025-06", months = 1000.0 }}
general_domicile_share = {{ ceiling = 0.08, midpoint = "2025-06", months = 1000.0 }}
platform_domicile_share = {{ ceiling = 0.04, midpoint = "2025-06", months = 1000.0 }}

[[projection.cases]]
{case}
share = 1.0

[[projection.bodies]]
name = "town"
count = 40
join_share = 1.0
apply_month = {{ kind = "constant", value = 0.0 }}
acts = {{ traffic_fine = 0.5, car_tax = 0.5 }}
leave_out_fines_share = 0.0
seasonality = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
campaign_share = 0.0
campaigns_per_year = 0
funding_eur = 1000
{body}
"#
    );
    Scenario::from_toml_str(&text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

const SYNC: &str = "name = \"pay\"\npayment = true\nupload = true\ncost_update = \"SYNC\"";

fn run(s: &Scenario) -> Projected {
    project(s, 11, 2, &|_| {}).unwrap()
}

#[test]
fn bodies_send_only_once_live_and_funding_follows_their_phases() {
    let p = run(&one_type(
        "annual_notifications = { kind = \"constant\", value = 12000.0 }",
        SYNC,
        "",
    ));
    for (k, m) in p.months.iter().enumerate() {
        assert_eq!(m.bodies_applied, 40);
        assert_eq!(
            m.bodies_contracted,
            if k >= 4 { 40 } else { 0 },
            "{}",
            m.month
        );
        assert_eq!(m.bodies_live, if k >= 12 { 40 } else { 0 }, "{}", m.month);
        if k < 12 {
            assert_eq!(m.notifications, 0.0);
        } else {
            // 40 bodies × 12,000 a year, evenly by month.
            assert!(
                (m.notifications - 40_000.0).abs() < 1e-6,
                "{}",
                m.notifications
            );
            assert!(m.cost_body_eur > 0.0 && m.cost_body_eur < m.paper_cost_body_eur);
        }
        let committed = if k >= 4 { 40_000.0 } else { 0.0 };
        assert_eq!(m.funding_committed_eur, committed);
        assert_eq!(m.budget_left_eur, 1_000_000.0 - committed);
    }
}

#[test]
fn small_bodies_upload_by_hand_and_bear_the_notification_cost() {
    // 60 a year over the 6 live months: 30 in all, under the 120 threshold.
    let small = run(&one_type(
        "annual_notifications = { kind = \"constant\", value = 60.0 }",
        SYNC,
        "",
    ));
    let big = run(&one_type(
        "annual_notifications = { kind = \"constant\", value = 6000.0 }",
        SYNC,
        "",
    ));
    let last = |p: &Projected| p.months.last().unwrap().clone();
    assert_eq!(last(&small).bodies_manual, 40);
    assert_eq!(last(&big).bodies_manual, 0);
    assert_eq!(last(&small).cost_citizen_eur, 0.0);
    assert!(last(&big).cost_citizen_eur > 0.0);
    // Per notification, the small bodies pay more: the citizens' share too.
    let per = |p: &Projected| last(p).cost_body_eur / last(p).notifications;
    assert!(per(&small) > per(&big), "{} vs {}", per(&small), per(&big));
}

#[test]
fn bodies_that_keep_fines_on_paper_send_only_their_other_acts() {
    let body = "annual_notifications = { kind = \"constant\", value = 12000.0 }";
    let all = run(&one_type(body, SYNC, ""));
    let mut keep = one_type(body, SYNC, "");
    keep.projection.as_mut().unwrap().bodies[0].leave_out_fines_share = 1.0;
    let keep = run(&keep);
    let m = |p: &Projected| p.months.last().unwrap().clone();
    assert!((m(&keep).notifications - m(&all).notifications / 2.0).abs() < 1e-6);
    assert!((m(&keep).fines_kept_on_paper - m(&all).notifications / 2.0).abs() < 1e-6);
}

#[test]
fn payments_before_the_final_cost_depend_on_the_cost_update_mode() {
    let body = "annual_notifications = { kind = \"constant\", value = 12000.0 }";
    let mode = |m: &str| {
        let p = run(&one_type(body, &SYNC.replace("SYNC", m), ""));
        let t = p.totals.clone();
        (t.payments_before_final_cost, t.payments)
    };
    let (sync, paid) = mode("SYNC");
    let (asynchronous, paid_async) = mode("ASYNC");
    let (none, _) = mode("NONE");
    assert_eq!(paid, paid_async, "the mode does not change who pays");
    // A payment stops further letters, so with SYNC the amount asked at payment time is
    // final; with ASYNC some pay before the cost has reached the debt position.
    assert!(asynchronous > 0.0, "some pay within a day of a cost change");
    assert!(
        sync <= asynchronous && asynchronous < none,
        "{sync} {asynchronous} {none}"
    );
    // NONE: every payment of a notification whose cost is charged (the car tax and
    // the fines here) lacks it.
    assert!(none > 0.9 * paid, "{none} of {paid}");
    let no_pay = run(&one_type(
        body,
        "name = \"none\"\npayment = false\nupload = true\ncost_update = \"NONE\"",
        "",
    ));
    assert_eq!(no_pay.totals.payments, 0.0);
}

#[test]
fn growing_digital_adoption_raises_the_digital_share() {
    let body = "annual_notifications = { kind = \"constant\", value = 12000.0 }";
    let flat = run(&one_type(body, SYNC, ""));
    let mut growing = one_type(body, SYNC, "");
    let p = growing.projection.as_mut().unwrap();
    p.adoption.io_send_enabled_share.ceiling = 0.9;
    p.adoption.io_send_enabled_share.midpoint = "2026-03".into();
    p.adoption.io_send_enabled_share.months = 1.5;
    let growing = run(&growing);
    let first = |p: &Projected| p.months[12].digital_share;
    let last = |p: &Projected| p.months[17].digital_share;
    assert!(last(&growing) > first(&growing) + 0.05);
    assert!(last(&growing) > last(&flat) + 0.05);
}

#[test]
fn a_projection_is_the_same_on_any_thread_count() {
    let s = Scenario::adoption(&["projection.sample_notifications=200".into()]).unwrap();
    let one = project(&s, 5, 1, &|_| {}).unwrap();
    let two = project(&s, 5, 2, &|_| {}).unwrap();
    assert_eq!(
        serde_json::to_string(&one).unwrap(),
        serde_json::to_string(&two).unwrap()
    );
    assert_eq!(one.bodies, 7904);
}

#[test]
fn bad_projection_tables_name_the_field() {
    let bad = |body: &str, case: &str| {
        let text = toml::to_string(&one_type(
            "annual_notifications = { kind = \"constant\", value = 1.0 }",
            SYNC,
            "",
        ))
        .unwrap();
        let text = text
            .replace("traffic_fine = 0.5", body)
            .replace("cost_update = \"SYNC\"", case);
        Scenario::from_toml_str(&text, "bad.toml")
            .unwrap_err()
            .to_string()
    };
    let e = bad("trafic_fine = 0.5", "cost_update = \"SYNC\"");
    assert!(
        e.contains("projection.bodies[0].acts.trafic_fine") && e.contains("unknown act"),
        "{e}"
    );
    let e = bad("traffic_fine = 0.5", "cost_update = \"SOMETIMES\"");
    assert!(e.contains("cost_update") && e.contains("SYNC"), "{e}");
}

#[test]
fn the_adoption_scenario_reproduces_the_public_2024_and_2025_figures() {
    let out = std::env::temp_dir().join(format!("sendsim-project-{}", std::process::id()));
    // 27 months (July 2023 to September 2025) of 270 notifications: 7,290 in all.
    let out_arg = out.display().to_string();
    let stdout = crate::support::sendsim_ok([
        "project", "--quiet", "--months", "27", "--sample", "270", "--out", &out_arg,
    ]);
    let p: Projected =
        serde_json::from_str(&std::fs::read_to_string(out.join("projection.json")).unwrap())
            .unwrap();
    assert_eq!(p.bodies, 7904);
    for (year, total, digital) in [(2024, 8_948_334.0, 0.177), (2025, 11_170_807.0, 0.235)] {
        let y = p.years.iter().find(|y| y.year == year).unwrap();
        let observed = y.observed_notifications.unwrap();
        assert!(
            (observed - total).abs() < 1.0,
            "the embedded series: {observed}"
        );
        let dev = y.simulated_in_observed_months / observed - 1.0;
        assert!(
            dev.abs() <= 0.10,
            "{year}: {} against {observed} ({dev:+.3})",
            y.simulated_in_observed_months
        );
        let d = y.digital_share_in_observed_months / y.observed_digital_share.unwrap() - 1.0;
        assert!(
            (y.observed_digital_share.unwrap() - digital).abs() < 0.001 && d.abs() <= 0.10,
            "{year}: digital {} against {} ({d:+.3})",
            y.digital_share_in_observed_months,
            y.observed_digital_share.unwrap()
        );
    }
    let csv = std::fs::read_to_string(out.join("projection.csv")).unwrap();
    assert_eq!(csv.lines().count(), 28);
    assert_eq!(csv.lines().next().unwrap(), sim::project::CSV_COLUMNS);
    for plot in [
        "projection_notifications",
        "projection_digital_share",
        "projection_costs",
        "projection_cash",
        "projection_programme",
    ] {
        assert!(
            out.join(format!("{plot}.png")).exists() && out.join(format!("{plot}.svg")).exists()
        );
    }
    assert!(stdout.contains("programme:"), "{stdout}");
    let _ = std::fs::remove_dir_all(&out);
}
