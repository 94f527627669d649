//! Identifiers in SEND's formats: IUN with its control letter, notification request id,
//! attachment and legal-fact keys.

use base64::Engine;
use sim::rng::SplitMix64;

/// IUN letters (pn-delivery `IunGenerator`).
const ALPHABET: &[u8; 20] = b"ADEGHJKLMNPQRTUVWXYZ";
const FORBIDDEN_PAIRS: [&[u8; 2]; 5] = [b"UV", b"VU", b"HN", b"NH", b"LJ"];

fn letter_index(c: u8) -> usize {
    ALPHABET.iter().position(|a| *a == c).expect("IUN letter")
}

/// The control letter: alphabet[(Σ (letter index + 1) + Σ digits of YYYYMM) mod 20].
pub fn control_letter(blocks: &str, year_month: &str) -> char {
    let letters: usize = blocks
        .bytes()
        .filter(|b| b.is_ascii_uppercase())
        .map(|b| letter_index(b) + 1)
        .sum();
    let digits: usize = year_month.bytes().map(|b| (b - b'0') as usize).sum();
    ALPHABET[(letters + digits) % 20] as char
}

/// A new IUN for a notification created in `year_month` (`YYYYMM`, UTC).
pub fn iun(rng: &mut SplitMix64, year_month: &str) -> String {
    let mut out = String::with_capacity(25);
    for b in 0..3 {
        if b > 0 {
            out.push('-');
        }
        let start = out.len();
        while out.len() < start + 4 {
            let c = ALPHABET[(rng.advance() % 20) as usize];
            if out.len() > start {
                let prev = out.as_bytes()[out.len() - 1];
                if prev == c || FORBIDDEN_PAIRS.iter().any(|p| p[0] == prev && p[1] == c) {
                    continue;
                }
            }
            out.push(c as char);
        }
    }
    let control = control_letter(&out, year_month);
    out.push('-');
    out.push_str(year_month);
    out.push('-');
    out.push(control);
    out.push_str("-1");
    out
}

/// Whether a string is a well-formed IUN with the right control letter.
pub fn is_valid_iun(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 6
        && parts[..3]
            .iter()
            .all(|p| p.len() == 4 && p.bytes().all(|b| ALPHABET.contains(&b)))
        && parts[3].len() == 6
        && parts[3].bytes().all(|b| b.is_ascii_digit())
        && parts[4].len() == 1
        && parts[4].starts_with(control_letter(&parts[..3].join("-"), parts[3]))
        && (parts[5] == "1" || parts[5] == "A")
}

/// `notificationRequestId` = Base64 of the IUN (pn-delivery).
pub fn request_id(iun: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(iun.as_bytes())
}

pub fn iun_of_request_id(id: &str) -> Option<String> {
    base64::engine::general_purpose::STANDARD
        .decode(id)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}

const KEY_CHARS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Appends `n` groups of four key characters, joined by `-`.
fn push_groups(out: &mut String, rng: &mut SplitMix64, n: usize) {
    for g in 0..n {
        if g > 0 {
            out.push('-');
        }
        for _ in 0..4 {
            out.push(KEY_CHARS[(rng.advance() % 36) as usize] as char);
        }
    }
}

/// `prefix` followed by `n` groups of key characters, in one allocation.
fn key(prefix: &str, rng: &mut SplitMix64, n: usize) -> String {
    let mut out = String::with_capacity(prefix.len() + 5 * n);
    out.push_str(prefix);
    push_groups(&mut out, rng, n);
    out
}

/// A safe-storage key such as `PN_NOTIFICATION_ATTACHMENTS-0001-301W-B9CB-9U72-WIKD`.
pub fn attachment_key(rng: &mut SplitMix64) -> String {
    key("PN_NOTIFICATION_ATTACHMENTS-0001-", rng, 4)
}

/// A legal-fact key (`PN_LEGAL_FACTS-0002-…`; PEC receipts `PN_EXTERNAL_LEGAL_FACTS-…`).
pub fn legal_fact_key(rng: &mut SplitMix64, external: bool) -> String {
    let mut out = String::new();
    push_legal_fact_key(&mut out, rng, external);
    out
}

/// Appends a legal-fact key to `out`, as `legal_fact_key` makes it.
pub fn push_legal_fact_key(out: &mut String, rng: &mut SplitMix64, external: bool) {
    out.push_str(if external {
        "PN_EXTERNAL_LEGAL_FACTS-0002-"
    } else {
        "PN_LEGAL_FACTS-0002-"
    });
    push_groups(out, rng, 4);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_letter_matches_the_published_example() {
        assert_eq!(control_letter("QLYM-PHLG-ZAPJ", "202402"), 'H');
        assert!(is_valid_iun("QLYM-PHLG-ZAPJ-202402-H-1"));
        assert!(!is_valid_iun("QLYM-PHLG-ZAPJ-202402-A-1"));
    }

    #[test]
    fn a_seed_gives_the_same_iun_and_keys_every_time() {
        // Notifications, their documents and legal facts are named from the seed: a rerun
        // with the same seed must name them alike.
        let mut rng = SplitMix64(1);
        assert_eq!(iun(&mut rng, "202611"), "JZPV-DMJT-APXP-202611-X-1");
        assert_eq!(
            attachment_key(&mut rng),
            "PN_NOTIFICATION_ATTACHMENTS-0001-KA4N-RT20-ACXW-RVDB"
        );
        assert_eq!(
            legal_fact_key(&mut rng, false),
            "PN_LEGAL_FACTS-0002-JEGI-1WFK-TLKG-Q37E"
        );
        assert_eq!(
            legal_fact_key(&mut rng, true),
            "PN_EXTERNAL_LEGAL_FACTS-0002-PSI2-NEOH-S0Z7-R8YE"
        );
    }

    #[test]
    fn generated_iuns_are_valid_and_request_ids_have_36_chars() {
        let mut rng = SplitMix64(1);
        for _ in 0..1000 {
            let iun = iun(&mut rng, "202611");
            assert!(is_valid_iun(&iun), "{iun}");
            let id = request_id(&iun);
            assert_eq!(id.len(), 36);
            assert_eq!(iun_of_request_id(&id).as_deref(), Some(iun.as_str()));
        }
    }
}
