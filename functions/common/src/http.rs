//! API Gateway HTTP API (payload v2) requests through the core's router, for the `api` and
//! `ingest` functions and for tests. The conversion is ours, not `lambda_http`'s: that one
//! panics on input a client controls (a `Host` or `X-Forwarded-Proto` that is not part of a URL,
//! a body marked base64 that is not; the fuzz target `lambda` found them), and a panic aborts
//! the function. Here a request that cannot be converted is a 400 like any other bad input.
//!
//! The stage is taken off the path, so one router serves `$default` and named stages alike: on
//! a named stage API Gateway's own domain sends `/prod/api/v1/webhooks`, a custom domain
//! `/api/v1/webhooks`.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use axum::Router;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hookline_core::api::ApiError;
use hookline_core::api::dashboard::Unslashed;
use http::{HeaderValue, Request, StatusCode, Uri};
use tower::ServiceExt;

/// Largest response body read back from the router (responses are small JSON documents).
const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

pub async fn serve(router: Router, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let request = match to_request(request) {
        Ok(request) => request,
        Err(detail) => return error_answer(&ApiError::new(StatusCode::BAD_REQUEST, "bad_request", detail)),
    };
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(parts.status.as_u16());
    answer.headers = parts.headers;
    match axum::body::to_bytes(body, MAX_RESPONSE_BYTES).await {
        Ok(bytes) if bytes.is_empty() => answer.body = None,
        Ok(bytes) => match String::from_utf8(bytes.to_vec()) {
            Ok(text) => answer.body = Some(Body::Text(text)),
            Err(binary) => {
                answer.is_base64_encoded = true;
                answer.body = Some(Body::Binary(binary.into_bytes()));
            }
        },
        Err(error) => {
            tracing::error!(%error, "response body could not be read");
            return error_answer(&ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error"));
        }
    }
    answer
}

fn error_answer(error: &ApiError) -> ApiGatewayV2httpResponse {
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(error.status().as_u16());
    answer.headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    answer.body = Some(Body::Text(error.body().to_string()));
    answer
}

/// The request the router sees: API Gateway's method, headers (cookies among them) and body,
/// and its raw path without the stage, with the raw query string.
pub fn to_request(event: ApiGatewayV2httpRequest) -> Result<Request<axum::body::Body>, &'static str> {
    let stage = event.request_context.stage.as_deref().filter(|stage| *stage != "$default" && !stage.is_empty());
    let raw_path = event.raw_path.as_deref().filter(|path| !path.is_empty()).unwrap_or("/");
    let (path, unslashed) = match stage {
        Some(stage) => without_stage(raw_path, stage),
        None => (raw_path, None),
    };
    let uri = match event.raw_query_string.as_deref().filter(|query| !query.is_empty()) {
        Some(query) => format!("{}?{}", escape(path), escape(query)),
        None => escape(path),
    };
    let uri = Uri::try_from(uri).map_err(|_| "the request's path or query is not a URI")?;
    let body = match (&event.body, event.is_base64_encoded) {
        (None, _) => Vec::new(),
        (Some(text), false) => text.clone().into_bytes(),
        (Some(encoded), true) => STANDARD.decode(encoded).map_err(|_| "the request body is marked base64 but is not")?,
    };
    let mut request = Request::new(axum::body::Body::from(body));
    *request.method_mut() = event.request_context.http.method;
    *request.uri_mut() = uri;
    *request.headers_mut() = event.headers;
    if let Some(cookies) = event.cookies.filter(|cookies| !cookies.is_empty())
        && let Ok(value) = HeaderValue::from_str(&cookies.join("; "))
    {
        request.headers_mut().insert(http::header::COOKIE, value);
    }
    if let Some(location) = unslashed {
        request.extensions_mut().insert(Unslashed(location));
    }
    Ok(request)
}

