//! Open times from Cal.com's `GET /v2/slots`, in the agent's event type and zone.

use super::*;

impl<'a> CalcomBackend<'a> {
    /// The slots Cal.com offers for the agent's event type between `start` and `end`.
    ///
    /// # Errors
    /// See [`CalcomBackendError`].
    pub async fn offered_slots(
        &self,
        agent: &Agent,
        start: Timestamp,
        end: Timestamp,
        duration: Option<SignedDuration>,
    ) -> Result<Vec<CalcomSlot>, CalcomBackendError> {
        let (key, slug) = self.credentials(agent)?;
        let event_type = self.event_type(agent, &key, slug).await?;
        let duration_minutes = Self::length_minutes(duration, event_type)?;
        let length = SignedDuration::from_mins(i64::from(
            duration_minutes.unwrap_or(event_type.length_minutes),
        ));
        let slots = self
            .client
            .slots(
                &key,
                &SlotsQuery {
                    event_type: EventTypeRef::Id(event_type.id),
                    start,
                    end,
                    time_zone: Some(Self::time_zone(agent)),
                    duration_minutes,
                },
            )
            .await
            .map_err(Self::calcom(agent))?;
        Ok(slots
            .into_iter()
            .map(|slot| CalcomSlot {
                start: slot.start,
                end: slot.end.unwrap_or(slot.start + length),
            })
            .collect())
    }
}
