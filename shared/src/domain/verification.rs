//! What a receiver checks before trusting a request, with the reason when it must not: the
//! three Standard Webhooks headers are present, the timestamp is a number within the tolerance
//! of now (which stops replays of old captures), and one `v1` entry of the signature matches
//! the secret over `id.timestamp.body` (which stops forgeries and altered bodies). Used by
//! `hookline verify` and by the published test vectors.

use std::fmt;

use super::secret::SigningSecret;
use super::signing;

/// How far a request's timestamp may be from the receiver's clock: Standard Webhooks' 5 minutes.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// A captured request: its three headers (as sent, if at all) and body.
pub struct Captured<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub body: &'a [u8],
}

/// Why a request is not genuine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    MissingHeader(&'static str),
    TimestampNotANumber,
    TooOld {
        seconds: i64,
    },
    FromTheFuture {
        seconds: i64,
    },
    NoV1Signature,
    /// No `v1` entry matches: the body was altered, or the secret is not the one it was signed
    /// with.
    NoMatch,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHeader(name) => write!(f, "the {name} header is missing"),
            Self::TimestampNotANumber => f.write_str("webhook-timestamp is not a whole number of seconds"),
            Self::TooOld { seconds } => write!(f, "the timestamp is {seconds} s old, past the tolerance: a replay, or a clock far off"),
            Self::FromTheFuture { seconds } => write!(f, "the timestamp is {seconds} s in the future, past the tolerance"),
            Self::NoV1Signature => f.write_str("webhook-signature has no v1 entry"),
            Self::NoMatch => f.write_str("no v1 signature matches: the body was altered, or it was not signed with this secret"),
        }
    }
}

/// The request is genuine: which entry matched (1-based; during a rotation there are two) and
/// how old it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Genuine {
    pub entry: usize,
    pub age_secs: i64,
}

/// Checks `request` against `secret` at `now` (Unix seconds).
pub fn check(secret: &SigningSecret, request: &Captured<'_>, now: i64, tolerance_secs: i64) -> Result<Genuine, Refusal> {
    let id = request.id.ok_or(Refusal::MissingHeader("webhook-id"))?;
    let raw_timestamp = request.timestamp.ok_or(Refusal::MissingHeader("webhook-timestamp"))?;
    let header = request.signature.ok_or(Refusal::MissingHeader("webhook-signature"))?;
    let timestamp: i64 = raw_timestamp.trim().parse().map_err(|_| Refusal::TimestampNotANumber)?;
    let age = now.saturating_sub(timestamp);
    if age > tolerance_secs {
        return Err(Refusal::TooOld { seconds: age });
    }
    if -age > tolerance_secs {
        return Err(Refusal::FromTheFuture { seconds: -age });
    }
    let entries: Vec<&str> = header.split(' ').filter(|entry| entry.starts_with("v1,")).collect();
    if entries.is_empty() {
        return Err(Refusal::NoV1Signature);
    }
    let matched = entries.iter().position(|entry| signing::verify(secret, id, timestamp, request.body, entry));
    matched.map(|at| Genuine { entry: at + 1, age_secs: age }).ok_or(Refusal::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const AT: i64 = 1_649_367_553;

    fn request<'a>(signature: &'a str, body: &'a [u8]) -> Captured<'a> {
        Captured { id: Some("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"), timestamp: Some("1649367553"), signature: Some(signature), body }
    }

    #[test]
    fn the_published_vector_is_genuine_and_each_fault_has_its_reason() {
        let secret = SigningSecret::parse(SECRET).unwrap();
        assert_eq!(check(&secret, &request(SIGNATURE, BODY), AT + 10, 300), Ok(Genuine { entry: 1, age_secs: 10 }));
        assert_eq!(check(&secret, &request(SIGNATURE, b"{}"), AT, 300), Err(Refusal::NoMatch));
        assert_eq!(check(&secret, &request(SIGNATURE, BODY), AT + 301, 300), Err(Refusal::TooOld { seconds: 301 }));
        assert_eq!(check(&secret, &request(SIGNATURE, BODY), AT - 400, 300), Err(Refusal::FromTheFuture { seconds: 400 }));
        assert_eq!(check(&secret, &request("v2,abc", BODY), AT, 300), Err(Refusal::NoV1Signature));
        let rotation = format!("v1,b3RoZXI= {SIGNATURE}");
        assert_eq!(check(&secret, &request(&rotation, BODY), AT, 300), Ok(Genuine { entry: 2, age_secs: 0 }));
        let missing = Captured { id: None, ..request(SIGNATURE, BODY) };
        assert_eq!(check(&secret, &missing, AT, 300), Err(Refusal::MissingHeader("webhook-id")));
        let garbled = Captured { timestamp: Some("soon"), ..request(SIGNATURE, BODY) };
        assert_eq!(check(&secret, &garbled, AT, 300), Err(Refusal::TimestampNotANumber));
    }
}
