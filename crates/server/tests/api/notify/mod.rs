//! Notifications: e-mail with calendar invites, sent through the outbox to a real SMTP server,
//! the tenants' own wording of it, reminders, signed links to change or cancel, SMS against a
//! fake of Twilio, signed webhooks to a local receiver, and delivery through faults.

mod confirmation;
mod crash;
mod email;
mod links;
mod receiver;
mod reminders;
mod restart;
mod series_email;
mod sink;
mod sms;
mod templates;
mod webhooks;
