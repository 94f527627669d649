//! The load report: terminal summary, `summary.json` (schema in the README),
//! `timeseries.csv`, the HdrHistogram interval log `latency.hlog`, and plots.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::measure::{LATENESS, Measurements, OpSummary, Percentiles};
use super::threshold::{Threshold, Verdict};

/// `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub schema: String,
    pub target: String,
    /// "open-loop" or "closed-loop (coordinated omission not corrected)".
    pub mode: String,
    pub profile: String,
    pub workers: u32,
    pub worker: Option<u32>,
    pub started_at: String,
    pub seconds: f64,
    pub interval_seconds: f64,
    pub interrupted: bool,
    pub flows_started: u64,
    pub total: OpSummary,
    pub operations: BTreeMap<String, OpSummary>,
    /// How late the generator started requests or flows (a saturated generator shows here).
    pub lateness_ms: Percentiles,
    pub thresholds: Vec<Verdict>,
}

pub const SCHEMA: &str = "sendmock-load-summary/1";

#[allow(clippy::too_many_arguments)]
pub fn summarize(
    m: &Measurements,
    target: &str,
    mode: &str,
    profile: &str,
    workers: u32,
    worker: Option<u32>,
    started_at: String,
    seconds: f64,
    interrupted: bool,
    flows_started: u64,
    thresholds: &[Threshold],
) -> Summary {
    let operations = m.operations().into_iter().map(|op| {
        let s = m.summary(Some(&op), seconds);
        (op, s)
    });
    Summary {
        schema: SCHEMA.into(),
        target: target.into(),
        mode: mode.into(),
        profile: profile.into(),
        workers,
        worker,
        started_at,
        seconds,
        interval_seconds: m.interval_secs,
        interrupted,
        flows_started,
        total: m.summary(None, seconds),
        operations: operations.collect(),
        lateness_ms: Percentiles::of(&m.total(Some(LATENESS), |_| true)),
        thresholds: thresholds.iter().map(|t| t.evaluate(m, seconds)).collect(),
    }
}

pub fn text(s: &Summary) -> String {
    let mut out = format!(
        "{} · {} · {} · {:.1} s{}\n\n{:<18} {:>9} {:>10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        s.target,
        s.mode,
        s.profile,
        s.seconds,
        if s.interrupted { " (interrupted)" } else { "" },
        "operation",
        "requests",
        "req/s",
        "errors",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms"
    );
    let row = |name: &str, o: &OpSummary| {
        format!(
            "{:<18} {:>9} {:>10.1} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}\n",
            name,
            o.count,
            o.throughput_per_s,
            o.errors,
            o.latency_ms.p50,
            o.latency_ms.p90,
            o.latency_ms.p99,
            o.latency_ms.p999,
            o.latency_ms.max
        )
    };
    for (op, o) in &s.operations {
        out.push_str(&row(op, o));
    }
    out.push_str(&row("all", &s.total));
    let classes: Vec<String> = s
        .total
        .by_class
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    out.push_str(&format!("\nby status: {}\n", classes.join(", ")));
    out.push_str(&format!(
        "generator lateness: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms\n",
        s.lateness_ms.p50, s.lateness_ms.p99, s.lateness_ms.max
    ));
    for v in &s.thresholds {
        out.push_str(&format!(
            "threshold {:<28} {} (actual {:.4})\n",
            v.threshold,
            if v.passed { "passed" } else { "FAILED" },
            v.actual
        ));
    }
    out
}

