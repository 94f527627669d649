//! The whole send flow over HTTP: preload → upload → send → WAITING → ACCEPTED →
//! timeline to refinement → legal facts → price, for a digital, a paper and an
//! unreachable recipient; and the mock's timeline equals the model's.

use serde_json::{Value, json};

use crate::support::*;

fn categories(detail: &Value) -> Vec<String> {
    detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["category"].as_str().unwrap().to_string())
        .collect()
}

async fn send_and_accept(m: &Mock, protocol: &str, recipients: Vec<Value>) -> String {
    let (s, body) = m.send_to(protocol, recipients).await;
    assert_eq!(s, 202, "{body:#}");
    check("/delivery/v2.6/requests", "post", 202, &body);
    let id = body["notificationRequestId"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36);

    let path = format!("/delivery/v2.6/requests?notificationRequestId={id}");
    let (s, _, st) = m.call("GET", &path, Some(KEY), None).await;
    assert_eq!(s, 200);
    assert_eq!(st["notificationRequestStatus"], "WAITING");
    assert!(st["retryAfter"].as_i64().unwrap() >= 1);
    check("/delivery/v2.6/requests", "get", 200, &st);

    m.advance(5).await;
    let path =
        format!("/delivery/v2.6/requests?paProtocolNumber={protocol}&idempotenceToken=token-1");
    let (s, _, st) = m.call("GET", &path, Some(KEY), None).await;
    assert_eq!(s, 200);
    assert_eq!(st["notificationRequestStatus"], "ACCEPTED", "{st:#}");
    check("/delivery/v2.6/requests", "get", 200, &st);
    let iun = st["iun"].as_str().unwrap().to_string();
    assert!(mocks::ids::is_valid_iun(&iun), "{iun}");
    iun
}

