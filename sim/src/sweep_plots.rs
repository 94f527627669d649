//! The plots of `sendsim sweep`, one per headline KPI: a line with its 95% band against
//! the varied parameter, or a heat map over the two parameters of a grid.

use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::compare::HEADLINE_KPIS;
use crate::plots::{FONT, Figure, SIZE, err, render};
use crate::report::{KpiReport, fmt_value};
use crate::sweep::Vary;

const LINE: RGBColor = RGBColor(0, 115, 230);

struct Data<'a> {
    vary: &'a [Vary],
    points: &'a [Vec<f64>],
    reports: &'a [Vec<(&'static str, KpiReport)>],
}

impl Data<'_> {
    fn kpi(&self, point: usize, name: &str) -> &KpiReport {
        &self.reports[point]
            .iter()
            .find(|(n, _)| *n == name)
            .expect("a KPI")
            .1
    }
}

/// Writes `sweep_<kpi>.png` and `.svg` for every headline KPI: lines for one varied
/// parameter, heat maps for a grid of two. Latin hypercube samples get no plot (their
/// points do not lie on a line or a grid); returns whether plots were drawn.
pub fn write_all(
    dir: &Path,
    vary: &[Vary],
    points: &[Vec<f64>],
    reports: &[Vec<(&'static str, KpiReport)>],
    grid: bool,
) -> Result<bool> {
    if !grid {
        return Ok(false);
    }
    let data = Data {
        vary,
        points,
        reports,
    };
    for kpi in HEADLINE_KPIS {
        render(dir, &format!("sweep_{kpi}"), &KpiPlot { data: &data, kpi })?;
    }
    Ok(true)
}

/// One headline KPI over the sweep's points.
struct KpiPlot<'a> {
    data: &'a Data<'a>,
    kpi: &'a str,
}

impl Figure for KpiPlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        if self.data.vary.len() == 1 {
            line(root, self.data, self.kpi)
        } else {
            heat_map(root, self.data, self.kpi)
        }
    }
}

fn line<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &Data, kpi: &str) -> Result<()> {
    let rows: Vec<(f64, f64, f64, f64)> = (0..d.points.len())
        .map(|i| {
            let e = d.kpi(i, kpi).send;
            let [lo, hi] = e.ci95.unwrap_or([e.mean, e.mean]);
            (d.points[i][0], e.mean, lo, hi)
        })
        .collect();
    let unit = d.kpi(0, kpi).unit.clone();
    let (x0, x1) = (d.vary[0].start, d.vary[0].stop.max(d.vary[0].start + 1e-9));
    let lo = rows.iter().map(|r| r.2).fold(f64::INFINITY, f64::min);
    let hi = rows.iter().map(|r| r.3).fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.01).max(1e-9);
    let mut chart = ChartBuilder::on(root)
        .caption(format!("{kpi} against {}", d.vary[0].path), (FONT, 24))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(90)
        .build_cartesian_2d(x0..x1, (lo - pad)..(hi + pad))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(d.vary[0].path.as_str())
        .y_desc(format!("{kpi} (SEND, mean and 95% band)"))
        .y_label_formatter(&|v| fmt_value(&unit, *v, false))
        .label_style((FONT, 15))
        .draw()
        .map_err(err)?;
    let upper = rows.iter().map(|r| (r.0, r.3));
    let lower = rows.iter().rev().map(|r| (r.0, r.2));
    chart
        .draw_series(std::iter::once(Polygon::new(
            upper.chain(lower).collect::<Vec<_>>(),
            LINE.mix(0.2),
        )))
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            rows.iter().map(|r| (r.0, r.1)),
            LINE.stroke_width(3),
        ))
        .map_err(err)?;
    chart
        .draw_series(
            rows.iter()
                .map(|r| Circle::new((r.0, r.1), 4, LINE.filled())),
        )
        .map_err(err)?;
    Ok(())
}

fn heat_map<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &Data, kpi: &str) -> Result<()> {
    let mut xs: Vec<f64> = d.points.iter().map(|p| p[0]).collect();
    let mut ys: Vec<f64> = d.points.iter().map(|p| p[1]).collect();
    xs.dedup();
    ys.sort_by(f64::total_cmp);
    ys.dedup();
    let unit = d.kpi(0, kpi).unit.clone();
    let values: Vec<f64> = (0..d.points.len())
        .map(|i| d.kpi(i, kpi).send.mean)
        .collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (nx, ny) = (xs.len() as f64, ys.len() as f64);
    let (plot, legend) = root.split_horizontally(SIZE.0 - 140);
    let mut chart = ChartBuilder::on(&plot)
        .caption(format!("{kpi} (SEND, mean)"), (FONT, 24))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..nx, 0f64..ny)
        .map_err(err)?;
    let label = |vals: &Vec<f64>, vary: &Vary, v: f64| {
        vals.get(v.floor() as usize)
            .filter(|_| v.fract().abs() > 0.25)
            .map_or(String::new(), |x| vary.literal(*x))
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(d.vary[0].path.as_str())
        .y_desc(d.vary[1].path.as_str())
        .x_labels(xs.len() * 2 + 1)
        .y_labels(ys.len() * 2 + 1)
        .x_label_formatter(&|v| label(&xs, &d.vary[0], *v))
        .y_label_formatter(&|v| label(&ys, &d.vary[1], *v))
        .label_style((FONT, 14))
        .draw()
        .map_err(err)?;
    let color = |v: f64| {
        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        // Pale yellow to deep blue.
        let mix = |a: f64, b: f64| (a + (b - a) * t) as u8;
        RGBColor(mix(255.0, 8.0), mix(247.0, 64.0), mix(188.0, 129.0))
    };
    chart
        .draw_series(d.points.iter().zip(&values).map(|(p, v)| {
            let i = xs.iter().position(|x| *x == p[0]).unwrap_or(0) as f64;
            let j = ys.iter().position(|y| *y == p[1]).unwrap_or(0) as f64;
            Rectangle::new([(i, j), (i + 1.0, j + 1.0)], color(*v).filled())
        }))
        .map_err(err)?;
    if xs.len() * ys.len() <= 64 {
        chart
            .draw_series(d.points.iter().zip(&values).map(|(p, v)| {
                let i = xs.iter().position(|x| *x == p[0]).unwrap_or(0) as f64;
                let j = ys.iter().position(|y| *y == p[1]).unwrap_or(0) as f64;
                Text::new(
                    fmt_value(&unit, *v, false),
                    (i + 0.3, j + 0.55),
                    (FONT, 13).into_font(),
                )
            }))
            .map_err(err)?;
    }
    // The colour scale.
    let steps = 20;
    for s in 0..steps {
        let v = lo + (hi - lo) * s as f64 / (steps - 1) as f64;
        let y0 = 520 - (s + 1) * 22;
        legend
            .draw(&Rectangle::new(
                [(20, y0), (50, y0 + 22)],
                color(v).filled(),
            ))
            .map_err(err)?;
        if s % 4 == 0 || s == steps - 1 {
            legend
                .draw(&Text::new(
                    fmt_value(&unit, v, false),
                    (55, y0 + 5),
                    (FONT, 13).into_font(),
                ))
                .map_err(err)?;
        }
    }
    Ok(())
}
