//! Probability distributions of the scenario files and their samplers.
//!
//! Every sample consumes exactly one generator word (closed-form kinds are sampled by
//! inversion), so that two scenarios that differ only in a distribution's parameters
//! still share their random numbers, and a larger value of a parameter moves every
//! sample the same way.

use rand::Rng;
use rand_distr::Distribution;
use serde::{Deserialize, Serialize};

/// A distribution as written in a scenario file, e.g.
/// `{ kind = "lognormal", median = 6.0, sigma = 1.2 }`. The unit is the field's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Dist {
    Constant {
        value: f64,
    },
    Uniform {
        min: f64,
        max: f64,
    },
    Exponential {
        mean: f64,
    },
    /// Parameterised by its median and the standard deviation of its logarithm.
    Lognormal {
        median: f64,
        sigma: f64,
    },
    Gamma {
        shape: f64,
        scale: f64,
    },
    Weibull {
        shape: f64,
        scale: f64,
    },
    /// A piecewise-linear CDF through `[value, cumulative probability]` points; the last
    /// point's probability must be 1.
    Empirical {
        points: Vec<[f64; 2]>,
    },
    /// Discrete values with weights (need not sum to 1).
    Discrete {
        values: Vec<f64>,
        weights: Vec<f64>,
    },
    Mixture {
        components: Vec<Component>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub weight: f64,
    pub dist: Dist,
}

/// Uniform in [0, 1) from one 64-bit word: the conversion is spelled out here so that it
/// cannot change under us with a crate version.
#[inline]
pub fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// `true` with probability `p`, always consuming one word.
#[inline]
pub fn chance<R: Rng + ?Sized>(rng: &mut R, p: f64) -> bool {
    unit(rng) < p
}

