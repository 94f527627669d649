//! `sendsim calibrate`: free parameters of a scenario fitted, within their ranges, so
//! that the simulated KPIs meet targets. The optimiser is argmin's Nelder–Mead over the
//! unit cube of the free parameters' ranges; every evaluation is a full simulation with
//! the same seed (common random numbers), so the objective is a deterministic function
//! of the parameters and the fit is reproducible.

use std::sync::Mutex;

use argmin::core::{CostFunction, Executor, State};
use argmin::solver::neldermead::NelderMead;
use serde::{Deserialize, Serialize};

use crate::report::{KpiReport, fmt_value};
use crate::sensitivity::literal;
use crate::tally::KPI_NAMES;

/// Which figure of a KPI a target fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// SEND's value (`digital_share=0.235`).
    Send,
    /// SEND minus the all-paper process (`cash_anticipation_days` is already one).
    Difference,
    /// SEND relative to the all-paper process, minus one (`….change=-0.30` for −30%).
    Change,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub kpi: String,
    pub measure: Measure,
    pub value: f64,
}

impl Target {
    /// `KPI=VALUE`, `KPI.difference=VALUE` or `KPI.change=VALUE`; shares as fractions,
    /// money in cents, time in days.
    pub fn parse(text: &str) -> Result<Target, String> {
        let usage = "expected KPI=VALUE, KPI.difference=VALUE or KPI.change=VALUE, e.g. digital_share=0.235 or cost_citizen_cents_per_notification.change=-0.30";
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| format!("--target {text:?}: {usage}"))?;
        let value: f64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| format!("--target {text:?}: {value:?} is not a number; {usage}"))?;
        let name = name.trim();
        let (kpi, measure) = match name.rsplit_once('.') {
            Some((k, "difference")) => (k, Measure::Difference),
            Some((k, "change")) => (k, Measure::Change),
            Some((_, m)) => {
                return Err(format!(
                    "--target {text:?}: unknown measure .{m}; expected .difference or .change"
                ));
            }
            None => (name, Measure::Send),
        };
        if !KPI_NAMES.contains(&kpi) {
            return Err(format!(
                "--target {text:?}: unknown KPI {kpi:?}; expected one of {}",
                KPI_NAMES.join(", ")
            ));
        }
        Ok(Target {
            kpi: kpi.to_string(),
            measure,
            value,
        })
    }

    pub fn label(&self) -> String {
        match self.measure {
            Measure::Send => self.kpi.clone(),
            Measure::Difference => format!("{}.difference", self.kpi),
            Measure::Change => format!("{}.change", self.kpi),
        }
    }

    /// The simulated figure this target fixes.
    pub fn observe(&self, report: &[(&'static str, KpiReport)]) -> f64 {
        let r = &report
            .iter()
            .find(|(n, _)| *n == self.kpi)
            .expect("targets name known KPIs")
            .1;
        match self.measure {
            Measure::Send => r.send.mean,
            Measure::Difference => r.difference.mean,
            Measure::Change if r.baseline.mean == 0.0 => 0.0,
            Measure::Change => r.send.mean / r.baseline.mean - 1.0,
        }
    }

    /// Residuals are measured relative to the target (absolutely for a target of 0).
    fn scale(&self) -> f64 {
        if self.value == 0.0 {
            1.0
        } else {
            self.value.abs()
        }
    }

    /// A value in the target's own unit, for tables.
    pub fn show(&self, v: f64) -> String {
        match self.measure {
            Measure::Change => format!("{:+.1}%", v * 100.0),
            Measure::Difference => fmt_value(crate::report::kpi_unit(&self.kpi), v, true),
            Measure::Send => fmt_value(crate::report::kpi_unit(&self.kpi), v, false),
        }
    }
}

/// A parameter the fit may move, within `[low, high]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Free {
    pub path: String,
    pub low: f64,
    pub high: f64,
    /// An integer field: moved in whole numbers.
    pub whole: bool,
    /// The scenario's own value, where the fit starts.
    pub start: f64,
}

