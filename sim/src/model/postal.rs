//! One registered letter through the post: transit, delivery at the first pass, the
//! post office hold (giacenza) with pickup or *compiuta giacenza*, refusal, death of the
//! recipient, a wrong address, and loss. The same draws serve SEND's letters and the
//! all-paper baseline's, so both see the same recipient at home or not (common random
//! numbers).

use rand::Rng;

use super::timeline::Code;
use crate::dist::{Sampler, unit};
use crate::prices::Product;
use crate::time::{Tick, days};

/// How one letter ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostalFate {
    /// Handed to the recipient at the first pass.
    Delivered,
    /// Refused by the recipient (M05): a legal delivery.
    Refused,
    /// Recipient deceased (M02): returned to sender.
    Deceased,
    /// Held at the post office after a deposit notice at `notice`, then collected.
    Collected { notice: Tick },
    /// Held and not collected within the term (*compiuta giacenza*).
    CompiutaGiacenza { notice: Tick },
    /// Not delivered: unknown, moved or wrong address (M01/M03/M04); `discovered` when
    /// the postman reports a new address.
    Failed { discovered: bool },
    /// Theft, loss or damage (F01-F04): the same attempt is sent again.
    Lost,
}

impl PostalFate {
    /// Whether the outcome is a legal delivery (SEND's OK codes).
    pub fn delivers(self) -> bool {
        matches!(
            self,
            PostalFate::Delivered
                | PostalFate::Refused
                | PostalFate::Collected { .. }
                | PostalFate::CompiutaGiacenza { .. }
        )
    }
    /// Whether the recipient had the letter in hand.
    pub fn informs(self) -> bool {
        matches!(self, PostalFate::Delivered | PostalFate::Collected { .. })
    }
}

/// A letter's outcome and the business instant of its final event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostalResult {
    pub fate: PostalFate,
    pub arrival: Tick,
    pub at: Tick,
}

/// Parameters of the postal service.
#[derive(Debug, Clone)]
pub struct PostalService {
    pub transit_890: Sampler,
    pub transit_ar: Sampler,
    pub transit_rs: Sampler,
    pub transit_rir: Sampler,
    pub delivered_share: f64,
    pub refused_share: f64,
    pub lost_share: f64,
    pub pickup_share: f64,
    pub pickup_days: Sampler,
    pub compiuta_giacenza: Tick,
    pub return_days: Sampler,
    pub discovered_address_share: f64,
}

impl PostalService {
    /// One letter posted at `posted`. Always consumes the same seven words.
    pub fn attempt<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        product: Product,
        address_correct: bool,
        deceased: bool,
        posted: Tick,
    ) -> PostalResult {
        let u_transit = unit(rng);
        let u_fate = unit(rng);
        let u_pickup = unit(rng);
        let u_pickup_delay = unit(rng);
        let u_return = unit(rng);
        let u_discovered = unit(rng);
        let _reserved = unit(rng);
        let transit = match product {
            Product::R890 => &self.transit_890,
            Product::Ar => &self.transit_ar,
            Product::Rs => &self.transit_rs,
            Product::Rir | Product::Ris => &self.transit_rir,
        };
        let arrival = posted + days(transit.at(u_transit)).max(1);
        let result = |fate, at| PostalResult { fate, arrival, at };
        if deceased {
            return result(PostalFate::Deceased, arrival);
        }
        if !address_correct {
            let at = arrival + days(self.return_days.at(u_return));
            let discovered = u_discovered < self.discovered_address_share;
            return result(PostalFate::Failed { discovered }, at);
        }
        let (d, r, l) = (self.delivered_share, self.refused_share, self.lost_share);
        if u_fate < d {
            return result(PostalFate::Delivered, arrival);
        }
        if u_fate < d + r {
            return result(PostalFate::Refused, arrival);
        }
        if u_fate < d + r + l {
            return result(PostalFate::Lost, arrival);
        }
        let notice = arrival;
        if u_pickup < self.pickup_share {
            let wait = days(self.pickup_days.at(u_pickup_delay)).min(self.compiuta_giacenza);
            return result(PostalFate::Collected { notice }, notice + wait);
        }
        if matches!(product, Product::Rir | Product::Ris) {
            // No compiuta giacenza abroad: an uncollected letter comes back undelivered.
            return result(
                PostalFate::Failed { discovered: false },
                notice + self.compiuta_giacenza,
            );
        }
        result(
            PostalFate::CompiutaGiacenza { notice },
            notice + self.compiuta_giacenza,
        )
    }
}

