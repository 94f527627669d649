//! The plots of `sendsim compare`: every scenario's SEND cash-in curve (with its 95%
//! band) over the first scenario's all-paper curve, and their channel mixes side by side.

use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plots::{
    Curve, Figure, band, cash_curves, cumulative_cash, render, state_bars, state_shares,
};
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

#[derive(Clone, Copy)]
enum Chart {
    CashIn,
    ChannelMix,
}

struct Comparison<'a> {
    chart: Chart,
    names: &'a [String],
    runs: &'a [Vec<Tally>],
}

impl Figure for Comparison<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        match self.chart {
            Chart::CashIn => cash_in(root, self.names, self.runs),
            Chart::ChannelMix => channel_mix(root, self.names, self.runs),
        }
    }
}

/// Writes `cash_in_compare` and `channel_mix_compare` (PNG and SVG) into `dir`.
pub fn write_all(dir: &Path, names: &[String], runs: &[Vec<Tally>]) -> Result<()> {
    for (chart, name) in [
        (Chart::CashIn, "cash_in_compare"),
        (Chart::ChannelMix, "channel_mix_compare"),
    ] {
        render(dir, name, &Comparison { chart, names, runs })?;
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
    let mut series: Vec<(&Curve, RGBColor, String)> = curves
        .iter()
        .zip(names)
        .enumerate()
        .map(|(i, (c, n))| (c, PALETTE[i % PALETTE.len()], n.clone()))
        .collect();
    series.push((
        &paper,
        PAPER_COLOR,
        format!("all-paper process ({})", names[0]),
    ));
    cash_curves(
        root,
        "Cumulative cash in per notification, SEND (mean, 95% band)",
        &series,
        0.15,
    )
}

fn channel_mix<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    names: &[String],
    runs: &[Vec<Tally>],
) -> Result<()> {
    let series: Vec<(Vec<f64>, RGBColor, String)> = runs
        .iter()
        .zip(names)
        .enumerate()
        .map(|(j, (t, n))| {
            (
                state_shares(t, false),
                PALETTE[j % PALETTE.len()],
                n.clone(),
            )
        })
        .collect();
    state_bars(
        root,
        "Where recipients end up at the horizon, SEND (% of recipients)",
        &series,
    )
}
