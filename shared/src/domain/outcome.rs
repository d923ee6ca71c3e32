//! What one attempt's result means: success, endpoint gone, or try again.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why an attempt failed before or instead of an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Timeout,
    Connect,
    Dns,
    Tls,
    /// The address was refused by the network policy (SSRF guard).
    Blocked,
    /// The endpoint answered with a status other than 2xx.
    HttpStatus,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Dns => "dns",
            Self::Tls => "tls",
            Self::Blocked => "blocked",
            Self::HttpStatus => "http_status",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Timeout, Self::Connect, Self::Dns, Self::Tls, Self::Blocked, Self::HttpStatus].into_iter().find(|kind| kind.as_str() == raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx.
    Delivered,
    /// 410: the endpoint asks to be disabled.
    Gone,
    /// Anything else; `retry_after` when a 429 or 503 carried one.
    Retry { retry_after: Option<Duration> },
}

/// Classifies an HTTP status (Standard Webhooks semantics: 3xx is a failure, 410 disables).
pub fn classify(status: u16, retry_after: Option<Duration>) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        410 => Outcome::Gone,
        429 | 503 => Outcome::Retry { retry_after },
        _ => Outcome::Retry { retry_after: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_the_standard_says() {
        let wait = Some(Duration::from_secs(5));
        assert_eq!(classify(200, None), Outcome::Delivered);
        assert_eq!(classify(204, None), Outcome::Delivered);
        assert_eq!(classify(301, None), Outcome::Retry { retry_after: None });
        assert_eq!(classify(410, None), Outcome::Gone);
        assert_eq!(classify(429, wait), Outcome::Retry { retry_after: wait });
        assert_eq!(classify(503, wait), Outcome::Retry { retry_after: wait });
        assert_eq!(classify(500, wait), Outcome::Retry { retry_after: None });
        assert_eq!(classify(404, None), Outcome::Retry { retry_after: None });
    }

    #[test]
    fn error_kinds_round_trip_through_their_names() {
        for name in ["timeout", "connect", "dns", "tls", "blocked", "http_status"] {
            assert_eq!(ErrorKind::parse(name).unwrap().as_str(), name);
        }
    }
}
