//! What kind of failure a request that got no answer met, for the attempt log and the retry
//! decision.

use std::error::Error as StdError;
use std::time::Duration;

use super::resolve::{Blocked, DnsFailure};
use crate::domain::outcome::ErrorKind;
use crate::ports::SendError;

pub(super) fn timed_out(after: Duration) -> SendError {
    SendError { kind: ErrorKind::Timeout, detail: format!("no response within {after:?}") }
}

/// The kind from the error's chain of causes; the detail is the innermost cause's message.
pub(super) fn classify_error(error: &(dyn StdError + 'static)) -> SendError {
    let chain: Vec<&(dyn StdError + 'static)> = std::iter::successors(Some(error), |current| (*current).source()).collect();
    let detail = chain.iter().skip(1).map(ToString::to_string).next_back().unwrap_or_else(|| error.to_string());
    let kind = if chain.iter().any(|e| e.is::<Blocked>()) {
        ErrorKind::Blocked
    } else if chain.iter().any(|e| e.is::<DnsFailure>()) {
        ErrorKind::Dns
    } else if chain.iter().any(|e| io_kind(*e) == Some(std::io::ErrorKind::TimedOut)) {
        ErrorKind::Timeout
    } else if chain.iter().any(|e| is_tls(*e)) {
        ErrorKind::Tls
    } else {
        ErrorKind::Connect
    };
    SendError { kind, detail }
}

fn io_kind(error: &(dyn StdError + 'static)) -> Option<std::io::ErrorKind> {
    error.downcast_ref::<std::io::Error>().map(std::io::Error::kind)
}

/// A rustls error, also when wrapped in `io::Error`s (whose `source` skips what they wrap;
/// the TLS connector wraps rustls' error twice).
fn is_tls(error: &(dyn StdError + 'static)) -> bool {
    let mut current: &(dyn StdError + 'static) = error;
    loop {
        if current.is::<rustls::Error>() {
            return true;
        }
        match current.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
            Some(inner) => current = inner,
            None => return looks_like_tls(&error.to_string()),
        }
    }
}

fn looks_like_tls(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    ["certificate", "tls", "handshake", "invalid peer"].iter().any(|word| lower.contains(word))
}
