//! Team: the organisation's members with their roles, zones, hours and calendars; adding a
//! member with an invitation link that sets their password once; changing roles; removing a
//! member (refused, as in the API, while callers hold codes of their bookings). Owners and
//! admins only. The invitation page itself, for the invited person, is in [`invite`].

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use maud::{Markup, html};
use pillow_store::{NewUser, Role, User, UserId, UserPatch};
use serde::Deserialize;

use super::csrf;
use super::errors::{PageError, PageResult};
use super::layout::{self, Nav};
use super::session::Viewer;
use crate::AppState;
use crate::domain::error::DomainError;
use crate::domain::invitations;
use crate::domain::members::{Upcoming, remove_member};
use crate::domain::users::{check_email, check_owner_kept, check_time_zone};

#[derive(Deserialize, Default)]
pub struct TeamQuery {
    /// The member whose invitation link to show.
    invited: Option<String>,
    done: Option<String>,
}

/// The add-member form's values, kept when it is refused.
#[derive(Deserialize, Default, Clone)]
pub struct AddForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    time_zone: String,
}

/// The origin people open links at: `PUBLIC_URL`, or the host they reached us by.
fn origin(state: &AppState, headers: &HeaderMap) -> String {
    let public = state.config.public_url.trim_end_matches('/');
    if !public.is_empty() {
        return public.to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn role_options(viewer: &Viewer, current: Role) -> Markup {
    // Only an owner makes another owner, as in the API.
    let roles: &[Role] = if viewer.user.role == Role::Owner {
        &[Role::Member, Role::Admin, Role::Owner]
    } else {
        &[Role::Member, Role::Admin]
    };
    html! {
        @for role in roles {
            option value=(role.as_str()) selected[*role == current] { (role.as_str()) }
        }
    }
}

struct Render<'a> {
    invited: Option<(&'a User, String)>,
    notice: Option<&'a str>,
    error: Option<String>,
    form: AddForm,
}

async fn render(state: &AppState, viewer: &Viewer, shown: Render<'_>) -> PageResult<Markup> {
    let tenant = viewer.user.tenant_id;
    let mut members = state.store.list_users(tenant).await?;
    members.sort_by(|a, b| a.name.cmp(&b.name));
    let mut calendars: HashMap<UserId, usize> = HashMap::new();
    for connection in state.store.list_calendar_connections(tenant, None).await? {
        *calendars.entry(connection.user_id).or_default() += 1;
    }
    let default_zone = if shown.form.time_zone.is_empty() {
        viewer.user.time_zone.clone()
    } else {
        shown.form.time_zone.clone()
    };
    let content = html! {
        @if let Some(notice) = shown.notice {
            p.notice role="status" { (notice) }
        }
        @if let Some((user, link)) = &shown.invited {
            section.card aria-labelledby="invite-title" data-testid="invitation" {
                h2 #invite-title { "Invitation for " (user.name) }
                p {
                    "Send this link to " (user.email) ". It lets them set a password once and "
                    "works for 7 days; opening a new link here makes a fresh one."
                }
                label for="invite-link" { "Invitation link" }
                input #invite-link type="text" readonly value=(link);
            }
        }
        div.table-wrap {
            table.bookings {
                caption.visually-hidden { "Members" }
                thead {
                    tr {
                        th scope="col" { "Member" }
                        th scope="col" { "Role" }
                        th scope="col" { "Time zone" }
                        th scope="col" { "Calendars" }
                        th scope="col" { "Actions" }
                    }
                }
                tbody {
                    @for member in &members {
                        tr data-member=(member.id) {
                            td data-label="Member" {
                                strong { (member.name) } br;
                                span.muted { (member.email) }
                            }
                            td data-label="Role" {
                                @if member.id == viewer.user.id {
                                    (member.role.as_str()) " (you)"
                                } @else {
                                    form.inline method="post" action={ "/dashboard/team/" (member.id) "/role" } {
                                        input type="hidden" name=(csrf::FIELD) value=(viewer.csrf);
                                        label.visually-hidden for={ "role-" (member.id) } { "Role of " (member.name) }
                                        select id={ "role-" (member.id) } name="role" {
                                            (role_options(viewer, member.role))
                                        }
                                        button.secondary type="submit" { "Change" }
                                    }
                                }
                            }
                            td data-label="Time zone" { (member.time_zone) }
                            td data-label="Calendars" {
                                (calendars.get(&member.id).copied().unwrap_or(0)) " connected"
                            }
                            td data-label="Actions" {
                                div.actions-list {
                                    a href={ "/dashboard/hours?user=" (member.id) } { "Hours" }
                                    a href={ "/dashboard/bookings?member=" (member.id) } { "Bookings" }
                                    a href={ "/dashboard/team?invited=" (member.id) } { "Invitation link" }
                                    @if member.id != viewer.user.id {
                                        form.inline method="post" action={ "/dashboard/team/" (member.id) "/remove" } {
                                            input type="hidden" name=(csrf::FIELD) value=(viewer.csrf);
                                            label.visually-hidden for={ "upcoming-" (member.id) } { "Upcoming bookings of " (member.name) }
                                            select id={ "upcoming-" (member.id) } name="upcoming" {
                                                option value="" { "Only if no upcoming bookings" }
                                                option value="reassign" { "Hand upcoming bookings to teammates" }
                                                option value="cancel" { "Cancel upcoming bookings" }
                                            }
                                            button.link.danger-text type="submit" { "Remove " span.visually-hidden { (member.name) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="add-title" {
            h2 #add-title { "Add a member" }
            p.muted { "They get an invitation link to set their own password." }
            @if let Some(error) = &shown.error {
                p.error #add-error role="alert" { (error) }
            }
            form.grid2 method="post" action="/dashboard/team" {
                input type="hidden" name=(csrf::FIELD) value=(viewer.csrf);
                div {
                    label for="name" { "Name" }
                    input #name name="name" required maxlength="200" value=(shown.form.name);
                }
                div {
                    label for="email" { "E-mail" }
                    input #email type="email" name="email" required value=(shown.form.email);
                }
                div {
                    label for="new-role" { "Role" }
                    select #new-role name="role" {
                        (role_options(viewer, Role::parse(&shown.form.role).unwrap_or(Role::Member)))
                    }
                }
                div {
                    label for="time_zone" { "Time zone" }
                    input #time_zone name="time_zone" list="zones" required value=(default_zone)
                        autocomplete="off" spellcheck="false";
                    datalist #zones {
                        @for zone in super::hours::zones() { option value=(zone) {} }
                    }
                }
                div { button type="submit" id="add-member" { "Add member" } }
            }
        }
    };
    Ok(layout::page("Team", viewer, Nav::Team, content))
}

pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(query): Query<TeamQuery>,
) -> PageResult<Response> {
    viewer.require_admin()?;
    let tenant = viewer.user.tenant_id;
    let invited = match query.invited.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => {
            let id: UserId = raw.parse().map_err(|_| PageError::not_found("member"))?;
            let user = state
                .store
                .get_user(tenant, id)
                .await?
                .ok_or_else(|| PageError::not_found("member"))?;
            let token = invitations::issue(&state, &user, Timestamp::now()).await?;
            let link = format!("{}/dashboard/invite/{token}", origin(&state, &headers));
            Some((user, link))
        }
        None => None,
    };
    let notice = match query.done.as_deref() {
        Some("added") => Some("Member added. Send them the invitation link below."),
        Some("role") => Some("Role changed."),
        Some("removed") => Some("Member removed."),
        _ => None,
    };
    let markup = render(
        &state,
        &viewer,
        Render {
            invited: invited.as_ref().map(|(u, l)| (u, l.clone())),
            notice,
            error: None,
            form: AddForm::default(),
        },
    )
    .await?;
    Ok(layout::respond(markup))
}

/// The page again with an error, and the status saying why.
async fn refused(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    error: String,
    form: AddForm,
) -> PageResult<Response> {
    let markup = render(
        state,
        viewer,
        Render {
            invited: None,
            notice: None,
            error: Some(error),
            form,
        },
    )
    .await?;
    let mut response = layout::respond(markup);
    *response.status_mut() = status;
    Ok(response)
}

fn check_role(viewer: &Viewer, raw: &str) -> Result<Role, String> {
    let role = Role::parse(raw.trim()).ok_or("Choose a role from the list.")?;
    if role == Role::Owner && viewer.user.role != Role::Owner {
        return Err("Only an owner can make another owner.".into());
    }
    Ok(role)
}

pub async fn add(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<AddForm>,
) -> PageResult<Response> {
    viewer.require_admin()?;
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        let error = "A name must have 1 to 200 characters.".to_string();
        return refused(
            &state,
            &viewer,
            StatusCode::UNPROCESSABLE_ENTITY,
            error,
            form,
        )
        .await;
    }
    let checked = check_email(&form.email)
        .map_err(|e| e.to_string())
        .and_then(|email| {
            check_time_zone(form.time_zone.trim()).map_err(|e| e.to_string())?;
            Ok((email, check_role(&viewer, &form.role)?))
        });
    let (email, role) = match checked {
        Ok(checked) => checked,
        Err(error) => {
            return refused(
                &state,
                &viewer,
                StatusCode::UNPROCESSABLE_ENTITY,
                error,
                form,
            )
            .await;
        }
    };
    let created = state
        .store
        .create_user(
            viewer.user.tenant_id,
            &NewUser {
                email,
                name: name.to_string(),
                role,
                time_zone: form.time_zone.trim().to_string(),
                password_hash: None,
            },
        )
        .await
        .map_err(DomainError::from);
    let user = match created {
        Ok(user) => user,
        Err(error) => {
            let status = error.kind.status();
            return refused(&state, &viewer, status, error.message, form).await;
        }
    };
    state.teams.invalidate(viewer.user.tenant_id);
    Ok(Redirect::to(&format!("/dashboard/team?done=added&invited={}", user.id)).into_response())
}

/// A member of the viewer's organisation named in the path; another's is not found.
async fn member(state: &AppState, viewer: &Viewer, raw: &str) -> PageResult<User> {
    let id: UserId = raw.parse().map_err(|_| PageError::not_found("member"))?;
    state
        .store
        .get_user(viewer.user.tenant_id, id)
        .await?
        .ok_or_else(|| PageError::not_found("member"))
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

pub async fn change_role(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<RoleForm>,
) -> PageResult<Response> {
    viewer.require_admin()?;
    let target = member(&state, &viewer, &id).await?;
    let role = match check_role(&viewer, &form.role) {
        Ok(role) => role,
        Err(error) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return refused(&state, &viewer, status, error, AddForm::default()).await;
        }
    };
    let tenant = viewer.user.tenant_id;
    let members = state.store.list_users(tenant).await?;
    let changed = match check_owner_kept(&members, target.id, Some(role)) {
        Ok(()) => {
            let patch = UserPatch {
                role: Some(role),
                ..UserPatch::default()
            };
            state
                .store
                .update_user(tenant, target.id, &patch)
                .await
                .map_err(DomainError::from)
        }
        Err(error) => Err(error),
    };
    if let Err(error) = changed {
        let status = error.kind.status();
        return refused(&state, &viewer, status, error.message, AddForm::default()).await;
    }
    state.teams.invalidate(tenant);
    Ok(Redirect::to("/dashboard/team?done=role").into_response())
}

pub async fn remove(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<RemoveForm>,
) -> PageResult<Response> {
    viewer.require_admin()?;
    let target = member(&state, &viewer, &id).await?;
    let tenant = viewer.user.tenant_id;
    if target.id == viewer.user.id {
        let error = "You cannot remove yourself; ask another admin.".to_string();
        return refused(
            &state,
            &viewer,
            StatusCode::CONFLICT,
            error,
            AddForm::default(),
        )
        .await;
    }
    let upcoming = match form.upcoming.as_deref().unwrap_or("") {
        "" => None,
        "reassign" => Some(Upcoming::Reassign),
        "cancel" => Some(Upcoming::Cancel),
        _ => {
            return Err(PageError::bad_request(
                "Choose what happens to upcoming bookings.",
            ));
        }
    };
    let members = state.store.list_users(tenant).await?;
    // Through the domain, as the API does: refused with the bookings named, or those bookings
    // handed over or cancelled (with their notices) before the member is removed.
    let removed = match check_owner_kept(&members, target.id, None) {
        Ok(()) => remove_member(&state, tenant, target.id, upcoming).await,
        Err(error) => Err(error),
    };
    if let Err(error) = removed {
        let status = error.kind.status();
        return refused(&state, &viewer, status, error.message, AddForm::default()).await;
    }
    Ok(Redirect::to("/dashboard/team?done=removed").into_response())
}

/// The remove button's form: what happens to the member's upcoming bookings.
#[derive(Deserialize)]
pub struct RemoveForm {
    upcoming: Option<String>,
}

/// The invited person's page: set a password once, then log in.
pub mod invite {
    use super::*;

    #[derive(Deserialize)]
    pub struct PasswordForm {
        #[serde(default)]
        password: String,
    }

    fn form(user: &User, token: &str, error: Option<&str>) -> Markup {
        html! {
            p { "Welcome, " (user.name) ". Choose a password for " strong { (user.email) } "." }
            @if let Some(error) = error {
                p.error #password-error role="alert" { (error) }
            }
            form.stack method="post" action={ "/dashboard/invite/" (token) } {
                label for="password" { "New password (at least 8 characters)" }
                input #password type="password" name="password" required minlength="8"
                    autocomplete="new-password"
                    aria-invalid=[error.map(|_| "true")]
                    aria-describedby=[error.map(|_| "password-error")];
                button type="submit" id="set-password" { "Set password" }
            }
        }
    }

    pub async fn page(
        State(state): State<AppState>,
        Path(token): Path<String>,
    ) -> PageResult<Response> {
        let user = invitations::check(&state, &token, Timestamp::now()).await?;
        Ok(layout::respond(layout::bare(
            "Set your password",
            form(&user, &token, None),
        )))
    }

    pub async fn accept(
        State(state): State<AppState>,
        Path(token): Path<String>,
        Form(body): Form<PasswordForm>,
    ) -> PageResult<Response> {
        match invitations::accept(&state, &token, &body.password, Timestamp::now()).await {
            Ok(_) => Ok(Redirect::to("/dashboard/login?done=password").into_response()),
            Err(error)
                if error.kind.status() == StatusCode::BAD_REQUEST
                    || error.kind.status() == StatusCode::UNPROCESSABLE_ENTITY =>
            {
                let user = invitations::check(&state, &token, Timestamp::now()).await?;
                let markup = layout::bare(
                    "Set your password",
                    form(&user, &token, Some(&error.message)),
                );
                let mut response = layout::respond(markup);
                *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                Ok(response)
            }
            Err(error) => Err(error.into()),
        }
    }
}
