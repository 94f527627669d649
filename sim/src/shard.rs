//! Shards of a run: `sendsim run --shard i/n` simulates one part and writes its exact
//! tallies; `sendsim merge` adds the parts up into the run's outputs, byte for byte
//! those of the unsharded run. Replications are split among shards; with fewer
//! replications than shards, each replication's notifications are split by range
//! (tallies are integer sums, so the parts add up exactly) — not with postal capacity
//! on, where a replication runs in time order as a whole.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::Model;
use crate::run::{CHUNK, RunOptions, simulate_chunk, simulate_replications};
use crate::tally::Tally;

pub const SCHEMA: &str = "sendsim-shard/1";

/// The environment variables a shard's index is read from, in order.
pub const INDEX_VARIABLES: [&str; 2] = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardFile {
    pub schema: String,
    pub scenario: String,
    pub scenario_hash: String,
    /// The resolved scenario, so the merge needs no scenario file.
    pub scenario_toml: String,
    pub seed: u64,
    pub replications: u32,
    pub notifications: u64,
    pub shard: u32,
    pub shards: u32,
    /// `replications`: whole replications `first_replication..`; `notifications`: this
    /// shard's range of every replication's notifications.
    pub split: String,
    pub first_replication: u32,
    pub tallies: Vec<Tally>,
}

impl ShardFile {
    pub fn file_name(shard: u32, shards: u32) -> String {
        format!("shard-{shard}-of-{shards}.json")
    }
}

/// `[lo, hi)` of the `i`-th of `n` near-equal parts of `0..total`.
fn part(i: u64, n: u64, total: u64) -> (u64, u64) {
    (i * total / n, (i + 1) * total / n)
}

/// Simulates shard `shard` of `shards`: (split, first replication, tallies).
pub fn simulate_shard(
    model: &Model,
    opts: &RunOptions,
    shard: u32,
    shards: u32,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(String, u32, Vec<Tally>), String> {
    if shards == 0 || shard >= shards {
        return Err(format!(
            "shard {shard} of {shards}: expected an index from 0 to {}",
            shards.saturating_sub(1)
        ));
    }
    if opts.replications >= shards {
        let (lo, hi) = part(shard as u64, shards as u64, opts.replications as u64);
        let tallies = simulate_replications(model, opts, lo as u32..hi as u32, progress);
        return Ok(("replications".into(), lo as u32, tallies));
    }
    if model.scenario.postal_capacity.enabled {
        return Err(format!(
            "{shards} shards for {} replication(s): with postal capacity on a replication runs in time \
             order as a whole and cannot be split by notifications; use at most {} shards",
            opts.replications, opts.replications
        ));
    }
    let (lo, hi) = part(shard as u64, shards as u64, opts.notifications);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .expect("thread pool");
    let tallies = pool.install(|| {
        (0..opts.replications)
            .map(|rep| {
                (lo..hi)
                    .step_by(CHUNK as usize)
                    .collect::<Vec<_>>()
                    .into_par_iter()
                    .map(|first| {
                        let count = CHUNK.min(hi - first);
                        let t =
                            simulate_chunk(model, opts.seed, rep, first, count, opts.notifications);
                        progress(count);
                        t
                    })
                    .reduce(
                        || Tally::new(model.scenario.horizon_days as usize),
                        Tally::merge,
                    )
            })
            .collect()
    });
    Ok(("notifications".into(), 0, tallies))
}

/// Adds shards up into the run's tallies, one per replication, after checking they are
/// all of one run and each is there exactly once.
pub fn merge(mut files: Vec<(String, ShardFile)>) -> Result<(ShardFile, Vec<Tally>), String> {
    let Some((first_name, first)) = files.first().cloned() else {
        return Err("no shard files (shard-I-of-N.json) found".into());
    };
    files.sort_by_key(|(_, f)| f.shard);
    for (name, f) in &files {
        if f.schema != SCHEMA {
            return Err(format!(
                "{name}: schema {:?}, expected {SCHEMA:?}",
                f.schema
            ));
        }
        let same = f.scenario_hash == first.scenario_hash
            && f.seed == first.seed
            && f.replications == first.replications
            && f.notifications == first.notifications
            && f.shards == first.shards;
        if !same {
            return Err(format!(
                "{name} is not of the same run as {first_name} (scenario hash, seed, replications, \
                 notifications and shard count must all match)"
            ));
        }
    }
    let n = first.shards;
    let have: Vec<u32> = files.iter().map(|(_, f)| f.shard).collect();
    for i in 0..n {
        match have.iter().filter(|s| **s == i).count() {
            1 => {}
            0 => return Err(format!("shard {i} of {n} is missing")),
            _ => return Err(format!("shard {i} of {n} appears more than once")),
        }
    }
    let tallies = if first.split == "replications" {
        files.into_iter().flat_map(|(_, f)| f.tallies).collect()
    } else {
        let mut parts = files.into_iter().map(|(_, f)| f.tallies);
        let mut sum = parts.next().unwrap_or_default();
        for p in parts {
            sum = sum.into_iter().zip(p).map(|(a, b)| a.merge(b)).collect();
        }
        sum
    };
    if tallies.len() != first.replications as usize {
        return Err(format!(
            "the shards hold {} replications, the run had {}",
            tallies.len(),
            first.replications
        ));
    }
    Ok((first, tallies))
}
