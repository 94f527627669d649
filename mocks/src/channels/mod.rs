//! The providers' side of SEND: the External Channel API (legal PEC messages, courtesy
//! e-mail and SMS, paper engagements) and the consolidator API (engagements, progress
//! pull, events pushed to SEND's ingress), with outcomes from the same model as the mock's
//! notifications, or forced by the address string.

pub mod api;
pub mod consolidator;
pub mod outcomes;
pub mod relay;
pub mod sequence;
