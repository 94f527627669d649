//! The `[projection]` table of a scenario: how bodies join SEND over the months, what
//! they send, how recipients' digital adoption grows, and the programme that funds it.
//! `sendsim project` reads it; `sendsim run` ignores it.

use serde::{Deserialize, Serialize};

use crate::dist::Dist;
use crate::scenario::Checker;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Projection {
    /// First projected month, `YYYY-MM`.
    pub start_month: String,
    pub months: u32,
    /// Notifications simulated with the model for each month (its mix and adoption).
    pub sample_notifications: u64,
    /// The programme's budget.
    pub budget_eur: f64,
    /// From a body's application to its contract, then to going live.
    pub contract_months: u32,
    pub implementation_months: u32,
    /// Bodies with fewer notifications in all upload them by hand on the portal (and
    /// bear the notification cost); the others integrate automatically.
    pub manual_upload_below: f64,
    /// ASYNC cost update: hours for a cost change to reach the debt position.
    pub async_update_hours: f64,
    /// The act that bodies may keep on paper (`leave_out_fines_share`).
    pub fines_act: String,
    /// Recipients' digital adoption over time.
    pub adoption: Adoption,
    /// The admissibility cases (payment × attachment upload × cost update).
    pub cases: Vec<Case>,
    /// Bodies by type.
    pub bodies: Vec<BodyType>,
}

