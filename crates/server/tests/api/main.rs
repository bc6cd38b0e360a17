//! API tests: the real server on 127.0.0.1:0, real HTTP, real databases. Tests written with
//! `on_both_backends!` run once on SQLite and once on PostgreSQL (when `TEST_DATABASE_URL` is
//! set; otherwise they say they were skipped).

mod helpers;

mod agents;
mod appointment_types;
mod appointment_types_calls;
mod auth;
mod availability;
mod availability_cache;
mod backup;
mod bodies;
mod booking_channels;
mod bookings;
mod calcom;
mod caldav;
mod caller_lookup;
mod chaos;
mod cli;
mod collective;
mod collective_google;
mod crash;
mod dashboard;
mod dashboard_agents;
mod dashboard_pages;
mod dashboard_team;
mod doctor;
mod events;
mod generated;
mod google;
mod hardening;
mod host_limits;
mod host_limits_reschedule;
mod incall;
mod incall_manage;
mod incall_suggestions;
mod isolation;
mod live_calls;
mod mcp;
mod mcp_exchange;
mod microsoft;
mod notify;
mod ops;
mod python_client;
mod rules;
mod series;
mod series_calls;
mod sync_bench;
mod users;
mod voice;
mod voice_suggestions;
