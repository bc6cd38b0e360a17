//! The ids of the main resources, one type each, so a booking's id cannot be passed where a
//! member's is wanted. All are UUIDs (v7 when we mint them: recent rows stay together in
//! indexes) and travel as their plain UUID text in JSON, so the wire format is unchanged.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Declares an id newtype over [`Uuid`] with the conversions every id needs.
macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(new_id())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(text).map(Self)
            }
        }

        /// Documented as the UUID it is.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    )+};
}

id_type! {
    /// The tenant every scoped query is filtered by.
    TenantId;
    /// A member of a tenant: a person whose time is booked.
    UserId;
    /// A voice agent: what books for a team.
    AgentId;
    /// A booking of one member's time.
    BookingId;
    /// A member's working-hours rule.
    RuleId;
    /// A calendar event: busy time or a booking's write-back.
    EventId;
    /// A member's connection to an outside calendar.
    ConnectionId;
}

/// New time-ordered id: v7 keeps recent rows together in indexes.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}
