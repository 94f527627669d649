//! The calibration's convergence: after each simulation, the root of the best point's
//! sum of squared relative residuals (log scale), with the tolerance it must get under.

use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::calibrate::Calibration;
use crate::plots::{FONT, Figure, err, render};

/// Writes `convergence.png` and `.svg`.
pub fn write_all(dir: &Path, c: &Calibration) -> Result<()> {
    render(dir, "convergence", &Convergence(c))
}

struct Convergence<'a>(&'a Calibration);

impl Figure for Convergence<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let c = self.0;
        let points: Vec<(f64, f64)> = c
            .history
            .iter()
            .enumerate()
            .map(|(i, cost)| ((i + 1) as f64, cost.sqrt().max(1e-6)))
            .collect();
        let top = points
            .iter()
            .map(|p| p.1)
            .fold(c.tolerance, f64::max)
            .max(1e-5)
            * 2.0;
        let bottom = points.iter().map(|p| p.1).fold(c.tolerance, f64::min) * 0.5;
        let n = points.len().max(2) as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "Calibration: {} targets, {} free parameters",
                    c.targets.len(),
                    c.free.len()
                ),
                (FONT, 24),
            )
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(1f64..n, (bottom..top).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("simulations")
            .y_desc("best root sum of squared relative residuals")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| {
                format!(
                    "{}%",
                    crate::sensitivity::literal(crate::calibrate::round(y * 100.0))
                )
            })
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 18))
            .draw()
            .map_err(err)?;
        let line = RGBColor(0, 115, 230);
        chart
            .draw_series(LineSeries::new(points, line.stroke_width(3)))
            .map_err(err)?
            .label("best so far")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], line.stroke_width(3)));
        let tol = RGBColor(200, 90, 40);
        chart
            .draw_series(LineSeries::new(
                [(1.0, c.tolerance), (n, c.tolerance)],
                tol.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!("tolerance {:.2}%", c.tolerance * 100.0))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], tol.stroke_width(2)));
        chart
            .configure_series_labels()
            .label_font((FONT, 16))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        Ok(())
    }
}
