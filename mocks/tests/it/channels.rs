//! The External Channel API: PEC messages, courtesy messages and paper engagements
//! through each outcome path, model-driven or forced by the address; contract errors.

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{Mock, start};

const LEGAL: &str = "/external-channels/v1/digital-deliveries/legal-full-message-requests";
const SMS: &str = "/external-channels/v1/digital-deliveries/courtesy-simple-message-requests";
const MAIL: &str = "/external-channels/v1/digital-deliveries/courtesy-full-message-requests";
const PAPER: &str = "/external-channels/v1/paper-deliveries-engagements";
const TEMPLATE_LEGAL: &str =
    "/external-channels/v1/digital-deliveries/legal-full-message-requests/{requestIdx}";
const TEMPLATE_PAPER: &str = "/external-channels/v1/paper-deliveries-engagements/{requestIdx}";

fn spec() -> &'static mocks::spec::Spec {
    mocks::spec::Spec::external_channels()
}

fn pec(address: &str) -> Value {
    json!({
        "requestId": "r",
        "eventType": "LEGAL",
        "qos": "INTERACTIVE",
        "clientRequestTimeStamp": "2026-03-02T08:00:00Z",
        "channel": "PEC",
        "receiverDigitalAddress": address,
        "messageText": "Notifica",
        "subjectText": "Notifica",
        "messageContentType": "text/plain",
    })
}

fn engagement(product: &str, address: &str) -> Value {
    json!({
        "iun": "ABCD-EFGH-IJKL-202603-A-1",
        "requestId": "PREPARE_ANALOG_DOMICILE.IUN_ABCD-EFGH-IJKL-202603-A-1.RECINDEX_0.ATTEMPT_0",
        "requestSenderId": "pn-cons-000",
        "requestPAId": "00414580183",
        "clientRequestTimeStamp": "2026-03-02T08:00:00Z",
        "eventType": "PN_EVENT",
        "productType": product,
        "attachments": [{ "uri": "safestorage://PN_AAR-0001.pdf", "order": 0, "documentType": "AAR", "sha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" }],
        "printType": "BN_FRONTE_RETRO",
        "receiverName": "Mario Rossi",
        "receiverAddress": address,
        "receiverCap": "00100",
        "receiverCity": "Roma",
        "receiverPr": "RM",
        "senderName": "PagoPA",
        "senderAddress": "Via Sardegna 38",
        "senderCity": "Roma",
        "senderPr": "RM",
    })
}

