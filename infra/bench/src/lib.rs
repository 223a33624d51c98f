//! The pieces of MediChain's performance benchmark (`infra/bench/run.sh` runs the
//! `medichain-bench` binary built from them): a fake Lambda Runtime API, process measurements,
//! a loopback load generator, the AWS call count of an appointment's life against moto, and the
//! cost model. Benchmarks are not tests: the quick mode in CI only checks that this still runs.

pub mod binary_markers;
pub mod cost;
pub mod events;
pub mod lifecycle;
pub mod load;
pub mod moto;
pub mod process;
pub mod report;
pub mod runtime_api;
pub mod seed;
pub mod sms;
pub mod stats;
