//! Bearer-token verification (and, for local mode, minting). Signature, `exp`, `nbf`, `iss`
//! and `aud` are checked here, in the application, whatever sits in front of it. Only the
//! configured algorithm is accepted, so `alg: none` and algorithm confusion (an HS256 token
//! signed with an RSA public key) are refused.

use std::sync::RwLock;
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode};
use serde_json::{Map, Value, json};

use crate::domain::access::{Principal, Role, roles_from_claim};
use crate::ports::{Authenticator, Refused};

/// Where verification keys come from.
#[derive(Clone)]
pub enum JwtKeys {
    /// A shared secret (local mode): HS256.
    Hs256(Vec<u8>),
    /// An identity provider's public keys: RS256 or ES256, chosen by each key's type.
    Jwks(JwkSet),
}

#[derive(Clone)]
pub struct JwtSettings {
    pub issuer: String,
    pub audience: String,
    pub keys: JwtKeys,
    /// The claim holding roles (a list, or a space-separated string); `scope` is read too.
    pub roles_claim: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
}

/// Why a token was refused. Logged at debug level only; callers are told 401 and nothing more.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no matching key")]
    UnknownKey,
    #[error("the token has no subject")]
    NoSubject,
    #[error(transparent)]
    Invalid(#[from] jsonwebtoken::errors::Error),
}

pub struct TokenVerifier {
    settings: JwtSettings,
    /// The verification keys; a JWKS fetched from a URL is swapped in by its refresher.
    keys: RwLock<JwtKeys>,
}

impl TokenVerifier {
    pub fn new(settings: JwtSettings) -> Self {
        let keys = RwLock::new(settings.keys.clone());
        Self { settings, keys }
    }

    /// Replaces the keys (a refreshed JWKS); tokens are checked against the new set at once.
    pub fn replace_keys(&self, keys: JwtKeys) {
        if let Ok(mut current) = self.keys.write() {
            *current = keys;
        }
    }

    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let (key, algorithm) = self.key_for(token)?;
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.validate_nbf = true;
        validation.leeway = self.settings.leeway.as_secs();
        validation.required_spec_claims = ["exp", "iss", "aud", "sub"].map(String::from).into();
        let claims = decode::<Map<String, Value>>(token, &key, &validation)?.claims;
        let subject = claims.get("sub").and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or(TokenError::NoSubject)?;
        let mut roles = roles_from_claim(claims.get(&self.settings.roles_claim));
        roles.extend(roles_from_claim(claims.get("scope")));
        Ok(Principal { subject: subject.to_owned(), roles })
    }

    fn key_for(&self, token: &str) -> Result<(DecodingKey, Algorithm), TokenError> {
        let keys = self.keys.read().map_err(|_| TokenError::UnknownKey)?;
        match &*keys {
            JwtKeys::Hs256(secret) => Ok((DecodingKey::from_secret(secret)?, Algorithm::HS256)),
            JwtKeys::Jwks(set) => {
                let kid = decode_header(token)?.kid;
                let jwk = match kid {
                    Some(kid) => set.find(&kid),
                    None if set.keys.len() == 1 => set.keys.first(),
                    None => None,
                }
                .ok_or(TokenError::UnknownKey)?;
                let algorithm = match jwk.algorithm {
                    AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                    _ => return Err(TokenError::UnknownKey),
                };
                Ok((DecodingKey::from_jwk(jwk)?, algorithm))
            }
        }
    }
}

impl Authenticator for TokenVerifier {
    fn authenticate(&self, token: &str) -> Result<Principal, Refused> {
        self.verify(token).map_err(|error| Refused(error.to_string()))
    }
}

/// Signs an HS256 token for local mode (`hookline token`).
pub fn mint_hs256(secret: &[u8], settings: &JwtSettings, subject: &str, roles: &[Role], ttl: Duration) -> Result<String, TokenError> {
    let now = chrono::Utc::now().timestamp();
    let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
    let roles: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
    let claims = json!({
        "iss": settings.issuer, "aud": settings.audience, "sub": subject,
        "iat": now, "nbf": now, "exp": now.saturating_add(ttl), settings.roles_claim.clone(): roles,
    });
    Ok(encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret)?)?)
}
