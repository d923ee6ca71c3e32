//! Hookline's core: the webhook domain, the ports it needs, the use cases over them,
//! the management HTTP API and the adapters that make it run on one machine.
//!
//! Dependency direction: `domain` ← `ports` ← `service` ← (`api`, `adapters`, `worker`).

pub mod adapters;
pub mod api;
/// The composition root, over whichever backends the crate is built with.
#[cfg(any(feature = "sqlite", feature = "aws"))]
pub mod backend;
pub mod config;
pub mod domain;
pub mod ports;
pub mod service;
#[cfg(feature = "cli")]
pub mod tuning;

/// Hookline's version, sent in the `user-agent` of every delivery.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
