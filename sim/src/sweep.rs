//! `sendsim sweep`: one scenario run at many points of one or two parameters (a grid),
//! or of several (a Latin hypercube), every point with the same seed (common random
//! numbers), so neighbouring points differ by the parameters only.

use rayon::prelude::*;

use crate::model::Model;
use crate::report::{KpiReport, kpi_reports};
use crate::rng::SplitMix64;
use crate::run::{RunOptions, simulate};
use crate::tally::KPI_NAMES;

/// Runs every model with `opts` (its `threads` ignored): points in parallel on `threads`
/// threads (0 = one per core), each on one, so every point's KPIs are the same whatever
/// the thread count.
pub fn run_points(
    models: &[Model],
    opts: &RunOptions,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<Vec<(&'static str, KpiReport)>> {
    let one = RunOptions {
        threads: 1,
        ..*opts
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
        .install(|| {
            models
                .par_iter()
                .map(|m| kpi_reports(&simulate(m, &one, progress)))
                .collect()
        })
}

/// Most points a sweep may have (a mistyped step should not start a day-long run).
pub const MAX_POINTS: usize = 10_000;

/// `PATH=START:STOP:STEP` (a grid) or `PATH=LOW:HIGH` (a Latin hypercube's range).
#[derive(Debug, Clone, PartialEq)]
pub struct Vary {
    pub path: String,
    pub start: f64,
    pub stop: f64,
    pub step: Option<f64>,
    /// Every bound written without a decimal point: the values are whole numbers.
    pub integer: bool,
}

impl Vary {
    pub fn parse(spec: &str) -> Result<Vary, String> {
        let bad = |why: &str| format!("--vary {spec:?}: {why}");
        let (path, range) = spec.split_once('=').ok_or_else(|| {
            bad("expected PATH=START:STOP:STEP, e.g. arrivals.window_days=10:30:5")
        })?;
        let parts: Vec<&str> = range.split(':').map(str::trim).collect();
        let num = |s: &str| {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(&format!("{s:?} is not a number")))
        };
        let (start, stop, step) = match parts.as_slice() {
            [a, b] => (num(a)?, num(b)?, None),
            [a, b, c] => (num(a)?, num(b)?, Some(num(c)?)),
            _ => return Err(bad("expected START:STOP:STEP (or LOW:HIGH with --lhs)")),
        };
        if let Some(s) = step {
            if s <= 0.0 {
                return Err(bad("the step must be > 0"));
            }
        }
        if stop < start {
            return Err(bad("STOP must not be below START"));
        }
        Ok(Vary {
            path: path.trim().to_string(),
            start,
            stop,
            step,
            integer: parts.iter().all(|p| !p.contains(['.', 'e', 'E'])),
        })
    }

    /// The grid's values, START to STOP inclusive.
    pub fn values(&self) -> Result<Vec<f64>, String> {
        let step = self.step.ok_or_else(|| {
            format!(
                "--vary {}: a grid needs a step (START:STOP:STEP)",
                self.path
            )
        })?;
        let n = ((self.stop - self.start) / step + 1e-9).floor() as usize + 1;
        if n > MAX_POINTS {
            return Err(format!(
                "--vary {}: {n} values, more than the {MAX_POINTS} a sweep may have",
                self.path
            ));
        }
        // Rounded to 12 significant digits: 0.1 + 2 × 0.1 is 0.3, not 0.30000000000000004.
        Ok((0..n)
            .map(|i| {
                let x = self.start + i as f64 * step;
                format!("{x:.12e}").parse().unwrap_or(x)
            })
            .collect())
    }

    /// The value as a TOML literal for `--set`.
    pub fn literal(&self, v: f64) -> String {
        if self.integer {
            format!("{}", v.round() as i64)
        } else {
            format!("{v:?}")
        }
    }
}

/// The points of a sweep: each a value per varied parameter. A grid of one or two
/// parameters, or with `lhs` N points of a Latin hypercube over every parameter's range
/// (drawn from `seed`).
pub fn points(vary: &[Vary], lhs: Option<usize>, seed: u64) -> Result<Vec<Vec<f64>>, String> {
    if vary.is_empty() {
        return Err("give at least one --vary PATH=START:STOP:STEP".into());
    }
    match lhs {
        Some(n) => {
            if n == 0 || n > MAX_POINTS {
                return Err(format!("--lhs {n}: expected 1 to {MAX_POINTS} points"));
            }
            let mut rng = SplitMix64(seed ^ 0x1A7E_4C0B);
            let mut unit = || (rng.advance() >> 11) as f64 / (1u64 << 53) as f64;
            // Each parameter's range cut into n strata, one point in each, the strata
            // matched at random across parameters.
            let columns: Vec<Vec<f64>> = vary
                .iter()
                .map(|v| {
                    let mut strata: Vec<usize> = (0..n).collect();
                    for i in (1..n).rev() {
                        let j = (unit() * (i + 1) as f64) as usize;
                        strata.swap(i, j.min(i));
                    }
                    strata
                        .iter()
                        .map(|s| {
                            let x = v.start + (v.stop - v.start) * (*s as f64 + unit()) / n as f64;
                            if v.integer { x.round() } else { x }
                        })
                        .collect()
                })
                .collect();
            Ok((0..n)
                .map(|i| columns.iter().map(|c| c[i]).collect())
                .collect())
        }
        None => match vary {
            [a] => Ok(a.values()?.into_iter().map(|x| vec![x]).collect()),
            [a, b] => {
                let (xs, ys) = (a.values()?, b.values()?);
                if xs.len() * ys.len() > MAX_POINTS {
                    return Err(format!(
                        "{} × {} points, more than the {MAX_POINTS} a sweep may have",
                        xs.len(),
                        ys.len()
                    ));
                }
                Ok(xs
                    .iter()
                    .flat_map(|x| ys.iter().map(move |y| vec![*x, *y]))
                    .collect())
            }
            _ => Err("a grid varies one or two parameters; for more, use --lhs N".into()),
        },
    }
}

/// `sweep.csv`: a row per point: the parameters' values, then each KPI's SEND mean and
/// 95% interval.
pub fn csv(
    vary: &[Vary],
    points: &[Vec<f64>],
    reports: &[Vec<(&'static str, KpiReport)>],
) -> String {
    let mut out = String::from("point");
    for v in vary {
        out.push(',');
        out.push_str(&v.path);
    }
    for k in KPI_NAMES {
        out.push_str(&format!(",{k},{k}_ci95_low,{k}_ci95_high"));
    }
    out.push('\n');
    for (i, (p, r)) in points.iter().zip(reports).enumerate() {
        out.push_str(&i.to_string());
        for (v, x) in vary.iter().zip(p) {
            out.push(',');
            out.push_str(&v.literal(*x));
        }
        for (_, k) in r {
            let [lo, hi] = k.send.ci95.map_or([String::new(), String::new()], |c| {
                [c[0].to_string(), c[1].to_string()]
            });
            out.push_str(&format!(",{},{lo},{hi}", k.send.mean));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_include_both_ends_and_keep_whole_numbers_whole() {
        let v = Vary::parse("arrivals.window_days=10:30:5").unwrap();
        assert_eq!(v.values().unwrap(), vec![10.0, 15.0, 20.0, 25.0, 30.0]);
        assert_eq!(v.literal(15.0), "15");
        let f = Vary::parse("pec.working_box_share=0.1:0.3:0.1").unwrap();
        assert_eq!(f.values().unwrap().len(), 3);
        assert_eq!(f.literal(0.2), "0.2");
        assert_eq!(f.values().unwrap()[2], 0.3);
        let two = points(&[v.clone(), f.clone()], None, 1).unwrap();
        assert_eq!(two.len(), 15);
        assert_eq!(two[1], vec![10.0, 0.2]);
        assert!(Vary::parse("x=1:0:1").is_err());
        assert!(Vary::parse("x=1:2:0").unwrap_err().contains("step"));
        assert!(Vary::parse("x=a:2:1").unwrap_err().contains("\"a\""));
        assert!(
            points(&[v.clone(), f.clone(), v], None, 1)
                .unwrap_err()
                .contains("--lhs")
        );
    }

    #[test]
    fn a_latin_hypercube_puts_one_point_in_each_stratum_of_each_range() {
        let a = Vary::parse("a=0.0:1.0").unwrap();
        let b = Vary::parse("b=10:20").unwrap();
        let p = points(&[a.clone(), b.clone()], Some(10), 7).unwrap();
        assert_eq!(p.len(), 10);
        let mut strata: Vec<usize> = p.iter().map(|x| (x[0] * 10.0) as usize).collect();
        strata.sort();
        assert_eq!(strata, (0..10).collect::<Vec<_>>());
        assert!(
            p.iter()
                .all(|x| (10.0..=20.0).contains(&x[1]) && x[1].fract() == 0.0)
        );
        assert_eq!(p, points(&[a, b], Some(10), 7).unwrap(), "seeded");
    }
}
