//! MediChain video consultations: the library every Lambda function and the local server link.
//!
//! Dependencies point one way: [`domain`] (pure rules, no I/O) ← [`ports`] (traits in domain
//! words) ← [`adapters`] (SQLite, AWS) and [`api`] (request → use case → response).

pub mod adapters;
pub mod api;
#[cfg(all(feature = "aws", feature = "lambda"))]
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod domain;
pub mod jitsi;
pub mod ports;
pub mod side_effects;
