//! The targets. Each splits its input in a way a mutator can work with (lines, or a
//! request's head and body) and drives the parser the way the network would.

pub mod api;
pub mod cursor;
pub mod expression;
pub mod lambda;
pub mod schema;
pub mod signature;

/// JSON tokens every JSON-taking target's dictionary shares.
pub const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "null",
    "true",
    "false",
    "0",
    "-0",
    "-1",
    "1e309",
    "-1e309",
    "1.5e-400",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775809",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\\\\\"",
    "\"\"",
    "[[[[[[[[[[[[[[[[",
    "{\"a\":{\"a\":{\"a\":",
    "\u{202e}",
    "\u{feff}",
];

/// The envelope's fields and the catalog's event types, so mutations reach past validation.
pub const ENVELOPE_TOKENS: &[&str] = &[
    "\"event_type\"",
    "\"data\"",
    "\"metadata\"",
    "\"id\"",
    "\"timestamp\"",
    "\"customer.created\"",
    "\"invoice.paid\"",
    "\"network.device.down\"",
    "\"ticket.created\"",
    "\"auth.login\"",
    "\"2026-12-04T10:00:00Z\"",
    "\"2026-13-45T99:00:00+25:00\"",
];

/// Where targets keep files (the API's SQLite database): in memory where the platform has a
/// tmpfs, one folder per process.
pub fn scratch_dir() -> std::path::PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
    let dir = base.join(format!("hookline-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}