/// `path` without its leading `/<stage>` segment. `/prod` alone is the dashboard's page asked
/// for without the slash: `/`, with where the page lives so it can redirect there.
fn without_stage<'a>(path: &'a str, stage: &str) -> (&'a str, Option<String>) {
    match strip_stage(path, stage) {
        Some("/") if !path.ends_with('/') => ("/", Some(format!("{stage}/"))),
        Some(rest) => (rest, None),
        None => (path, None),
    }
}

/// `path` without a leading `/<stage>` segment, if it has one.
fn strip_stage<'a>(path: &'a str, stage: &str) -> Option<&'a str> {
    let rest = path.strip_prefix('/')?.strip_prefix(stage)?;
    match rest {
        "" => Some("/"),
        rest if rest.starts_with('/') => Some(rest),
        _ => None,
    }
}

/// Percent-encodes what a URI may not hold as it is (spaces, quotes, braces, non-ASCII),
/// leaving existing escapes alone: API Gateway passes the path and query as the client sent
/// them.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&byte) {
            escaped.push(char::from(byte));
        } else {
            escaped.push_str(&format!("%{byte:02X}"));
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
    use http::HeaderValue;

    use super::{escape, strip_stage, to_request, without_stage};

    fn event(stage: &str, path: &str, query: &str) -> ApiGatewayV2httpRequest {
        let mut event = ApiGatewayV2httpRequest::default();
        event.request_context.stage = Some(stage.to_owned());
        event.raw_path = Some(path.to_owned());
        event.raw_query_string = Some(query.to_owned());
        event
    }

    #[test]
    fn headers_that_are_no_part_of_a_url_do_not_stop_the_conversion() {
        let mut event = event("prod", "/prod/api/v1/deliveries", "status=failed&q={x y}");
        event.headers.insert(http::header::HOST, HeaderValue::from_static("abc.ex%cute-api.example"));
        event.headers.insert("x-forwarded-proto", HeaderValue::from_static("not a scheme"));
        let request = to_request(event).unwrap();
        assert_eq!(request.uri().to_string(), "/api/v1/deliveries?status=failed&q=%7Bx%20y%7D");
        assert_eq!(request.headers()["host"], "abc.ex%cute-api.example");
    }

    #[test]
    fn a_body_marked_base64_that_is_not_is_refused() {
        let mut event = event("$default", "/api/v1/events", "");
        event.is_base64_encoded = true;
        event.body = Some("not base64!".to_owned());
        assert!(to_request(event).unwrap_err().contains("base64"));
    }

    #[test]
    fn only_a_whole_leading_stage_segment_is_taken_off() {
        assert_eq!(strip_stage("/prod/api/v1/webhooks", "prod"), Some("/api/v1/webhooks"));
        assert_eq!(strip_stage("/prod", "prod"), Some("/"));
        assert_eq!(strip_stage("/production/health", "prod"), None);
        assert_eq!(strip_stage("/api/v1/webhooks", "prod"), None);
        assert_eq!(strip_stage("/api/api/v1/events", "api"), Some("/api/v1/events"));
    }

    #[test]
    fn the_bare_stage_is_the_dashboard_page_asked_for_without_its_slash() {
        assert_eq!(without_stage("/prod", "prod"), ("/", Some("prod/".to_owned())));
        assert_eq!(without_stage("/prod/", "prod"), ("/", None));
        assert_eq!(without_stage("/health", "prod"), ("/health", None));
    }

    #[test]
    fn what_a_uri_cannot_hold_is_escaped_and_escapes_are_kept() {
        assert_eq!(
            escape("/api/v1/deliveries?status=failed&since=2026-01-01T00:00:00Z"),
            "/api/v1/deliveries?status=failed&since=2026-01-01T00:00:00Z"
        );
        assert_eq!(escape("/a b/{x}|\"é"), "/a%20b/%7Bx%7D%7C%22%C3%A9");
        assert_eq!(escape("/wh%2F1"), "/wh%2F1");
    }
}
