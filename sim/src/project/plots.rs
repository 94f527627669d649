//! Plots of a projection: notifications per month and digital share (simulated against
//! the public series), costs and savings, cash in within 90 days, bodies and the
//! programme's budget.

use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{MonthRow, Projected};
use crate::plots::{FONT, Figure, err, render};

const SIM: RGBColor = RGBColor(0, 115, 230);
const OBS: RGBColor = RGBColor(40, 40, 40);
const PAPER: RGBColor = RGBColor(200, 90, 40);
const THIRD: RGBColor = RGBColor(60, 150, 60);

/// Writes every projection plot into `dir`.
pub fn write_all(dir: &Path, p: &Projected) -> Result<()> {
    for chart in [
        Chart::Notifications,
        Chart::DigitalShare,
        Chart::Costs,
        Chart::Cash,
        Chart::Programme,
    ] {
        render(dir, chart.file_name(), &ProjectionChart { chart, p })?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Chart {
    Notifications,
    DigitalShare,
    Costs,
    Cash,
    Programme,
}

impl Chart {
    fn file_name(self) -> &'static str {
        match self {
            Chart::Notifications => "projection_notifications",
            Chart::DigitalShare => "projection_digital_share",
            Chart::Costs => "projection_costs",
            Chart::Cash => "projection_cash",
            Chart::Programme => "projection_programme",
        }
    }
}

struct ProjectionChart<'a> {
    chart: Chart,
    p: &'a Projected,
}

/// A named series over month indices.
struct Line {
    name: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

fn series(
    rows: &[MonthRow],
    name: &str,
    color: RGBColor,
    f: impl Fn(&MonthRow) -> Option<f64>,
) -> Line {
    Line {
        name: name.to_string(),
        color,
        points: rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| f(r).map(|v| (i as f64, v)))
            .collect(),
    }
}

impl Figure for ProjectionChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let rows = &self.p.months;
        let (title, unit, lines) = match self.chart {
            Chart::Notifications => (
                "Notifications per month: simulated and observed",
                "notifications (millions)",
                vec![
                    series(rows, "simulated", SIM, |r| Some(r.notifications / 1e6)),
                    series(rows, "observed (SEND in numeri)", OBS, |r| {
                        r.observed_notifications.map(|v| v / 1e6)
                    }),
                ],
            ),
            Chart::DigitalShare => (
                "Digital share of notifications: simulated and observed",
                "% of notifications",
                vec![
                    series(rows, "simulated", SIM, |r| {
                        (r.notifications > 0.0).then_some(r.digital_share * 100.0)
                    }),
                    series(rows, "observed (SEND in numeri)", OBS, |r| {
                        r.observed_digital_share.map(|v| v * 100.0)
                    }),
                    series(rows, "IO with SEND active (citizens)", THIRD, |r| {
                        Some(r.io_send_enabled_share * 100.0)
                    }),
                ],
            ),
            Chart::Costs => (
                "Notification costs per month",
                "EUR millions",
                vec![
                    series(rows, "bodies, with SEND", SIM, |r| {
                        Some(r.cost_body_eur / 1e6)
                    }),
                    series(rows, "bodies, the same acts on paper", PAPER, |r| {
                        Some(r.paper_cost_body_eur / 1e6)
                    }),
                    series(rows, "citizens, with SEND", THIRD, |r| {
                        Some(r.cost_citizen_eur / 1e6)
                    }),
                    series(rows, "citizens, on paper", OBS, |r| {
                        Some(r.paper_cost_citizen_eur / 1e6)
                    }),
                ],
            ),
            Chart::Cash => (
                "Cash in within 90 days of sending, per month's notifications",
                "EUR millions",
                vec![
                    series(rows, "with SEND", SIM, |r| Some(r.cash_in_90d_eur / 1e6)),
                    series(rows, "the same acts on paper", PAPER, |r| {
                        Some(r.paper_cash_in_90d_eur / 1e6)
                    }),
                ],
            ),
            Chart::Programme => (
                "The programme: funding committed and paid against the budget",
                "EUR millions",
                vec![
                    series(rows, "committed (contracts signed)", SIM, |r| {
                        Some(r.funding_committed_eur / 1e6)
                    }),
                    series(rows, "paid (bodies live)", THIRD, |r| {
                        Some(r.funding_paid_eur / 1e6)
                    }),
                    series(rows, "budget", PAPER, |_| Some(self.p.budget_eur / 1e6)),
                ],
            ),
        };
        let n = rows.len().max(2) as f64;
        let top = lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .fold(0.0f64, f64::max)
            .max(1e-9)
            * 1.1;
        let labels: Vec<String> = rows.iter().map(|r| r.month.clone()).collect();
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 24))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..(n - 1.0), 0f64..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("month")
            .y_desc(unit)
            .x_labels(12)
            .x_label_formatter(&|x| {
                labels
                    .get(x.round().max(0.0) as usize)
                    .cloned()
                    .unwrap_or_default()
            })
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .draw()
            .map_err(err)?;
        for l in lines {
            let color = l.color;
            chart
                .draw_series(LineSeries::new(l.points.clone(), color.stroke_width(3)))
                .map_err(err)?
                .label(l.name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(3))
                });
            chart
                .draw_series(l.points.iter().map(|p| Circle::new(*p, 3, color.filled())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 15))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(err)?;
        Ok(())
    }
}
