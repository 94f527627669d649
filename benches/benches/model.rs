//! Benchmarks of the model: one notification's trajectory (as the simulator runs it,
//! and with its timeline collected as the mock does), one chunk of a run, a whole run;
//! the time-ordered engine alone (its day queue), and a run with postal capacity on.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sim::ordered::queue::{DayQueue, Timed};
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

/// A posting request as the engine sees it: an instant and an identity.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    at: u32,
    id: u32,
}

impl Timed for Event {
    fn at(&self) -> u32 {
        self.at
    }
}

fn engine(c: &mut Criterion) {
    // 100,000 events spread over a year in the order a run produces them: by arrival,
    // each 2 to 60 days after it.
    const N: u32 = 100_000;
    let mut x = 0x9E37_79B9u32;
    let events: Vec<Event> = (0..N)
        .map(|id| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let arrival = (id as u64 * 365 * 86_400 / N as u64) as u32;
            Event {
                at: arrival + 2 * 86_400 + x % (58 * 86_400),
                id,
            }
        })
        .collect();
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("day_queue_100k_events", |b| {
        b.iter(|| {
            let mut q = DayQueue::default();
            for e in &events {
                q.push(*e);
            }
            let mut last = 0;
            while let Some(e) = q.pop() {
                last = e.at;
            }
            black_box(last)
        })
    });
    g.finish();
}

fn capacity_run(c: &mut Criterion) {
    // A capacity small enough that a third of the letters wait.
    let s = Scenario::from_toml_str(
        "[postal_capacity]\nenabled = true\nscale = 0.001\n",
        "bench.toml",
    )
    .expect("capacity scenario");
    let m = Model::new(s).expect("compiles");
    let mut g = c.benchmark_group("run");
    g.throughput(Throughput::Elements(20_000));
    g.sample_size(10);
    g.bench_function("capacity_20k_notifications_2_threads", |b| {
        b.iter(|| {
            let opts = sim::run::RunOptions {
                seed: 1,
                replications: 1,
                notifications: 20_000,
                threads: 2,
            };
            black_box(sim::run::simulate(&m, &opts, &|_| {}))
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    per_notification,
    chunk,
    whole_run,
    engine,
    capacity_run
);
criterion_main!(benches);
