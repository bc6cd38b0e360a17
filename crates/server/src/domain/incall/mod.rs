//! The in-call API's domain.

pub mod keys;
