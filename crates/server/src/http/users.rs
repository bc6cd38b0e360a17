//! `/api/users`: the members of the caller's tenant.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use pillow_store::{NewUser, Role, User, UserId, UserPatch};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{check_time_zone, parse_id};
use crate::AppState;
use crate::credentials::hash_password;
use crate::domain::members::{Upcoming, remove_member};
use crate::domain::users::check_owner_kept;
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ApiResult, ErrorCode};
use crate::http::extract::{ApiJson, ApiQuery};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(current_user))
        .routes(routes!(get_user, update_user, delete_user))
}

/// A user as the API shows it: never the password hash.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    id: UserId,
    #[schema(value_type = String, format = Uuid)]
    tenant_id: pillow_store::TenantId,
    email: String,
    name: String,
    #[schema(value_type = String, example = "member")]
    role: Role,
    time_zone: String,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            tenant_id: user.tenant_id,
            email: user.email,
            name: user.name,
            role: user.role,
            time_zone: user.time_zone,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct UserList {
    users: Vec<UserView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    email: String,
    name: String,
    /// `owner`, `admin` or `member` (default).
    #[serde(default)]
    role: Option<String>,
    /// IANA zone; default `UTC`.
    #[serde(default)]
    time_zone: Option<String>,
    /// At least 8 characters; without one the user cannot log in with a password.
    #[serde(default)]
    password: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateUser {
    email: Option<String>,
    name: Option<String>,
    role: Option<String>,
    time_zone: Option<String>,
    password: Option<String>,
}

/// A plausible e-mail address; see [`crate::domain::users::check_email`].
pub fn check_email(field: &str, email: &str) -> Result<String, ApiError> {
    crate::domain::users::check_email(email).map_err(|e| ApiError::from_user(field, e))
}

fn check_name(field: &str, name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            field,
            ErrorCode::InvalidName,
            "A name must have 1 to 200 characters.",
        ));
    }
    Ok(name.to_string())
}

fn check_role(caller: &Caller, role: &str) -> Result<Role, ApiError> {
    let role = Role::parse(role).ok_or_else(|| {
        ApiError::invalid(
            "role",
            ErrorCode::InvalidRole,
            "A role is owner, admin or member.",
        )
    })?;
    let caller_is_owner = caller.user().is_none_or(|u| u.role == Role::Owner);
    if role == Role::Owner && !caller_is_owner {
        return Err(ApiError::forbidden("Only an owner can make another owner."));
    }
    Ok(role)
}

fn check_password(password: &str) -> Result<String, ApiError> {
    crate::domain::users::check_password_length(password)
        .map_err(|e| ApiError::from_user("password", e))?;
    Ok(hash_password(password)?)
}

/// List the members of your tenant.
#[utoipa::path(get, path = "/api/users", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserList)))]
async fn list_users(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<UserList>> {
    let users = state.store.list_users(caller.tenant).await?;
    Ok(Json(UserList {
        users: users.into_iter().map(UserView::from).collect(),
    }))
}

/// Add a member (owners and admins).
#[utoipa::path(post, path = "/api/users", tag = "users", security(("bearer" = [])),
    request_body = CreateUser, responses((status = 201, body = UserView),
        (status = 403, description = "Only owners and admins add members"),
        (status = 409, description = "A member with this e-mail address exists")))]
async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    caller.require_admin()?;
    let email = check_email("email", &body.email)?;
    let name = check_name("name", &body.name)?;
    let role = check_role(&caller, body.role.as_deref().unwrap_or("member"))?;
    let time_zone = body.time_zone.unwrap_or_else(|| "UTC".into());
    check_time_zone("time_zone", &time_zone)?;
    let password_hash = body.password.as_deref().map(check_password).transpose()?;
    let user = state
        .store
        .create_user(
            caller.tenant,
            &NewUser {
                email,
                name,
                role,
                time_zone,
                password_hash,
            },
        )
        .await?;
    state.teams.invalidate(caller.tenant);
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// The caller, when it is a person.
#[utoipa::path(get, path = "/api/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 404, description = "An API key is not a user")))]
async fn current_user(caller: Caller) -> ApiResult<Json<UserView>> {
    let user = caller
        .user()
        .cloned()
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(user.into()))
}

/// One member.
#[utoipa::path(get, path = "/api/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = UserView), (status = 404)))]
async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let id = parse_id(&id, "user")?;
    let user = state
        .store
        .get_user(caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(user.into()))
}

/// Change a member: admins change anyone; a member changes their own name, zone, e-mail and
/// password, not their role.
#[utoipa::path(patch, path = "/api/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateUser,
    responses((status = 200, body = UserView), (status = 403), (status = 404),
        (status = 409, description = "`last_owner`, or the e-mail address is taken")))]
async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    let id = parse_id(&id, "user")?;
    let is_self = caller.user().is_some_and(|u| u.id == id);
    if !is_self {
        // Check existence first so another tenant's id is a 404, not a 403.
        state
            .store
            .get_user(caller.tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("user"))?;
        caller.require_admin()?;
    }
    let role = match body.role.as_deref() {
        Some(role) => {
            caller.require_admin()?;
            let role = check_role(&caller, role)?;
            let members = state.store.list_users(caller.tenant).await?;
            check_owner_kept(&members, id, Some(role))?;
            Some(role)
        }
        None => None,
    };
    if let Some(zone) = &body.time_zone {
        check_time_zone("time_zone", zone)?;
    }
    let patch = UserPatch {
        email: body
            .email
            .as_deref()
            .map(|e| check_email("email", e))
            .transpose()?,
        name: body
            .name
            .as_deref()
            .map(|n| check_name("name", n))
            .transpose()?,
        role,
        time_zone: body.time_zone,
        password_hash: body.password.as_deref().map(check_password).transpose()?,
    };
    let user = state
        .store
        .update_user(caller.tenant, id, &patch)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    state.teams.invalidate(caller.tenant);
    Ok(Json(user.into()))
}

/// What to do with a member's upcoming bookings as they are removed.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DeleteQuery {
    /// `reassign`: hand each upcoming confirmed booking to a teammate of its agent, free at
    /// its time and under their limits, picked by the agent's distribution strategy (all or
    /// none: one that no one can take is a 409 `bookings_not_reassigned` naming it).
    /// `cancel`: cancel each, with the usual notifications and calendar write-back. Without
    /// it, a member with upcoming bookings is a 409 `member_has_bookings` naming them.
    #[param(inline)]
    upcoming: Option<Upcoming>,
}

/// Remove a member (owners and admins). The member's row is kept as removed, so every booking
/// and confirmation code stays whole; they disappear from lists, logins and tokens. Refused
/// (409) for the only owner, and for a member with upcoming bookings unless `upcoming` says
/// what to do with them.
#[utoipa::path(delete, path = "/api/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path), DeleteQuery),
    responses((status = 204, description = "Removed"), (status = 403), (status = 404), (status = 409,
        description = "`last_owner`, `cannot_delete_self`, `member_has_bookings` or \
        `bookings_not_reassigned`; the last two name the `bookings`")))]
async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "user")?;
    state
        .store
        .get_user(caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    caller.require_admin()?;
    if caller.user().is_some_and(|u| u.id == id) {
        return Err(ApiError::conflict(
            ErrorCode::CannotDeleteSelf,
            "You cannot delete your own account; ask another admin.",
        ));
    }
    let members = state.store.list_users(caller.tenant).await?;
    check_owner_kept(&members, id, None)?;
    remove_member(&state, caller.tenant, id, query.upcoming).await?;
    Ok(StatusCode::NO_CONTENT)
}
