//! Integration tests of the mock SEND server over real HTTP on port 0.

mod channels;
mod conformance;
mod faults;
mod flow;
mod gateway;
mod load;
mod metrics;
mod state;
mod streams;
mod support;
mod validation;