impl Dist {
    /// Checks the parameters; the error says what was expected.
    pub fn check(&self) -> Result<(), String> {
        let finite = |name: &str, v: f64| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(format!("`{name}` must be a finite number, got {v}"))
            }
        };
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("`{name}` must be a number greater than 0, got {v}"))
            }
        };
        match self {
            Dist::Constant { value } => finite("value", *value),
            Dist::Uniform { min, max } => {
                finite("min", *min)?;
                finite("max", *max)?;
                if min > max {
                    return Err(format!(
                        "uniform needs min <= max, got min {min} > max {max}"
                    ));
                }
                Ok(())
            }
            Dist::Exponential { mean } => positive("mean", *mean),
            Dist::Lognormal { median, sigma } => {
                positive("median", *median)?;
                if !(sigma.is_finite() && *sigma >= 0.0) {
                    return Err(format!("`sigma` must be a number >= 0, got {sigma}"));
                }
                Ok(())
            }
            Dist::Gamma { shape, scale } | Dist::Weibull { shape, scale } => {
                positive("shape", *shape)?;
                positive("scale", *scale)
            }
            Dist::Empirical { points } => {
                if points.len() < 2 {
                    return Err(
                        "empirical needs at least two [value, cumulative probability] points"
                            .into(),
                    );
                }
                let mut prev = [f64::NEG_INFINITY, 0.0];
                for (i, [x, p]) in points.iter().copied().enumerate() {
                    if !x.is_finite() || !(0.0..=1.0).contains(&p) {
                        return Err(format!(
                            "empirical point {i} must be [finite value, probability in 0..1], got [{x}, {p}]"
                        ));
                    }
                    if x < prev[0] || p < prev[1] {
                        return Err(format!(
                            "empirical points must be non-decreasing in value and probability (point {i})"
                        ));
                    }
                    prev = [x, p];
                }
                if (prev[1] - 1.0).abs() > 1e-9 {
                    return Err(format!(
                        "empirical's last cumulative probability must be 1, got {}",
                        prev[1]
                    ));
                }
                Ok(())
            }
            Dist::Discrete { values, weights } => {
                if values.is_empty() || values.len() != weights.len() {
                    return Err(format!(
                        "discrete needs as many weights as values (at least one), got {} values and {} weights",
                        values.len(),
                        weights.len()
                    ));
                }
                if values.iter().any(|v| !v.is_finite())
                    || weights.iter().any(|w| !w.is_finite() || *w < 0.0)
                    || weights.iter().sum::<f64>() <= 0.0
                {
                    return Err(
                        "discrete values must be finite and weights >= 0 with a positive sum"
                            .into(),
                    );
                }
                Ok(())
            }
            Dist::Mixture { components } => {
                if components.is_empty() {
                    return Err("mixture needs at least one component".into());
                }
                for (i, c) in components.iter().enumerate() {
                    if !(c.weight.is_finite() && c.weight >= 0.0) {
                        return Err(format!(
                            "mixture component {i}: weight must be >= 0, got {}",
                            c.weight
                        ));
                    }
                    c.dist
                        .check()
                        .map_err(|e| format!("mixture component {i}: {e}"))?;
                }
                if components.iter().map(|c| c.weight).sum::<f64>() <= 0.0 {
                    return Err("mixture weights must have a positive sum".into());
                }
                Ok(())
            }
        }
    }

    /// The lowest value the distribution can take (for "must not be negative" checks).
    pub fn min_value(&self) -> f64 {
        match self {
            Dist::Constant { value } => *value,
            Dist::Uniform { min, .. } => *min,
            Dist::Exponential { .. }
            | Dist::Lognormal { .. }
            | Dist::Gamma { .. }
            | Dist::Weibull { .. } => 0.0,
            Dist::Empirical { points } => points.first().map_or(0.0, |p| p[0]),
            Dist::Discrete { values, .. } => values.iter().copied().fold(f64::INFINITY, f64::min),
            Dist::Mixture { components } => components
                .iter()
                .map(|c| c.dist.min_value())
                .fold(f64::INFINITY, f64::min),
        }
    }

    /// The mean, where it has a closed form (used in reports and tests).
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Constant { value } => *value,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::Exponential { mean } => *mean,
            Dist::Lognormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
            Dist::Gamma { shape, scale } => shape * scale,
            Dist::Weibull { shape, scale } => {
                scale * statrs::function::gamma::gamma(1.0 + 1.0 / shape)
            }
            Dist::Empirical { points } => points
                .windows(2)
                .map(|w| (w[1][1] - w[0][1]) * (w[0][0] + w[1][0]) / 2.0)
                .sum(),
            Dist::Discrete { values, weights } => {
                let total: f64 = weights.iter().sum();
                values.iter().zip(weights).map(|(v, w)| v * w).sum::<f64>() / total
            }
            Dist::Mixture { components } => {
                let total: f64 = components.iter().map(|c| c.weight).sum();
                components
                    .iter()
                    .map(|c| c.weight * c.dist.mean())
                    .sum::<f64>()
                    / total
            }
        }
    }

    /// Compiles the distribution into a sampler. Call `check` first.
    pub fn sampler(&self) -> Sampler {
        match self {
            Dist::Constant { value } => Sampler::Constant(*value),
            Dist::Uniform { min, max } => Sampler::Uniform(*min, max - min),
            Dist::Exponential { mean } => Sampler::Exponential(*mean),
            Dist::Lognormal { median, sigma } if *sigma > 0.0 => {
                let table = TABLE_SEGMENTS
                    .iter()
                    .flat_map(|&(lo, hi, points)| {
                        (0..=points).map(move |i| {
                            let u = lo + (hi - lo) * i as f64 / points as f64;
                            median * (sigma * probit(u)).exp()
                        })
                    })
                    .collect();
                Sampler::LognormalTable(*median, *sigma, table)
            }
            Dist::Lognormal { median, sigma } => Sampler::Lognormal(*median, *sigma),
            Dist::Gamma { shape, scale } => Sampler::Gamma(
                rand_distr::Gamma::new(*shape, *scale).expect("checked gamma parameters"),
            ),
            Dist::Weibull { shape, scale } => Sampler::Weibull(1.0 / shape, *scale),
            Dist::Empirical { points } => Sampler::Empirical(points.clone()),
            Dist::Discrete { values, weights } => {
                let total: f64 = weights.iter().sum();
                let mut acc = 0.0;
                let cum = weights
                    .iter()
                    .map(|w| {
                        acc += w / total;
                        acc
                    })
                    .collect();
                Sampler::Discrete(values.clone(), cum)
            }
            Dist::Mixture { components } => {
                let total: f64 = components.iter().map(|c| c.weight).sum();
                let mut acc = 0.0;
                Sampler::Mixture(
                    components
                        .iter()
                        .map(|c| {
                            acc += c.weight / total;
                            (acc, c.dist.sampler())
                        })
                        .collect(),
                )
            }
        }
    }
}

