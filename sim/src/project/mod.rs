//! `sendsim project`: adoption month by month. Bodies (by type) apply, sign their contract
//! and go live after the contract and implementation phases; each live body sends its
//! monthly volume (steady by season, plus campaigns) in its admissibility case; the
//! recipients' digital adoption follows its curves. Each month's notifications are a
//! cohort: a sample of them runs through the same model as `sendsim run` (the month's
//! act mix, cases and adoption, the month's prices), and the sample's per-notification
//! results are scaled to the month's volume. No second model: only the population and
//! its mix change from month to month.

pub mod observed;
pub mod plots;
pub mod schema;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dist::{Dist, unit};
use crate::model::Model;
use crate::rng::StreamKey;
use crate::scenario::{FeePolicy, Scenario};
use crate::tally::{Tally, weighted_payment_day};
use crate::time::DAY;
use schema::{CostUpdate, Projection, month_index, month_name};

/// A body of the population.
#[derive(Debug, Clone)]
struct Body {
    kind: usize,
    /// Months from the start: application, contract, live (`None`: never applies).
    applies: Option<i64>,
    annual: f64,
    keeps_fines_on_paper: bool,
    case: usize,
    /// Per calendar year (from the first projected year), the months of its campaigns.
    campaigns: Vec<Vec<u8>>,
}

/// One month's figures (a row of projection.csv).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthRow {
    pub month: String,
    pub bodies_applied: u32,
    pub bodies_contracted: u32,
    pub bodies_live: u32,
    pub bodies_manual: u32,
    pub notifications: f64,
    /// Traffic fines of live bodies that keep them on paper.
    pub fines_kept_on_paper: f64,
    pub digital_share: f64,
    pub io_send_enabled_share: f64,
    pub general_domicile_share: f64,
    pub platform_domicile_share: f64,
    /// What the bodies bear: their costs less the notification charges citizens pay back.
    pub cost_body_eur: f64,
    /// Notification charges citizens pay.
    pub cost_citizen_eur: f64,
    pub paper_cost_body_eur: f64,
    pub paper_cost_citizen_eur: f64,
    pub savings_body_eur: f64,
    pub savings_citizen_eur: f64,
    pub cash_in_eur: f64,
    /// Cash in within 90 days of sending, with SEND and on paper.
    pub cash_in_90d_eur: f64,
    pub paper_cash_in_90d_eur: f64,
    pub cash_anticipation_days: f64,
    pub payments: f64,
    /// Payments made at an amount that did not yet include the notification's final cost.
    pub payments_before_final_cost: f64,
    pub payments_before_final_cost_sync: f64,
    pub payments_before_final_cost_async: f64,
    pub payments_before_final_cost_none: f64,
    pub funding_committed_eur: f64,
    pub funding_paid_eur: f64,
    pub budget_left_eur: f64,
    pub observed_notifications: Option<f64>,
    pub observed_digital_share: Option<f64>,
}

/// A year's totals, simulated and (where the public series covers the same months) observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct YearRow {
    pub year: i64,
    /// Months of the year in the projection.
    pub months: u32,
    pub notifications: f64,
    pub digital_share: f64,
    /// Over the months the public series covers.
    pub observed_months: u32,
    pub simulated_in_observed_months: f64,
    pub digital_share_in_observed_months: f64,
    pub observed_notifications: Option<f64>,
    pub observed_digital_share: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Projected {
    pub schema: String,
    pub scenario: String,
    pub scenario_hash: String,
    pub seed: u64,
    pub sample_notifications: u64,
    pub bodies: u32,
    pub budget_eur: f64,
    pub months: Vec<MonthRow>,
    pub years: Vec<YearRow>,
    pub totals: Totals,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub notifications: f64,
    pub digital_share: f64,
    pub cost_body_eur: f64,
    pub cost_citizen_eur: f64,
    pub savings_body_eur: f64,
    pub savings_citizen_eur: f64,
    pub cash_in_eur: f64,
    pub cash_earlier_90d_eur: f64,
    pub payments_before_final_cost: f64,
    pub payments: f64,
    pub funding_committed_eur: f64,
    pub funding_paid_eur: f64,
    pub bodies_live_at_end: u32,
}

