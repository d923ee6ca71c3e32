//! `hookline`: the whole service as one local process over SQLite.

pub mod auth_key;
pub mod bench;
pub mod cli;
pub mod server;
