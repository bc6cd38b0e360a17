//! Bookings, and the checks that keep one member from being booked twice on SQLite.

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
     WHERE u.tenant_id = $1 AND u.id IN (SELECT unhex(value) FROM json_each($2))";

#[async_trait]
impl BookingStore for SqliteStore {
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
        let now = Timestamp::now();
        // IMMEDIATE: the write lock is ours from the overlap check to the commit, so no other
        // booking can slip in between (concurrent callers wait on the busy timeout).
        let mut tx = self.write().await?;
        let created = write_booking(&mut tx, tenant, booking, caps, now).await?;
        follow_up(&mut tx, tenant, jobs, response, now).await?;
        commit(tx, created).await
    }

    async fn get_booking(&self, tenant: TenantId, id: BookingId) -> StoreResult<Option<Booking>> {
        fetch_optional(&self.pool, BOOKING, stored![tenant, id]).await
    }

    async fn find_booking_by_code(
        &self,
        tenant: TenantId,
        code: &str,
    ) -> StoreResult<Option<Booking>> {
        fetch_optional(
            &self.pool,
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
        let mut query = QueryBuilder::<Sqlite>::new("SELECT * FROM bookings WHERE tenant_id = ");
        query.push_bind(tenant.0);
        push_fragments(&mut query, " AND ", filter.conditions());
        query.push(" ORDER BY start_at, id LIMIT ");
        query.push_bind(Bound(filter.limit_value()));
        fetch_built(&mut query, &self.pool).await
    }

    async fn cancel_booking(
        &self,
        tenant: TenantId,
        id: BookingId,
        reason: Option<&str>,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Option<Booking>> {
        let now = Timestamp::now();
        let mut tx = self.write().await?;
        let Some(current) =
            fetch_optional::<Booking>(&mut *tx, BOOKING, stored![tenant, id]).await?
        else {
            return Ok(None);
        };
        if current.status != BookingStatus::Confirmed {
            // Already cancelled: nothing changes, but the request still gets its answer.
            record_response(&mut tx, tenant, response, now).await?;
            return commit(tx, Some(current)).await;
        }
        bump(&mut tx, tenant, current.user_id).await?;
        let cancelled = fetch_one(
            &mut *tx,
            "UPDATE bookings SET status = 'cancelled', cancel_reason = $3, cancelled_at = $4, \
             updated_at = $4 WHERE tenant_id = $1 AND id = $2 RETURNING *",
            stored![tenant, id, reason, now],
        )
        .await?;
        execute(
            &mut *tx,
            "UPDATE calendar_events SET status = 'cancelled', updated_at = $3 \
             WHERE tenant_id = $1 AND booking_id = $2 AND source = 'booking'",
            stored![tenant, id, now],
        )
        .await?;
        // A collective booking frees every host's time with the lead's.
        super::collective::cancel_hosts(&mut tx, tenant, id, reason, now).await?;
        follow_up(&mut tx, tenant, jobs, response, now).await?;
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
        let now = Timestamp::now();
        let mut tx = self.write().await?;
        let Some(moved) = move_booking(&mut tx, tenant, id, start, end, caps, now).await? else {
            return Ok(None);
        };
        follow_up(&mut tx, tenant, jobs, response, now).await?;
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
        let rows: Vec<(Uuid, Option<i64>, i64)> = sqlx::query_as(MEMBER_STATS)
            .bind(tenant.0)
            .bind(id_list(user_ids))
            .bind(micros(now))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.into_iter()
            .map(|(user, last, upcoming)| {
                let last = last.map(instant).transpose()?;
                Ok(MemberStats::from_counts(UserId(user), last, upcoming))
            })
            .collect()
    }
}

/// A booking by id.
const BOOKING: &str = "SELECT * FROM bookings WHERE tenant_id = $1 AND id = $2";

/// The blocking calendar events of one user near a booking's occupied range: the events half
/// of [`BUSY_EVENTS`] for one user. All-day candidates are refined in Rust by zone.
const BLOCKING_EVENTS: &str = blocking_events!("user_id, start_at, end_at, all_day", "= $2");

/// Whether another confirmed booking of the user occupies part of the range (`$4`, `$5`), read
/// bounded on both sides as [`BUSY_EVENTS`] reads bookings: by start in `bookings_busy_short`,
/// by end in `bookings_busy_long`.
const OVERLAPPING_BOOKING: &str = "\
    SELECT EXISTS (SELECT 1 FROM bookings
                    WHERE tenant_id = $1 AND user_id = $2 AND status = 'confirmed'
                      AND occupied_end_at - occupied_start_at <= 86400000000
                      AND id <> $3 AND occupied_start_at > $4 - 86400000000
                      AND occupied_start_at < $5 AND occupied_end_at > $4
                    UNION ALL
                   SELECT 1 FROM bookings
                    WHERE tenant_id = $1 AND user_id = $2 AND status = 'confirmed'
                      AND occupied_end_at - occupied_start_at > 86400000000
                      AND id <> $3 AND occupied_end_at > $4 AND occupied_start_at < $5)";