pub const SCHEMA: &str = "sendsim-projection/1";

/// Draws the bodies of the projection (one generator stream per body).
fn bodies(p: &Projection, seed: u64) -> Vec<Body> {
    let years = (p.months as usize).div_ceil(12) + 1;
    let mut out = Vec::new();
    let mut index = 0u64;
    for (kind, t) in p.bodies.iter().enumerate() {
        let total_weight: f64 = t.seasonality.iter().sum();
        let apply_month = t.apply_month.sampler();
        let annual_notifications = t.annual_notifications.sampler();
        for _ in 0..t.count {
            let mut rng = StreamKey::stream_for(seed, u32::MAX, index);
            index += 1;
            let joins = unit(&mut rng) < t.join_share;
            let apply = apply_month.at(unit(&mut rng)).floor() as i64;
            let annual = annual_notifications.at(unit(&mut rng)).max(0.0);
            let keeps_fines_on_paper = unit(&mut rng) < t.leave_out_fines_share;
            let u_case = unit(&mut rng);
            let mut cum = 0.0;
            let case = p
                .cases
                .iter()
                .position(|c| {
                    cum += c.share;
                    u_case < cum
                })
                .unwrap_or(p.cases.len() - 1);
            // Campaign months: drawn by season, without repeats, each year.
            let campaigns = (0..years)
                .map(|_| {
                    let mut weights = t.seasonality;
                    let mut months = Vec::new();
                    for _ in 0..t.campaigns_per_year.min(12) {
                        let left: f64 = weights.iter().sum();
                        let u = unit(&mut rng) * if left > 0.0 { left } else { total_weight };
                        let mut acc = 0.0;
                        let m = (0..12)
                            .find(|&m| {
                                acc += weights[m];
                                u < acc
                            })
                            .unwrap_or_else(|| {
                                (0..12).rev().find(|&m| weights[m] > 0.0).unwrap_or(11)
                            });
                        weights[m] = 0.0;
                        months.push(m as u8);
                    }
                    months
                })
                .collect();
            out.push(Body {
                kind,
                applies: joins.then_some(apply),
                annual,
                keeps_fines_on_paper,
                case,
                campaigns,
            });
        }
    }
    out
}

/// What a body sends in projected month `k` (absolute month `abs`), once live.
fn body_volume(p: &Projection, b: &Body, k: i64, abs: i64, first_year: i64) -> f64 {
    let live_from = match b.applies {
        Some(a) => a + (p.contract_months + p.implementation_months) as i64,
        None => return 0.0,
    };
    if k < live_from {
        return 0.0;
    }
    let t = &p.bodies[b.kind];
    let moy = abs.rem_euclid(12) as usize;
    let weights: f64 = t.seasonality.iter().sum();
    let steady = b.annual * (1.0 - t.campaign_share) * t.seasonality[moy] / weights;
    let year = (abs.div_euclid(12) - first_year) as usize;
    let in_campaign = b
        .campaigns
        .get(year)
        .is_some_and(|c| c.contains(&(moy as u8)));
    let campaign = if in_campaign && t.campaigns_per_year > 0 {
        b.annual * t.campaign_share / t.campaigns_per_year as f64
    } else {
        0.0
    };
    steady + campaign
}

/// A month's act variants: (act index in the scenario, case, manual upload).
type Variant = (usize, usize, bool);

/// Per-notification results of a month's sample.
#[derive(Debug, Clone, Default)]
struct Sample {
    notifications: u64,
    digital_notifications: u64,
    tally: Option<Tally>,
    before_final_cost: [u64; 3],
    cash_90d: i64,
    paper_cash_90d: i64,
}

