//! Timeline elements as SEND writes them: categories and details of
//! `TimelineElementV28` (names from the B2B bundle), produced by the model for every
//! recipient and consumed by the simulator's tallies and by the mock server.

use serde::Serialize;

use crate::prices::Product;
use crate::time::Tick;

/// `TimelineElementCategoryV28` values the model produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Category {
    SenderAckCreationRequest,
    RequestAccepted,
    RequestRefused,
    AarGeneration,
    SendCourtesyMessage,
    GetAddress,
    PublicRegistryCall,
    PublicRegistryResponse,
    ScheduleDigitalWorkflow,
    SendDigitalDomicile,
    SendDigitalProgress,
    SendDigitalFeedback,
    DigitalDeliveryCreationRequest,
    DigitalSuccessWorkflow,
    DigitalFailureWorkflow,
    PrepareSimpleRegisteredLetter,
    SendSimpleRegisteredLetter,
    SendSimpleRegisteredLetterProgress,
    ProbableSchedulingAnalogDate,
    ScheduleAnalogWorkflow,
    PrepareAnalogDomicile,
    PrepareAnalogDomicileFailure,
    SendAnalogDomicile,
    SendAnalogProgress,
    SendAnalogFeedback,
    AnalogSuccessWorkflow,
    AnalogFailureWorkflow,
    CompletelyUnreachableCreationRequest,
    CompletelyUnreachable,
    AnalogWorkflowRecipientDeceased,
    ScheduleRefinement,
    Refinement,
    NotificationViewedCreationRequest,
    NotificationViewed,
    Payment,
    NotificationCancellationRequest,
    NotificationCancelled,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        use Category::*;
        match self {
            SenderAckCreationRequest => "SENDER_ACK_CREATION_REQUEST",
            RequestAccepted => "REQUEST_ACCEPTED",
            RequestRefused => "REQUEST_REFUSED",
            AarGeneration => "AAR_GENERATION",
            SendCourtesyMessage => "SEND_COURTESY_MESSAGE",
            GetAddress => "GET_ADDRESS",
            PublicRegistryCall => "PUBLIC_REGISTRY_CALL",
            PublicRegistryResponse => "PUBLIC_REGISTRY_RESPONSE",
            ScheduleDigitalWorkflow => "SCHEDULE_DIGITAL_WORKFLOW",
            SendDigitalDomicile => "SEND_DIGITAL_DOMICILE",
            SendDigitalProgress => "SEND_DIGITAL_PROGRESS",
            SendDigitalFeedback => "SEND_DIGITAL_FEEDBACK",
            DigitalDeliveryCreationRequest => "DIGITAL_DELIVERY_CREATION_REQUEST",
            DigitalSuccessWorkflow => "DIGITAL_SUCCESS_WORKFLOW",
            DigitalFailureWorkflow => "DIGITAL_FAILURE_WORKFLOW",
            PrepareSimpleRegisteredLetter => "PREPARE_SIMPLE_REGISTERED_LETTER",
            SendSimpleRegisteredLetter => "SEND_SIMPLE_REGISTERED_LETTER",
            SendSimpleRegisteredLetterProgress => "SEND_SIMPLE_REGISTERED_LETTER_PROGRESS",
            ProbableSchedulingAnalogDate => "PROBABLE_SCHEDULING_ANALOG_DATE",
            ScheduleAnalogWorkflow => "SCHEDULE_ANALOG_WORKFLOW",
            PrepareAnalogDomicile => "PREPARE_ANALOG_DOMICILE",
            PrepareAnalogDomicileFailure => "PREPARE_ANALOG_DOMICILE_FAILURE",
            SendAnalogDomicile => "SEND_ANALOG_DOMICILE",
            SendAnalogProgress => "SEND_ANALOG_PROGRESS",
            SendAnalogFeedback => "SEND_ANALOG_FEEDBACK",
            AnalogSuccessWorkflow => "ANALOG_SUCCESS_WORKFLOW",
            AnalogFailureWorkflow => "ANALOG_FAILURE_WORKFLOW",
            CompletelyUnreachableCreationRequest => "COMPLETELY_UNREACHABLE_CREATION_REQUEST",
            CompletelyUnreachable => "COMPLETELY_UNREACHABLE",
            AnalogWorkflowRecipientDeceased => "ANALOG_WORKFLOW_RECIPIENT_DECEASED",
            ScheduleRefinement => "SCHEDULE_REFINEMENT",
            Refinement => "REFINEMENT",
            NotificationViewedCreationRequest => "NOTIFICATION_VIEWED_CREATION_REQUEST",
            NotificationViewed => "NOTIFICATION_VIEWED",
            Payment => "PAYMENT",
            NotificationCancellationRequest => "NOTIFICATION_CANCELLATION_REQUEST",
            NotificationCancelled => "NOTIFICATION_CANCELLED",
        }
    }
}

