//! `POST /api/auth/login`: e-mail and password for a JWT.

use axum::Json;
use axum::extract::State;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::users::UserView;
use crate::AppState;
use crate::credentials::{TOKEN_LIFETIME_HOURS, verify_password};
use crate::http::caller::issue_token;
use crate::http::error::{ApiError, ApiResult, ErrorCode};
use crate::http::extract::ApiJson;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    email: String,
    password: String,
    /// Needed only when the same e-mail and password open accounts in several tenants.
    #[serde(default)]
    tenant_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
struct LoginResponse {
    token: String,
    #[schema(value_type = String, format = DateTime)]
    expires_at: Timestamp,
    user: UserView,
}

/// A hash to verify against when the address is unknown, so a miss takes as long as a hit and
/// response times do not reveal which addresses have accounts.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        crate::credentials::hash_password("decoy password").unwrap_or_else(|_| String::new())
    })
}

/// Log in with e-mail and password; answers an HS256 JWT whose `sub` is the user id.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = LoginResponse),
    (status = 401, description = "Wrong e-mail or password")))]
async fn login(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let candidates = state.store.find_logins(request.email.trim()).await?;
    let password = request.password.clone();
    let hashes: Vec<Option<String>> = candidates.iter().map(|c| c.password_hash.clone()).collect();
    // Argon2 is deliberately slow: keep it off the async workers.
    let matches = tokio::task::spawn_blocking(move || {
        if hashes.is_empty() {
            verify_password(&password, decoy_hash());
        }
        hashes
            .iter()
            .map(|hash| {
                hash.as_deref()
                    .is_some_and(|h| verify_password(&password, h))
            })
            .collect::<Vec<bool>>()
    })
    .await
    .map_err(ApiError::internal)?;
    let mut matched: Vec<_> = candidates
        .into_iter()
        .zip(matches)
        .filter(|(candidate, ok)| {
            *ok && request
                .tenant_id
                .is_none_or(|tenant| candidate.user.tenant_id.0 == tenant)
        })
        .map(|(candidate, _)| candidate.user)
        .collect();
    let user = match matched.len() {
        0 => {
            return Err(ApiError::unauthorized(
                "The e-mail address or password is wrong.",
            ));
        }
        1 => matched.remove(0),
        _ => {
            return Err(ApiError::bad_request(
                ErrorCode::TenantRequired,
                "This account exists in several tenants: add `tenant_id` to choose one.",
            )
            .with("field", "tenant_id"));
        }
    };
    let expires_at = Timestamp::now()
        .checked_add(TOKEN_LIFETIME_HOURS.hours())
        .map_err(ApiError::internal)?;
    let token = issue_token(&state, &user, expires_at)?;
    Ok(Json(LoginResponse {
        token,
        expires_at,
        user: user.into(),
    }))
}
