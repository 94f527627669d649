//! What happens to one provider request: the timed events of a PEC message, a courtesy
//! e-mail or SMS, or a registered letter, drawn from the scenario's model (the same PEC
//! and postal parameters as the mock's notifications) or played from the script the
//! address forces.

use sim::Model;
use sim::model::postal::{PostalFate, codes};
use sim::prices::Product;
use sim::rng::Stream;

use super::sequence::{Forced, Script, Step, forced, named};

/// One event of a request, at a simulated tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at: i64,
    pub code: String,
    pub fail_cause: Option<String>,
    /// Attachment types (`AR`, `23L`, `Plico`, …).
    pub docs: Vec<String>,
    /// A discovered address: `Some(text)` (the text a new engagement is sent to).
    pub discovered: Option<String>,
}

/// What kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Legal,
    Mail,
    Sms,
    Paper,
}

/// A script's steps as events from `start`; real-time delays scaled by the clock.
fn play(steps: &[Step], start: i64, scale: f64, rest: Option<String>) -> Vec<Event> {
    let mut t = start as f64;
    steps
        .iter()
        .map(|s| {
            t += s.after * scale;
            Event {
                at: t.round() as i64,
                code: s.code.clone(),
                fail_cause: s.fail_cause.clone(),
                docs: s.docs.clone(),
                discovered: s.discovery.as_ref().map(|cap| {
                    let mut text = String::from("Via Rilevata 1");
                    if let Some(cap) = cap {
                        text.push_str(&format!(" {cap}"));
                    }
                    if let Some(rest) = &rest {
                        text.push(' ');
                        text.push_str(rest);
                    }
                    text
                }),
            }
        })
        .collect()
}

fn event(at: i64, code: &str) -> Event {
    Event {
        at,
        code: code.to_string(),
        fail_cause: None,
        docs: Vec::new(),
        discovered: None,
    }
}

/// The events of a digital request. `nth` counts earlier sends to the same recipient
/// and address (the phase a `_`-separated script plays).
pub fn digital(
    model: &Model,
    kind: Kind,
    address: &str,
    nth: usize,
    rng: &mut Stream,
    now: i64,
    scale: f64,
) -> Result<Vec<Event>, String> {
    let five = (5.0 * scale).round() as i64;
    match (kind, forced(address)?) {
        (_, Some(Forced::Script(s))) => Ok(play(s.phase(nth), now, scale, None)),
        (Kind::Legal, Some(f)) => {
            let codes = match f {
                Forced::Fail => ["C000", "C001", "C007", "C004"],
                _ => ["C000", "C001", "C005", "C003"],
            };
            Ok(codes
                .iter()
                .enumerate()
                .map(|(i, c)| event(now + five * (i as i64 + 1), c))
                .collect())
        }
        (Kind::Legal, None) => {
            let (ok, delay) = model.pec_message(rng);
            let accepted = now + 60;
            let mut out = vec![event(now + 1, "C000"), event(accepted, "C001")];
            let middle = accepted + (delay / 2).max(1);
            let end = (now + delay).max(middle + 1);
            if ok {
                out.push(event(middle, "C005"));
                out.push(event(end, "C003"));
            } else {
                out.push(event(middle, "C007"));
                out.push(event(end, "C004"));
            }
            Ok(out)
        }
        (Kind::Mail, f) => {
            let fail = matches!(f, Some(Forced::Fail));
            let delay = courtesy_delay(&model.scenario.courtesy.email_delay_minutes, rng);
            Ok(vec![event(now + delay, if fail { "M008" } else { "M003" })])
        }
        (Kind::Sms, f) => {
            // As PagoPA's mock: a number starting 001 fails.
            let fail = matches!(f, Some(Forced::Fail))
                || address.trim_start_matches('+').starts_with("001");
            let delay = courtesy_delay(&model.scenario.courtesy.sms_delay_minutes, rng);
            Ok(vec![event(now + delay, if fail { "S008" } else { "S003" })])
        }
        (Kind::Paper, _) => Err("not a digital request".into()),
    }
}

fn courtesy_delay(d: &sim::dist::Dist, rng: &mut Stream) -> i64 {
    ((d.sampler().sample(rng) * 60.0).round() as i64).max(1)
}

/// The product of a `productType`.
pub fn product(text: &str) -> Option<Product> {
    Some(match text {
        "AR" => Product::Ar,
        "890" => Product::R890,
        "RS" => Product::Rs,
        "RIR" => Product::Rir,
        "RIS" => Product::Ris,
        _ => return None,
    })
}

