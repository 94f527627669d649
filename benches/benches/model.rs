//! Benchmarks of the model: one notification's trajectory (as the simulator runs it,
//! and with its timeline collected as the mock does), and one chunk of a run.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sim::rng::StreamKey;
use sim::run::{CHUNK, simulate_chunk};
use sim::{Model, Scenario};

fn model() -> Model {
    Model::new(Scenario::builtin_default()).expect("default scenario compiles")
}

fn per_notification(c: &mut Criterion) {
    let m = model();
    let mut g = c.benchmark_group("model");
    g.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    g.bench_function("notification_tallied", |b| {
        b.iter(|| {
            i += 1;
            let key = StreamKey {
                seed: 1,
                replication: 0,
                notification: i,
            };
            let n = m.sample_notification(&key, 1 << 20);
            let mut paid = 0u64;
            m.notification(&key, &n, &mut (), |_, s, _| {
                paid += s.payment.is_some() as u64
            });
            black_box(paid)
        })
    });
    g.bench_function("notification_timeline", |b| {
        b.iter(|| {
            i += 1;
            let key = StreamKey {
                seed: 1,
                replication: 0,
                notification: i,
            };
            let n = m.sample_notification(&key, 1 << 20);
            black_box(m.timeline(&key, &n))
        })
    });
    g.finish();
}

fn chunk(c: &mut Criterion) {
    let m = model();
    let mut g = c.benchmark_group("run");
    g.throughput(Throughput::Elements(CHUNK));
    g.sample_size(20);
    g.bench_function("chunk_4096_notifications", |b| {
        b.iter(|| black_box(simulate_chunk(&m, 1, 0, 0, CHUNK, CHUNK)))
    });
    g.finish();
}

fn whole_run(c: &mut Criterion) {
    let m = model();
    let mut g = c.benchmark_group("run");
    g.throughput(Throughput::Elements(100_000));
    g.sample_size(10);
    g.bench_function("default_100k_notifications_2_threads", |b| {
        b.iter(|| {
            let opts = sim::run::RunOptions {
                seed: 1,
                replications: 1,
                notifications: 100_000,
                threads: 2,
            };
            black_box(sim::run::simulate(&m, &opts, &|_| {}))
        })
    });
    g.finish();
}

criterion_group!(benches, per_notification, chunk, whole_run);
criterion_main!(benches);
