//! `sendsim sensitivity`: each parameter with a stated range (`[ranges]` in the
//! scenario) moved to its low and its high end, one at a time, the rest as in the
//! scenario; every run with the same seed (common random numbers). Parameters are then
//! ranked by how far they swing a KPI.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::report::{KpiReport, fmt_value};
use crate::stats::Estimate;

/// A value as a TOML literal: whole numbers as integers (accepted by integer and
/// decimal fields alike).
pub fn literal(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Swing {
    pub parameter: String,
    pub low: f64,
    pub high: f64,
    pub at_low: Estimate,
    pub at_high: Estimate,
}

impl Swing {
    /// The KPI at the high end minus at the low end.
    pub fn width(&self) -> f64 {
        self.at_high.mean - self.at_low.mean
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KpiSensitivity {
    pub unit: String,
    pub base: Estimate,
    /// Widest swing first.
    pub swings: Vec<Swing>,
}

fn find<'a>(report: &'a [(&'static str, KpiReport)], kpi: &str) -> &'a KpiReport {
    &report.iter().find(|(n, _)| *n == kpi).expect("a KPI").1
}

/// `reports` holds the base run, then for each range its low and its high run.
pub fn analyse(
    kpis: &[&str],
    ranges: &[(String, f64, f64)],
    reports: &[Vec<(&'static str, KpiReport)>],
) -> IndexMap<String, KpiSensitivity> {
    kpis.iter()
        .map(|kpi| {
            let base = find(&reports[0], kpi);
            let mut swings: Vec<Swing> = ranges
                .iter()
                .enumerate()
                .map(|(i, (path, lo, hi))| Swing {
                    parameter: path.clone(),
                    low: *lo,
                    high: *hi,
                    at_low: find(&reports[1 + 2 * i], kpi).send,
                    at_high: find(&reports[2 + 2 * i], kpi).send,
                })
                .collect();
            // Widest first; equal widths by name, so the order never depends on chance.
            swings.sort_by(|a, b| {
                b.width()
                    .abs()
                    .total_cmp(&a.width().abs())
                    .then_with(|| a.parameter.cmp(&b.parameter))
            });
            (
                kpi.to_string(),
                KpiSensitivity {
                    unit: base.unit.clone(),
                    base: base.send,
                    swings,
                },
            )
        })
        .collect()
}

pub fn text_table(results: &IndexMap<String, KpiSensitivity>) -> String {
    let mut out = String::new();
    for (kpi, s) in results {
        out.push_str(&format!(
            "{kpi} (SEND) at the scenario's values: {}\n",
            fmt_value(&s.unit, s.base.mean, false)
        ));
        out.push_str(&format!(
            "  {:<44} {:>22} {:>12} {:>12} {:>12}\n",
            "parameter", "range", "at low", "at high", "swing"
        ));
        for w in &s.swings {
            out.push_str(&format!(
                "  {:<44} {:>22} {:>12} {:>12} {:>12}\n",
                w.parameter,
                format!("{} – {}", literal(w.low), literal(w.high)),
                fmt_value(&s.unit, w.at_low.mean, false),
                fmt_value(&s.unit, w.at_high.mean, false),
                fmt_value(&s.unit, w.width(), true)
            ));
        }
        out.push('\n');
    }
    out
}

/// `sensitivity.csv`: a row per KPI and parameter.
pub fn csv(results: &IndexMap<String, KpiSensitivity>) -> String {
    let mut out =
        String::from("kpi,unit,parameter,low,high,kpi_at_low,kpi_at_base,kpi_at_high,swing\n");
    for (kpi, s) in results {
        for w in &s.swings {
            out.push_str(&format!(
                "{kpi},{},{},{},{},{},{},{},{}\n",
                s.unit,
                w.parameter,
                literal(w.low),
                literal(w.high),
                w.at_low.mean,
                s.base.mean,
                w.at_high.mean,
                w.width()
            ));
        }
    }
    out
}