/// The month's scenario: the act variants with their shares of the month's volume, the
/// adoption of that month, the month's first day as start.
fn month_scenario(base: &Scenario, p: &Projection, abs: i64, mix: &[(Variant, f64)]) -> Scenario {
    let mut s = base.clone();
    s.projection = None;
    s.ranges.clear();
    s.start = format!("{}-01T00:00:00", month_name(abs));
    let total: f64 = mix.iter().map(|(_, v)| v).sum();
    s.acts = mix
        .iter()
        .map(|((a, c, manual), v)| {
            let mut act = base.acts[*a].clone();
            let case = &p.cases[*c];
            act.name = format!(
                "{}/{}{}",
                act.name,
                case.name,
                if *manual { "/manual" } else { "" }
            );
            act.share = v / total;
            act.has_payment_notice &= case.payment;
            if !case.upload {
                act.sheets = one_sheet_fewer(&act.sheets);
            }
            if *manual {
                // Uploaded by hand on the portal: the body bears the notification cost.
                act.apply_cost = false;
            }
            act
        })
        .collect();
    // Shares rounded to add up to 1 exactly.
    let sum: f64 = s.acts.iter().map(|a| a.share).sum();
    if let Some(last) = s.acts.last_mut() {
        last.share += 1.0 - sum;
    }
    let a = &p.adoption;
    s.recipients.citizen.io_send_enabled_share = a.io_send_enabled_share.at(abs);
    s.recipients.citizen.general_domicile_share = a.general_domicile_share.at(abs);
    s.recipients.citizen.platform_domicile_share = a.platform_domicile_share.at(abs);
    s
}

/// Without the payment notice uploaded, its page is not printed.
fn one_sheet_fewer(d: &Dist) -> Dist {
    match d {
        Dist::Constant { value } => Dist::Constant {
            value: (value - 1.0).max(1.0),
        },
        Dist::Discrete { values, weights } => Dist::Discrete {
            values: values.iter().map(|v| (v - 1.0).max(1.0)).collect(),
            weights: weights.clone(),
        },
        other => other.clone(),
    }
}

fn simulate_month(
    model: &Model,
    p: &Projection,
    variants: &[Variant],
    seed: u64,
    n: u64,
) -> Sample {
    let h = model.horizon;
    let lag = (p.async_update_hours * 3600.0) as i64;
    let mut tally = Tally::new(model.scenario.horizon_days as usize);
    let mut s = Sample {
        notifications: n,
        ..Default::default()
    };
    for i in 0..n {
        // The same notification keys every month: month-to-month changes come from the
        // mix and adoption, not from sampling noise.
        let key = StreamKey {
            seed,
            replication: 0,
            notification: i,
        };
        let input = model.sample_notification(&key, n);
        tally.count_notification(input.sent_at, h);
        let (_, case, _) = variants[input.terms.act];
        let mode = p.cases[case].cost_update;
        let charged = input.terms.has_payment_notice
            && input.terms.apply_cost
            && input.terms.fee_policy == FeePolicy::DeliveryMode;
        let mut paper = false;
        let mut accepted = true;
        model.notification(&key, &input, &mut (), |_, send, base| {
            tally.count_recipient(model, &input, send, base);
            accepted &= send.accepted;
            let letters = send.letters().iter().filter(|l| l.at < h);
            let last_letter = letters.clone().map(|l| l.at).max();
            paper |= last_letter.is_some();
            if let Some(pay) = send.payment.filter(|x| x.at < h) {
                if pay.at - input.sent_at <= 90 * DAY {
                    s.cash_90d += pay.amount_cents + pay.charges_cents;
                }
                if charged {
                    let final_cost_at = last_letter.unwrap_or(send.decided_at).max(send.decided_at);
                    let before = match mode {
                        CostUpdate::None => true,
                        CostUpdate::Sync => pay.at < final_cost_at,
                        CostUpdate::Async => pay.at < final_cost_at + lag,
                    };
                    if before {
                        s.before_final_cost[mode as usize] += 1;
                    }
                }
            }
            if let Some(pay) = base
                .payment
                .filter(|x| x.at < h && x.at - input.sent_at <= 90 * DAY)
            {
                s.paper_cash_90d += pay.amount_cents + pay.charges_cents;
            }
        });
        if accepted && !paper {
            s.digital_notifications += 1;
        }
    }
    s.tally = Some(tally);
    s
}

