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
use crate::credentials::TOKEN_LIFETIME_HOURS;
use crate::domain::sessions::accounts_opened_by;
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

/// Log in with e-mail and password; answers an HS256 JWT whose `sub` is the user id.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = LoginResponse),
    (status = 401, description = "Wrong e-mail or password")))]
async fn login(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let mut matched: Vec<_> = accounts_opened_by(&state, &request.email, &request.password)
        .await?
        .into_iter()
        .filter(|user| {
            request
                .tenant_id
                .is_none_or(|tenant| user.tenant_id.0 == tenant)
        })
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
