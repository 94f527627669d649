//! Mock SEND, PEC and postal servers and the load generator (`sendmock`). The mock's
//! notification timelines come from the simulator's model (`sim::Model`).

pub use sim;
