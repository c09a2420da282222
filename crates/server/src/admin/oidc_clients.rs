//! The OpenID Provider's clients (issue 30): the action shared by
//! `payfac oidc-client` and the admin API's `/admin/v1/oidc-clients`,
//! audited like every other change (the client id and name, never the
//! secret), and the API's handlers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use payfac_store::unix_now;

use super::AdminState;
use super::actions::{Operator, Refusal};
use super::auth::Actor;
use super::problem::Problem;
use crate::oidc::clients::{ClientView, NewClient, Registration, register};

impl Operator<'_> {
    /// Registers a client; the answer holds its secret, shown only now.
    /// Invalid input is refused before anything is attempted (the admin
    /// API records such refusals itself, as for a malformed merchant key).
    pub async fn add_oidc_client(&self, registration: Registration) -> Result<NewClient, Refusal> {
        let (client, shown) = register(registration, unix_now()).map_err(Refusal::Invalid)?;
        let target = format!("{} ({})", client.client_id, client.name);
        let result = match self.store.add_oidc_client(client).await {
            Ok(true) => Ok(shown),
            Ok(false) => Err(Refusal::Conflict(
                "the client id is taken; try again".into(),
            )),
            Err(error) => Err(error.into()),
        };
        self.audit("oidc_client.add", &target, &result).await;
        result
    }

    pub async fn oidc_clients(&self) -> Result<Vec<ClientView>, Refusal> {
        let clients = self.store.oidc_clients().await?;
        Ok(clients.into_iter().map(ClientView::from).collect())
    }

    /// Removes the client; its codes and access tokens go with it.
    pub async fn remove_oidc_client(&self, client_id: &str) -> Result<(), Refusal> {
        let result = match self.store.remove_oidc_client(client_id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Refusal::NotFound(format!(
                "unknown OpenID client {client_id}"
            ))),
            Err(error) => Err(error.into()),
        };
        self.audit("oidc_client.remove", client_id, &result).await;
        result
    }
}

fn operator<'a>(state: &'a AdminState, actor: &'a Actor) -> Operator<'a> {
    Operator {
        store: state.store.as_ref(),
        actor: &actor.0,
    }
}

#[utoipa::path(get, path = "/admin/v1/oidc-clients", tag = "oidc-clients",
    responses((status = 200, body = Vec<ClientView>), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AdminState>,
    Extension(actor): Extension<Actor>,
) -> Result<Response, Problem> {
    let clients = operator(&state, &actor).oidc_clients().await?;
    Ok(Json(clients).into_response())
}

#[utoipa::path(post, path = "/admin/v1/oidc-clients", tag = "oidc-clients", request_body = Registration,
    responses((status = 201, body = NewClient, description = "the secret is shown only here"),
              (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn add(
    State(state): State<AdminState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let registration: Registration = super::routes::json_body(&headers, &body)?;
    let shown = operator(&state, &actor)
        .add_oidc_client(registration)
        .await?;
    Ok((StatusCode::CREATED, Json(shown)).into_response())
}

#[utoipa::path(delete, path = "/admin/v1/oidc-clients/{clientId}", tag = "oidc-clients",
    params(("clientId" = String, Path)),
    responses((status = 200, body = RemovedClientView), (status = 401, body = Problem),
              (status = 404, body = Problem)))]
pub async fn remove(
    State(state): State<AdminState>,
    Extension(actor): Extension<Actor>,
    Path(client_id): Path<String>,
) -> Result<Response, Problem> {
    operator(&state, &actor)
        .remove_oidc_client(&client_id)
        .await?;
    Ok(Json(RemovedClientView {
        client_id,
        removed: true,
    })
    .into_response())
}

/// `DELETE /admin/v1/oidc-clients/{clientId}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemovedClientView {
    pub client_id: String,
    pub removed: bool,
}
