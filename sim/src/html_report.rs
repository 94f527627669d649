//! `sendsim run --report`: one self-contained HTML page for people (plots embedded as
//! PNG data, tables, every scenario parameter with its source) that can be mailed. It
//! holds no wall-clock time, so the same run gives the same page.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine;

use crate::compare::{Comparison, HEADLINE_KPIS};
use crate::project::Projected;
use crate::provenance::{Sources, flatten};
use crate::report::{KpiReport, Summary, fmt_interval, fmt_value};
use crate::scenario::Scenario;

/// What each KPI means, for readers who do not know the names.
pub fn kpi_meaning(name: &str) -> &'static str {
    match name {
        "refused_share" => "notifications refused at validation, per recipient",
        "digital_share" => "recipients served digitally (PEC, or viewed before any letter)",
        "paper_share" => "recipients served by registered letter",
        "reached_share" => "recipients who got the act (delivered, viewed or collected)",
        "unreachable_share" => "recipients found at no address",
        "returned_share" => "letters returned to the sender",
        "viewed_share" => "recipients who opened the notification online",
        "paid_share" => "recipients with a payment notice who paid",
        "paid_within_5d_share" => "payments made within 5 days of sending",
        "mean_days_to_payment" => "mean days from sending to payment",
        "cost_body_cents_per_notification" => "what a notification costs the body",
        "cost_citizen_cents_per_notification" => {
            "notification charges a citizen pays per notification"
        }
        "citizen_outlay_cents_per_notification" => "all a citizen pays, act amount included",
        "cash_in_cents_per_notification" => "cash the body collects per notification",
        "cash_anticipation_days" => "how much earlier the cash comes in than on paper",
        _ => "",
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1060px;margin:2em auto;padding:0 1em;color:#1b1b1b;line-height:1.45}\
h1{font-size:1.7em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ccc;padding-bottom:.2em}\
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#f2f4f7}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
img{max-width:100%;height:auto;border:1px solid #eee}figure{margin:1em 0}figcaption{color:#555;font-size:.9em}\
code{font-size:.92em}.muted{color:#666}.assumption{color:#8a5a00}pre{background:#f6f8fa;padding:.8em;overflow-x:auto}";

/// A page under construction: head and style, then sections.
pub struct Page {
    html: String,
}

impl Page {
    pub fn new(title: &str) -> Page {
        let mut html = String::with_capacity(1 << 20);
        let _ = write!(
            html,
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>sendsim: {t}</title><style>{STYLE}</style></head><body><h1>{t}</h1>",
            t = escape(title)
        );
        Page { html }
    }
    pub fn h2(&mut self, text: &str) {
        let _ = write!(self.html, "<h2>{}</h2>", escape(text));
    }
    /// A paragraph of plain text.
    pub fn p(&mut self, text: &str) {
        let _ = write!(self.html, "<p>{}</p>", escape(text));
    }
    pub fn muted(&mut self, text: &str) {
        let _ = write!(self.html, "<p class=\"muted\">{}</p>", escape(text));
    }
    /// A table of plain-text cells; cells of `numeric` columns are right-aligned.
    pub fn table(&mut self, head: &[&str], rows: &[Vec<String>], numeric: &[usize]) {
        self.html.push_str("<table><thead><tr>");
        for h in head {
            let _ = write!(self.html, "<th>{}</th>", escape(h));
        }
        self.html.push_str("</tr></thead><tbody>");
        for row in rows {
            self.html.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                let class = if numeric.contains(&i) {
                    " class=\"n\""
                } else {
                    ""
                };
                let _ = write!(self.html, "<td{class}>{}</td>", escape(cell));
            }
            self.html.push_str("</tr>");
        }
        self.html.push_str("</tbody></table>");
    }
    /// Embeds `dir/name.png` as PNG data.
    pub fn figure(&mut self, dir: &Path, name: &str, caption: &str) -> Result<()> {
        figure(&mut self.html, dir, name, caption)
    }
    pub fn pre(&mut self, text: &str) {
        let _ = write!(self.html, "<pre>{}</pre>", escape(text));
    }
    pub fn finish(mut self) -> String {
        self.html.push_str("</body></html>\n");
        self.html
    }
}

/// Everything a run's page is made of.
pub struct RunPage<'a> {
    pub summary: &'a Summary,
    pub scenario: &'a Scenario,
    pub sources: &'a Sources,
    /// The folder holding the run's PNG plots.
    pub plots: &'a Path,
    /// The command that gives the same run.
    pub reproduce: &'a str,
}

fn kpi_row(out: &mut String, name: &str, r: &KpiReport) {
    let _ = write!(
        out,
        "<tr><td><code>{}</code><br><span class=\"muted\">{}</span></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
        escape(name),
        escape(kpi_meaning(name)),
        escape(&fmt_value(&r.unit, r.send.mean, false)),
        escape(&fmt_value(&r.unit, r.baseline.mean, false)),
        escape(&fmt_value(&r.unit, r.difference.mean, true)),
        escape(&fmt_interval(&r.unit, &r.difference)),
    );
}

fn kpi_table(out: &mut String, s: &Summary, names: &[&str]) {
    out.push_str("<table><thead><tr><th>KPI</th><th>SEND</th><th>all-paper process</th><th>difference</th><th>95% interval of the difference</th></tr></thead><tbody>");
    for name in names {
        if let Some(r) = s.kpis.get(*name) {
            kpi_row(out, name, r);
        }
    }
    out.push_str("</tbody></table>");
}

fn figure(out: &mut String, dir: &Path, name: &str, caption: &str) -> Result<()> {
    let path = dir.join(format!("{name}.png"));
    let bytes =
        std::fs::read(&path).with_context(|| format!("report: cannot read {}", path.display()))?;
    let _ = write!(
        out,
        "<figure><img src=\"data:image/png;base64,{}\" alt=\"{}\" width=\"1000\" height=\"600\"><figcaption>{}</figcaption></figure>",
        base64::engine::general_purpose::STANDARD.encode(bytes),
        escape(caption),
        escape(caption)
    );
    Ok(())
}

/// The page of one run.
pub fn run_page(p: &RunPage) -> Result<String> {
    let s = p.summary;
    let sc = p.scenario;
    let mut page = Page::new(&format!(
        "SEND against the all-paper process: {}",
        s.scenario
    ));
    page.p(&sc.description);
    let _ = write!(
        page.html,
        "<p class=\"muted\">{reps} replication(s) of {n} notifications each, seed {seed}, from {start} over {days} days · scenario hash <code>{hash}</code> · sendsim {version}</p>",
        reps = s.replications,
        n = s.notifications_per_replication,
        seed = s.seed,
        start = escape(&sc.start),
        days = s.horizon_days,
        hash = escape(&s.scenario_hash[..12.min(s.scenario_hash.len())]),
        version = env!("CARGO_PKG_VERSION"),
    );
    let out = &mut page.html;
    out.push_str("<h2>Headline figures</h2><p>Each figure is the mean across replications; the interval is Student's t at 95% over replications, paired (both processes serve the same recipients).</p>");
    kpi_table(out, s, &HEADLINE_KPIS);
    let _ = write!(
        out,
        "<p>{} recipients in all; {} payments with SEND against {} on paper.</p>",
        s.counts.recipients, s.counts.payments_send, s.counts.payments_baseline
    );

    out.push_str("<h2>Cash in</h2>");
    figure(
        out,
        p.plots,
        "cash_in",
        "Cumulative cash in per notification, SEND against the all-paper process (mean and 95% band across replications)",
    )?;
    out.push_str("<h2>Time to payment</h2>");
    figure(
        out,
        p.plots,
        "time_to_payment",
        "Share of payments by week after sending",
    )?;
    out.push_str("<h2>Where recipients ended</h2>");
    figure(
        out,
        p.plots,
        "channel_mix",
        "Final state of each recipient at the horizon, on each side",
    )?;
    out.push_str("<table><thead><tr><th>final state</th><th>SEND</th><th>all-paper process</th></tr></thead><tbody>");
    if let (Some(send), Some(base)) = (
        s.final_states.get("send").and_then(|v| v.as_object()),
        s.final_states.get("baseline").and_then(|v| v.as_object()),
    ) {
        for (state, v) in send {
            let b = base.get(state).and_then(|x| x.as_f64()).unwrap_or(0.0);
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{:.1}</td><td class=\"n\">{b:.1}</td></tr>",
                escape(state),
                v.as_f64().unwrap_or(0.0)
            );
        }
    }
    out.push_str("</tbody></table><p class=\"muted\">Recipients per replication (mean).</p>");
    out.push_str("<h2>What a notification costs</h2>");
    figure(
        out,
        p.plots,
        "cost_breakdown",
        "What one notification costs the body and the citizen, by item",
    )?;

    out.push_str("<h2>Every KPI</h2>");
    let names: Vec<&str> = s.kpis.keys().map(String::as_str).collect();
    kpi_table(out, s, &names);

    parameters(out, sc, p.sources);

    out.push_str("<h2>Reproduce</h2><p>The same command gives the same figures on any machine and thread count:</p>");
    let _ = write!(out, "<pre>{}</pre>", escape(p.reproduce));
    Ok(page.finish())
}

