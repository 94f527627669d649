//! CI thresholds: `send:p99<1500ms`, `errors<0.1%`, `p99.9<2s`, `detail:mean<=20ms`,
//! `send:rate>4.5` (requests per second). Without an operation they apply to all
//! requests together.

use super::measure::{Measurements, OpSummary};

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub text: String,
    pub op: Option<String>,
    pub metric: Metric,
    pub less: bool,
    pub or_equal: bool,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    Quantile(f64),
    Max,
    Mean,
    ErrorRate,
    Rate,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Verdict {
    pub threshold: String,
    pub actual: f64,
    pub passed: bool,
}

impl Threshold {
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let expected = "expected [OPERATION:]METRIC<VALUE with METRIC one of p50, p90, p95, p99, p99.9, max, mean (ms or s), errors (%), rate (per second), e.g. send:p99<1500ms or errors<0.1%";
        let (op, rest) = match text.split_once(':') {
            Some((op, rest)) => (Some(op.trim().to_string()), rest),
            None => (None, text),
        };
        let pos = rest
            .find(['<', '>'])
            .ok_or_else(|| format!("threshold {text:?}: {expected}"))?;
        let (metric, cmp) = rest.split_at(pos);
        let less = cmp.starts_with('<');
        let or_equal = cmp[1..].starts_with('=');
        let value_text = cmp[if or_equal { 2 } else { 1 }..].trim();
        let metric = match metric.trim() {
            "max" => Metric::Max,
            "mean" | "avg" => Metric::Mean,
            "errors" | "error_rate" => Metric::ErrorRate,
            "rate" | "rps" => Metric::Rate,
            m if m.starts_with('p') => {
                let q: f64 = m[1..]
                    .parse()
                    .map_err(|_| format!("threshold {text:?}: {expected}"))?;
                if !(0.0..100.0).contains(&q) {
                    return Err(format!("threshold {text:?}: percentile must be below 100"));
                }
                Metric::Quantile(q / 100.0)
            }
            _ => return Err(format!("threshold {text:?}: {expected}")),
        };
        let value = match metric {
            Metric::ErrorRate => {
                let v = value_text.trim_end_matches('%');
                let n: f64 = v
                    .parse()
                    .map_err(|_| format!("threshold {text:?}: {expected}"))?;
                if value_text.ends_with('%') {
                    n / 100.0
                } else {
                    n
                }
            }
            Metric::Rate => value_text
                .trim_end_matches("/s")
                .parse()
                .map_err(|_| format!("threshold {text:?}: {expected}"))?,
            _ => {
                let (num, scale) = if let Some(v) = value_text.strip_suffix("ms") {
                    (v, 1.0)
                } else if let Some(v) = value_text.strip_suffix("us") {
                    (v, 0.001)
                } else if let Some(v) = value_text.strip_suffix('s') {
                    (v, 1000.0)
                } else {
                    (value_text, 1.0)
                };
                num.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("threshold {text:?}: {expected}"))?
                    * scale
            }
        };
        Ok(Threshold {
            text: text.to_string(),
            op,
            metric,
            less,
            or_equal,
            value,
        })
    }

    /// Evaluated on the merged measurements over `seconds` of run.
    pub fn evaluate(&self, m: &Measurements, seconds: f64) -> Verdict {
        let s: OpSummary = m.summary(self.op.as_deref(), seconds);
        let h = m.total(self.op.as_deref(), |_| true);
        let actual = match self.metric {
            Metric::Quantile(q) => {
                if h.is_empty() {
                    0.0
                } else {
                    h.value_at_quantile(q) as f64 / 1000.0
                }
            }
            Metric::Max => h.max() as f64 / 1000.0,
            Metric::Mean => h.mean() / 1000.0,
            Metric::ErrorRate => s.error_rate,
            Metric::Rate => s.throughput_per_s,
        };
        let passed = match (self.less, self.or_equal) {
            (true, false) => actual < self.value,
            (true, true) => actual <= self.value,
            (false, false) => actual > self.value,
            (false, true) => actual >= self.value,
        };
        Verdict {
            threshold: self.text.clone(),
            actual,
            passed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let t = Threshold::parse("send:p99<1500ms").unwrap();
        assert_eq!(t.op.as_deref(), Some("send"));
        assert_eq!(t.metric, Metric::Quantile(0.99));
        assert_eq!(t.value, 1500.0);
        let t = Threshold::parse("errors<0.1%").unwrap();
        assert_eq!(t.metric, Metric::ErrorRate);
        assert!((t.value - 0.001).abs() < 1e-12);
        assert_eq!(Threshold::parse("p99.9<2s").unwrap().value, 2000.0);
        assert!(Threshold::parse("detail:mean<=20ms").unwrap().or_equal);
        assert!(!Threshold::parse("rate>100").unwrap().less);
        assert!(Threshold::parse("p99~3").is_err());
        assert!(Threshold::parse("latency<3ms").is_err());
    }
}
