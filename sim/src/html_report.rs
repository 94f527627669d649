//! `sendsim run --report`: one self-contained HTML page for people (plots embedded as
//! PNG data, tables, every scenario parameter with its source) that can be mailed. It
//! holds no wall-clock time, so the same run gives the same page.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine;

use crate::compare::HEADLINE_KPIS;
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
    let mut out = String::with_capacity(1 << 20);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>sendsim: {name}</title><style>{STYLE}</style></head><body>\
<h1>SEND against the all-paper process: {name}</h1><p>{desc}</p>\
<p class=\"muted\">{reps} replication(s) of {n} notifications each, seed {seed}, from {start} over {days} days · scenario hash <code>{hash}</code> · sendsim {version}</p>",
        name = escape(&s.scenario),
        desc = escape(&sc.description),
        reps = s.replications,
        n = s.notifications_per_replication,
        seed = s.seed,
        start = escape(&sc.start),
        days = s.horizon_days,
        hash = escape(&s.scenario_hash[..12.min(s.scenario_hash.len())]),
        version = env!("CARGO_PKG_VERSION"),
    );
    out.push_str("<h2>Headline figures</h2><p>Each figure is the mean across replications; the interval is Student's t at 95% over replications, paired (both processes serve the same recipients).</p>");
    kpi_table(&mut out, s, &HEADLINE_KPIS);
    let _ = write!(
        out,
        "<p>{} recipients in all; {} payments with SEND against {} on paper.</p>",
        s.counts.recipients, s.counts.payments_send, s.counts.payments_baseline
    );

    out.push_str("<h2>Cash in</h2>");
    figure(
        &mut out,
        p.plots,
        "cash_in",
        "Cumulative cash in per notification, SEND against the all-paper process (mean and 95% band across replications)",
    )?;
    out.push_str("<h2>Time to payment</h2>");
    figure(
        &mut out,
        p.plots,
        "time_to_payment",
        "Share of payments by week after sending",
    )?;
    out.push_str("<h2>Where recipients ended</h2>");
    figure(
        &mut out,
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
        &mut out,
        p.plots,
        "cost_breakdown",
        "What one notification costs the body and the citizen, by item",
    )?;

    out.push_str("<h2>Every KPI</h2>");
    let names: Vec<&str> = s.kpis.keys().map(String::as_str).collect();
    kpi_table(&mut out, s, &names);

    parameters(&mut out, sc, p.sources);

    out.push_str("<h2>Reproduce</h2><p>The same command gives the same figures on any machine and thread count:</p>");
    let _ = write!(out, "<pre>{}</pre>", escape(p.reproduce));
    out.push_str("</body></html>\n");
    Ok(out)
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
