//! A fake of the Google Calendar API v3 and Google OAuth 2.0.
