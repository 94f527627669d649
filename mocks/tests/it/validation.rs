//! Requests the mock refuses: schema violations (400 naming the element), duplicates
//! (409), semantic refusals (REFUSED with production's codes), keys and senders.

use serde_json::{Value, json};

use crate::support::*;

async fn bad(m: &Mock, body: Value) -> Vec<(String, String)> {
    let (s, h, p) = m
        .call("POST", "/delivery/v2.6/requests", Some(KEY), Some(body))
        .await;
    assert_eq!(s, 400, "{p:#}");
    assert_eq!(h["content-type"], "application/problem+json");
    let errors = mocks::spec::Spec::embedded().check_schema("Problem", &p);
    assert!(errors.is_empty(), "{errors:?}");
    p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_string(),
                e["element"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn has(errors: &[(String, String)], code: &str, element: &str) -> bool {
    errors.iter().any(|(c, e)| c == code && e == element)
}

#[tokio::test]
async fn each_kind_of_constraint_is_reported_on_its_element() {
    let m = start(1, true).await;
    let doc = m.upload_pdf(b"%PDF-1.4 x").await;
    let good = request(
        "P-1",
        &doc,
        vec![recipient(
            &cf("RSSMRA80A01H501"),
            "via Roma 1",
            None,
            "302000100000019461",
        )],
    );

    let mut b = good.clone();
    b.as_object_mut().unwrap().remove("subject");
    assert!(has(
        &bad(&m, b).await,
        "PN_GENERIC_INVALIDPARAMETER_REQUIRED",
        "body.subject"
    ));

    let mut b = good.clone();
    b["recipients"][0]["taxId"] = json!("not-a-tax-id");
    let e = bad(&m, b).await;
    assert!(
        e.iter().any(|(c, el)| el == "body.recipients[0].taxId"
            && c.starts_with("PN_GENERIC_INVALIDPARAMETER")),
        "{e:?}"
    );

    let mut b = good.clone();
    b["taxonomyCode"] = json!("12345");
    assert!(has(
        &bad(&m, b).await,
        "PN_GENERIC_INVALIDPARAMETER_PATTERN",
        "body.taxonomyCode"
    ));

    let mut b = good.clone();
    b["subject"] = json!("x".repeat(135));
    assert!(has(
        &bad(&m, b).await,
        "PN_GENERIC_INVALIDPARAMETER_SIZE",
        "body.subject"
    ));

    let mut b = good.clone();
    b["physicalCommunicationType"] = json!("CARRIER_PIGEON");
    assert!(has(
        &bad(&m, b).await,
        "PN_GENERIC_INVALIDPARAMETER",
        "body.physicalCommunicationType"
    ));

    let mut b = good.clone();
    b["recipients"] = json!([]);
    assert!(has(
        &bad(&m, b).await,
        "PN_GENERIC_INVALIDPARAMETER_SIZE",
        "body.recipients"
    ));

    let mut b = good.clone();
    b["paFee"] = json!(101);
    assert!(has(
        &bad(&m, b).await,
        "PN_GENERIC_INVALIDPARAMETER_MAX",
        "body.paFee"
    ));

    let mut b = good.clone();
    b["recipients"][0]["unknownField"] = json!(1);
    let e = bad(&m, b).await;
    assert!(e.iter().any(|(_, el)| el == "body.recipients[0]"), "{e:?}");

    let mut b = good.clone();
    b.as_object_mut().unwrap().remove("vat");
    assert!(has(
        &bad(&m, b).await,
        "PN_GENERIC_INVALIDPARAMETER_REQUIRED",
        "body.vat"
    ));

    // Preload: at most 15 slots.
    let many: Vec<Value> = (0..16).map(|i| json!({ "preloadIdx": i.to_string(), "contentType": "application/pdf", "sha256": "x".repeat(44) })).collect();
    let (s, _, p) = m
        .call(
            "POST",
            "/delivery/attachments/preload",
            Some(KEY),
            Some(json!(many)),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(p["errors"][0]["element"], "body");

    // Path parameters too.
    let (s, _, p) = m
        .call("GET", "/delivery/v2.3/price/123/456", Some(KEY), None)
        .await;
    assert_eq!(s, 400, "{p}");
    let elements: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["element"].as_str().unwrap())
        .collect();
    assert!(
        elements.contains(&"paTaxId") && elements.contains(&"noticeCode"),
        "{elements:?}"
    );
}

#[tokio::test]
async fn a_repeated_protocol_number_and_token_is_a_409() {
    let m = start(1, true).await;
    let doc = m.upload_pdf(b"%PDF-1.4 dup").await;
    let body = request(
        "P-DUP",
        &doc,
        vec![recipient(
            &cf("RSSMRA80A01H501"),
            "via Roma 1",
            None,
            "302000100000019471",
        )],
    );
    let (s, _, _) = m
        .call(
            "POST",
            "/delivery/v2.6/requests",
            Some(KEY),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, 202);
    let (s, h, p) = m
        .call(
            "POST",
            "/delivery/v2.6/requests",
            Some(KEY),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, 409);
    assert_eq!(h["content-type"], "application/problem+json");
    assert_eq!(
        p["errors"][0]["code"],
        "PN_GENERIC_INVALIDPARAMETER_DUPLICATED"
    );
    // A new idempotence token makes it a new notification.
    let mut other = body;
    other["idempotenceToken"] = json!("token-2");
    let (s, _, _) = m
        .call("POST", "/delivery/v2.6/requests", Some(KEY), Some(other))
        .await;
    assert_eq!(s, 202);
}

async fn refusal(m: &Mock, body: Value) -> Vec<(String, Option<i64>)> {
    let (s, _, r) = m
        .call("POST", "/delivery/v2.6/requests", Some(KEY), Some(body))
        .await;
    assert_eq!(s, 202, "{r:#}");
    let id = r["notificationRequestId"].as_str().unwrap();
    m.advance(5).await;
    let (_, _, st) = m.request_status(id).await;
    assert_eq!(st["notificationRequestStatus"], "REFUSED", "{st:#}");
    assert!(st.get("iun").is_none());
    let errors =
        mocks::spec::Spec::embedded().check_response("/delivery/v2.6/requests", "get", 200, &st);
    assert!(errors.is_empty(), "{errors:?}");
    st["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_string(),
                e["recIndex"].as_i64(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_refusal_path_comes_back_as_refused_with_its_code() {
    let m = start(2, false).await;
    let doc = m.upload_pdf(b"%PDF-1.4 refusals").await;
    let ok = || {
        recipient(
            &cf("RSSMRA80A01H501"),
            "via Roma 1",
            None,
            "302000100000019481",
        )
    };

    let mut r = ok();
    r["taxId"] = json!(format!("{}A", &cf("RSSMRA80A01H501")[..15]));
    if mocks::request::tax_id_valid(r["taxId"].as_str().unwrap()) {
        r["taxId"] = json!(format!("{}B", &cf("RSSMRA80A01H501")[..15]));
    }
    assert_eq!(
        refusal(&m, request("R-1", &doc, vec![r])).await,
        vec![("TAXID_NOT_VALID".into(), Some(0))]
    );

    let mut r = ok();
    r["physicalAddress"]["zip"] = json!("99999");
    assert_eq!(
        refusal(&m, request("R-2", &doc, vec![r])).await,
        vec![("NOT_VALID_ADDRESS".into(), Some(0))]
    );

    let mut d = doc.clone();
    d["digests"]["sha256"] = json!("A".repeat(43) + "=");
    assert!(
        refusal(&m, request("R-3", &d, vec![ok()]))
            .await
            .contains(&("FILE_SHA_ERROR".into(), None))
    );

    let mut d = doc.clone();
    d["ref"]["key"] = json!("PN_NOTIFICATION_ATTACHMENTS-0001-NEVE-RUPL-OADE-DXXX");
    assert_eq!(
        refusal(&m, request("R-4", &d, vec![ok()])).await,
        vec![("FILE_NOTFOUND".into(), None)]
    );

    let mut b = request("R-5", &doc, vec![ok()]);
    b["pagoPaIntMode"] = json!("ASYNC");
    assert_eq!(
        refusal(&m, b.clone()).await,
        vec![("PAYMENT_NOT_VALID".into(), Some(0))]
    );
    // Once the position exists on GPD, the same request is accepted.
    let (s, _, _) = m
        .call(
            "PUT",
            &format!("/mock/gpd/{SENDER}/302000100000019481"),
            None,
            None,
        )
        .await;
    assert_eq!(s, 204);
    b["paProtocolNumber"] = json!("R-6");
    let (_, _, r) = m
        .call("POST", "/delivery/v2.6/requests", Some(KEY), Some(b))
        .await;
    m.advance(5).await;
    let id = r["notificationRequestId"].as_str().unwrap();
    let (_, _, st) = m.request_status(id).await;
    assert_eq!(st["notificationRequestStatus"], "ACCEPTED");
}

#[tokio::test]
async fn keys_are_checked_and_a_key_never_sees_another_senders_notifications() {
    let m = start(4, true).await;
    let (s, _, _) = m
        .call(
            "POST",
            "/delivery/attachments/preload",
            None,
            Some(json!([])),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _, _) = m
        .call(
            "GET",
            "/delivery/v2.6/requests?notificationRequestId=x",
            Some("wrong-key"),
            None,
        )
        .await;
    assert_eq!(s, 403);

    let doc = m.upload_pdf(b"%PDF-1.4 mine").await;
    let body = request(
        "P-MINE",
        &doc,
        vec![recipient(
            &cf("RSSMRA80A01H501"),
            "via Roma 1",
            None,
            "302000100000019491",
        )],
    );
    let (_, _, r) = m
        .call("POST", "/delivery/v2.6/requests", Some(KEY), Some(body))
        .await;
    let id = r["notificationRequestId"].as_str().unwrap().to_string();
    m.advance(5).await;
    let (_, _, st) = m.request_status(&id).await;
    let iun = st["iun"].as_str().unwrap().to_string();

    let (s, _, _) = m
        .call(
            "GET",
            &format!("/delivery/v2.6/requests?notificationRequestId={id}"),
            Some(OTHER_KEY),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _, _) = m
        .call(
            "GET",
            &format!("/delivery/v2.9/notifications/sent/{iun}"),
            Some(OTHER_KEY),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _, _) = m
        .call(
            "GET",
            &format!("/delivery-push/v2.0/{iun}/legal-facts"),
            Some(OTHER_KEY),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _, _) = m
        .call(
            "PUT",
            &format!("/delivery-push/v2.0/notifications/cancel/{iun}"),
            Some(OTHER_KEY),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _, list) = m.call("GET", "/mock/notifications", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (s, _, status) = m.call("GET", "/status", None, None).await;
    assert_eq!(s, 200);
    assert!(
        mocks::spec::Spec::embedded()
            .check_response("/status", "get", 200, &status)
            .is_empty()
    );
}
