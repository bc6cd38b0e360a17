//! Turning a connection's sync off and on, and starting the connect flow: the operations both
//! the API (`http/google.rs`) and the dashboard's calendars page run.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use pillow_providers::google::pkce_pair;
use pillow_store::{CalendarConnection, ConnectionPatch, StoreError, TenantId, UserId};

use super::{GoogleSync, Trigger};
use crate::AppState;
use crate::sync::SyncEngine;

/// Pauses (`false`) or resumes (`true`) a connection's sync. Pausing stops its push channel;
/// resuming queues the bookings and events changed meanwhile and syncs in the background.
/// `None` when the connection is gone.
///
/// # Errors
/// Database failures.
pub async fn set_sync_enabled(
    state: &AppState,
    connection: &CalendarConnection,
    enabled: bool,
) -> Result<Option<CalendarConnection>, StoreError> {
    if enabled == connection.sync_enabled {
        return Ok(Some(connection.clone()));
    }
    let patch = if enabled {
        ConnectionPatch {
            sync_enabled: Some(true),
            // Due now, so the poller catches up even if the sync below cannot run.
            next_sync_at: Some(Timestamp::now()),
            ..Default::default()
        }
    } else {
        ConnectionPatch {
            sync_enabled: Some(false),
            channel: connection.channel.is_some().then_some(None),
            ..Default::default()
        }
    };
    // Stored first: from here on the webhook, the poller and on-demand syncs obey it.
    let Some(updated) = state
        .store
        .update_calendar_connection(connection.tenant_id, connection.id, &patch)
        .await?
    else {
        return Ok(None);
    };
    let google = state.google.clone().filter(|_| connection.kind == "google");
    if enabled {
        // Bookings (and events) changed while paused were not written: write them now.
        if google.is_some() {
            super::queue_catch_up(state, updated.tenant_id, updated.user_id).await?;
        } else {
            crate::sync::connections::queue_catch_up(
                &state.sync,
                updated.tenant_id,
                updated.user_id,
            )
            .await?;
        }
        if state.sync.provider(&updated.kind).is_some() {
            sync_in_background(
                state.sync.clone(),
                &updated,
                Trigger::Resume,
                Duration::from_secs(60),
            );
        }
    } else if let (Some(google), Some(channel)) = (google, &connection.channel) {
        google.stop_channel(connection, channel).await;
    }
    Ok(Some(updated))
}

/// Syncs the connection in the background once its lease is free (waiting at most `wait`):
/// the request that asked for it answers at once.
pub fn sync_in_background(
    engine: Arc<SyncEngine>,
    connection: &CalendarConnection,
    trigger: Trigger,
    wait: Duration,
) {
    let (tenant, id) = (connection.tenant_id, connection.id);
    tokio::spawn(async move {
        let _ = engine.sync_when_free(tenant, id, trigger, wait).await;
    });
}

/// Google's consent page for `user` (offline access, PKCE S256, a signed expiring state bound
/// to the member), pre-filled with `hint` when given.
pub fn connect_url(
    google: &GoogleSync,
    tenant: TenantId,
    user: UserId,
    hint: Option<&str>,
) -> String {
    let (verifier, challenge) = pkce_pair();
    let signed = google
        .states
        .sign(tenant, user, &verifier, Timestamp::now());
    let hint = hint.filter(|h| !h.trim().is_empty());
    google.oauth.authorization_url(&signed, &challenge, hint)
}