impl Free {
    /// `PATH` (its range from the scenario's `[ranges]`) or `PATH=LOW:HIGH`; `current`
    /// reads the scenario's value at a path.
    pub fn parse(
        text: &str,
        ranges: &std::collections::BTreeMap<String, [f64; 2]>,
        current: impl Fn(&str) -> Result<(f64, bool), String>,
    ) -> Result<Free, String> {
        let (path, [low, high]) = match text.split_once('=') {
            Some((path, range)) => {
                let bounds = range
                    .split_once(':')
                    .and_then(|(a, b)| Some([a.trim().parse().ok()?, b.trim().parse().ok()?]))
                    .ok_or_else(|| {
                        format!("--free {text:?}: expected PATH or PATH=LOW:HIGH, e.g. payments.unaware.share=0.15:0.45")
                    })?;
                (path.trim(), bounds)
            }
            None => {
                let path = text.trim();
                let range = ranges.get(path).ok_or_else(|| {
                    format!(
                        "--free {path:?}: the scenario's [ranges] has no range for it; give one as {path}=LOW:HIGH or add it under [ranges]"
                    )
                })?;
                (path, *range)
            }
        };
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(format!(
                "--free {text:?}: the range needs LOW < HIGH, got {low} and {high}"
            ));
        }
        let (value, whole) = current(path).map_err(|e| format!("--free {text:?}: {e}"))?;
        Ok(Free {
            path: path.to_string(),
            low,
            high,
            whole,
            start: value.clamp(low, high),
        })
    }

    /// The parameter's value at `u` in [0, 1] of its range.
    pub fn at(&self, u: f64) -> f64 {
        let v = self.low + u.clamp(0.0, 1.0) * (self.high - self.low);
        if self.whole { v.round() } else { v }
    }

    fn unit(&self, v: f64) -> f64 {
        (v - self.low) / (self.high - self.low)
    }

    /// `PATH=VALUE` for `--set`.
    pub fn set(&self, v: f64) -> String {
        format!("{}={}", self.path, literal(v))
    }
}

/// One simulation of the fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The free parameters' values.
    pub values: Vec<f64>,
    /// Each target's simulated figure (empty when the scenario was invalid).
    pub observed: Vec<f64>,
    /// Each target's residual relative to the target.
    pub relative_residuals: Vec<f64>,
    /// The sum of squared relative residuals.
    pub cost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub schema: String,
    pub targets: Vec<Target>,
    pub free: Vec<Free>,
    /// The largest relative residual that counts as met.
    pub tolerance: f64,
    pub seed: u64,
    pub replications: u32,
    pub notifications: u64,
    pub max_iterations: u64,
    pub iterations: u64,
    pub evaluations: u32,
    pub termination: String,
    pub start: Evaluation,
    pub best: Evaluation,
    /// Every target's residual within the tolerance.
    pub within_tolerance: bool,
    /// The best cost after each evaluation.
    pub history: Vec<f64>,
}

pub const SCHEMA: &str = "sendsim-calibration/1";

/// Runs a scenario with the free parameters at `values` and returns its KPI reports, or
/// why the scenario is invalid there.
pub type Evaluate<'a> =
    dyn Fn(&[f64]) -> Result<Vec<(&'static str, KpiReport)>, String> + Sync + 'a;

struct Record {
    evaluations: u32,
    best: Option<Evaluation>,
    history: Vec<f64>,
    first_error: Option<String>,
    /// Rounded points already simulated (Nelder–Mead revisits them once whole-number
    /// parameters are rounded or points are clamped to the ranges).
    seen: Vec<(Vec<u64>, Evaluation)>,
}

struct Problem<'a> {
    targets: &'a [Target],
    free: &'a [Free],
    evaluate: &'a Evaluate<'a>,
    progress: &'a (dyn Fn(u32, f64) + Sync),
    record: Mutex<Record>,
}

/// Cost of an invalid point: worse than any valid one, finite so the simplex moves on.
const INVALID: f64 = 1e12;

