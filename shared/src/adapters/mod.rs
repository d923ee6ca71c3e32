//! Adapters: the ports implemented over real things (SQLite, reqwest, DNS, the system clock).

#[cfg(feature = "aws")]
pub mod aws;
pub mod cipher;
pub mod clock;
pub mod http_sender;
pub mod jwks;
pub mod jwt;
pub mod key_check;
pub mod rate_gate;
pub mod resolver;
#[cfg(any(feature = "aws", feature = "sqlite"))]
pub mod shaping;
#[cfg(feature = "sqlite")]
pub mod sqlite;
