#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod alloc;
pub mod baseline;
pub mod cli;
pub mod config;
pub mod heap_profile;
pub mod limits;
pub mod matrix;
pub mod measurement;
pub mod probe;
pub mod progress;
pub mod provenance;
pub mod report;
pub mod run;
pub mod sample;
pub mod spawn_time;
pub mod suite;
pub mod summary;
pub mod sweep;
pub mod timing;
pub mod workload;
