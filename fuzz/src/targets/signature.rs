//! What a receiver (and `hookline verify`) checks: an input is a secret, the three Standard
//! Webhooks headers and the body, one per line (the body is the rest). Besides never
//! panicking: a request Hookline signed verifies, and a request that verifies carries the
//! exact signature Hookline would have made (no second encoding of the same MAC is accepted).

use hookline_core::domain::secret::SigningSecret;
use hookline_core::domain::signing::sign;
use hookline_core::domain::verification::{Captured, check};

pub const DICTIONARY: &[&str] = &[
    "whsec_",
    "v1,",
    "v1a,",
    " v1,",
    "msg_",
    "1780000000",
    "-1",
    "9223372036854775807",
    "=",
    "==",
    "+",
    "/",
    "\n",
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
];

/// The receiver's clock, fixed so inputs replay the same way.
const NOW: i64 = 1_780_000_000;
const TOLERANCE_SECS: i64 = 300;

pub fn run(data: &[u8]) {
    let mut lines = data.splitn(5, |byte| *byte == b'\n');
    let mut line = || lines.next().map(|bytes| String::from_utf8_lossy(bytes).into_owned());
    let (secret, id, timestamp, signature) = (line(), line(), line(), line());
    let body = lines.next().unwrap_or_default();
    let secret = SigningSecret::parse(secret.as_deref().unwrap_or_default())
        .unwrap_or_else(|_| SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_or_else(|_| SigningSecret::generate()));
    let captured = Captured { id: id.as_deref(), timestamp: timestamp.as_deref(), signature: signature.as_deref(), body };
    if check(&secret, &captured, NOW, TOLERANCE_SECS).is_ok() {
        let entries: Vec<&str> = signature.as_deref().unwrap_or_default().split(' ').collect();
        let timestamp = timestamp.as_deref().unwrap_or_default().trim().parse::<i64>().unwrap_or(NOW);
        let exact = sign(&secret, id.as_deref().unwrap_or_default(), timestamp, body);
        assert!(entries.contains(&exact.as_str()), "accepted a signature Hookline never makes");
    }
    let id = id.unwrap_or_default();
    let own = sign(&secret, &id, NOW, body);
    let timestamp = NOW.to_string();
    let signed = Captured { id: Some(&id), timestamp: Some(&timestamp), signature: Some(&own), body };
    assert!(check(&secret, &signed, NOW, TOLERANCE_SECS).is_ok(), "a request Hookline signed did not verify");
}
