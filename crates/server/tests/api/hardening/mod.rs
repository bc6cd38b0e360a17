//! The defects a fuzzer and an attacker found (issue 18), one module each: every test here
//! failed before its fix.

mod connections;
mod dates;
mod members;
mod metrics;
mod nul;
mod openapi;
mod overload;
mod owner_race;
mod parsing;
mod removal;
mod shape;
mod sqlite_busy;