/// A compiled distribution, ready to sample.
#[derive(Debug, Clone)]
pub enum Sampler {
    Constant(f64),
    Uniform(f64, f64),
    Exponential(f64),
    Lognormal(f64, f64),
    /// Median, sigma, and the quantile function tabulated on `TABLE_SEGMENTS` (one
    /// after the other, each with its end points).
    LognormalTable(f64, f64, std::sync::Arc<[f64]>),
    Gamma(rand_distr::Gamma<f64>),
    /// 1/shape, scale
    Weibull(f64, f64),
    Empirical(Vec<[f64; 2]>),
    Discrete(Vec<f64>, Vec<f64>),
    Mixture(Vec<(f64, Sampler)>),
}

/// Lognormal quantiles are tabulated on these probability segments (from, to, intervals)
/// and interpolated linearly (relative error below 2e-4 for sigma up to 1.5; exact
/// outside): the simulator draws millions of them per second. The body comes first,
/// since most draws fall in it.
const TABLE_SEGMENTS: [(f64, f64, usize); 3] =
    [(0.05, 0.95, 512), (0.005, 0.05, 256), (0.95, 0.995, 256)];

/// Linear interpolation in segment `k` of a lognormal table, if `u` falls in it.
#[inline]
fn in_segment(table: &[f64], k: usize, u: f64) -> Option<f64> {
    let (lo, hi, points) = TABLE_SEGMENTS[k];
    if !(lo..hi).contains(&u) {
        return None;
    }
    let offset: usize = TABLE_SEGMENTS[..k].iter().map(|s| s.2 + 1).sum();
    let x = (u - lo) * (points as f64 / (hi - lo));
    let i = (x as usize).min(points - 1);
    let f = x - i as f64;
    let t = &table[offset + i..offset + i + 2];
    Some(t[0] + (t[1] - t[0]) * f)
}

