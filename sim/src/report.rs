//! The outputs of `sendsim run` (`design.md`, "The simulator's outputs"): the summary
//! with every KPI for SEND, the baseline and their paired difference, the daily
//! series, the run record, and the terminal table. Files are written atomically.

use std::io::Write;
use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::model::outcome::FinalState;
use crate::stats::{Estimate, estimate};
use crate::tally::{KPI_NAMES, Tally, kpis, weighted_payment_day};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KpiReport {
    pub unit: String,
    pub send: Estimate,
    pub baseline: Estimate,
    pub difference: Estimate,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Counts {
    pub notifications: u64,
    pub recipients: u64,
    pub payments_send: u64,
    pub payments_baseline: u64,
    /// SEND letters posted before the horizon that waited for a carrier's weekly
    /// capacity, and their mean wait in days (0 with capacity off).
    pub letters_waited_for_capacity: u64,
    pub mean_capacity_wait_days: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub scenario: String,
    pub scenario_hash: String,
    pub seed: u64,
    pub replications: u32,
    pub notifications_per_replication: u64,
    pub horizon_days: u32,
    /// Totals over all replications.
    pub counts: Counts,
    pub kpis: IndexMap<String, KpiReport>,
    /// Mean recipients per replication in each final state at the horizon.
    pub final_states: serde_json::Map<String, serde_json::Value>,
}

pub fn kpi_unit(name: &str) -> &'static str {
    if name.ends_with("_share") {
        "share"
    } else if name.ends_with("_cents_per_notification") {
        "cents"
    } else {
        "days"
    }
}

/// Per-replication KPI values: (SEND, baseline, difference) for each KPI.
pub fn replication_kpis(t: &Tally) -> ([f64; 15], [f64; 15]) {
    let anticipation = weighted_payment_day(&t.baseline) - weighted_payment_day(&t.send);
    (
        kpis(&t.send, t.notifications, anticipation),
        kpis(&t.baseline, t.notifications, 0.0),
    )
}

/// KPI estimates in `KPI_NAMES` order.
pub fn kpi_reports(tallies: &[Tally]) -> Vec<(&'static str, KpiReport)> {
    let per_rep: Vec<_> = tallies.iter().map(replication_kpis).collect();
    KPI_NAMES
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let send: Vec<f64> = per_rep.iter().map(|r| r.0[k]).collect();
            let base: Vec<f64> = per_rep.iter().map(|r| r.1[k]).collect();
            let diff: Vec<f64> = send.iter().zip(&base).map(|(s, b)| s - b).collect();
            (
                *name,
                KpiReport {
                    unit: kpi_unit(name).to_string(),
                    send: estimate(&send),
                    baseline: estimate(&base),
                    difference: estimate(&diff),
                },
            )
        })
        .collect()
}

pub fn summary(
    scenario: &str,
    scenario_hash: &str,
    seed: u64,
    notifications: u64,
    horizon_days: u32,
    tallies: &[Tally],
) -> Summary {
    let kpi_map = kpi_reports(tallies)
        .into_iter()
        .map(|(name, r)| (name.to_string(), r))
        .collect();
    let reps = tallies.len().max(1) as f64;
    let waited: u64 = tallies.iter().map(|t| t.send.letters_waited).sum();
    let mut states = serde_json::Map::new();
    for (side, pick) in [("send", 0), ("baseline", 1)] {
        let mut m = serde_json::Map::new();
        for f in FinalState::ALL {
            let total: u64 = tallies
                .iter()
                .map(|t| if pick == 0 { &t.send } else { &t.baseline })
                .map(|s| s.final_states[f as usize])
                .sum();
            m.insert(f.name().into(), serde_json::json!(total as f64 / reps));
        }
        states.insert(side.into(), serde_json::Value::Object(m));
    }
    Summary {
        scenario: scenario.to_string(),
        scenario_hash: scenario_hash.to_string(),
        seed,
        replications: tallies.len() as u32,
        notifications_per_replication: notifications,
        horizon_days,
        counts: Counts {
            notifications: tallies.iter().map(|t| t.notifications).sum(),
            recipients: tallies.iter().map(|t| t.send.recipients).sum(),
            payments_send: tallies.iter().map(|t| t.send.paid).sum(),
            payments_baseline: tallies.iter().map(|t| t.baseline.paid).sum(),
            letters_waited_for_capacity: waited,
            mean_capacity_wait_days: if waited > 0 {
                tallies
                    .iter()
                    .map(|t| t.send.letter_wait_seconds as f64)
                    .sum::<f64>()
                    / waited as f64
                    / 86_400.0
            } else {
                0.0
            },
        },
        kpis: kpi_map,
        final_states: states,
    }
}

