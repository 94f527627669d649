//! sendsim: a model of Italy's SEND notification platform and a simulator built on it.
//!
//! `scenario` reads the parameters, `model` turns one notification into timed
//! trajectories (shared with the mock server), `tally` aggregates them, `run` drives
//! replications in parallel, `report` and `plots` write the outputs.

pub mod calibrate;
pub mod calibrate_plots;
pub mod capacity;
pub mod compare;
pub mod dist;
pub mod model;
pub mod prices;
pub mod project;
pub mod provenance;
pub mod rng;
pub mod scenario;
pub mod time;

pub use model::Model;
pub use scenario::Scenario;
pub mod compare_plots;
pub mod html_report;
pub mod ordered;
pub mod plots;
pub mod report;
pub mod run;
pub mod sensitivity;
pub mod sensitivity_plots;
pub mod shard;
pub mod stats;
pub mod sweep;
pub mod sweep_plots;
pub mod tally;