/// The events of a paper engagement. `nth` counts earlier engagements to the same
/// recipient and address (a retry plays the script's next phase).
pub fn paper(
    model: &Model,
    product_type: Product,
    address: &str,
    nth: usize,
    rng: &mut Stream,
    now: i64,
    scale: f64,
) -> Result<Vec<Event>, String> {
    let name = |p: Product| match p {
        Product::Ar => "AR",
        Product::R890 => "890",
        Product::Rs => "RS",
        Product::Rir | Product::Ris => "AR",
    };
    let script: Option<Script> = match forced(address)? {
        Some(Forced::Script(s)) => Some(s),
        Some(Forced::Ok) => named()
            .get(&format!("ok_{}", name(product_type)).to_ascii_lowercase())
            .map(|(_, s)| s.clone()),
        Some(Forced::Fail) => named()
            .get(&format!("fail_{}", name(product_type)).to_ascii_lowercase())
            .map(|(_, s)| s.clone()),
        None => None,
    };
    if let Some(s) = script {
        let rest = (nth + 1 < s.phases.len()).then(|| s.text_from(nth + 1));
        return Ok(play(s.phase(nth), now, scale, rest));
    }
    Ok(from_model(model, product_type, rng, now))
}

/// A letter through the model, written as the carrier's events.
fn from_model(model: &Model, p: Product, rng: &mut Stream, now: i64) -> Vec<Event> {
    let prep =
        ((model.scenario.paper.preparation_hours.sampler().sample(rng)) * 3600.0).round() as i64;
    let posted = now + prep.max(60);
    let r = model.letter(rng, p, false, posted);
    let c = codes(p);
    let proof = match p {
        Product::R890 => "23L",
        _ => "AR",
    };
    let mut out = vec![event(now + prep / 2, "CON080"), {
        let mut e = event(posted, "CON020");
        e.docs.push("7ZIP".into());
        e
    }];
    let triple =
        |out: &mut Vec<Event>, codes: [&str; 3], at: i64, cause: Option<&str>, doc: &[&str]| {
            let mut last = "";
            for (i, code) in codes.iter().enumerate() {
                if *code == last {
                    continue;
                }
                last = code;
                let mut e = event(at, code);
                if i == 0 {
                    e.fail_cause = cause.map(String::from);
                }
                if i == 1 || codes[1] == codes[2] {
                    e.docs = doc.iter().map(|d| d.to_string()).collect();
                }
                out.push(e);
            }
        };
    match r.fate {
        PostalFate::Delivered => triple(&mut out, c.delivered, r.at, None, &[proof]),
        PostalFate::Refused => triple(&mut out, c.refused, r.at, Some("M05"), &["Plico"]),
        PostalFate::Deceased => triple(&mut out, c.refused, r.at, Some("M02"), &["Plico"]),
        PostalFate::Failed { discovered } => {
            let from = out.len();
            triple(
                &mut out,
                c.failed,
                r.at,
                Some(if discovered { "M01" } else { "M03" }),
                if discovered {
                    &["Plico", "Indagine"]
                } else {
                    &["Plico"]
                },
            );
            if discovered {
                out[from].discovered = Some("Via Rilevata 1".into());
            }
        }
        PostalFate::Collected { notice } => {
            out.push(event(r.arrival, c.inesito));
            out.push(event(notice, c.giacenza));
            let doc: &[&str] = if p == Product::R890 {
                &["ARCAD", "23L"]
            } else {
                &[proof]
            };
            triple(&mut out, c.collected, r.at, None, doc);
        }
        PostalFate::CompiutaGiacenza { notice } => {
            out.push(event(r.arrival, c.inesito));
            out.push(event(notice, c.giacenza));
            triple(&mut out, c.compiuta, r.at, None, &["Plico"]);
        }
        PostalFate::Lost => {
            let mut e = event(r.at, c.lost);
            e.fail_cause = Some("F01".into());
            out.push(e);
        }
    }
    out
}

/// The status a digital event code stands for (`ProgressEventCategory`).
pub fn digital_status(code: &str) -> &'static str {
    match code {
        "C003" | "M003" | "S003" => "OK",
        "C000" | "C001" | "C005" | "C007" | "M004" => "PROGRESS",
        _ => "ERROR",
    }
}