/// Inverse of the standard normal CDF: Wichura's algorithm AS 241 (PPND16, Applied
/// Statistics 37, 1988), accurate to about 1e-16. statrs' `erf_inv` gives the same
/// values but cost a fifth of the simulator's time; this is on its hottest path.
#[inline]
#[allow(clippy::excessive_precision)] // the published coefficients, as printed
fn probit(p: f64) -> f64 {
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q
            * (((((((2_509.080_928_730_122_7 * r + 33_430.575_583_588_128) * r
                + 67_265.770_927_008_7)
                * r
                + 45_921.953_931_549_87)
                * r
                + 13_731.693_765_509_461)
                * r
                + 1_971.590_950_306_551_3)
                * r
                + 133.141_667_891_784_38)
                * r
                + 3.387_132_872_796_366_5)
            / (((((((5_226.495_278_852_545 * r + 28_729.085_735_721_943) * r
                + 39_307.895_800_092_71)
                * r
                + 21_213.794_301_586_597)
                * r
                + 5_394.196_021_424_751)
                * r
                + 687.187_007_492_057_9)
                * r
                + 42.313_330_701_600_91)
                * r
                + 1.0);
    }
    let mut r = if q < 0.0 { p } else { 1.0 - p };
    r = (-r.ln()).sqrt();
    let x = if r <= 5.0 {
        r -= 1.6;
        (((((((7.745_450_142_783_414e-4 * r + 0.022_723_844_989_269_184) * r
            + 0.241_780_725_177_450_6)
            * r
            + 1.270_458_252_452_368_4)
            * r
            + 3.647_848_324_763_204_5)
            * r
            + 5.769_497_221_460_691)
            * r
            + 4.630_337_846_156_546)
            * r
            + 1.423_437_110_749_683_5)
            / (((((((1.050_750_071_644_416_9e-9 * r + 5.475_938_084_995_345e-4) * r
                + 0.015_198_666_563_616_457)
                * r
                + 0.148_103_976_427_480_08)
                * r
                + 0.689_767_334_985_1)
                * r
                + 1.676_384_830_183_803_8)
                * r
                + 2.053_191_626_637_759)
                * r
                + 1.0)
    } else {
        r -= 5.0;
        (((((((2.010_334_399_292_288e-7 * r + 2.711_555_568_743_487_6e-5) * r
            + 0.001_242_660_947_388_078_4)
            * r
            + 0.026_532_189_526_576_124)
            * r
            + 0.296_560_571_828_504_9)
            * r
            + 1.784_826_539_917_291_3)
            * r
            + 5.463_784_911_164_114)
            * r
            + 6.657_904_643_501_103)
            / (((((((2.044_263_103_389_939_7e-15 * r + 1.421_511_758_316_446e-7) * r
                + 1.846_318_317_510_054_8e-5)
                * r
                + 7.868_691_311_456_133e-4)
                * r
                + 0.014_875_361_290_850_615)
                * r
                + 0.136_929_880_922_735_8)
                * r
                + 0.599_832_206_555_888)
                * r
                + 1.0)
    };
    if q < 0.0 { -x } else { x }
}