/// The carrier's status codes for one product (`consolidatore-v1.yml`).
pub struct ProductCodes {
    pub inesito: &'static str,
    pub giacenza: &'static str,
    pub delivered: [&'static str; 3],
    pub refused: [&'static str; 3],
    pub failed: [&'static str; 3],
    pub collected: [&'static str; 3],
    pub compiuta: [&'static str; 3],
    pub lost: &'static str,
    /// SEND's synthetic "perfected while held" event.
    pub perfected_in_giacenza: &'static str,
}

const AR_CODES: ProductCodes = ProductCodes {
    inesito: "RECRN010",
    giacenza: "RECRN011",
    delivered: ["RECRN001A", "RECRN001B", "RECRN001C"],
    refused: ["RECRN002A", "RECRN002B", "RECRN002C"],
    failed: ["RECRN002D", "RECRN002E", "RECRN002F"],
    collected: ["RECRN003A", "RECRN003B", "RECRN003C"],
    compiuta: ["RECRN005A", "RECRN005B", "RECRN005C"],
    lost: "RECRN006",
    perfected_in_giacenza: "PNRN012",
};

const R890_CODES: ProductCodes = ProductCodes {
    inesito: "RECAG010",
    giacenza: "RECAG011A",
    delivered: ["RECAG001A", "RECAG001B", "RECAG001C"],
    refused: ["RECAG003A", "RECAG003B", "RECAG003C"],
    failed: ["RECAG003D", "RECAG003E", "RECAG003F"],
    collected: ["RECAG005A", "RECAG005B", "RECAG005C"],
    compiuta: ["RECAG008A", "RECAG008B", "RECAG008C"],
    lost: "RECAG004",
    perfected_in_giacenza: "PNAG012",
};

const RIR_CODES: ProductCodes = ProductCodes {
    inesito: "RECRI001",
    giacenza: "RECRI002",
    delivered: ["RECRI003A", "RECRI003B", "RECRI003C"],
    refused: ["RECRI004A", "RECRI004B", "RECRI004C"],
    failed: ["RECRI004A", "RECRI004B", "RECRI004C"],
    collected: ["RECRI003A", "RECRI003B", "RECRI003C"],
    compiuta: ["RECRI004A", "RECRI004B", "RECRI004C"],
    lost: "RECRI005",
    perfected_in_giacenza: "RECRI003C",
};

const RS_CODES: ProductCodes = ProductCodes {
    inesito: "RECRS010",
    giacenza: "RECRS011",
    delivered: ["RECRS001C", "RECRS001C", "RECRS001C"],
    refused: ["RECRS002A", "RECRS002B", "RECRS002C"],
    failed: ["RECRS002D", "RECRS002E", "RECRS002F"],
    collected: ["RECRS003C", "RECRS003C", "RECRS003C"],
    compiuta: ["RECRS005A", "RECRS005B", "RECRS005C"],
    lost: "RECRS006",
    perfected_in_giacenza: "RECRS005C",
};

const RIS_CODES: ProductCodes = ProductCodes {
    inesito: "RECRSI001",
    giacenza: "RECRSI002",
    delivered: ["RECRSI003C", "RECRSI003C", "RECRSI003C"],
    refused: ["RECRSI004A", "RECRSI004B", "RECRSI004C"],
    failed: ["RECRSI004A", "RECRSI004B", "RECRSI004C"],
    collected: ["RECRSI003C", "RECRSI003C", "RECRSI003C"],
    compiuta: ["RECRSI004A", "RECRSI004B", "RECRSI004C"],
    lost: "RECRSI005",
    perfected_in_giacenza: "RECRSI003C",
};

pub fn codes(product: Product) -> &'static ProductCodes {
    match product {
        Product::Ar => &AR_CODES,
        Product::R890 => &R890_CODES,
        Product::Rir => &RIR_CODES,
        Product::Rs => &RS_CODES,
        Product::Ris => &RIS_CODES,
    }
}

/// The failure cause a fate reports (`deliveryFailureCause`).
pub fn failure_cause(fate: PostalFate) -> Option<Code> {
    match fate {
        PostalFate::Refused => Some(&"M05"),
        PostalFate::Deceased => Some(&"M02"),
        PostalFate::Failed { .. } => Some(&"M03"),
        PostalFate::Lost => Some(&"F01"),
        _ => None,
    }
}