/// Per interval and operation: count, errors, p50, p90, p99, max (ms).
pub fn timeseries_csv(m: &Measurements) -> String {
    let mut rows: BTreeMap<(u64, String), (u64, u64, hdrhistogram::Histogram<u64>)> =
        BTreeMap::new();
    for ((op, class), intervals) in &m.series {
        for (i, h) in intervals {
            let e = rows
                .entry((*i, op.clone()))
                .or_insert_with(|| (0, 0, super::measure::histogram()));
            e.0 += h.len();
            if super::measure::is_error_class(class) {
                e.1 += h.len();
            }
            e.2.add(h).expect("same bounds");
        }
    }
    let mut out = String::from("t_seconds,operation,count,errors,p50_ms,p90_ms,p99_ms,max_ms\n");
    for ((i, op), (n, e, h)) in rows {
        let p = Percentiles::of(&h);
        out.push_str(&format!(
            "{:.3},{op},{n},{e},{:.3},{:.3},{:.3},{:.3}\n",
            i as f64 * m.interval_secs,
            p.p50,
            p.p90,
            p.p99,
            p.max
        ));
    }
    out
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("plot: {e:?}")
}

fn chart_percentiles<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    m: &Measurements,
) -> anyhow::Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let mut per_interval: BTreeMap<u64, hdrhistogram::Histogram<u64>> = BTreeMap::new();
    for ((op, _), intervals) in &m.series {
        if op == LATENESS {
            continue;
        }
        for (i, h) in intervals {
            per_interval
                .entry(*i)
                .or_insert_with(super::measure::histogram)
                .add(h)
                .expect("same bounds");
        }
    }
    let series: Vec<(f64, Percentiles)> = per_interval
        .iter()
        .map(|(i, h)| (*i as f64 * m.interval_secs, Percentiles::of(h)))
        .collect();
    let t_max = series.last().map_or(1.0, |s| s.0 + m.interval_secs);
    let y_max = series.iter().map(|s| s.1.max).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Latency percentiles over time (all operations)",
            ("sans-serif", 24),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..t_max, 0f64..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("ms")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    let colors = [
        RGBColor(0, 115, 230),
        RGBColor(40, 160, 60),
        RGBColor(230, 120, 0),
        RGBColor(200, 30, 30),
    ];
    type Pick = fn(&Percentiles) -> f64;
    let lines: [(&str, Pick); 4] = [
        ("p50", |p| p.p50),
        ("p90", |p| p.p90),
        ("p99", |p| p.p99),
        ("max", |p| p.max),
    ];
    for (k, (name, f)) in lines.iter().enumerate() {
        let c = colors[k];
        chart
            .draw_series(LineSeries::new(
                series.iter().map(|(t, p)| (*t, f(p))),
                c.stroke_width(2),
            ))
            .map_err(err)?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 14))
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

