//! Scenario files (TOML): every parameter of the model, with its unit in its name.
//!
//! A scenario file is laid over the built-in default scenario (`scenarios/default.toml`,
//! compiled in), so a file only states what it changes and every parameter has a
//! default whose source is cited in that file. Tables merge key by key; arrays (such as
//! `acts`) replace the default's as a whole.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::dist::Dist;

/// The built-in default scenario's text.
pub const DEFAULT_SCENARIO_TOML: &str = include_str!("../../scenarios/default.toml");
/// The built-in projection scenario (laid over the default): the national programme.
pub const ADOPTION_SCENARIO_TOML: &str = include_str!("../../scenarios/adoption.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Wall-clock start in Europe/Rome, `YYYY-MM-DDTHH:MM:SS`.
    pub start: String,
    pub horizon_days: u32,
    /// Notifications per replication.
    pub notifications: u64,
    pub replications: u32,
    pub seed: u64,
    pub arrivals: Arrivals,
    pub validation: Validation,
    pub cancellation: Cancellation,
    pub acts: Vec<ActKind>,
    pub recipients: Recipients,
    pub courtesy: Courtesy,
    pub pec: Pec,
    pub paper: Paper,
    pub postal_capacity: PostalCapacity,
    pub views: Views,
    pub payments: Payments,
    pub prices: Prices,
    pub baseline: Baseline,
    /// Plausible ranges of uncertain parameters (dotted path -> [low, high]), which
    /// `sendsim sensitivity` moves one at a time; they do not change a run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ranges: BTreeMap<String, [f64; 2]>,
    /// Adoption over months, for `sendsim project` (ignored by `run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projection: Option<crate::project::schema::Projection>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arrivals {
    pub window_days: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    pub refused_share: f64,
    pub delay_seconds: Dist,
    /// Refusal error code -> relative weight.
    pub refusal_reasons: BTreeMap<String, f64>,
}

/// The refusal codes SEND returns (`NotificationRefusedErrorV27`).
pub const REFUSAL_CODES: &[&str] = &[
    "FILE_NOTFOUND",
    "FILE_GONE",
    "FILE_SHA_ERROR",
    "FILE_PDF_INVALID_ERROR",
    "FILE_PDF_TOOBIG_ERROR",
    "F24_METADATA_NOT_VALID",
    "TAXID_NOT_VALID",
    "RECIPIENT_ID_NOT_VALID",
    "NOT_VALID_ADDRESS",
    "PAYMENT_NOT_VALID",
    "SERVICE_UNAVAILABLE",
    "SENDER_DISABLED_MORE_THAN_20_GRAMS",
    "ADDRESS_NOT_FOUND",
    "ADDRESS_SEARCH_FAILED",
];