/// Projects `base` (which must hold a `[projection]` table) month by month.
/// `progress` is told each month simulated.
pub fn project(
    base: &Scenario,
    seed: u64,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Projected, String> {
    let p = base.projection.as_ref().ok_or_else(|| {
        format!(
            "scenario {:?} has no [projection] table: start from scenarios/adoption.toml (or run `sendsim project` without a file)",
            base.name
        )
    })?;
    let start = month_index(&p.start_month)?;
    let first_year = start.div_euclid(12);
    let months = p.months as i64;
    let people = bodies(p, seed);
    let act_index = |name: &str| base.acts.iter().position(|a| a.name == name);
    let fines = act_index(&p.fines_act);

    // A body uploads by hand when it sends fewer than the threshold in all.
    let manual: Vec<bool> = people
        .iter()
        .map(|b| {
            let total: f64 = (0..months)
                .map(|k| body_volume(p, b, k, start + k, first_year))
                .sum();
            b.applies.is_some() && total < p.manual_upload_below
        })
        .collect();

    struct Plan {
        mix: Vec<(Variant, f64)>,
        kept: f64,
        applied: u32,
        contracted: u32,
        live: u32,
        manual: u32,
        committed: f64,
        paid: f64,
    }
    let mut plans = Vec::new();
    for k in 0..months {
        let abs = start + k;
        let mut mix: std::collections::BTreeMap<Variant, f64> = Default::default();
        let mut plan = Plan {
            mix: Vec::new(),
            kept: 0.0,
            applied: 0,
            contracted: 0,
            live: 0,
            manual: 0,
            committed: 0.0,
            paid: 0.0,
        };
        for (b, is_manual) in people.iter().zip(&manual) {
            let Some(a) = b.applies else { continue };
            let t = &p.bodies[b.kind];
            if k >= a {
                plan.applied += 1;
            }
            if k >= a + p.contract_months as i64 {
                plan.contracted += 1;
                plan.committed += t.funding_eur;
            }
            if k < a + (p.contract_months + p.implementation_months) as i64 {
                continue;
            }
            plan.live += 1;
            plan.paid += t.funding_eur;
            plan.manual += *is_manual as u32;
            let v = body_volume(p, b, k, abs, first_year);
            for (act, share) in &t.acts {
                let i = act_index(act).expect("validated act names");
                if b.keeps_fines_on_paper && Some(i) == fines {
                    plan.kept += v * share;
                } else if v * share > 0.0 {
                    *mix.entry((i, b.case, *is_manual)).or_default() += v * share;
                }
            }
        }
        plan.mix = mix.into_iter().collect();
        plans.push(plan);
    }

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| e.to_string())?;
    let samples: Vec<Result<Option<Sample>, String>> = pool.install(|| {
        plans
            .par_iter()
            .enumerate()
            .map(|(k, plan)| {
                if plan.mix.is_empty() {
                    progress(1);
                    return Ok(None);
                }
                let abs = start + k as i64;
                let scenario = month_scenario(base, p, abs, &plan.mix);
                let model =
                    Model::new(scenario).map_err(|e| format!("month {}: {e}", month_name(abs)))?;
                let variants: Vec<Variant> = plan.mix.iter().map(|(v, _)| *v).collect();
                let s = simulate_month(&model, p, &variants, seed, p.sample_notifications);
                progress(1);
                Ok(Some(s))
            })
            .collect()
    });

    let observed = observed::series();
    let mut rows = Vec::new();
    for (k, (plan, sample)) in plans.iter().zip(samples).enumerate() {
        let abs = start + k as i64;
        let sample = sample?;
        let volume: f64 = plan.mix.iter().map(|(_, v)| v).sum();
        let obs = observed.iter().find(|o| o.month == abs);
        let a = &p.adoption;
        let mut row = MonthRow {
            month: month_name(abs),
            bodies_applied: plan.applied,
            bodies_contracted: plan.contracted,
            bodies_live: plan.live,
            bodies_manual: plan.manual,
            notifications: volume,
            fines_kept_on_paper: plan.kept,
            digital_share: 0.0,
            io_send_enabled_share: a.io_send_enabled_share.at(abs),
            general_domicile_share: a.general_domicile_share.at(abs),
            platform_domicile_share: a.platform_domicile_share.at(abs),
            cost_body_eur: 0.0,
            cost_citizen_eur: 0.0,
            paper_cost_body_eur: 0.0,
            paper_cost_citizen_eur: 0.0,
            savings_body_eur: 0.0,
            savings_citizen_eur: 0.0,
            cash_in_eur: 0.0,
            cash_in_90d_eur: 0.0,
            paper_cash_in_90d_eur: 0.0,
            cash_anticipation_days: 0.0,
            payments: 0.0,
            payments_before_final_cost: 0.0,
            payments_before_final_cost_sync: 0.0,
            payments_before_final_cost_async: 0.0,
            payments_before_final_cost_none: 0.0,
            funding_committed_eur: plan.committed,
            funding_paid_eur: plan.paid,
            budget_left_eur: p.budget_eur - plan.committed,
            observed_notifications: obs.map(|o| o.total()),
            observed_digital_share: obs.map(|o| o.digital_share()),
        };
        if let Some(s) = sample {
            let t = s.tally.as_ref().expect("a tally");
            // Sample figures per notification, scaled to the month's volume, in euros.
            let f = volume / s.notifications as f64;
            let eur = |cents: i64| cents as f64 * f / 100.0;
            row.digital_share = s.digital_notifications as f64 / s.notifications as f64;
            // What a body bears: its costs less the charges its citizens pay back.
            row.cost_citizen_eur = eur(t.send.citizen_charges_cents);
            row.cost_body_eur = eur(t.send.body_cost_cents) - row.cost_citizen_eur;
            row.paper_cost_citizen_eur = eur(t.baseline.citizen_charges_cents);
            row.paper_cost_body_eur = eur(t.baseline.body_cost_cents) - row.paper_cost_citizen_eur;
            row.savings_body_eur = row.paper_cost_body_eur - row.cost_body_eur;
            row.savings_citizen_eur = row.paper_cost_citizen_eur - row.cost_citizen_eur;
            row.cash_in_eur = eur(t.send.cash_in_cents);
            row.cash_in_90d_eur = eur(s.cash_90d);
            row.paper_cash_in_90d_eur = eur(s.paper_cash_90d);
            row.cash_anticipation_days =
                weighted_payment_day(&t.baseline) - weighted_payment_day(&t.send);
            row.payments = t.send.paid as f64 * f;
            row.payments_before_final_cost_sync = s.before_final_cost[0] as f64 * f;
            row.payments_before_final_cost_async = s.before_final_cost[1] as f64 * f;
            row.payments_before_final_cost_none = s.before_final_cost[2] as f64 * f;
            row.payments_before_final_cost = s.before_final_cost.iter().sum::<u64>() as f64 * f;
        }
        rows.push(row);
    }
    let years = years(&rows);
    let totals = totals(&rows);
    Ok(Projected {
        schema: SCHEMA.into(),
        scenario: base.name.clone(),
        scenario_hash: base.hash(),
        seed,
        sample_notifications: p.sample_notifications,
        bodies: people.len() as u32,
        budget_eur: p.budget_eur,
        months: rows,
        years,
        totals,
    })
}

