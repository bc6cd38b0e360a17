//! Bookings, and the checks that keep one member from being booked twice on PostgreSQL.

use super::*;

/// Each member's newest confirmed booking (when it was made) and how many confirmed ones are
/// still to come: two searches of small indexes per member (`bookings_confirmed_made`,
/// `bookings_confirmed_start`), not a pass over every booking they ever had, which grows
/// without end and is read on every reload of their calendar.
const MEMBER_STATS: &str = "\
    SELECT u.id,
           (SELECT b.created_at FROM bookings b
             WHERE b.tenant_id = u.tenant_id AND b.user_id = u.id AND b.status = 'confirmed'
               AND b.created_at IS NOT NULL
             ORDER BY b.created_at DESC LIMIT 1),
           (SELECT count(*) FROM bookings b
             WHERE b.tenant_id = u.tenant_id AND b.user_id = u.id AND b.status = 'confirmed'
               AND b.start_at >= $3)
      FROM users u
     WHERE u.tenant_id = $1 AND u.id = ANY($2)";

#[async_trait]
impl BookingStore for PostgresStore {
    async fn create_booking(
        &self,
        tenant: TenantId,
        booking: &NewBooking,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Booking> {
        self.create_capped_booking(tenant, booking, &[], jobs, response)
            .await
    }

    async fn create_capped_booking(
        &self,
        tenant: TenantId,
        booking: &NewBooking,
        caps: &[BookingCap],
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Booking> {
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
        let created = write_booking(&mut tx, tenant, booking, caps, jobs, response).await?;
        commit(tx, created).await
    }

    async fn get_booking(&self, tenant: TenantId, id: BookingId) -> StoreResult<Option<Booking>> {
        self.fetch_optional_in(Scope::Tenant(tenant), BOOKING, stored![tenant, id])
            .await
    }

    async fn find_booking_by_code(
        &self,
        tenant: TenantId,
        code: &str,
    ) -> StoreResult<Option<Booking>> {
        self.fetch_optional_in(
            Scope::Tenant(tenant),
            "SELECT * FROM bookings WHERE tenant_id = $1 AND confirmation_code = $2",
            stored![tenant, code],
        )
        .await
    }

    async fn list_bookings(
        &self,
        tenant: TenantId,
        filter: &BookingFilter,
    ) -> StoreResult<Vec<Booking>> {
        // Only fixed fragments are pushed; every value is bound.
        let mut query = QueryBuilder::<Postgres>::new("SELECT * FROM bookings WHERE tenant_id = ");
        query.push_bind(tenant.0);
        push_fragments(&mut query, " AND ", filter.conditions());
        query.push(" ORDER BY start_at, id LIMIT ");
        query.push_bind(Bound(filter.limit_value()));
        self.within(Scope::Tenant(tenant), async |tx| {
            fetch_built(&mut query, tx).await
        })
        .await
    }

    async fn cancel_booking(
        &self,
        tenant: TenantId,
        id: BookingId,
        reason: Option<&str>,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Option<Booking>> {
        let mut tx = self.scoped(tenant).await?;
        let Some(found) = fetch_optional::<Booking>(&mut *tx, BOOKING, stored![tenant, id]).await?
        else {
            return Ok(None);
        };
        // Users first (every host of a collective booking, in id order), then the booking: the
        // lock order of every booking write.
        super::collective::lock_hosts(&mut tx, tenant, id).await?;
        lock_user(&mut tx, tenant, found.user_id).await?;
        let now = Timestamp::now();
        let cancelled: Option<Booking> = fetch_optional(
            &mut *tx,
            "UPDATE bookings SET status = 'cancelled', cancel_reason = $3, cancelled_at = $4,
                                 updated_at = $4
              WHERE tenant_id = $1 AND id = $2 AND status = 'confirmed'
             RETURNING *",
            stored![tenant, id, reason, now],
        )
        .await?;
        let Some(cancelled) = cancelled else {
            // Already cancelled: nothing changes, but the request still gets its answer.
            let Some(current) =
                fetch_optional::<Booking>(&mut *tx, BOOKING, stored![tenant, id]).await?
            else {
                return Ok(None);
            };
            record_response(&mut tx, tenant, response).await?;
            return commit(tx, Some(current)).await;
        };
        bump(&mut tx, tenant, cancelled.user_id).await?;
        execute(
            &mut *tx,
            "UPDATE calendar_events SET status = 'cancelled', updated_at = $3
              WHERE tenant_id = $1 AND booking_id = $2 AND source = 'booking'",
            stored![tenant, id, now],
        )
        .await?;
        // A collective booking frees every host's time with the lead's.
        super::collective::cancel_hosts(&mut tx, tenant, id, reason, now).await?;
        follow_up(&mut tx, tenant, jobs, response).await?;
        commit(tx, Some(cancelled)).await
    }

    async fn reschedule_booking(
        &self,
        tenant: TenantId,
        id: BookingId,
        start: Timestamp,
        end: Timestamp,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Option<Booking>> {
        self.reschedule_capped_booking(tenant, id, start, end, &[], jobs, response)
            .await
    }

    async fn reschedule_capped_booking(
        &self,
        tenant: TenantId,
        id: BookingId,
        start: Timestamp,
        end: Timestamp,
        caps: &[BookingCap],
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Option<Booking>> {
        let mut tx = self.scoped(tenant).await?;
        let Some(moved) = move_booking(&mut tx, tenant, id, start, end, caps).await? else {
            return Ok(None);
        };
        follow_up(&mut tx, tenant, jobs, response).await?;
        commit(tx, Some(moved)).await
    }

    async fn member_stats(
        &self,
        tenant: TenantId,
        user_ids: &[UserId],
        now: Timestamp,
    ) -> StoreResult<Vec<MemberStats>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.within(Scope::Tenant(tenant), async |tx| {
            let rows: Vec<(Uuid, Option<jiff_sqlx::Timestamp>, i64)> = sqlx::query_as(MEMBER_STATS)
                .bind(tenant.0)
                .bind(Bound(StoredValue::from(user_ids)))
                .bind(now.to_sqlx())
                .fetch_all(tx)
                .await
                .map_err(db)?;
            let stats = rows.into_iter().map(|(user, last, upcoming)| {
                MemberStats::from_counts(UserId(user), last.map(|t| t.to_jiff()), upcoming)
            });
            Ok(stats.collect())
        })
        .await
    }
}

/// A booking by id.
const BOOKING: &str = "SELECT * FROM bookings WHERE tenant_id = $1 AND id = $2";

/// The blocking calendar events of one user near a booking's occupied range: the events half
/// of [`BUSY_EVENTS`] for one user. All-day candidates are refined in Rust by zone.
const BLOCKING_EVENTS: &str = blocking_events!("user_id, start_at, end_at, all_day", "= $2");

/// The zones all-day events are read in for a user: the default rule's, then the user's own.
const USER_ZONES: &str = "\
    SELECT (SELECT document->>'timezone' FROM availability_rules
             WHERE tenant_id = $1 AND user_id = $2 AND is_default
               AND jsonb_typeof(document->'timezone') = 'string') AS rule_zone,
           time_zone
      FROM users WHERE tenant_id = $1 AND id = $2";

/// Writes a booking with everything that must commit with it, in one statement: the booking
/// (only if its agent, when named, is in the tenant), the member's busy event, the outbox jobs
/// and the idempotent answer. No row back means the agent check failed; an overlap is the
/// exclusion constraint's error. `$1` to `$17` are [`NewBooking::insert_values`]; then the
/// occupied range, the busy event's id, the jobs' ids, kinds and payloads, and the answer's
/// key, hash, status and body; `$28` the jobs' due times (text, '' for at once); `$29` the
/// channel ([`NewBooking::channel_value`]).
const INSERT_BOOKING: &str = "
WITH agent_ok AS (
    SELECT $3::uuid IS NULL
        OR EXISTS (SELECT 1 FROM agents WHERE tenant_id = $2 AND id = $3) AS ok
), booking AS (
    INSERT INTO bookings (id, tenant_id, agent_id, user_id, confirmation_code, start_at, end_at,
                          buffer_before_minutes, buffer_after_minutes, occupied_start_at,
                          occupied_end_at, attendee_name, attendee_email, attendee_phone, notes,
                          title, description, status, call_id, created_at, updated_at,
                          channel)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $18, $19, $10, $11, $12, $13, $14, $15,
           'confirmed', $16, $17, $17, $29
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
           COALESCE(NULLIF(job.run_after, '')::timestamptz, booking.created_at),
           booking.created_at, booking.created_at
      FROM booking, unnest($21::uuid[], $22::text[], $23::text[], $28::text[])
           AS job (id, kind, payload, run_after)
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

/// Moves one booking inside the caller's transaction, checked as a reschedule: the member's
/// lock first (see [`bump`]), confirmed, no blocking event at the new time, the caps not
/// reached (the booking itself aside), then one UPDATE under the exclusion constraint, which
/// compares the new range with every other confirmed booking: the old time is released only if
/// the new one is taken. `None` if absent.
pub(crate) async fn move_booking(
    tx: &mut PgConnection,
    tenant: TenantId,
    id: BookingId,
    start: Timestamp,
    end: Timestamp,
    caps: &[BookingCap],
) -> StoreResult<Option<Booking>> {
    let Some(found) = fetch_optional::<Booking>(&mut *tx, BOOKING, stored![tenant, id]).await?
    else {
        return Ok(None);
    };
    // User first (the bump locks it), then the booking; a refusal rolls the bump back.
    bump(&mut *tx, tenant, found.user_id).await?;
    let Some(current) = fetch_optional::<Booking>(&mut *tx, BOOKING, stored![tenant, id]).await?
    else {
        return Ok(None);
    };
    current.ensure_confirmed()?;
    let occupied = current.occupied_if_moved(start, end);
    if blocked_by_event(&mut *tx, tenant, current.user_id, occupied).await? {
        return Err(overlap());
    }
    if at_cap(&mut *tx, tenant, current.user_id, id, caps).await? {
        return Err(StoreError::Conflict(Constraint::BookingLimit));
    }
    let now = Timestamp::now();
    let moved = fetch_one(
        &mut *tx,
        "UPDATE bookings SET start_at = $3, end_at = $4, occupied_start_at = $5,
                             occupied_end_at = $6, updated_at = $7
          WHERE tenant_id = $1 AND id = $2
         RETURNING *",
        stored![tenant, id, start, end, occupied.0, occupied.1, now],
    )
    .await?;
    execute(
        &mut *tx,
        "UPDATE calendar_events SET start_at = $3, end_at = $4, updated_at = $5
          WHERE tenant_id = $1 AND booking_id = $2 AND source = 'booking'",
        stored![tenant, id, start, end, now],
    )
    .await?;
    Ok(Some(moved))
}

/// Whether a blocking calendar event of the user meets `occupied`. Bookings are not checked
/// here: the exclusion constraint `bookings_no_overlap` does that on write. The caller holds
/// the user's lock (see [`bump`]), and every event write takes it too, so no event can be
/// committed between this check and the caller's commit.
async fn blocked_by_event(
    conn: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    occupied: (Timestamp, Timestamp),
) -> StoreResult<bool> {
    let values = busy_values(tenant, user, occupied);
    let events: Vec<BusyEvent> = fetch(&mut *conn, BLOCKING_EVENTS, values).await?;
    let zones = async || fetch_optional(conn, USER_ZONES, stored![tenant, user]).await;
    blocks_range(&events, occupied, zones).await
}

/// Whether the user already has as many confirmed bookings (besides `except`, the booking
/// being written) as one of `caps` allows. The caller holds the user's row lock (taken by the
/// `BEGIN` of [`BookingStore::create_booking`], or the bump of a reschedule), which every
/// booking write of the user takes first; each count here runs in a fresh READ COMMITTED
/// snapshot taken after the lock, so it sees every booking committed before us, and none can
/// commit until we do.
async fn at_cap(
    conn: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    except: BookingId,
    caps: &[BookingCap],
) -> StoreResult<bool> {
    for cap in caps {
        let count: i64 = sqlx::query_scalar(BOOKINGS_STARTING_IN)
            .bind(tenant.0)
            .bind(user.0)
            .bind(cap.from.to_sqlx())
            .bind(cap.to.to_sqlx())
            .bind(except.0)
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
        if count >= i64::from(cap.max) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// How many confirmed bookings of a user other than `$5` (the one being written) start in
/// `[$3, $4)`: what a [`BookingCap`] counts.
const BOOKINGS_STARTING_IN: &str = "\
    SELECT count(*) FROM bookings
     WHERE tenant_id = $1 AND user_id = $2 AND status = 'confirmed'
       AND start_at >= $3 AND start_at < $4 AND id <> $5";

/// Jobs and response: the tail of every booking write.
pub(crate) async fn follow_up(
    conn: &mut PgConnection,
    tenant: TenantId,
    jobs: &[NewJob],
    response: Option<&IdempotentResponse>,
) -> StoreResult<()> {
    insert_jobs(conn, tenant, jobs).await?;
    record_response(conn, tenant, response).await
}

/// Checks and writes one booking row inside the caller's transaction, which already holds the
/// user's lock (see [`bump`]): no blocking event, the caps not reached, then the one statement
/// that writes the booking, its busy event, `jobs` and `response` under the exclusion
/// constraint.
pub(crate) async fn write_booking(
    tx: &mut PgConnection,
    tenant: TenantId,
    booking: &NewBooking,
    caps: &[BookingCap],
    jobs: &[NewJob],
    response: Option<&IdempotentResponse>,
) -> StoreResult<Booking> {
    let occupied = booking.occupied();
    if blocked_by_event(&mut *tx, tenant, booking.user_id, occupied).await? {
        return Err(overlap());
    }
    if at_cap(&mut *tx, tenant, booking.user_id, booking.id, caps).await? {
        return Err(StoreError::Conflict(Constraint::BookingLimit));
    }
    let job_ids: Vec<Uuid> = jobs.iter().map(|_| new_id()).collect();
    let job_kinds: Vec<String> = jobs.iter().map(|j| j.kind.clone()).collect();
    let job_payloads: Vec<String> = jobs.iter().map(|j| j.payload.to_string()).collect();
    // As text, '' for "at once": one more array beside the others, read by `unnest`.
    let job_due: Vec<String> = jobs
        .iter()
        .map(|j| j.run_after.map(|at| at.to_string()).unwrap_or_default())
        .collect();
    let extras = stored![
        occupied.0,
        occupied.1,
        new_id(),
        job_ids.as_slice(),
        job_kinds.as_slice(),
        job_payloads.as_slice(),
        response.map(|r| r.key.as_str()),
        response.map(|r| r.request_hash.as_str()),
        response.map(|r| i32::from(r.status)),
        response.map(|r| &r.body),
        job_due.as_slice(),
        booking.channel_value()
    ];
    let values = booking.insert_values(tenant, Timestamp::now());
    let created = fetch_optional(&mut *tx, INSERT_BOOKING, values.into_iter().chain(extras))
        .await
        .map_err(|error| match error {
            StoreError::MissingReference(Entity::Other(name)) if name == "bookings_user_fk" => {
                missing_user()
            }
            other => other,
        })?;
    // No row: the agent named is not in this tenant.
    let created = created.ok_or(StoreError::MissingReference(Entity::Agent))?;
    Ok(created)
}

/// Hands one booking of `from` to another member inside the caller's transaction, checked like
/// a new booking of theirs: their row lock first (see [`bump`]), then blocking events and caps;
/// the exclusion constraint compares it with their other bookings on the `UPDATE`. A booking
/// that is no longer `from`'s or no longer confirmed is left alone. The busy event follows the
/// booking and forgets the old member's calendar copy; write-back puts it in the new member's.
pub(crate) async fn reassign(
    conn: &mut PgConnection,
    tenant: TenantId,
    from: UserId,
    reassignment: &Reassignment,
    now: Timestamp,
) -> StoreResult<()> {
    let id = reassignment.booking;
    let to = reassignment.to;
    if !bump(conn, tenant, to).await? {
        return Err(missing_user());
    }
    let Some(current) = fetch_optional::<Booking>(&mut *conn, BOOKING, stored![tenant, id]).await?
    else {
        return Ok(());
    };
    if current.user_id != from || current.status != BookingStatus::Confirmed {
        return Ok(());
    }
    if blocked_by_event(conn, tenant, to, current.occupied()).await? {
        return Err(overlap());
    }
    if at_cap(conn, tenant, to, id, &reassignment.caps).await? {
        return Err(StoreError::Conflict(Constraint::BookingLimit));
    }
    execute(
        &mut *conn,
        "UPDATE bookings SET user_id = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
        stored![tenant, id, to, now],
    )
    .await?;
    execute(
        &mut *conn,
        "UPDATE calendar_events SET user_id = $3, provider_id = NULL, external_id = NULL,
                                    etag = NULL, updated_at = $4
          WHERE tenant_id = $1 AND booking_id = $2 AND source = 'booking'",
        stored![tenant, id, to, now],
    )
    .await?;
    Ok(())
}

/// Whether the user has a confirmed booking that ends after `now`.
pub(crate) async fn has_upcoming(
    conn: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    now: Timestamp,
) -> StoreResult<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM bookings WHERE tenant_id = $1 AND user_id = $2
                           AND status = 'confirmed' AND end_at > $3)",
    )
    .bind(tenant.0)
    .bind(user.0)
    .bind(now.to_sqlx())
    .fetch_one(conn)
    .await
    .map_err(db)
}
