//! Mock SEND, PEC and postal servers and the load generator (`sendmock`). The mock's
//! notification timelines come from the simulator's model (`sim::Model`).

pub mod clock;
pub mod ids;
pub mod problem;
pub mod render;
pub mod request;
pub mod server;
pub mod spec;
pub mod store;

pub use sim;