#[tokio::test]
async fn digital_paper_and_unreachable_recipients_to_refinement() {
    let m = start(7, true).await;
    let digital = recipient(
        &cf("RSSMRA80A01H501"),
        "via Roma 1",
        Some("mario.rossi@ok.pec.it"),
        "302000100000019421",
    );
    let paper = recipient(
        &cf("VRDLGU70B02H501"),
        "via Verdi 2 @ok",
        None,
        "302000100000019422",
    );
    let lost = recipient(
        &cf("BNCGNN60C03H501"),
        "via Bianchi 3 @fail",
        None,
        "302000100000019423",
    );
    // One notification per recipient, so each status history is its own.
    let mut iuns = Vec::new();
    for (i, r) in [digital, paper, lost].into_iter().enumerate() {
        iuns.push(send_and_accept(&m, &format!("PROT-{i}"), vec![r]).await);
    }
    let (_, _, d) = m
        .call(
            "GET",
            &format!("/delivery/v2.9/notifications/sent/{}", iuns[0]),
            Some(KEY),
            None,
        )
        .await;
    assert!(categories(&d).contains(&"REQUEST_ACCEPTED".to_string()));
    check("/delivery/v2.9/notifications/sent/{iun}", "get", 200, &d);

    // 200 simulated days later every workflow has ended.
    m.advance(200 * 86_400).await;
    let mut statuses = Vec::new();
    for iun in &iuns {
        let (s, _, d) = m
            .call(
                "GET",
                &format!("/delivery/v2.9/notifications/sent/{iun}"),
                Some(KEY),
                None,
            )
            .await;
        assert_eq!(s, 200);
        check("/delivery/v2.9/notifications/sent/{iun}", "get", 200, &d);
        let cats = categories(&d);
        assert!(
            cats.contains(&"REFINEMENT".to_string())
                || cats.contains(&"NOTIFICATION_VIEWED".to_string()),
            "{cats:?}"
        );
        let history: Vec<String> = d["notificationStatusHistory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["status"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(history[0], "IN_VALIDATION");
        statuses.push((
            cats,
            history,
            d["notificationStatus"].as_str().unwrap().to_string(),
        ));
    }
    assert!(
        statuses[0]
            .0
            .contains(&"DIGITAL_SUCCESS_WORKFLOW".to_string()),
        "{:?}",
        statuses[0].0
    );
    assert!(
        statuses[1]
            .0
            .contains(&"ANALOG_SUCCESS_WORKFLOW".to_string()),
        "{:?}",
        statuses[1].0
    );
    assert!(
        statuses[2]
            .0
            .contains(&"COMPLETELY_UNREACHABLE".to_string()),
        "{:?}",
        statuses[2].0
    );
    assert!(
        statuses[2].1.contains(&"UNREACHABLE".to_string()),
        "{:?}",
        statuses[2].1
    );
    for (_, history, status) in &statuses {
        assert!(
            ["EFFECTIVE_DATE", "VIEWED"].contains(&status.as_str()),
            "{history:?}"
        );
    }

    // Legal facts: listed, then downloadable (after the production delay) as a PDF.
    let (s, _, facts) = m
        .call(
            "GET",
            &format!("/delivery-push/v2.0/{}/legal-facts", iuns[1]),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(s, 200);
    check("/delivery-push/v2.0/{iun}/legal-facts", "get", 200, &facts);
    let cats: Vec<&str> = facts
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["legalFactsId"]["category"].as_str().unwrap())
        .collect();
    assert!(
        cats.contains(&"SENDER_ACK") && cats.contains(&"ANALOG_DELIVERY"),
        "{cats:?}"
    );
    let key = facts[0]["legalFactsId"]["key"].as_str().unwrap();
    let (s, _, meta) = m
        .call(
            "GET",
            &format!("/delivery-push/{}/download/legal-facts/{key}", iuns[1]),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(s, 200);
    check(
        "/delivery-push/{iun}/download/legal-facts/{legalFactId}",
        "get",
        200,
        &meta,
    );
    let url = meta["url"].as_str().expect("produced long ago");
    let pdf = m.http.get(url).send().await.unwrap().bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF"));

    // Price: the model's cost as it stands; the paper recipient's includes the letter.
    let (s, _, price) = m
        .call(
            "GET",
            &format!("/delivery/v2.3/price/{SENDER}/302000100000019422"),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(s, 200, "{price:#}");
    check(
        "/delivery/v2.3/price/{paTaxId}/{noticeCode}",
        "get",
        200,
        &price,
    );
    assert!(price["analogCost"].as_i64().unwrap() > 0);
    assert_eq!(
        price["totalPrice"].as_i64().unwrap(),
        100 + sim::prices::with_vat(price["analogCost"].as_i64().unwrap(), 22) + 100
    );
    let (_, _, digital_price) = m
        .call(
            "GET",
            &format!("/delivery/v2.3/price/{SENDER}/302000100000019421"),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(digital_price["totalPrice"], 200);
    assert_eq!(digital_price["analogCost"], 0);
    let (s, _, v1) = m
        .call(
            "GET",
            &format!("/delivery/price/{SENDER}/302000100000019421"),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v1["amount"], 200);

    // Documents can be downloaded with their metadata.
    let (s, _, meta) = m
        .call(
            "GET",
            &format!(
                "/delivery/notifications/sent/{}/attachments/documents/0",
                iuns[0]
            ),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(s, 200);
    check(
        "/delivery/notifications/sent/{iun}/attachments/documents/{docIdx}",
        "get",
        200,
        &meta,
    );
    let bytes = m
        .http
        .get(meta["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"%PDF-1.4 PROT-0");
}

#[tokio::test]
async fn the_mock_timeline_is_the_model_timeline_for_the_same_request_and_seed() {
    let m = start(11, true).await;
    let r = recipient(
        &cf("RSSMRA80A01H501"),
        "via Roma 1",
        None,
        "302000100000019431",
    );
    let iun = send_and_accept(&m, "PROT-MODEL", vec![r]).await;
    m.advance(300 * 86_400).await;
    let (_, _, d) = m
        .call(
            "GET",
            &format!("/delivery/v2.9/notifications/sent/{iun}"),
            Some(KEY),
            None,
        )
        .await;

    let store = m.app.store();
    let record = &store.records[store.by_iun[&iun]];
    let input = mocks::request::model_input(
        &m.app.model,
        &record.key,
        &record.request_value(),
        record.sent_at,
        m.app.clock.scale(),
    );
    let (_, expected, _) = m.app.model.timeline(&record.key, &input);
    let shown: Vec<(String, String)> = d["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["category"].as_str().unwrap().to_string(),
                e["timestamp"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let modelled: Vec<(String, String)> = expected
        .iter()
        .map(|e| {
            (
                e.category.as_str().to_string(),
                mocks::render::iso(&m.app.clock, e.at),
            )
        })
        .collect();
    assert_eq!(shown, modelled);
}

#[tokio::test]
async fn the_same_request_and_seed_give_the_same_timeline_on_two_servers() {
    let mut shown = Vec::new();
    for _ in 0..2 {
        let m = start(5, true).await;
        let r = recipient(
            &cf("RSSMRA80A01H501"),
            "via Roma 1",
            None,
            "302000100000019441",
        );
        let iun = send_and_accept(&m, "PROT-SAME", vec![r]).await;
        // Move both clocks to the same instant, then compare the timelines.
        let target = mocks::render::iso(&m.app.clock, 120 * 86_400);
        let (s, _, _) = m
            .call("POST", "/mock/clock", None, Some(json!({ "now": target })))
            .await;
        assert_eq!(s, 200);
        let (_, _, d) = m
            .call(
                "GET",
                &format!("/delivery/v2.9/notifications/sent/{iun}"),
                Some(KEY),
                None,
            )
            .await;
        shown.push((iun, d["timeline"].clone()));
    }
    assert_eq!(shown[0].0, shown[1].0);
    // The sent instant differs by the real time between the two servers' requests, so
    // compare the elements' spacing from the first one.
    let spacing = |t: &Value| -> Vec<(String, i64)> {
        let ts: Vec<(String, i64)> = t
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let at = chrono::DateTime::parse_from_rfc3339(e["timestamp"].as_str().unwrap())
                    .unwrap()
                    .timestamp();
                (e["elementId"].as_str().unwrap().to_string(), at)
            })
            .collect();
        let t0 = ts[0].1;
        ts.into_iter().map(|(id, t)| (id, t - t0)).collect()
    };
    assert_eq!(spacing(&shown[0].1), spacing(&shown[1].1));
}

#[tokio::test]
async fn payment_events_and_cancellation_change_the_timeline() {
    let m = start(3, true).await;
    let r = recipient(
        &cf("RSSMRA80A01H501"),
        "via Roma 1 @ok",
        None,
        "302000100000019451",
    );
    let iun = send_and_accept(&m, "PROT-PAY", vec![r]).await;
    let (s, _, _) = m
        .call(
            "POST",
            "/delivery/events/payment/pagopa",
            Some(KEY),
            Some(json!({ "events": [{ "noticeCode": "302000100000019451", "creditorTaxId": SENDER, "paymentDate": "2026-03-02T08:00:30Z", "amount": 1000 }] })),
        )
        .await;
    assert_eq!(s, 204);
    m.advance(100 * 86_400).await;
    let (_, _, d) = m
        .call(
            "GET",
            &format!("/delivery/v2.9/notifications/sent/{iun}"),
            Some(KEY),
            None,
        )
        .await;
    let cats = categories(&d);
    assert!(cats.contains(&"PAYMENT".to_string()), "{cats:?}");
    // Paid before the courtesy wait ended: no letter was sent.
    assert!(
        !cats.contains(&"SEND_ANALOG_DOMICILE".to_string()),
        "{cats:?}"
    );

    let r = recipient(
        &cf("VRDLGU70B02H501"),
        "via Verdi 2",
        None,
        "302000100000019452",
    );
    let iun = send_and_accept(&m, "PROT-CANCEL", vec![r]).await;
    let (s, _, c) = m
        .call(
            "PUT",
            &format!("/delivery-push/v2.0/notifications/cancel/{iun}"),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(s, 202);
    check(
        "/delivery-push/v2.0/notifications/cancel/{iun}",
        "put",
        202,
        &c,
    );
    assert_eq!(
        c["details"][0]["code"],
        "NOTIFICATION_CANCELLATION_ACCEPTED"
    );
    let (_, _, again) = m
        .call(
            "PUT",
            &format!("/delivery-push/v2.0/notifications/cancel/{iun}"),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(
        again["details"][0]["code"],
        "NOTIFICATION_ALREADY_CANCELLED"
    );
    m.advance(100 * 86_400).await;
    let (_, _, d) = m
        .call(
            "GET",
            &format!("/delivery/v2.9/notifications/sent/{iun}"),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(d["notificationStatus"], "CANCELLED");
    assert!(!categories(&d).contains(&"SEND_ANALOG_DOMICILE".to_string()));
}

#[tokio::test]
async fn version_2_3_send_status_and_detail_follow_their_schemas() {
    let m = start(13, true).await;
    let doc = m.upload_pdf(b"%PDF-1.4 v23").await;
    let body = request(
        "PROT-V23",
        &doc,
        vec![recipient(
            &cf("RSSMRA80A01H501"),
            "via Roma 1",
            None,
            "302000100000019501",
        )],
    );
    let (s, _, r) = m
        .call("POST", "/delivery/v2.3/requests", Some(KEY), Some(body))
        .await;
    assert_eq!(s, 202, "{r:#}");
    check("/delivery/v2.3/requests", "post", 202, &r);
    m.advance(5).await;
    let id = r["notificationRequestId"].as_str().unwrap();
    let (s, _, st) = m
        .call(
            "GET",
            &format!("/delivery/v2.3/requests?notificationRequestId={id}"),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(s, 200);
    check("/delivery/v2.3/requests", "get", 200, &st);
    let iun = st["iun"].as_str().unwrap();
    m.advance(150 * 86_400).await;
    let (s, _, d) = m
        .call(
            "GET",
            &format!("/delivery/v2.3/notifications/sent/{iun}"),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(s, 200);
    check("/delivery/v2.3/notifications/sent/{iun}", "get", 200, &d);
    assert!(d["timeline"].as_array().unwrap().len() > 5);
}

#[tokio::test]
async fn legal_facts_are_produced_after_a_delay_and_payment_attachments_download() {
    let m = start(17, true).await;
    let notice_pdf = m.upload_pdf(b"%PDF-1.4 avviso pagoPA").await;
    let mut r = recipient(
        &cf("RSSMRA80A01H501"),
        "via Roma 1",
        None,
        "302000100000019511",
    );
    r["payments"][0]["pagoPa"]["attachment"] = json!({
        "digests": notice_pdf["digests"], "contentType": "application/pdf", "ref": notice_pdf["ref"]
    });
    let iun = send_and_accept(&m, "PROT-LF", vec![r]).await;
    // The sender's acknowledgement exists at once, but its PDF is still being produced.
    let (_, _, facts) = m
        .call(
            "GET",
            &format!("/delivery-push/v2.0/{iun}/legal-facts"),
            Some(KEY),
            None,
        )
        .await;
    let key = facts[0]["legalFactsId"]["key"]
        .as_str()
        .unwrap_or_else(|| panic!("{facts}"))
        .to_string();
    assert_eq!(facts[0]["legalFactsId"]["category"], "SENDER_ACK");
    let (s, _, meta) = m
        .call(
            "GET",
            &format!("/delivery-push/{iun}/download/legal-facts/{key}"),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(s, 200);
    check(
        "/delivery-push/{iun}/download/legal-facts/{legalFactId}",
        "get",
        200,
        &meta,
    );
    assert!(meta["retryAfter"].as_f64().unwrap() >= 1.0, "{meta}");
    assert!(meta.get("url").is_none());
    m.advance(60).await;
    let (_, _, meta) = m
        .call(
            "GET",
            &format!("/delivery-push/{iun}/download/legal-facts/{key}"),
            Some(KEY),
            None,
        )
        .await;
    assert!(meta["url"].is_string(), "{meta}");

    let (s, _, att) = m
        .call(
            "GET",
            &format!("/delivery/notifications/sent/{iun}/attachments/payment/0/PAGOPA"),
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(s, 200, "{att}");
    check(
        "/delivery/notifications/sent/{iun}/attachments/payment/{recipientIdx}/{attachmentName}",
        "get",
        200,
        &att,
    );
    let bytes = m
        .http
        .get(att["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"%PDF-1.4 avviso pagoPA");
}

#[tokio::test]
async fn every_older_detail_version_validates_against_its_schema() {
    let m = start(17, true).await;
    let recipients = [
        recipient(
            &cf("RSSMRA80A01H501"),
            "via Roma 1",
            Some("mario.rossi@ok.pec.it"),
            "302000100000019431",
        ),
        recipient(
            &cf("VRDLGU70B02H501"),
            "via Verdi 2 @OK-Giacenza_AR",
            None,
            "302000100000019432",
        ),
        recipient(
            &cf("BNCGNN60C03H501"),
            "via Bianchi 3 @fail",
            None,
            "302000100000019433",
        ),
    ];
    let mut iuns = Vec::new();
    for (i, r) in recipients.into_iter().enumerate() {
        iuns.push(send_and_accept(&m, &format!("VERS-{i}"), vec![r]).await);
    }
    // Early (in progress) and late (every workflow ended): both must fit every version.
    for advance in [2 * 86_400, 200 * 86_400] {
        m.advance(advance).await;
        for iun in &iuns {
            let (_, _, current) = m
                .call(
                    "GET",
                    &format!("/delivery/v2.9/notifications/sent/{iun}"),
                    Some(KEY),
                    None,
                )
                .await;
            for (path, _) in mocks::server::OLDER_DETAILS {
                let (s, _, d) = m
                    .call("GET", &path.replace("{iun}", iun), Some(KEY), None)
                    .await;
                assert_eq!(s, 200, "{path}: {d}");
                check(path, "get", 200, &d);
                assert_eq!(d["iun"], current["iun"]);
                // Nothing is invented: every kept timeline element is the current one's.
                let ids: Vec<&Value> = current["timeline"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| &e["elementId"])
                    .collect();
                let kept = d["timeline"].as_array().unwrap();
                assert!(
                    kept.iter().all(|e| ids.contains(&&e["elementId"])),
                    "{path}"
                );
                assert!(!kept.is_empty(), "{path}");
            }
        }
    }
    // An unknown IUN is the same 404 in every version.
    let (s, _, _) = m
        .call(
            "GET",
            "/delivery/v2.0/notifications/sent/AAAA-AAAA-AAAA-202603-A-1",
            Some(KEY),
            None,
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn older_request_versions_send_and_answer_in_their_own_schema() {
    let m = start(18, true).await;
    for (i, (path, version, _)) in mocks::server::OLDER_REQUESTS.iter().enumerate() {
        let doc = m
            .upload_pdf(format!("%PDF-1.4 old {version}").as_bytes())
            .await;
        let notice = format!("30200010000001950{i}");
        let mut req = request(
            &format!("OLD-{i}"),
            &doc,
            vec![recipient(
                &cf("RSSMRA80A01H501"),
                "via Roma 1 @ok",
                None,
                &notice,
            )],
        );
        if *version == "1" {
            // v1: one payment per recipient, and no paFee or vat.
            let r = &mut req["recipients"][0];
            r.as_object_mut().unwrap().remove("payments");
            r["payment"] = json!({ "noticeCode": notice, "creditorTaxId": SENDER });
        }
        if matches!(*version, "1" | "2.1") {
            let o = req.as_object_mut().unwrap();
            o.remove("paFee");
            o.remove("vat");
            o.remove("pagoPaIntMode");
        }
        let (s, _, body) = m.call("POST", path, Some(KEY), Some(req.clone())).await;
        assert_eq!(s, 202, "{path}: {body:#}");
        check(path, "post", 202, &body);
        let id = body["notificationRequestId"].as_str().unwrap().to_string();
        m.advance(5).await;
        let (s, _, st) = m
            .call(
                "GET",
                &format!("{path}?notificationRequestId={id}"),
                Some(KEY),
                None,
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(
            st["notificationRequestStatus"], "ACCEPTED",
            "{path}: {st:#}"
        );
        check(path, "get", 200, &st);
        // The notification is the same as a current one: its detail is there.
        let iun = st["iun"].as_str().unwrap();
        let (s, _, d) = m
            .call(
                "GET",
                &format!("/delivery/v2.9/notifications/sent/{iun}"),
                Some(KEY),
                None,
            )
            .await;
        assert_eq!(s, 200);
        if *version == "1" {
            assert_eq!(
                d["recipients"][0]["payments"][0]["pagoPa"]["noticeCode"],
                notice.as_str()
            );
            assert_eq!(d["paFee"], 100, "v1's default fee");
        }
        // A v2.4 body is refused by v1 where it breaks v1's schema.
        if *version == "1" {
            let mut wrong = req.clone();
            wrong["recipients"][0]["payment"] = json!("not an object");
            let (s, _, b) = m.call("POST", path, Some(KEY), Some(wrong)).await;
            assert_eq!(s, 400, "{b}");
        }
    }
}
