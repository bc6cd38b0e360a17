//! Local fakes of the services Pillow Calendar talks to but cannot reach from tests.
//!
//! Each fake is built from the service's public API documentation and is stateful where the
//! real one is, so our real clients are exercised over real HTTP on loopback.

pub mod calcom;
pub mod google;
pub mod microsoft;
mod timing;
pub mod twilio;
