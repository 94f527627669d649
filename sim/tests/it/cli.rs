//! The `sendsim` binary end to end.

use std::path::Path;
use std::process::Command;

fn sendsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sendsim"))
}

fn read(dir: &Path, f: &str) -> Vec<u8> {
    std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(f).display()))
}

#[test]
fn run_writes_every_output_and_is_identical_on_1_and_2_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let mut outs = Vec::new();
    for threads in ["1", "2"] {
        let out = tmp.path().join(threads);
        let status = sendsim()
            .args([
                "run",
                "--notifications",
                "6000",
                "--replications",
                "2",
                "--threads",
                threads,
                "--quiet",
                "--out",
            ])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        let stdout = String::from_utf8(status.stdout).unwrap();
        assert!(
            stdout.contains("digital_share") && stdout.contains("cash_anticipation_days"),
            "{stdout}"
        );
        outs.push(out);
    }
    for f in ["summary.json", "daily.csv"] {
        assert_eq!(
            read(&outs[0], f),
            read(&outs[1], f),
            "{f} differs between 1 and 2 threads"
        );
    }
    for f in [
        "run.json",
        "cash_in.png",
        "cash_in.svg",
        "time_to_payment.png",
        "time_to_payment.svg",
        "channel_mix.png",
        "channel_mix.svg",
        "cost_breakdown.png",
        "cost_breakdown.svg",
    ] {
        assert!(!read(&outs[0], f).is_empty(), "{f}");
    }
    let png = read(&outs[0], "cash_in.png");
    assert_eq!(&png[1..4], b"PNG");
    let summary: serde_json::Value =
        serde_json::from_slice(&read(&outs[0], "summary.json")).unwrap();
    for kpi in sim::tally::KPI_NAMES {
        let k = &summary["kpis"][kpi];
        for side in ["send", "baseline", "difference"] {
            assert!(k[side]["mean"].is_number(), "{kpi}.{side}");
            assert!(k[side]["ci95"].is_array(), "{kpi}.{side}");
        }
    }
    let run: serde_json::Value = serde_json::from_slice(&read(&outs[0], "run.json")).unwrap();
    assert_eq!(run["replications"], 2);
    assert!(run["recipients_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(run["scenario_hash"], summary["scenario_hash"]);
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&outs[0])
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn json_format_prints_the_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sendsim()
        .args([
            "run",
            "--notifications",
            "1000",
            "--replications",
            "1",
            "--no-plots",
            "-q",
            "--format",
            "json",
            "--out",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scenario"], "default");
}

#[test]
fn validate_reports_the_file_field_and_expectation() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[pec]\nworking_box_share = 1.5\n[recipients.zone_shares]\nAM = 0.9\n",
    )
    .unwrap();
    let out = sendsim().arg("validate").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("bad.toml: field `pec.working_box_share`: expected a probability between 0 and 1, got 1.5"), "{err}");
    assert!(err.contains("field `recipients.zone_shares`"), "{err}");

    let good =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/default.toml");
    let out = sendsim().arg("validate").arg(&good).output().unwrap();
    assert!(out.status.success());

    // `run` refuses the same file with the same message and writes nothing.
    let dir = tmp.path().join("out");
    let out = sendsim()
        .arg("run")
        .arg(&bad)
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("pec.working_box_share")
    );
    assert!(!dir.exists());
}

#[test]
fn missing_file_is_named() {
    let out = sendsim()
        .args(["validate", "no/such/file.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("no/such/file.toml")
    );
}

#[test]
fn show_prints_a_scenario_that_loads_back() {
    let out = sendsim().arg("show").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let s = sim::Scenario::from_toml_str(&text, "shown").unwrap();
    assert_eq!(s, sim::Scenario::builtin_default());
}

#[test]
fn set_overrides_reach_the_run_and_are_recorded() {
    let out = std::env::temp_dir().join(format!("sendsim-set-{}", std::process::id()));
    let status = sendsim()
        .args([
            "run",
            "--notifications",
            "300",
            "--replications",
            "1",
            "--quiet",
            "--no-plots",
        ])
        .args([
            "--set",
            "name=overridden",
            "--set",
            "arrivals.window_days=3",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["scenario"], "overridden");
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["overrides"][1], "arrivals.window_days=3");
    // Three days of arrivals: nobody is sent anything after day 3.
    let daily = std::fs::read_to_string(out.join("daily.csv")).unwrap();
    let late: f64 = daily
        .lines()
        .skip(4)
        .map(|l| l.split(',').nth(2).unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(late, 0.0, "{daily}");
    let bad = sendsim()
        .args(["show", "--set", "arrivals.window_days=0"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("arrivals.window_days") && err.contains("--set"),
        "{err}"
    );
    std::fs::remove_dir_all(out).ok();
}
