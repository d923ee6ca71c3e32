//! API Gateway HTTP API (payload v2) requests through the core's router, for the `ingest`
//! function (which takes other event sources too, so it cannot hand its loop to `lambda_http`)
//! and for tests. The request conversion is `lambda_http`'s own.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use axum::Router;
use lambda_http::request::LambdaRequest;
use tower::ServiceExt;

/// Largest response body read back from the router (responses are small JSON documents).
const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

pub async fn serve(router: Router, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let request: http::Request<Body> = LambdaRequest::ApiGatewayV2(request).into();
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
