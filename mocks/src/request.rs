//! From a `NewNotificationRequest` to the model's input: the request says the act's
//! terms, the recipients' kinds, special domiciles and addresses; the model's scenario
//! supplies what SEND would find in its registries (platform and general domiciles,
//! IO, courtesy addresses) and how the world behaves. Also the semantic checks that
//! production runs asynchronously (tax id check characters, CAPs, attachments,
//! payment positions), and the outcome-forcing addresses of PagoPA's own mocks.

use serde_json::Value;
use sim::Model;
use sim::model::postal::PostalFate;
use sim::model::{Forced, NotificationInput, RecipientType};
use sim::prices::{PaperAddress, PaperPriceList};
use sim::rng::StreamKey;
use sim::scenario::{FeePolicy, PhysicalCommunicationType};

/// A semantic refusal (`NotificationRefusedErrorV27`).
/// Every refusal code the mock gives.
pub const REFUSAL_CODES: [&str; 5] = [
    "FILE_NOTFOUND",
    "FILE_SHA_ERROR",
    "NOT_VALID_ADDRESS",
    "PAYMENT_NOT_VALID",
    "TAXID_NOT_VALID",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub detail: String,
    pub rec_index: Option<usize>,
}

/// Odd-position values of the codice fiscale check character.
const CF_ODD: [u32; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

/// The check character of a codice fiscale's first 15 characters.
pub fn cf_check_char(first15: &str) -> Option<char> {
    if first15.len() != 15 {
        return None;
    }
    let mut sum = 0;
    for (i, c) in first15.chars().enumerate() {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32,
            _ => return None,
        };
        // Positions are counted from 1: odd positions use the table.
        sum += if i % 2 == 0 { CF_ODD[v as usize] } else { v };
    }
    Some((b'A' + (sum % 26) as u8) as char)
}

/// Whether a tax id passes its check: 16-character codice fiscale or 11-digit partita IVA.
pub fn tax_id_valid(tax_id: &str) -> bool {
    match tax_id.len() {
        16 => cf_check_char(&tax_id[..15]) == tax_id.chars().nth(15),
        11 if tax_id.bytes().all(|b| b.is_ascii_digit()) => {
            let d: Vec<u32> = tax_id.bytes().map(|b| (b - b'0') as u32).collect();
            let mut sum = 0;
            for (i, v) in d[..10].iter().enumerate() {
                sum += if i % 2 == 0 {
                    *v
                } else {
                    let x = v * 2;
                    if x > 9 { x - 9 } else { x }
                };
            }
            (10 - sum % 10) % 10 == d[10]
        }
        _ => false,
    }
}

/// The postal outcome a final carrier code stands for.
pub(crate) fn fate_of_code(code: &str, cause: Option<&str>, discovery: bool) -> Option<PostalFate> {
    let base = code.split('[').next().unwrap_or(code);
    let at = 0;
    Some(match base {
        "RECRN001C" | "RECAG001C" | "RECAG002C" | "RECRI003C" | "RECRS001C" => {
            PostalFate::Delivered
        }
        "RECRN003C" | "RECAG005C" | "RECAG006C" | "RECRN004C" | "RECAG007C" | "RECRS003C" => {
            PostalFate::Collected { notice: at }
        }
        "RECRN005C" | "RECAG008C" | "PNRN012" | "PNAG012" => {
            PostalFate::CompiutaGiacenza { notice: at }
        }
        "RECRN002C" | "RECAG003C" => match cause {
            Some("M02") => PostalFate::Deceased,
            Some("M05") | None => PostalFate::Refused,
            _ => PostalFate::Failed {
                discovered: discovery,
            },
        },
        "RECRN002F" | "RECAG003F" | "RECRI004C" | "RECRS002F" => PostalFate::Failed {
            discovered: discovery,
        },
        "RECRN006" | "RECAG004" | "RECRI005" | "RECRS006" => PostalFate::Lost,
        _ => return None,
    })
}