impl Mock {
    async fn ec(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .header("x-pagopa-extch-cx-id", "pn-delivery-push");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Sends, lets `seconds` pass, returns every event so far.
    async fn through(&self, base: &str, id: &str, body: Value, seconds: i64) -> Vec<Value> {
        let (s, b) = self.ec("PUT", &format!("{base}/{id}"), Some(body)).await;
        assert_eq!(s, 204, "{b}");
        self.advance(seconds).await;
        let (s, b) = self
            .call(
                "GET",
                &format!("/mock/channels/requests/{id}/events"),
                None,
                None,
            )
            .await
            .clone_status_body();
        assert_eq!(s, 200, "{b}");
        b["events"].as_array().unwrap().clone()
    }
}

trait StatusBody {
    fn clone_status_body(self) -> (u16, Value);
}
impl StatusBody for (u16, std::collections::HashMap<String, String>, Value) {
    fn clone_status_body(self) -> (u16, Value) {
        (self.0, self.2)
    }
}

fn codes(events: &[Value], field: &str) -> Vec<String> {
    events
        .iter()
        .map(|e| e[field].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_pec_message_goes_through_each_outcome_path() {
    let m = start(41, true).await;
    // Delivered and failed, forced; not accepted and a virus, by script.
    for (id, address, expected, status) in [
        (
            "pec-ok-1",
            "mario@ok.pec.it @ok",
            vec!["C000", "C001", "C005", "C003"],
            "OK",
        ),
        (
            "pec-ko-1",
            "mario@fail.pec.it",
            vec!["C000", "C001", "C007", "C004"],
            "ERROR",
        ),
        (
            "pec-na-1",
            "x@sequence.2s-C000.2s-C002",
            vec!["C000", "C002"],
            "ERROR",
        ),
        (
            "pec-vi-1",
            "x@sequence.1s-C000.1s-C001.3s-C006",
            vec!["C000", "C001", "C006"],
            "ERROR",
        ),
    ] {
        let events = m.through(LEGAL, id, pec(address), 60).await;
        assert_eq!(codes(&events, "eventCode"), expected, "{address}");
        let (s, last) = m.ec("GET", &format!("{LEGAL}/{id}"), None).await;
        assert_eq!(s, 200);
        assert_eq!(last["eventCode"], *expected.last().unwrap());
        assert_eq!(last["status"], status);
        assert!(
            spec()
                .check_response(TEMPLATE_LEGAL, "get", 200, &last)
                .is_empty(),
            "{last}"
        );
        for e in &events {
            assert!(
                spec()
                    .check_response(TEMPLATE_LEGAL, "get", 200, e)
                    .is_empty(),
                "{e}"
            );
        }
    }
    // Model-driven: the scenario's PEC boxes (94% work) decide, over simulated hours.
    let mut finals = std::collections::BTreeMap::new();
    for i in 0..40 {
        let id = format!("pec-model-{i:03}");
        let (s, _) = m
            .ec(
                "PUT",
                &format!("{LEGAL}/{id}"),
                Some(pec("mario.rossi@pec.it")),
            )
            .await;
        assert_eq!(s, 204);
    }
    m.advance(3 * 86_400).await;
    for i in 0..40 {
        let (s, last) = m
            .ec("GET", &format!("{LEGAL}/pec-model-{i:03}"), None)
            .await;
        assert_eq!(s, 200);
        *finals
            .entry(last["eventCode"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    assert!(finals.get("C003").copied().unwrap_or(0) >= 30, "{finals:?}");
    assert_eq!(
        finals
            .keys()
            .filter(|k| *k != "C003" && *k != "C004")
            .count(),
        0,
        "{finals:?}"
    );
}

#[tokio::test]
async fn courtesy_messages_are_sent_or_fail_as_the_address_says() {
    let m = start(42, true).await;
    let mut sms = pec("+393331234567");
    sms["channel"] = json!("SMS");
    let events = m.through(SMS, "sms-ok-1", sms.clone(), 3600).await;
    assert_eq!(codes(&events, "eventCode"), ["S003"]);
    sms["receiverDigitalAddress"] = json!("0013331234567");
    let events = m.through(SMS, "sms-ko-1", sms, 3600).await;
    assert_eq!(codes(&events, "eventCode"), ["S008"]);
    assert_eq!(events[0]["status"], "ERROR");
    let mut mail = pec("mario@example.it");
    mail["channel"] = json!("EMAIL");
    let events = m.through(MAIL, "mail-ok-1", mail, 3600).await;
    assert_eq!(codes(&events, "eventCode"), ["M003"]);
}

#[tokio::test]
async fn paper_engagements_play_named_sequences_with_downloadable_attachments() {
    let m = start(43, true).await;
    for (id, product, address, last, doc) in [
        ("paper-ok-ar", "AR", "Via Roma 1 @OK_AR", "RECRN001C", "AR"),
        (
            "paper-irr-ar",
            "AR",
            "Via Roma 2 @FAIL-Irreperibile_AR",
            "RECRN002F",
            "Plico",
        ),
        (
            "paper-giac-ar",
            "AR",
            "Via Roma 3 @OK-Giacenza_AR",
            "RECRN003C",
            "AR",
        ),
        (
            "paper-giac-890",
            "890",
            "Via Roma 4 @OK-Giacenza-lte10_890",
            "RECAG005C",
            "23L",
        ),
    ] {
        let events = m
            .through(PAPER, id, engagement(product, address), 600)
            .await;
        let got = codes(&events, "statusCode");
        assert_eq!(got.first().unwrap(), "CON080", "{got:?}");
        assert_eq!(got.last().unwrap(), last, "{got:?}");
        for e in &events {
            assert!(
                spec()
                    .check_response(TEMPLATE_PAPER, "get", 200, e)
                    .is_empty(),
                "{e}"
            );
        }
        if id == "paper-irr-ar" {
            let failure = events
                .iter()
                .find(|e| e["statusCode"] == "RECRN002D")
                .unwrap();
            assert_eq!(failure["deliveryFailureCause"], "M04");
        }
        // The proof is downloadable and its sha256 is right.
        let att = events
            .iter()
            .flat_map(|e| e["attachments"].as_array().cloned().unwrap_or_default())
            .find(|a| a["documentType"] == doc)
            .unwrap_or_else(|| panic!("{doc} in {events:?}"));
        let bytes = m
            .http
            .get(att["uri"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes));
        assert_eq!(att["sha256"], sha);
        assert!(bytes.starts_with(b"%PDF"));
    }
    // A discovery: the engagement to the discovered address plays the second phase.
    let events = m
        .through(
            PAPER,
            "paper-disc-1",
            engagement("AR", "Via Roma 5 @FAIL-Discovery_AR"),
            600,
        )
        .await;
    let found = events
        .iter()
        .find_map(|e| e["discoveredAddress"]["address"].as_str())
        .unwrap()
        .to_string();
    let events = m
        .through(PAPER, "paper-disc-2", engagement("AR", &found), 600)
        .await;
    assert_eq!(codes(&events, "statusCode").last().unwrap(), "RECRN001C");
}

#[tokio::test]
async fn a_model_letter_ends_with_its_products_final_code() {
    let m = start(44, true).await;
    for i in 0..10 {
        let (s, b) = m
            .ec(
                "PUT",
                &format!("{PAPER}/paper-model-{i}"),
                Some(engagement("890", "Via Verdi 1")),
            )
            .await;
        assert_eq!(s, 204, "{b}");
    }
    m.advance(60 * 86_400).await;
    for i in 0..10 {
        let (s, last) = m.ec("GET", &format!("{PAPER}/paper-model-{i}"), None).await;
        assert_eq!(s, 200);
        let code = last["statusCode"].as_str().unwrap();
        assert!(
            code.starts_with("RECAG")
                && (code.ends_with('C') || code.ends_with('F') || code == "RECAG004"),
            "{last}"
        );
    }
}

#[tokio::test]
async fn contract_errors_are_problems() {
    let m = start(45, true).await;
    let problem = |b: &Value| spec().check_schema("errors.Problem", b);
    // Schema violation.
    let (s, b) = m
        .ec(
            "PUT",
            &format!("{LEGAL}/bad-body-1"),
            Some(json!({ "requestId": "x" })),
        )
        .await;
    assert_eq!(s, 400);
    assert!(problem(&b).is_empty(), "{b}");
    assert!(
        b["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["element"] == "body.receiverDigitalAddress")
    );
    // A repeated requestIdx.
    let (s, _) = m
        .ec("PUT", &format!("{LEGAL}/dup-00001"), Some(pec("a@pec.it")))
        .await;
    assert_eq!(s, 204);
    let (s, b) = m
        .ec("PUT", &format!("{LEGAL}/dup-00001"), Some(pec("a@pec.it")))
        .await;
    assert_eq!(s, 409);
    assert!(problem(&b).is_empty(), "{b}");
    // Unknown request, missing client header, a typo in a script.
    let (s, b) = m.ec("GET", &format!("{LEGAL}/nothing-here"), None).await;
    assert_eq!(s, 404);
    assert!(problem(&b).is_empty(), "{b}");
    let (s, _, _) = m
        .call("GET", &format!("{LEGAL}/dup-00001"), None, None)
        .await;
    assert_eq!(s, 400);
    let (s, b) = m
        .ec(
            "PUT",
            &format!("{LEGAL}/typo-00001"),
            Some(pec("x@sequence.5x-C000")),
        )
        .await;
    assert_eq!(s, 400);
    assert!(b["detail"].as_str().unwrap().contains("5x"), "{b}");
    let (s, b) = m
        .ec(
            "PUT",
            &format!("{PAPER}/prod-00001"),
            Some(engagement("XYZ", "Via Roma 1")),
        )
        .await;
    assert_eq!(s, 400);
    assert!(b["detail"].as_str().unwrap().contains("productType"), "{b}");
}

const ENGAGE: &str = "/piattaforma-notifiche-ingress/v1/paper-deliveries-engagement";

impl Mock {
    async fn consolidator(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .header("x-pagopa-extch-service-id", "pn-cons-000")
            .header("x-api-key", key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

fn consolidator_engagement(id: &str, product: &str, address: &str) -> Value {
    let mut e = engagement(product, address);
    e["requestId"] = json!(id);
    e["requestPaId"] = json!("00414580183");
    e.as_object_mut().unwrap().remove("requestPAId");
    e["attachments"][0]["documentType"] = json!("AAR");
    e
}

#[tokio::test]
async fn consolidator_engagements_push_their_events_to_the_webhook_with_retries() {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock as WireMock, MockServer, ResponseTemplate};
    let hook = MockServer::start().await;
    let push = mocks::channels::consolidator::PUSH_PATH;
    // SEND's ingress fails twice, then accepts.
    WireMock::given(method("PUT"))
        .and(path(push))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&hook)
        .await;
    WireMock::given(method("PUT"))
        .and(path(push))
        .and(header("x-api-key", "ingress-key"))
        .and(header("x-pagopa-extch-service-id", "pn-cons-000"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({
            "resultCode": "202.00", "resultDescription": "Accepted", "clientResponseTimeStamp": "2026-03-02T08:00:00Z"
        })))
        .with_priority(2)
        .mount(&hook)
        .await;
    let m = crate::support::start_pushing(46, &hook.uri()).await;
    let key = mocks::server::DEFAULT_CONSOLIDATOR_KEY;
    let cases = [
        (
            "CONS-OK-AR-0000000000000000000000001",
            "AR",
            "Via Roma 1 @OK_AR",
            "RECRN001C",
        ),
        (
            "CONS-IRR-AR-000000000000000000000001",
            "AR",
            "Via Roma 2 @FAIL-Irreperibile_AR",
            "RECRN002F",
        ),
        (
            "CONS-GIAC-AR-00000000000000000000001",
            "AR",
            "Via Roma 3 @OK-Giacenza_AR",
            "RECRN003C",
        ),
        (
            "CONS-890-000000000000000000000000001",
            "890",
            "Via Roma 4 @OK-CompiutaGiacenza_890",
            "RECAG008C",
        ),
    ];
    for (id, product, address, _) in cases {
        let (s, b) = m
            .consolidator(
                "POST",
                ENGAGE,
                key,
                Some(consolidator_engagement(id, product, address)),
            )
            .await;
        assert_eq!((s, b["resultCode"].as_str()), (200, Some("200.00")), "{b}");
    }
    // A repeated requestId, a wrong key, an unknown product.
    let (s, b) = m
        .consolidator(
            "POST",
            ENGAGE,
            key,
            Some(consolidator_engagement(cases[0].0, "AR", "Via Roma 1")),
        )
        .await;
    assert_eq!((s, b["resultCode"].as_str()), (409, Some("409.00")));
    let (s, b) = m
        .consolidator("POST", ENGAGE, "wrong", Some(json!({})))
        .await;
    assert_eq!((s, b["resultCode"].as_str()), (401, Some("401.00")));
    let (s, b) = m
        .consolidator(
            "POST",
            ENGAGE,
            key,
            Some(consolidator_engagement(
                "CONS-BAD-000000000000000000000000001",
                "XX",
                "Via Roma 1",
            )),
        )
        .await;
    assert_eq!((s, b["resultCode"].as_str()), (400, Some("400.02")), "{b}");
    let (s, b) = m
        .consolidator("POST", ENGAGE, key, Some(json!({ "requestId": 1 })))
        .await;
    assert_eq!((s, b["resultCode"].as_str()), (400, Some("400.01")), "{b}");
    assert!(
        spec()
            .check_schema("consolidatore.OperationResultCodeResponse", &b)
            .is_empty()
    );

    m.advance(3600).await;
    // Every event reaches the ingress, in order, after the two failures.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let accepted = loop {
        let received = hook.received_requests().await.unwrap();
        let accepted: Vec<Value> = received
            .iter()
            .skip(2)
            .flat_map(|r| serde_json::from_slice::<Vec<Value>>(&r.body).unwrap())
            .collect();
        let done = cases.iter().all(|(id, _, _, last)| {
            accepted
                .iter()
                .any(|e| e["requestId"] == *id && e["statusCode"] == *last)
        });
        if done || std::time::Instant::now() > deadline {
            assert!(
                received.len() >= 3,
                "two failures, then pushes: {}",
                received.len()
            );
            break accepted;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    for (id, _, _, last) in cases {
        let codes: Vec<&str> = accepted
            .iter()
            .filter(|e| e["requestId"] == id)
            .map(|e| e["statusCode"].as_str().unwrap())
            .collect();
        assert_eq!(codes.first(), Some(&"CON080"), "{id}: {codes:?}");
        assert_eq!(codes.last(), Some(&last), "{id}: {codes:?}");
        let mut unique = codes.clone();
        unique.dedup();
        assert_eq!(unique.len(), codes.len(), "no event twice: {codes:?}");
    }
    for e in &accepted {
        let errors = spec().check_schema("ingress.ConsolidatoreIngressPaperProgressStatusEvent", e);
        assert!(errors.is_empty(), "{errors:?} in {e}");
    }
    // The pull gives the same events.
    let (s, b) = m
        .consolidator(
            "GET",
            &format!(
                "/piattaforma-notifiche-ingress/v1/paper-deliveries-progresses/{}",
                cases[0].0
            ),
            key,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        b["events"].as_array().unwrap().last().unwrap()["statusCode"],
        "RECRN001C"
    );
    assert!(
        spec()
            .check_schema("consolidatore.PaperDeliveryProgressesResponse", &b)
            .is_empty(),
        "{b}"
    );
}

/// The first timeline element of `category` in a detail.
fn element<'a>(d: &'a Value, category: &str) -> &'a Value {
    d["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["category"] == category)
        .unwrap_or_else(|| panic!("no {category}"))
}

/// The timeline of a notification until `category` shows (real seconds at most).
async fn detail_until(m: &Mock, iun: &str, category: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (s, _, d) = m
            .call(
                "GET",
                &format!("/delivery/v2.9/notifications/sent/{iun}"),
                Some(crate::support::KEY),
                None,
            )
            .await;
        assert_eq!(s, 200);
        let seen = d["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["category"] == category);
        if seen {
            return d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {category} in {d:#}"
        );
        // The provider's events and SEND's next rounds take simulated time too.
        m.advance(6 * 3600).await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn accepted(m: &Mock, protocol: &str, r: Value) -> String {
    use crate::support::KEY;
    let (s, body) = m.send_to(protocol, vec![r]).await;
    assert_eq!(s, 202, "{body}");
    m.advance(5).await;
    let id = body["notificationRequestId"].as_str().unwrap();
    let (_, _, st) = m
        .call(
            "GET",
            &format!("/delivery/v2.6/requests?notificationRequestId={id}"),
            Some(KEY),
            None,
        )
        .await;
    st["iun"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_send_notification_goes_through_the_mocks_own_external_channel() {
    use crate::support::{cf, recipient};
    let m = crate::support::start_through_channel(47, None, &[]).await;
    let iun = accepted(
        &m,
        "RELAY-1",
        recipient(
            &cf("RSSMRA80A01H501"),
            "via Roma 1",
            Some("mario.rossi@pec.it"),
            "302000100000019701",
        ),
    )
    .await;
    m.advance(86_400).await;
    let d = detail_until(&m, &iun, "SEND_DIGITAL_FEEDBACK").await;
    // The provider got the PEC with SEND's element id as its requestId, and its final
    // code is the feedback's.
    let send = element(&d, "SEND_DIGITAL_DOMICILE");
    let id = send["elementId"].as_str().unwrap();
    m.advance(86_400).await;
    let (s, _, ev) = m
        .call(
            "GET",
            &format!("/mock/channels/requests/{id}/events"),
            None,
            None,
        )
        .await;
    assert_eq!(s, 200, "the External Channel holds {id}");
    let last = ev["events"].as_array().unwrap().last().unwrap()["eventCode"].clone();
    let feedback = element(&d, "SEND_DIGITAL_FEEDBACK");
    let expected = if last == "C003" { "OK" } else { "KO" };
    assert_eq!(
        feedback["details"]["responseStatus"], expected,
        "{last}: {feedback:#}"
    );
}

/// Nobody is reachable but by the channels the test gives (no IO, e-mail, SMS or
/// registries' domiciles), and letters do not lead to views.
/// A provider that takes every request (204).
async fn accepting_provider() -> wiremock::MockServer {
    use wiremock::matchers::{method, path_regex};
    let provider = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("PUT"))
        .and(path_regex("^/external-channels/v1/.*"))
        .respond_with(wiremock::ResponseTemplate::new(204))
        .mount(&provider)
        .await;
    provider
}

/// The provider answers progress reads on paths matching `path` with `event`.
async fn answer(provider: &wiremock::MockServer, path: &str, event: Value, priority: u8) {
    use wiremock::matchers::{method, path_regex};
    wiremock::Mock::given(method("GET"))
        .and(path_regex(path))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(event))
        .with_priority(priority)
        .mount(provider)
        .await;
}

const ONLY_GIVEN_CHANNELS: [&str; 7] = [
    "recipients.citizen.io_send_enabled_share=0",
    "recipients.citizen.email_share=0",
    "recipients.citizen.sms_share=0",
    "recipients.citizen.platform_domicile_share=0",
    "recipients.citizen.general_domicile_share=0",
    "recipients.citizen.special_domicile_share=0",
    "views.paper.share=0",
];

#[tokio::test]
async fn a_real_provider_standing_in_decides_the_outcome() {
    use crate::support::{cf, recipient};
    // Every PEC fails and every letter finds nobody, whatever the model would say.
    let provider = accepting_provider().await;
    answer(&provider, "^/external-channels/v1/digital-deliveries/legal-full-message-requests/.*", json!({
            "requestId": "x", "eventTimestamp": "2026-03-02T09:00:00Z", "status": "ERROR", "eventCode": "C004"
        }), 1).await;
    answer(
        &provider,
        "^/external-channels/v1/paper-deliveries-engagements/.*",
        json!({
            "requestId": "PREPARE_ANALOG_DOMICILE.IUN_XXXX-XXXX-XXXX-000000-X-0",
            "statusCode": "RECAG003F", "statusDescription": "irreperibile",
            "statusDateTime": "2026-03-09T10:00:00Z", "productType": "890",
            "deliveryFailureCause": "M03",
            "clientRequestTimeStamp": "2026-03-02T08:00:00Z"
        }),
        1,
    )
    .await;
    let m =
        crate::support::start_through_channel(48, Some(provider.uri()), &ONLY_GIVEN_CHANNELS).await;
    let digital = accepted(
        &m,
        "RELAY-2",
        recipient(
            &cf("RSSMRA80A01H501"),
            "via Roma 1",
            Some("mario.rossi@pec.it"),
            "302000100000019702",
        ),
    )
    .await;
    let paper = accepted(
        &m,
        "RELAY-3",
        recipient(
            &cf("VRDLGU70B02H501"),
            "via Verdi 2",
            None,
            "302000100000019703",
        ),
    )
    .await;
    // The PEC fails at the provider (the model's boxes work 94% of the time).
    let d = detail_until(&m, &digital, "DIGITAL_FAILURE_WORKFLOW").await;
    let feedback = element(&d, "SEND_DIGITAL_FEEDBACK");
    assert_eq!(feedback["details"]["responseStatus"], "KO", "{feedback:#}");
    // The letter finds nobody at the provider, both attempts: the recipient is unreachable.
    for _ in 0..10 {
        m.advance(10 * 86_400).await;
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    let d = detail_until(&m, &paper, "COMPLETELY_UNREACHABLE").await;
    let analog = element(&d, "SEND_ANALOG_FEEDBACK");
    assert_eq!(analog["details"]["responseStatus"], "KO", "{analog:#}");
    // What the provider received is the contract's request, under SEND's element ids.
    let received = provider.received_requests().await.unwrap();
    let puts: Vec<_> = received
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .collect();
    assert_eq!(puts.len(), 2, "one PEC and one letter");
    for r in puts {
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let id = r.url.path().rsplit('/').next().unwrap();
        assert_eq!(body["requestId"], id);
        let template = if r.url.path().contains("paper") {
            TEMPLATE_PAPER
        } else {
            TEMPLATE_LEGAL
        };
        let errors = spec().check_body(template, "put", &body);
        assert!(errors.is_empty(), "{errors:?} in {body}");
        assert_eq!(r.headers["x-pagopa-extch-cx-id"], "pn-delivery-push");
    }
}

#[tokio::test]
async fn a_retryable_pec_error_is_sent_again_under_a_new_request_id() {
    use crate::support::{cf, recipient};
    let provider = accepting_provider().await;
    // The first try meets a PEC server error (C010, retryable), the retry is delivered.
    answer(&provider, "^/external-channels/v1/digital-deliveries/legal-full-message-requests/.*RETRY_1$", json!({
            "requestId": "x", "eventTimestamp": "2026-03-02T09:00:00Z", "status": "OK", "eventCode": "C003"
        }), 1).await;
    answer(&provider, "^/external-channels/v1/digital-deliveries/legal-full-message-requests/.*", json!({
            "requestId": "x", "eventTimestamp": "2026-03-02T09:00:00Z", "status": "ERROR", "eventCode": "C010"
        }), 2).await;
    let m =
        crate::support::start_through_channel(49, Some(provider.uri()), &ONLY_GIVEN_CHANNELS).await;
    let iun = accepted(
        &m,
        "RELAY-4",
        recipient(
            &cf("RSSMRA80A01H501"),
            "via Roma 1",
            Some("mario.rossi@pec.it"),
            "302000100000019704",
        ),
    )
    .await;
    let d = detail_until(&m, &iun, "SEND_DIGITAL_FEEDBACK").await;
    let feedback = element(&d, "SEND_DIGITAL_FEEDBACK");
    assert_eq!(feedback["details"]["responseStatus"], "OK", "{feedback:#}");
    let puts: Vec<String> = provider
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .map(|r| r.url.path().rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(puts.len(), 2, "{puts:?}");
    assert_eq!(puts[1], format!("{}.RETRY_1", puts[0]));
}
