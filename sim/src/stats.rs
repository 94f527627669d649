//! Means and 95% confidence intervals across replications (Student's t).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// A mean with its 95% interval; `ci95` is absent with a single replication.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub mean: f64,
    pub ci95: Option<[f64; 2]>,
    pub half_width: Option<f64>,
}

pub fn estimate(values: &[f64]) -> Estimate {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n.max(1) as f64;
    if n < 2 {
        return Estimate {
            mean,
            ci95: None,
            half_width: None,
        };
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .expect("degrees of freedom > 0")
        .inverse_cdf(0.975);
    let hw = t * (var / n as f64).sqrt();
    Estimate {
        mean,
        ci95: Some([mean - hw, mean + hw]),
        half_width: Some(hw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_uses_student_t() {
        let e = estimate(&[1.0, 2.0, 3.0]);
        assert_eq!(e.mean, 2.0);
        // t(0.975, 2) = 4.3027; sd = 1; hw = 4.3027 / sqrt(3)
        assert!((e.half_width.unwrap() - 4.302_652_7 / 3f64.sqrt()).abs() < 1e-5);
        assert!(estimate(&[5.0]).ci95.is_none());
    }
}