fn chart_throughput<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    m: &Measurements,
) -> anyhow::Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let mut ok: BTreeMap<u64, u64> = BTreeMap::new();
    let mut bad: BTreeMap<u64, u64> = BTreeMap::new();
    for ((op, class), intervals) in &m.series {
        if op == LATENESS {
            continue;
        }
        let target = if super::measure::is_error_class(class) {
            &mut bad
        } else {
            &mut ok
        };
        for (i, h) in intervals {
            *target.entry(*i).or_insert(0) += h.len();
        }
    }
    let t_max = ok
        .keys()
        .chain(bad.keys())
        .max()
        .map_or(1.0, |i| (*i + 1) as f64 * m.interval_secs);
    let y_max =
        ok.values().chain(bad.values()).copied().max().unwrap_or(1) as f64 / m.interval_secs * 1.15;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Throughput over time (requests per second)",
            ("sans-serif", 24),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..t_max, 0f64..y_max.max(1.0))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("req/s")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for (data, color, label) in [
        (&ok, RGBColor(0, 115, 230), "ok"),
        (&bad, RGBColor(200, 30, 30), "errors"),
    ] {
        chart
            .draw_series(LineSeries::new(
                data.iter()
                    .map(|(i, n)| (*i as f64 * m.interval_secs, *n as f64 / m.interval_secs)),
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 14))
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

fn chart_distribution<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    m: &Measurements,
) -> anyhow::Result<()> {
    root.fill(&WHITE).map_err(err)?;
    // Latency by percentile on a "nines" axis: x = -log10(1 - q).
    let ops = m.operations();
    let mut curves = Vec::new();
    let mut y_max: f64 = 1.0;
    for op in &ops {
        let h = m.total(Some(op), |_| true);
        if h.is_empty() {
            continue;
        }
        let pts: Vec<(f64, f64)> = (0..=50)
            .map(|k| {
                let nines = k as f64 * 0.1;
                let q = 1.0 - 10f64.powf(-nines);
                (nines, h.value_at_quantile(q.min(0.99999)) as f64 / 1000.0)
            })
            .collect();
        y_max = y_max.max(pts.iter().map(|p| p.1).fold(0.0, f64::max));
        curves.push((op.clone(), pts));
    }
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Latency by percentile (0 = p0, 1 = p90, 2 = p99, 3 = p99.9)",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..5f64, 0f64..y_max * 1.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("nines")
        .y_desc("ms")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for (k, (op, pts)) in curves.into_iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(err)?
            .label(op)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 14))
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// Writes summary.json, timeseries.csv, latency.hlog and the plots into `dir`.
pub fn write_all(dir: &Path, s: &Summary, m: &Measurements) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    sim::report::write_atomic(
        &dir.join("summary.json"),
        (serde_json::to_string_pretty(s)? + "\n").as_bytes(),
    )?;
    sim::report::write_atomic(&dir.join("timeseries.csv"), timeseries_csv(m).as_bytes())?;
    m.write_log(&dir.join("latency.hlog"))?;
    sim::plots::register_font();
    for (name, which) in [
        ("latency_over_time", 0u8),
        ("throughput", 1),
        ("latency_distribution", 2),
    ] {
        let tmp = dir.join(format!(".{name}.tmp.png"));
        {
            let root = BitMapBackend::new(&tmp, (1000, 560)).into_drawing_area();
            match which {
                0 => chart_percentiles(&root, m)?,
                1 => chart_throughput(&root, m)?,
                _ => chart_distribution(&root, m)?,
            }
        }
        std::fs::rename(&tmp, dir.join(format!("{name}.png")))?;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (1000, 560)).into_drawing_area();
            match which {
                0 => chart_percentiles(&root, m)?,
                1 => chart_throughput(&root, m)?,
                _ => chart_distribution(&root, m)?,
            }
        }
        sim::report::write_atomic(&dir.join(format!("{name}.svg")), svg.as_bytes())?;
    }
    Ok(())
}

/// Reads the workers' outputs under `dirs` (each a worker folder, or a folder of
/// `worker-*` folders) and merges their histograms exactly.
pub fn merge_dirs(dirs: &[std::path::PathBuf]) -> Result<(Measurements, Vec<Summary>), String> {
    let mut found = Vec::new();
    for d in dirs {
        if d.join("latency.hlog").exists() {
            found.push(d.clone());
        } else {
            let mut subs: Vec<_> = std::fs::read_dir(d)
                .map_err(|e| format!("{}: {e}", d.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("latency.hlog").exists())
                .collect();
            subs.sort();
            if subs.is_empty() {
                return Err(format!(
                    "{}: no latency.hlog in it or in its sub-folders",
                    d.display()
                ));
            }
            found.extend(subs);
        }
    }
    let mut merged: Option<Measurements> = None;
    let mut summaries = Vec::new();
    for d in found {
        let text = std::fs::read_to_string(d.join("summary.json"))
            .map_err(|e| format!("{}: {e}", d.join("summary.json").display()))?;
        let s: Summary = serde_json::from_str(&text)
            .map_err(|e| format!("{}: {e}", d.join("summary.json").display()))?;
        let m = Measurements::read_log(&d.join("latency.hlog"), s.interval_seconds)?;
        match &mut merged {
            None => merged = Some(m),
            Some(acc) => {
                if (acc.interval_secs - m.interval_secs).abs() > 1e-9 {
                    return Err(format!(
                        "{}: interval {} s differs from the others' {} s",
                        d.display(),
                        m.interval_secs,
                        acc.interval_secs
                    ));
                }
                acc.merge(&m)
            }
        }
        summaries.push(s);
    }
    merged
        .map(|m| (m, summaries))
        .ok_or_else(|| "no worker output given".to_string())
}
