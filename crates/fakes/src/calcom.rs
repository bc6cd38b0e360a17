//! A fake of the Cal.com API v2 (slots and bookings).
