//! Outcome scripts carried by an address string, as PagoPA's External Channels mock
//! reads them, so an integrator can force any path:
//!
//! - `@sequence.5s-C000.5s-C001.5s-C005.5s-C003`: steps `<delay>-<code>[options]`,
//!   delays in real time (`ms`, `s`, `m`, `h`, `d`), counted from the previous step;
//! - options in brackets, separated by `;` or `,`: `DOC:<type>` (an attachment: `AR`,
//!   `23L`, `Plico`, `ARCAD`, `Indagine`, `7ZIP`, …), `FAILCAUSE:<Mxx>`,
//!   `DISCOVERY[:<cap>]` (the postman reports a new address), `PAGES:<n>`;
//! - phases: a step ending in `@discovered` or `@retry` ends the phase that an
//!   engagement plays; the next engagement (to the discovered address, or the retry to
//!   the same one) plays the next phase; `_` separates the phases of successive digital
//!   sends to the same address;
//! - named paper sequences (`@OK_AR`, `@FAIL-Irreperibile_AR`, `@OK-Giacenza-gt10_890`,
//!   from `mocks/data/paper_sequences.tsv`), and `@ok` / `@fail` (the product's `OK_` or
//!   `FAIL_` sequence for paper; delivery or `@fail` failure for PEC).

use std::collections::HashMap;
use std::sync::OnceLock;

const NAMED: &str = include_str!("../../data/paper_sequences.tsv");

/// One event of a script.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Real seconds after the previous step.
    pub after: f64,
    pub code: String,
    pub docs: Vec<String>,
    pub fail_cause: Option<String>,
    /// `Some(None)`: a discovered address; `Some(Some(cap))` with that CAP.
    pub discovery: Option<Option<String>>,
    pub pages: Option<u32>,
}

/// Steps in phases (see the module's comment).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Script {
    pub phases: Vec<Vec<Step>>,
}

/// `5s`, `500ms`, `2m`, `1h`, `1d` in seconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = num.parse().ok()?;
    let unit_secs = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return None,
    };
    (n >= 0.0).then_some(n * unit_secs)
}

impl Script {
    /// Parses the text after `@sequence.`; names the step that is wrong.
    pub fn parse(text: &str) -> Result<Script, String> {
        let mut phases = vec![Vec::new()];
        for raw in text.split('.').filter(|s| !s.is_empty()) {
            let (step, ends_phase) = match raw.split_once('@') {
                Some((step, "discovered" | "retry")) => (step, true),
                Some((_, other)) => {
                    return Err(format!(
                        "step {raw:?}: unknown marker @{other}; expected @discovered or @retry"
                    ));
                }
                None => (raw, false),
            };
            let (delay, rest) = step
                .split_once('-')
                .ok_or_else(|| format!("step {step:?}: expected <delay>-<code>, e.g. 5s-C003"))?;
            let after = parse_duration(delay).ok_or_else(|| {
                format!("step {step:?}: {delay:?} is not a delay like 5s, 500ms or 2m")
            })?;
            let (code, options) = match rest.split_once('[') {
                Some((code, opts)) => (code, opts.trim_end_matches(']')),
                None => (rest, ""),
            };
            if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!("step {step:?}: {code:?} is not an event code"));
            }
            let mut s = Step {
                after,
                code: code.to_string(),
                docs: Vec::new(),
                fail_cause: None,
                discovery: None,
                pages: None,
            };
            for opt in options.split([';', ',']).filter(|o| !o.is_empty()) {
                let (key, value) = opt.split_once(':').unwrap_or((opt, ""));
                match key {
                    "DOC" => s.docs.push(value.to_string()),
                    "FAILCAUSE" => s.fail_cause = Some(value.to_string()),
                    "DISCOVERY" => {
                        s.discovery = Some((!value.is_empty()).then(|| value.to_string()))
                    }
                    "PAGES" => {
                        s.pages =
                            Some(value.parse().map_err(|_| {
                                format!("step {step:?}: PAGES:{value} is not a number")
                            })?)
                    }
                    // Accepted for compatibility; timestamps are always the clock's.
                    "DELAY" | "DELAYDOC" | "NOAUTODATETIME" => {}
                    other => {
                        return Err(format!(
                            "step {step:?}: unknown option {other}; expected DOC, FAILCAUSE, DISCOVERY or PAGES"
                        ));
                    }
                }
            }
            phases.last_mut().expect("a phase").push(s);
            if ends_phase {
                phases.push(Vec::new());
            }
        }
        phases.retain(|p| !p.is_empty());
        if phases.is_empty() {
            return Err("an empty sequence".into());
        }
        Ok(Script { phases })
    }

    /// The phase the `n`-th engagement plays (the last one again when there are fewer).
    pub fn phase(&self, n: usize) -> &[Step] {
        &self.phases[n.min(self.phases.len() - 1)]
    }

    /// The script from phase `n` on, as `@sequence.` text (for a discovered address).
    pub fn text_from(&self, n: usize) -> String {
        let mut parts = Vec::new();
        for (i, phase) in self.phases.iter().enumerate().skip(n) {
            for (k, s) in phase.iter().enumerate() {
                let mut opts: Vec<String> = s.docs.iter().map(|d| format!("DOC:{d}")).collect();
                if let Some(c) = &s.fail_cause {
                    opts.push(format!("FAILCAUSE:{c}"));
                }
                match &s.discovery {
                    Some(Some(cap)) => opts.push(format!("DISCOVERY:{cap}")),
                    Some(None) => opts.push("DISCOVERY".into()),
                    None => {}
                }
                if let Some(p) = s.pages {
                    opts.push(format!("PAGES:{p}"));
                }
                let mut step = format!("{}s-{}", s.after, s.code);
                if !opts.is_empty() {
                    step.push_str(&format!("[{}]", opts.join(";")));
                }
                if k + 1 == phase.len() && i + 1 < self.phases.len() {
                    step.push_str("@discovered");
                }
                parts.push(step);
            }
        }
        format!("@sequence.{}", parts.join("."))
    }
}

