//! The built-in demo storefront, served when there is no upstream: a
//! stand-in for the platform's own pages, so single sign-on can be seen
//! and tested end to end on a fresh machine. It is a client of the
//! sign-in (`crate::signin`) like any storefront, and nothing else uses it.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use crate::AppState;
use crate::pages::{BuyerView, render, site_css};
use crate::signin::{CurrentBuyer, logout, me};

/// `/`, `/items/{itemId}`, `/orders`, `/account`, `/api/me`, `/logout`
/// and the site's static assets.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/items/{item_id}", get(item))
        .route("/orders", get(orders))
        .route("/account", get(account))
        .route("/api/me", get(me))
        .route("/logout", post(logout))
        .route("/assets/site.css", get(site_css))
        .route("/favicon.ico", get(favicon))
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

fn view(current: CurrentBuyer) -> Option<BuyerView> {
    current.0.map(BuyerView::from)
}

async fn home(State(state): State<AppState>, current: CurrentBuyer) -> Response {
    render(
        StatusCode::OK,
        &HomePage {
            platform_name: state.config.platform_name.clone(),
            buyer: view(current),
            featured: FEATURED,
        },
    )
}

async fn item(
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

async fn orders(State(state): State<AppState>, current: CurrentBuyer) -> Response {
    render(
        StatusCode::OK,
        &OrdersPage {
            platform_name: state.config.platform_name.clone(),
            buyer: view(current),
        },
    )
}

async fn account(State(state): State<AppState>, current: CurrentBuyer) -> Response {
    render(
        StatusCode::OK,
        &AccountPage {
            platform_name: state.config.platform_name.clone(),
            buyer: view(current),
        },
    )
}

/// Browsers ask for it on every first visit; an empty answer keeps their
/// consoles clean.
async fn favicon() -> StatusCode {
    StatusCode::NO_CONTENT
}
