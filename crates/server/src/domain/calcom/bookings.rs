//! Booking, finding, cancelling and moving on Cal.com, only ever for the agent's own event type.

use super::*;

/// A phone number as Cal.com accepts it: `+` and digits only. We accept spaces, dashes and
/// brackets ("+1 415 555 0100"); Cal.com refuses them with a 400.
pub(crate) fn international_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if phone.trim_start().starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    }
}
/// A metadata value within Cal.com's limit: long hints are replaced by their SHA-256.
pub(crate) fn metadata_value(text: &str) -> String {
    if text.chars().count() <= METADATA_VALUE_MAX {
        text.to_string()
    } else {
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}

impl<'a> CalcomBackend<'a> {
    /// Books `start` on Cal.com for `attendee`.
    ///
    /// `idempotency_hint` (e.g. the call id and slot) is stored in the booking's metadata. The
    /// request is sent once (see [`pillow_providers::calcom`]), but when it fails in a way that
    /// may hide an earlier success (the time is taken, or Cal.com failed or did not answer) we
    /// look for an accepted booking at that time with the same hint and, if there is one,
    /// answer with it: a voice platform retrying the call (Retell retries twice) or an answer
    /// lost on the way back then gets the booking it made, not "slot taken" or a duplicate.
    ///
    /// # Errors
    /// A taken slot is [`CalcomError::SlotUnavailable`] inside
    /// [`CalcomBackendError::Calcom`]; see [`CalcomBackendError`].
    pub async fn book(
        &self,
        agent: &Agent,
        start: Timestamp,
        duration: Option<SignedDuration>,
        attendee: &Attendee,
        notes: Option<&str>,
        idempotency_hint: Option<&str>,
    ) -> Result<CalcomBooked, CalcomBackendError> {
        let (key, slug) = self.credentials(agent)?;
        let event_type = self.event_type(agent, &key, slug).await?;
        let length_in_minutes = Self::length_minutes(duration, event_type)?;
        let hint = idempotency_hint.map(metadata_value);
        let mut metadata = BTreeMap::from([
            ("source".to_string(), "pillow-calendar".to_string()),
            ("pillow_agent_id".to_string(), agent.id.to_string()),
        ]);
        if let Some(hint) = &hint {
            metadata.insert(HINT_KEY.to_string(), hint.clone());
        }
        let mut booking_fields_responses = BTreeMap::new();
        if let Some(notes) = notes.filter(|notes| !notes.trim().is_empty()) {
            booking_fields_responses.insert("notes".to_string(), notes.into());
        }
        let booking = NewCalBooking {
            start,
            event_type_id: event_type.id,
            attendee: CalAttendee {
                name: attendee.name.clone(),
                email: attendee.email.clone(),
                time_zone: Self::time_zone(agent),
                phone_number: attendee.phone.as_deref().map(international_phone),
                language: None,
            },
            length_in_minutes,
            booking_fields_responses,
            metadata,
        };
        let error = match self.client.create_booking(&key, &booking).await {
            Ok(made) => return Ok(made.into()),
            Err(error) => error,
        };
        let ambiguous = matches!(
            error,
            CalcomError::SlotUnavailable { .. }
                | CalcomError::Server(_)
                | CalcomError::Transport(_)
        );
        if let (true, Some(hint)) = (ambiguous, hint.as_deref()) {
            let length = length_in_minutes.unwrap_or(event_type.length_minutes);
            let end = start + SignedDuration::from_mins(i64::from(length));
            // A failed lookup changes nothing: the original error is the answer.
            if let Ok(existing) = self
                .client
                .bookings_between(&key, event_type.id, start, end)
                .await
                && let Some(ours) = existing.into_iter().find(|booking| {
                    booking.status == "accepted"
                        && booking.start == start
                        && booking.metadata.get(HINT_KEY).and_then(|v| v.as_str()) == Some(hint)
                })
            {
                return Ok(ours.into());
            }
        }
        Err(Self::calcom(agent)(error))
    }

    /// A booking of the agent's event type by uid. Bookings of the key owner's other event
    /// types are not found: each agent answers for its own appointments.
    ///
    /// # Errors
    /// An unknown uid is [`CalcomError::NotFound`]; see [`CalcomBackendError`].
    pub async fn booking(
        &self,
        agent: &Agent,
        uid: &str,
    ) -> Result<CalcomBooked, CalcomBackendError> {
        let (key, slug) = self.credentials(agent)?;
        self.owned_booking(agent, &key, slug, uid).await
    }

    pub(crate) async fn owned_booking(
        &self,
        agent: &Agent,
        key: &SecretString,
        slug: &str,
        uid: &str,
    ) -> Result<CalcomBooked, CalcomBackendError> {
        let event_type = self.event_type(agent, key, slug).await?;
        let booking = self
            .client
            .get_booking(key, uid)
            .await
            .map_err(Self::calcom(agent))?;
        if booking.event_type_id != Some(event_type.id) {
            return Err(Self::calcom(agent)(CalcomError::NotFound {
                message: format!("booking {uid} is not one of this agent's"),
            }));
        }
        Ok(booking.into())
    }

    /// The agent's upcoming accepted bookings, soonest first, at most [`UPCOMING_MAX`].
    ///
    /// # Errors
    /// See [`CalcomBackendError`].
    pub async fn upcoming(&self, agent: &Agent) -> Result<Vec<CalcomBooked>, CalcomBackendError> {
        const PAGE: usize = 100;
        let (key, slug) = self.credentials(agent)?;
        let event_type = self.event_type(agent, &key, slug).await?;
        let mut found = Vec::new();
        while found.len() < UPCOMING_MAX {
            let page = self
                .client
                .upcoming_bookings(&key, event_type.id, PAGE, found.len())
                .await
                .map_err(Self::calcom(agent))?;
            let full = page.len() == PAGE;
            found.extend(page.into_iter().map(CalcomBooked::from));
            if !full {
                break;
            }
        }
        found.sort_by_key(|booking| booking.start);
        Ok(found)
    }

    /// Cancels a booking of the agent's; its time is offered again. Cancelling a cancelled
    /// booking answers it as it is, since Cal.com would refuse the second cancel.
    ///
    /// # Errors
    /// An unknown uid is [`CalcomError::NotFound`]; see [`CalcomBackendError`].
    pub async fn cancel(
        &self,
        agent: &Agent,
        uid: &str,
        reason: Option<&str>,
    ) -> Result<CalcomBooked, CalcomBackendError> {
        self.cancel_from(agent, uid, reason)
            .await
            .map(|(_, cancelled)| cancelled)
    }

    /// [`CalcomBackend::cancel`], also answering the booking as it was before, so a caller
    /// can tell "cancelled now" from "was already cancelled".
    ///
    /// # Errors
    /// As [`CalcomBackend::cancel`].
    pub async fn cancel_from(
        &self,
        agent: &Agent,
        uid: &str,
        reason: Option<&str>,
    ) -> Result<(CalcomBooked, CalcomBooked), CalcomBackendError> {
        let (key, slug) = self.credentials(agent)?;
        let before = self.owned_booking(agent, &key, slug, uid).await?;
        if before.status == "cancelled" {
            return Ok((before.clone(), before));
        }
        let cancelled = self
            .client
            .cancel_booking(&key, uid, reason)
            .await
            .map(CalcomBooked::from)
            .map_err(Self::calcom(agent))?;
        Ok((before, cancelled))
    }

    /// Moves a booking of the agent's. The answer is the *new* booking, with a new uid; the old
    /// one is cancelled by Cal.com.
    ///
    /// # Errors
    /// A taken time is [`CalcomError::SlotUnavailable`]; a cancelled booking
    /// [`CalcomBackendError::NotConfirmed`]; see [`CalcomBackendError`].
    pub async fn reschedule(
        &self,
        agent: &Agent,
        uid: &str,
        start: Timestamp,
        reason: Option<&str>,
    ) -> Result<CalcomBooked, CalcomBackendError> {
        let (key, slug) = self.credentials(agent)?;
        let booking = self.owned_booking(agent, &key, slug, uid).await?;
        if booking.status != "accepted" {
            return Err(CalcomBackendError::NotConfirmed {
                uid: uid.to_string(),
                status: booking.status,
            });
        }
        self.client
            .reschedule_booking(&key, uid, start, reason)
            .await
            .map(CalcomBooked::from)
            .map_err(Self::calcom(agent))
    }
}
