//! The management and publishing API, in process over a SQLite file: an input is a raw HTTP
//! request (`METHOD /path?query`, header lines, a blank line, the body). An admin token and a
//! publisher key are added unless the input sends its own `authorization` or `x-api-key`, so
//! mutations reach the handlers rather than stopping at the credentials check.
//!
//! The oracle: no answer is a 5xx (bad input is the client's fault; the one exception is the
//! documented 503 `overloaded` once the fuzzer's publishes fill the delivery backlog, since
//! nothing delivers here), and every 4xx is JSON with `code` and `detail`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use hookline_core::adapters::jwt::{JwtKeys, mint_hs256};
use hookline_core::api::RateLimits;
use hookline_core::backend::{Backend, Keys, assemble};
use hookline_core::config::Config;
use hookline_core::domain::access::Role;
use hookline_core::domain::rate_limit::Rate;
use hookline_core::ports::{ResolveError, Resolver};
use http::{HeaderName, HeaderValue, Request, Response};
use serde_json::Value;
use tower::ServiceExt;

pub const DICTIONARY: &[&str] = &[
    "GET ",
    "POST ",
    "PUT ",
    "PATCH ",
    "DELETE ",
    "OPTIONS ",
    "/api/v1/events",
    "/api/v1/events/batch",
    "/api/v1/webhooks",
    "/api/v1/webhooks/filter/test",
    "/api/v1/deliveries",
    "/api/v1/replays",
    "/api/v1/api-keys",
    "/api/v1/metrics",
    "/api/v1/audit",
    "/api/v1/event-types",
    "/metrics",
    "/health",
    "/openapi.json",
    "?cursor=",
    "&limit=",
    "?since=",
    "&until=",
    "&status=",
    "?event_type=",
    "%00",
    "%ff",
    "%2F",
    "..",
    "\ncontent-type: application/json",
    "\nx-api-key: ",
    "\nauthorization: Bearer ",
    "\ntraceparent: 00-",
    "\nidempotency-key: ",
    "\n\n",
    "\"url\"",
    "\"events\"",
    "\"filter\"",
    "\"transform\"",
    "\"secret\"",
    "\"signature\"",
    "\"retry_policy\"",
    "\"https://example.com/hook\"",
    "\"whsec_\"",
    "\"data.amount > 500.0\"",
    "{\"profile\":\"stripe\"}",
    "\"max_attempts\"",
    "\"schedule_secs\"",
];

/// Every listing the API offers reads at most this much of a response.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

pub fn run(data: &[u8]) {
    let fixture = fixture();
    let Some(request) = request(data, fixture) else { return };
    let line = format!("{} {}", request.method(), request.uri());
    let response = fixture.runtime.block_on(fixture.router.clone().oneshot(request));
    let Ok(response) = response;
    check(&line, fixture.runtime.block_on(read(response)));
}

/// The router over a fresh SQLite file, and credentials for it; built on first use.
pub(crate) struct Fixture {
    pub runtime: tokio::runtime::Runtime,
    pub router: Router,
    admin_token: String,
    api_key: String,
}

pub(crate) fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

#[allow(clippy::expect_used, reason = "a fixture that cannot be built leaves nothing to fuzz")]
fn build() -> Fixture {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let config = Config {
        rate_limits: RateLimits { management: Rate { per_second: 1e9, burst: 1e9 }, publish: Rate { per_second: 1e9, burst: 1e9 } },
        ..Config::default()
    };
    let token_secret = b"hookline-fuzz-token-secret-0123456789".to_vec();
    let keys = Keys { secret_key: vec![7; 32], tokens: JwtKeys::Hs256(token_secret.clone()) };
    let path = super::scratch_dir().join("api.db");
    let assembled = runtime
        .block_on(assemble(&config, Backend::Sqlite { path }, keys, Arc::new(OnePublicAddress)))
        .expect("the API over a scratch SQLite file");
    let settings = config.auth.jwt_settings(JwtKeys::Hs256(token_secret.clone()));
    let ten_years = Duration::from_secs(10 * 365 * 24 * 3600);
    let admin_token = mint_hs256(&token_secret, &settings, "fuzz", &[Role::Admin], ten_years).expect("an admin token");
    let mut fixture = Fixture { runtime, router: assembled.router, admin_token, api_key: String::new() };
    let created = request(b"POST /api/v1/api-keys\ncontent-type: application/json\n\n{\"name\":\"fuzz\"}", &fixture).expect("a request");
    let (_, body) = fixture.runtime.block_on(async { read(fixture.router.clone().oneshot(created).await.expect("an answer")).await });
    fixture.api_key = body["key"].as_str().expect("a publisher key").to_owned();
    fixture
}

/// Every host name is one public address: webhook URLs pass the network policy without DNS.
struct OnePublicAddress;

#[async_trait]
impl Resolver for OnePublicAddress {
    async fn resolve(&self, _host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        Ok(vec![IpAddr::V4(Ipv4Addr::new(93, 184, 215, 14))])
    }
}

/// The request an input spells, or none when its head is not a request at all (the HTTP
/// server would have refused it before Hookline saw it).
fn request(data: &[u8], fixture: &Fixture) -> Option<Request<Body>> {
    let split = data.windows(2).position(|pair| pair == b"\n\n");
    let (head, body) = match split {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.lines();
    let (method, uri) = lines.next()?.split_once(' ')?;
    let mut builder = Request::builder().method(method).uri(uri);
    let mut credentials = (false, false);
    for (name, value) in lines.filter_map(|line| line.split_once(':')) {
        let name = HeaderName::from_bytes(name.trim().as_bytes()).ok()?;
        let value = HeaderValue::from_str(value.trim()).ok()?;
        credentials.0 |= name == http::header::AUTHORIZATION;
        credentials.1 |= name.as_str() == "x-api-key";
        builder = builder.header(name, value);
    }
    if !credentials.0 {
        builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {}", fixture.admin_token));
    }
    if !credentials.1 {
        builder = builder.header("x-api-key", fixture.api_key.as_str());
    }
    builder.body(Body::from(body.to_vec())).ok()
}

pub(crate) async fn read(response: Response<Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), MAX_RESPONSE_BYTES).await.unwrap_or_default();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The oracle: no 5xx but the documented refusal of a full backlog (nothing delivers here,
/// so a long run fills it), and a 4xx names its error.
pub(crate) fn check(request_line: &str, (status, body): (u16, Value)) {
    let overloaded = status == 503 && body["code"] == "overloaded";
    assert!(status < 500 || overloaded, "{request_line} was answered {status}: {body}");
    if status >= 400 {
        let named = body["code"].is_string() && body["detail"].is_string();
        assert!(named, "{request_line} was answered {status} without code and detail: {body}");
    }
}

/// The headers that authenticate as the fixture's admin and publisher.
pub(crate) fn credentials() -> [(&'static str, String); 2] {
    let fixture = fixture();
    [("authorization", format!("Bearer {}", fixture.admin_token)), ("x-api-key", fixture.api_key.clone())]
}
