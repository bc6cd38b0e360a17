//! Notifications: e-mail with calendar invites, sent through the outbox to a real SMTP server,
//! the tenants' own wording of it, and signed webhooks to a local receiver.

mod email;
mod receiver;
mod sink;
mod templates;
mod webhooks;
