//! A tenant's wording of its notification e-mails, `/api/notification-templates/{kind}`: read
//! (its own or the built-in one), replace, reset, and preview with sample facts. A template
//! that does not render is refused when saved (422), never found out when a message is due.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ApiResult, ErrorCode};
use crate::http::extract::ApiJson;
use crate::notify::templates::{self, MessageFacts, MessageKind, Template};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            get_notification_template,
            put_notification_template,
            reset_notification_template
        ))
        .routes(routes!(preview_notification_template))
}

/// The longest subject and body accepted: a message, not a document.
const MAX_SUBJECT: usize = 500;
const MAX_BODY: usize = 20_000;

/// The variables a template may use.
const VARIABLES: [&str; 16] = [
    "recipient",
    "customer_name",
    "customer_email",
    "customer_phone",
    "notes",
    "host_name",
    "agent_name",
    "title",
    "date",
    "time",
    "end_time",
    "time_zone",
    "duration",
    "confirmation_code",
    "reschedule_url",
    "cancel_url",
];

#[derive(Serialize, ToSchema)]
struct TemplateView {
    /// `booking_created`, `booking_rescheduled`, `booking_cancelled` or `booking_reminder`.
    kind: String,
    subject: String,
    /// The plain-text body; the HTML part is made from it.
    body: String,
    /// False while the built-in wording is in use.
    custom: bool,
    variables: Vec<&'static str>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TemplateBody {
    subject: String,
    body: String,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
struct PreviewBody {
    /// Preview this wording instead of the saved one; both or neither.
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    body: Option<String>,
    /// `caller` (the default) or `member`.
    #[serde(default)]
    recipient: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct PreviewView {
    subject: String,
    text: String,
    html: String,
}

fn kind_of(name: &str) -> ApiResult<MessageKind> {
    MessageKind::parse(name).ok_or_else(|| ApiError::not_found("notification template kind"))
}

fn view(kind: MessageKind, template: Template, custom: bool) -> TemplateView {
    TemplateView {
        kind: kind.as_str().to_string(),
        subject: template.subject,
        body: template.body,
        custom,
        variables: VARIABLES.to_vec(),
    }
}

/// Refuses a template that is too long or does not render for either recipient.
fn check(template: &Template) -> ApiResult<()> {
    if template.subject.trim().is_empty() || template.subject.chars().count() > MAX_SUBJECT {
        return Err(ApiError::invalid(
            "subject",
            ErrorCode::InvalidTemplate,
            format!("A subject has 1 to {MAX_SUBJECT} characters."),
        ));
    }
    if template.body.trim().is_empty() || template.body.chars().count() > MAX_BODY {
        return Err(ApiError::invalid(
            "body",
            ErrorCode::InvalidTemplate,
            format!("A body has 1 to {MAX_BODY} characters."),
        ));
    }
    for recipient in ["caller", "member"] {
        let facts = MessageFacts {
            recipient,
            ..MessageFacts::sample()
        };
        templates::render(template, &facts).map_err(|e| {
            ApiError::invalid(
                e.part,
                ErrorCode::InvalidTemplate,
                format!("The template does not render: {}", e.message),
            )
        })?;
    }
    Ok(())
}

/// The wording in use for `kind`: the tenant's own, or the built-in one.
#[utoipa::path(get, path = "/api/notification-templates/{kind}", tag = "notifications",
    security(("bearer" = [])), params(("kind" = String, Path)),
    responses((status = 200, body = TemplateView), (status = 404)))]
async fn get_notification_template(
    State(state): State<AppState>,
    caller: Caller,
    Path(kind): Path<String>,
) -> ApiResult<Json<TemplateView>> {
    let kind = kind_of(&kind)?;
    let saved = state
        .store
        .get_notification_template(caller.tenant, kind.as_str())
        .await?;
    Ok(Json(match saved {
        Some(t) => view(
            kind,
            Template {
                subject: t.subject,
                body: t.body,
            },
            true,
        ),
        None => view(kind, templates::default_template(kind), false),
    }))
}

/// Replaces the wording of `kind`, once it renders.
#[utoipa::path(put, path = "/api/notification-templates/{kind}", tag = "notifications",
    security(("bearer" = [])), params(("kind" = String, Path)), request_body = TemplateBody,
    responses((status = 200, body = TemplateView), (status = 403), (status = 404), (status = 422)))]
async fn put_notification_template(
    State(state): State<AppState>,
    caller: Caller,
    Path(kind): Path<String>,
    ApiJson(body): ApiJson<TemplateBody>,
) -> ApiResult<Json<TemplateView>> {
    caller.require_admin()?;
    let kind = kind_of(&kind)?;
    let template = Template {
        subject: body.subject,
        body: body.body,
    };
    check(&template)?;
    state
        .store
        .put_notification_template(
            caller.tenant,
            kind.as_str(),
            &template.subject,
            &template.body,
        )
        .await?;
    Ok(Json(view(kind, template, true)))
}

/// Goes back to the built-in wording of `kind`.
#[utoipa::path(delete, path = "/api/notification-templates/{kind}", tag = "notifications",
    security(("bearer" = [])), params(("kind" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
async fn reset_notification_template(
    State(state): State<AppState>,
    caller: Caller,
    Path(kind): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require_admin()?;
    let kind = kind_of(&kind)?;
    state
        .store
        .delete_notification_template(caller.tenant, kind.as_str())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Renders `kind` with sample facts: the saved wording, or the one in the request.
#[utoipa::path(post, path = "/api/notification-templates/{kind}/preview", tag = "notifications",
    security(("bearer" = [])), params(("kind" = String, Path)), request_body = PreviewBody,
    responses((status = 200, body = PreviewView), (status = 404), (status = 422)))]
async fn preview_notification_template(
    State(state): State<AppState>,
    caller: Caller,
    Path(kind): Path<String>,
    ApiJson(body): ApiJson<PreviewBody>,
) -> ApiResult<Json<PreviewView>> {
    let kind = kind_of(&kind)?;
    let recipient = match body.recipient.as_deref() {
        None | Some("caller") => "caller",
        Some("member") => "member",
        Some(_) => {
            return Err(ApiError::invalid(
                "recipient",
                ErrorCode::InvalidBody,
                "recipient is caller or member.",
            ));
        }
    };
    let template = match (body.subject, body.body) {
        (Some(subject), Some(body)) => {
            let template = Template { subject, body };
            check(&template)?;
            template
        }
        (None, None) => crate::notify::wording(state.store.as_ref(), caller.tenant, kind).await?,
        _ => {
            return Err(ApiError::invalid(
                "body",
                ErrorCode::InvalidBody,
                "Give both subject and body to preview new wording, or neither.",
            ));
        }
    };
    let facts = MessageFacts {
        recipient,
        ..MessageFacts::sample()
    };
    let rendered = templates::render(&template, &facts)
        .map_err(|e| ApiError::invalid(e.part, ErrorCode::InvalidTemplate, e.message))?;
    Ok(Json(PreviewView {
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
    }))
}
