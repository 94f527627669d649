//! Carriers' weekly capacity per postal area (`sim/data/postal_capacity.tsv`, generated
//! from the tender's capacity table) and the plan one run uses: which capacity lane
//! (carrier × postal area) each national letter joins, the weeks in Europe/Rome time, and
//! each lane's capacity in each week.
//!
//! A postal area is the set of provinces sharing a CAP's first two digits: the model
//! knows a recipient's CAP, not its province, so the provinces' capacities are summed.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use chrono_tz::Europe::Rome;

use crate::model::{Model, PostRequest};
use crate::prices::{PaperAddress, Product};
use crate::time::{DAY, Tick};

const CAPACITY_TSV: &str = include_str!("../data/postal_capacity.tsv");

/// One carrier's capacity in one postal area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneSpec {
    /// The carrier as the capacity table names it (`Poste`, `Sailpost`, ...).
    pub carrier: String,
    /// The CAP prefix of the area.
    pub area: String,
    /// The provinces of the area, comma-separated.
    pub provinces: String,
    /// Letters a week, and in a peak week.
    pub weekly: u64,
    pub peak: u64,
    /// Whether the capacity covers 890, AR, RS (national slot order).
    pub products: [bool; 3],
}

/// The embedded capacity table.
pub struct CapacityTable {
    /// Tender carrier name -> capacity table carrier.
    drivers: HashMap<String, String>,
    /// CAP prefix, provinces, residents.
    pub areas: Vec<(String, String, u64)>,
    pub lanes: Vec<LaneSpec>,
    index: HashMap<(String, String), usize>,
}

impl CapacityTable {
    fn parse(text: &str) -> CapacityTable {
        let mut t = CapacityTable {
            drivers: HashMap::new(),
            areas: Vec::new(),
            lanes: Vec::new(),
            index: HashMap::new(),
        };
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let f: Vec<&str> = line.split('\t').collect();
            match f[0] {
                "DRIVER" => {
                    t.drivers.insert(f[1].to_string(), f[2].to_string());
                }
                "AREA" => t.areas.push((
                    f[1].to_string(),
                    f[2].to_string(),
                    f[3].parse().expect("area residents"),
                )),
                "CAPACITY" => {
                    let provinces = t
                        .areas
                        .iter()
                        .find(|a| a.0 == f[2])
                        .map(|a| a.1.clone())
                        .expect("capacity area is listed");
                    let mut products = [false; 3];
                    for p in f[5].split(',') {
                        match p {
                            "890" => products[0] = true,
                            "AR" => products[1] = true,
                            "RS" => products[2] = true,
                            other => panic!("unexpected capacity product {other}"),
                        }
                    }
                    t.index
                        .insert((f[1].to_string(), f[2].to_string()), t.lanes.len());
                    t.lanes.push(LaneSpec {
                        carrier: f[1].to_string(),
                        area: f[2].to_string(),
                        provinces,
                        weekly: f[3].parse().expect("weekly capacity"),
                        peak: f[4].parse().expect("peak capacity"),
                        products,
                    });
                }
                other => panic!("unexpected capacity record {other}"),
            }
        }
        t
    }

    /// The embedded table, parsed once per process.
    pub fn embedded() -> &'static CapacityTable {
        static TABLE: OnceLock<CapacityTable> = OnceLock::new();
        TABLE.get_or_init(|| CapacityTable::parse(CAPACITY_TSV))
    }

    /// Residents of the postal area of a CAP.
    pub fn residents(&self, cap: &str) -> Option<u64> {
        let prefix = cap.get(..2)?;
        self.areas.iter().find(|a| a.0 == prefix).map(|a| a.2)
    }

    /// The lane of a letter taken by `tender_carrier` to CAP `cap`, if its product is
    /// covered.
    pub fn lane(&self, tender_carrier: &str, cap: &str, product: Product) -> Option<usize> {
        let carrier = self.drivers.get(tender_carrier)?;
        let area = cap.get(..2)?;
        let lane = *self.index.get(&(carrier.clone(), area.to_string()))?;
        let slot = product.national_slot()?;
        self.lanes[lane].products[slot].then_some(lane)
    }
}

/// No lane: the letter is not limited.
const NO_LANE: u16 = u16::MAX;

/// What one run needs to queue letters: lanes by (tender, CAP, product), weeks and
/// capacities scaled to the simulated volume.
pub struct CapacityPlan {
    /// [tender][cap][national slot] -> lane or `NO_LANE`.
    lane_of: Vec<Vec<[u16; 3]>>,
    tender_from: Vec<Tick>,
    /// Start of each week (Monday 00:00 Europe/Rome), from the one holding tick 0 to
    /// past the horizon.
    pub week_starts: Vec<Tick>,
    peak_week: Vec<bool>,
    weekly: Vec<u32>,
    peak: Vec<u32>,
    pub horizon: Tick,
    /// Rank of each letter class in the scenario's priority (indexed by `LetterClass as usize`).
    pub class_rank: [u8; 4],
}

