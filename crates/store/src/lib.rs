//! The one door to persistence.
//!
//! [`Store`] is implemented by `pillow-store-sqlite` and `pillow-store-postgres`; the server picks
//! one at start-up from the database URL's scheme and never learns which. Every method that
//! touches tenant-owned data takes the [`TenantId`] first, so forgetting the tenant is a compile
//! error rather than a data leak.

mod error;
mod models;
pub mod story;

pub use error::{Constraint, Entity, StoreError};
pub use models::*;

use async_trait::async_trait;
use uuid::Uuid;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Persistence for everything the server keeps.
///
/// Implementations must scope every tenant-owned query by the given tenant: a row of another
/// tenant behaves exactly as a row that does not exist.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Cheap round trip to the database, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;

    // ---- tenants ----
    async fn create_tenant(&self, name: &str) -> StoreResult<Tenant>;
    async fn get_tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    /// Finds a tenant by its exact name; used by `demo` to reuse what it made before.
    async fn find_tenant_by_name(&self, name: &str) -> StoreResult<Option<Tenant>>;

    // ---- users ----
    async fn create_user(&self, tenant: TenantId, user: &NewUser) -> StoreResult<User>;
    async fn list_users(&self, tenant: TenantId) -> StoreResult<Vec<User>>;
    async fn get_user(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<User>>;
    async fn update_user(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: &UserPatch,
    ) -> StoreResult<Option<User>>;
    async fn delete_user(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool>;
    /// Every user with this e-mail address, in any tenant, with the password hash: the one
    /// cross-tenant read, used only by login.
    async fn find_logins(&self, email: &str) -> StoreResult<Vec<UserLogin>>;
    /// Finds a user by id in any tenant: a JWT's `sub` names the user, and the user names the
    /// tenant.
    async fn find_user(&self, id: Uuid) -> StoreResult<Option<User>>;

    // ---- API keys ----
    async fn create_api_key(&self, tenant: TenantId, key: &NewApiKey) -> StoreResult<ApiKey>;
    /// Looks a key up by its public prefix, in any tenant: the key itself names its tenant.
    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKey>>;

    // ---- voice agents ----
    async fn create_agent(&self, tenant: TenantId, agent: &NewAgent) -> StoreResult<Agent>;
    async fn list_agents(&self, tenant: TenantId) -> StoreResult<Vec<Agent>>;
    async fn get_agent(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Agent>>;
    async fn update_agent(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: &AgentPatch,
    ) -> StoreResult<Option<Agent>>;
    async fn delete_agent(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool>;
    /// Finds an agent by id in any tenant: the internal voice key names the agent, and the agent
    /// names its tenant.
    async fn find_agent(&self, id: Uuid) -> StoreResult<Option<Agent>>;

    // ---- availability rules ----
    //
    // Every write here also bumps the rule's user's busy version (see `busy_versions`) in the
    // same transaction.

    /// Creates a rule. With `is_default`, the user's previous default (if any) stops being the
    /// default in the same transaction.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] of [`Entity::User`] when the user is not in this tenant.
    async fn create_rule(
        &self,
        tenant: TenantId,
        rule: &NewAvailabilityRule,
    ) -> StoreResult<AvailabilityRule>;
    /// Replaces name, is_default and document (`rule.user_id` is ignored: the user stays).
    /// With `is_default`, the user's previous default is demoted as in `create_rule`. `None` if
    /// absent in this tenant.
    async fn replace_rule(
        &self,
        tenant: TenantId,
        id: Uuid,
        rule: &NewAvailabilityRule,
    ) -> StoreResult<Option<AvailabilityRule>>;
    async fn get_rule(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<AvailabilityRule>>;
    /// All rules of the tenant, or of one user; ordered by created_at, id.
    async fn list_rules(
        &self,
        tenant: TenantId,
        user_id: Option<Uuid>,
    ) -> StoreResult<Vec<AvailabilityRule>>;
    /// Deletes a rule; deleting a user's default leaves the user without one.
    async fn delete_rule(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool>;
    /// The default rule of each listed user that has one (any order).
    async fn default_rules(
        &self,
        tenant: TenantId,
        user_ids: &[Uuid],
    ) -> StoreResult<Vec<AvailabilityRule>>;
    /// Users of the tenant that have a default rule (for "all members with a default rule"),
    /// ordered by id.
    async fn users_with_default_rule(&self, tenant: TenantId) -> StoreResult<Vec<Uuid>>;

    // ---- calendar events ----
    //
    // Every write here also bumps the event's user's busy version, and writes the given outbox
    // jobs, in the same transaction: a committed change always has its write-back queued, and
    // a change that fails queues nothing.

    /// Creates an event with the given id (the caller picks it, a v7 id from [`new_id`], so
    /// its jobs can name it).
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] of [`Entity::User`] when the user is not in this tenant;
    /// [`Constraint::EventExternalId`] when the provider already has an
    /// event with this external id.
    async fn create_event(
        &self,
        tenant: TenantId,
        id: Uuid,
        event: &NewCalendarEvent,
        jobs: &[NewJob],
    ) -> StoreResult<CalendarEvent>;
    async fn get_event(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<CalendarEvent>>;
    /// Replaces every mutable field (`event.user_id` is ignored: the user stays). `None` if
    /// absent in this tenant (and no job is queued).
    async fn replace_event(
        &self,
        tenant: TenantId,
        id: Uuid,
        event: &NewCalendarEvent,
        jobs: &[NewJob],
    ) -> StoreResult<Option<CalendarEvent>>;
    /// Deletes an event. False if absent in this tenant (and no job is queued).
    async fn delete_event(&self, tenant: TenantId, id: Uuid, jobs: &[NewJob]) -> StoreResult<bool>;
    /// Events overlapping `[from, to)` (either bound optional), sorted by start then id.
    /// All-day events are included when their date carriers are within one day
    /// ([`ALL_DAY_WIDENING`]) of the range; the caller refines them by zone.
    async fn list_events(
        &self,
        tenant: TenantId,
        filter: &EventFilter,
    ) -> StoreResult<Vec<CalendarEvent>>;
    /// Busy time of these users overlapping `[from, to)`, in one query: calendar events that
    /// are confirmed or tentative, opaque, and not a booking's own entry (source `booking`),
    /// plus every confirmed booking's *occupied* range (with its buffers, `all_day` false).
    /// All-day events use the one-day widening of `list_events`. Any order.
    async fn busy_events(
        &self,
        tenant: TenantId,
        user_ids: &[Uuid],
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> StoreResult<Vec<BusyEvent>>;
    /// A counter per user, bumped in the same transaction as every change to that user's
    /// events and rules (and later bookings): lets the server cache busy time and rules safely
    /// across processes. `(user_id, version)` for each listed user of the tenant (any order;
    /// users of other tenants and unknown ids are left out).
    async fn busy_versions(
        &self,
        tenant: TenantId,
        user_ids: &[Uuid],
    ) -> StoreResult<Vec<(Uuid, i64)>>;

    // ---- bookings ----
    //
    // Every write here bumps the booking's user's busy version in the same transaction, and
    // writes the given outbox jobs and idempotent response in it too: a committed booking
    // always has its follow-up work queued and its answer recorded.

    /// Books atomically. In one transaction: checks that the booking's occupied range overlaps
    /// no other confirmed booking's occupied range of the same user, nor a blocking calendar
    /// event of the user (confirmed or tentative, opaque, source not `booking`); inserts the
    /// booking, its calendar event (source `booking`, `[start, end)`, opaque, confirmed), the
    /// `jobs` and, if given, the `response` (key done); bumps the user's busy version.
    ///
    /// All-day events block their local dates in the zone of the user's default rule (the
    /// zone availability uses), else the user's own zone; when neither parses, their carriers
    /// widened by [`ALL_DAY_WIDENING`] on both sides (too much rather than too little).
    ///
    /// # Errors
    /// [`Constraint::BookingOverlap`] when the time is taken (by a booking or
    /// an event), on `bookings_tenant_code` when the confirmation code exists in the tenant;
    /// [`StoreError::MissingReference`] of [`Entity::User`] (or `"agent"`) when the user (or
    /// the agent) is not in this tenant.
    async fn create_booking(
        &self,
        tenant: TenantId,
        booking: &NewBooking,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Booking>;
    async fn get_booking(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<Booking>>;
    /// The booking with exactly this confirmation code.
    async fn find_booking_by_code(
        &self,
        tenant: TenantId,
        code: &str,
    ) -> StoreResult<Option<Booking>>;
    /// Bookings overlapping `[from, to)` (by `[start, end)`, either bound optional) that match
    /// the filter, sorted by start then id; at most `limit` ([`DEFAULT_BOOKING_LIMIT`]).
    async fn list_bookings(
        &self,
        tenant: TenantId,
        filter: &BookingFilter,
    ) -> StoreResult<Vec<Booking>>;
    /// Cancels a confirmed booking: status cancelled, `reason`, `cancelled_at`; its calendar
    /// event becomes cancelled; jobs and response written; busy version bumped. `None` if
    /// absent in this tenant. An already cancelled booking is returned unchanged: no jobs, no
    /// bump (the response, if given, is still recorded).
    async fn cancel_booking(
        &self,
        tenant: TenantId,
        id: Uuid,
        reason: Option<&str>,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Option<Booking>>;
    /// Moves a confirmed booking to `[start, end)` (same user, same buffers) atomically: the
    /// overlap rules of `create_booking`, ignoring the booking itself; the old time is released
    /// only if the new one is taken. Updates its calendar event; jobs, response, bump. `None`
    /// if absent in this tenant.
    ///
    /// # Errors
    /// [`Constraint::BookingOverlap`] when the new time is taken (the booking
    /// stays where it was), on `booking_not_confirmed` when the booking is cancelled.
    async fn reschedule_booking(
        &self,
        tenant: TenantId,
        id: Uuid,
        start: jiff::Timestamp,
        end: jiff::Timestamp,
        jobs: &[NewJob],
        response: Option<&IdempotentResponse>,
    ) -> StoreResult<Option<Booking>>;
    /// One row per listed user of the tenant (unknown ids and other tenants' users are left
    /// out; any order).
    async fn member_stats(
        &self,
        tenant: TenantId,
        user_ids: &[Uuid],
        now: jiff::Timestamp,
    ) -> StoreResult<Vec<MemberStats>>;

    // ---- idempotency ----

    /// Claims `key` for a request with this hash: records it in progress if the tenant has no
    /// record of it, or takes over an in-progress record last touched `stale_after` or longer
    /// before `now` (its owner died); both return [`IdempotencyState::Started`]. Otherwise
    /// returns the record's state, whatever its hash (the caller compares).
    async fn begin_idempotent(
        &self,
        tenant: TenantId,
        key: &str,
        request_hash: &str,
        now: jiff::Timestamp,
        stale_after: jiff::SignedDuration,
    ) -> StoreResult<IdempotencyState>;
    /// Records the answer of a request that changed nothing (e.g. a 409 or 422), marking the
    /// key done.
    async fn finish_idempotent(
        &self,
        tenant: TenantId,
        response: &IdempotentResponse,
    ) -> StoreResult<()>;
    /// Forgets an in-progress key after a server-side failure, so a retry runs again. A done
    /// key is kept.
    async fn abandon_idempotent(&self, tenant: TenantId, key: &str) -> StoreResult<()>;

    // ---- outbox ----

    /// Queues jobs on their own (the changes above queue theirs in their own transaction).
    async fn enqueue_jobs(&self, tenant: TenantId, jobs: &[NewJob]) -> StoreResult<()>;
    /// Claims up to `limit` jobs of any tenant that are pending with `next_attempt_at <= now`,
    /// or running with an expired lease (their worker died), oldest due first: marks them
    /// running with a lease until `now + lease` and counts the attempt. Concurrent claims, in
    /// this process or another, never return the same job twice while its lease lasts.
    async fn claim_jobs(
        &self,
        now: jiff::Timestamp,
        lease: jiff::SignedDuration,
        limit: u32,
    ) -> StoreResult<Vec<Job>>;
    /// Deletes what is kept only for a while, in every tenant: idempotency records last
    /// touched before `keys_before` (a retry that late is a new request) and jobs done before
    /// `jobs_before`. Failed jobs stay for inspection. Answers how many records and jobs went.
    async fn purge_expired(
        &self,
        keys_before: jiff::Timestamp,
        jobs_before: jiff::Timestamp,
    ) -> StoreResult<(u64, u64)>;
    /// Marks a job done.
    async fn complete_job(&self, id: Uuid) -> StoreResult<()>;
    /// Marks jobs done in one write: the worker's way, so a busy outbox costs one commit per
    /// batch rather than one per job.
    async fn complete_jobs(&self, ids: &[Uuid]) -> StoreResult<()>;
    /// Records a failure: back to pending at `retry_at`, or failed for good when `None`.
    async fn fail_job(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<jiff::Timestamp>,
    ) -> StoreResult<()>;
    /// The tenant's jobs, of one kind or all, by created_at then id.
    async fn list_jobs(&self, tenant: TenantId, kind: Option<&str>) -> StoreResult<Vec<Job>>;
    /// Pending plus running jobs of every tenant, and the oldest pending job's created_at: for
    /// metrics.
    async fn outbox_backlog(&self) -> StoreResult<(i64, Option<jiff::Timestamp>)>;

    // ---- booking settings ----

    /// An agent's booking settings: the documented JSON, kept whole.
    async fn get_booking_settings(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
    ) -> StoreResult<Option<serde_json::Value>>;
    /// Creates or replaces an agent's booking settings.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] of [`Entity::Agent`] when the agent is not in this
    /// tenant.
    async fn put_booking_settings(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
        settings: &serde_json::Value,
    ) -> StoreResult<()>;

    /// Sets (or clears, with `None`) the Retell agent id of an agent, which lets a signed Retell
    /// call name our agent by Retell's own id. `false` when the agent is not in this tenant.
    ///
    /// # Errors
    /// [`Constraint::RetellAgentId`] when another agent of the tenant
    /// already has this Retell id.
    async fn set_retell_agent_id(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
        retell_agent_id: Option<&str>,
    ) -> StoreResult<bool>;
    /// The Retell agent id of an agent of this tenant, if it has one.
    async fn get_retell_agent_id(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
    ) -> StoreResult<Option<String>>;
    /// Agents in any tenant whose Retell agent id is exactly this: a signed Retell call names
    /// only Retell's id, and each candidate's tenant key then decides which one signed it.
    /// Ordered by id.
    async fn find_agents_by_retell_id(&self, retell_agent_id: &str) -> StoreResult<Vec<Agent>>;
    /// The tenant's Retell API key, sealed (the store never sees it in clear).
    async fn get_retell_key(&self, tenant: TenantId) -> StoreResult<Option<String>>;
    /// Stores (or clears, with `None`) the tenant's sealed Retell API key.
    async fn set_retell_key(&self, tenant: TenantId, sealed: Option<&str>) -> StoreResult<()>;

    /// Creates a publishable widget key for one of the tenant's agents.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] of [`Entity::Agent`] when the agent is not in this
    /// tenant.
    async fn create_widget_key(
        &self,
        tenant: TenantId,
        key: &NewWidgetKey,
    ) -> StoreResult<WidgetKey>;
    /// An agent's widget keys, by created_at then id.
    async fn list_widget_keys(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
    ) -> StoreResult<Vec<WidgetKey>>;
    /// Changes a key of the agent (name, origins, or a new secret); `None` if absent.
    async fn update_widget_key(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
        id: Uuid,
        patch: &WidgetKeyPatch,
    ) -> StoreResult<Option<WidgetKey>>;
    /// Revokes (deletes) a key of the agent; false if absent.
    async fn delete_widget_key(
        &self,
        tenant: TenantId,
        agent_id: Uuid,
        id: Uuid,
    ) -> StoreResult<bool>;
    /// Looks a key up by its public prefix, in any tenant: the key itself names its agent.
    async fn find_widget_key(&self, prefix: &str) -> StoreResult<Option<WidgetKey>>;

    //
    // Calendar connections and the events synchronised from them. Writes to synchronised
    // events bump the user's busy version in the same transaction, like every event write.

    /// Creates a connection, or, when this user already connected the same account and
    /// calendar, replaces its tokens and scopes (keeping the stored refresh token when none is
    /// given), makes it active with sync enabled, clears its last error and makes it due now.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] of [`Entity::User`] when the user is not in this tenant.
    async fn upsert_calendar_connection(
        &self,
        tenant: TenantId,
        connection: &NewCalendarConnection,
    ) -> StoreResult<CalendarConnection>;
    async fn get_calendar_connection(
        &self,
        tenant: TenantId,
        id: Uuid,
    ) -> StoreResult<Option<CalendarConnection>>;
    /// The tenant's connections, or one user's; ordered by created_at, id.
    async fn list_calendar_connections(
        &self,
        tenant: TenantId,
        user_id: Option<Uuid>,
    ) -> StoreResult<Vec<CalendarConnection>>;
    /// Applies a partial update. `None` if absent in this tenant.
    async fn update_calendar_connection(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: &ConnectionPatch,
    ) -> StoreResult<Option<CalendarConnection>>;
    /// Deletes a connection and every event synchronised from it (source `google`), and
    /// forgets the provider ids recorded on our own events (bookings, internal) written to it;
    /// bumps the user's busy version. False if absent in this tenant.
    async fn delete_calendar_connection(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool>;
    /// Takes the sync lease of one connection for `owner` until `now + lease`, if nobody else
    /// holds it (or their lease ended); the holder may extend it. The connection as leased, or
    /// `None` when absent or held by another.
    async fn lease_calendar_connection(
        &self,
        tenant: TenantId,
        id: Uuid,
        owner: &str,
        now: jiff::Timestamp,
        lease: jiff::SignedDuration,
    ) -> StoreResult<Option<CalendarConnection>>;
    /// Gives the lease back (only if `owner` holds it).
    async fn release_calendar_connection(
        &self,
        tenant: TenantId,
        id: Uuid,
        owner: &str,
    ) -> StoreResult<()>;
    /// Leases, across tenants, up to `limit` enabled connections (active, or in error and
    /// retried with backoff; never those that need re-authorisation) whose lease is free
    /// and that are due (`next_sync_at <= now`) or whose push channel ends before
    /// `channel_horizon`; soonest first. Several processes never lease the same connection.
    async fn lease_due_calendar_connections(
        &self,
        owner: &str,
        now: jiff::Timestamp,
        lease: jiff::SignedDuration,
        channel_horizon: jiff::Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<CalendarConnection>>;
    /// The connection whose push channel has this id, in any tenant: a notification names
    /// only its channel.
    async fn find_calendar_connection_by_channel(
        &self,
        channel_id: &str,
    ) -> StoreResult<Option<CalendarConnection>>;
    /// Applies one page of a provider sync in one transaction: upserts `events` (source
    /// `google`, keyed by provider and external id; rows of other sources with that key are
    /// left alone), deletes the connection's synced events with the `deleted` external ids,
    /// and bumps the user's busy version once.
    async fn apply_synced_events(
        &self,
        tenant: TenantId,
        provider_id: Uuid,
        user_id: Uuid,
        events: &[NewCalendarEvent],
        deleted: &[String],
    ) -> StoreResult<()>;
    /// After a full sync: deletes the connection's synced events whose external id is not in
    /// `keep`, bumping the user's busy version if any went. How many went.
    async fn prune_synced_events(
        &self,
        tenant: TenantId,
        provider_id: Uuid,
        user_id: Uuid,
        keep: &[String],
    ) -> StoreResult<u64>;
    /// Records where one of our own events (a booking's or an internal one) lives at a
    /// provider, and its ETag; busy time does not change, so nothing is bumped.
    async fn set_event_provider_ref(
        &self,
        tenant: TenantId,
        event_id: Uuid,
        provider_id: Option<Uuid>,
        external_id: Option<&str>,
        etag: Option<&str>,
    ) -> StoreResult<()>;
    /// A booking's own calendar event (source `booking`).
    async fn booking_event(
        &self,
        tenant: TenantId,
        booking_id: Uuid,
    ) -> StoreResult<Option<CalendarEvent>>;
    /// Every sealed secret of every tenant, for `rotate-keys`.
    async fn sealed_secrets(&self) -> StoreResult<Vec<SealedSecret>>;
    /// Replaces one sealed value if it still is `old` (a concurrent token refresh wins).
    /// Whether it was replaced.
    async fn replace_sealed_secret(&self, secret: &SealedSecret, old: &str) -> StoreResult<bool>;
}

mod connections;
pub use connections::*;
pub mod google_story;