/// What a code means, for `statusDescription` and `eventDetails`.
pub fn description(code: &str) -> &'static str {
    let tail = |c: &str| {
        c.chars()
            .skip_while(|x| x.is_ascii_alphabetic())
            .collect::<String>()
    };
    match code {
        "C000" => "PEC: pre-acceptance (the PEC gateway took the message)",
        "C001" => "PEC: acceptance receipt",
        "C002" => "PEC: not accepted",
        "C003" => "PEC: delivery receipt",
        "C004" => "PEC: delivery error",
        "C005" => "PEC: taken in charge by the recipient's provider",
        "C006" => "PEC: virus detected",
        "C007" => "PEC: delivery error notice",
        "C008" => "PEC: error talking to the PEC server",
        "C009" => "PEC: PEC domain not valid",
        "C010" => "PEC: error sending the PEC",
        "C011" => "PEC: address error",
        "M003" => "e-mail sent",
        "M008" => "e-mail error",
        "S003" => "SMS sent",
        "S008" => "SMS error",
        "CON080" => "printed and handed to the consolidator",
        "CON020" => "dematerialised copy archived",
        "CON018" => "handed to the carrier",
        _ => match tail(code).as_str() {
            "010" | "001" => "delivery attempt without outcome (inesito)",
            "011" | "011A" | "002" => "held at the post office (in giacenza)",
            "011B" => "held: 23L dematerialised",
            "012" => "23L sent (accettazione/distacco)",
            "001A" | "003A" => "delivered",
            "001B" | "003B" => "delivered: proof of delivery",
            "001C" | "003C" => "delivered: final",
            "002A" | "004A" => "not delivered",
            "002B" | "004B" => "not delivered: proof",
            "002C" | "004C" => "not delivered: final",
            "002D" | "003D" => "recipient unknown or moved (irreperibile)",
            "002E" | "003E" => "recipient unknown or moved: proof",
            "002F" | "003F" => "recipient unknown or moved: final",
            "005A" | "008A" => "not collected within the term (compiuta giacenza)",
            "005B" | "008B" => "compiuta giacenza: proof",
            "005C" | "008C" => "compiuta giacenza: final",
            "006" | "004" | "005" => "theft, loss or damage",
            "013" => "not reportable",
            "015" => "force majeure",
            _ => "postal event",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::rng::StreamKey;

    fn model() -> Model {
        Model::new(sim::Scenario::builtin_default()).unwrap()
    }

    #[test]
    fn the_model_draws_pec_outcomes_in_its_proportions() {
        let m = model();
        let mut delivered = 0;
        for i in 0..2000 {
            let mut rng = StreamKey::stream_for(1, 0, i);
            let ev = digital(&m, Kind::Legal, "a@pec.it", 0, &mut rng, 0, 1.0).unwrap();
            let codes: Vec<&str> = ev.iter().map(|e| e.code.as_str()).collect();
            assert!(
                codes == ["C000", "C001", "C005", "C003"]
                    || codes == ["C000", "C001", "C007", "C004"]
            );
            assert!(ev.windows(2).all(|w| w[0].at < w[1].at));
            delivered += (codes[3] == "C003") as u32;
        }
        // working_box_share = 0.94
        assert!((1820..1930).contains(&delivered), "{delivered}");
    }

    #[test]
    fn model_letters_end_in_a_final_code_of_their_product() {
        let m = model();
        let mut finals = std::collections::BTreeMap::new();
        for i in 0..3000 {
            let mut rng = StreamKey::stream_for(2, 0, i);
            let ev = paper(&m, Product::Ar, "Via Roma 1", 0, &mut rng, 0, 1.0).unwrap();
            assert_eq!(ev[0].code, "CON080");
            assert!(ev.windows(2).all(|w| w[0].at <= w[1].at));
            *finals.entry(ev.last().unwrap().code.clone()).or_insert(0) += 1;
        }
        for code in ["RECRN001C", "RECRN003C", "RECRN005C", "RECRN002F"] {
            assert!(finals.contains_key(code), "{code} in {finals:?}");
        }
        assert!(finals["RECRN001C"] > finals["RECRN002F"]);
    }

    #[test]
    fn forced_sequences_play_their_phases() {
        let m = model();
        let mut rng = StreamKey::stream_for(3, 0, 0);
        let first = paper(
            &m,
            Product::Ar,
            "Via X @FAIL-Discovery_AR",
            0,
            &mut rng,
            100,
            2.0,
        )
        .unwrap();
        assert_eq!(first.last().unwrap().code, "RECRN002F");
        assert_eq!(first[0].at, 110, "5 real seconds at scale 2");
        let found = first.iter().find_map(|e| e.discovered.clone()).unwrap();
        assert!(found.contains("@sequence."), "{found}");
        // The engagement to the discovered address plays the next phase.
        let second = paper(&m, Product::Ar, &found, 0, &mut rng, 200, 1.0).unwrap();
        assert_eq!(second.last().unwrap().code, "RECRN001C");
        let ok = paper(&m, Product::R890, "@ok", 0, &mut rng, 0, 1.0).unwrap();
        assert_eq!(ok.last().unwrap().code, "RECAG001C");
        let retry = paper(&m, Product::Ar, "@OK-Retry_AR", 1, &mut rng, 0, 1.0).unwrap();
        assert_eq!(retry.last().unwrap().code, "RECRN001C");
        let fail = digital(&m, Kind::Legal, "x@fail.it", 0, &mut rng, 0, 1.0).unwrap();
        assert_eq!(fail.last().unwrap().code, "C004");
        let sms = digital(&m, Kind::Sms, "0013331234567", 0, &mut rng, 0, 1.0).unwrap();
        assert_eq!(sms[0].code, "S008");
    }
}
