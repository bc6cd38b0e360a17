//! Bookings, and the checks that keep one member from being booked twice on PostgreSQL.

use super::*;

#[async_trait]
impl BookingStore for PostgresStore {
    async fn create_booking(
        &self,
        tenant: TenantId,
        booking: &NewBooking,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Booking> {
        let occupied = booking.occupied();
        // Three round trips in all, the hottest write path: the BEGIN that scopes the
        // transaction also takes the user's lock (see [`bump`]); then the blocking-event check;
        // then one statement that writes the booking, its busy event, its jobs and the
        // idempotent answer. The lock comes first so that the check's snapshot already sees
        // every event committed before it: event writes take the same lock.
        let statement = format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{tenant}', true); \
             UPDATE users SET busy_version = busy_version + 1 \
              WHERE tenant_id = '{tenant}' AND id = '{user}'",
            tenant = tenant.0,
            user = booking.user_id,
        );
        let mut tx = self
            .pool
            .begin_with(sqlx::AssertSqlSafe(statement))
            .await
            .map_err(db)?;
        if blocked_by_event(&mut tx, tenant, booking.user_id, occupied).await? {
            return Err(overlap());
        }
        let now = now();
        let job_ids: Vec<Uuid> = jobs.iter().map(|_| new_id()).collect();
        let job_kinds: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
        let job_payloads: Vec<String> = jobs.iter().map(|j| j.payload.to_string()).collect();
        let row = sqlx::query_as::<_, BookingRow>(INSERT_BOOKING)
            .bind(booking.id)
            .bind(tenant.0)
            .bind(booking.agent_id)
            .bind(booking.user_id)
            .bind(&booking.confirmation_code)
            .bind(booking.start.to_sqlx())
            .bind(booking.end.to_sqlx())
            .bind(booking.buffer_before_minutes)
            .bind(booking.buffer_after_minutes)
            .bind(occupied.0.to_sqlx())
            .bind(occupied.1.to_sqlx())
            .bind(&booking.attendee.name)
            .bind(&booking.attendee.email)
            .bind(&booking.attendee.phone)
            .bind(&booking.notes)
            .bind(&booking.title)
            .bind(&booking.description)
            .bind(&booking.call_id)
            .bind(now)
            .bind(new_id())
            .bind(&job_ids)
            .bind(&job_kinds)
            .bind(&job_payloads)
            .bind(response.map(|r| r.key.as_str()))
            .bind(response.map(|r| r.request_hash.as_str()))
            .bind(response.map(|r| i32::from(r.status)))
            .bind(response.map(|r| &r.body))
            .fetch_optional(&mut *tx)
            .await
            .map_err(|error| match db(error) {
                StoreError::MissingReference(Entity::Other(name)) if name == "bookings_user_fk" => {
                    missing_user()
                }
                other => other,
            })?;
        // No row: the agent named is not in this tenant.
        let row = row.ok_or(StoreError::MissingReference(Entity::Agent))?;
        commit(tx, row.into_model()?).await
    }

