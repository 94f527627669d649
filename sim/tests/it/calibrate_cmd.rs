//! `sendsim calibrate`: the shipped seed-headlines scenario is refitted with a small
//! budget, and the fit meets every target within the tolerance the file states.

use std::path::Path;
use std::process::Command;

use sim::Scenario;

/// Targets, free parameters and tolerance as the calibrated file's header states them.
struct Header {
    targets: Vec<String>,
    free: Vec<String>,
    tolerance: f64,
}

fn header(text: &str) -> Header {
    let (mut targets, mut free, mut tolerance) = (Vec::new(), Vec::new(), None);
    let mut section = "";
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let body = line.trim_start_matches('#').trim();
        if body.starts_with("targets") {
            section = "targets";
        } else if body.starts_with("fitted parameters") {
            section = "free";
        } else if let Some(rest) = body.strip_prefix("tolerance: every residual within ") {
            let pct: f64 = rest.split('%').next().unwrap().parse().unwrap();
            tolerance = Some(pct / 100.0);
            section = "";
        } else if section == "targets" {
            let (kpi, rest) = body.split_once(" = ").unwrap();
            targets.push(format!("{kpi}={}", rest.split(" -> ").next().unwrap()));
        } else if section == "free" {
            let (path, rest) = body.split_once(" in [").unwrap();
            let (lo, rest) = rest.split_once(", ").unwrap();
            let hi = rest.split(']').next().unwrap();
            free.push(format!("{path}={lo}:{hi}"));
        }
    }
    Header {
        targets,
        free,
        tolerance: tolerance.expect("the file states its tolerance"),
    }
}

#[test]
fn the_seed_headlines_calibration_is_reproduced_within_its_stated_tolerance() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/seed-headlines.toml");
    let text = std::fs::read_to_string(&shipped).unwrap();
    let h = header(&text);
    // The seed presentation's observations and the public 2025 digital share.
    assert_eq!(
        h.targets,
        [
            "digital_share=0.235",
            "paid_within_5d_share=0.5",
            "cash_anticipation_days=60",
            "cost_citizen_cents_per_notification.change=-0.3",
        ]
    );
    assert_eq!(h.free.len(), 4);
    assert!(h.tolerance <= 0.02, "{}", h.tolerance);
    let s = Scenario::load(&shipped).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.name, "seed-headlines");

    let out = std::env::temp_dir().join(format!("sendsim-calibrate-{}", std::process::id()));
    let mut args: Vec<String> = ["calibrate", "--quiet", "--no-plots"]
        .map(String::from)
        .to_vec();
    for t in &h.targets {
        args.extend(["--target".to_string(), t.clone()]);
    }
    for f in &h.free {
        args.extend(["--free".to_string(), f.clone()]);
    }
    args.extend(
        [
            "--tolerance",
            &h.tolerance.to_string(),
            "--notifications",
            "10000",
            "--replications",
            "2",
            "--iterations",
            "40",
            "--out",
        ]
        .map(String::from),
    );
    args.push(out.display().to_string());
    let stdout = crate::support::sendsim_ok(&args);
    assert!(stdout.contains("every target met"), "{stdout}");
    let c: sim::calibrate::Calibration =
        serde_json::from_str(&std::fs::read_to_string(out.join("calibration.json")).unwrap())
            .unwrap();
    assert!(c.within_tolerance);
    for (t, r) in c.targets.iter().zip(&c.best.relative_residuals) {
        assert!(r.abs() <= h.tolerance, "{}: residual {r}", t.label());
    }
    assert!(
        c.evaluations >= 5,
        "a real search: {} simulations",
        c.evaluations
    );
    // The calibrated file names its fit and, laid over the default, is a valid scenario
    // that gives back the fitted KPIs.
    let calibrated = std::fs::read_to_string(out.join("calibrated.toml")).unwrap();
    let again = header(&calibrated);
    assert_eq!(again.targets.len(), 4);
    let fitted = Scenario::load(&out.join("calibrated.toml")).unwrap();
    let model = sim::Model::new(fitted).unwrap();
    let tallies = crate::support::run(&model, c.seed, 2, 10_000, 2);
    let reports = sim::report::kpi_reports(&tallies);
    for (t, wanted) in c.targets.iter().zip(&c.best.observed) {
        let got = t.observe(&reports);
        // The file's values are rounded to 6 significant digits.
        assert!(
            (got - wanted).abs() <= 0.002 * wanted.abs().max(1.0),
            "{}: {got} vs {wanted}",
            t.label()
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn bad_targets_and_free_parameters_are_named() {
    let run = |args: &[&str]| {
        let r = Command::new(env!("CARGO_BIN_EXE_sendsim"))
            .arg("calibrate")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(r.status.code(), Some(2));
        String::from_utf8_lossy(&r.stderr).to_string()
    };
    let e = run(&["--target", "digital=0.2", "--free", "pec.working_box_share"]);
    assert!(e.contains("unknown KPI \"digital\""), "{e}");
    let e = run(&["--target", "digital_share=0.2", "--free", "pec.nothing=0:1"]);
    assert!(e.contains("pec.nothing"), "{e}");
    let e = run(&[
        "--target",
        "digital_share=0.2",
        "--free",
        "arrivals.window_days",
    ]);
    assert!(e.contains("[ranges]"), "{e}");
    // An end of the range the scenario refuses is found before anything runs.
    let e = run(&[
        "--target",
        "digital_share=0.2",
        "--free",
        "pec.working_box_share=0.5:1.5",
    ]);
    assert!(e.contains("working_box_share") && e.contains("1.5"), "{e}");
}
