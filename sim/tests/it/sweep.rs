//! `sendsim sweep`: grids and Latin hypercubes of parameters, the same on any thread
//! count, every point checked before anything runs.

use std::path::PathBuf;
use std::process::{Command, Output};

fn sweep(args: &[&str], out: &PathBuf) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sendsim"))
        .arg("sweep")
        .args(args)
        .args([
            "--notifications",
            "800",
            "--replications",
            "2",
            "--quiet",
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sendsim-sweep-{}-{name}", std::process::id()))
}

#[test]
fn a_grid_sweep_is_the_same_on_any_thread_count_and_moves_its_kpis() {
    let mut csvs = Vec::new();
    for threads in ["1", "3"] {
        let out = scratch(threads);
        let r = sweep(
            &[
                "--vary",
                "recipients.citizen.io_send_enabled_share=0.1:0.5:0.2",
                "--threads",
                threads,
            ],
            &out,
        );
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        for kpi in ["digital_share", "cash_anticipation_days"] {
            assert!(out.join(format!("sweep_{kpi}.png")).exists());
            assert!(out.join(format!("sweep_{kpi}.svg")).exists());
        }
        csvs.push(std::fs::read_to_string(out.join("sweep.csv")).unwrap());
        std::fs::remove_dir_all(out).ok();
    }
    assert_eq!(csvs[0], csvs[1]);
    let rows: Vec<Vec<&str>> = csvs[0].lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0][1], "recipients.citizen.io_send_enabled_share");
    assert_eq!(rows.len(), 4, "0.1, 0.3, 0.5");
    assert_eq!((rows[1][1], rows[3][1]), ("0.1", "0.5"));
    let col = rows[0].iter().position(|c| *c == "digital_share").unwrap();
    let digital: Vec<f64> = rows[1..].iter().map(|r| r[col].parse().unwrap()).collect();
    assert!(
        digital[0] < digital[1] && digital[1] < digital[2],
        "more IO, more digital: {digital:?}"
    );
}

#[test]
fn latin_hypercubes_and_bad_points() {
    let out = scratch("lhs");
    let r = sweep(
        &[
            "--vary",
            "recipients.citizen.io_send_enabled_share=0.0:0.6",
            "--vary",
            "arrivals.window_days=5:30",
            "--vary",
            "pec.working_box_share=0.5:0.9",
            "--lhs",
            "5",
        ],
        &out,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 6, "{csv}");
    // The window is whole days.
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| !l.split(',').nth(2).unwrap().contains('.')),
        "{csv}"
    );
    std::fs::remove_dir_all(&out).ok();
    // A point outside a parameter's allowed range is refused before anything runs,
    // naming the point, the field and what is allowed.
    let r = sweep(&["--vary", "pec.working_box_share=0.5:1.5:0.5"], &out);
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("sweep point 2")
            && err.contains("pec.working_box_share")
            && err.contains("probability"),
        "{err}"
    );
    assert!(!out.join("sweep.csv").exists());
    let r = sweep(
        &[
            "--vary", "a=1:2:1", "--vary", "b=1:2:1", "--vary", "c=1:2:1",
        ],
        &out,
    );
    assert!(String::from_utf8_lossy(&r.stderr).contains("--lhs"));
}
