//! The provider's own pages: the error page of a request payfac cannot
//! answer by redirect, the RP-initiated logout's confirmation, and its
//! "signed out" page. Askama escapes every value.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::no_store;

#[derive(Template)]
#[template(path = "oidc.html")]
struct Page<'a> {
    title: &'a str,
    message: &'a str,
    /// The hidden fields of the logout confirmation form.
    logout: Option<Vec<(&'a str, &'a str)>>,
}

fn render(status: StatusCode, page: &Page<'_>) -> Response {
    match page.render() {
        Ok(html) => no_store((status, Html(html)).into_response()),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// 400 with `message`: the request cannot be answered by redirect.
pub fn error_page(message: &str) -> Response {
    render(
        StatusCode::BAD_REQUEST,
        &Page {
            title: "Sign-in error",
            message,
            logout: None,
        },
    )
}

/// "Sign out of payfac?" with a form posting `fields` back same-origin.
pub fn confirm_logout(fields: Vec<(&str, &str)>) -> Response {
    render(
        StatusCode::OK,
        &Page {
            title: "Sign out?",
            message: "An application asks to sign you out of your account.",
            logout: Some(fields),
        },
    )
}

pub fn signed_out() -> Response {
    render(
        StatusCode::OK,
        &Page {
            title: "Signed out",
            message: "You are signed out.",
            logout: None,
        },
    )
}
