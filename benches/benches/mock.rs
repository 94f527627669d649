//! Benchmarks of the mock's hot paths: a notification's detail with its whole timeline
//! and a validated request status, rendered without the view cache (what a read of a
//! notification not polled lately costs), and the two halves of a send's work (reading
//! and validating the body; the record with its model timeline), over notifications the
//! load generator's template varies.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mocks::clock::SimClock;
use mocks::render::{self, Version};
use mocks::server::{App, Config, new_record};
use mocks::sim::Scenario;
use mocks::sim::rng::SplitMix64;
use mocks::store::Record;
use serde_json::json;

/// Notifications sent through the mock's own path, with their timelines computed, and
/// the requests they were sent with.
fn records(n: usize) -> (App, Vec<Record>, Vec<serde_json::Value>) {
    let epoch = "2026-01-05T09:00:00Z".parse().expect("instant");
    let app = App::new(
        Scenario::builtin_default(),
        SimClock::new(epoch, 86_400.0),
        Config::default(),
        "http://127.0.0.1:8080".into(),
    )
    .expect("mock app");
    let doc = json!({
        "digests": { "sha256": "hM+Jd9C74LSf8lpn2XIQ9AFZUYj0zj6ttkTQ2lKv02M=" },
        "contentType": "application/pdf",
        "ref": { "key": "PN_NOTIFICATION_ATTACHMENTS-0001-XDI6-J1KO-4PJV-MD4V", "versionToken": "v1" },
        "title": "Atto",
        "docIdx": "0"
    });
    let mut rng = SplitMix64(7);
    let requests: Vec<serde_json::Value> = (0..n)
        .map(|k| {
            mocks::load::flows::request_body(
                &mut rng,
                &format!("BENCH-{k}"),
                "80016350821",
                &doc,
                k as u64 * 10,
            )
        })
        .collect();
    let records = requests
        .iter()
        .enumerate()
        .map(|(k, req)| record(&app, k, req))
        .collect();
    (app, records, requests)
}

/// The record a send of `req` stores.
fn record(app: &App, k: usize, req: &serde_json::Value) -> Record {
    let iun = format!(
        "AAAA-BBBB-CCCC-202601-{}-1",
        (b'A' + (k % 26) as u8) as char
    );
    new_record(app, "80016350821", "2.6", &iun, Vec::new(), req, 0)
}

fn views(c: &mut Criterion) {
    let (app, records, requests) = records(64);
    // Every element visible: the longest detail each notification has.
    let end = 400 * 86_400;
    let elements: usize = records.iter().map(|r| r.elements.len()).sum();
    let bytes: usize = records
        .iter()
        .map(|r| render::detail(r, end, &app.clock, Version::Current).len())
        .sum();
    eprintln!("details: {} bytes on average", bytes / records.len());
    let mut g = c.benchmark_group("mock");
    g.throughput(Throughput::Elements(1));
    let mut k = 0;
    g.bench_function(
        format!(
            "detail_whole_timeline ({:.1} elements on average)",
            elements as f64 / records.len() as f64
        ),
        |b| {
            b.iter(|| {
                k = (k + 1) % records.len();
                black_box(render::detail(
                    &records[k],
                    end,
                    &app.clock,
                    Version::Current,
                ))
            })
        },
    );
    g.bench_function("request_status_accepted", |b| {
        b.iter(|| {
            k = (k + 1) % records.len();
            black_box(render::request_status(&records[k], end, &app.clock).body)
        })
    });
    let bodies: Vec<bytes::Bytes> = requests
        .iter()
        .map(|r| serde_json::to_vec(r).expect("request serialises").into())
        .collect();
    g.bench_function("send_body_parsed_and_validated", |b| {
        b.iter(|| {
            k = (k + 1) % bodies.len();
            black_box(
                mocks::server::parse_body("/delivery/v2.6/requests", "post", &bodies[k])
                    .expect("a valid request"),
            )
        })
    });
    g.bench_function("send_record_with_timeline", |b| {
        b.iter(|| {
            k = (k + 1) % requests.len();
            black_box(record(&app, k, &requests[k]))
        })
    });
    g.finish();
}

criterion_group!(benches, views);
criterion_main!(benches);
