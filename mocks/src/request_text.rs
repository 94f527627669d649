//! A stored request's text, written as serde_json writes it compactly, with the places
//! of the values views quote noted on the way: finding them again meant parsing the
//! whole request for every detail, a tenth of its rendering.

use serde_json::Value;

/// A value's place in the text: where it starts and where it ends.
type Span = (u32, u32);

/// A request-level value a view quotes.
#[derive(Clone, Copy)]
pub enum Quote {
    ProtocolNumber,
    IdempotenceToken,
    PhysicalCommunicationType,
}

/// A recipient's value a view quotes.
#[derive(Clone, Copy)]
pub enum RecipientQuote {
    TaxId,
    RecipientType,
    PhysicalAddress,
    DigitalDomicile,
    /// The `pagoPa` notice of the recipient's first payment.
    FirstPagoPa,
}

const REQUEST_QUOTES: usize = 3;
const RECIPIENT_QUOTES: usize = 5;

/// Where the quoted values stand: the request's three, then five for each recipient.
/// `(0, 0)` is a value the request does not have (or has as `null`).
#[derive(Debug, Clone, Default)]
pub struct Quotes(Box<[Span]>);

impl Quotes {
    /// The raw JSON of `quote` in `text`, if the request has it.
    pub fn get<'t>(&self, text: &'t str, quote: Quote) -> Option<&'t str> {
        self.at(text, quote as usize)
    }

    /// The raw JSON of recipient `rec`'s `quote` in `text`, if it has it.
    pub fn recipient<'t>(
        &self,
        text: &'t str,
        rec: usize,
        quote: RecipientQuote,
    ) -> Option<&'t str> {
        let k = rec
            .checked_mul(RECIPIENT_QUOTES)?
            .checked_add(REQUEST_QUOTES + quote as usize)?;
        self.at(text, k)
    }

    fn at<'t>(&self, text: &'t str, k: usize) -> Option<&'t str> {
        let &(start, end) = self.0.get(k)?;
        (end > start).then(|| &text[start as usize..end as usize])
    }
}

/// `request` as compact JSON text (the same text as `serde_json::to_string`), and where
/// the values views quote stand in it.
pub fn write(request: &Value) -> (Box<str>, Quotes) {
    let mut w = Writer {
        buf: Vec::with_capacity(1024),
        spans: vec![(0, 0); REQUEST_QUOTES],
    };
    match request {
        Value::Object(fields) => {
            w.object(fields, |w, key, value| {
                let quote = match key {
                    "paProtocolNumber" => Some(Quote::ProtocolNumber),
                    "idempotenceToken" => Some(Quote::IdempotenceToken),
                    "physicalCommunicationType" => Some(Quote::PhysicalCommunicationType),
                    "recipients" => {
                        w.recipients(value);
                        return None;
                    }
                    _ => None,
                };
                w.value(value);
                quote.map(|q| q as usize)
            });
        }
        other => w.value(other),
    }
    let text = String::from_utf8(w.buf).expect("serde_json writes UTF-8");
    (text.into_boxed_str(), Quotes(w.spans.into_boxed_slice()))
}

struct Writer {
    buf: Vec<u8>,
    spans: Vec<Span>,
}

impl Writer {
    fn value(&mut self, v: &Value) {
        serde_json::to_writer(&mut self.buf, v).expect("a JSON value serialises");
    }

    /// Writes `fields` as an object; `field` writes each value and says which span, if
    /// any, the value's place goes to.
    fn object(
        &mut self,
        fields: &serde_json::Map<String, Value>,
        mut field: impl FnMut(&mut Self, &str, &Value) -> Option<usize>,
    ) {
        self.buf.push(b'{');
        for (k, (key, value)) in fields.iter().enumerate() {
            if k > 0 {
                self.buf.push(b',');
            }
            serde_json::to_writer(&mut self.buf, key).expect("a key serialises");
            self.buf.push(b':');
            let start = self.buf.len();
            if let Some(slot) = field(self, key, value) {
                if !value.is_null() {
                    self.spans[slot] = (offset(start), offset(self.buf.len()));
                }
            }
        }
        self.buf.push(b'}');
    }

    fn array(&mut self, items: &[Value], mut item: impl FnMut(&mut Self, usize, &Value)) {
        self.buf.push(b'[');
        for (k, v) in items.iter().enumerate() {
            if k > 0 {
                self.buf.push(b',');
            }
            item(self, k, v);
        }
        self.buf.push(b']');
    }

