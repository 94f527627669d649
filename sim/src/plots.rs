//! Plots (PNG and SVG) drawn with plotters and an embedded font (DejaVu Sans), so
//! they render the same on any machine with no system fonts.
//!
//! - `cash_in`: cumulative cash in per notification, SEND against the all-paper
//!   process, mean across replications with its 95% band;
//! - `time_to_payment`: share of payments by week after sending;
//! - `channel_mix`: where recipients ended (final states) on each side;
//! - `cost_breakdown`: what one notification costs the body and the citizen.

use std::path::Path;
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::model::Model;
use crate::model::outcome::FinalState;
use crate::prices::with_vat;
use crate::report::write_atomic;
use crate::stats::estimate;
use crate::tally::Tally;

pub(crate) const FONT: &str = "sans-serif";
pub(crate) const SIZE: (u32, u32) = (1000, 600);
const SEND_COLOR: RGBColor = RGBColor(0, 115, 230);
const PAPER_COLOR: RGBColor = RGBColor(200, 90, 40);

/// Registers the embedded DejaVu font as `sans-serif` (idempotent).
pub fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            let bytes = match style {
                FontStyle::Bold => dejavu::sans::bold(),
                _ => dejavu::sans::regular(),
            };
            plotters::style::register_font(FONT, style, bytes)
                .unwrap_or_else(|_| panic!("embedded DejaVu font loads"));
        }
    });
}

pub(crate) fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plot: {e:?}")
}

/// A chart that can be drawn on any backend: every plot of the crate is written as PNG
/// and SVG through `render`.
pub(crate) trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>;
}

/// Renders `figure` on white to `<name>.png` and `<name>.svg`, each written atomically.
pub(crate) fn render(dir: &Path, name: &str, figure: &impl Figure) -> Result<()> {
    register_font();
    fn on<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, figure: &impl Figure) -> Result<()> {
        root.fill(&WHITE).map_err(err)?;
        figure.draw(&root)?;
        root.present().map_err(err)
    }
    let tmp_png = dir.join(format!(".{name}.tmp.png"));
    on(
        BitMapBackend::new(&tmp_png, SIZE).into_drawing_area(),
        figure,
    )?;
    std::fs::rename(&tmp_png, dir.join(format!("{name}.png")))?;
    let mut svg = String::new();
    on(
        SVGBackend::with_string(&mut svg, SIZE).into_drawing_area(),
        figure,
    )?;
    write_atomic(&dir.join(format!("{name}.svg")), svg.as_bytes())?;
    Ok(())
}

#[derive(Clone, Copy)]
enum Chart {
    CashIn,
    TimeToPayment,
    ChannelMix,
    CostBreakdown,
}

impl Chart {
    fn file_name(self) -> &'static str {
        match self {
            Chart::CashIn => "cash_in",
            Chart::TimeToPayment => "time_to_payment",
            Chart::ChannelMix => "channel_mix",
            Chart::CostBreakdown => "cost_breakdown",
        }
    }
}

/// One chart of a run.
struct RunChart<'a> {
    chart: Chart,
    model: &'a Model,
    tallies: &'a [Tally],
}

impl Figure for RunChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        match self.chart {
            Chart::CashIn => cash_in(root, self.tallies),
            Chart::TimeToPayment => time_to_payment(root, self.tallies),
            Chart::ChannelMix => channel_mix(root, self.tallies),
            Chart::CostBreakdown => cost_breakdown(root, self.model, self.tallies),
        }
    }
}

/// Per day: mean and 95% band across replications of a per-notification series.
pub(crate) fn band(
    tallies: &[Tally],
    value: impl Fn(&Tally, usize) -> f64,
) -> Vec<(f64, f64, f64)> {
    let days = tallies.first().map_or(0, |t| t.daily.len());
    (0..days)
        .map(|d| {
            let vals: Vec<f64> = tallies.iter().map(|t| value(t, d)).collect();
            let e = estimate(&vals);
            let [lo, hi] = e.ci95.unwrap_or([e.mean, e.mean]);
            (e.mean, lo, hi)
        })
        .collect()
}

pub(crate) fn cumulative_cash(t: &Tally, day: usize, baseline: bool) -> f64 {
    let cents: i64 = t.daily[..=day]
        .iter()
        .map(|r| {
            if baseline {
                r.baseline_cash_in_cents
            } else {
                r.cash_in_cents
            }
        })
        .sum();
    cents as f64 / 100.0 / t.notifications.max(1) as f64
}

