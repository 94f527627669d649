//! The notification status and its history, derived from the timeline as
//! pn-delivery-push does (`StateMap`, `StatusUtils`; `domain.md` §3.3).

use serde::Serialize;

use super::timeline::{Category, TimelineElement};
use crate::time::Tick;

/// `NotificationStatusV26`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationStatus {
    InValidation,
    Accepted,
    Refused,
    Delivering,
    Delivered,
    Viewed,
    EffectiveDate,
    Unreachable,
    Cancelled,
    ReturnedToSender,
}

impl NotificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::InValidation => "IN_VALIDATION",
            NotificationStatus::Accepted => "ACCEPTED",
            NotificationStatus::Refused => "REFUSED",
            NotificationStatus::Delivering => "DELIVERING",
            NotificationStatus::Delivered => "DELIVERED",
            NotificationStatus::Viewed => "VIEWED",
            NotificationStatus::EffectiveDate => "EFFECTIVE_DATE",
            NotificationStatus::Unreachable => "UNREACHABLE",
            NotificationStatus::Cancelled => "CANCELLED",
            NotificationStatus::ReturnedToSender => "RETURNED_TO_SENDER",
        }
    }
}

/// One entry of `notificationStatusHistory`: the status, since when, and the indices
/// (into the timeline) of the elements that caused it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusChange {
    pub status: NotificationStatus,
    pub active_from: Tick,
    pub related: Vec<usize>,
}

/// How a recipient's workflow completed, for the multi-recipient rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Completion {
    // Priority order of `StatusUtils`: digital delivery first.
    Digital,
    Analog,
    Unreachable,
    Deceased,
}

/// The status history of a notification with `recipients` recipients, from its
/// timeline sorted by time, considering only elements before `until`.
pub fn status_history(
    sent_at: Tick,
    recipients: usize,
    timeline: &[TimelineElement],
    until: Tick,
) -> Vec<StatusChange> {
    use NotificationStatus as S;
    let mut history = vec![StatusChange {
        status: S::InValidation,
        active_from: sent_at,
        related: Vec::new(),
    }];
    let mut completed: Vec<Option<Completion>> = vec![None; recipients.max(1)];
    let mut status = S::InValidation;
    for (i, e) in timeline.iter().enumerate() {
        if e.at >= until {
            break;
        }
        let rec = e.details.rec_index.map(|r| r as usize);
        let completion = match e.category {
            Category::DigitalDeliveryCreationRequest => Some(Completion::Digital),
            Category::AnalogSuccessWorkflow => Some(Completion::Analog),
            Category::CompletelyUnreachable => Some(Completion::Unreachable),
            Category::AnalogWorkflowRecipientDeceased => Some(Completion::Deceased),
            _ => None,
        };
        if let (Some(c), Some(r)) = (completion, rec) {
            if r < completed.len() && completed[r].is_none() {
                completed[r] = Some(c);
            }
        }
        let all_done = completed.iter().all(Option::is_some);
        let best = completed.iter().flatten().min().copied();
        let next = match (status, e.category) {
            (S::Refused | S::Cancelled, _) => None,
            (S::Viewed | S::ReturnedToSender, Category::NotificationCancelled) => {
                Some(S::Cancelled)
            }
            (S::Viewed | S::ReturnedToSender, _) => None,
            (S::InValidation, Category::RequestAccepted) => Some(S::Accepted),
            (S::InValidation, Category::RequestRefused) => Some(S::Refused),
            (_, Category::NotificationCancelled) => Some(S::Cancelled),
            (_, Category::NotificationViewed) => Some(S::Viewed),
            (S::Accepted, Category::SendDigitalDomicile | Category::SendAnalogDomicile) => {
                Some(S::Delivering)
            }
            (S::Accepted | S::Delivering, _) if completion.is_some() && all_done => match best {
                Some(Completion::Digital | Completion::Analog) => Some(S::Delivered),
                Some(Completion::Unreachable) => Some(S::Unreachable),
                Some(Completion::Deceased) => Some(S::ReturnedToSender),
                None => None,
            },
            (S::Delivered | S::Unreachable, Category::Refinement) => Some(S::EffectiveDate),
            _ => None,
        };
        match next {
            Some(n) if n != status => {
                status = n;
                history.push(StatusChange {
                    status: n,
                    active_from: e.at,
                    related: vec![i],
                });
            }
            _ => {
                if let Some(last) = history.last_mut() {
                    if next == Some(status) {
                        last.related.push(i);
                    }
                }
            }
        }
    }
    history
}
