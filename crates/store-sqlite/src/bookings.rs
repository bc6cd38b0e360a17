//! Bookings, and the checks that keep one member from being booked twice on SQLite.

use super::*;

#[async_trait]
impl BookingStore for SqliteStore {
    async fn create_booking(
        &self,
        tenant: TenantId,
        booking: &NewBooking,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Booking> {
        let now = micros(Timestamp::now());
        // IMMEDIATE: the write lock is ours from the overlap check to the commit, so no other
        // booking can slip in between (concurrent callers wait on the busy timeout).
        let mut tx = self.write().await?;
        if !bump(&mut tx, tenant, booking.user_id).await? {
            return Err(missing_user());
        }
        if let Some(agent) = booking.agent_id {
            let known: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM agents WHERE tenant_id = $1 AND id = $2)",
            )
            .bind(tenant.0)
            .bind(agent)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            if !known {
                return Err(StoreError::MissingReference(Entity::Agent));
            }
        }
        if taken(
            &mut tx,
            tenant,
            booking.user_id,
            booking.id,
            booking.occupied(),
        )
        .await?
        {
            return Err(overlap());
        }
        let row = sqlx::query_as::<_, BookingRow>(
            "INSERT INTO bookings (id, tenant_id, agent_id, user_id, confirmation_code, \
             start_at, end_at, buffer_before_minutes, buffer_after_minutes, attendee_name, \
             attendee_email, attendee_phone, notes, title, description, status, call_id, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
             'confirmed', $16, $17, $17) RETURNING *",
        )
        .bind(booking.id)
        .bind(tenant.0)
        .bind(booking.agent_id)
        .bind(booking.user_id)
        .bind(&booking.confirmation_code)
        .bind(micros(booking.start))
        .bind(micros(booking.end))
        .bind(booking.buffer_before_minutes)
        .bind(booking.buffer_after_minutes)
        .bind(&booking.attendee.name)
        .bind(&booking.attendee.email)
        .bind(&booking.attendee.phone)
        .bind(&booking.notes)
        .bind(&booking.title)
        .bind(&booking.description)
        .bind(&booking.call_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO calendar_events (id, tenant_id, user_id, title, description, start_at, \
             end_at, all_day, status, transparency, source, booking_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 'confirmed', 'opaque', 'booking', $8, $9, $9)",
        )
        .bind(new_id())
        .bind(tenant.0)
        .bind(booking.user_id)
        .bind(&booking.title)
        .bind(&booking.description)
        .bind(micros(booking.start))
        .bind(micros(booking.end))
        .bind(booking.id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        follow_up(&mut tx, tenant, jobs, response, now).await?;
        tx.commit().await.map_err(db)?;
        row.into_model()
    }

    async fn get_booking(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Booking>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        booking_row(&mut conn, tenant, id)
            .await?
            .map(BookingRow::into_model)
            .transpose()
    }

    async fn find_booking_by_code(
        &self,
        tenant: TenantId,
        code: &str,
    ) -> StoreResult<Option<Booking>> {
        sqlx::query_as::<_, BookingRow>(
            "SELECT * FROM bookings WHERE tenant_id = $1 AND confirmation_code = $2",
        )
        .bind(tenant.0)
        .bind(code)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(BookingRow::into_model)
        .transpose()
    }

    async fn list_bookings(
        &self,
        tenant: TenantId,
        filter: &BookingFilter,
    ) -> StoreResult<Vec<Booking>> {
        // Only fixed fragments are pushed; every value is bound.
        let mut query = QueryBuilder::<Sqlite>::new("SELECT * FROM bookings WHERE tenant_id = ");
        query.push_bind(tenant.0);
        if let Some(status) = filter.status {
            query.push(" AND status = ");
            query.push_bind(status.as_str());
        }
        if let Some(user) = filter.user_id {
            query.push(" AND user_id = ");
            query.push_bind(user);
        }
        if let Some(agent) = filter.agent_id {
            query.push(" AND agent_id = ");
            query.push_bind(agent);
        }
        if let Some(from) = filter.from {
            query.push(" AND end_at > ");
            query.push_bind(micros(from));
        }
        if let Some(to) = filter.to {
            query.push(" AND start_at < ");
            query.push_bind(micros(to));
        }
        query.push(" ORDER BY start_at, id LIMIT ");
        query.push_bind(i64::from(filter.limit.unwrap_or(DEFAULT_BOOKING_LIMIT)));
        let rows = query
            .build_query_as::<BookingRow>()
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        all(rows, BookingRow::into_model)
    }

    async fn cancel_booking(
        &self,
        tenant: TenantId,
        id: Uuid,
        reason: Option<&str>,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Option<Booking>> {
        let now = micros(Timestamp::now());
        let mut tx = self.write().await?;
        let Some(current) = booking_row(&mut tx, tenant, id).await? else {
            return Ok(None);
        };
        if current.status != BookingStatus::Confirmed.as_str() {
            // Already cancelled: nothing changes, but the request still gets its answer.
            if let Some(response) = response {
                record_response(&mut tx, tenant, response, now).await?;
            }
            tx.commit().await.map_err(db)?;
            return current.into_model().map(Some);
        }
        bump(&mut tx, tenant, current.user_id).await?;
        let row = sqlx::query_as::<_, BookingRow>(
            "UPDATE bookings SET status = 'cancelled', cancel_reason = $3, cancelled_at = $4, \
             updated_at = $4 WHERE tenant_id = $1 AND id = $2 RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(reason)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "UPDATE calendar_events SET status = 'cancelled', updated_at = $3 \
             WHERE tenant_id = $1 AND booking_id = $2 AND source = 'booking'",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        follow_up(&mut tx, tenant, jobs, response, now).await?;
        tx.commit().await.map_err(db)?;
        row.into_model().map(Some)
    }

    async fn reschedule_booking(
        &self,
        tenant: TenantId,
        id: Uuid,
        start: Timestamp,
        end: Timestamp,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Option<Booking>> {
        let now = micros(Timestamp::now());
        let mut tx = self.write().await?;
        let Some(current) = booking_row(&mut tx, tenant, id).await? else {
            return Ok(None);
        };
        if current.status != BookingStatus::Confirmed.as_str() {
            return Err(StoreError::Conflict(Constraint::BookingNotConfirmed));
        }
        let occupied = occupied_range(
            start,
            end,
            current.buffer_before_minutes,
            current.buffer_after_minutes,
        );
        // The booking itself is left out of the check: moving by less than its length is fine.
        if taken(&mut tx, tenant, current.user_id, id, occupied).await? {
            return Err(overlap());
        }
        bump(&mut tx, tenant, current.user_id).await?;
        let row = sqlx::query_as::<_, BookingRow>(
            "UPDATE bookings SET start_at = $3, end_at = $4, updated_at = $5 \
             WHERE tenant_id = $1 AND id = $2 RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(micros(start))
        .bind(micros(end))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "UPDATE calendar_events SET start_at = $3, end_at = $4, updated_at = $5 \
             WHERE tenant_id = $1 AND booking_id = $2 AND source = 'booking'",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(micros(start))
        .bind(micros(end))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        follow_up(&mut tx, tenant, jobs, response, now).await?;
        tx.commit().await.map_err(db)?;
        row.into_model().map(Some)
    }

    async fn member_stats(
        &self,
        tenant: TenantId,
        user_ids: &[Uuid],
        now: Timestamp,
    ) -> StoreResult<Vec<MemberStats>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(Uuid, Option<i64>, i64)> = sqlx::query_as(
            "SELECT u.id,
                    max(b.created_at) FILTER (WHERE b.status = 'confirmed'),
                    count(b.id) FILTER (WHERE b.status = 'confirmed' AND b.start_at >= $3)
               FROM users u
               LEFT JOIN bookings b ON b.tenant_id = u.tenant_id AND b.user_id = u.id
              WHERE u.tenant_id = $1 AND u.id IN (SELECT unhex(value) FROM json_each($2))
              GROUP BY u.id",
        )
        .bind(tenant.0)
        .bind(id_list(user_ids))
        .bind(micros(now))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|(user_id, last, upcoming)| {
                Ok(MemberStats {
                    user_id,
                    last_booked_at: last.map(instant).transpose()?,
                    upcoming: u32::try_from(upcoming).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }
}

/// The blocking calendar events of one user near a booking's occupied range: the events half
/// of [`BUSY_EVENTS`] for one user. All-day candidates are refined in Rust by zone.
const BLOCKING_EVENTS: &str = "\
    SELECT user_id, start_at, end_at, all_day FROM calendar_events
     WHERE tenant_id = $1 AND user_id = $2
       AND status IN ('confirmed', 'tentative') AND transparency = 'opaque'
       AND source <> 'booking'
       AND end_at > $3 AND start_at < $4
       AND (all_day OR (end_at > $5 AND start_at < $6))";

/// Whether another confirmed booking of the user occupies part of the range.
const OVERLAPPING_BOOKING: &str = "\
    SELECT EXISTS (SELECT 1 FROM bookings
                    WHERE tenant_id = $1 AND user_id = $2 AND status = 'confirmed'
                      AND id <> $3 AND occupied_end_at > $4 AND occupied_start_at < $5)";

/// The zones all-day events are read in for a user: the default rule's, then the user's own.
const USER_ZONES: &str = "\
    SELECT (SELECT json_extract(document, '$.timezone') FROM availability_rules
             WHERE tenant_id = $1 AND user_id = $2 AND is_default
               AND json_type(document, '$.timezone') = 'text'),
           time_zone
      FROM users WHERE tenant_id = $1 AND id = $2";

fn overlap() -> StoreError {
    StoreError::Conflict(Constraint::BookingOverlap)
}

/// Whether `occupied` (of `booking`, or a new booking) of the user is taken, by another
/// confirmed booking or a blocking event. Run inside the write transaction that then writes.
async fn taken(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    user: Uuid,
    booking: Uuid,
    occupied: (Timestamp, Timestamp),
) -> StoreResult<bool> {
    let (start, end) = (micros(occupied.0), micros(occupied.1));
    let clash: bool = sqlx::query_scalar(OVERLAPPING_BOOKING)
        .bind(tenant.0)
        .bind(user)
        .bind(booking)
        .bind(start)
        .bind(end)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    if clash {
        return Ok(true);
    }
    let rows = sqlx::query_as::<_, BusyRow>(BLOCKING_EVENTS)
        .bind(tenant.0)
        .bind(user)
        .bind(start.saturating_sub(WIDENING_MICROS))
        .bind(end.saturating_add(WIDENING_MICROS))
        .bind(start)
        .bind(end)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    if rows.is_empty() {
        return Ok(false);
    }
    let events = all(rows, BusyRow::into_model)?;
    let zones: Option<(Option<String>, String)> = if events.iter().any(|e| e.all_day) {
        sqlx::query_as(USER_ZONES)
            .bind(tenant.0)
            .bind(user)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?
    } else {
        None
    };
    let names: Vec<&str> = zones
        .as_ref()
        .map(|(rule, user)| {
            rule.iter()
                .map(String::as_str)
                .chain([user.as_str()])
                .collect()
        })
        .unwrap_or_default();
    Ok(blocks_any(&events, &names, occupied))
}

/// Jobs and response: the tail of every booking write.
async fn follow_up(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    jobs: &[NewJob],
    response: Option<&IdempotentResponse>,
    now: i64,
) -> StoreResult<()> {
    insert_jobs(conn, tenant, jobs, now).await?;
    if let Some(response) = response {
        record_response(conn, tenant, response, now).await?;
    }
    Ok(())
}

async fn booking_row(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    id: Uuid,
) -> StoreResult<Option<BookingRow>> {
    sqlx::query_as::<_, BookingRow>("SELECT * FROM bookings WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

#[derive(FromRow)]
struct BookingRow {
    id: Uuid,
    tenant_id: Uuid,
    agent_id: Option<Uuid>,
    user_id: Uuid,
    confirmation_code: String,
    start_at: i64,
    end_at: i64,
    buffer_before_minutes: i32,
    buffer_after_minutes: i32,
    attendee_name: String,
    attendee_email: Option<String>,
    attendee_phone: Option<String>,
    notes: Option<String>,
    title: String,
    description: Option<String>,
    status: String,
    cancel_reason: Option<String>,
    cancelled_at: Option<i64>,
    call_id: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl BookingRow {
    fn into_model(self) -> StoreResult<Booking> {
        Ok(Booking {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            agent_id: self.agent_id,
            user_id: self.user_id,
            confirmation_code: self.confirmation_code,
            start: instant(self.start_at)?,
            end: instant(self.end_at)?,
            buffer_before_minutes: self.buffer_before_minutes,
            buffer_after_minutes: self.buffer_after_minutes,
            attendee: Attendee {
                name: self.attendee_name,
                email: self.attendee_email,
                phone: self.attendee_phone,
            },
            notes: self.notes,
            title: self.title,
            description: self.description,
            status: BookingStatus::parse(&self.status)
                .ok_or_else(|| StoreError::Corrupt(format!("status {:?}", self.status)))?,
            cancel_reason: self.cancel_reason,
            cancelled_at: self.cancelled_at.map(instant).transpose()?,
            call_id: self.call_id,
            created_at: instant(self.created_at)?,
            updated_at: instant(self.updated_at)?,
        })
    }
}
