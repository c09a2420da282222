//! The admin API's handlers: parse the path and body, call the shared
//! action (`actions::Operator`), answer JSON or a problem.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use payfac_store::BuyerRef;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use super::AdminState;
use super::actions::{self, Operator, Refusal};
use super::auth::Actor;
use super::problem::Problem;
use super::views::*;

type Answer = Result<Response, Problem>;

fn operator<'a>(state: &'a AdminState, actor: &'a Actor) -> Operator<'a> {
    Operator {
        store: state.store.as_ref(),
        actor: &actor.0,
    }
}

/// After a merchant or key change: this instance's directory reloads now
/// rather than at its next poll. A failure is logged; the poll catches up.
async fn merchants_changed(state: &AdminState) {
    if let Err(error) = state.merchants.refresh(state.store.as_ref()).await {
        tracing::warn!(%error, "reloading merchants after a change failed");
    }
}

fn ok<T: serde::Serialize>(status: StatusCode, body: T) -> Answer {
    Ok((status, Json(body)).into_response())
}

/// The body as JSON of type `T`: 415 unless `application/json`, 400 when
/// it is not JSON at all, 422 when a field is missing or of the wrong type.
pub(super) fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, Problem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as Content-Type: application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|error| match error.classify() {
        serde_json::error::Category::Data => Problem::invalid(error.to_string()),
        _ => Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "Malformed JSON",
            error.to_string(),
        ),
    })
}

/// `POST /admin/v1/merchants`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewMerchant {
    /// 1-32 of `A-Z a-z 0-9 _ -`.
    #[schema(example = "ACME")]
    pub id: String,
    /// PEM SPKI, PEM PKCS#1 or bare base64 of the SPKI DER; RSA 2048-4096.
    pub public_key: String,
}

/// `POST /admin/v1/merchants/{id}/keys`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewKey {
    pub public_key: String,
}

/// `POST /admin/v1/merchants/{id}/disable`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Disable {
    /// Also end every session of the merchant's buyers and void its
    /// unused codes, in the same transaction.
    pub end_sessions: bool,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    limit: Option<String>,
}

async fn merchant_view(
    operator: &Operator<'_>,
    id: &payfac_domain::MerchantId,
) -> Result<MerchantView, Refusal> {
    Ok(MerchantView::from(&operator.merchant(id).await?))
}

#[utoipa::path(get, path = "/admin/v1/merchants", tag = "merchants",
    responses((status = 200, body = Vec<MerchantView>), (status = 401, body = Problem)))]
pub async fn list_merchants(
    State(state): State<AdminState>,
    Extension(actor): Extension<Actor>,
) -> Answer {
    let merchants = operator(&state, &actor).merchants().await?;
    ok(
        StatusCode::OK,
        merchants.iter().map(MerchantView::from).collect::<Vec<_>>(),
    )
}

#[utoipa::path(post, path = "/admin/v1/merchants", tag = "merchants", request_body = NewMerchant,
    responses((status = 201, body = MerchantView), (status = 401, body = Problem),
              (status = 409, body = Problem, description = "the id or the key is already registered"),
              (status = 422, body = Problem)))]
pub async fn add_merchant(
    State(state): State<AdminState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let input: NewMerchant = json_body(&headers, &body)?;
    let id = actions::merchant_id(&input.id)?;
    let key = actions::public_key(&input.public_key)?;
    let operator = operator(&state, &actor);
    operator.add_merchant(&id, &key).await?;
    merchants_changed(&state).await;
    ok(StatusCode::CREATED, merchant_view(&operator, &id).await?)
}

