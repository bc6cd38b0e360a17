//! `pillow-load`: bounded, loopback-only benchmarks for the Pillow Calendar server.
//!
//! - [`http::run_http`]: closed-loop HTTP load with latency percentiles.
//! - [`http::run_compare`]: a baseline and a target under the same settings, and their ratios.
//! - [`dashboard::run_dashboard`]: every dashboard page under load from signed-in sessions.
//! - [`startup::run_startup`]: cold-start time, idle memory and graceful shutdown.
//! - [`notify::run_notify`]: booking throughput with e-mail, SMS and a webhook on versus off,
//!   and booking-to-accepted-e-mail times, against [`smtp`], a small real SMTP server.
//!
//! Every target must be on this machine (`localhost`, 127.0.0.0/8 or `[::1]`), and every
//! run stops by itself.

pub mod dashboard;
pub mod http;
pub mod mcp;
pub mod notify;
pub mod seed;
pub mod smtp;
pub mod startup;
pub mod util;
