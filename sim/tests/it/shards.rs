//! `sendsim run --shard` and `sendsim merge`: the shards of a run add up to its outputs,
//! byte for byte.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sendsim(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sendsim"));
    c.args(args)
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sendsim-shards-{}-{name}", std::process::id()))
}

fn same(a: &Path, b: &Path, files: &[&str]) {
    for f in files {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs"
        );
    }
}

#[test]
fn one_replication_split_three_ways_merges_into_the_unsharded_run() {
    let (whole, shards, merged) = (dir("whole"), dir("parts"), dir("merged"));
    let common = [
        "run",
        "--notifications",
        "5000",
        "--replications",
        "1",
        "-q",
    ];
    let s = |p: &PathBuf| p.to_str().unwrap().to_string();
    ok(sendsim(
        &[&common[..], &["--out", &s(&whole)]].concat(),
        &[],
    ));
    for i in 0..3 {
        let shard = format!("{i}/3");
        ok(sendsim(
            &[&common[..], &["--out", &s(&shards), "--shard", &shard]].concat(),
            &[],
        ));
    }
    // A shard writes only its tallies.
    assert!(!shards.join("summary.json").exists());
    let m = ok(sendsim(&["merge", &s(&shards), "--out", &s(&merged)], &[]));
    assert!(String::from_utf8_lossy(&m.stdout).contains("merged 3 shards (notifications split)"));
    same(
        &whole,
        &merged,
        &[
            "summary.json",
            "daily.csv",
            "cash_in.svg",
            "channel_mix.svg",
            "cost_breakdown.svg",
            "time_to_payment.png",
        ],
    );
    // A missing shard is named.
    std::fs::remove_file(shards.join("shard-1-of-3.json")).unwrap();
    let bad = sendsim(&["merge", &s(&shards), "--out", &s(&merged)], &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("shard 1 of 3 is missing"));
    for d in [whole, shards, merged] {
        std::fs::remove_dir_all(d).ok();
    }
}

#[test]
fn replications_split_by_the_job_index_and_capacity_refuses_a_notification_split() {
    let (whole, shards, merged) = (dir("rwhole"), dir("rparts"), dir("rmerged"));
    let s = |p: &PathBuf| p.to_str().unwrap().to_string();
    let common = [
        "run",
        "--notifications",
        "1500",
        "--replications",
        "3",
        "-q",
        "--no-plots",
    ];
    ok(sendsim(
        &[&common[..], &["--out", &s(&whole)]].concat(),
        &[],
    ));
    for i in ["0", "1"] {
        ok(sendsim(
            &[&common[..], &["--out", &s(&shards)]].concat(),
            &[("JOB_COMPLETION_INDEX", i), ("SENDSIM_SHARDS", "2")],
        ));
    }
    ok(sendsim(
        &["merge", &s(&shards), "--out", &s(&merged), "--no-plots"],
        &[],
    ));
    same(&whole, &merged, &["summary.json", "daily.csv"]);
    // With postal capacity on, a replication runs in time order as a whole.
    let bad = sendsim(
        &[
            "run",
            "--notifications",
            "1000",
            "--replications",
            "1",
            "-q",
            "--set",
            "postal_capacity.enabled=true",
            "--shard",
            "0/2",
            "--out",
            &s(&shards),
        ],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("postal capacity") && err.contains("at most 1 shards"),
        "{err}"
    );
    let bad = sendsim(&["run", "--shard", "2/2"], &[]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("0 <= I < N"));
    for d in [whole, shards, merged] {
        std::fs::remove_dir_all(d).ok();
    }
}
