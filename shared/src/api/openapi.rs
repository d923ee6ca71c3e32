//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and the
//! types' `ToSchema` derives as the router is built (`utoipa-axum` registers each route from its
//! annotation), so a route cannot exist without its entry. Served at `GET /api/v1/openapi.json`.

use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContactBuilder, InfoBuilder, LicenseBuilder, OpenApi, ServerBuilder};
use utoipa::{IntoResponses, ToSchema};

use crate::VERSION;

/// Every error: `{"code", "detail"}`, and `field` (a JSON path) when one field is wrong.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable: `validation_failed`, `not_found`, `unauthorized`, `forbidden`, `conflict`, `rate_limited`, …
    pub code: String,
    /// For people.
    pub detail: String,
    /// The field a validation error is about, as a JSON path (`events[2]`, `data.email`).
    pub field: Option<String>,
}

/// One page of a listing, newest or first first; pass `next_cursor` as `?cursor=` for the next.
#[derive(Serialize, ToSchema)]
pub struct Listing<T> {
    pub data: Vec<T>,
    /// `null` on the last page.
    pub next_cursor: Option<String>,
}

/// What any authenticated route may answer besides its own responses.
#[derive(IntoResponses)]
pub enum Refusals {
    /// A query parameter is malformed (`invalid_query`), or a cursor was not issued here.
    #[response(status = 400)]
    BadRequest(#[to_schema] ErrorBody),
    /// No credentials, or ones that do not verify.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The token's roles (or the key's patterns) do not allow this.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Too many requests for this token or key; see `Retry-After`.
    #[response(status = 429)]
    TooMany(ErrorBody),
    /// Nothing was done: the storage failed (`storage_unavailable`: a full disk, a throttled
    /// table) or, when publishing, the delivery backlog is at its limit (`overloaded`, a batch
    /// refused whole); send the same request again after `Retry-After`.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// What a route that changes something may answer besides `Refusals`.
#[derive(IntoResponses)]
pub enum Rejections {
    /// What was named does not exist.
    #[response(status = 404)]
    NotFound(#[to_schema] ErrorBody),
    /// The request conflicts with what exists (a reused event id, a delivery not in that state).
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// The body is well-formed JSON but not valid: `field` says where.
    #[response(status = 422)]
    Invalid(ErrorBody),
}

/// The document's header: title, version, security schemes; the routes add the rest.
pub fn base() -> OpenApi {
    let info = InfoBuilder::new()
        .title("Hookline")
        .version(VERSION)
        .description(Some(
            "Signed webhooks (Standard Webhooks, HMAC-SHA256) for an ISP management platform: publish events, manage \
             webhooks, read deliveries, their attempts and delivery health. Management routes take a bearer JWT with a \
             role (`webhooks:read`, `webhooks:write`, `webhooks:admin`); publishing takes a publisher API key.",
        ))
        .license(Some(LicenseBuilder::new().name("MIT").identifier(Some("MIT")).build()))
        .contact(Some(ContactBuilder::new().name(Some("Hookline")).build()))
        .build();
    let mut document = OpenApi::new(info, utoipa::openapi::Paths::new());
    document.servers = Some(vec![ServerBuilder::new().url("/").description(Some("this deployment (on AWS, with its stage)")).build()]);
    let components = document.components.get_or_insert_with(Default::default);
    let bearer = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .bearer_format("JWT")
        .description(Some(
            "A JWT whose `roles` claim holds webhooks:read, webhooks:write or webhooks:admin (each includes the ones before)",
        ))
        .build();
    components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    let key =
        ApiKeyValue::with_description("X-API-Key", "A publisher key (`hk_…`), created by an admin; its patterns limit what it may publish");
    components.add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(key)));
    document
}

/// Operation ids unique across the document (`<tag>_<handler>`, e.g. `webhooks_list`), as
/// client generators need; the handlers' own names repeat from one resource to the next.
pub fn finish(mut document: OpenApi) -> OpenApi {
    for item in document.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            let tag = operation.tags.as_ref().and_then(|tags| tags.first()).cloned().unwrap_or_default();
            if let Some(id) = operation.operation_id.take() {
                operation.operation_id = Some(format!("{}_{id}", tag.replace('-', "_")));
            }
        }
    }
    document
}