pub(crate) fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

fn years(rows: &[MonthRow]) -> Vec<YearRow> {
    let mut out: Vec<YearRow> = Vec::new();
    for r in rows {
        let year: i64 = r.month[..4].parse().expect("YYYY-MM");
        if out.last().is_none_or(|y| y.year != year) {
            out.push(YearRow {
                year,
                months: 0,
                notifications: 0.0,
                digital_share: 0.0,
                observed_months: 0,
                simulated_in_observed_months: 0.0,
                digital_share_in_observed_months: 0.0,
                observed_notifications: None,
                observed_digital_share: None,
            });
        }
        let y = out.last_mut().expect("a year");
        y.months += 1;
        y.notifications += r.notifications;
        // Digital notifications summed first, divided at the end.
        y.digital_share += r.digital_share * r.notifications;
        if let (Some(o), Some(od)) = (r.observed_notifications, r.observed_digital_share) {
            y.observed_months += 1;
            y.simulated_in_observed_months += r.notifications;
            y.digital_share_in_observed_months += r.digital_share * r.notifications;
            *y.observed_notifications.get_or_insert(0.0) += o;
            *y.observed_digital_share.get_or_insert(0.0) += od * o;
        }
    }
    for y in &mut out {
        y.digital_share = share(y.digital_share, y.notifications);
        y.digital_share_in_observed_months = share(
            y.digital_share_in_observed_months,
            y.simulated_in_observed_months,
        );
        if let (Some(d), Some(o)) = (y.observed_digital_share.as_mut(), y.observed_notifications) {
            *d = share(*d, o);
        }
    }
    out
}