/// The zones all-day events are read in for a user: the default rule's, then the user's own.
const USER_ZONES: &str = "\
    SELECT (SELECT json_extract(document, '$.timezone') FROM availability_rules
             WHERE tenant_id = $1 AND user_id = $2 AND is_default
               AND json_type(document, '$.timezone') = 'text') AS rule_zone,
           time_zone
      FROM users WHERE tenant_id = $1 AND id = $2";

/// Moves one booking inside the caller's immediate write transaction, checked as a
/// reschedule: confirmed, nothing else of the member's at the new time (the booking itself
/// aside: moving by less than its length is fine), the caps not reached. `None` if absent.
pub(crate) async fn move_booking(
    tx: &mut SqliteConnection,
    tenant: TenantId,
    id: BookingId,
    start: Timestamp,
    end: Timestamp,
    caps: &[BookingCap],
    now: Timestamp,
) -> StoreResult<Option<Booking>> {
    let Some(current) = fetch_optional::<Booking>(&mut *tx, BOOKING, stored![tenant, id]).await?
    else {
        return Ok(None);
    };
    current.ensure_confirmed()?;
    let occupied = current.occupied_if_moved(start, end);
    if taken(&mut *tx, tenant, current.user_id, id, occupied).await? {
        return Err(overlap());
    }
    if at_cap(&mut *tx, tenant, current.user_id, id, caps).await? {
        return Err(StoreError::Conflict(Constraint::BookingLimit));
    }
    bump(&mut *tx, tenant, current.user_id).await?;
    let moved = fetch_one(
        &mut *tx,
        "UPDATE bookings SET start_at = $3, end_at = $4, updated_at = $5 \
         WHERE tenant_id = $1 AND id = $2 RETURNING *",
        stored![tenant, id, start, end, now],
    )
    .await?;
    execute(
        &mut *tx,
        "UPDATE calendar_events SET start_at = $3, end_at = $4, updated_at = $5 \
         WHERE tenant_id = $1 AND booking_id = $2 AND source = 'booking'",
        stored![tenant, id, start, end, now],
    )
    .await?;
    Ok(Some(moved))
}

fn overlap() -> StoreError {
    StoreError::Conflict(Constraint::BookingOverlap)
}

/// Whether `occupied` (of `booking`, new or moved) is taken for its user, by another confirmed
/// booking or a blocking event. Run inside the write transaction that then writes.
async fn taken(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    user: UserId,
    booking: BookingId,
    occupied: (Timestamp, Timestamp),
) -> StoreResult<bool> {
    let clash: bool = sqlx::query_scalar(OVERLAPPING_BOOKING)
        .bind(tenant.0)
        .bind(user.0)
        .bind(booking.0)
        .bind(micros(occupied.0))
        .bind(micros(occupied.1))
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    if clash {
        return Ok(true);
    }
    let events: Vec<BusyEvent> = fetch(
        &mut *conn,
        BLOCKING_EVENTS,
        busy_values(tenant, user, occupied),
    )
    .await?;
    let zones = async || fetch_optional(conn, USER_ZONES, stored![tenant, user]).await;
    blocks_range(&events, occupied, zones).await
}

/// Whether the user already has as many confirmed bookings (besides `except`, the booking
/// being written) as one of `caps` allows. Run inside the immediate write transaction, so no
/// other booking is written between count and write.
async fn at_cap(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    user: UserId,
    except: BookingId,
    caps: &[BookingCap],
) -> StoreResult<bool> {
    for cap in caps {
        let count: i64 = sqlx::query_scalar(BOOKINGS_STARTING_IN)
            .bind(tenant.0)
            .bind(user.0)
            .bind(micros(cap.from))
            .bind(micros(cap.to))
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
    conn: &mut SqliteConnection,
    tenant: TenantId,
    jobs: &[NewJob],
    response: Option<&IdempotentResponse>,
    now: Timestamp,
) -> StoreResult<()> {
    insert_jobs(conn, tenant, jobs, now).await?;
    record_response(conn, tenant, response, now).await
}

/// Checks and writes one booking row with its busy event inside the caller's immediate write
/// transaction: the user bumped, the agent known, the time free, the caps not reached.
pub(crate) async fn write_booking(
    tx: &mut SqliteConnection,
    tenant: TenantId,
    booking: &NewBooking,
    caps: &[BookingCap],
    now: Timestamp,
) -> StoreResult<Booking> {
    if !bump(&mut *tx, tenant, booking.user_id).await? {
        return Err(missing_user());
    }
    if let Some(agent) = booking.agent_id {
        let known: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM agents WHERE tenant_id = $1 AND id = $2)",
        )
        .bind(tenant.0)
        .bind(Bound(StoredValue::from(agent)))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if !known {
            return Err(StoreError::MissingReference(Entity::Agent));
        }
    }
    if taken(
        &mut *tx,
        tenant,
        booking.user_id,
        booking.id,
        booking.occupied(),
    )
    .await?
    {
        return Err(overlap());
    }
    if at_cap(&mut *tx, tenant, booking.user_id, booking.id, caps).await? {
        return Err(StoreError::Conflict(Constraint::BookingLimit));
    }
    let created = fetch_one(
        &mut *tx,
        "INSERT INTO bookings (id, tenant_id, agent_id, user_id, confirmation_code, \
             start_at, end_at, buffer_before_minutes, buffer_after_minutes, attendee_name, \
             attendee_email, attendee_phone, notes, title, description, status, call_id, \
             created_at, updated_at, channel) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
             'confirmed', $16, $17, $17, $18) RETURNING *",
        booking
            .insert_values(tenant, now)
            .into_iter()
            .chain([booking.channel_value()]),
    )
    .await?;
    execute(
        &mut *tx,
        "INSERT INTO calendar_events (id, tenant_id, user_id, title, description, start_at, \
             end_at, all_day, status, transparency, source, booking_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 'confirmed', 'opaque', 'booking', $8, $9, $9)",
        stored![
            new_id(),
            tenant,
            booking.user_id,
            &booking.title,
            &booking.description,
            booking.start,
            booking.end,
            booking.id,
            now
        ],
    )
    .await?;
    Ok(created)
}