/// The page of a comparison (`sendsim compare --report`); `plots` holds its PNGs.
pub fn compare_page(c: &Comparison, plots: &Path, reproduce: &str) -> Result<String> {
    let names: Vec<&str> = c.scenarios.iter().map(|s| s.name.as_str()).collect();
    let mut page = Page::new(&format!("Scenarios compared: {}", names.join(" vs ")));
    page.muted(&format!(
        "{} replication(s) of {} notifications each per scenario, seed {}, common random numbers (replication r of every scenario draws the same random numbers) · sendsim {}",
        c.replications,
        c.notifications_per_replication,
        c.seed,
        env!("CARGO_PKG_VERSION")
    ));
    if let Some(p) = &c.precision {
        page.p(&format!(
            "Replications were added until every headline KPI's 95% half-width was under {:.2}% of its mean: {} (least precise: {} in {}, {:.2}%).",
            p.target_relative_half_width * 100.0,
            if p.reached { "reached" } else { "NOT reached within the cap" },
            p.worst_kpi,
            p.worst_scenario,
            p.worst_relative_half_width * 100.0
        ));
    }
    let head: Vec<String> = std::iter::once("KPI (SEND side)".to_string())
        .chain(names.iter().map(|n| n.to_string()))
        .chain(names[1..].iter().map(|n| format!("{n} − {}", names[0])))
        .collect();
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    let rows = |only: &[&str]| -> Vec<Vec<String>> {
        c.kpis
            .iter()
            .filter(|(k, _)| only.is_empty() || only.contains(&k.as_str()))
            .map(|(k, v)| {
                std::iter::once(k.clone())
                    .chain(v.scenarios.iter().map(|e| {
                        format!(
                            "{} {}",
                            fmt_value(&v.unit, e.mean, false),
                            fmt_interval(&v.unit, e)
                        )
                    }))
                    .chain(v.difference_from_first.iter().flatten().map(|d| {
                        format!(
                            "{} {}",
                            fmt_value(&v.unit, d.mean, true),
                            fmt_interval(&v.unit, d)
                        )
                    }))
                    .collect()
            })
            .collect()
    };
    let numeric: Vec<usize> = (1..head.len()).collect();
    page.h2("Headline figures");
    page.p("Each scenario's mean with its 95% interval, then each scenario's paired difference from the first with its interval.");
    page.table(&head, &rows(&HEADLINE_KPIS), &numeric);
    page.h2("Cash in");
    page.figure(plots, "cash_in_compare", "Cumulative cash in per notification: each scenario with SEND, and the first scenario's all-paper process")?;
    page.h2("Where recipients ended");
    page.figure(
        plots,
        "channel_mix_compare",
        "Final states of recipients, scenario by scenario",
    )?;
    page.h2("Every KPI");
    page.table(&head, &rows(&[]), &numeric);
    page.h2("Scenarios");
    let rows: Vec<Vec<String>> = c
        .scenarios
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.file.clone(),
                s.hash[..12.min(s.hash.len())].to_string(),
            ]
        })
        .collect();
    page.table(&["scenario", "file", "hash"], &rows, &[]);
    page.h2("Reproduce");
    page.pre(reproduce);
    Ok(page.finish())
}