/// Outcomes forced by an address string, as in PagoPA's External Channels mock:
/// `@ok`, `@fail`, or `@sequence.5s-CON080.5s-RECAG001A.5s-RECAG001C` (durations in
/// real time, scaled by the mock's clock; the final code decides the outcome, with
/// `FAILCAUSE:Mxx` and `DISCOVERY` honoured).
pub fn forced_paper(address: &str, scale: f64) -> Option<(PostalFate, i64)> {
    let lower = address.to_ascii_lowercase();
    let after = |secs: f64| (secs * scale).round() as i64;
    if let Some(i) = address.find("@sequence.") {
        let seq = &address[i + "@sequence.".len()..];
        let seq = seq
            .split(|c: char| c.is_whitespace() || c == '_')
            .next()
            .unwrap_or(seq);
        let mut total = 0.0;
        let mut last = None;
        let mut cause = None;
        let mut discovery = false;
        for step in seq.split('.') {
            let Some((dur, rest)) = step.split_once('-') else {
                continue;
            };
            total += crate::channels::sequence::parse_duration(dur).unwrap_or(0.0);
            let code = rest.split('[').next().unwrap_or(rest);
            if let Some(cmds) = rest.split_once('[').map(|(_, c)| c.trim_end_matches(']')) {
                for cmd in cmds.split(',') {
                    if let Some(c) = cmd.strip_prefix("FAILCAUSE:") {
                        cause = Some(c.to_string());
                    }
                    if cmd.starts_with("DISCOVERY") {
                        discovery = true;
                    }
                }
            }
            last = Some(code.to_string());
        }
        let fate = fate_of_code(last.as_deref()?, cause.as_deref(), discovery)?;
        return Some((fate, after(total.max(1.0))));
    }
    if lower.contains("@fail") {
        return Some((PostalFate::Failed { discovered: false }, after(15.0)));
    }
    if lower.contains("@ok") {
        return Some((PostalFate::Delivered, after(15.0)));
    }
    None
}

fn forced_pec(address: &str) -> Option<bool> {
    let lower = address.to_ascii_lowercase();
    if lower.contains("@fail") {
        Some(false)
    } else if lower.contains("@ok") {
        Some(true)
    } else {
        None
    }
}

/// The semantic checks of validation, against what was uploaded.
pub fn semantic_checks(
    req: &Value,
    uploaded: impl Fn(&str) -> Option<(String, String)>,
    payment_known: impl Fn(&str, &str) -> bool,
) -> Vec<Refusal> {
    let mut out = Vec::new();
    let check_file = |out: &mut Vec<Refusal>, doc: &Value, where_: &str, rec: Option<usize>| {
        let key = doc["ref"]["key"].as_str().unwrap_or_default();
        let sha = doc["digests"]["sha256"].as_str().unwrap_or_default();
        match uploaded(key) {
            None => out.push(Refusal {
                code: "FILE_NOTFOUND",
                detail: format!("{where_}: file {key} was never uploaded"),
                rec_index: rec,
            }),
            Some((stored_sha, version)) => {
                if stored_sha != sha {
                    out.push(Refusal {
                        code: "FILE_SHA_ERROR",
                        detail: format!(
                            "{where_}: sha256 {sha} differs from the uploaded file's {stored_sha}"
                        ),
                        rec_index: rec,
                    });
                }
                let token = doc["ref"]["versionToken"].as_str().unwrap_or_default();
                if token != version {
                    out.push(Refusal {
                        code: "FILE_NOTFOUND",
                        detail: format!(
                            "{where_}: versionToken {token} does not match the upload ({version})"
                        ),
                        rec_index: rec,
                    });
                }
            }
        }
    };
    for (i, doc) in req["documents"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        check_file(&mut out, doc, &format!("documents[{i}]"), None);
    }
    let prices = PaperPriceList::embedded();
    let async_mode = req["pagoPaIntMode"].as_str() == Some("ASYNC");
    for (r, rec) in req["recipients"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (k, p) in rec["payments"].as_array().into_iter().flatten().enumerate() {
            if p["pagoPa"]["attachment"].is_object() {
                check_file(
                    &mut out,
                    &p["pagoPa"]["attachment"],
                    &format!("recipients[{r}].payments[{k}].pagoPa.attachment"),
                    Some(r),
                );
            }
            if async_mode {
                let creditor = p["pagoPa"]["creditorTaxId"].as_str().unwrap_or_default();
                let notice = p["pagoPa"]["noticeCode"].as_str().unwrap_or_default();
                if p["pagoPa"].is_object() && !payment_known(creditor, notice) {
                    out.push(Refusal {
                        code: "PAYMENT_NOT_VALID",
                        detail: format!("payment position {creditor}/{notice} not found on GPD"),
                        rec_index: Some(r),
                    });
                }
            }
        }
        let tax_id = rec["taxId"].as_str().unwrap_or_default();
        if !tax_id_valid(tax_id) {
            out.push(Refusal {
                code: "TAXID_NOT_VALID",
                detail: format!("tax id {tax_id} fails its check"),
                rec_index: Some(r),
            });
        }
        let addr = &rec["physicalAddress"];
        if addr.is_object() {
            let foreign = addr["foreignState"].as_str().filter(|s| {
                !s.is_empty()
                    && !s.eq_ignore_ascii_case("italia")
                    && !s.eq_ignore_ascii_case("italy")
            });
            match foreign {
                Some(country) => {
                    if prices.country_zone(country).is_err() {
                        out.push(Refusal {
                            code: "NOT_VALID_ADDRESS",
                            detail: format!("unknown foreign state {country}"),
                            rec_index: Some(r),
                        });
                    }
                }
                None => {
                    let zip = addr["zip"].as_str().unwrap_or_default();
                    if prices.geo.cap_index(zip).is_none() {
                        out.push(Refusal {
                            code: "NOT_VALID_ADDRESS",
                            detail: format!("unknown CAP {zip:?}"),
                            rec_index: Some(r),
                        });
                    }
                }
            }
        }
    }
    out
}

