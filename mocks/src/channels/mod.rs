//! The providers' side of SEND: the External Channel API (legal PEC messages, courtesy
//! e-mail and SMS, paper engagements) with outcomes from the same model as the mock's
//! notifications, or forced by the address string.

pub mod api;
pub mod outcomes;
pub mod sequence;
