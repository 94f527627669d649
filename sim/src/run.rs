//! Replications: each replication's notifications are split into fixed chunks that
//! run in parallel; chunk tallies are integer sums, so the result is the same on any
//! number of threads. With postal capacity on, each replication runs in time order
//! (`ordered`).

use rayon::prelude::*;

use crate::capacity::CapacityPlan;
use crate::model::Model;
use crate::rng::StreamKey;
use crate::tally::Tally;

/// Notifications per unit of parallel work.
pub const CHUNK: u64 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    pub seed: u64,
    pub replications: u32,
    pub notifications: u64,
    /// Worker threads (0 = one per core).
    pub threads: usize,
}

/// Simulates notifications `first..first + count` of the `total` in one replication.
pub fn simulate_chunk(
    model: &Model,
    seed: u64,
    replication: u32,
    first: u64,
    count: u64,
    total: u64,
) -> Tally {
    let mut tally = Tally::new(model.scenario.horizon_days as usize);
    for i in first..first + count {
        let key = StreamKey {
            seed,
            replication,
            notification: i,
        };
        let n = model.sample_notification(&key, total);
        tally.count_notification(n.sent_at, model.horizon);
        model.notification(&key, &n, &mut (), |_, send, base| {
            tally.count_recipient(model, &n, send, base);
        });
    }
    tally
}

/// Runs every replication; `progress` is called with the number of notifications done
/// after each chunk.
pub fn simulate(model: &Model, opts: &RunOptions, progress: &(dyn Fn(u64) + Sync)) -> Vec<Tally> {
    simulate_replications(model, opts, 0..opts.replications, progress)
}

/// Runs replications `reps` only (`opts.replications` is ignored): more replications
/// can be added to a run later, each the same as in a run that had them from the start.
pub fn simulate_replications(
    model: &Model,
    opts: &RunOptions,
    reps: std::ops::Range<u32>,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<Tally> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .expect("thread pool");
    if model.scenario.postal_capacity.enabled {
        let plan = CapacityPlan::new(model);
        return pool.install(|| {
            reps.clone()
                .map(|rep| {
                    let (tally, _) = crate::ordered::simulate_replication(
                        model,
                        &plan,
                        opts.seed,
                        rep,
                        opts.notifications,
                        crate::ordered::BATCH_CHUNKS,
                        progress,
                    );
                    tally
                })
                .collect()
        });
    }
    let chunks = opts.notifications.div_ceil(CHUNK);
    pool.install(|| {
        reps.map(|rep| {
            (0..chunks)
                .into_par_iter()
                .map(|c| {
                    let first = c * CHUNK;
                    let count = CHUNK.min(opts.notifications - first);
                    let t = simulate_chunk(model, opts.seed, rep, first, count, opts.notifications);
                    progress(count);
                    t
                })
                .reduce(
                    || Tally::new(model.scenario.horizon_days as usize),
                    Tally::merge,
                )
        })
        .collect()
    })
}
