//! Extractors whose rejections are `ApiError`s, so malformed input gets the same
//! `{code, detail}` shape as everything else.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::domain::json::from_value;

/// A JSON body: 415 for another content type, 413 over the size limit, 400 for malformed
/// JSON, 422 (naming the field) for JSON of the wrong shape.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_json_bytes(request, state).await?;
        parse(&bytes).map(Self)
    }
}

/// Like [`JsonBody`], but an empty body means `T::default()`.
pub struct OptionalJsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_json_bytes(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) { Ok(Self(T::default())) } else { parse(&bytes).map(Self) }
    }
}

/// The body, if it is JSON (415 otherwise) and within the size limit (413 otherwise).
async fn read_json_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    if !content_type.to_ascii_lowercase().starts_with("application/json") {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send the body as application/json"));
    }
    Bytes::from_request(request, state).await.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is over the size limit")
        }
        _ => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", "the request body could not be read"),
    })
}

/// The body as `T` in one pass. One that does not parse straight into `T` is parsed again,
/// into a `Value` first, to say what is wrong (malformed, or which field), and to take a key
/// given twice as its last value, as it always was.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Ok(parsed) = serde_json::from_slice(bytes) {
        return Ok(parsed);
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("the body is not valid JSON: {e}")))?;
    from_value(value).map_err(|invalid| ApiError::validation(invalid.field, invalid.detail))
}

/// Query parameters: 400 `invalid_query` when they do not parse.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(value) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", rejection.body_text()))?;
        Ok(Self(value))
    }
}

/// `?limit=`: 1 to 100, 20 when absent.
pub fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(20),
        Some(n @ 1..=100) => Ok(n),
        Some(_) => Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", "limit must be between 1 and 100")),
    }
}

/// A path parameter: 400 `invalid_path` when it does not decode (a percent-escape that is not
/// UTF-8), instead of axum's plain-text answer.
pub struct PathParam<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(value) = Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", rejection.body_text()))?;
        Ok(Self(value))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Request {
        name: String,
        count: u32,
    }

    #[test]
    fn a_body_parses_in_one_pass_or_says_what_is_wrong() {
        assert_eq!(parse::<Request>(br#"{"name":"a","count":2}"#).unwrap(), Request { name: "a".into(), count: 2 });
        assert_eq!(parse::<Request>(br#"{"name":"a","count":1,"count":2}"#).unwrap().count, 2, "a key given twice: its last value");
        let malformed = parse::<Request>(br#"{"name":"#).unwrap_err();
        assert_eq!((malformed.status(), &malformed.body()["code"]), (StatusCode::BAD_REQUEST, &serde_json::json!("malformed_json")));
        let wrong = parse::<Request>(br#"{"name":"a","count":-1}"#).unwrap_err();
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(wrong.body()["field"], "count", "{}", wrong.body());
    }
}
