use std::fmt;

use thiserror::Error;

/// What can go wrong below the [`crate::Store`] trait, in terms the server can act on.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness or exclusion constraint refused the write, or (for
    /// [`Constraint::BookingNotConfirmed`]) the row is no longer in a state the write needs.
    #[error("conflict on {0}")]
    Conflict(Constraint),
    /// A referenced row (in the same tenant) does not exist.
    #[error("referenced {0} does not exist")]
    MissingReference(Entity),
    /// The database is unreachable or answered with an error we cannot attribute to the caller.
    #[error("database error: {0}")]
    Database(String),
    /// No connection could be had in time (the pool is exhausted or closed, or the database
    /// is unreachable): the request may succeed later, so the server answers 503, not 500.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded; a bug or a hand-edited row.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Migrations failed at start-up.
    #[error("migration failed: {0}")]
    Migration(String),
}

/// The constraint behind a [`StoreError::Conflict`]. Both backends report the same variant for
/// the same failure: PostgreSQL by the constraint's name, SQLite by the index or columns its
/// message names, each mapped once in the backend's error mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Constraint {
    /// Two confirmed bookings (or a booking and blocking busy time) of one member overlap.
    BookingOverlap,
    /// Cancel or reschedule of a booking that is no longer confirmed.
    BookingNotConfirmed,
    /// The member already has as many bookings as a [`crate::BookingCap`] allows.
    BookingLimit,
    /// A confirmation code already used in the tenant.
    BookingCode,
    /// A user with this e-mail address already exists in the tenant.
    UserEmail,
    /// A user already has a default availability rule.
    OneDefaultRule,
    /// A provider event id already stored for the connection.
    EventExternalId,
    /// An API key prefix already in use.
    ApiKeyPrefix,
    /// A widget key prefix already in use.
    WidgetKeyPrefix,
    /// A Retell agent id already linked to another agent of the tenant.
    RetellAgentId,
    /// An appointment type slug already used by another type of the agent.
    AppointmentTypeSlug,
    /// The change would leave the tenant without an owner (checked under the owners' lock).
    LastOwner,
    /// A member being removed still has upcoming confirmed bookings.
    MemberHasBookings,
    /// Any other constraint, by its name (a primary key, say): nothing matches on these.
    Other(String),
}

impl Constraint {
    /// The variant for a constraint or index name from the migrations (both backends share
    /// the names).
    pub fn from_name(name: &str) -> Self {
        match name {
            "bookings_no_overlap" => Self::BookingOverlap,
            "booking_not_confirmed" => Self::BookingNotConfirmed,
            "booking_limit" => Self::BookingLimit,
            "bookings_tenant_code" => Self::BookingCode,
            "users_tenant_email" => Self::UserEmail,
            "availability_rules_one_default" => Self::OneDefaultRule,
            "calendar_events_external" => Self::EventExternalId,
            "api_keys_prefix" => Self::ApiKeyPrefix,
            "widget_keys_prefix" => Self::WidgetKeyPrefix,
            "agents_tenant_retell" => Self::RetellAgentId,
            "appointment_types_tenant_id_agent_id_slug" => Self::AppointmentTypeSlug,
            "tenant_last_owner" => Self::LastOwner,
            "member_has_bookings" => Self::MemberHasBookings,
            other => Self::Other(other.to_string()),
        }
    }

    /// The constraint's name in the migrations.
    pub fn name(&self) -> &str {
        match self {
            Self::BookingOverlap => "bookings_no_overlap",
            Self::BookingNotConfirmed => "booking_not_confirmed",
            Self::BookingLimit => "booking_limit",
            Self::BookingCode => "bookings_tenant_code",
            Self::UserEmail => "users_tenant_email",
            Self::OneDefaultRule => "availability_rules_one_default",
            Self::EventExternalId => "calendar_events_external",
            Self::ApiKeyPrefix => "api_keys_prefix",
            Self::WidgetKeyPrefix => "widget_keys_prefix",
            Self::RetellAgentId => "agents_tenant_retell",
            Self::AppointmentTypeSlug => "appointment_types_tenant_id_agent_id_slug",
            Self::LastOwner => "tenant_last_owner",
            Self::MemberHasBookings => "member_has_bookings",
            Self::Other(name) => name,
        }
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a [`StoreError::MissingReference`] points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entity {
    /// The user (member) named does not exist in the tenant.
    User,
    /// The agent named does not exist in the tenant.
    Agent,
    /// Another referenced row, by the backend's name for the reference.
    Other(String),
}

impl Entity {
    /// The name the API reports the missing reference under (its `field`).
    pub fn name(&self) -> &str {
        match self {
            Self::User => "user",
            Self::Agent => "agent",
            Self::Other(name) => name,
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl StoreError {
    /// A missing reference reported as `entity`, other errors as they are: for a write with
    /// one reference, where the backend's error names only its constraint (or nothing).
    pub fn missing_means(self, entity: Entity) -> StoreError {
        match self {
            StoreError::MissingReference(_) => StoreError::MissingReference(entity),
            other => other,
        }
    }
}
