//! Push-notification channels: opened per connection, renewed before they expire, stopped on
//! disconnect.

use super::*;

impl GoogleSync {
    /// Opens a channel if there is none or it ends soon, then stops the old one. A channel
    /// Google refuses is not fatal: polling stays the safety net.
    pub(crate) async fn ensure_channel(
        &self,
        connection: &CalendarConnection,
    ) -> Result<(), SyncError> {
        let now = Timestamp::now();
        if connection
            .channel
            .as_ref()
            .is_some_and(|c| c.expires_at > now + CHANNEL_RENEW_BEFORE)
        {
            return Ok(());
        }
        let token = random_token();
        let request = WatchRequest {
            id: Uuid::new_v4().to_string(),
            address: self.webhook_address.clone(),
            token: token.clone(),
            ttl_seconds: Some(CHANNEL_TTL_SECONDS),
        };
        let opened = self
            .with_token(connection, |access| {
                let request = request.clone();
                async move {
                    self.calendar
                        .watch(access.expose_secret(), &connection.calendar_id, &request)
                        .await
                }
            })
            .await;
        let channel = match opened {
            Ok(channel) => Some(PushChannel {
                id: channel.id,
                resource_id: channel.resource_id,
                token_hash: hash_token(&token),
                expires_at: channel.expiration,
            }),
            Err(SyncError::NeedsReauth) => return Err(SyncError::NeedsReauth),
            Err(error) => {
                tracing::warn!(connection = %connection.id, %error,
                    "Google refused a push channel; polling only");
                None
            }
        };
        self.store
            .update_calendar_connection(
                connection.tenant_id,
                connection.id,
                &ConnectionPatch {
                    channel: Some(channel),
                    ..Default::default()
                },
            )
            .await?;
        if let Some(old) = &connection.channel {
            self.stop_channel(connection, old).await;
        }
        Ok(())
    }

    /// Asks Google to stop a channel; best effort (an unknown channel simply expires).
    pub async fn stop_channel(&self, connection: &CalendarConnection, channel: &PushChannel) {
        let stopped = self
            .with_token(connection, |access| async move {
                self.calendar
                    .stop_channel(access.expose_secret(), &channel.id, &channel.resource_id)
                    .await
            })
            .await;
        if let Err(error) = stopped {
            tracing::info!(connection = %connection.id, %error, "could not stop a push channel");
        }
    }
}
