//! API tests: the real server on 127.0.0.1:0, real HTTP, real databases. Tests written with
//! `on_both_backends!` run once on SQLite and once on PostgreSQL (when `TEST_DATABASE_URL` is
//! set; otherwise they say they were skipped).

mod helpers;

mod agents;
mod appointment_types;
mod auth;
mod availability;
mod bodies;
mod bookings;
mod calcom;
mod cli;
mod crash;
mod dashboard;
mod doctor;
mod events;
mod google;
mod hardening;
mod host_limits;
mod host_limits_reschedule;
mod incall;
mod incall_manage;
mod isolation;
mod live_calls;
mod mcp;
mod mcp_exchange;
mod notify;
mod ops;
mod rules;
mod users;
mod voice;
mod voice_suggestions;
