//! Page handlers and their templates. Askama escapes every value by
//! default, so buyer-supplied text can never become markup.

use askama::Template;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use payfac_domain::Buyer;

use super::session::CurrentBuyer;
use crate::AppState;

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

pub struct Item {
    pub id: &'static str,
    pub name: &'static str,
    pub price: &'static str,
}

const FEATURED: &[Item] = &[
    Item {
        id: "2001591587541073922",
        name: "Starter Gold Pack",
        price: "$4.99",
    },
    Item {
        id: "2001591587541073923",
        name: "Legendary Mount",
        price: "$19.99",
    },
    Item {
        id: "2001591587541073924",
        name: "Season Pass",
        price: "$9.99",
    },
];

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    platform_name: String,
    buyer: Option<BuyerView>,
    featured: &'static [Item],
}

#[derive(Template)]
#[template(path = "item.html")]
struct ItemPage {
    platform_name: String,
    buyer: Option<BuyerView>,
    item_id: String,
    name: String,
    price: String,
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    platform_name: String,
    buyer: Option<BuyerView>,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    platform_name: String,
    buyer: Option<BuyerView>,
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    platform_name: String,
    buyer: Option<BuyerView>,
}

/// The consent page (`consent.rs`): `buyer` is the browser's session,
/// `pending` the buyer the link signs in (`None`: expired or answered).
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub platform_name: String,
    pub buyer: Option<BuyerView>,
    pub pending: Option<BuyerView>,
    pub csrf: String,
    pub next: String,
}

pub fn render_confirm(page: &ConfirmPage) -> Response {
    render(StatusCode::OK, page)
}

/// Renders a page (`super::harden` adds the hardening headers); pages show
/// personal data, so none is cached.
fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "template rendering failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn view(current: CurrentBuyer) -> Option<BuyerView> {
    current.0.map(BuyerView::from)
}

pub async fn home(State(state): State<AppState>, current: CurrentBuyer) -> Response {
    render(
        StatusCode::OK,
        &HomePage {
            platform_name: state.config.platform_name.clone(),
            buyer: view(current),
            featured: FEATURED,
        },
    )
}

pub async fn item(
    State(state): State<AppState>,
    current: CurrentBuyer,
    Path(item_id): Path<String>,
) -> Response {
    let known = FEATURED.iter().find(|item| item.id == item_id);
    render(
        StatusCode::OK,
        &ItemPage {
            platform_name: state.config.platform_name.clone(),
            buyer: view(current),
            name: known
                .map_or("Marketplace item", |item| item.name)
                .to_owned(),
            price: known.map_or("See offers", |item| item.price).to_owned(),
            item_id,
        },
    )
}

pub async fn orders(State(state): State<AppState>, current: CurrentBuyer) -> Response {
    render(
        StatusCode::OK,
        &OrdersPage {
            platform_name: state.config.platform_name.clone(),
            buyer: view(current),
        },
    )
}

pub async fn account(State(state): State<AppState>, current: CurrentBuyer) -> Response {
    render(
        StatusCode::OK,
        &AccountPage {
            platform_name: state.config.platform_name.clone(),
            buyer: view(current),
        },
    )
}

pub async fn not_found(State(state): State<AppState>, current: CurrentBuyer) -> Response {
    render(
        StatusCode::NOT_FOUND,
        &NotFoundPage {
            platform_name: state.config.platform_name.clone(),
            buyer: view(current),
        },
    )
}

/// `GET /api/me`: the signed-in buyer as a flat JSON object, or 401.
pub async fn me(current: CurrentBuyer) -> Response {
    let mut response = match current.0 {
        Some(buyer) => Json(buyer).into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "not signed in"})),
        )
            .into_response(),
    };
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

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

/// Browsers ask for it on every first visit; an empty answer keeps their
/// consoles clean.
pub async fn favicon() -> StatusCode {
    StatusCode::NO_CONTENT
}
