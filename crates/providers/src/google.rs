//! A client for Google Calendar v3 and Google OAuth 2.0.