fn totals(rows: &[MonthRow]) -> Totals {
    let sum = |f: fn(&MonthRow) -> f64| rows.iter().map(f).sum::<f64>();
    let notifications = sum(|r| r.notifications);
    let last = rows.last();
    Totals {
        notifications,
        digital_share: share(sum(|r| r.digital_share * r.notifications), notifications),
        cost_body_eur: sum(|r| r.cost_body_eur),
        cost_citizen_eur: sum(|r| r.cost_citizen_eur),
        savings_body_eur: sum(|r| r.savings_body_eur),
        savings_citizen_eur: sum(|r| r.savings_citizen_eur),
        cash_in_eur: sum(|r| r.cash_in_eur),
        cash_earlier_90d_eur: sum(|r| r.cash_in_90d_eur - r.paper_cash_in_90d_eur),
        payments_before_final_cost: sum(|r| r.payments_before_final_cost),
        payments: sum(|r| r.payments),
        funding_committed_eur: last.map_or(0.0, |r| r.funding_committed_eur),
        funding_paid_eur: last.map_or(0.0, |r| r.funding_paid_eur),
        bodies_live_at_end: last.map_or(0, |r| r.bodies_live),
    }
}

/// Column names of projection.csv.
pub const CSV_COLUMNS: &str = "month,bodies_applied,bodies_contracted,bodies_live,bodies_manual,notifications,fines_kept_on_paper,digital_share,io_send_enabled_share,general_domicile_share,platform_domicile_share,cost_body_eur,cost_citizen_eur,paper_cost_body_eur,paper_cost_citizen_eur,savings_body_eur,savings_citizen_eur,cash_in_eur,cash_in_90d_eur,paper_cash_in_90d_eur,cash_anticipation_days,payments,payments_before_final_cost,payments_before_final_cost_sync,payments_before_final_cost_async,payments_before_final_cost_none,funding_committed_eur,funding_paid_eur,budget_left_eur,observed_notifications,observed_digital_share";

