//! What the store's indexes take from a notification request: its protocol number and
//! idempotence token, its pagoPA notices, the uploads it refers to. A send has the
//! request parsed; evicting a notification reads them from its stored text without
//! building the request's tree, which cost as much as the send's own parse and was paid
//! by every send once the cap was reached.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

/// A pagoPA notice: (creditorTaxId, noticeCode).
pub type Notice<'a> = (Cow<'a, str>, Cow<'a, str>);

#[derive(Debug, PartialEq, Eq)]
pub struct RequestKeys<'a> {
    /// `paProtocolNumber` and `idempotenceToken`, empty when absent.
    pub protocol: Cow<'a, str>,
    pub token: Cow<'a, str>,
    /// Each pagoPA notice, with its recipient.
    pub notices: Vec<(Notice<'a>, usize)>,
    /// The upload keys of the documents and of the payments' attachments, sorted, each once.
    pub uploads: Vec<Cow<'a, str>>,
}

impl<'a> RequestKeys<'a> {
    /// From the parsed request; fields of another type than the contract's count as absent.
    pub fn of_value(request: &'a Value) -> RequestKeys<'a> {
        let text = |k: &str| Cow::Borrowed(request[k].as_str().unwrap_or_default());
        let recipients = || request["recipients"].as_array().into_iter().flatten();
        let payments = |rec: &'a Value| rec["payments"].as_array().into_iter().flatten();
        let mut notices = Vec::new();
        let mut uploads: Vec<Cow<str>> = request["documents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["ref"]["key"].as_str().map(Cow::Borrowed))
            .collect();
        for (k, rec) in recipients().enumerate() {
            for p in payments(rec) {
                if let (Some(c), Some(n)) = (
                    p["pagoPa"]["creditorTaxId"].as_str(),
                    p["pagoPa"]["noticeCode"].as_str(),
                ) {
                    notices.push(((Cow::Borrowed(c), Cow::Borrowed(n)), k));
                }
                for a in [&p["pagoPa"]["attachment"], &p["f24"]["metadataAttachment"]] {
                    if let Some(key) = a["ref"]["key"].as_str() {
                        uploads.push(Cow::Borrowed(key));
                    }
                }
            }
        }
        RequestKeys::new(
            text("paProtocolNumber"),
            text("idempotenceToken"),
            notices,
            uploads,
        )
    }

    /// From a request's JSON text, borrowing what needs no unescaping; `None` when the
    /// text does not have the contract's shape where these keys are (read it parsed then).
    pub fn of_text(text: &'a str) -> Option<RequestKeys<'a>> {
        let r: Shape = serde_json::from_str(text).ok()?;
        let mut notices = Vec::new();
        let mut uploads: Vec<Cow<str>> = r.documents.into_iter().filter_map(Doc::key).collect();
        for (k, rec) in r.recipients.into_iter().enumerate() {
            for p in rec.payments {
                if let Some(pago_pa) = p.pago_pa {
                    if let (Some(c), Some(n)) = (pago_pa.creditor_tax_id, pago_pa.notice_code) {
                        notices.push(((c, n), k));
                    }
                    uploads.extend(pago_pa.attachment.and_then(Doc::key));
                }
                uploads.extend(p.f24.and_then(|f| f.metadata_attachment).and_then(Doc::key));
            }
        }
        Some(RequestKeys::new(
            r.protocol.unwrap_or_default(),
            r.token.unwrap_or_default(),
            notices,
            uploads,
        ))
    }

    /// The keys as both readings find them, the uploads put in order, each once.
    fn new(
        protocol: Cow<'a, str>,
        token: Cow<'a, str>,
        notices: Vec<(Notice<'a>, usize)>,
        mut uploads: Vec<Cow<'a, str>>,
    ) -> RequestKeys<'a> {
        uploads.sort_unstable();
        uploads.dedup();
        RequestKeys {
            protocol,
            token,
            notices,
            uploads,
        }
    }
}

// The parts of a request the keys come from; serde skips the rest without building it.
#[derive(Deserialize)]
struct Shape<'a> {
    #[serde(borrow, rename = "paProtocolNumber")]
    protocol: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "idempotenceToken")]
    token: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    documents: Vec<Doc<'a>>,
    #[serde(borrow, default)]
    recipients: Vec<Recipient<'a>>,
}

