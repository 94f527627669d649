//! Mock SEND, PEC and postal servers and the load generator (`sendmock`). The mock's
//! notification timelines come from the simulator's model (`sim::Model`).
//!
//! Unlike the model, the mock and the load generator are real-time programs: they read
//! the wall clock (`sim/clippy.toml` bans it only in the model).

pub mod channels;
pub mod clock;
pub mod conformance;
pub mod faults;
pub mod gateway;
pub mod ids;
pub mod json_out;
pub mod load;
pub mod metrics;
pub mod problem;
pub mod query;
pub mod render;
pub mod request;
pub mod request_keys;
pub mod request_text;
pub mod server;
pub mod spec;
pub mod state;
pub mod store;
pub mod stream_api;
pub mod streams;
pub mod versions;

pub use sim;

/// A hash map for what every request looks up (paths, query parameters, request ids,
/// IUNs), hashed with foldhash: std's SipHash was a tenth of a request status's
/// instructions. Seeded at random for each map, as std's are.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