    fn recipients(&mut self, recipients: &Value) {
        let Value::Array(items) = recipients else {
            return self.value(recipients);
        };
        self.spans
            .resize(REQUEST_QUOTES + RECIPIENT_QUOTES * items.len(), (0, 0));
        self.array(items, |w, rec, recipient| {
            let Value::Object(fields) = recipient else {
                return w.value(recipient);
            };
            let base = REQUEST_QUOTES + RECIPIENT_QUOTES * rec;
            w.object(fields, |w, key, value| {
                let quote = match key {
                    "taxId" => Some(RecipientQuote::TaxId),
                    "recipientType" => Some(RecipientQuote::RecipientType),
                    "physicalAddress" => Some(RecipientQuote::PhysicalAddress),
                    "digitalDomicile" => Some(RecipientQuote::DigitalDomicile),
                    "payments" => {
                        w.payments(value, base + RecipientQuote::FirstPagoPa as usize);
                        return None;
                    }
                    _ => None,
                };
                w.value(value);
                quote.map(|q| base + q as usize)
            });
        });
    }

    /// Writes a recipient's payments, noting where the first one's `pagoPa` stands.
    fn payments(&mut self, payments: &Value, slot: usize) {
        let Value::Array(items) = payments else {
            return self.value(payments);
        };
        self.array(items, |w, k, payment| match payment {
            Value::Object(fields) if k == 0 => w.object(fields, |w, key, value| {
                w.value(value);
                (key == "pagoPa").then_some(slot)
            }),
            other => w.value(other),
        });
    }
}

fn offset(at: usize) -> u32 {
    u32::try_from(at).expect("a request is smaller than 4 GB")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn requests() -> Vec<Value> {
        vec![
            json!({
                "paProtocolNumber": "P-1", "idempotenceToken": "tok \"quoted\"",
                "physicalCommunicationType": "AR_REGISTERED_LETTER", "subject": "àè €",
                "recipients": [
                    {"taxId": "RSSMRA80A01H501U", "recipientType": "PF",
                     "physicalAddress": {"address": "via Roma 1", "zip": "00100"},
                     "digitalDomicile": {"type": "PEC", "address": "a@pec.it"},
                     "payments": [{"pagoPa": {"noticeCode": "3020", "creditorTaxId": "800"}},
                                  {"pagoPa": {"noticeCode": "second"}}]},
                    {"taxId": "01234567890", "recipientType": "PG", "physicalAddress": null,
                     "payments": []},
                    "not an object",
                    {"payments": [1, {"pagoPa": "late"}]}
                ],
                "documents": [{"ref": {"key": "k"}, "digests": {"sha256": "x"}}],
                "vat": 22, "paFee": 100
            }),
            json!({"recipients": "none", "idempotenceToken": null}),
            json!({}),
            json!([1, 2]),
        ]
    }

    /// What a full parse of the text finds at the same place, as compact JSON.
    fn parsed(text: &str, pointer: &str) -> Option<String> {
        let v: Value = serde_json::from_str(text).expect("JSON");
        v.pointer(pointer)
            .filter(|v| !v.is_null())
            .map(|v| v.to_string())
    }

    #[test]
    fn the_text_is_serde_jsons_and_each_quote_is_the_value_at_its_place() {
        for request in requests() {
            let (text, quotes) = write(&request);
            assert_eq!(&*text, serde_json::to_string(&request).expect("JSON"));
            for (quote, key) in [
                (Quote::ProtocolNumber, "paProtocolNumber"),
                (Quote::IdempotenceToken, "idempotenceToken"),
                (
                    Quote::PhysicalCommunicationType,
                    "physicalCommunicationType",
                ),
            ] {
                assert_eq!(
                    quotes.get(&text, quote).map(String::from),
                    parsed(&text, &format!("/{key}")),
                    "{key} of {request}"
                );
            }
            for rec in 0..6 {
                let recipient_is_object = request["recipients"][rec].is_object();
                for (quote, pointer) in [
                    (RecipientQuote::TaxId, "taxId"),
                    (RecipientQuote::RecipientType, "recipientType"),
                    (RecipientQuote::PhysicalAddress, "physicalAddress"),
                    (RecipientQuote::DigitalDomicile, "digitalDomicile"),
                    (RecipientQuote::FirstPagoPa, "payments/0/pagoPa"),
                ] {
                    let expected = if recipient_is_object {
                        parsed(&text, &format!("/recipients/{rec}/{pointer}"))
                    } else {
                        None
                    };
                    assert_eq!(
                        quotes.recipient(&text, rec, quote).map(String::from),
                        expected,
                        "recipient {rec} {pointer} of {request}"
                    );
                }
            }
        }
    }
}