/// The named paper sequences, by lower-case name.
pub fn named() -> &'static HashMap<String, (String, Script)> {
    static NAMED_SCRIPTS: OnceLock<HashMap<String, (String, Script)>> = OnceLock::new();
    NAMED_SCRIPTS.get_or_init(|| {
        NAMED
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (name, seq) = l.split_once('\t').expect("name<TAB>sequence");
                let script =
                    Script::parse(seq).unwrap_or_else(|e| panic!("named sequence {name}: {e}"));
                (name.to_ascii_lowercase(), (name.to_string(), script))
            })
            .collect()
    })
}

/// What an address asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Forced {
    Script(Script),
    Ok,
    Fail,
}

/// The script an address string forces, if any (a malformed `@sequence.` is an error,
/// so the integrator learns of the typo).
pub fn forced(address: &str) -> Result<Option<Forced>, String> {
    if let Some(i) = address.find("@sequence.") {
        let text = &address[i + "@sequence.".len()..];
        let text = text.split(char::is_whitespace).next().unwrap_or(text);
        // `_` separates the phases of successive digital sends.
        let text = text.replace('_', "@retry.");
        return Script::parse(&text)
            .map(|s| Some(Forced::Script(s)))
            .map_err(|e| format!("{address:?}: {e}"));
    }
    let lower = address.to_ascii_lowercase();
    for word in lower.split(|c: char| c.is_whitespace()) {
        let script = word.strip_prefix('@').and_then(|name| named().get(name));
        if let Some((_, script)) = script {
            return Ok(Some(Forced::Script(script.clone())));
        }
    }
    if lower.contains("@fail") {
        return Ok(Some(Forced::Fail));
    }
    if lower.contains("@ok") {
        return Ok(Some(Forced::Ok));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_sequence_parses_and_the_discovery_ones_have_two_phases() {
        let n = named();
        assert_eq!(n.len(), 36);
        let (_, ok_ar) = &n["ok_ar"];
        let codes: Vec<&str> = ok_ar.phase(0).iter().map(|s| s.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "CON080",
                "CON020",
                "CON018",
                "RECRN001A",
                "RECRN001B",
                "RECRN001C"
            ]
        );
        assert_eq!(ok_ar.phase(0)[4].docs, ["AR"]);
        let (_, disc) = &n["fail-discovery_ar"];
        assert_eq!(disc.phases.len(), 2);
        assert_eq!(disc.phase(0)[2].discovery, Some(None));
        assert_eq!(disc.phase(0)[2].fail_cause.as_deref(), Some("M01"));
        assert_eq!(disc.phase(1).last().unwrap().code, "RECRN001C");
        let (_, bad_cap) = &n["fail-discoveryirreperibilebadcap_890"];
        assert_eq!(bad_cap.phase(0)[2].discovery, Some(Some("00100".into())));
        // The remaining phases, written back, parse to the same steps.
        let rest = disc.text_from(1);
        let again = Script::parse(rest.strip_prefix("@sequence.").unwrap()).unwrap();
        assert_eq!(again.phases, disc.phases[1..]);
    }

    #[test]
    fn addresses_force_scripts_and_typos_are_named() {
        let Some(Forced::Script(s)) =
            forced("test@sequence.5s-C000.5s-C001.5s-C007.5s-C004").unwrap()
        else {
            panic!("a script")
        };
        assert_eq!(s.phase(0).len(), 4);
        assert_eq!(s.phase(0)[3].code, "C004");
        let Some(Forced::Script(two)) =
            forced("x@sequence.1s-C000.1s-C004_1s-C000.1s-C003").unwrap()
        else {
            panic!("a script")
        };
        assert_eq!(two.phases.len(), 2);
        assert_eq!(two.phase(1)[1].code, "C003");
        assert_eq!(forced("pec@fail.it").unwrap(), Some(Forced::Fail));
        assert_eq!(forced("via Roma 1 @ok").unwrap(), Some(Forced::Ok));
        assert!(matches!(
            forced("via Roma 1 @OK-Giacenza_AR").unwrap(),
            Some(Forced::Script(_))
        ));
        assert_eq!(forced("mario.rossi@pec.it").unwrap(), None);
        let e = forced("a@sequence.5x-C000").unwrap_err();
        assert!(e.contains("5x") && e.contains("delay"), "{e}");
        let e = forced("a@sequence.5s-C000[WHAT:1]").unwrap_err();
        assert!(e.contains("WHAT"), "{e}");
    }
}
