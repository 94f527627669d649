//! Paper prices and recipient costs reproduce `domain.md`'s worked examples to the cent.

use chrono::{DateTime, Utc};
use sim::prices::{PaperAddress, PaperPriceList, Product, Zone, recipient_cost};

fn in_2026() -> DateTime<Utc> {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

#[test]
fn registered_890_to_rome_by_sheets() {
    let list = PaperPriceList::embedded();
    let cents: Vec<i64> = [1, 3, 5]
        .iter()
        .map(|s| {
            list.letter_cents_for_cap(in_2026(), Product::R890, "00118", *s)
                .unwrap()
        })
        .collect();
    assert_eq!(cents, vec![853, 860, 963]);
}

#[test]
fn other_products_match_the_computed_examples() {
    let list = PaperPriceList::embedded();
    let at = in_2026();
    // AR lot 26 AM (Turin), RS lot 21 AM: 3.64 / 3.70 / 4.16 and 2.24 / 2.31 / 2.76.
    let ar: Vec<i64> = [1, 3, 5]
        .iter()
        .map(|s| {
            list.letter_cents_for_cap(at, Product::Ar, "10121", *s)
                .unwrap()
        })
        .collect();
    assert_eq!(ar, vec![364, 370, 416]);
    let rs: Vec<i64> = [1, 3, 5]
        .iter()
        .map(|s| {
            list.letter_cents_for_cap(at, Product::Rs, "10121", *s)
                .unwrap()
        })
        .collect();
    assert_eq!(rs, vec![224, 231, 276]);
    // RIR zone 1: 8.06 / 8.12 / 10.25.
    let rir: Vec<i64> = [1, 3, 5]
        .iter()
        .map(|s| {
            list.letter_cents(
                at,
                Product::Rir,
                PaperAddress::Abroad { zone: Zone::Zone1 },
                *s,
            )
            .unwrap()
        })
        .collect();
    assert_eq!(rir, vec![806, 812, 1025]);
    assert_eq!(list.country_zone("francia").unwrap(), Zone::Zone1);
}

#[test]
fn recipient_total_price_for_890_one_sheet_is_1241_cents() {
    let c = recipient_cost(true, 100, 853, 100, 22);
    assert_eq!(c.total_price, 1241);
    assert_eq!(c.partial_price, 953);
    // A purely digital notification under DELIVERY_MODE: EUR 2.00.
    assert_eq!(recipient_cost(true, 100, 0, 100, 22).total_price, 200);
    // FLAT_RATE (or applyCost = false): SEND does not charge the recipient.
    assert_eq!(recipient_cost(false, 100, 853, 100, 22).total_price, 0);
}

#[test]
fn unknown_cap_is_an_error_that_names_it() {
    let e = PaperPriceList::embedded()
        .letter_cents_for_cap(in_2026(), Product::Ar, "99999", 1)
        .unwrap_err();
    assert!(e.to_string().contains("99999"), "{e}");
}

#[test]
fn the_2025_tender_applies_before_february_2026() {
    let list = PaperPriceList::embedded();
    let at: DateTime<Utc> = "2025-06-01T00:00:00Z".parse().unwrap();
    // Same ranges, non-deductible VAT 28% and dematerialisation 0.1283 in 2025:
    // (7.70 + 0.27418 + 0.1283) × 1.0616 = 8.6015... -> 860 cents.
    assert_eq!(
        list.letter_cents_for_cap(at, Product::R890, "00118", 1)
            .unwrap(),
        860
    );
}
