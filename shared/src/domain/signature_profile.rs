//! How a webhook's requests are signed: Standard Webhooks (the default), or the scheme of a
//! sender its receiver was written for, so a receiver migrated from GitHub or Stripe keeps the
//! verification code it has. Every profile signs with every secret a delivery is signed with
//! (the current one and a rotation's retired ones in their grace period).
//!
//! - `standard-webhooks`: `webhook-signature: v1,<base64 HMAC of "id.timestamp.body">` entries.
//! - `github`: `x-hub-signature-256: sha256=<hex HMAC of the body>`, one header per secret, and
//!   `x-hookline-delivery: <event id>` (GitHub's `X-GitHub-Delivery`).
//! - `stripe`: `<prefix>-signature: t=<timestamp>,v1=<hex HMAC of "timestamp.body">`, one `v1`
//!   entry per secret; the prefix is `Stripe` unless the webhook names another.
//!
//! GitHub's and Stripe's verifiers take the secret as text and use its UTF-8 bytes as the key,
//! so in those profiles a generated secret is text (`SigningSecret::generate_text`).

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::Invalid;
use super::secret::SigningSecret;
use super::signing;

const DEFAULT_STRIPE_PREFIX: &str = "Stripe";
const GITHUB_SIGNATURE: &str = "x-hub-signature-256";
const GITHUB_DELIVERY: &str = "x-hookline-delivery";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "profile", rename_all = "kebab-case")]
pub enum SignatureProfile {
    #[default]
    StandardWebhooks,
    Github,
    Stripe {
        /// The signature header is `<header_prefix>-Signature`.
        header_prefix: String,
    },
}

/// `signature` in a webhook request: a profile's name, or `{"profile", "header_prefix"?}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum SignatureRequest {
    Name(String),
    Profile { profile: String, header_prefix: Option<String> },
}

impl SignatureRequest {
    pub fn parse(self) -> Result<SignatureProfile, Invalid> {
        let (profile, prefix) = match self {
            Self::Name(name) => (name, None),
            Self::Profile { profile, header_prefix } => (profile, header_prefix),
        };
        match (profile.as_str(), prefix) {
            ("standard-webhooks", None) => Ok(SignatureProfile::StandardWebhooks),
            ("github", None) => Ok(SignatureProfile::Github),
            ("stripe", prefix) => {
                let header_prefix = prefix.unwrap_or_else(|| DEFAULT_STRIPE_PREFIX.to_owned());
                let token = (1..=32).contains(&header_prefix.len())
                    && header_prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !header_prefix.starts_with('-');
                if !token {
                    return Err(Invalid::new("signature.header_prefix", "must be 1 to 32 letters, digits and '-'"));
                }
                Ok(SignatureProfile::Stripe { header_prefix })
            }
            ("standard-webhooks" | "github", Some(_)) => {
                Err(Invalid::new("signature.header_prefix", "only the stripe profile takes a header prefix"))
            }
            (other, _) => Err(Invalid::new(
                "signature.profile",
                format!("unknown signature profile '{other}' (known: standard-webhooks, github, stripe)"),
            )),
        }
    }
}

impl SignatureProfile {
    /// A new secret for a webhook of this profile: text where the receiver's verifier takes text.
    pub fn generate_secret(&self) -> SigningSecret {
        match self {
            Self::StandardWebhooks => SigningSecret::generate(),
            Self::Github | Self::Stripe { .. } => SigningSecret::generate_text(),
        }
    }

    /// Whether the receiver's verifier is given the secret as text (its UTF-8 bytes the key).
    pub fn takes_text_secrets(&self) -> bool {
        !matches!(self, Self::StandardWebhooks)
    }

    /// The (lowercase) names of the headers `headers` sets, which a webhook's own may not reuse.
    pub fn header_names(&self) -> Vec<String> {
        match self {
            Self::StandardWebhooks => vec!["webhook-signature".to_owned()],
            Self::Github => vec![GITHUB_SIGNATURE.to_owned(), GITHUB_DELIVERY.to_owned()],
            Self::Stripe { header_prefix } => vec![stripe_header(header_prefix)],
        }
    }