#[utoipa::path(get, path = "/admin/v1/merchants/{id}", tag = "merchants",
    params(("id" = String, Path)),
    responses((status = 200, body = MerchantView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_merchant(
    State(state): State<AdminState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Answer {
    let id = actions::merchant_id(&id)?;
    ok(
        StatusCode::OK,
        merchant_view(&operator(&state, &actor), &id).await?,
    )
}

#[utoipa::path(post, path = "/admin/v1/merchants/{id}/keys", tag = "merchants", request_body = NewKey,
    params(("id" = String, Path)),
    responses((status = 201, body = NewKeyView), (status = 401, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_key(
    State(state): State<AdminState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let id = actions::merchant_id(&id)?;
    let input: NewKey = json_body(&headers, &body)?;
    let key = actions::public_key(&input.public_key)?;
    let key_id = operator(&state, &actor).add_key(&id, &key).await?;
    merchants_changed(&state).await;
    ok(StatusCode::CREATED, NewKeyView { id: key_id })
}

#[utoipa::path(delete, path = "/admin/v1/merchants/{id}/keys/{keyId}", tag = "merchants",
    params(("id" = String, Path), ("keyId" = String, Path)),
    responses((status = 200, body = RemovedKeyView), (status = 401, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "the merchant's last key")))]
pub async fn remove_key(
    State(state): State<AdminState>,
    Extension(actor): Extension<Actor>,
    Path((id, key_id)): Path<(String, String)>,
) -> Answer {
    let id = actions::merchant_id(&id)?;
    operator(&state, &actor)
        .remove_key(&id, &key_id, true)
        .await?;
    merchants_changed(&state).await;
    ok(
        StatusCode::OK,
        RemovedKeyView {
            id: key_id,
            removed: true,
        },
    )
}

#[utoipa::path(post, path = "/admin/v1/merchants/{id}/disable", tag = "merchants", request_body = Disable,
    params(("id" = String, Path)),
    responses((status = 200, body = DisabledView), (status = 401, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn disable(
    State(state): State<AdminState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let id = actions::merchant_id(&id)?;
    let input: Disable = json_body(&headers, &body)?;
    let operator = operator(&state, &actor);
    let ended = operator.disable(&id, input.end_sessions).await?;
    merchants_changed(&state).await;
    if input.end_sessions {
        state.handoffs.clear();
    }
    ok(
        StatusCode::OK,
        DisabledView::new(merchant_view(&operator, &id).await?, ended),
    )
}

#[utoipa::path(post, path = "/admin/v1/merchants/{id}/enable", tag = "merchants",
    params(("id" = String, Path)),
    responses((status = 200, body = MerchantView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn enable(
    State(state): State<AdminState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Answer {
    let id = actions::merchant_id(&id)?;
    let operator = operator(&state, &actor);
    operator.enable(&id).await?;
    merchants_changed(&state).await;
    ok(StatusCode::OK, merchant_view(&operator, &id).await?)
}

fn by_merchant((merchant, user_no): &(String, String)) -> Result<BuyerRef, Refusal> {
    actions::buyer_by_merchant(merchant, user_no)
}

async fn show(state: &AdminState, actor: &Actor, buyer: Result<BuyerRef, Refusal>) -> Answer {
    let details = operator(state, actor)
        .buyer(&buyer?, state.idle_secs)
        .await?;
    ok(StatusCode::OK, BuyerView::from(&details))
}

async fn export(state: &AdminState, actor: &Actor, buyer: Result<BuyerRef, Refusal>) -> Answer {
    let export = operator(state, actor)
        .export(&buyer?, state.idle_secs)
        .await?;
    ok(
        StatusCode::OK,
        ExportView::new(&export, payfac_store::unix_now()),
    )
}

async fn revoke(state: &AdminState, actor: &Actor, buyer: Result<BuyerRef, Refusal>) -> Answer {
    let (user_id, ended) = operator(state, actor).revoke_sessions(&buyer?).await?;
    state.handoffs.clear();
    ok(
        StatusCode::OK,
        RevokedView {
            user_id: user_id.to_string(),
            sessions_ended: ended,
        },
    )
}

async fn erase(state: &AdminState, actor: &Actor, buyer: Result<BuyerRef, Refusal>) -> Answer {
    let erased = operator(state, actor).erase(&buyer?).await?;
    state.handoffs.clear();
    ok(StatusCode::OK, ErasedView::from(erased))
}

#[utoipa::path(get, path = "/admin/v1/merchants/{id}/buyers/{merchantUserNo}", tag = "buyers",
    params(("id" = String, Path), ("merchantUserNo" = String, Path)),
    responses((status = 200, body = BuyerView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn show_by_merchant(
    State(s): State<AdminState>,
    Extension(a): Extension<Actor>,
    Path(p): Path<(String, String)>,
) -> Answer {
    show(&s, &a, by_merchant(&p)).await
}

#[utoipa::path(get, path = "/admin/v1/buyers/{userId}", tag = "buyers",
    params(("userId" = String, Path)),
    responses((status = 200, body = BuyerView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn show_by_user_id(
    State(s): State<AdminState>,
    Extension(a): Extension<Actor>,
    Path(p): Path<String>,
) -> Answer {
    show(&s, &a, actions::buyer_by_user_id(&p)).await
}

#[utoipa::path(get, path = "/admin/v1/merchants/{id}/buyers/{merchantUserNo}/export", tag = "buyers",
    params(("id" = String, Path), ("merchantUserNo" = String, Path)),
    responses((status = 200, body = ExportView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn export_by_merchant(
    State(s): State<AdminState>,
    Extension(a): Extension<Actor>,
    Path(p): Path<(String, String)>,
) -> Answer {
    export(&s, &a, by_merchant(&p)).await
}

#[utoipa::path(get, path = "/admin/v1/buyers/{userId}/export", tag = "buyers",
    params(("userId" = String, Path)),
    responses((status = 200, body = ExportView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn export_by_user_id(
    State(s): State<AdminState>,
    Extension(a): Extension<Actor>,
    Path(p): Path<String>,
) -> Answer {
    export(&s, &a, actions::buyer_by_user_id(&p)).await
}

#[utoipa::path(post, path = "/admin/v1/merchants/{id}/buyers/{merchantUserNo}/sessions/revoke", tag = "buyers",
    params(("id" = String, Path), ("merchantUserNo" = String, Path)),
    responses((status = 200, body = RevokedView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn revoke_by_merchant(
    State(s): State<AdminState>,
    Extension(a): Extension<Actor>,
    Path(p): Path<(String, String)>,
) -> Answer {
    revoke(&s, &a, by_merchant(&p)).await
}

#[utoipa::path(post, path = "/admin/v1/buyers/{userId}/sessions/revoke", tag = "buyers",
    params(("userId" = String, Path)),
    responses((status = 200, body = RevokedView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn revoke_by_user_id(
    State(s): State<AdminState>,
    Extension(a): Extension<Actor>,
    Path(p): Path<String>,
) -> Answer {
    revoke(&s, &a, actions::buyer_by_user_id(&p)).await
}

#[utoipa::path(delete, path = "/admin/v1/merchants/{id}/buyers/{merchantUserNo}", tag = "buyers",
    params(("id" = String, Path), ("merchantUserNo" = String, Path)),
    responses((status = 200, body = ErasedView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn erase_by_merchant(
    State(s): State<AdminState>,
    Extension(a): Extension<Actor>,
    Path(p): Path<(String, String)>,
) -> Answer {
    erase(&s, &a, by_merchant(&p)).await
}

#[utoipa::path(delete, path = "/admin/v1/buyers/{userId}", tag = "buyers",
    params(("userId" = String, Path)),
    responses((status = 200, body = ErasedView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn erase_by_user_id(
    State(s): State<AdminState>,
    Extension(a): Extension<Actor>,
    Path(p): Path<String>,
) -> Answer {
    erase(&s, &a, actions::buyer_by_user_id(&p)).await
}

#[utoipa::path(get, path = "/admin/v1/audit", tag = "audit",
    params(("limit" = Option<i64>, Query, description = "1-1000, default 100")),
    responses((status = 200, body = Vec<AuditView>), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn audit(State(state): State<AdminState>, Query(query): Query<AuditQuery>) -> Answer {
    let limit = match query.limit.as_deref() {
        None => 100,
        Some(text) => match text.parse::<i64>() {
            Ok(limit) if (1..=payfac_store::AUDIT_LIMIT_MAX).contains(&limit) => limit,
            _ => return Err(Problem::invalid("limit must be an integer from 1 to 1000")),
        },
    };
    let records = state.store.audit_log(limit).await.map_err(Refusal::from)?;
    ok(
        StatusCode::OK,
        records.iter().map(AuditView::from).collect::<Vec<_>>(),
    )
}