impl Sampler {
    /// Draws one value, consuming exactly one generator word.
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        self.at(unit(rng))
    }

    /// The value for the uniform `u`: the quantile for the closed-form kinds; a
    /// mixture picks its component with `u` and rescales it; gamma, which has no closed
    /// form, seeds a private generator from `u`'s bits.
    pub fn at(&self, u: f64) -> f64 {
        match self {
            Sampler::Mixture(parts) => {
                let i = parts
                    .partition_point(|(cum, _)| *cum <= u)
                    .min(parts.len() - 1);
                let lo = if i == 0 { 0.0 } else { parts[i - 1].0 };
                let width = parts[i].0 - lo;
                let inner = if width > 0.0 {
                    ((u - lo) / width).clamp(0.0, 1.0 - f64::EPSILON)
                } else {
                    0.5
                };
                parts[i].1.at(inner)
            }
            Sampler::Gamma(g) => {
                let mut sub = crate::rng::SplitMix64(u.to_bits());
                g.sample(&mut sub)
            }
            Sampler::Constant(v) => *v,
            Sampler::Uniform(min, width) => min + u * width,
            Sampler::Exponential(mean) => -mean * (-u).ln_1p(),
            Sampler::Lognormal(median, sigma) => {
                if *sigma == 0.0 {
                    *median
                } else {
                    median * (sigma * probit(u.clamp(1e-300, 1.0 - 1e-16))).exp()
                }
            }
            Sampler::LognormalTable(median, sigma, table) => in_segment(table, 0, u)
                .or_else(|| in_segment(table, 1, u))
                .or_else(|| in_segment(table, 2, u))
                .unwrap_or_else(|| median * (sigma * probit(u.clamp(1e-300, 1.0 - 1e-16))).exp()),
            Sampler::Weibull(inv_shape, scale) => scale * (-(-u).ln_1p()).powf(*inv_shape),
            Sampler::Empirical(points) => {
                let i = points.partition_point(|p| p[1] <= u);
                if i == 0 {
                    return points[0][0];
                }
                if i >= points.len() {
                    return points[points.len() - 1][0];
                }
                let (a, b) = (points[i - 1], points[i]);
                if b[1] <= a[1] {
                    return b[0];
                }
                a[0] + (u - a[1]) / (b[1] - a[1]) * (b[0] - a[0])
            }
            Sampler::Discrete(values, cum) => {
                let i = cum.partition_point(|c| *c <= u).min(values.len() - 1);
                values[i]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn mean_of(d: &Dist, n: usize) -> f64 {
        let s = d.sampler();
        let mut rng = SplitMix64(7);
        (0..n).map(|_| s.sample(&mut rng)).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_match_closed_forms() {
        let cases = [
            Dist::Exponential { mean: 3.0 },
            Dist::Lognormal {
                median: 2.0,
                sigma: 0.5,
            },
            Dist::Gamma {
                shape: 2.0,
                scale: 1.5,
            },
            Dist::Weibull {
                shape: 1.5,
                scale: 2.0,
            },
            Dist::Uniform { min: 1.0, max: 5.0 },
            Dist::Empirical {
                points: vec![[0.0, 0.0], [1.0, 0.5], [3.0, 1.0]],
            },
            Dist::Discrete {
                values: vec![1.0, 2.0],
                weights: vec![3.0, 1.0],
            },
            Dist::Mixture {
                components: vec![
                    Component {
                        weight: 1.0,
                        dist: Dist::Constant { value: 0.0 },
                    },
                    Component {
                        weight: 3.0,
                        dist: Dist::Exponential { mean: 4.0 },
                    },
                ],
            },
        ];
        for d in cases {
            d.check().unwrap();
            let m = mean_of(&d, 200_000);
            assert!(
                (m - d.mean()).abs() < 0.02 * d.mean().max(1.0),
                "{d:?}: {m} vs {}",
                d.mean()
            );
        }
    }

    #[test]
    fn tabulated_lognormal_quantiles_are_accurate() {
        let s = Dist::Lognormal {
            median: 3.0,
            sigma: 1.5,
        }
        .sampler();
        let exact = Sampler::Lognormal(3.0, 1.5);
        for k in 1..10_000 {
            let u = k as f64 / 10_000.0;
            let (a, b) = (s.at(u), exact.at(u));
            assert!(((a - b) / b).abs() < 2e-4, "u {u}: {a} vs {b}");
        }
    }

    #[test]
    fn probit_matches_statrs() {
        for k in 1..2000 {
            let u = k as f64 / 2000.0;
            let reference = -std::f64::consts::SQRT_2 * statrs::function::erf::erfc_inv(2.0 * u);
            assert!(
                (probit(u) - reference).abs() < 1e-9 * reference.abs().max(1.0),
                "{u}"
            );
        }
        assert!((probit(1e-12) + 7.034_483_825_654_085).abs() < 1e-6);
    }

    #[test]
    fn lognormal_median_is_the_median() {
        let s = Dist::Lognormal {
            median: 5.0,
            sigma: 1.3,
        }
        .sampler();
        assert!((s.at(0.5) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn impossible_parameters_are_refused() {
        assert!(Dist::Exponential { mean: 0.0 }.check().is_err());
        assert!(
            Dist::Lognormal {
                median: 1.0,
                sigma: -1.0
            }
            .check()
            .is_err()
        );
        assert!(Dist::Uniform { min: 2.0, max: 1.0 }.check().is_err());
        assert!(
            Dist::Empirical {
                points: vec![[0.0, 0.0], [1.0, 0.9]]
            }
            .check()
            .is_err()
        );
        assert!(
            Dist::Gamma {
                shape: f64::NAN,
                scale: 1.0
            }
            .check()
            .is_err()
        );
    }
}
