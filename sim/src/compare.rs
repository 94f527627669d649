//! `sendsim compare`: several scenarios run with the same seed, so that replication r of
//! each draws the same random numbers (common random numbers) and their KPIs differ
//! only by what the scenarios change. Each KPI is reported per scenario with its 95%
//! interval, and as the paired difference from the first scenario with its interval.
//! Replications are a number, or added (doubling) until the headline KPIs are precise
//! enough, up to a cap.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::model::Model;
use crate::report::{fmt_interval, fmt_value, kpi_unit, replication_kpis};
use crate::run::{RunOptions, simulate_replications};
use crate::stats::{Estimate, estimate};
use crate::tally::{KPI_NAMES, Tally};

/// The KPIs `--precision` watches: the seed presentation's headline figures.
pub const HEADLINE_KPIS: [&str; 5] = [
    "digital_share",
    "paid_within_5d_share",
    "cost_body_cents_per_notification",
    "cost_citizen_cents_per_notification",
    "cash_anticipation_days",
];

/// Replications are added until every headline KPI's 95% half-width is under
/// `relative` × |mean| in every scenario, or `max_replications` is reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Precision {
    pub relative: f64,
    pub max_replications: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScenarioRef {
    pub name: String,
    pub file: String,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KpiComparison {
    pub unit: String,
    /// The SEND side of each scenario, in the order given.
    pub scenarios: Vec<Estimate>,
    /// Each scenario minus the first, paired replication by replication (the first's
    /// own entry is null).
    pub difference_from_first: Vec<Option<Estimate>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PrecisionReport {
    pub target_relative_half_width: f64,
    pub max_replications: u32,
    pub reached: bool,
    /// The least precise headline KPI at the end.
    pub worst_kpi: String,
    pub worst_scenario: String,
    pub worst_relative_half_width: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Comparison {
    pub schema: String,
    pub seed: u64,
    pub replications: u32,
    pub notifications_per_replication: u64,
    pub scenarios: Vec<ScenarioRef>,
    pub precision: Option<PrecisionReport>,
    pub kpis: IndexMap<String, KpiComparison>,
}

/// Each scenario's replications, the same count for all.
pub fn simulate_all(
    models: &[Model],
    opts: &RunOptions,
    precision: Option<Precision>,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<Vec<Tally>> {
    let first = if precision.is_some() {
        // An interval needs at least two.
        opts.replications.max(2)
    } else {
        opts.replications.max(1)
    };
    let mut runs: Vec<Vec<Tally>> = models
        .iter()
        .map(|m| simulate_replications(m, opts, 0..first, progress))
        .collect();
    if let Some(p) = precision {
        let mut have = first;
        while have < p.max_replications && worst(&runs).2 > p.relative {
            let next = (have * 2).min(p.max_replications);
            for (m, tallies) in models.iter().zip(&mut runs) {
                tallies.extend(simulate_replications(m, opts, have..next, progress));
            }
            have = next;
        }
    }
    runs
}

/// The least precise headline KPI over all scenarios: (KPI, scenario index, relative
/// half-width). A KPI whose mean is 0 (nothing to be relative to) is skipped.
fn worst(runs: &[Vec<Tally>]) -> (&'static str, usize, f64) {
    let mut out = ("", 0, 0.0);
    for (s, tallies) in runs.iter().enumerate() {
        let per_rep: Vec<_> = tallies.iter().map(replication_kpis).collect();
        for name in HEADLINE_KPIS {
            let k = KPI_NAMES.iter().position(|n| *n == name).expect("a KPI");
            let e = estimate(&per_rep.iter().map(|r| r.0[k]).collect::<Vec<_>>());
            let relative = match e.half_width {
                Some(hw) if e.mean != 0.0 => hw / e.mean.abs(),
                Some(_) => continue,
                None => f64::INFINITY,
            };
            if relative > out.2 || out.0.is_empty() {
                out = (name, s, relative);
            }
        }
    }
    out
}

pub fn compare(
    scenarios: Vec<ScenarioRef>,
    runs: &[Vec<Tally>],
    seed: u64,
    notifications: u64,
    precision: Option<Precision>,
) -> Comparison {
    let per_rep: Vec<Vec<_>> = runs
        .iter()
        .map(|t| t.iter().map(replication_kpis).collect())
        .collect();
    let kpis = KPI_NAMES
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let series: Vec<Vec<f64>> = per_rep
                .iter()
                .map(|reps| reps.iter().map(|r| r.0[k]).collect())
                .collect();
            let differences = series
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    (i > 0).then(|| {
                        let d: Vec<f64> = s.iter().zip(&series[0]).map(|(b, a)| b - a).collect();
                        estimate(&d)
                    })
                })
                .collect();
            (
                name.to_string(),
                KpiComparison {
                    unit: kpi_unit(name).to_string(),
                    scenarios: series.iter().map(|s| estimate(s)).collect(),
                    difference_from_first: differences,
                },
            )
        })
        .collect();
    let precision = precision.map(|p| {
        let (kpi, s, relative) = worst(runs);
        PrecisionReport {
            target_relative_half_width: p.relative,
            max_replications: p.max_replications,
            reached: relative <= p.relative,
            worst_kpi: kpi.to_string(),
            worst_scenario: scenarios[s].name.clone(),
            worst_relative_half_width: relative,
        }
    });
    Comparison {
        schema: "sendsim-compare/1".into(),
        seed,
        replications: runs.first().map_or(0, |r| r.len() as u32),
        notifications_per_replication: notifications,
        scenarios,
        precision,
        kpis,
    }
}

