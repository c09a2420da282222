//! payfac's HTML pages as templates: the buyer as a page shows one, the
//! pages every mode serves (the consent page, the 404 page) and the
//! rendering every page goes through. Askama escapes every value by
//! default, so buyer-supplied text can never become markup. The handlers
//! are the features' (`crate::signin`, `crate::demo`).

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use payfac_domain::Buyer;

/// A buyer as pages show one.
pub struct BuyerView {
    pub user_id: String,
    pub merchant: String,
    pub merchant_user_no: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

impl BuyerView {
    pub fn from(buyer: Buyer) -> Self {
        Self {
            user_id: buyer.user_id.to_string(),
            merchant: buyer.merchant,
            merchant_user_no: buyer.merchant_user_no,
            email: buyer.email,
            first_name: buyer.first_name.unwrap_or_default(),
            last_name: buyer.last_name.unwrap_or_default(),
        }
    }

    /// "First Last", or the email when no name was synced.
    pub fn display_name(&self) -> String {
        let name = format!("{} {}", self.first_name, self.last_name);
        let name = name.trim();
        if name.is_empty() {
            self.email.clone()
        } else {
            name.to_owned()
        }
    }
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    platform_name: String,
    buyer: Option<BuyerView>,
}

/// The consent page (`signin::consent`): `buyer` is the browser's
/// session, `pending` the buyer the link signs in (`None`: expired or
/// answered).
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub platform_name: String,
    pub buyer: Option<BuyerView>,
    pub pending: Option<BuyerView>,
    pub csrf: String,
    pub next: String,
}

/// Renders a page (`boundary::hardening` adds the hardening headers);
/// pages show personal data, so none is cached.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "template rendering failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// payfac's 404 page, showing who is signed in.
pub fn not_found(platform_name: &str, buyer: Option<Buyer>) -> Response {
    render(
        StatusCode::NOT_FOUND,
        &NotFoundPage {
            platform_name: platform_name.to_owned(),
            buyer: buyer.map(BuyerView::from),
        },
    )
}

/// The stylesheet of payfac's pages.
pub async fn site_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/site.css"),
    )
        .into_response()
}
