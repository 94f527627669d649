//! The digital share follows from recipients' attributes and behaviour.

use sim::report::kpi_reports;

use crate::support::*;

fn digital_share(overrides: &str, notifications: u64, replications: u32) -> (f64, f64) {
    let m = model(overrides);
    let tallies = run(&m, 2025, replications, notifications, 2);
    let k = kpi_reports(&tallies);
    let d = &k
        .iter()
        .find(|(n, _)| *n == "digital_share")
        .unwrap()
        .1
        .send;
    (d.mean, d.half_width.unwrap_or(0.0))
}

#[test]
fn default_digital_share_is_within_two_points_of_2025() {
    let (share, hw) = digital_share("", 40_000, 3);
    assert!(
        (share - 0.235).abs() < 0.02,
        "digital share {share:.4} ± {hw:.4}, public 2025 figure 0.235"
    );
}

#[test]
fn doubling_io_adoption_raises_and_halving_pec_domiciles_lowers_the_digital_share() {
    let (base, _) = digital_share("", 20_000, 1);
    let (io2, _) = digital_share(
        "[recipients.citizen]\nio_send_enabled_share = 0.34",
        20_000,
        1,
    );
    let (pec_half, _) = digital_share(
        "[recipients.citizen]\nplatform_domicile_share = 0.01\nspecial_domicile_share = 0.005\ngeneral_domicile_share = 0.02\n\
         [recipients.company]\nplatform_domicile_share = 0.015\nspecial_domicile_share = 0.05\ngeneral_domicile_share = 0.35",
        20_000,
        1,
    );
    assert!(io2 > base + 0.02, "IO x2: {io2:.4} vs {base:.4}");
    assert!(pec_half < base - 0.02, "PEC /2: {pec_half:.4} vs {base:.4}");
}
