//! API Gateway HTTP API (payload v2) requests through the core's router, for the `ingest`
//! function (which takes other event sources too, so it cannot hand its loop to `lambda_http`)
//! and for tests. The request conversion is `lambda_http`'s own; the stage is taken off the
//! path here, so one router serves `$default` and named stages alike.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use axum::Router;
use hookline_core::api::dashboard::Unslashed;
use http::Request;
use http::uri::{PathAndQuery, Uri};
use lambda_http::request::{LambdaRequest, RequestContext};
use tower::ServiceExt;

/// Largest response body read back from the router (responses are small JSON documents).
const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

pub async fn serve(router: Router, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let request = without_stage(Request::<Body>::from(LambdaRequest::ApiGatewayV2(request)));
    let response = match router.oneshot(request.map(axum::body::Body::new)).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(parts.status.as_u16());
    answer.headers = parts.headers;
    answer.is_base64_encoded = false;
    answer.body = match axum::body::to_bytes(body, MAX_RESPONSE_BYTES).await {
        Ok(bytes) if bytes.is_empty() => None,
        Ok(bytes) => Some(Body::Text(String::from_utf8_lossy(&bytes).into_owned())),
        Err(error) => {
            tracing::error!(%error, "response body could not be read");
            answer.status_code = 500;
            Some(Body::Text(r#"{"code":"internal_error","detail":"internal error"}"#.into()))
        }
    };
    answer
}

/// The request with its stage taken off the path. On a named stage API Gateway sends
/// `/prod/api/v1/webhooks` (and `lambda_http` adds the stage where a custom domain left it
/// out), while the router's routes are the seed's, without a stage.
pub fn without_stage<B>(mut request: Request<B>) -> Request<B> {
    let Some(stage) = named_stage(&request) else { return request };
    // `/prod` alone reaches us as `/prod/prod` (`lambda_http` adds the stage to a path that
    // does not start with `/prod/`): it is the dashboard's page, asked for without the slash.
    let path = if asked_for_bare_stage(&request, &stage) {
        request.extensions_mut().insert(Unslashed(format!("{stage}/")));
        "/".to_owned()
    } else {
        let Some(path) = strip_stage(request.uri().path(), &stage) else { return request };
        path.to_owned()
    };
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut parts = request.uri().clone().into_parts();
    if let Ok(path_and_query) = PathAndQuery::try_from(path_and_query) {
        parts.path_and_query = Some(path_and_query);
    }
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
    request
}

/// The stage the request context names, unless it is `$default` (whose paths carry no stage).
fn named_stage<B>(request: &Request<B>) -> Option<String> {
    let stage = match request.extensions().get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => context.stage.clone(),
        _ => None,
    }?;
    (stage != "$default" && !stage.is_empty()).then_some(stage)
}

/// True when the client asked for `/<stage>` itself (API Gateway's own domain, no slash after
/// the stage), not for a custom domain's path that `lambda_http` put the stage in front of.
fn asked_for_bare_stage<B>(request: &Request<B>, stage: &str) -> bool {
    let asked = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.path.clone(),
        _ => None,
    };
    asked.is_some_and(|path| path.strip_prefix('/') == Some(stage))
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

#[cfg(test)]
mod tests {
    use super::strip_stage;

    #[test]
    fn only_a_whole_leading_stage_segment_is_taken_off() {
        assert_eq!(strip_stage("/prod/api/v1/webhooks", "prod"), Some("/api/v1/webhooks"));
        assert_eq!(strip_stage("/prod", "prod"), Some("/"));
        assert_eq!(strip_stage("/production/health", "prod"), None);
        assert_eq!(strip_stage("/api/v1/webhooks", "prod"), None);
        assert_eq!(strip_stage("/api/api/v1/events", "api"), Some("/api/v1/events"));
    }
}