/// The terminal table: each scenario's mean, then each one's difference from the first
/// with its 95% interval.
pub fn text_table(c: &Comparison) -> String {
    let names: Vec<&str> = c.scenarios.iter().map(|s| s.name.as_str()).collect();
    let mut out = format!(
        "{} · seed {} · {} replication(s) × {} notifications · common random numbers\n",
        names.join(" vs "),
        c.seed,
        c.replications,
        c.notifications_per_replication
    );
    if let Some(p) = &c.precision {
        out.push_str(&format!(
            "precision: headline KPIs' 95% half-width {} {:.2}% of their mean (worst: {} in {}, {:.2}%){}\n",
            if p.reached { "within" } else { "NOT within" },
            p.target_relative_half_width * 100.0,
            p.worst_kpi,
            p.worst_scenario,
            p.worst_relative_half_width * 100.0,
            if p.reached {
                String::new()
            } else {
                format!(" after the cap of {} replications", p.max_replications)
            }
        ));
    }
    out.push('\n');
    out.push_str(&format!("{:<38}", "KPI (SEND side)"));
    for n in &names {
        out.push_str(&format!(" {:>14}", truncate(n, 14)));
    }
    for n in &names[1..] {
        out.push_str(&format!(
            "  {:<36}",
            format!("{} − {}", truncate(n, 14), truncate(names[0], 14))
        ));
    }
    out.push('\n');
    for (name, k) in &c.kpis {
        out.push_str(&format!("{name:<38}"));
        for e in &k.scenarios {
            out.push_str(&format!(" {:>14}", fmt_value(&k.unit, e.mean, false)));
        }
        for d in k.difference_from_first.iter().flatten() {
            out.push_str(&format!(
                "  {:<36}",
                format!(
                    "{} {}",
                    fmt_value(&k.unit, d.mean, true),
                    fmt_interval(&k.unit, d)
                )
            ));
        }
        out.push('\n');
    }
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// `compare.csv`: one row per KPI and scenario.
pub fn csv(c: &Comparison) -> String {
    let mut out = String::from(
        "kpi,unit,scenario,mean,ci95_low,ci95_high,difference_from_first,difference_ci95_low,difference_ci95_high\n",
    );
    let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    for (name, k) in &c.kpis {
        for (i, e) in k.scenarios.iter().enumerate() {
            let d = k.difference_from_first[i];
            out.push_str(&format!(
                "{name},{},{},{},{},{},{},{},{}\n",
                k.unit,
                c.scenarios[i].name,
                e.mean,
                num(e.ci95.map(|c| c[0])),
                num(e.ci95.map(|c| c[1])),
                num(d.map(|d| d.mean)),
                num(d.and_then(|d| d.ci95).map(|c| c[0])),
                num(d.and_then(|d| d.ci95).map(|c| c[1])),
            ));
        }
    }
    out
}