    /// The signature headers of a request with `body`, `webhook-id` `id`, sent at `timestamp`,
    /// signed with each of `secrets` (the current one first).
    pub fn headers(&self, secrets: &[&SigningSecret], id: &str, timestamp: i64, body: &[u8]) -> Vec<(String, String)> {
        match self {
            Self::StandardWebhooks => {
                let entries: Vec<String> = secrets.iter().map(|secret| signing::sign(secret, id, timestamp, body)).collect();
                vec![("webhook-signature".to_owned(), entries.join(" "))]
            }
            Self::Github => {
                let mut headers: Vec<(String, String)> =
                    secrets.iter().map(|secret| (GITHUB_SIGNATURE.to_owned(), format!("sha256={}", hex_hmac(secret, &[body])))).collect();
                headers.push((GITHUB_DELIVERY.to_owned(), id.to_owned()));
                headers
            }
            Self::Stripe { header_prefix } => {
                let stamp = timestamp.to_string();
                let mut value = format!("t={stamp}");
                for secret in secrets {
                    value.push_str(",v1=");
                    value.push_str(&hex_hmac(secret, &[stamp.as_bytes(), b".", body]));
                }
                vec![(stripe_header(header_prefix), value)]
            }
        }
    }
}

fn stripe_header(prefix: &str) -> String {
    format!("{}-signature", prefix.to_ascii_lowercase())
}

/// Lowercase hex of HMAC-SHA256 with the secret's key over `parts`, in order.
fn hex_hmac(secret: &SigningSecret, parts: &[&[u8]]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.key()).unwrap_or_else(|_| unreachable!());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: serde_json::Value) -> Result<SignatureProfile, Invalid> {
        serde_json::from_value::<SignatureRequest>(value).unwrap().parse()
    }

    #[test]
    fn profiles_are_named_or_described_and_bad_ones_are_named() {
        assert_eq!(parse(serde_json::json!("github")).unwrap(), SignatureProfile::Github);
        assert_eq!(parse(serde_json::json!("stripe")).unwrap(), SignatureProfile::Stripe { header_prefix: "Stripe".into() });
        let acme = parse(serde_json::json!({"profile": "stripe", "header_prefix": "Acme"})).unwrap();
        assert_eq!(acme, SignatureProfile::Stripe { header_prefix: "Acme".into() });
        assert_eq!(parse(serde_json::json!("svix")).unwrap_err().field, "signature.profile");
        assert_eq!(parse(serde_json::json!({"profile": "stripe", "header_prefix": "a b"})).unwrap_err().field, "signature.header_prefix");
        assert_eq!(parse(serde_json::json!({"profile": "github", "header_prefix": "X"})).unwrap_err().field, "signature.header_prefix");
    }

    /// GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
    #[test]
    fn the_github_profile_signs_githubs_documented_example() {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode("It's a Secret to Everybody");
        let spaced = SigningSecret::parse(&format!("whsec_{encoded}")).unwrap();
        let secret = SigningSecret::generate_text();
        let headers = SignatureProfile::Github.headers(&[&spaced], "evt_1", 0, b"Hello, World!");
        assert_eq!(headers[0].1, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
        assert_eq!(headers[1], ("x-hookline-delivery".to_owned(), "evt_1".to_owned()));
        let rotated = SignatureProfile::Github.headers(&[&secret, &spaced], "evt_1", 0, b"Hello, World!");
        assert_eq!(rotated.iter().filter(|(name, _)| name == "x-hub-signature-256").count(), 2, "one header per secret");
    }

    #[test]
    fn the_stripe_profile_signs_timestamp_dot_body_with_one_v1_entry_per_secret() {
        let (current, retired) = (SigningSecret::generate_text(), SigningSecret::generate_text());
        let profile = SignatureProfile::Stripe { header_prefix: "Stripe".into() };
        let headers = profile.headers(&[&current, &retired], "evt_1", 1_700_000_000, b"{}");
        let (name, value) = &headers[0];
        assert_eq!(name, "stripe-signature");
        let expected =
            format!("t=1700000000,v1={},v1={}", hex_hmac(&current, &[b"1700000000.{}"]), hex_hmac(&retired, &[b"1700000000.{}"]));
        assert_eq!(value, &expected);
    }

    #[test]
    fn only_standard_webhooks_keeps_random_byte_keys() {
        assert!(SignatureProfile::StandardWebhooks.generate_secret().as_text().is_none());
        let text = SignatureProfile::Github.generate_secret();
        assert_eq!(text.as_text().map(str::len), Some(43));
    }
}
