//! Integration tests of the simulator: one binary, one module per behaviour.

mod calibrate_cmd;
mod cancellation;
mod capacity;
mod cli;
mod compare;
mod conservation;
mod determinism;
mod prices;
mod project_cmd;
mod refinement;
mod report_html;
mod scenarios;
mod sensitivity;
mod sensitivity_cmd;
mod shards;
mod status;
mod support;
mod sweep;
mod views;