/// projection.csv: a row per month.
pub fn csv(p: &Projected) -> String {
    let mut out = String::from(CSV_COLUMNS);
    out.push('\n');
    let opt = |v: Option<f64>, digits: usize| v.map_or(String::new(), |x| format!("{x:.digits$}"));
    for r in &p.months {
        out.push_str(&format!(
            "{},{},{},{},{},{:.0},{:.0},{:.4},{:.4},{:.4},{:.4},{:.0},{:.0},{:.0},{:.0},{:.0},{:.0},{:.0},{:.0},{:.0},{:.1},{:.0},{:.0},{:.0},{:.0},{:.0},{:.0},{:.0},{:.0},{},{}\n",
            r.month,
            r.bodies_applied,
            r.bodies_contracted,
            r.bodies_live,
            r.bodies_manual,
            r.notifications,
            r.fines_kept_on_paper,
            r.digital_share,
            r.io_send_enabled_share,
            r.general_domicile_share,
            r.platform_domicile_share,
            r.cost_body_eur,
            r.cost_citizen_eur,
            r.paper_cost_body_eur,
            r.paper_cost_citizen_eur,
            r.savings_body_eur,
            r.savings_citizen_eur,
            r.cash_in_eur,
            r.cash_in_90d_eur,
            r.paper_cash_in_90d_eur,
            r.cash_anticipation_days,
            r.payments,
            r.payments_before_final_cost,
            r.payments_before_final_cost_sync,
            r.payments_before_final_cost_async,
            r.payments_before_final_cost_none,
            r.funding_committed_eur,
            r.funding_paid_eur,
            r.budget_left_eur,
            opt(r.observed_notifications, 0),
            opt(r.observed_digital_share, 4),
        ));
    }
    out
}

/// The terminal table: a line per year against the public series, then the totals.
pub fn text_table(p: &Projected) -> String {
    let mut out = format!(
        "{:<6} {:>6} {:>14} {:>9} {:>16} {:>9} {:>10}\n",
        "year", "months", "notifications", "digital", "observed (same)", "digital", "deviation"
    );
    for y in &p.years {
        let (obs, od, dev) = match (y.observed_notifications, y.observed_digital_share) {
            (Some(o), Some(d)) => (
                format!("{o:.0} ({})", y.observed_months),
                format!("{:.1}%", d * 100.0),
                format!(
                    "{:+.1}%",
                    (y.simulated_in_observed_months / o - 1.0) * 100.0
                ),
            ),
            _ => (String::new(), String::new(), String::new()),
        };
        out.push_str(&format!(
            "{:<6} {:>6} {:>14.0} {:>8.1}% {:>16} {:>9} {:>10}\n",
            y.year,
            y.months,
            y.notifications,
            y.digital_share * 100.0,
            obs,
            od,
            dev
        ));
    }
    let t = &p.totals;
    let m = |v: f64| format!("EUR {:.1}M", v / 1e6);
    out.push_str(&format!(
        "\n{} months · {:.0} notifications, {:.1}% digital · {} of {} bodies live at the end\n\
         bodies pay {} and citizens {} in notification costs; against paper the bodies save {} and citizens {}\n\
         cash in {}; {} more of it within 90 days of sending than on paper\n\
         {:.0} payments, {:.0} of them ({:.1}%) at an amount without the notification's final cost\n\
         programme: {} committed, {} paid to live bodies, of a budget of {} ({} left)\n",
        p.months.len(),
        t.notifications,
        t.digital_share * 100.0,
        t.bodies_live_at_end,
        p.bodies,
        m(t.cost_body_eur),
        m(t.cost_citizen_eur),
        m(t.savings_body_eur),
        m(t.savings_citizen_eur),
        m(t.cash_in_eur),
        m(t.cash_earlier_90d_eur),
        t.payments,
        t.payments_before_final_cost,
        share(t.payments_before_final_cost, t.payments) * 100.0,
        m(t.funding_committed_eur),
        m(t.funding_paid_eur),
        m(p.budget_eur),
        m(p.budget_eur - t.funding_committed_eur),
    ));
    out
}
