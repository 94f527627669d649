//! What happened to one recipient, in SEND and in the all-paper baseline.

use crate::prices::Product;
use crate::time::Tick;

/// The most letters one recipient can be sent (two attempts with resends, and an RS).
pub const MAX_LETTERS: usize = 8;
/// The most PEC sends (two rounds over three sources).
pub const MAX_PEC_SENDS: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Letter {
    /// Posted (handed to the carrier).
    pub at: Tick,
    pub product: Product,
    pub cents: i64,
    /// Seconds it waited, ready, for the carrier's capacity.
    pub waited: u32,
}

/// How the recipient learned of the act, which shapes whether and how fast they pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awareness {
    AppView,
    WebView,
    Pec,
    Paper,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentOutcome {
    pub at: Tick,
    /// The act's amount after any reduction or surcharge.
    pub amount_cents: i64,
    /// Notification charges paid on top.
    pub charges_cents: i64,
}

/// How a SEND workflow ended (before looking at the horizon).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkflowEnd {
    Refused,
    DigitalSuccess,
    DigitalFailure,
    AnalogSuccess,
    Unreachable,
    Deceased,
    /// Paper was stopped by a view or a payment before it was prepared.
    NoPaperNeeded,
    /// The sender cancelled the notification before this recipient's refinement.
    Cancelled,
}

/// Appends to a fixed-size list with a length (no allocation on the hot path).
fn push_bounded<T: Copy, const N: usize>(items: &mut [T; N], len: &mut u8, item: T) {
    if (*len as usize) < N {
        items[*len as usize] = item;
        *len += 1;
    }
}

/// Keeps the items that `keep` accepts, in order.
fn retain_bounded<T: Copy, const N: usize>(
    items: &mut [T; N],
    len: &mut u8,
    keep: impl Fn(&T) -> bool,
) {
    let mut kept = 0;
    for i in 0..*len as usize {
        if keep(&items[i]) {
            items[kept] = items[i];
            kept += 1;
        }
    }
    *len = kept as u8;
}

/// Final state of a recipient at the horizon: exactly one per recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FinalState {
    Refused,
    Viewed,
    DigitalDelivered,
    DigitalFailure,
    PaperDelivered,
    Unreachable,
    ReturnedToSender,
    SettledByPayment,
    Cancelled,
    InProgress,
}

impl FinalState {
    pub const ALL: [FinalState; 10] = [
        FinalState::Refused,
        FinalState::Viewed,
        FinalState::DigitalDelivered,
        FinalState::DigitalFailure,
        FinalState::PaperDelivered,
        FinalState::Unreachable,
        FinalState::ReturnedToSender,
        FinalState::SettledByPayment,
        FinalState::Cancelled,
        FinalState::InProgress,
    ];
    pub fn name(self) -> &'static str {
        match self {
            FinalState::Refused => "refused",
            FinalState::Viewed => "viewed",
            FinalState::DigitalDelivered => "digital_delivered",
            FinalState::DigitalFailure => "digital_failure",
            FinalState::PaperDelivered => "paper_delivered",
            FinalState::Unreachable => "unreachable",
            FinalState::ReturnedToSender => "returned_to_sender",
            FinalState::SettledByPayment => "settled_by_payment",
            FinalState::Cancelled => "cancelled",
            FinalState::InProgress => "in_progress",
        }
    }
    /// Refined by a view, a PEC delivery, or a postal legal delivery.
    pub fn reached(self) -> bool {
        matches!(
            self,
            FinalState::Viewed | FinalState::DigitalDelivered | FinalState::PaperDelivered
        )
    }
}

/// One recipient's SEND trajectory, summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipientOutcome {
    pub accepted: bool,
    /// Acceptance (or refusal) instant.
    pub decided_at: Tick,
    /// Courtesy messages sent: IO, e-mail, SMS.
    pub courtesy: [Option<Tick>; 3],
    pub pec_sends: [Tick; MAX_PEC_SENDS],
    pub n_pec_sends: u8,
    pub letters: [Letter; MAX_LETTERS],
    pub n_letters: u8,
    pub end: WorkflowEnd,
    /// When the workflow reached its end (returned to sender, unreachable, ...).
    pub ended_at: Tick,
    /// The legal refinement instant the workflow scheduled (before any view).
    pub scheduled_refinement: Option<Tick>,
    pub viewed_at: Option<Tick>,
    /// The refinement instant: the view if earlier than the scheduled one.
    pub refined_at: Option<Tick>,
    pub payment: Option<PaymentOutcome>,
    /// The recipient's notification cost (`totalPrice`) once all letters are counted.
    pub notification_cost_cents: i64,
}

impl RecipientOutcome {
    pub fn refused(at: Tick) -> RecipientOutcome {
        RecipientOutcome {
            accepted: false,
            decided_at: at,
            courtesy: [None; 3],
            pec_sends: [0; MAX_PEC_SENDS],
            n_pec_sends: 0,
            letters: [Letter {
                at: 0,
                product: Product::Ar,
                cents: 0,
                waited: 0,
            }; MAX_LETTERS],
            n_letters: 0,
            end: WorkflowEnd::Refused,
            ended_at: at,
            scheduled_refinement: None,
            viewed_at: None,
            refined_at: None,
            payment: None,
            notification_cost_cents: 0,
        }
    }