/// Hands one booking of `from` to another member inside the caller's write transaction, checked
/// like a new booking of theirs (free, under their caps). A booking that is no longer `from`'s
/// or no longer confirmed is left alone. The busy event follows the booking and forgets the old
/// member's calendar copy; write-back puts it in the new member's.
pub(crate) async fn reassign(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    from: UserId,
    reassignment: &Reassignment,
    now: Timestamp,
) -> StoreResult<()> {
    let id = reassignment.booking;
    let to = reassignment.to;
    let Some(current) = fetch_optional::<Booking>(&mut *conn, BOOKING, stored![tenant, id]).await?
    else {
        return Ok(());
    };
    if current.user_id != from || current.status != BookingStatus::Confirmed {
        return Ok(());
    }
    if !bump(conn, tenant, to).await? {
        return Err(missing_user());
    }
    if taken(conn, tenant, to, id, current.occupied()).await? {
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
        "UPDATE calendar_events SET user_id = $3, provider_id = NULL, external_id = NULL, \
         etag = NULL, updated_at = $4 \
         WHERE tenant_id = $1 AND booking_id = $2 AND source = 'booking'",
        stored![tenant, id, to, now],
    )
    .await?;
    Ok(())
}

/// Whether the user has a confirmed booking that ends after `now`.
pub(crate) async fn has_upcoming(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    user: UserId,
    now: Timestamp,
) -> StoreResult<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM bookings WHERE tenant_id = $1 AND user_id = $2 \
         AND status = 'confirmed' AND end_at > $3)",
    )
    .bind(tenant.0)
    .bind(user.0)
    .bind(micros(now))
    .fetch_one(conn)
    .await
    .map_err(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What SQLite's plan says of `sql`, bound to `ids` fresh ids, then `instants` (micros).
    async fn plan(sql: &str, ids: usize, instants: &[i64]) -> Vec<String> {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let sql = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query_as::<_, (i64, i64, i64, String)>(sqlx::AssertSqlSafe(sql));
        for _ in 0..ids {
            query = query.bind(new_id());
        }
        for instant in instants {
            query = query.bind(instant);
        }
        let plan = query.fetch_all(store.pool()).await.unwrap();
        plan.into_iter().map(|row| row.3).collect()
    }

    #[tokio::test]
    async fn a_booking_write_checks_its_range_bounded_on_both_sides() {
        let bookings = plan(OVERLAPPING_BOOKING, 3, &[0, 10]).await;
        for expected in [
            "INDEX bookings_busy_short (tenant_id=? AND user_id=? AND occupied_start_at>? AND \
             occupied_start_at<?)",
            "INDEX bookings_busy_long (tenant_id=? AND user_id=? AND occupied_end_at>?)",
        ] {
            assert!(
                bookings.iter().any(|d| d.contains(expected)),
                "{bookings:#?}"
            );
        }
        let events = plan(BLOCKING_EVENTS, 2, &[0, 10, 0, 10]).await;
        let short = "COVERING INDEX calendar_events_blocking_short (tenant_id=? AND user_id=? AND \
                     all_day=? AND start_at>? AND start_at<?)";
        assert_eq!(
            events.iter().filter(|d| d.contains(short)).count(),
            2,
            "{events:#?}"
        );
        let long = "COVERING INDEX calendar_events_blocking_long (tenant_id=? AND user_id=? AND \
                    end_at>?)";
        assert!(events.iter().any(|d| d.contains(long)), "{events:#?}");
    }

    #[tokio::test]
    async fn member_stats_search_the_confirmed_booking_indexes_instead_of_every_booking() {
        let details = plan(MEMBER_STATS, 2, &[0]).await;
        for index in ["bookings_confirmed_made", "bookings_confirmed_start"] {
            assert!(
                details
                    .iter()
                    .any(|d| d.contains(&format!("COVERING INDEX {index}"))),
                "{index}: {details:#?}"
            );
        }
    }
}
