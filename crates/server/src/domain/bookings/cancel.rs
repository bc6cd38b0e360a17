//! Cancelling a booking: frees its time and tells the outbox, once however often it is retried.

use super::*;
use crate::outbox::{Change, JobKind, NotificationPlan};
use pillow_store::BookingStatus;

/// Cancels; shared by the authenticated and the self-service routes.
pub async fn cancel(
    state: &AppState,
    booking: &Booking,
    reason: Option<String>,
    key: Option<String>,
) -> DomainResult<(StatusCode, BookingView)> {
    let tenant = booking.tenant_id;
    // Any host's row of a collective booking stands for the whole booking: its lead is
    // cancelled, which frees every host.
    let group = state.store.booking_group(tenant, booking.id).await?;
    let others: Vec<_> = group.iter().skip(1).map(|b| (b.id, b.user_id)).collect();
    let lead = group
        .into_iter()
        .next()
        .filter(|lead| lead.id != booking.id);
    let booking = lead.as_ref().unwrap_or(booking);
    let hash = request_hash(
        "cancel",
        &booking.id.to_string(),
        &json!({"reason": reason}),
    );
    idempotent(
        state,
        tenant,
        key,
        hash,
        StatusCode::OK,
        |record| async move {
            if booking.status == BookingStatus::Cancelled {
                return view_of(state, booking).await;
            }
            let mut after = booking.clone();
            after.status = BookingStatus::Cancelled;
            after.cancel_reason = reason.clone();
            let now = Timestamp::now();
            after.cancelled_at = Some(now);
            after.updated_at = now;
            let body = view_of(state, &after).await?;
            let response = recorded(record, &body);
            let mut jobs = booking_jobs(state, JobKind::BookingCancelled, booking).await?;
            jobs.extend(super::collective::other_hosts_write_back(
                others.iter().copied(),
            ));
            state
                .store
                .cancel_booking(
                    tenant,
                    booking.id,
                    reason.as_deref(),
                    &jobs,
                    response.as_ref(),
                )
                .await?
                .ok_or_else(|| DomainError::not_found("booking"))?;
            metrics::counter!("bookings_total", "outcome" => "cancelled").increment(1);
            // The answer recorded for the key, so a retry gets exactly this.
            Ok(body)
        },
    )
    .await
}

/// The jobs of a change to an existing booking (`booking` as it is after the change): its
/// lifecycle job, and the plan of its e-mails and text when its agent's booking settings ask
/// for them, the e-mails carrying the invite's next `SEQUENCE`; a move's plan also sets the
/// reminders for the new start (those for the old one are dropped when due).
pub(crate) async fn booking_jobs(
    state: &AppState,
    kind: JobKind,
    booking: &Booking,
) -> DomainResult<Vec<pillow_store::NewJob>> {
    let Some(agent) = booking.agent_id else {
        return Ok(lifecycle_jobs(kind, booking.id, booking.user_id, None));
    };
    let settings = state
        .store
        .get_booking_settings(booking.tenant_id, agent)
        .await?;
    let send_email = settings
        .as_ref()
        .and_then(|s| s.pointer("/notifications/send_email"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let notifications: Notifications = settings
        .as_ref()
        .and_then(|s| s.get("notifications"))
        .and_then(|n| serde_json::from_value(n.clone()).ok())
        .unwrap_or_default();
    let change = Change::of(kind).ok_or_else(|| DomainError::internal("not a booking change"))?;
    let mut plan = NotificationPlan {
        sms: notifications.send_sms,
        ..NotificationPlan::new(change, booking.id, booking.user_id)
    };
    if kind == JobKind::BookingRescheduled {
        plan.reminders = Some(notifications.reminder_plan(
            booking.id,
            booking.user_id,
            booking.start,
            Timestamp::now(),
        ));
    }
    if send_email {
        let sequence = state
            .store
            .next_notice_sequence(booking.tenant_id, booking.id)
            .await?
            .ok_or_else(|| DomainError::not_found("booking"))?;
        plan.email_sequence = Some(sequence);
    }
    let jobs = lifecycle_jobs(kind, booking.id, booking.user_id, Some(plan));
    Ok(jobs)
}
