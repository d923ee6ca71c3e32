//! Every error leaves the API as `{"code", "detail"}` (plus `field` for validation) with
//! the right status. Unexpected errors are logged with their cause and answered with an
//! opaque 500 that echoes nothing.

use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::ports::StoreError;
use crate::service::ServiceError;

/// How long an overloaded server asks publishers to wait: long enough for the workers to drain
/// thousands of tasks, short enough that nobody waits long once it has.
const OVERLOADED_RETRY_AFTER: Duration = Duration::from_secs(5);

/// How long a publisher waits when the storage failed (a full disk, a throttled table): about
/// what an operator or DynamoDB's capacity needs to catch up, and nothing was accepted.
const STORAGE_RETRY_AFTER: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    field: Option<String>,
    /// Sent as `Retry-After` (whole seconds, rounded up).
    retry_after: Option<Duration>,
    /// Sent as `WWW-Authenticate` on a 401: how to authenticate on this route.
    challenge: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into(), field: None, retry_after: None, challenge: None }
    }

    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        let field = field.into();
        let detail = detail.into();
        let detail = if field.is_empty() { detail } else { format!("{field}: {detail}") };
        Self { field: Some(field).filter(|f| !f.is_empty()), ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", detail) }
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(wait: Duration) -> Self {
        let detail = format!("too many requests; retry in {:.1} s", wait.as_secs_f64());
        Self { retry_after: Some(wait), ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail) }
    }

    /// 503 with `Retry-After`: the delivery backlog is at its limit.
    pub fn overloaded(detail: String) -> Self {
        Self { retry_after: Some(OVERLOADED_RETRY_AFTER), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", detail) }
    }

    /// 401 on a management route: a bearer token is needed. Never says why the credentials
    /// presented were refused.
    pub fn unauthenticated() -> Self {
        Self { challenge: Some("Bearer"), ..Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "valid credentials are required") }
    }

    /// 401 on a publishing route: an API key is needed (`X-API-Key`), not a bearer token.
    pub fn unauthenticated_publisher() -> Self {
        let detail = "a valid API key is required (X-API-Key)";
        Self { challenge: Some(r#"ApiKey header="X-API-Key""#), ..Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail) }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// `{"code", "detail"}`, plus `field` on validation errors.
    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({ "code": self.code, "detail": self.detail });
        if let Some(field) = &self.field {
            body["field"] = field.as_str().into();
        }
        body
    }

    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %chain(cause), "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "an unexpected error occurred")
    }

    /// 503 with `Retry-After`: the storage failed (the disk is full or read-only, the table is
    /// throttled), so nothing was stored; the same request may be sent again.
    pub fn storage_unavailable(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %chain(cause), "storage unavailable");
        let detail = "the storage is unavailable; nothing was stored, send the request again later";
        Self { retry_after: Some(STORAGE_RETRY_AFTER), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable", detail) }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(invalid) => Self::validation(invalid.field, invalid.detail),
            ServiceError::NotFound(what) => Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found")),
            // Only publishing authenticates in a service (API keys); tokens are checked in `auth`.
            ServiceError::Unauthenticated => Self::unauthenticated_publisher(),
            ServiceError::Forbidden(detail) => Self::new(StatusCode::FORBIDDEN, "forbidden", detail),
            ServiceError::Conflict(detail) => Self::new(StatusCode::CONFLICT, "conflict", detail),
            ServiceError::Overloaded { .. } => Self::overloaded(error.to_string()),
            ServiceError::PayloadTooLarge { .. } => Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", error.to_string()),
            ServiceError::Store(StoreError::InvalidCursor) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_cursor", "the cursor is not valid for this listing")
            }
            ServiceError::Store(StoreError::NotFound) => Self::new(StatusCode::NOT_FOUND, "not_found", "not found"),
            ServiceError::Store(StoreError::Conflict(detail)) => Self::new(StatusCode::CONFLICT, "conflict", detail),
            ServiceError::Store(StoreError::Backend(_)) | ServiceError::Queue(_) => Self::storage_unavailable(&error),
        }
    }
}

/// An error with its sources, for the log.
fn chain(cause: &dyn std::error::Error) -> String {
    let mut chain = cause.to_string();
    let mut source = cause.source();
    while let Some(next) = source {
        chain.push_str(": ");
        chain.push_str(&next.to_string());
        source = next.source();
    }
    chain
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds.max(1)));
        }
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static(challenge));
        }
        response
    }
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not accept that method")
}