fn cash_in<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, tallies: &[Tally]) -> Result<()> {
    let send = band(tallies, |t, d| cumulative_cash(t, d, false));
    let paper = band(tallies, |t, d| cumulative_cash(t, d, true));
    cash_curves(
        root,
        "Cumulative cash in per notification (mean, 95% band)",
        &[
            (&send, SEND_COLOR, "SEND".into()),
            (&paper, PAPER_COLOR, "all-paper process".into()),
        ],
        0.2,
    )
}

/// Per day: mean, low and high end of the 95% band.
pub(crate) type Curve = Vec<(f64, f64, f64)>;

/// Cumulative cash-in curves, each a line over its 95% band (`alpha` its opacity).
pub(crate) fn cash_curves<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    caption: &str,
    series: &[(&Curve, RGBColor, String)],
    alpha: f64,
) -> Result<()> {
    let days = series.iter().map(|s| s.0.len()).max().unwrap_or(1) as f64;
    let top = series
        .iter()
        .flat_map(|s| s.0.iter())
        .map(|v| v.2)
        .fold(1.0, f64::max)
        * 1.08;
    let mut chart = ChartBuilder::on(root)
        .caption(caption, (FONT, 26))
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
    for (curve, color, label) in series {
        let color = *color;
        let upper = curve.iter().enumerate().map(|(d, v)| (d as f64, v.2));
        let lower = curve.iter().enumerate().rev().map(|(d, v)| (d as f64, v.1));
        chart
            .draw_series(std::iter::once(Polygon::new(
                upper.chain(lower).collect::<Vec<_>>(),
                color.mix(alpha),
            )))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                curve.iter().enumerate().map(|(d, v)| (d as f64, v.0)),
                color.stroke_width(3),
            ))
            .map_err(err)?
            .label(label.as_str())
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

fn weekly_payment_shares(tallies: &[Tally], baseline: bool) -> Vec<f64> {
    let days = tallies.first().map_or(0, |t| t.send.pay_days.len());
    let weeks = days.div_ceil(7);
    let mut counts = vec![0u64; weeks];
    let mut total = 0u64;
    for t in tallies {
        let side = if baseline { &t.baseline } else { &t.send };
        for (d, c) in side.pay_days.iter().enumerate() {
            counts[d / 7] += c;
            total += c;
        }
    }
    counts
        .iter()
        .map(|c| *c as f64 / total.max(1) as f64)
        .collect()
}

fn time_to_payment<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    tallies: &[Tally],
) -> Result<()> {
    let send = weekly_payment_shares(tallies, false);
    let paper = weekly_payment_shares(tallies, true);
    let weeks = send.len().max(1) as f64;
    let top = send.iter().chain(&paper).copied().fold(0.01, f64::max) * 110.0;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Time to payment: share of payments by week after sending",
            (FONT, 26),
        )
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..weeks, 0f64..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("weeks from sending")
        .y_desc("% of payments")
        .label_style((FONT, 16))
        .draw()
        .map_err(err)?;
    for (series, color, label, offset) in [
        (&send, SEND_COLOR, "SEND", 0.0),
        (&paper, PAPER_COLOR, "all-paper process", 0.45),
    ] {
        chart
            .draw_series(series.iter().enumerate().map(|(w, s)| {
                let x = w as f64 + 0.05 + offset;
                Rectangle::new([(x, 0.0), (x + 0.45, s * 100.0)], color.filled())
            }))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], color.filled()));
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 18))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

pub(crate) fn state_shares(tallies: &[Tally], baseline: bool) -> Vec<f64> {
    let mut counts = [0u64; FinalState::ALL.len()];
    let mut total = 0u64;
    for t in tallies {
        let side = if baseline { &t.baseline } else { &t.send };
        for (i, c) in side.final_states.iter().enumerate() {
            counts[i] += c;
            total += c;
        }
    }
    counts
        .iter()
        .map(|c| *c as f64 / total.max(1) as f64)
        .collect()
}

fn channel_mix<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, tallies: &[Tally]) -> Result<()> {
    state_bars(
        root,
        "Where recipients end up at the horizon (% of recipients)",
        &[
            (state_shares(tallies, false), SEND_COLOR, "SEND".into()),
            (
                state_shares(tallies, true),
                PAPER_COLOR,
                "all-paper process".into(),
            ),
        ],
    )
}