impl Problem<'_> {
    fn evaluation(&self, values: Vec<f64>) -> Evaluation {
        match (self.evaluate)(&values) {
            Ok(report) => {
                let observed: Vec<f64> = self.targets.iter().map(|t| t.observe(&report)).collect();
                let relative_residuals: Vec<f64> = self
                    .targets
                    .iter()
                    .zip(&observed)
                    .map(|(t, o)| (o - t.value) / t.scale())
                    .collect();
                let cost = relative_residuals.iter().map(|r| r * r).sum();
                Evaluation {
                    values,
                    observed,
                    relative_residuals,
                    cost,
                }
            }
            Err(e) => {
                let mut r = self.record.lock().expect("record");
                r.first_error.get_or_insert(e);
                Evaluation {
                    values,
                    observed: Vec::new(),
                    relative_residuals: Vec::new(),
                    cost: INVALID,
                }
            }
        }
    }
}

/// The problem lent to the executor, so its record can be read after the run.
struct Lent<'a, 'b>(&'a Problem<'b>);

impl CostFunction for Lent<'_, '_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, u: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        self.0.cost(u)
    }
}

impl Problem<'_> {
    fn cost(&self, u: &[f64]) -> Result<f64, argmin::core::Error> {
        let values: Vec<f64> = self.free.iter().zip(u).map(|(f, x)| f.at(*x)).collect();
        // The simplex may step outside the unit cube: the point is clamped and the step
        // penalised, so the search comes back inside.
        let outside: f64 = u.iter().map(|x| (x - x.clamp(0.0, 1.0)).powi(2)).sum();
        let key: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
        let known = {
            let r = self.record.lock().expect("record");
            r.seen.iter().find(|(k, _)| *k == key).map(|(_, e)| e.cost)
        };
        let base = match known {
            Some(c) => c,
            None => {
                let e = self.evaluation(values);
                let mut r = self.record.lock().expect("record");
                r.evaluations += 1;
                let cost = e.cost;
                if r.best.as_ref().is_none_or(|b| cost < b.cost) {
                    r.best = Some(e.clone());
                }
                let best = r.best.as_ref().map_or(cost, |b| b.cost);
                r.history.push(best);
                r.seen.push((key, e));
                (self.progress)(r.evaluations, best);
                cost
            }
        };
        Ok(base + 100.0 * outside)
    }
}

/// Fits `free` to `targets`: at most `max_iterations` Nelder–Mead iterations, stopping
/// early once every relative residual is within `tolerance`. `progress` is told the
/// number of simulations so far and the best cost.
#[allow(clippy::too_many_arguments)]
pub fn calibrate(
    targets: &[Target],
    free: &[Free],
    tolerance: f64,
    max_iterations: u64,
    run: (u64, u32, u64),
    evaluate: &Evaluate,
    progress: &(dyn Fn(u32, f64) + Sync),
) -> Result<Calibration, String> {
    if targets.is_empty() || free.is_empty() {
        return Err("give at least one --target and one --free parameter".into());
    }
    let problem = Problem {
        targets,
        free,
        evaluate,
        progress,
        record: Mutex::new(Record {
            evaluations: 0,
            best: None,
            history: Vec::new(),
            first_error: None,
            seen: Vec::new(),
        }),
    };
    let start_u: Vec<f64> = free.iter().map(|f| f.unit(f.start)).collect();
    problem.cost(&start_u).map_err(|e| e.to_string())?;
    let start = problem.record.lock().expect("record").seen[0].1.clone();
    if start.observed.is_empty() {
        let r = problem.record.lock().expect("record");
        return Err(format!(
            "the scenario is invalid at its own values: {}",
            r.first_error.clone().unwrap_or_default()
        ));
    }
    // The first simplex: the start and, for each parameter, a step of a quarter of its
    // range (inwards from an end).
    let mut simplex = vec![start_u.clone()];
    for i in 0..free.len() {
        let mut p = start_u.clone();
        p[i] += if p[i] > 0.75 { -0.25 } else { 0.25 };
        simplex.push(p);
    }
    let solver = NelderMead::new(simplex)
        .with_sd_tolerance(1e-10)
        .map_err(|e| e.to_string())?;
    // Every residual within the tolerance once the sum of their squares is below the
    // tolerance squared (a sufficient condition, so the fit may run on past the first
    // point that meets the tolerance; the best point is what counts).
    let target_cost = tolerance * tolerance;
    let result = Executor::new(Lent(&problem), solver)
        .configure(|s| s.max_iters(max_iterations).target_cost(target_cost))
        .run()
        .map_err(|e| e.to_string())?;
    let state = result.state();
    let iterations = state.get_iter();
    let termination = state
        .get_termination_reason()
        .map_or_else(|| "stopped".to_string(), |r| r.text().to_string());
    let record = problem.record.into_inner().expect("record");
    let best = record
        .best
        .expect("at least the first simplex was evaluated");
    if best.observed.is_empty() {
        return Err(format!(
            "no valid scenario was found: {}",
            record.first_error.unwrap_or_default()
        ));
    }
    let within_tolerance = best.relative_residuals.iter().all(|r| r.abs() <= tolerance);
    Ok(Calibration {
        schema: SCHEMA.into(),
        targets: targets.to_vec(),
        free: free.to_vec(),
        tolerance,
        seed: run.0,
        replications: run.1,
        notifications: run.2,
        max_iterations,
        iterations,
        evaluations: record.evaluations,
        termination,
        start,
        best,
        within_tolerance,
        history: record.history,
    })
}

