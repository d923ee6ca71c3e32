//! The operators' dashboard: static files compiled into the binary (`shared/dashboard/`, the
//! charting library vendored from npm), served at `/` and `/ui/<file>` on both hosts. It is a
//! client of the same API, signed in with a pasted token kept in `sessionStorage`; the pages
//! themselves hold no data, so they need no credentials. Every response forbids inline script,
//! framing and any origin but this one.

use axum::Extension;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::extract::PathParam;

/// Scripts, styles, data and fetches from this origin only; no inline script, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `(name, content type, body)` of every file under `/ui/`.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../dashboard/app.js")),
    ("api.js", "text/javascript; charset=utf-8", include_str!("../../dashboard/api.js")),
    ("dom.js", "text/javascript; charset=utf-8", include_str!("../../dashboard/dom.js")),
    ("overview.js", "text/javascript; charset=utf-8", include_str!("../../dashboard/overview.js")),
    ("webhooks.js", "text/javascript; charset=utf-8", include_str!("../../dashboard/webhooks.js")),
    ("deliveries.js", "text/javascript; charset=utf-8", include_str!("../../dashboard/deliveries.js")),
    ("audit.js", "text/javascript; charset=utf-8", include_str!("../../dashboard/audit.js")),
    ("app.css", "text/css; charset=utf-8", include_str!("../../dashboard/app.css")),
    ("uPlot.iife.min.js", "text/javascript; charset=utf-8", include_str!("../../dashboard/vendor/uPlot.iife.min.js")),
    ("uPlot.min.css", "text/css; charset=utf-8", include_str!("../../dashboard/vendor/uPlot.min.css")),
    ("uPlot.LICENSE", "text/plain; charset=utf-8", include_str!("../../dashboard/vendor/uPlot.LICENSE")),
];

const INDEX: &str = include_str!("../../dashboard/index.html");

/// Set by a host that serves the API under a prefix (a named stage) when the page was asked
/// for as the bare prefix (`/prod`, no slash): relative URLs would resolve above the prefix, so
/// the page redirects to this relative location (`prod/`) first.
#[derive(Debug, Clone)]
pub struct Unslashed(pub String);

/// `GET /`: the dashboard's page.
#[utoipa::path(get, path = "/", tag = "dashboard",
    responses((status = 200, description = "The dashboard's page; it signs in with a pasted token", content_type = "text/html"),
        (status = 308, description = "Asked for as a bare stage (`/prod`): to `prod/`, so the page's relative URLs stay under it")))]
pub async fn index(unslashed: Option<Extension<Unslashed>>) -> Response {
    match unslashed {
        Some(Extension(Unslashed(location))) => match HeaderValue::from_str(&location) {
            Ok(location) => (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location)]).into_response(),
            Err(_) => page("text/html; charset=utf-8", INDEX),
        },
        None => page("text/html; charset=utf-8", INDEX),
    }
}

/// `GET /ui/{file}`: one of its scripts or styles.
#[utoipa::path(get, path = "/ui/{file}", tag = "dashboard", params(("file" = String, Path, description = "e.g. `app.js`")),
    responses((status = 200, description = "A script, style sheet or licence of the dashboard"), (status = 404, description = "No such file", body = super::openapi::ErrorBody)))]
pub async fn asset(PathParam(name): PathParam<String>) -> Result<Response, ApiError> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(asset, _, _)| *asset == name)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no dashboard file '{name}'")))?;
    Ok(page(content_type, body))
}

fn page(content_type: &'static str, body: &'static str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        // Small, and changed by every release: always revalidated.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    (headers, body).into_response()
}

/// How many bytes the dashboard adds to a binary.
pub fn size() -> usize {
    INDEX.len() + ASSETS.iter().map(|(_, _, body)| body.len()).sum::<usize>()
}
