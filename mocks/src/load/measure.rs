//! Latencies in HdrHistograms, per operation and status class and per interval, with
//! the generator's own lateness; saved as a tagged HdrHistogram interval log so that
//! several workers' logs merge exactly.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2Serializer};

/// Latencies are recorded in microseconds, up to an hour, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds")
}

/// The pseudo-operation under which the generator's lateness is kept.
pub const LATENESS: &str = "_lateness";

/// A send flow's wait for its outcome from the event stream: shown per operation, but
/// not a request, so not in the run's totals.
pub const STREAM_OUTCOME: &str = "stream_outcome";

/// Whether an operation's samples are requests (counted in the run's totals).
pub fn is_request(op: &str) -> bool {
    op != LATENESS && op != STREAM_OUTCOME
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Status(u16),
    Timeout,
    Connect,
    OtherError,
}

impl Outcome {
    /// The class a result is kept under: `2xx` … `5xx`, or `err-…`.
    pub fn class(self) -> &'static str {
        match self {
            Outcome::Status(s) if s < 200 => "1xx",
            Outcome::Status(s) if s < 300 => "2xx",
            Outcome::Status(s) if s < 400 => "3xx",
            Outcome::Status(s) if s < 500 => "4xx",
            Outcome::Status(_) => "5xx",
            Outcome::Timeout => "err-timeout",
            Outcome::Connect => "err-connect",
            Outcome::OtherError => "err-other",
        }
    }
}

pub fn is_error_class(class: &str) -> bool {
    matches!(class, "4xx" | "5xx") || class.starts_with("err-")
}

/// Every histogram of a run: (operation, class) → interval index → histogram.
#[derive(Debug, Clone, Default)]
pub struct Measurements {
    pub interval_secs: f64,
    pub series: BTreeMap<(String, String), BTreeMap<u64, Histogram<u64>>>,
}

