//! Hookline's integration tests, one binary: a real server on a random port, a real SQLite
//! file and real HTTP receivers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_errors;
mod audit;
mod auth;
mod check_receiver;
mod conformance;
mod content_filters;
mod dashboard;
mod dead_letters;
mod delivery;
mod disk_full;
mod endpoint_health;
mod functions;
mod history;
mod interop;
mod lifecycle;
mod log_leaks;
mod network_policy;
mod openapi;
mod overload;
mod process;
mod prometheus;
mod python_client;
mod receiving;
mod replay;
mod schemas;
mod secrets_at_rest;
mod server_process;
mod signature_profiles;
mod sqlite_wal;
mod tidy;
mod vectors;