/// The terminal table: each target with its start and fitted figure and residual, then
/// each free parameter.
pub fn text_table(c: &Calibration) -> String {
    let mut out = format!(
        "{:<48} {:>10} {:>10} {:>10} {:>10}\n",
        "target", "wanted", "at start", "fitted", "residual"
    );
    for (i, t) in c.targets.iter().enumerate() {
        out.push_str(&format!(
            "{:<48} {:>10} {:>10} {:>10} {:>+9.1}%\n",
            t.label(),
            t.show(t.value),
            t.show(c.start.observed[i]),
            t.show(c.best.observed[i]),
            c.best.relative_residuals[i] * 100.0
        ));
    }
    out.push_str(&format!(
        "\n{:<48} {:>21} {:>10} {:>10}\n",
        "free parameter", "range", "at start", "fitted"
    ));
    for (i, f) in c.free.iter().enumerate() {
        out.push_str(&format!(
            "{:<48} {:>21} {:>10} {:>10}\n",
            f.path,
            format!("{} – {}", literal(f.low), literal(f.high)),
            literal(round(f.start)),
            literal(round(c.best.values[i]))
        ));
    }
    out.push_str(&format!(
        "\n{} simulations in {} iterations ({}); largest residual {:.2}% (tolerance {:.2}%): {}\n",
        c.evaluations,
        c.iterations,
        c.termination,
        largest(c) * 100.0,
        c.tolerance * 100.0,
        if c.within_tolerance {
            "every target met"
        } else {
            "NOT every target met"
        }
    ));
    out
}

/// The largest relative residual of the fit.
pub fn largest(c: &Calibration) -> f64 {
    c.best
        .relative_residuals
        .iter()
        .fold(0.0, |m, r| m.max(r.abs()))
}

