//! `GET /api/outbox/jobs`: the tenant's outbox jobs (messages, webhooks, calendar writes), so a
//! message given up is seen with its booking and its reason, not only in the server log.

use axum::Json;
use axum::extract::State;
use pillow_store::JobStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::http::caller::Caller;
use crate::http::error::{ApiError, ApiResult, ErrorCode};
use crate::http::extract::ApiQuery;

/// At most this many jobs in one answer, the newest.
const LIMIT: usize = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_jobs))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct JobQuery {
    /// A job kind, e.g. `sms.booking`, `email.booking`, `email.reminder`, `webhook.booking`.
    kind: Option<String>,
    /// `pending`, `running`, `done` or `failed` (given up).
    status: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct JobList {
    jobs: Vec<JobView>,
}

#[derive(Serialize, ToSchema)]
struct JobView {
    id: Uuid,
    kind: String,
    /// `pending`, `running`, `done` or `failed`.
    status: &'static str,
    attempts: i32,
    /// Why the last attempt failed; for a `failed` job, why it was given up.
    last_error: Option<String>,
    /// The booking the job is about, if any.
    booking_id: Option<String>,
    /// Pending: when it runs (a reminder's due time, or the next retry).
    next_attempt_at: String,
    created_at: String,
    updated_at: String,
}

/// The tenant's outbox jobs, newest first, by kind and status (admins).
#[utoipa::path(get, path = "/api/outbox/jobs", tag = "notifications", security(("bearer" = [])),
    params(JobQuery), responses((status = 200, body = JobList), (status = 403), (status = 422)))]
async fn list_jobs(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<JobQuery>,
) -> ApiResult<Json<JobList>> {
    caller.require_admin()?;
    let status = query
        .status
        .as_deref()
        .map(|s| {
            JobStatus::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    ErrorCode::InvalidStatus,
                    "A job status is pending, running, done or failed.",
                )
            })
        })
        .transpose()?;
    let mut jobs = state
        .store
        .list_jobs(caller.tenant, query.kind.as_deref())
        .await?;
    jobs.retain(|job| status.is_none_or(|s| job.status == s));
    jobs.reverse();
    jobs.truncate(LIMIT);
    Ok(Json(JobList {
        jobs: jobs
            .into_iter()
            .map(|job| JobView {
                id: job.id,
                booking_id: job.payload["booking_id"].as_str().map(str::to_string),
                kind: job.kind,
                status: job.status.as_str(),
                attempts: job.attempts,
                last_error: job.last_error,
                next_attempt_at: job.next_attempt_at.to_string(),
                created_at: job.created_at.to_string(),
                updated_at: job.updated_at.to_string(),
            })
            .collect(),
    }))
}
