//! Tornado charts of `sendsim sensitivity`: per KPI, a bar per parameter from the KPI
//! at the scenario's values to the KPI at the parameter's low end and at its high end,
//! the widest swing on top.

use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plots::{FONT, Figure, SIZE, err, render};
use crate::report::fmt_value;
use crate::sensitivity::{KpiSensitivity, literal};

const LOW: RGBColor = RGBColor(200, 90, 40);
const HIGH: RGBColor = RGBColor(0, 115, 230);

/// Writes `tornado_<kpi>.png` and `.svg` for every KPI analysed.
pub fn write_all(dir: &Path, results: &indexmap::IndexMap<String, KpiSensitivity>) -> Result<()> {
    for (kpi, s) in results {
        render(dir, &format!("tornado_{kpi}"), &Tornado { kpi, s })?;
    }
    Ok(())
}

struct Tornado<'a> {
    kpi: &'a str,
    s: &'a KpiSensitivity,
}

impl Figure for Tornado<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        draw(root, self.kpi, self.s)
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    kpi: &str,
    s: &KpiSensitivity,
) -> Result<()> {
    let base = s.base.mean;
    let values = s
        .swings
        .iter()
        .flat_map(|w| [w.at_low.mean, w.at_high.mean])
        .chain([base]);
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let pad = ((hi - lo) * 0.08).max(base.abs() * 0.005).max(1e-9);
    let n = s.swings.len().max(1) as f64;
    let (labels, plot) = root.split_horizontally(330);
    let mut chart = ChartBuilder::on(&plot)
        .caption(format!("{kpi}: one parameter at a time"), (FONT, 22))
        .margin(20)
        .x_label_area_size(45)
        .build_cartesian_2d((lo - pad)..(hi + pad), 0f64..n)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc(format!("{kpi} (SEND, mean)"))
        .x_label_formatter(&|v| fmt_value(&s.unit, *v, false))
        .label_style((FONT, 14))
        .draw()
        .map_err(err)?;
    // Widest on top.
    for (i, w) in s.swings.iter().enumerate() {
        let y = n - 1.0 - i as f64;
        for (v, color) in [(w.at_low.mean, LOW), (w.at_high.mean, HIGH)] {
            let (a, b) = if v < base { (v, base) } else { (base, v) };
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(a, y + 0.2), (b, y + 0.8)],
                    color.filled(),
                )))
                .map_err(err)?;
        }
        // 65 px of caption and margin above the plot, 45 px of axis below it.
        let row = (SIZE.1 as f64 - 65.0 - 45.0) / n;
        let py = 65.0 + (n - 1.0 - y + 0.35) * row;
        labels
            .draw(&Text::new(
                format!("{} ({} – {})", w.parameter, literal(w.low), literal(w.high)),
                (10, py as i32),
                (FONT, 12).into_font(),
            ))
            .map_err(err)?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(base, 0.0), (base, n)],
            BLACK.stroke_width(2),
        )))
        .map_err(err)?;
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(lo - pad, n), (lo - pad, n)],
            LOW.filled(),
        )))
        .map_err(err)?
        .label("parameter at its low end")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], LOW.filled()));
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(lo - pad, n), (lo - pad, n)],
            HIGH.filled(),
        )))
        .map_err(err)?
        .label("parameter at its high end")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], HIGH.filled()));
    chart
        .configure_series_labels()
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(err)?;
    Ok(())
}