    pub fn letters(&self) -> &[Letter] {
        &self.letters[..self.n_letters as usize]
    }

    pub fn pec_sends(&self) -> &[Tick] {
        &self.pec_sends[..self.n_pec_sends as usize]
    }

    pub(crate) fn add_letter(&mut self, letter: Letter) {
        push_bounded(&mut self.letters, &mut self.n_letters, letter);
    }

    pub(crate) fn add_pec_send(&mut self, at: Tick) {
        push_bounded(&mut self.pec_sends, &mut self.n_pec_sends, at);
    }

    /// Cuts the trajectory at a cancellation instant: what had not happened by then
    /// never happens. A recipient already refined stays refined.
    pub fn cancel_at(&mut self, at: Tick) {
        let keep = |t: &Tick| *t < at;
        self.courtesy = self.courtesy.map(|c| c.filter(keep));
        retain_bounded(&mut self.pec_sends, &mut self.n_pec_sends, keep);
        retain_bounded(&mut self.letters, &mut self.n_letters, |l| l.at < at);
        self.viewed_at = self.viewed_at.filter(keep);
        self.payment = self.payment.filter(|p| p.at < at);
        let returned = self.end == WorkflowEnd::Deceased && self.ended_at < at;
        if returned || self.refined_at.is_some_and(|r| r < at) {
            return;
        }
        self.refined_at = None;
        self.scheduled_refinement = None;
        self.end = WorkflowEnd::Cancelled;
        self.ended_at = at;
    }

    /// Paper cost of the letters sent up to and including `at`.
    pub fn analog_cost_until(&self, at: Tick) -> i64 {
        self.letters()
            .iter()
            .filter(|l| l.at <= at)
            .map(|l| l.cents)
            .sum()
    }

    /// The state the recipient is in at the horizon.
    pub fn final_state(&self, horizon: Tick) -> FinalState {
        if !self.accepted {
            return FinalState::Refused;
        }
        if self.end == WorkflowEnd::Cancelled && self.ended_at < horizon {
            return FinalState::Cancelled;
        }
        if let Some(v) = self.viewed_at {
            if v < horizon && self.scheduled_refinement.is_none_or(|s| v <= s) {
                return FinalState::Viewed;
            }
        }
        if let Some(s) = self.scheduled_refinement {
            if s < horizon {
                return match self.end {
                    WorkflowEnd::DigitalSuccess => FinalState::DigitalDelivered,
                    WorkflowEnd::DigitalFailure => FinalState::DigitalFailure,
                    WorkflowEnd::AnalogSuccess => FinalState::PaperDelivered,
                    WorkflowEnd::Unreachable => FinalState::Unreachable,
                    _ => FinalState::InProgress,
                };
            }
        }
        match self.end {
            WorkflowEnd::Deceased if self.ended_at < horizon => FinalState::ReturnedToSender,
            WorkflowEnd::NoPaperNeeded
                if self.payment.is_some_and(|p| p.at < horizon) && self.viewed_at.is_none() =>
            {
                FinalState::SettledByPayment
            }
            _ => FinalState::InProgress,
        }
    }
}

/// The same recipient served by the all-paper process.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineOutcome {
    pub letters: [Letter; MAX_LETTERS],
    pub n_letters: u8,
    /// Legal notification instant (delivery, pickup, or the deposit term's end).
    pub notified_at: Option<Tick>,
    pub returned_at: Option<Tick>,
    pub unreachable_at: Option<Tick>,
    pub cancelled_at: Option<Tick>,
    pub payment: Option<PaymentOutcome>,
}

impl BaselineOutcome {
    pub fn letters(&self) -> &[Letter] {
        &self.letters[..self.n_letters as usize]
    }
    pub(crate) fn add_letter(&mut self, letter: Letter) {
        push_bounded(&mut self.letters, &mut self.n_letters, letter);
    }
    /// The same cancellation as in SEND: the body withdraws the act at `at`.
    pub fn cancel_at(&mut self, at: Tick) {
        retain_bounded(&mut self.letters, &mut self.n_letters, |l| l.at < at);
        self.payment = self.payment.filter(|p| p.at < at);
        let before = |t: Option<Tick>| t.filter(|t| *t < at);
        self.returned_at = before(self.returned_at);
        self.unreachable_at = before(self.unreachable_at);
        if self.notified_at.is_some_and(|t| t < at)
            || self.returned_at.is_some()
            || self.unreachable_at.is_some()
        {
            return;
        }
        self.notified_at = None;
        self.cancelled_at = Some(at);
    }

    /// Final state at the horizon, in the same terms as SEND's.
    pub fn final_state(&self, horizon: Tick) -> FinalState {
        if self.cancelled_at.is_some_and(|t| t < horizon) {
            FinalState::Cancelled
        } else if self.notified_at.is_some_and(|t| t < horizon) {
            FinalState::PaperDelivered
        } else if self.returned_at.is_some_and(|t| t < horizon) {
            FinalState::ReturnedToSender
        } else if self.unreachable_at.is_some_and(|t| t < horizon) {
            FinalState::Unreachable
        } else {
            FinalState::InProgress
        }
    }
}