/// A summary of one operation.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct OpSummary {
    pub count: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub by_class: BTreeMap<String, u64>,
    pub throughput_per_s: f64,
    pub latency_ms: Percentiles,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Percentiles {
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                p999: 0.0,
                max: 0.0,
                mean: 0.0,
            };
        }
        Percentiles {
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// A per-task recorder for hot loops: histograms of the current interval kept by
/// index, moved into `Measurements` only when the interval changes, so recording a
/// sample costs no allocation or map lookup.
pub struct IntervalRecorder {
    keys: Vec<(&'static str, &'static str)>,
    interval: Option<u64>,
    current: Vec<Option<Histogram<u64>>>,
    pub out: Measurements,
}

impl IntervalRecorder {
    pub fn new(interval_secs: f64) -> IntervalRecorder {
        IntervalRecorder {
            keys: Vec::new(),
            interval: None,
            current: Vec::new(),
            out: Measurements::new(interval_secs),
        }
    }

    fn flush(&mut self) {
        if let Some(i) = self.interval {
            for (k, h) in self.keys.iter().zip(self.current.iter_mut()) {
                if let Some(h) = h.take() {
                    let slot = self
                        .out
                        .series
                        .entry((k.0.to_string(), k.1.to_string()))
                        .or_default();
                    slot.entry(i)
                        .or_insert_with(histogram)
                        .add(&h)
                        .expect("same bounds");
                }
            }
        }
    }

    #[inline]
    pub fn record(&mut self, op: &'static str, class: &'static str, interval: u64, micros: u64) {
        if self.interval != Some(interval) {
            self.flush();
            self.interval = Some(interval);
        }
        let k = match self
            .keys
            .iter()
            .position(|k| std::ptr::eq(k.0, op) && std::ptr::eq(k.1, class))
        {
            Some(k) => k,
            None => {
                self.keys.push((op, class));
                self.current.push(None);
                self.keys.len() - 1
            }
        };
        self.current[k]
            .get_or_insert_with(histogram)
            .saturating_record(micros.max(1));
    }

    pub fn finish(mut self) -> Measurements {
        self.flush();
        self.out
    }
}

impl Measurements {
    pub fn new(interval_secs: f64) -> Measurements {
        Measurements {
            interval_secs,
            series: BTreeMap::new(),
        }
    }

    pub fn record(&mut self, op: &str, class: &str, interval: u64, micros: u64) {
        let h = self
            .series
            .entry((op.to_string(), class.to_string()))
            .or_default()
            .entry(interval)
            .or_insert_with(histogram);
        h.saturating_record(micros.max(1));
    }

    /// Adds another run's histograms (exact).
    pub fn merge(&mut self, other: &Measurements) {
        for (k, intervals) in &other.series {
            let mine = self.series.entry(k.clone()).or_default();
            for (i, h) in intervals {
                mine.entry(*i)
                    .or_insert_with(histogram)
                    .add(h)
                    .expect("same bounds");
            }
        }
    }

    pub fn operations(&self) -> Vec<String> {
        let mut ops: Vec<String> = self
            .series
            .keys()
            .map(|(o, _)| o.clone())
            .filter(|o| o != LATENESS)
            .collect();
        ops.dedup();
        ops
    }

    /// One operation's histogram over the whole run (all classes unless `class` given).
    pub fn total(&self, op: Option<&str>, class_filter: impl Fn(&str) -> bool) -> Histogram<u64> {
        let mut h = histogram();
        for ((o, c), intervals) in &self.series {
            if op.is_some_and(|op| op != o) || (op.is_none() && !is_request(o)) || !class_filter(c)
            {
                continue;
            }
            for x in intervals.values() {
                h.add(x).expect("same bounds");
            }
        }
        h
    }

    /// The run's span in seconds (from the first to the last interval recorded).
    pub fn span_secs(&self) -> f64 {
        let last = self
            .series
            .values()
            .filter_map(|m| m.keys().next_back())
            .max()
            .copied()
            .unwrap_or(0);
        (last + 1) as f64 * self.interval_secs
    }

    pub fn summary(&self, op: Option<&str>, seconds: f64) -> OpSummary {
        let all = self.total(op, |_| true);
        let mut by_class = BTreeMap::new();
        for ((o, c), intervals) in &self.series {
            if op.is_some_and(|op| op != o) || o == LATENESS || (op.is_none() && !is_request(o)) {
                continue;
            }
            *by_class.entry(c.clone()).or_insert(0) +=
                intervals.values().map(|h| h.len()).sum::<u64>();
        }
        let errors: u64 = by_class
            .iter()
            .filter(|(c, _)| is_error_class(c))
            .map(|(_, n)| n)
            .sum();
        let count = all.len();
        OpSummary {
            count,
            errors,
            error_rate: if count == 0 {
                0.0
            } else {
                errors as f64 / count as f64
            },
            by_class,
            throughput_per_s: count as f64 / seconds.max(1e-9),
            latency_ms: Percentiles::of(&all),
        }
    }

    /// Writes the tagged interval log (`op|class` tags, one histogram per interval).
    pub fn write_log(&self, path: &Path) -> std::io::Result<()> {
        let mut buf = Vec::new();
        {
            let mut ser = V2Serializer::new();
            let mut w = IntervalLogWriterBuilder::new()
                .with_base_time(std::time::SystemTime::UNIX_EPOCH)
                .add_comment(&format!(
                    "sendmock load interval log, interval {} s",
                    self.interval_secs
                ))
                .begin_log_with(&mut buf, &mut ser)
                .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
            for ((op, class), intervals) in &self.series {
                let tag = format!("{op}|{class}");
                for (i, h) in intervals {
                    let start = std::time::Duration::from_secs_f64(*i as f64 * self.interval_secs);
                    let dur = std::time::Duration::from_secs_f64(self.interval_secs);
                    w.write_histogram(h, start, dur, Tag::new(&tag))
                        .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
                }
            }
        }
        sim::report::write_atomic(path, &buf)
    }

    /// Reads a log written by `write_log`.
    pub fn read_log(path: &Path, interval_secs: f64) -> Result<Measurements, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut m = Measurements::new(interval_secs);
        let mut de = Deserializer::new();
        for entry in IntervalLogIterator::new(&bytes) {
            let entry =
                entry.map_err(|e| format!("{}: not an interval log ({e:?})", path.display()))?;
            if let LogEntry::Interval(ih) = entry {
                let tag = ih.tag().map(|t| t.as_str().to_string()).unwrap_or_default();
                let (op, class) = tag
                    .split_once('|')
                    .ok_or_else(|| format!("{}: untagged histogram", path.display()))?;
                let decoded = base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    ih.encoded_histogram(),
                )
                .map_err(|e| format!("{}: {e}", path.display()))?;
                let h: Histogram<u64> = de
                    .deserialize(&mut Cursor::new(decoded))
                    .map_err(|e| format!("{}: {e:?}", path.display()))?;
                let idx = (ih.start_timestamp().as_secs_f64() / interval_secs).round() as u64;
                let slot = m
                    .series
                    .entry((op.to_string(), class.to_string()))
                    .or_default()
                    .entry(idx)
                    .or_insert_with(histogram);
                slot.add(&h).map_err(|e| format!("{e:?}"))?;
            }
        }
        Ok(m)
    }
}