/// Notifications the sender cancels after acceptance (`PUT .../notifications/cancel/{iun}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cancellation {
    pub share: f64,
    /// Days from acceptance to the cancellation.
    pub delay_days: Dist,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PhysicalCommunicationType {
    #[serde(rename = "AR_REGISTERED_LETTER")]
    ArRegisteredLetter,
    #[serde(rename = "REGISTERED_LETTER_890")]
    RegisteredLetter890,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeePolicy {
    #[serde(rename = "FLAT_RATE")]
    FlatRate,
    #[serde(rename = "DELIVERY_MODE")]
    DeliveryMode,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActKind {
    pub name: String,
    /// Share of notifications.
    pub share: f64,
    pub has_payment_notice: bool,
    pub amount_cents: Dist,
    /// Reduction (0..1) when paid within `reduced_within_days` of refinement.
    pub reduction_share: f64,
    pub reduced_within_days: f64,
    pub due_days: f64,
    /// Surcharge (share of the amount) when paid after `due_days`.
    pub late_surcharge_share: f64,
    pub physical_communication_type: PhysicalCommunicationType,
    pub fee_policy: FeePolicy,
    pub apply_cost: bool,
    pub pa_fee_cents: i64,
    pub vat_percent: i64,
    /// What the body adds to the act under FLAT_RATE (SEND does not compute it).
    pub flat_rate_charge_cents: i64,
    /// Printed sheets per letter, the AAR included.
    pub sheets: Dist,
    /// Probability that an aware recipient eventually pays.
    pub pay_propensity: f64,
    /// Notification charges the body adds to the act in the all-paper process.
    pub baseline_charge_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipients {
    pub per_notification: Dist,
    pub company_share: f64,
    pub abroad_share: f64,
    pub deceased_share: f64,
    pub correct_address_share: f64,
    pub citizen: Reachability,
    pub company: Reachability,
    /// CAP zone mix of national addresses: AM (metropolitan), CP (provincial capital), EU (other).
    pub zone_shares: ZoneShares,
    /// Zone mix of addresses abroad (tender zones 1 Europe, 2 Africa, 3 Asia-Oceania).
    pub abroad_zone_shares: AbroadZoneShares,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reachability {
    pub platform_domicile_share: f64,
    pub special_domicile_share: f64,
    pub general_domicile_share: f64,
    pub io_send_enabled_share: f64,
    pub email_share: f64,
    pub sms_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct ZoneShares {
    pub AM: f64,
    pub CP: f64,
    pub EU: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct AbroadZoneShares {
    pub ZONE_1: f64,
    pub ZONE_2: f64,
    pub ZONE_3: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Courtesy {
    pub wait_before_paper_hours: f64,
    pub io_delay_minutes: Dist,
    pub email_delay_minutes: Dist,
    pub sms_delay_minutes: Dist,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pec {
    pub address_lookup_minutes: Dist,
    pub working_box_share: f64,
    pub second_round_success_share: f64,
    pub second_round_wait_days: f64,
    pub delivery_minutes: Dist,
    pub failure_hours: Dist,
    pub success_refinement_days: f64,
    /// Local hour (Europe/Rome) from which a delivery counts as late (the 21:00 rule).
    pub late_delivery_hour: u32,
    pub late_delivery_extra_days: f64,
    pub failure_refinement_days: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paper {
    pub preparation_hours: Dist,
    pub transit_days_890: Dist,
    pub transit_days_ar: Dist,
    pub transit_days_rs: Dist,
    pub transit_days_rir: Dist,
    pub delivered_share: f64,
    pub refused_share: f64,
    pub lost_share: f64,
    pub max_resends: u32,
    pub pickup_share: f64,
    pub pickup_days: Dist,
    pub compiuta_giacenza_days: f64,
    pub giacenza_rule_days: f64,
    pub refinement_days: f64,
    pub return_days: Dist,
    pub discovered_address_share: f64,
    pub registry_address_share: f64,
    pub second_attempt_correct_share: f64,
    pub unreachable_refinement_days: f64,
}

/// Carriers' weekly capacity per postal area (`sim/data/postal_capacity.tsv`): when an
/// area's week is full, letters wait for the next week in `priority` order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostalCapacity {
    pub enabled: bool,
    /// Share of each carrier's capacity open to the simulated notifications (their paper
    /// volume over the national one).
    pub scale: f64,
    /// Which waiting letters a week serves first; every class exactly once.
    pub priority: Vec<LetterClass>,
    /// Local-date ranges (inclusive) whose weeks, by their Monday, use the peak capacity.
    pub peak_periods: Vec<PeakPeriod>,
}

/// Registered letters as the capacity queue ranks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterClass {
    /// Attempt 1, at a discovered or registry address.
    SecondAttempt,
    /// A letter resent after a loss (F01-F04).
    Resend,
    /// The simple registered letter (RS/RIS) after a digital failure.
    SimpleRegistered,
    /// Attempt 0 at the sender's address.
    FirstAttempt,
}

impl LetterClass {
    pub const ALL: [LetterClass; 4] = [
        LetterClass::SecondAttempt,
        LetterClass::Resend,
        LetterClass::SimpleRegistered,
        LetterClass::FirstAttempt,
    ];
    pub fn name(self) -> &'static str {
        match self {
            LetterClass::SecondAttempt => "second_attempt",
            LetterClass::Resend => "resend",
            LetterClass::SimpleRegistered => "simple_registered",
            LetterClass::FirstAttempt => "first_attempt",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeakPeriod {
    /// `YYYY-MM-DD`, Europe/Rome.
    pub from: String,
    pub to: String,
}

impl PeakPeriod {
    pub fn dates(&self) -> Result<(chrono::NaiveDate, chrono::NaiveDate), String> {
        let d = |s: &str| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|e| format!("expected a date YYYY-MM-DD, got {s:?} ({e})"))
        };
        let (from, to) = (d(&self.from)?, d(&self.to)?);
        if to < from {
            return Err(format!("`to` ({to}) is before `from` ({from})"));
        }
        Ok((from, to))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reaction {
    pub share: f64,
    pub delay_hours: Dist,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Views {
    pub io: Reaction,
    pub email: Reaction,
    pub sms: Reaction,
    pub pec: Reaction,
    pub paper: Reaction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    pub share: f64,
    pub delay_days: Dist,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payments {
    pub after_app_view: Payment,
    pub after_web_view: Payment,
    pub after_pec: Payment,
    pub after_paper: Payment,
    pub unaware: Payment,
    pub spontaneous: Payment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub send_fee_cents: i64,
    pub paper_vat_percent: i64,
    pub body_handling_cents: i64,
    pub refusal_fee_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub dispatch_days: Dist,
    pub print_and_handling_cents: i64,
    pub postage_ar_cents: i64,
    pub postage_890_cents: i64,
    pub postage_rir_cents: i64,
    pub deposit_term_days: f64,
    pub second_attempt_share: f64,
    pub second_attempt_days: Dist,
}

/// One problem in a scenario: where, and what was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldProblem {
    pub path: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read the scenario: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: not valid TOML: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: {message}")]
    Compose { file: String, message: String },
    #[error("{}", render_problems(file, problems))]
    Invalid {
        file: String,
        problems: Vec<FieldProblem>,
    },
}

fn render_problems(file: &str, problems: &[FieldProblem]) -> String {
    let mut out = String::new();
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{file}: field `{}`: {}", p.path, p.message));
    }
    out
}

impl ScenarioError {
    pub fn problems(&self) -> &[FieldProblem] {
        match self {
            ScenarioError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

/// Lays `over` onto `base`, table by table. A distribution (a table with a `kind`)
/// replaces the one below it whole, since its parameters depend on its kind.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) if !o.contains_key("kind") => {
                merge(b, o)
            }
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// serde's messages may end with their own "in `path`" lines; the path is reported
/// separately, so keep only the message.
fn clean_message(m: &str) -> String {
    m.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("in `"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A file and the files it extends, the furthest first: `extends = "base.toml"` names
/// another scenario file, relative to the extending file's folder.
fn extends_chain(path: &Path) -> Result<Vec<(toml::Table, String, String)>, ScenarioError> {
    let mut chain = Vec::new();
    let mut seen: Vec<std::path::PathBuf> = Vec::new();
    let mut next = Some(path.to_path_buf());
    while let Some(path) = next.take() {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| ScenarioError::Io {
            file: match chain.last() {
                Some((_, by, _)) => format!("{file} (extended by {by})"),
                None => file.clone(),
            },
            source,
        })?;
        let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
        if seen.contains(&canonical) {
            let names: Vec<String> = chain
                .iter()
                .map(|(_, f, _): &(_, String, _)| f.clone())
                .collect();
            return Err(ScenarioError::Compose {
                file,
                message: format!(
                    "`extends` goes round in a circle: {} → {}",
                    names.join(" → "),
                    path.display()
                ),
            });
        }
        seen.push(canonical);
        let mut table = parse_table(&text, &file)?;
        match table.remove("extends") {
            None => {}
            Some(toml::Value::String(base)) => {
                let dir = path.parent().unwrap_or(Path::new("."));
                next = Some(dir.join(base));
            }
            Some(other) => {
                return Err(ScenarioError::Invalid {
                    file,
                    problems: vec![FieldProblem {
                        path: "extends".into(),
                        message: format!(
                            "expected the path of another scenario file, got {}",
                            other.type_str()
                        ),
                    }],
                });
            }
        }
        chain.push((table, file, text));
    }
    chain.reverse();
    Ok(chain)
}

/// Applies one `PATH=VALUE` override: PATH is dotted, with `[i]` for an element of a
/// list (`acts[0].share`); VALUE is read as TOML (`0.3`, `true`, `"text"`,
/// `{ kind = "constant", value = 2 }`), and as plain text if it is not TOML.
fn apply_set(table: &mut toml::Table, set: &str) -> Result<(), ScenarioError> {
    let fail = |message: String| ScenarioError::Compose {
        file: format!("--set {set}"),
        message,
    };
    let (path, text) = set
        .split_once('=')
        .ok_or_else(|| fail("expected PATH=VALUE, e.g. arrivals.window_days=20".into()))?;
    let path = path.trim();
    let value = format!("v = {}", text.trim())
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.trim().to_string()));
    let steps = parse_path(path).map_err(fail)?;
    let mut root = toml::Value::Table(std::mem::take(table));
    let result = set_in(&mut root, &steps, value);
    if let toml::Value::Table(t) = root {
        *table = t;
    }
    result.map_err(|m| fail(format!("{path:?}: {m}")))
}

/// A dotted parameter path (`acts[0].share`, `ranges."pec.working_box_share"`) as steps.
fn parse_path(path: &str) -> Result<Vec<Step<'_>>, String> {
    let mut steps = Vec::new();
    for part in path_segments(path) {
        let (name, rest) = match part.strip_prefix('"') {
            // A quoted key is taken whole: `ranges."pec.working_box_share"`.
            Some(quoted) => (
                quoted.split('"').next().unwrap_or(""),
                quoted.split_once('"').map_or("", |x| x.1),
            ),
            None => part.split_once('[').unwrap_or((part, "")),
        };
        if name.is_empty() {
            return Err(format!("empty field name in {path:?}"));
        }
        steps.push(Step::Field(name));
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            let i = idx
                .trim_end_matches(']')
                .parse()
                .map_err(|_| format!("{idx:?} is not a list index in {path:?}"))?;
            steps.push(Step::Index(i));
        }
    }
    Ok(steps)
}

/// `a.b[0]."c.d"` split at the dots outside quotes.
fn path_segments(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in path.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => {
                out.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&path[start..]);
    out
}

enum Step<'a> {
    Field(&'a str),
    Index(usize),
}

fn set_in(node: &mut toml::Value, steps: &[Step], value: toml::Value) -> Result<(), String> {
    let Some((step, rest)) = steps.split_first() else {
        *node = value;
        return Ok(());
    };
    match (step, node) {
        (Step::Field(name), toml::Value::Table(t)) => {
            let child = t
                .entry(name.to_string())
                .or_insert_with(|| toml::Value::Table(Default::default()));
            set_in(child, rest, value)
        }
        (Step::Index(i), toml::Value::Array(items)) => {
            let len = items.len();
            let item = items
                .get_mut(*i)
                .ok_or_else(|| format!("index {i} is past the list's {len} elements"))?;
            set_in(item, rest, value)
        }
        (Step::Field(name), other) => Err(format!(
            "no field `{name}` in a single value ({}), only in tables",
            other.type_str()
        )),
        (Step::Index(i), other) => Err(format!(
            "no element [{i}] in a single value ({}), only in lists",
            other.type_str()
        )),
    }
}

fn value_at<'a>(node: &'a toml::Value, steps: &[Step]) -> Option<&'a toml::Value> {
    steps.iter().try_fold(node, |n, step| match (step, n) {
        (Step::Field(name), toml::Value::Table(t)) => t.get(*name),
        (Step::Index(i), toml::Value::Array(items)) => items.get(*i),
        _ => None,
    })
}

fn parse_table(text: &str, file: &str) -> Result<toml::Table, ScenarioError> {
    text.parse::<toml::Table>()
        .map_err(|e| ScenarioError::Syntax {
            file: file.to_string(),
            message: e.to_string().trim_end().to_string(),
        })
}

impl Scenario {
    /// The built-in default scenario.
    pub fn builtin_default() -> Scenario {
        Scenario::from_toml_str(DEFAULT_SCENARIO_TOML, "scenarios/default.toml (built in)")
            .expect("the built-in default scenario is valid")
    }

    /// The texts a scenario is composed of, with their names, the default first: the
    /// built-in default, then the files `path` extends (the furthest first), then `path`.
    pub fn layer_texts(path: Option<&Path>) -> Result<Vec<(String, String)>, ScenarioError> {
        let mut out = vec![(
            DEFAULT_SCENARIO_TOML.to_string(),
            "scenarios/default.toml (built in)".to_string(),
        )];
        if let Some(path) = path {
            out.extend(
                extends_chain(path)?
                    .into_iter()
                    .map(|(_, file, text)| (text, file)),
            );
        }
        Ok(out)
    }

    /// The built-in projection scenario (`scenarios/adoption.toml`) with `--set` overrides.
    pub fn adoption(sets: &[String]) -> Result<Scenario, ScenarioError> {
        let builtin = "scenarios/default.toml (built in)";
        let mut table = parse_table(DEFAULT_SCENARIO_TOML, builtin)?;
        merge(
            &mut table,
            parse_table(ADOPTION_SCENARIO_TOML, "scenarios/adoption.toml (built in)")?,
        );
        let mut origin = "scenarios/adoption.toml (built in)".to_string();
        for set in sets {
            apply_set(&mut table, set)?;
        }
        if !sets.is_empty() {
            origin = format!("{origin} with --set {}", sets.join(" --set "));
        }
        Scenario::from_table(table, &origin)
    }

    /// The texts of the built-in projection scenario, the default first.
    pub fn adoption_layer_texts() -> Vec<(String, String)> {
        vec![
            (
                DEFAULT_SCENARIO_TOML.to_string(),
                "scenarios/default.toml (built in)".to_string(),
            ),
            (
                ADOPTION_SCENARIO_TOML.to_string(),
                "scenarios/adoption.toml (built in)".to_string(),
            ),
        ]
    }

    /// Reads a scenario file laid over the default (and over the files it `extends`).
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::compose(Some(path), &[])
    }

    /// The built-in default, then the chain of files `path` extends (the furthest first),
    /// then `path`, then each `--set PATH=VALUE` in order; validated once, as a file is.
    pub fn compose(path: Option<&Path>, sets: &[String]) -> Result<Scenario, ScenarioError> {
        let builtin = "scenarios/default.toml (built in)";
        let mut table = parse_table(DEFAULT_SCENARIO_TOML, builtin)?;
        let mut origin = builtin.to_string();
        if let Some(path) = path {
            for (layer, _, _) in extends_chain(path)? {
                merge(&mut table, layer);
            }
            origin = path.display().to_string();
        }
        for set in sets {
            apply_set(&mut table, set)?;
        }
        if !sets.is_empty() {
            origin = format!("{origin} with --set {}", sets.join(" --set "));
        }
        Scenario::from_table(table, &origin)
    }

    /// Parses scenario text (laid over the default) and validates it; `file` names the
    /// origin in error messages.
    pub fn from_toml_str(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        Scenario::from_layers(&[(text, file)])
    }

    /// Lays several scenario texts over the default, in order (later ones win); errors
    /// name the last layer's file.
    pub fn from_layers(layers: &[(&str, &str)]) -> Result<Scenario, ScenarioError> {
        let mut table = parse_table(DEFAULT_SCENARIO_TOML, "scenarios/default.toml (built in)")?;
        for (text, file) in layers {
            merge(&mut table, parse_table(text, file)?);
        }
        let file = layers
            .last()
            .map_or("scenarios/default.toml (built in)", |l| l.1);
        Scenario::from_table(table, file)
    }

    fn from_table(table: toml::Table, file: &str) -> Result<Scenario, ScenarioError> {
        let value = toml::Value::Table(table);
        let scenario: Scenario = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            ScenarioError::Invalid {
                file: file.to_string(),
                problems: vec![FieldProblem {
                    path: if path == "." {
                        "(top level)".into()
                    } else {
                        path
                    },
                    message: clean_message(&e.into_inner().to_string()),
                }],
            }
        })?;
        let problems = scenario.problems();
        if problems.is_empty() {
            Ok(scenario)
        } else {
            Err(ScenarioError::Invalid {
                file: file.to_string(),
                problems,
            })
        }
    }

    /// The start instant as a Europe/Rome wall-clock time.
    pub fn start_local(&self) -> Result<NaiveDateTime, String> {
        NaiveDateTime::parse_from_str(&self.start, "%Y-%m-%dT%H:%M:%S").map_err(|e| {
            format!(
                "expected a local date-time like 2025-03-03T00:00:00, got {:?} ({e})",
                self.start
            )
        })
    }

    /// A hash of the resolved scenario (all parameters, defaults included).
    pub fn hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let json = serde_json::to_vec(self).expect("scenario serialises");
        let digest = Sha256::digest(&json);
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The number at a parameter path of the resolved scenario: `pec.working_box_share`,
    /// `acts[1].pay_propensity`, `baseline.dispatch_days.median`; and whether the field
    /// holds a whole number (an integer field takes no fractions).
    pub fn number_at(&self, path: &str) -> Result<(f64, bool), String> {
        let root = toml::Value::try_from(self).expect("scenario serialises to TOML");
        let node = value_at(&root, &parse_path(path)?)
            .ok_or_else(|| format!("{path:?}: no such parameter"))?;
        match node {
            toml::Value::Integer(i) => Ok((*i as f64, true)),
            toml::Value::Float(f) => Ok((*f, false)),
            other => Err(format!(
                "{path:?} is {} ({other}), not a number",
                other.type_str()
            )),
        }
    }

    /// The smallest layer that, laid over the default, sets `paths` as they are in this
    /// scenario: each path's own value, or the whole top-level entry for a path into a
    /// list (lists are replaced whole when layered).
    pub fn overlay(&self, paths: &[String]) -> Result<toml::Table, String> {
        let root = toml::Value::try_from(self).expect("scenario serialises to TOML");
        let mut out = toml::Value::Table(toml::Table::new());
        for path in paths {
            let steps = parse_path(path)?;
            let cut = steps
                .iter()
                .position(|s| matches!(s, Step::Index(_)))
                .map_or(steps.len(), |_| 1);
            let value = value_at(&root, &steps[..cut])
                .ok_or_else(|| format!("{path:?}: no such parameter"))?
                .clone();
            set_in(&mut out, &steps[..cut], value)?;
        }
        match out {
            toml::Value::Table(t) => Ok(t),
            _ => unreachable!("the overlay's root is a table"),
        }
    }

    /// The resolved scenario as TOML (every parameter, defaults filled in).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("scenario serialises to TOML")
    }

    /// Every semantic problem (ranges, sums, distribution parameters).
    pub fn problems(&self) -> Vec<FieldProblem> {
        let mut c = Checker::default();
        let s = self;
        if let Err(m) = s.start_local() {
            c.push("start", m);
        } else if let Err(m) = crate::time::Calendar::new(s.start_local().unwrap(), 0) {
            c.push("start", m);
        }
        c.at_least("horizon_days", s.horizon_days as f64, 1.0);
        for (path, [lo, hi]) in &s.ranges {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                c.push(
                    &format!("ranges.\"{path}\""),
                    format!("expected [low, high] with low <= high, got [{lo}, {hi}]"),
                );
            }
        }
        c.at_least("notifications", s.notifications as f64, 1.0);
        c.at_least("replications", s.replications as f64, 1.0);
        c.positive("arrivals.window_days", s.arrivals.window_days);

        c.prob("validation.refused_share", s.validation.refused_share);
        c.duration("validation.delay_seconds", &s.validation.delay_seconds);
        if s.validation.refusal_reasons.is_empty() {
            c.push(
                "validation.refusal_reasons",
                "expected at least one refusal code with a weight".into(),
            );
        }
        for (code, w) in &s.validation.refusal_reasons {
            let path = format!("validation.refusal_reasons.{code}");
            if !REFUSAL_CODES.contains(&code.as_str()) {
                c.push(
                    &path,
                    format!(
                        "unknown refusal code; expected one of {}",
                        REFUSAL_CODES.join(", ")
                    ),
                );
            }
            c.non_negative(&path, *w);
        }

        c.prob("cancellation.share", s.cancellation.share);
        c.duration("cancellation.delay_days", &s.cancellation.delay_days);

        if s.acts.is_empty() {
            c.push("acts", "expected at least one act kind".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, a) in s.acts.iter().enumerate() {
            let p = |f: &str| format!("acts[{i}].{f}");
            if !names.insert(a.name.as_str()) {
                c.push(&p("name"), format!("duplicate act name {:?}", a.name));
            }
            c.prob(&p("share"), a.share);
            c.dist_min(&p("amount_cents"), &a.amount_cents, 0.0);
            c.prob(&p("reduction_share"), a.reduction_share);
            c.non_negative(&p("reduced_within_days"), a.reduced_within_days);
            c.non_negative(&p("due_days"), a.due_days);
            c.non_negative(&p("late_surcharge_share"), a.late_surcharge_share);
            c.range(&p("pa_fee_cents"), a.pa_fee_cents as f64, 0.0, 100.0);
            c.range(&p("vat_percent"), a.vat_percent as f64, 0.0, 100.0);
            c.non_negative(
                &p("flat_rate_charge_cents"),
                a.flat_rate_charge_cents as f64,
            );
            c.dist_min(&p("sheets"), &a.sheets, 1.0);
            c.prob(&p("pay_propensity"), a.pay_propensity);
            c.non_negative(&p("baseline_charge_cents"), a.baseline_charge_cents as f64);
        }
        c.sum_to_one("acts[].share", s.acts.iter().map(|a| a.share));

        let r = &s.recipients;
        c.dist_min("recipients.per_notification", &r.per_notification, 1.0);
        for (path, v) in [
            ("recipients.company_share", r.company_share),
            ("recipients.abroad_share", r.abroad_share),
            ("recipients.deceased_share", r.deceased_share),
            ("recipients.correct_address_share", r.correct_address_share),
        ] {
            c.prob(path, v);
        }
        for (who, reach) in [("citizen", &r.citizen), ("company", &r.company)] {
            for (f, v) in [
                ("platform_domicile_share", reach.platform_domicile_share),
                ("special_domicile_share", reach.special_domicile_share),
                ("general_domicile_share", reach.general_domicile_share),
                ("io_send_enabled_share", reach.io_send_enabled_share),
                ("email_share", reach.email_share),
                ("sms_share", reach.sms_share),
            ] {
                c.prob(&format!("recipients.{who}.{f}"), v);
            }
        }
        let z = &r.zone_shares;
        for (f, v) in [("AM", z.AM), ("CP", z.CP), ("EU", z.EU)] {
            c.prob(&format!("recipients.zone_shares.{f}"), v);
        }
        c.sum_to_one("recipients.zone_shares", [z.AM, z.CP, z.EU]);
        let z = &r.abroad_zone_shares;
        for (f, v) in [
            ("ZONE_1", z.ZONE_1),
            ("ZONE_2", z.ZONE_2),
            ("ZONE_3", z.ZONE_3),
        ] {
            c.prob(&format!("recipients.abroad_zone_shares.{f}"), v);
        }
        c.sum_to_one(
            "recipients.abroad_zone_shares",
            [z.ZONE_1, z.ZONE_2, z.ZONE_3],
        );

        let k = &s.courtesy;
        c.non_negative(
            "courtesy.wait_before_paper_hours",
            k.wait_before_paper_hours,
        );
        c.duration("courtesy.io_delay_minutes", &k.io_delay_minutes);
        c.duration("courtesy.email_delay_minutes", &k.email_delay_minutes);
        c.duration("courtesy.sms_delay_minutes", &k.sms_delay_minutes);

        let p = &s.pec;
        c.duration("pec.address_lookup_minutes", &p.address_lookup_minutes);
        c.prob("pec.working_box_share", p.working_box_share);
        c.prob(
            "pec.second_round_success_share",
            p.second_round_success_share,
        );
        c.non_negative("pec.second_round_wait_days", p.second_round_wait_days);
        c.duration("pec.delivery_minutes", &p.delivery_minutes);
        c.duration("pec.failure_hours", &p.failure_hours);
        c.non_negative("pec.success_refinement_days", p.success_refinement_days);
        c.range(
            "pec.late_delivery_hour",
            p.late_delivery_hour as f64,
            0.0,
            24.0,
        );
        c.non_negative("pec.late_delivery_extra_days", p.late_delivery_extra_days);
        c.non_negative("pec.failure_refinement_days", p.failure_refinement_days);

        let q = &s.paper;
        for (f, d) in [
            ("preparation_hours", &q.preparation_hours),
            ("transit_days_890", &q.transit_days_890),
            ("transit_days_ar", &q.transit_days_ar),
            ("transit_days_rs", &q.transit_days_rs),
            ("transit_days_rir", &q.transit_days_rir),
            ("pickup_days", &q.pickup_days),
            ("return_days", &q.return_days),
        ] {
            c.duration(&format!("paper.{f}"), d);
        }
        for (f, v) in [
            ("delivered_share", q.delivered_share),
            ("refused_share", q.refused_share),
            ("lost_share", q.lost_share),
            ("pickup_share", q.pickup_share),
            ("discovered_address_share", q.discovered_address_share),
            ("registry_address_share", q.registry_address_share),
            (
                "second_attempt_correct_share",
                q.second_attempt_correct_share,
            ),
        ] {
            c.prob(&format!("paper.{f}"), v);
        }
        let first_pass = q.delivered_share + q.refused_share + q.lost_share;
        if first_pass > 1.0 + 1e-9 {
            c.push(
                "paper.delivered_share",
                format!(
                    "delivered_share + refused_share + lost_share must not exceed 1 (the rest is held at the post office), got {first_pass}"
                ),
            );
        }
        for (f, v) in [
            ("compiuta_giacenza_days", q.compiuta_giacenza_days),
            ("giacenza_rule_days", q.giacenza_rule_days),
            ("refinement_days", q.refinement_days),
            ("unreachable_refinement_days", q.unreachable_refinement_days),
        ] {
            c.non_negative(&format!("paper.{f}"), v);
        }

        let k = &s.postal_capacity;
        if !(k.scale.is_finite() && k.scale > 0.0) {
            c.push(
                "postal_capacity.scale",
                format!("expected a positive number, got {}", k.scale),
            );
        }
        let mut classes = k.priority.clone();
        classes.sort();
        classes.dedup();
        if classes.len() != k.priority.len() || classes.len() != LetterClass::ALL.len() {
            c.push(
                "postal_capacity.priority",
                format!(
                    "expected each of {} exactly once",
                    LetterClass::ALL.map(|l| l.name()).join(", ")
                ),
            );
        }
        for (i, p) in k.peak_periods.iter().enumerate() {
            if let Err(m) = p.dates() {
                c.push(&format!("postal_capacity.peak_periods[{i}]"), m);
            }
        }

        let v = &s.views;
        for (f, r) in [
            ("io", &v.io),
            ("email", &v.email),
            ("sms", &v.sms),
            ("pec", &v.pec),
            ("paper", &v.paper),
        ] {
            c.prob(&format!("views.{f}.share"), r.share);
            c.duration(&format!("views.{f}.delay_hours"), &r.delay_hours);
        }
        let y = &s.payments;
        for (f, r) in [
            ("after_app_view", &y.after_app_view),
            ("after_web_view", &y.after_web_view),
            ("after_pec", &y.after_pec),
            ("after_paper", &y.after_paper),
            ("unaware", &y.unaware),
            ("spontaneous", &y.spontaneous),
        ] {
            c.prob(&format!("payments.{f}.share"), r.share);
            c.duration(&format!("payments.{f}.delay_days"), &r.delay_days);
        }
        let pr = &s.prices;
        c.non_negative("prices.send_fee_cents", pr.send_fee_cents as f64);
        c.range(
            "prices.paper_vat_percent",
            pr.paper_vat_percent as f64,
            0.0,
            100.0,
        );
        c.non_negative("prices.body_handling_cents", pr.body_handling_cents as f64);
        c.non_negative("prices.refusal_fee_cents", pr.refusal_fee_cents as f64);

        let b = &s.baseline;
        c.duration("baseline.dispatch_days", &b.dispatch_days);
        c.duration("baseline.second_attempt_days", &b.second_attempt_days);
        for (f, x) in [
            ("print_and_handling_cents", b.print_and_handling_cents),
            ("postage_ar_cents", b.postage_ar_cents),
            ("postage_890_cents", b.postage_890_cents),
            ("postage_rir_cents", b.postage_rir_cents),
        ] {
            c.non_negative(&format!("baseline.{f}"), x as f64);
        }
        c.non_negative("baseline.deposit_term_days", b.deposit_term_days);
        c.prob("baseline.second_attempt_share", b.second_attempt_share);
        if let Some(p) = &s.projection {
            let names: Vec<&str> = s.acts.iter().map(|a| a.name.as_str()).collect();
            p.check(&mut c, &names);
        }
        c.problems
    }
}

#[derive(Default)]
pub(crate) struct Checker {
    problems: Vec<FieldProblem>,
}

impl Checker {
    pub(crate) fn push(&mut self, path: &str, message: String) {
        self.problems.push(FieldProblem {
            path: path.to_string(),
            message,
        });
    }
    pub(crate) fn prob(&mut self, path: &str, v: f64) {
        if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
            self.push(
                path,
                format!("expected a probability between 0 and 1, got {v}"),
            );
        }
    }
    pub(crate) fn non_negative(&mut self, path: &str, v: f64) {
        if !(v.is_finite() && v >= 0.0) {
            self.push(path, format!("expected a number >= 0, got {v}"));
        }
    }
    pub(crate) fn positive(&mut self, path: &str, v: f64) {
        if !(v.is_finite() && v > 0.0) {
            self.push(path, format!("expected a number > 0, got {v}"));
        }
    }
    pub(crate) fn at_least(&mut self, path: &str, v: f64, min: f64) {
        if v < min {
            self.push(path, format!("expected at least {min}, got {v}"));
        }
    }
    pub(crate) fn range(&mut self, path: &str, v: f64, lo: f64, hi: f64) {
        if !(v.is_finite() && v >= lo && v <= hi) {
            self.push(path, format!("expected a value from {lo} to {hi}, got {v}"));
        }
    }
    pub(crate) fn sum_to_one(&mut self, path: &str, values: impl IntoIterator<Item = f64>) {
        let total: f64 = values.into_iter().sum();
        if (total - 1.0).abs() > 1e-6 {
            self.push(
                path,
                format!("shares must add up to 1, they add up to {total}"),
            );
        }
    }
    pub(crate) fn dist_min(&mut self, path: &str, d: &Dist, min: f64) {
        match d.check() {
            Err(m) => self.push(path, format!("impossible distribution: {m}")),
            Ok(()) => {
                if d.min_value() < min {
                    self.push(
                        path,
                        format!(
                            "this distribution can take values below {min} (lowest {})",
                            d.min_value()
                        ),
                    );
                }
            }
        }
    }
    /// Durations must be distributions over non-negative values.
    pub(crate) fn duration(&mut self, path: &str, d: &Dist) {
        self.dist_min(path, d, 0.0)
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.path, self.message)
    }
}