/// Column names of `daily.csv`.
pub const DAILY_COLUMNS: &str = "day,date,notifications,courtesy_io,courtesy_email,courtesy_sms,pec_sends,letters_ar,letters_890,letters_rs,letters_rir,letters_ris,views,refinements,payments,cash_in_cents,body_cost_cents,baseline_letters,baseline_payments,baseline_cash_in_cents,baseline_body_cost_cents";

/// `daily.csv`: per day, means across replications.
pub fn daily_csv(tallies: &[Tally], dates: &[String]) -> String {
    let reps = tallies.len().max(1) as f64;
    let mut out = String::from(DAILY_COLUMNS);
    out.push('\n');
    let days = tallies.first().map_or(0, |t| t.daily.len());
    for d in 0..days {
        let mut sums = [0f64; 19];
        for t in tallies {
            let r = &t.daily[d];
            let vals = [
                r.notifications as f64,
                r.courtesy[0] as f64,
                r.courtesy[1] as f64,
                r.courtesy[2] as f64,
                r.pec_sends as f64,
                r.letters[0] as f64,
                r.letters[1] as f64,
                r.letters[2] as f64,
                r.letters[3] as f64,
                r.letters[4] as f64,
                r.views as f64,
                r.refinements as f64,
                r.payments as f64,
                r.cash_in_cents as f64,
                r.body_cost_cents as f64,
                r.baseline_letters as f64,
                r.baseline_payments as f64,
                r.baseline_cash_in_cents as f64,
                r.baseline_body_cost_cents as f64,
            ];
            for (s, v) in sums.iter_mut().zip(vals) {
                *s += v;
            }
        }
        out.push_str(&format!("{d},{}", dates.get(d).map_or("", |s| s.as_str())));
        for s in sums {
            let mean = s / reps;
            if mean.fract() == 0.0 {
                out.push_str(&format!(",{}", mean as i64));
            } else {
                out.push_str(&format!(",{mean:.2}"));
            }
        }
        out.push('\n');
    }
    out
}

/// Writes a file so that readers see either the old content or the whole new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    // Results are meant to be shared: readable by all, like any file the user creates.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

pub fn fmt_value(unit: &str, v: f64, signed: bool) -> String {
    let sign = if signed && v > 0.0 { "+" } else { "" };
    match unit {
        "share" => format!("{sign}{:.1}%", v * 100.0),
        "cents" => format!("{sign}€{:.2}", v / 100.0),
        _ => format!("{sign}{v:.1} d"),
    }
}

pub fn fmt_interval(unit: &str, e: &Estimate) -> String {
    match e.ci95 {
        Some([lo, hi]) => format!(
            "[{}, {}]",
            fmt_value(unit, lo, false),
            fmt_value(unit, hi, false)
        ),
        None => String::new(),
    }
}

/// The terminal table: each KPI for SEND and the baseline, and the paired difference.
pub fn text_table(s: &Summary) -> String {
    let mut out = format!(
        "scenario {} · seed {} · {} replication(s) × {} notifications · horizon {} days\n\n",
        s.scenario, s.seed, s.replications, s.notifications_per_replication, s.horizon_days
    );
    out.push_str(&format!(
        "{:<40} {:>12} {:>12} {:>12}  {}\n",
        "KPI", "SEND", "paper", "difference", "95% CI of the difference"
    ));
    for (name, r) in &s.kpis {
        out.push_str(&format!(
            "{:<40} {:>12} {:>12} {:>12}  {}\n",
            name,
            fmt_value(&r.unit, r.send.mean, false),
            fmt_value(&r.unit, r.baseline.mean, false),
            fmt_value(&r.unit, r.difference.mean, true),
            fmt_interval(&r.unit, &r.difference)
        ));
    }
    out
}