/// Values written to files: 6 significant digits are well below any model's precision.
pub fn round(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let digits = 6 - (v.abs().log10().floor() as i32 + 1);
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// The calibrated scenario file: a header saying what was fitted to what, then the
/// layer (`overlay`, TOML) that sets the fitted values over `extends` (or the default).
pub fn calibrated_file(
    c: &Calibration,
    command: &str,
    extends: Option<&str>,
    overlay: &str,
) -> String {
    let mut out = String::from(
        "# Calibrated by `sendsim calibrate`: the free parameters below were fitted within their\n\
         # ranges so that the simulated KPIs meet the targets (common random numbers,\n",
    );
    out.push_str(&format!(
        "# seed {}, {} replication(s) x {} notifications; Nelder-Mead, {} simulations).\n#\n# targets (wanted -> fitted, residual relative to the target):\n",
        c.seed, c.replications, c.notifications, c.evaluations
    ));
    for (i, t) in c.targets.iter().enumerate() {
        out.push_str(&format!(
            "#   {} = {} -> {} ({:+.2}%)\n",
            t.label(),
            literal(t.value),
            literal(round(c.best.observed[i])),
            c.best.relative_residuals[i] * 100.0
        ));
    }
    out.push_str("# fitted parameters (range; value before the fit -> fitted):\n");
    for (i, f) in c.free.iter().enumerate() {
        out.push_str(&format!(
            "#   {} in [{}, {}]: {} -> {}\n",
            f.path,
            literal(f.low),
            literal(f.high),
            literal(round(f.start)),
            literal(round(c.best.values[i]))
        ));
    }
    out.push_str(&format!(
        "# tolerance: every residual within {:.2}%; reached: largest {:.2}%{}\n# made by: {command}\n\n",
        c.tolerance * 100.0,
        largest(c) * 100.0,
        if c.within_tolerance {
            ""
        } else {
            " (NOT within the tolerance)"
        }
    ));
    if let Some(base) = extends {
        out.push_str(&format!("extends = {}\n", toml::Value::String(base.into())));
    }
    out.push_str(overlay);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_their_measure_and_refuse_unknown_kpis() {
        let t = Target::parse("cost_citizen_cents_per_notification.change=-0.30").unwrap();
        assert_eq!(t.measure, Measure::Change);
        assert_eq!(t.value, -0.30);
        assert_eq!(
            Target::parse("digital_share=0.235").unwrap().measure,
            Measure::Send
        );
        let e = Target::parse("digital_sahre=0.2").unwrap_err();
        assert!(
            e.contains("unknown KPI") && e.contains("digital_share"),
            "{e}"
        );
        let e = Target::parse("digital_share.ratio=0.2").unwrap_err();
        assert!(e.contains(".difference or .change"), "{e}");
        assert!(Target::parse("digital_share=abc").is_err());
    }

    #[test]
    fn free_parameters_take_their_range_from_the_scenario_or_the_flag() {
        let mut ranges = std::collections::BTreeMap::new();
        ranges.insert("pec.working_box_share".to_string(), [0.9, 0.98]);
        let current = |_: &str| Ok((0.94, false));
        let f = Free::parse("pec.working_box_share", &ranges, current).unwrap();
        assert_eq!((f.low, f.high, f.start), (0.9, 0.98, 0.94));
        let f = Free::parse("x.y=1:3", &ranges, |_| Ok((7.0, true))).unwrap();
        assert_eq!((f.low, f.high, f.start), (1.0, 3.0, 3.0));
        assert_eq!(f.at(0.3), 2.0, "integer fields move in whole numbers");
        let e = Free::parse("x.y", &ranges, current).unwrap_err();
        assert!(e.contains("[ranges]") && e.contains("x.y=LOW:HIGH"), "{e}");
        assert!(Free::parse("x.y=3:1", &ranges, current).is_err());
    }

    #[test]
    fn a_smooth_problem_is_fitted_within_the_tolerance() {
        // Two "KPIs" driven by two parameters: the fit must find a=0.3, b=40.
        let free = vec![
            Free {
                path: "a".into(),
                low: 0.0,
                high: 1.0,
                whole: false,
                start: 0.8,
            },
            Free {
                path: "b".into(),
                low: 10.0,
                high: 90.0,
                whole: false,
                start: 20.0,
            },
        ];
        let targets = vec![
            Target::parse("digital_share=0.3").unwrap(),
            Target::parse("cash_anticipation_days=40").unwrap(),
        ];
        let fake = |v: &[f64]| {
            let mut r = crate::report::kpi_reports(&[]);
            for (n, k) in r.iter_mut() {
                if *n == "digital_share" {
                    k.send.mean = v[0];
                }
                if *n == "cash_anticipation_days" {
                    k.send.mean = v[1] + 5.0 * (v[0] - 0.3);
                }
            }
            Ok(r)
        };
        let c = calibrate(&targets, &free, 0.001, 200, (1, 1, 1), &fake, &|_, _| {}).unwrap();
        assert!(c.within_tolerance, "{}", text_table(&c));
        assert!((c.best.values[0] - 0.3).abs() < 0.001);
        assert!((c.best.values[1] - 40.0).abs() < 0.1);
        assert!(c.history.windows(2).all(|w| w[1] <= w[0]));
    }
}