/// The page of a projection (`sendsim project --report`); `plots` holds its PNGs.
pub fn project_page(
    p: &Projected,
    scenario: &Scenario,
    sources: &Sources,
    plots: &Path,
    reproduce: &str,
) -> Result<String> {
    let mut page = Page::new(&format!("Adoption projection: {}", p.scenario));
    page.p(&scenario.description);
    page.muted(&format!(
        "{} bodies, {} months from {}, {} notifications simulated per month through the model, seed {} · sendsim {}",
        p.bodies,
        p.months.len(),
        p.months.first().map_or("", |m| m.month.as_str()),
        p.sample_notifications,
        p.seed,
        env!("CARGO_PKG_VERSION")
    ));
    page.h2("Years against the public series");
    let rows: Vec<Vec<String>> = p
        .years
        .iter()
        .map(|y| {
            let (obs, od, dev) = match (y.observed_notifications, y.observed_digital_share) {
                (Some(o), Some(d)) => (
                    format!("{o:.0} ({} months)", y.observed_months),
                    format!("{:.1}%", d * 100.0),
                    format!(
                        "{:+.1}%",
                        (y.simulated_in_observed_months / o - 1.0) * 100.0
                    ),
                ),
                _ => (String::new(), String::new(), String::new()),
            };
            vec![
                y.year.to_string(),
                y.months.to_string(),
                format!("{:.0}", y.notifications),
                format!("{:.1}%", y.digital_share * 100.0),
                obs,
                od,
                dev,
            ]
        })
        .collect();
    page.table(
        &[
            "year",
            "months",
            "notifications",
            "digital",
            "observed (same months)",
            "observed digital",
            "deviation in the same months",
        ],
        &rows,
        &[1, 2, 3, 4, 5, 6],
    );
    let t = &p.totals;
    let m = |v: f64| format!("EUR {:.1}M", v / 1e6);
    page.h2("The whole projection");
    let rows = vec![
        vec!["notifications".into(), format!("{:.0}", t.notifications)],
        vec![
            "digital share".into(),
            format!("{:.1}%", t.digital_share * 100.0),
        ],
        vec![
            "bodies live at the end".into(),
            format!("{} of {}", t.bodies_live_at_end, p.bodies),
        ],
        vec![
            "what bodies bear (costs less charges paid back)".into(),
            m(t.cost_body_eur),
        ],
        vec![
            "notification charges citizens pay".into(),
            m(t.cost_citizen_eur),
        ],
        vec![
            "bodies' savings against paper".into(),
            m(t.savings_body_eur),
        ],
        vec![
            "citizens' savings against paper".into(),
            m(t.savings_citizen_eur),
        ],
        vec!["cash in".into(), m(t.cash_in_eur)],
        vec![
            "more cash within 90 days of sending than on paper".into(),
            m(t.cash_earlier_90d_eur),
        ],
        vec!["payments".into(), format!("{:.0}", t.payments)],
        vec![
            "payments at an amount without the notification's final cost".into(),
            format!(
                "{:.0} ({:.1}%)",
                t.payments_before_final_cost,
                crate::project::share(t.payments_before_final_cost, t.payments) * 100.0
            ),
        ],
        vec![
            "programme funding committed".into(),
            m(t.funding_committed_eur),
        ],
        vec![
            "programme funding paid to live bodies".into(),
            m(t.funding_paid_eur),
        ],
        vec!["programme budget".into(), m(p.budget_eur)],
    ];
    page.table(&["figure", "value"], &rows, &[1]);
    page.h2("Notifications per month");
    page.figure(
        plots,
        "projection_notifications",
        "Notifications per month, simulated and observed (SEND in numeri)",
    )?;
    page.h2("Digital share");
    page.figure(
        plots,
        "projection_digital_share",
        "Digital share of notifications, simulated and observed, with the IO adoption curve",
    )?;
    page.h2("Costs");
    page.figure(plots, "projection_costs", "What bodies bear and what citizens pay per month, with SEND and for the same acts on paper")?;
    page.h2("Cash");
    page.figure(
        plots,
        "projection_cash",
        "Cash in within 90 days of sending, per month's notifications",
    )?;
    page.h2("The programme");
    page.figure(
        plots,
        "projection_programme",
        "Funding committed and paid against the budget",
    )?;
    page.h2("Month by month");
    let rows: Vec<Vec<String>> = p
        .months
        .iter()
        .map(|r| {
            vec![
                r.month.clone(),
                r.bodies_live.to_string(),
                format!("{:.0}", r.notifications),
                r.observed_notifications
                    .map_or(String::new(), |v| format!("{v:.0}")),
                format!("{:.1}%", r.digital_share * 100.0),
                r.observed_digital_share
                    .map_or(String::new(), |v| format!("{:.1}%", v * 100.0)),
                m(r.cost_body_eur),
                m(r.cost_citizen_eur),
                m(r.savings_body_eur),
                format!("{:.0}", r.payments_before_final_cost),
                m(r.funding_committed_eur),
            ]
        })
        .collect();
    page.table(
        &[
            "month",
            "bodies live",
            "notifications",
            "observed",
            "digital",
            "observed digital",
            "bodies bear",
            "citizens pay",
            "bodies save",
            "payments before final cost",
            "funding committed",
        ],
        &rows,
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    parameters(&mut page.html, scenario, sources);
    page.h2("Reproduce");
    page.pre(reproduce);
    Ok(page.finish())
}

fn parameters(out: &mut String, sc: &Scenario, sources: &Sources) {
    let root = toml::Value::try_from(sc).expect("scenario serialises to TOML");
    let params: Vec<(String, String)> = flatten(&root)
        .into_iter()
        .filter(|(path, _)| !path.starts_with("ranges."))
        .collect();
    let notes: Vec<Option<&str>> = params
        .iter()
        .map(|(path, _)| sources.of(path).and_then(|s| s.note.as_deref()))
        .collect();
    let assumed = notes
        .iter()
        .filter(|n| n.is_some_and(|n| n.contains("assumption")))
        .count();
    let noted = notes.iter().filter(|n| n.is_some()).count();
    let _ = write!(
        out,
        "<h2>Scenario parameters</h2><p>{} parameters: {} marked as assumptions in their file, {} with a source or note, {} without (identifiers, switches and values stated by the act's rules). A range is the plausible range that <code>sendsim sensitivity</code> and <code>sendsim calibrate</code> use.</p>",
        params.len(),
        assumed,
        noted - assumed,
        params.len() - noted
    );
    out.push_str("<table><thead><tr><th>parameter</th><th>value</th><th>range</th><th>set by</th><th>source or note</th></tr></thead><tbody>");
    for (path, value) in &params {
        let src = sources.of(path);
        let note = src.and_then(|s| s.note.as_deref()).unwrap_or("");
        let range = sc
            .ranges
            .get(path)
            .map(|[lo, hi]| format!("{lo} – {hi}"))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td class=\"n\">{}</td><td>{}</td><td{}>{}</td></tr>",
            escape(path),
            escape(value),
            escape(&range),
            escape(src.map_or("", |s| s.layer.as_str())),
            if note.contains("assumption") {
                " class=\"assumption\""
            } else {
                ""
            },
            escape(note)
        );
    }
    out.push_str("</tbody></table>");
    if !sources.citations.is_empty() {
        out.push_str("<h2>Sources</h2><table><tbody>");
        for (key, what) in &sources.citations {
            let _ = write!(
                out,
                "<tr><td><code>[{}]</code></td><td>{}</td></tr>",
                escape(key),
                escape(what)
            );
        }
        out.push_str("</tbody></table>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn every_kpi_has_a_meaning() {
        for k in crate::tally::KPI_NAMES {
            assert!(!kpi_meaning(k).is_empty(), "{k}");
        }
    }
}
