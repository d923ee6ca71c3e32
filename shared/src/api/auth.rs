//! Who is calling: bearer tokens with a role for the management routes, API keys for
//! publishing. Extractors run before the handler, so a handler only runs for an allowed caller.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};

use super::ApiError;
use super::rate_limit::RateLimiter;
use crate::domain::access::{Principal, Role};
use crate::domain::api_key::ApiKey;
use crate::domain::audit::Actor;
use crate::domain::rate_limit::Rate;
use crate::ports::Authenticator;
use crate::service::Hookline;

/// The router's state: the services and the authenticator of bearer tokens.
#[derive(Clone)]
pub struct AppState {
    pub hookline: Hookline,
    pub tokens: Arc<dyn Authenticator>,
    /// Per token subject, on management routes.
    pub management_limit: Arc<RateLimiter>,
    /// Per API key, on publishing routes.
    pub publish_limit: Arc<RateLimiter>,
}

impl AppState {
    pub fn new(hookline: Hookline, tokens: Arc<dyn Authenticator>, limits: &RateLimits) -> Self {
        Self {
            hookline,
            tokens,
            management_limit: Arc::new(RateLimiter::new(limits.management)),
            publish_limit: Arc::new(RateLimiter::new(limits.publish)),
        }
    }
}

/// Requests per second and burst, per caller.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    pub management: Rate,
    pub publish: Rate,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { management: Rate { per_second: 50.0, burst: 100.0 }, publish: Rate { per_second: 10_000.0, burst: 20_000.0 } }
    }
}

fn limit(limiter: &RateLimiter, caller: &str) -> Result<(), ApiError> {
    limiter.check(caller).map_err(ApiError::rate_limited)
}

impl FromRef<AppState> for Hookline {
    fn from_ref(state: &AppState) -> Self {
        state.hookline.clone()
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Where the request came from: the first `X-Forwarded-For` hop (set by API Gateway or a
/// proxy), else the peer address.
fn source_address(parts: &Parts) -> Option<String> {
    let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()).and_then(|v| v.split(',').next());
    forwarded
        .map(|hop| hop.trim().to_owned())
        .or_else(|| parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip().to_string()))
}

fn authorize(parts: &Parts, state: &AppState, needed: Role) -> Result<Principal, ApiError> {
    let token = bearer(parts).ok_or_else(ApiError::unauthenticated)?;
    let principal = state.tokens.authenticate(token).map_err(|error| {
        tracing::debug!(%error, "bearer token refused");
        ApiError::unauthenticated()
    })?;
    limit(&state.management_limit, &format!("sub:{}", principal.subject))?;
    if principal.has(needed) {
        Ok(principal)
    } else {
        Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("this route needs the {} role", needed.as_str())))
    }
}

macro_rules! caller_with_role {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        pub struct $name {
            pub principal: Principal,
            /// The subject and source address, as the audit trail records them.
            pub actor: Actor,
        }

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
                let principal = authorize(parts, state, $role)?;
                let actor = Actor { subject: principal.subject.clone(), source: source_address(parts) };
                Ok(Self { principal, actor })
            }
        }
    };
}

caller_with_role!(
    /// A caller holding `webhooks:read` (or more).
    Reader,
    Role::Read
);
caller_with_role!(
    /// A caller holding `webhooks:write` (or admin).
    Writer,
    Role::Write
);
caller_with_role!(
    /// A caller holding `webhooks:admin`.
    Admin,
    Role::Admin
);

/// A publisher's API key, from `X-API-Key` or `Authorization: Bearer hk_…`.
pub struct Publisher(pub ApiKey);

impl FromRequestParts<AppState> for Publisher {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let from_header = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim);
        let text = from_header
            .or_else(|| bearer(parts).filter(|token| token.starts_with("hk_")))
            .ok_or_else(ApiError::unauthenticated_publisher)?;
        let key = state.hookline.authenticate_publisher(text).await?;
        limit(&state.publish_limit, &key.id)?;
        Ok(Self(key))
    }
}
