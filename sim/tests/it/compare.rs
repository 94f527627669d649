//! `sendsim compare`: common random numbers, paired differences, replications added
//! until precise enough, and the command's outputs.

use std::path::PathBuf;
use std::process::Command;

use sim::compare::{self, Precision, ScenarioRef};
use sim::report::kpi_reports;
use sim::run::RunOptions;
use sim::{Model, Scenario};

use crate::support::run;

fn shipped(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name)
}

fn refs(n: usize) -> Vec<ScenarioRef> {
    (0..n)
        .map(|i| ScenarioRef {
            name: format!("s{i}"),
            file: String::new(),
            hash: String::new(),
        })
        .collect()
}

fn opts(replications: u32, notifications: u64) -> RunOptions {
    RunOptions {
        seed: 7,
        replications,
        notifications,
        threads: 2,
    }
}

#[test]
fn a_scenario_against_itself_differs_by_exactly_nothing() {
    let models = [
        Model::new(Scenario::builtin_default()).unwrap(),
        Model::new(Scenario::builtin_default()).unwrap(),
    ];
    let runs = compare::simulate_all(&models, &opts(3, 1500), None, &|_| {});
    let c = compare::compare(refs(2), &runs, 7, 1500, None);
    for (name, k) in &c.kpis {
        let d = k.difference_from_first[1].unwrap();
        assert_eq!(d.mean, 0.0, "{name}");
        assert_eq!(d.half_width, Some(0.0), "{name}");
    }
    // Each scenario's figures are those `sendsim run` reports for the same seed.
    let alone = run(&models[0], 7, 3, 1500, 1);
    for (name, r) in kpi_reports(&alone) {
        assert_eq!(c.kpis[name].scenarios[0], r.send, "{name}");
    }
}

#[test]
fn common_random_numbers_make_paired_differences_precise() {
    let models = [
        Model::new(Scenario::builtin_default()).unwrap(),
        Model::new(Scenario::load(&shipped("io-doubled.toml")).unwrap()).unwrap(),
    ];
    let runs = compare::simulate_all(&models, &opts(4, 2000), None, &|_| {});
    let c = compare::compare(refs(2), &runs, 7, 2000, None);
    let digital = &c.kpis["digital_share"];
    let d = digital.difference_from_first[1].unwrap();
    let [lo, _] = d.ci95.unwrap();
    assert!(lo > 0.0, "doubling IO raises the digital share: {d:?}");
    // Paired, the difference is known far better than either side alone.
    let (a, b) = (digital.scenarios[0], digital.scenarios[1]);
    assert!(
        d.half_width.unwrap() < 0.5 * (a.half_width.unwrap() + b.half_width.unwrap()),
        "{d:?} vs {a:?} and {b:?}"
    );
}

#[test]
fn precision_adds_replications_up_to_the_cap_and_says_so() {
    let models = [
        Model::new(Scenario::builtin_default()).unwrap(),
        Model::new(Scenario::load(&shipped("io-doubled.toml")).unwrap()).unwrap(),
    ];
    let loose = Some(Precision {
        relative: 100.0,
        max_replications: 16,
    });
    let runs = compare::simulate_all(&models, &opts(1, 800), loose, &|_| {});
    let c = compare::compare(refs(2), &runs, 7, 800, loose);
    assert_eq!(
        c.replications, 2,
        "an interval needs two; a loose target is met at once"
    );
    assert!(c.precision.unwrap().reached);
    let strict = Some(Precision {
        relative: 1e-6,
        max_replications: 6,
    });
    let runs = compare::simulate_all(&models, &opts(2, 800), strict, &|_| {});
    let c = compare::compare(refs(2), &runs, 7, 800, strict);
    let p = c.precision.clone().unwrap();
    assert_eq!(c.replications, 6);
    assert!(!p.reached && p.worst_relative_half_width > 1e-6, "{p:?}");
    assert!(compare::text_table(&c).contains("NOT within"));
    // Replications added later are the ones a run with them from the start has.
    assert_eq!(runs[1], run(&models[1], 7, 6, 800, 1));
}

#[test]
fn the_command_writes_its_outputs_the_same_on_any_thread_count() {
    let mut outs = Vec::new();
    for threads in ["1", "2"] {
        let out =
            std::env::temp_dir().join(format!("sendsim-compare-{}-{threads}", std::process::id()));
        let r = Command::new(env!("CARGO_BIN_EXE_sendsim"))
            .arg("compare")
            .arg(shipped("default.toml"))
            .arg(shipped("traffic-fines.toml"))
            .args([
                "--notifications",
                "600",
                "--replications",
                "2",
                "--quiet",
                "--threads",
                threads,
            ])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let stdout = String::from_utf8_lossy(&r.stdout);
        assert!(
            stdout.contains("traffic-fines − default") || stdout.contains("− default"),
            "{stdout}"
        );
        for f in [
            "compare.csv",
            "cash_in_compare.png",
            "cash_in_compare.svg",
            "channel_mix_compare.png",
            "channel_mix_compare.svg",
        ] {
            assert!(out.join(f).exists(), "{f}");
        }
        outs.push(out);
    }
    let json = |o: &PathBuf| std::fs::read(o.join("compare.json")).unwrap();
    assert_eq!(json(&outs[0]), json(&outs[1]));
    let c: serde_json::Value = serde_json::from_slice(&json(&outs[0])).unwrap();
    assert_eq!(c["schema"], "sendsim-compare/1");
    assert_eq!(c["scenarios"].as_array().unwrap().len(), 2);
    assert!(c["kpis"]["paid_within_5d_share"]["difference_from_first"][1]["ci95"].is_array());
    for o in outs {
        std::fs::remove_dir_all(o).ok();
    }
    // One scenario is not a comparison.
    let one = Command::new(env!("CARGO_BIN_EXE_sendsim"))
        .arg("compare")
        .arg(shipped("default.toml"))
        .output()
        .unwrap();
    assert_eq!(one.status.code(), Some(2));
}