/// `LegalFactCategoryV20`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LegalFactCategory {
    SenderAck,
    DigitalDelivery,
    AnalogDelivery,
    RecipientAccess,
    PecReceipt,
    AnalogFailureDelivery,
}

/// `DigitalAddressSource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AddressSource {
    Platform,
    Special,
    General,
}

impl AddressSource {
    pub const ORDER: [AddressSource; 3] = [
        AddressSource::Platform,
        AddressSource::Special,
        AddressSource::General,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            AddressSource::Platform => "PLATFORM",
            AddressSource::Special => "SPECIAL",
            AddressSource::General => "GENERAL",
        }
    }
}

/// Courtesy and legal digital channels (`CourtesyDigitalAddress.type`, `PEC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DigitalChannel {
    Appio,
    Email,
    Sms,
    Pec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ResponseStatus {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "KO")]
    Ko,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EndWorkflowStatus {
    Success,
    Failure,
}

/// A code from the model's static tables (a delivery detail code, a failure cause, a
/// refusal reason), held as a reference to the table's entry: one word, where a `&str`
/// takes two. The mock keeps every element of every notification it holds, so each byte
/// of an element counts some hundred thousand times over.
pub type Code = &'static &'static str;

/// The details the model fills in; the mock maps them onto the detail schemas. Attempts,
/// retries and letters are bytes for the same reason: the workflow bounds them to a few.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rec_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digital_address_source: Option<AddressSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_available: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<DigitalChannel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_attempt_made: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_number: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_type: Option<Product>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analog_cost: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_pages: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envelope_weight: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_detail_code: Option<Code>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_failure_cause: Option<Code>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_status: Option<ResponseStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_workflow_status: Option<EndWorkflowStatus>,
    /// An instant the element announces (schedulingDate, schedulingAnalogDate, a
    /// refinement's legal instant, a feedback's business date).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<Tick>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_cost: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal_reason: Option<Code>,
    /// Which letter of the recipient (0-based), so that progress can be tied to its send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub letter: Option<u8>,
}

/// One timeline element at an instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineElement {
    pub at: Tick,
    pub category: Category,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_fact: Option<LegalFactCategory>,
    pub details: Details,
}

/// Receives the elements the model produces. The simulator passes `()`, which drops
/// them at no cost; the mock collects them in a `Vec`.
pub trait TimelineSink {
    fn push(&mut self, element: TimelineElement);
}

impl TimelineSink for () {
    #[inline(always)]
    fn push(&mut self, _element: TimelineElement) {}
}

/// Passes on only the elements before `until`: after a cancellation nothing more happens.
pub struct Until<'a, S: TimelineSink> {
    pub inner: &'a mut S,
    pub until: Tick,
}

impl<S: TimelineSink> TimelineSink for Until<'_, S> {
    #[inline(always)]
    fn push(&mut self, element: TimelineElement) {
        if element.at < self.until {
            self.inner.push(element);
        }
    }
}

impl TimelineSink for Vec<TimelineElement> {
    fn push(&mut self, element: TimelineElement) {
        Vec::push(self, element);
    }
}