/// Final-state shares as horizontal bars: in each state's row one bar per series, the
/// first on top.
pub(crate) fn state_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    caption: &str,
    series: &[(Vec<f64>, RGBColor, String)],
) -> Result<()> {
    let n = FinalState::ALL.len() as f64;
    let k = series.len().max(1) as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(caption, (FONT, 26))
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
    // The rows' bars share 0.8 of a row, from 0.1 up.
    let height = 0.8 / k;
    for (j, (shares, color, label)) in series.iter().enumerate() {
        let color = *color;
        let lo = 0.1 + (k - 1.0 - j as f64) * height;
        chart
            .draw_series(shares.iter().enumerate().map(|(i, s)| {
                let y = i as f64 + lo;
                Rectangle::new([(0.0, y), (s * 100.0, y + 0.95 * height)], color.filled())
            }))
            .map_err(err)?
            .label(label.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], color.filled()));
        chart
            .draw_series(
                shares
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| **s > 0.0)
                    .map(|(i, s)| {
                        Text::new(
                            format!("{:.1}%", s * 100.0),
                            (s * 100.0 + 0.8, i as f64 + lo + 0.75 * height),
                            (FONT, 13).into_font(),
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

/// Cost components per notification, in euro: (label, SEND, all-paper).
fn cost_components(model: &Model, tallies: &[Tally]) -> Vec<(&'static str, f64, f64)> {
    let p = &model.scenario.prices;
    let n: u64 = tallies.iter().map(|t| t.notifications).sum::<u64>().max(1);
    let sum =
        |f: &dyn Fn(&Tally) -> i64| tallies.iter().map(f).sum::<i64>() as f64 / 100.0 / n as f64;
    let accepted = |t: &Tally| (t.send.recipients - t.send.refused) as i64;
    vec![
        (
            "body: SEND fee and own handling",
            sum(&|t| {
                accepted(t) * (p.send_fee_cents + p.body_handling_cents)
                    + t.send.refused as i64 * p.refusal_fee_cents
            }),
            0.0,
        ),
        (
            "body: paper (tender price + VAT) / print and postage",
            sum(&|t| with_vat(t.send.letter_cents, p.paper_vat_percent)),
            sum(&|t| t.baseline.letter_cents),
        ),
        (
            "citizen: notification charges",
            sum(&|t| t.send.citizen_charges_cents),
            sum(&|t| t.baseline.citizen_charges_cents),
        ),
    ]
}

fn cost_breakdown<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    model: &Model,
    tallies: &[Tally],
) -> Result<()> {
    let parts = cost_components(model, tallies);
    let totals = [
        parts.iter().map(|p| p.1).sum::<f64>(),
        parts.iter().map(|p| p.2).sum::<f64>(),
    ];
    let top = totals.iter().copied().fold(1.0, f64::max) * 1.35;
    let mut chart = ChartBuilder::on(root)
        .caption("Cost per notification (EUR): body and citizen", (FONT, 26))
        .margin(20)
        .x_label_area_size(20)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..2f64, 0f64..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("EUR per notification")
        .label_style((FONT, 16))
        .draw()
        .map_err(err)?;
    let colors = [
        RGBColor(0, 115, 230),
        RGBColor(120, 170, 230),
        RGBColor(240, 160, 40),
    ];
    for (k, (label, _, _)) in parts.iter().enumerate() {
        let color = colors[k % colors.len()];
        let bars: Vec<_> = (0..2usize)
            .map(|side| {
                let pick = |p: &(&str, f64, f64)| if side == 0 { p.1 } else { p.2 };
                let below: f64 = parts[..k].iter().map(pick).sum();
                let x = side as f64;
                Rectangle::new(
                    [(x + 0.2, below), (x + 0.8, below + pick(&parts[k]))],
                    color.filled(),
                )
            })
            .collect();
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(*label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], color.filled()));
    }
    chart
        .draw_series((0..2usize).map(|side| {
            let name = if side == 0 {
                "SEND"
            } else {
                "all-paper process"
            };
            Text::new(
                format!("{name}: EUR {:.2}", totals[side]),
                (side as f64 + 0.25, totals[side] + top * 0.05),
                (FONT, 18).into_font(),
            )
        }))
        .map_err(err)?;
    chart
        .configure_series_labels()
        .label_font((FONT, 16))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Writes every plot into `dir`.
pub fn write_all(dir: &Path, model: &Model, tallies: &[Tally]) -> Result<()> {
    for chart in [
        Chart::CashIn,
        Chart::TimeToPayment,
        Chart::ChannelMix,
        Chart::CostBreakdown,
    ] {
        render(
            dir,
            chart.file_name(),
            &RunChart {
                chart,
                model,
                tallies,
            },
        )?;
    }
    Ok(())
}
