//! The plots of `sendsim compare`: every scenario's SEND cash-in curve (with its 95%
//! band) over the first scenario's all-paper curve, and their channel mixes side by side.

use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::model::outcome::FinalState;
use crate::plots::{FONT, SIZE, band, cumulative_cash, err, register_font, state_shares};
use crate::report::write_atomic;
use crate::tally::Tally;

/// Colours of the scenarios, in order (then again).
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 115, 230),
    RGBColor(30, 160, 80),
    RGBColor(150, 60, 190),
    RGBColor(230, 160, 0),
    RGBColor(0, 170, 180),
    RGBColor(220, 50, 90),
];
const PAPER_COLOR: RGBColor = RGBColor(120, 120, 120);

/// Per day: mean, low and high end of the 95% band.
type Curve = Vec<(f64, f64, f64)>;

#[derive(Clone, Copy)]
enum Chart {
    CashIn,
    ChannelMix,
}

impl Chart {
    fn draw<DB: DrawingBackend>(
        self,
        root: &DrawingArea<DB, Shift>,
        names: &[String],
        runs: &[Vec<Tally>],
    ) -> Result<()> {
        root.fill(&WHITE).map_err(err)?;
        match self {
            Chart::CashIn => cash_in(root, names, runs),
            Chart::ChannelMix => channel_mix(root, names, runs),
        }?;
        root.present().map_err(err)
    }
}

/// Writes `cash_in_compare` and `channel_mix_compare` (PNG and SVG) into `dir`.
pub fn write_all(dir: &Path, names: &[String], runs: &[Vec<Tally>]) -> Result<()> {
    register_font();
    for (chart, name) in [
        (Chart::CashIn, "cash_in_compare"),
        (Chart::ChannelMix, "channel_mix_compare"),
    ] {
        let tmp_png = dir.join(format!(".{name}.tmp.png"));
        chart.draw(
            &BitMapBackend::new(&tmp_png, SIZE).into_drawing_area(),
            names,
            runs,
        )?;
        std::fs::rename(&tmp_png, dir.join(format!("{name}.png")))?;
        let mut svg = String::new();
        chart.draw(
            &SVGBackend::with_string(&mut svg, SIZE).into_drawing_area(),
            names,
            runs,
        )?;
        write_atomic(&dir.join(format!("{name}.svg")), svg.as_bytes())?;
    }
    Ok(())
}

fn cash_in<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    names: &[String],
    runs: &[Vec<Tally>],
) -> Result<()> {
    let curves: Vec<Curve> = runs
        .iter()
        .map(|t| band(t, |t, d| cumulative_cash(t, d, false)))
        .collect();
    let paper = band(&runs[0], |t, d| cumulative_cash(t, d, true));
    let days = curves.iter().map(Vec::len).max().unwrap_or(1) as f64;
    let top = curves
        .iter()
        .flatten()
        .chain(&paper)
        .map(|v| v.2)
        .fold(1.0, f64::max)
        * 1.08;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Cumulative cash in per notification, SEND (mean, 95% band)",
            (FONT, 26),
        )
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..days, 0f64..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("days from the start")
        .y_desc("EUR per notification")
        .label_style((FONT, 16))
        .draw()
        .map_err(err)?;
    let paper_label = format!("all-paper process ({})", names[0]);
    let mut series: Vec<(&Curve, RGBColor, String)> = curves
        .iter()
        .zip(names)
        .enumerate()
        .map(|(i, (c, n))| (c, PALETTE[i % PALETTE.len()], n.clone()))
        .collect();
    series.push((&paper, PAPER_COLOR, paper_label));
    for (curve, color, label) in series {
        let upper = curve.iter().enumerate().map(|(d, v)| (d as f64, v.2));
        let lower = curve.iter().enumerate().rev().map(|(d, v)| (d as f64, v.1));
        chart
            .draw_series(std::iter::once(Polygon::new(
                upper.chain(lower).collect::<Vec<_>>(),
                color.mix(0.15),
            )))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                curve.iter().enumerate().map(|(d, v)| (d as f64, v.0)),
                color.stroke_width(3),
            ))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 18))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(err)?;
    Ok(())
}

fn channel_mix<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    names: &[String],
    runs: &[Vec<Tally>],
) -> Result<()> {
    let shares: Vec<Vec<f64>> = runs.iter().map(|t| state_shares(t, false)).collect();
    let n = FinalState::ALL.len() as f64;
    let k = runs.len().max(1) as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Where recipients end up at the horizon, SEND (% of recipients)",
            (FONT, 26),
        )
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(20)
        .build_cartesian_2d(-42f64..100f64, 0f64..n)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("% of recipients")
        .x_label_formatter(&|v| {
            if *v < 0.0 {
                String::new()
            } else {
                format!("{v:.0}")
            }
        })
        .label_style((FONT, 16))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(FinalState::ALL.iter().enumerate().map(|(i, f)| {
            Text::new(
                f.name().replace('_', " "),
                (-41.0, i as f64 + 0.65),
                (FONT, 17).into_font(),
            )
        }))
        .map_err(err)?;
    // Each state's row holds one bar per scenario, the first on top.
    let height = 0.8 / k;
    for (j, (s, name)) in shares.iter().zip(names).enumerate() {
        let color = PALETTE[j % PALETTE.len()];
        let lo = 0.9 - (j as f64 + 1.0) * height;
        chart
            .draw_series(s.iter().enumerate().map(|(i, v)| {
                let y = i as f64 + lo;
                Rectangle::new([(0.0, y), (v * 100.0, y + height * 0.9)], color.filled())
            }))
            .map_err(err)?
            .label(name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], color.filled()));
        chart
            .draw_series(
                s.iter()
                    .enumerate()
                    .filter(|(_, v)| **v > 0.0)
                    .map(|(i, v)| {
                        Text::new(
                            format!("{:.1}%", v * 100.0),
                            (v * 100.0 + 0.8, i as f64 + lo + height * 0.2),
                            (FONT, 12).into_font(),
                        )
                    }),
            )
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 18))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    Ok(())
}
