//! `hookline`: the whole service as one local process over SQLite.

pub mod allocator;
pub mod bench;
pub mod check_receiver;
pub mod cli;
pub mod key_files;
pub mod prometheus;
pub mod server;
pub mod token;
pub mod verify;
pub mod worker;
