//! Access tokens: refreshed ahead of expiry, sealed at rest, and a refused refresh token marks the
//! connection for re-auth.

use super::*;

impl GoogleSync {
    /// A usable access token for the connection, refreshed first if it expires within
    /// [`REFRESH_AHEAD`] (or `force`, after a 401). A refresh that brings no new refresh token
    /// keeps the old one.
    ///
    /// # Errors
    /// [`SyncError::NeedsReauth`] when Google refuses the refresh token (the connection is
    /// marked so), or the refresh's own failure.
    pub async fn access_token(
        &self,
        connection: &CalendarConnection,
        force: bool,
    ) -> Result<SecretString, SyncError> {
        if connection.status == ConnectionStatus::NeedsReauth {
            return Err(SyncError::NeedsReauth);
        }
        let now = Timestamp::now();
        if !force
            && let (Some(sealed), Some(expires)) = (
                &connection.access_token_encrypted,
                connection.token_expires_at,
            )
            && expires > now + REFRESH_AHEAD
        {
            return Ok(SecretString::from(self.secrets.open(sealed)?));
        }
        let Some(sealed_refresh) = &connection.refresh_token_encrypted else {
            self.mark_needs_reauth(connection, "no refresh token is stored")
                .await?;
            return Err(SyncError::NeedsReauth);
        };
        let refresh = self.secrets.open(sealed_refresh)?;
        match self.oauth.refresh(&refresh).await {
            Ok(grant) => {
                metrics::counter!("calendar_token_refreshes_total", "provider" => "google", "outcome" => "success")
                    .increment(1);
                let patch = ConnectionPatch {
                    access_token_encrypted: Some(
                        self.secrets.seal(grant.access_token.expose_secret()),
                    ),
                    // Google usually sends no new refresh token: keep the old one.
                    refresh_token_encrypted: grant
                        .refresh_token
                        .as_ref()
                        .map(|t| self.secrets.seal(t.expose_secret())),
                    token_expires_at: Some(now + SignedDuration::from_secs(grant.expires_in)),
                    ..Default::default()
                };
                self.store
                    .update_calendar_connection(connection.tenant_id, connection.id, &patch)
                    .await?;
                Ok(grant.access_token)
            }
            Err(GoogleError::InvalidGrant) => {
                metrics::counter!("calendar_token_refreshes_total", "provider" => "google", "outcome" => "invalid_grant")
                    .increment(1);
                self.mark_needs_reauth(
                    connection,
                    "Google refused the refresh token (invalid_grant)",
                )
                .await?;
                Err(SyncError::NeedsReauth)
            }
            Err(error) => {
                metrics::counter!("calendar_token_refreshes_total", "provider" => "google", "outcome" => "error")
                    .increment(1);
                Err(error.into())
            }
        }
    }

    pub(crate) async fn mark_needs_reauth(
        &self,
        connection: &CalendarConnection,
        why: &str,
    ) -> Result<(), StoreError> {
        tracing::warn!(connection = %connection.id, why, "Google connection needs re-authorisation");
        self.store
            .update_calendar_connection(
                connection.tenant_id,
                connection.id,
                &ConnectionPatch {
                    status: Some(ConnectionStatus::NeedsReauth),
                    last_error: Some(Some(format!("{why}; connect Google Calendar again"))),
                    ..Default::default()
                },
            )
            .await
            .map(drop)
    }

    /// Runs `call` with a fresh access token, refreshing once and retrying on a 401.
    pub(crate) async fn with_token<T, F, Fut>(
        &self,
        connection: &CalendarConnection,
        call: F,
    ) -> Result<T, SyncError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: std::future::Future<Output = Result<T, GoogleError>>,
    {
        let token = self.access_token(connection, false).await?;
        match call(token).await {
            Err(GoogleError::Unauthorized) => {
                let token = self.access_token(connection, true).await?;
                Ok(call(token).await?)
            }
            other => Ok(other?),
        }
    }
}