#[derive(Deserialize)]
struct Doc<'a> {
    #[serde(borrow, rename = "ref")]
    reference: Option<Ref<'a>>,
}

impl<'a> Doc<'a> {
    fn key(self) -> Option<Cow<'a, str>> {
        self.reference.and_then(|r| r.key)
    }
}

#[derive(Deserialize)]
struct Ref<'a> {
    #[serde(borrow)]
    key: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Recipient<'a> {
    #[serde(borrow, default)]
    payments: Vec<Payment<'a>>,
}

#[derive(Deserialize)]
struct Payment<'a> {
    #[serde(borrow, rename = "pagoPa")]
    pago_pa: Option<PagoPa<'a>>,
    #[serde(borrow)]
    f24: Option<F24<'a>>,
}

#[derive(Deserialize)]
struct PagoPa<'a> {
    #[serde(borrow, rename = "creditorTaxId")]
    creditor_tax_id: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "noticeCode")]
    notice_code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    attachment: Option<Doc<'a>>,
}

#[derive(Deserialize)]
struct F24<'a> {
    #[serde(borrow, rename = "metadataAttachment")]
    metadata_attachment: Option<Doc<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn requests() -> Vec<Value> {
        let doc = json!({ "digests": { "sha256": "hM+Jd9C74LSf8lpn2XIQ9AFZUYj0zj6ttkTQ2lKv02M=" },
            "contentType": "application/pdf", "title": "Atto", "docIdx": "0",
            "ref": { "key": "PN_NOTIFICATION_ATTACHMENTS-0001", "versionToken": "v1" } });
        let mut rng = sim::rng::SplitMix64(5);
        let mut out: Vec<Value> = (0..100)
            .map(|k| {
                crate::load::flows::request_body(
                    &mut rng,
                    &format!("P-{k}"),
                    "80016350821",
                    &doc,
                    k,
                )
            })
            .collect();
        let attachment = |key: &str| json!({ "ref": { "key": key, "versionToken": "v" } });
        out.extend([
            // Escapes, two recipients, attachments shared with the documents, F24.
            json!({ "paProtocolNumber": "P\"1\u{e9}", "idempotenceToken": "t\\n",
                "documents": [{ "ref": { "key": "K-2" } }, { "ref": { "key": "K-1" } }],
                "recipients": [
                    { "payments": [{ "pagoPa": { "creditorTaxId": "C1", "noticeCode": "N\u{1}1",
                        "attachment": attachment("K-1") } },
                        { "f24": { "metadataAttachment": attachment("K-3") } }] },
                    { "payments": [{ "pagoPa": { "creditorTaxId": "C2" } },
                        { "pagoPa": { "creditorTaxId": "C3", "noticeCode": "N3" } }] }] }),
            // Nothing to index.
            json!({}),
            json!({ "recipients": [{}], "documents": [{}] }),
            // Not the contract's shape: the parsed reading decides.
            json!({ "paProtocolNumber": 7, "recipients": [] }),
            json!({ "recipients": { "payments": [] } }),
            json!({ "documents": [{ "ref": { "key": 3 } }] }),
        ]);
        out
    }

    #[test]
    fn keys_read_from_the_text_are_those_of_the_parsed_request() {
        let mut from_text = 0;
        for request in requests() {
            let text = crate::request_text::write(&request).0;
            let want = RequestKeys::of_value(&request);
            if let Some(got) = RequestKeys::of_text(&text) {
                assert_eq!(got, want, "{text}");
                from_text += 1;
            }
        }
        // Every request of the contract's shape is read from its text.
        assert_eq!(from_text, 103);
        let all = requests();
        let odd = RequestKeys::of_value(&all[100]);
        assert_eq!(odd.protocol, "P\"1\u{e9}");
        assert_eq!(odd.uploads, ["K-1", "K-2", "K-3"]);
        assert_eq!(odd.notices.len(), 2);
    }
}
