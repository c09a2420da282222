//! The OpenAPI 3.1 document of the admin API, served on the admin
//! listener at `/admin/v1/openapi.json` (the merchant API's document is
//! a separate one, `/openapi.json` on the public listener).

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::oidc_clients::{self, RemovedClientView};
use super::problem::Problem;
use super::routes::{self, Disable, NewKey, NewMerchant};
use super::views::*;
use crate::oidc::clients::{ClientView, NewClient, Registration};

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "adminToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from `payfac admin-token create NAME`."))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "payfac admin API",
        version = "1",
        description = "The operator's API: merchants and their keys, buyers' data requests \
                       (show, export, sign out everywhere, erase), the OpenID Provider's \
                       clients, and the audit trail. Served \
                       only on the admin listener (`payfac serve --admin-listen ADDR`). Every \
                       call needs `Authorization: Bearer <token>`; errors are RFC 9457 problem \
                       details (`application/problem+json`). See docs/OPERATIONS.md."
    ),
    security(("adminToken" = [])),
    modifiers(&BearerToken),
    paths(
        routes::list_merchants, routes::add_merchant, routes::get_merchant, routes::add_key,
        routes::remove_key, routes::disable, routes::enable,
        routes::show_by_merchant, routes::show_by_user_id,
        routes::export_by_merchant, routes::export_by_user_id,
        routes::revoke_by_merchant, routes::revoke_by_user_id,
        routes::erase_by_merchant, routes::erase_by_user_id,
        routes::audit,
        oidc_clients::list, oidc_clients::add, oidc_clients::remove,
    ),
    components(schemas(
        Problem, NewMerchant, NewKey, Disable, MerchantView, KeyView, NewKeyView, RemovedKeyView,
        DisabledView, BuyerView, ExportView, SessionExport, CodeExport, RevokedView, ErasedView,
        AuditView, Registration, NewClient, ClientView, RemovedClientView,
    ))
)]
struct AdminApiDoc;

/// The document as served, built once.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        AdminApiDoc::openapi()
            .to_pretty_json()
            .expect("the admin OpenAPI document serializes")
    })
}

pub async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}