/// The model's input for an accepted request, keyed by the notification's stream key.
pub fn model_input(
    model: &Model,
    key: &StreamKey,
    req: &Value,
    sent_at: i64,
    scale: f64,
) -> NotificationInput {
    // The request's own instant replaces the sampled arrival.
    let mut input = model.sample_notification(key, 1);
    input.sent_at = sent_at;
    let t = &mut input.terms;
    t.physical_communication_type = match req["physicalCommunicationType"].as_str() {
        Some("AR_REGISTERED_LETTER") => PhysicalCommunicationType::ArRegisteredLetter,
        _ => PhysicalCommunicationType::RegisteredLetter890,
    };
    t.fee_policy = match req["notificationFeePolicy"].as_str() {
        Some("DELIVERY_MODE") => FeePolicy::DeliveryMode,
        _ => FeePolicy::FlatRate,
    };
    t.pa_fee_cents = req["paFee"].as_i64().unwrap_or(100);
    t.vat_percent = req["vat"].as_i64().unwrap_or(22);
    let payments: Vec<&Value> = req["recipients"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["payments"].as_array().into_iter().flatten())
        .collect();
    t.has_payment_notice = payments.iter().any(|p| p["pagoPa"].is_object());
    t.apply_cost = payments
        .iter()
        .any(|p| p["pagoPa"]["applyCost"].as_bool() == Some(true));
    if let Some(a) = req["amount"].as_i64() {
        t.amount_cents = a;
    }
    if !t.has_payment_notice {
        t.amount_cents = 0;
    }
    let prices = PaperPriceList::embedded();
    input.recipients = req["recipients"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, rec)| {
            let mut p = model.sample_recipient(key, i as u32);
            p.kind = if rec["recipientType"].as_str() == Some("PG") {
                RecipientType::Pg
            } else {
                RecipientType::Pf
            };
            let domicile = rec["digitalDomicile"]["address"].as_str();
            p.special_domicile = domicile.is_some();
            let addr = &rec["physicalAddress"];
            let country = addr["foreignState"].as_str().filter(|s| {
                !s.is_empty()
                    && !s.eq_ignore_ascii_case("italia")
                    && !s.eq_ignore_ascii_case("italy")
            });
            p.address = match country {
                Some(c) => PaperAddress::Abroad {
                    zone: prices.country_zone(c).unwrap_or(sim::prices::Zone::Zone1),
                },
                None => match addr["zip"].as_str().and_then(|z| prices.geo.cap_index(z)) {
                    Some(cap) => PaperAddress::National { cap },
                    None => p.address,
                },
            };
            let street = addr["address"].as_str().unwrap_or_default();
            p.forced = Forced {
                pec: domicile.and_then(forced_pec),
                paper: forced_paper(street, scale),
            };
            if !addr.is_object() {
                // No address at all: paper cannot be sent, as with an unknown one.
                p.address_correct = false;
            }
            p
        })
        .collect();
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tax_id_checks() {
        let first = "RSSMRA80A01H501";
        let cf = format!("{first}{}", cf_check_char(first).unwrap());
        assert!(tax_id_valid(&cf), "{cf}");
        assert!(!tax_id_valid("RSSMRA80A01H501A") || cf.ends_with('A'));
        // Partita IVA of a public body example with a valid check digit.
        assert!(tax_id_valid("80016350821"));
        assert!(!tax_id_valid("80016350822"));
    }

    #[test]
    fn forcing_addresses() {
        assert_eq!(
            forced_paper("via Roma 1 @ok", 100.0),
            Some((PostalFate::Delivered, 1500))
        );
        assert!(matches!(
            forced_paper("@fail", 1.0),
            Some((PostalFate::Failed { .. }, 15))
        ));
        let (fate, after) = forced_paper(
            "@sequence.5s-CON080.5s-RECAG001A.5s-RECAG001B[DOC:23L].5s-RECAG001C",
            10.0,
        )
        .unwrap();
        assert_eq!((fate, after), (PostalFate::Delivered, 200));
        let (fate, _) =
            forced_paper("@sequence.5s-CON080.5s-RECRN002C[FAILCAUSE:M02]", 1.0).unwrap();
        assert_eq!(fate, PostalFate::Deceased);
        assert_eq!(forced_paper("via Roma 1", 1.0), None);
    }
}
