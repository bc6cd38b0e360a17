//! The scheduling rules of the server, independent of how a request arrived.
//!
//! Nothing here imports the HTTP layer, `voice` or `mcp`: those layers parse a
//! request, call in here, and turn the typed result or error into their own response.

pub mod appointment_types;
pub mod availability;
pub mod bookings;
pub mod calcom;
pub mod error;
pub mod incall;
pub mod invitations;
pub mod members;
pub mod ranking;
pub mod rules;
pub mod sessions;
pub mod time;
pub mod users;