/// A logistic curve over months: `ceiling / (1 + exp(-(m - midpoint) / months))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Curve {
    pub ceiling: f64,
    /// The month (`YYYY-MM`) at half the ceiling.
    pub midpoint: String,
    /// Months for the curve to rise by a factor e around its midpoint (its scale).
    pub months: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adoption {
    pub io_send_enabled_share: Curve,
    pub general_domicile_share: Curve,
    pub platform_domicile_share: Curve,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CostUpdate {
    /// The body's system asks SEND the current cost when the citizen pays.
    #[serde(rename = "SYNC")]
    Sync,
    /// SEND pushes each cost change into the debt position.
    #[serde(rename = "ASYNC")]
    Async,
    /// The amount is never updated.
    #[serde(rename = "NONE")]
    None,
}

impl CostUpdate {
    pub const ALL: [CostUpdate; 3] = [CostUpdate::Sync, CostUpdate::Async, CostUpdate::None];
    pub fn name(self) -> &'static str {
        match self {
            CostUpdate::Sync => "SYNC",
            CostUpdate::Async => "ASYNC",
            CostUpdate::None => "NONE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    /// Notifications carry a pagoPA payment notice.
    pub payment: bool,
    /// The body uploads the payment notice as an attachment (printed with the act).
    pub upload: bool,
    pub cost_update: CostUpdate,
    /// Share of bodies in this case.
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyType {
    pub name: String,
    pub count: u32,
    /// Share of the bodies that ever apply.
    pub join_share: f64,
    /// Month of application, counted from `start_month` (negative: before it).
    pub apply_month: Dist,
    /// Notifications a body of this type sends in a year.
    pub annual_notifications: Dist,
    /// The body's acts: act name (from `[[acts]]`) → share of its notifications.
    pub acts: std::collections::BTreeMap<String, f64>,
    /// Bodies that keep traffic fines on paper.
    pub leave_out_fines_share: f64,
    /// Relative volume by calendar month, January first.
    pub seasonality: [f64; 12],
    /// Share of the yearly volume sent in campaigns (bursts) rather than steadily.
    pub campaign_share: f64,
    pub campaigns_per_year: u32,
    /// The programme's lump sum for a body of this type that goes live.
    pub funding_eur: f64,
}

/// `YYYY-MM` as months since year 0.
pub fn month_index(text: &str) -> Result<i64, String> {
    let parsed = text
        .split_once('-')
        .and_then(|(y, m)| Some((y.parse::<i64>().ok()?, m.parse::<i64>().ok()?)));
    match parsed {
        Some((y, m)) if (1..=12).contains(&m) && text.len() == 7 => Ok(y * 12 + m - 1),
        _ => Err(format!("expected a month like 2024-01, got {text:?}")),
    }
}

pub fn month_name(index: i64) -> String {
    format!(
        "{:04}-{:02}",
        index.div_euclid(12),
        index.rem_euclid(12) + 1
    )
}

impl Curve {
    /// The curve's value `month` months after year 0 (see `month_index`).
    pub fn at(&self, month: i64) -> f64 {
        let mid = month_index(&self.midpoint).unwrap_or(0) as f64;
        self.ceiling / (1.0 + (-(month as f64 - mid) / self.months).exp())
    }
}

impl Projection {
    pub(crate) fn check(&self, c: &mut Checker, act_names: &[&str]) {
        let p = "projection";
        if let Err(m) = month_index(&self.start_month) {
            c.push(&format!("{p}.start_month"), m);
        }
        c.at_least(&format!("{p}.months"), self.months as f64, 1.0);
        if self.months > 240 {
            c.push(
                &format!("{p}.months"),
                format!("expected at most 240, got {}", self.months),
            );
        }
        c.at_least(
            &format!("{p}.sample_notifications"),
            self.sample_notifications as f64,
            100.0,
        );
        c.non_negative(&format!("{p}.budget_eur"), self.budget_eur);
        c.non_negative(
            &format!("{p}.manual_upload_below"),
            self.manual_upload_below,
        );
        c.non_negative(&format!("{p}.async_update_hours"), self.async_update_hours);
        for (name, curve) in [
            (
                "io_send_enabled_share",
                &self.adoption.io_send_enabled_share,
            ),
            (
                "general_domicile_share",
                &self.adoption.general_domicile_share,
            ),
            (
                "platform_domicile_share",
                &self.adoption.platform_domicile_share,
            ),
        ] {
            let path = format!("{p}.adoption.{name}");
            c.prob(&format!("{path}.ceiling"), curve.ceiling);
            if let Err(m) = month_index(&curve.midpoint) {
                c.push(&format!("{path}.midpoint"), m);
            }
            c.positive(&format!("{path}.months"), curve.months);
        }
        if !act_names.contains(&self.fines_act.as_str()) {
            c.push(
                &format!("{p}.fines_act"),
                format!("unknown act; expected one of {}", act_names.join(", ")),
            );
        }
        if self.cases.is_empty() {
            c.push(
                &format!("{p}.cases"),
                "expected at least one admissibility case".into(),
            );
        }
        for (i, case) in self.cases.iter().enumerate() {
            c.prob(&format!("{p}.cases[{i}].share"), case.share);
            if !case.payment && case.cost_update != CostUpdate::None {
                c.push(
                    &format!("{p}.cases[{i}].cost_update"),
                    format!(
                        "a case without payment has no cost to update: expected \"NONE\", got \"{}\"",
                        case.cost_update.name()
                    ),
                );
            }
        }
        c.sum_to_one(
            &format!("{p}.cases (share)"),
            self.cases.iter().map(|x| x.share),
        );
        if self.bodies.is_empty() {
            c.push(
                &format!("{p}.bodies"),
                "expected at least one body type".into(),
            );
        }
        for (i, b) in self.bodies.iter().enumerate() {
            let path = format!("{p}.bodies[{i}]");
            c.prob(&format!("{path}.join_share"), b.join_share);
            c.prob(
                &format!("{path}.leave_out_fines_share"),
                b.leave_out_fines_share,
            );
            c.prob(&format!("{path}.campaign_share"), b.campaign_share);
            if b.campaign_share > 0.0 && b.campaigns_per_year == 0 {
                c.push(
                    &format!("{path}.campaigns_per_year"),
                    "campaign_share > 0 needs at least one campaign a year".into(),
                );
            }
            if b.campaigns_per_year > 12 {
                c.push(
                    &format!("{path}.campaigns_per_year"),
                    format!("expected at most 12, got {}", b.campaigns_per_year),
                );
            }
            c.non_negative(&format!("{path}.funding_eur"), b.funding_eur);
            if let Err(m) = b.apply_month.check() {
                c.push(
                    &format!("{path}.apply_month"),
                    format!("impossible distribution: {m}"),
                );
            }
            c.dist_min(
                &format!("{path}.annual_notifications"),
                &b.annual_notifications,
                0.0,
            );
            for (k, w) in b.seasonality.iter().enumerate() {
                c.non_negative(&format!("{path}.seasonality[{k}]"), *w);
            }
            if b.seasonality.iter().sum::<f64>() <= 0.0 {
                c.push(
                    &format!("{path}.seasonality"),
                    "expected some month with a weight > 0".into(),
                );
            }
            for (act, w) in &b.acts {
                let ap = format!("{path}.acts.{act}");
                if !act_names.contains(&act.as_str()) {
                    c.push(
                        &ap,
                        format!("unknown act; expected one of {}", act_names.join(", ")),
                    );
                }
                c.prob(&ap, *w);
            }
            c.sum_to_one(&format!("{path}.acts"), b.acts.values().copied());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_curves() {
        assert_eq!(
            month_index("2024-01").unwrap() - month_index("2023-12").unwrap(),
            1
        );
        assert_eq!(month_name(month_index("2025-09").unwrap()), "2025-09");
        assert!(month_index("2024-13").is_err());
        assert!(month_index("24-1").is_err());
        let c = Curve {
            ceiling: 0.4,
            midpoint: "2025-01".into(),
            months: 6.0,
        };
        let mid = month_index("2025-01").unwrap();
        assert!((c.at(mid) - 0.2).abs() < 1e-12);
        assert!(c.at(mid - 24) < 0.01 && c.at(mid + 24) > 0.39);
    }
}