impl CapacityPlan {
    pub fn new(model: &Model) -> CapacityPlan {
        let table = CapacityTable::embedded();
        let prices = model.prices;
        let k = &model.scenario.postal_capacity;
        let lane_of = (0..prices.tenders.len())
            .map(|t| {
                (0..prices.geo.caps.len() as u32)
                    .map(|cap| {
                        let mut out = [NO_LANE; 3];
                        for (slot, product) in [Product::R890, Product::Ar, Product::Rs]
                            .into_iter()
                            .enumerate()
                        {
                            let address = PaperAddress::National { cap };
                            if let Some(carrier) = prices.carrier_in(t, product, address) {
                                let text = &prices.geo.caps[cap as usize];
                                if let Some(lane) = table.lane(carrier, text, product) {
                                    out[slot] = lane as u16;
                                }
                            }
                        }
                        out
                    })
                    .collect()
            })
            .collect();
        let scaled =
            |x: u64| ((x as f64 * k.scale).round() as u64).clamp(1, u32::MAX as u64) as u32;
        let cal = &model.calendar;
        let start = cal.local(0).date_naive();
        let mut monday = start - Duration::days(start.weekday().num_days_from_monday() as i64);
        let mut week_starts = Vec::new();
        let mut peak_week = Vec::new();
        let periods: Vec<(NaiveDate, NaiveDate)> = k
            .peak_periods
            .iter()
            .map(|p| p.dates().expect("validated peak period"))
            .collect();
        loop {
            let midnight = Rome
                .from_local_datetime(&monday.and_hms_opt(0, 0, 0).expect("midnight"))
                .earliest()
                .expect("midnight exists in Europe/Rome");
            let tick = (midnight.with_timezone(&chrono::Utc) - cal.start_utc()).num_seconds();
            week_starts.push(tick);
            peak_week.push(periods.iter().any(|(a, b)| (*a..=*b).contains(&monday)));
            if tick > model.horizon + 7 * DAY {
                break;
            }
            monday += Duration::days(7);
        }
        let mut class_rank = [0u8; 4];
        for (rank, class) in k.priority.iter().enumerate() {
            class_rank[*class as usize] = rank as u8;
        }
        CapacityPlan {
            lane_of,
            tender_from: model.tender_from.clone(),
            week_starts,
            peak_week,
            weekly: table.lanes.iter().map(|l| scaled(l.weekly)).collect(),
            peak: table.lanes.iter().map(|l| scaled(l.peak)).collect(),
            horizon: model.horizon,
            class_rank,
        }
    }

    /// The lane a letter joins, if its carrier has a capacity for it there.
    #[inline]
    pub fn lane(&self, r: &PostRequest) -> Option<u16> {
        let (PaperAddress::National { cap }, Some(slot)) = (r.address, r.product.national_slot())
        else {
            return None;
        };
        let tender = self
            .tender_from
            .partition_point(|t| *t <= r.ready)
            .saturating_sub(1);
        let lane = self.lane_of[tender][cap as usize][slot];
        (lane != NO_LANE).then_some(lane)
    }

    pub fn lanes(&self) -> usize {
        self.weekly.len()
    }

    /// The week holding `t` (index into `week_starts`).
    #[inline]
    pub fn week_of(&self, t: Tick) -> usize {
        self.week_starts
            .partition_point(|w| *w <= t)
            .saturating_sub(1)
    }

    /// Letters `lane` takes in week `week`.
    #[inline]
    pub fn capacity(&self, lane: u16, week: usize) -> u32 {
        if self.peak_week.get(week).copied().unwrap_or(false) {
            self.peak[lane as usize]
        } else {
            self.weekly[lane as usize]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rome_is_served_by_poste_within_its_table_capacity() {
        let t = CapacityTable::embedded();
        let lane = t
            .lane("Poste", "00118", Product::Ar)
            .expect("Rome has a Poste lane");
        let l = &t.lanes[lane];
        assert_eq!(
            (l.carrier.as_str(), l.area.as_str(), l.provinces.as_str()),
            ("Poste", "00", "RM")
        );
        assert_eq!((l.weekly, l.peak), (32_000, 94_000));
        // FSU is Poste under another tender name.
        assert_eq!(t.lane("FSU", "00118", Product::Ar), Some(lane));
        // An unknown carrier has no lane: its letters are not limited.
        assert_eq!(t.lane("Nobody", "00118", Product::Ar), None);
    }
}
