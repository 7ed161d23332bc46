//! The OpenAPI 3 document of `/api/v1`, generated from the handlers' `#[utoipa::path]`
//! annotations and the response types, so it cannot drift from the code.

use super::v1::{account, subscribers};
use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "resellerbot reseller API",
        description = "Your account, packages, subscribers and credit history. Authenticate with \
            `Authorization: Bearer <key>` (make a key with /apikey new in the bot). Errors are \
            `{\"error\": {\"code\": ..., \"message\": ...}}`; changes accept an `Idempotency-Key`."
    ),
    paths(
        account::account,
        account::packages,
        account::history,
        subscribers::list,
        subscribers::create,
        subscribers::trial,
        subscribers::get,
        subscribers::delete,
        subscribers::extend,
        subscribers::reset,
        subscribers::enable,
        subscribers::disable,
        subscribers::credentials,
    ),
    modifiers(&Bearer)
)]
struct Document;

/// Declares the `bearer` scheme the paths name.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

/// `GET /api/v1/openapi.json`
pub(crate) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(Document::openapi())
}