    async fn get_booking(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Booking>> {
        let mut tx = self.scoped(tenant).await?;
        let row = booking_row(&mut tx, tenant, id).await?;
        commit(tx, row.map(BookingRow::into_model).transpose()?).await
    }

    async fn find_booking_by_code(
        &self,
        tenant: TenantId,
        code: &str,
    ) -> StoreResult<Option<Booking>> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query_as::<_, BookingRow>(
            "SELECT * FROM bookings WHERE tenant_id = $1 AND confirmation_code = $2",
        )
        .bind(tenant.0)
        .bind(code)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, row.map(BookingRow::into_model).transpose()?).await
    }

    async fn list_bookings(
        &self,
        tenant: TenantId,
        filter: &BookingFilter,
    ) -> StoreResult<Vec<Booking>> {
        // Only fixed fragments are pushed; every value is bound.
        let mut query = QueryBuilder::<Postgres>::new("SELECT * FROM bookings WHERE tenant_id = ");
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
            query.push_bind(from.to_sqlx());
        }
        if let Some(to) = filter.to {
            query.push(" AND start_at < ");
            query.push_bind(to.to_sqlx());
        }
        query.push(" ORDER BY start_at, id LIMIT ");
        query.push_bind(i64::from(filter.limit.unwrap_or(DEFAULT_BOOKING_LIMIT)));
        let mut tx = self.scoped(tenant).await?;
        let rows = query
            .build_query_as::<BookingRow>()
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, all(rows, BookingRow::into_model)?).await
    }

    async fn cancel_booking(
        &self,
        tenant: TenantId,
        id: Uuid,
        reason: Option<&str>,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Option<Booking>> {
        let mut tx = self.scoped(tenant).await?;
        let Some(found) = booking_row(&mut tx, tenant, id).await? else {
            return Ok(None);
        };
        // User first, then the booking: the lock order of every booking write.
        lock_user(&mut tx, tenant, found.user_id).await?;
        let now = now();
        let row = sqlx::query_as::<_, BookingRow>(
            "UPDATE bookings SET status = 'cancelled', cancel_reason = $3, cancelled_at = $4,
                                 updated_at = $4
              WHERE tenant_id = $1 AND id = $2 AND status = 'confirmed'
             RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(reason)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            // Already cancelled: nothing changes, but the request still gets its answer.
            let Some(current) = booking_row(&mut tx, tenant, id).await? else {
                return Ok(None);
            };
            if let Some(response) = response {
                record_response(&mut tx, tenant, response).await?;
            }
            return commit(tx, Some(current.into_model()?)).await;
        };
        bump(&mut tx, tenant, row.user_id).await?;
        sqlx::query(
            "UPDATE calendar_events SET status = 'cancelled', updated_at = $3
              WHERE tenant_id = $1 AND booking_id = $2 AND source = 'booking'",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        follow_up(&mut tx, tenant, jobs, response).await?;
        commit(tx, Some(row.into_model()?)).await
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
        let mut tx = self.scoped(tenant).await?;
        let Some(found) = booking_row(&mut tx, tenant, id).await? else {
            return Ok(None);
        };
        // User first (the bump locks it), then the booking; a refusal rolls the bump back.
        bump(&mut tx, tenant, found.user_id).await?;
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
        if blocked_by_event(&mut tx, tenant, current.user_id, occupied).await? {
            return Err(overlap());
        }
        let now = now();
        // One UPDATE under the exclusion constraint, which compares the new range with every
        // other confirmed booking: the old time is released only if the new one is taken.
        let row = sqlx::query_as::<_, BookingRow>(
            "UPDATE bookings SET start_at = $3, end_at = $4, occupied_start_at = $5,
                                 occupied_end_at = $6, updated_at = $7
              WHERE tenant_id = $1 AND id = $2
             RETURNING *",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(start.to_sqlx())
        .bind(end.to_sqlx())
        .bind(occupied.0.to_sqlx())
        .bind(occupied.1.to_sqlx())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "UPDATE calendar_events SET start_at = $3, end_at = $4, updated_at = $5
              WHERE tenant_id = $1 AND booking_id = $2 AND source = 'booking'",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(start.to_sqlx())
        .bind(end.to_sqlx())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        follow_up(&mut tx, tenant, jobs, response).await?;
        commit(tx, Some(row.into_model()?)).await
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
        let mut tx = self.scoped(tenant).await?;
        let rows: Vec<(Uuid, Option<jiff_sqlx::Timestamp>, i64)> = sqlx::query_as(
            "SELECT u.id,
                    max(b.created_at) FILTER (WHERE b.status = 'confirmed'),
                    count(b.id) FILTER (WHERE b.status = 'confirmed' AND b.start_at >= $3)
               FROM users u
               LEFT JOIN bookings b ON b.tenant_id = u.tenant_id AND b.user_id = u.id
              WHERE u.tenant_id = $1 AND u.id = ANY($2)
              GROUP BY u.id",
        )
        .bind(tenant.0)
        .bind(user_ids)
        .bind(now.to_sqlx())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let stats = rows
            .into_iter()
            .map(|(user_id, last, upcoming)| MemberStats {
                user_id,
                last_booked_at: last.map(|t| t.to_jiff()),
                upcoming: u32::try_from(upcoming).unwrap_or(u32::MAX),
            })
            .collect();
        commit(tx, stats).await
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

/// The zones all-day events are read in for a user: the default rule's, then the user's own.
const USER_ZONES: &str = "\
    SELECT (SELECT document->>'timezone' FROM availability_rules
             WHERE tenant_id = $1 AND user_id = $2 AND is_default
               AND jsonb_typeof(document->'timezone') = 'string'),
           time_zone
      FROM users WHERE tenant_id = $1 AND id = $2";

/// Writes a booking with everything that must commit with it, in one statement: the booking
/// (only if its agent, when named, is in the tenant), the member's busy event, the outbox jobs
/// and the idempotent answer. No row back means the agent check failed; an overlap is the
/// exclusion constraint's error.
const INSERT_BOOKING: &str = "
WITH agent_ok AS (
    SELECT $3::uuid IS NULL
        OR EXISTS (SELECT 1 FROM agents WHERE tenant_id = $2 AND id = $3) AS ok
), booking AS (
    INSERT INTO bookings (id, tenant_id, agent_id, user_id, confirmation_code, start_at, end_at,
                          buffer_before_minutes, buffer_after_minutes, occupied_start_at,
                          occupied_end_at, attendee_name, attendee_email, attendee_phone, notes,
                          title, description, status, call_id, created_at, updated_at)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
           'confirmed', $18, $19, $19
      FROM agent_ok WHERE agent_ok.ok
    RETURNING *
), busy_event AS (
    INSERT INTO calendar_events (id, tenant_id, user_id, title, description, start_at, end_at,
                                 all_day, status, transparency, source, booking_id, created_at,
                                 updated_at)
    SELECT $20, tenant_id, user_id, title, description, start_at, end_at, false, 'confirmed',
           'opaque', 'booking', id, created_at, created_at
      FROM booking
), jobs AS (
    INSERT INTO outbox (id, tenant_id, kind, payload, status, attempts, next_attempt_at,
                        created_at, updated_at)
    SELECT job.id, booking.tenant_id, job.kind, job.payload::jsonb, 'pending', 0,
           booking.created_at, booking.created_at, booking.created_at
      FROM booking, unnest($21::uuid[], $22::text[], $23::text[]) AS job (id, kind, payload)
), answer AS (
    INSERT INTO idempotency_keys (tenant_id, key, request_hash, state, status, body, created_at,
                                  updated_at)
    SELECT booking.tenant_id, $24, $25, 'done', $26, $27, booking.created_at, booking.created_at
      FROM booking WHERE $24::text IS NOT NULL
    ON CONFLICT (tenant_id, key) DO UPDATE
       SET request_hash = excluded.request_hash, state = 'done', status = excluded.status,
           body = excluded.body, updated_at = excluded.updated_at
)
SELECT * FROM booking";

/// Whether a blocking calendar event of the user meets `occupied`. Bookings are not checked
/// here: the exclusion constraint `bookings_no_overlap` does that on write. The caller holds
/// the user's lock (see [`bump`]), and every event write takes it too, so no event can be
/// committed between this check and the caller's commit.
async fn blocked_by_event(
    conn: &mut PgConnection,
    tenant: TenantId,
    user: Uuid,
    occupied: (Timestamp, Timestamp),
) -> StoreResult<bool> {
    let rows = sqlx::query_as::<_, BusyRow>(BLOCKING_EVENTS)
        .bind(tenant.0)
        .bind(user)
        .bind(widened_back(occupied.0))
        .bind(widened_forward(occupied.1))
        .bind(occupied.0.to_sqlx())
        .bind(occupied.1.to_sqlx())
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
    conn: &mut PgConnection,
    tenant: TenantId,
    jobs: &[NewJob],
    response: Option<&IdempotentResponse>,
) -> StoreResult<()> {
    insert_jobs(conn, tenant, jobs).await?;
    if let Some(response) = response {
        record_response(conn, tenant, response).await?;
    }
    Ok(())
}

async fn booking_row(
    conn: &mut PgConnection,
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
    start_at: jiff_sqlx::Timestamp,
    end_at: jiff_sqlx::Timestamp,
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
    cancelled_at: Option<jiff_sqlx::Timestamp>,
    call_id: Option<String>,
    created_at: jiff_sqlx::Timestamp,
    updated_at: jiff_sqlx::Timestamp,
}

impl BookingRow {
    fn into_model(self) -> StoreResult<Booking> {
        Ok(Booking {
            id: self.id,
            tenant_id: TenantId(self.tenant_id),
            agent_id: self.agent_id,
            user_id: self.user_id,
            confirmation_code: self.confirmation_code,
            start: self.start_at.to_jiff(),
            end: self.end_at.to_jiff(),
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
                .ok_or_else(|| corrupt("booking status", &self.status))?,
            cancel_reason: self.cancel_reason,
            cancelled_at: self.cancelled_at.map(jiff_sqlx::Timestamp::to_jiff),
            call_id: self.call_id,
            created_at: self.created_at.to_jiff(),
            updated_at: self.updated_at.to_jiff(),
        })
    }
}
