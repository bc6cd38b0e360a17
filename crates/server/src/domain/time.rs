//! Time zones and the all-day date encoding, parsed once where a request enters.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// An IANA time zone that is known to parse, together with the name it was given by.
///
/// Parsing happens once, where a name enters (a request body, a stored row); code further in
/// takes a `Zone` and never falls back to UTC on its own.
#[derive(Clone, Debug)]
pub struct Zone {
    name: String,
    zone: TimeZone,
}

/// The first and last dates any request may name: far wider than any booking window or
/// calendar import, yet far from the end of the date types' range, where adding a day, a
/// window or a zone offset overflows (dates in the year 9999 answered 500).
pub const FIRST_DATE: Date = jiff::civil::date(1900, 1, 1);
pub const LAST_DATE: Date = jiff::civil::date(2199, 12, 31);

/// Whether `date` is between [`FIRST_DATE`] and [`LAST_DATE`]; every edge checks dates and
/// instants it reads with this.
pub fn in_range(date: Date) -> bool {
    (FIRST_DATE..=LAST_DATE).contains(&date)
}

/// Whether `instant`'s UTC date is [`in_range`].
pub fn instant_in_range(instant: Timestamp) -> bool {
    in_range(instant.to_zoned(TimeZone::UTC).date())
}

/// The zone of a user, agent or rule read back from the store.
///
/// Every zone is checked when it is written, so one that no longer resolves means the database
/// was edited by hand or the zone database lost a name. It reads as UTC so the member's requests
/// keep working, but never silently: each fallback is logged with the name and counted in
/// `stored_zone_fallbacks_total`.
pub fn stored_zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or_else(|_| {
        tracing::warn!(
            zone = name,
            "a stored time zone does not resolve; reading it as UTC"
        );
        metrics::counter!("stored_zone_fallbacks_total").increment(1);
        TimeZone::UTC
    })
}

/// A time-zone name that is not in the IANA database the engine uses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IANA time zone such as America/New_York.")]
pub struct UnknownZone(pub String);

impl Zone {
    /// Parses an IANA name such as `America/New_York`.
    ///
    /// The system's zone database also answers to names that are not zones people live in:
    /// `localtime` (whatever the server's own zone is), `Factory` (a placeholder), `posixrules`
    /// and the `posix/` and `right/` copies. Those are refused, so a stored zone means the same
    /// on every server.
    pub fn parse(name: &str) -> Result<Self, UnknownZone> {
        let lower = name.to_ascii_lowercase();
        let not_a_place = matches!(lower.as_str(), "localtime" | "factory" | "posixrules")
            || lower.starts_with("posix/")
            || lower.starts_with("right/")
            || name.starts_with('/')
            || name.contains("..");
        if not_a_place {
            return Err(UnknownZone(name.to_string()));
        }
        TimeZone::get(name)
            .map(|zone| Self {
                name: name.to_string(),
                zone,
            })
            .map_err(|_| UnknownZone(name.to_string()))
    }

    /// The name the zone was parsed from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone itself, for the engine and jiff.
    pub fn tz(&self) -> &TimeZone {
        &self.zone
    }

    /// The zone by value, for APIs that take ownership.
    pub fn into_tz(self) -> TimeZone {
        self.zone
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// All-day events are stored with their dates carried as 00:00 UTC instants, so that a date
/// means the same day whatever zone reads it. This is the one place that encoding lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AllDayDate(pub Date);

impl AllDayDate {
    /// The date an instant stored for an all-day event carries.
    pub fn from_carrier(carrier: Timestamp) -> Self {
        Self(carrier.to_zoned(TimeZone::UTC).date())
    }

    /// The instant that carries this date in storage (00:00 UTC), if it is in range.
    pub fn carrier(self) -> Option<Timestamp> {
        self.0.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
    }

    pub fn date(self) -> Date {
        self.0
    }
}

/// The date an all-day event's stored instant carries; see [`AllDayDate`].
pub fn utc_date(carrier: Timestamp) -> Date {
    AllDayDate::from_carrier(carrier).date()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_places_are_refused_as_zones() {
        for name in [
            "localtime",
            "Factory",
            "posixrules",
            "posix/Europe/Paris",
            "right/UTC",
        ] {
            assert!(Zone::parse(name).is_err(), "{name}");
        }
        for name in ["Europe/Paris", "UTC", "America/Argentina/Buenos_Aires"] {
            assert!(Zone::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn a_stored_zone_reads_as_itself() {
        assert_eq!(
            stored_zone("Australia/Sydney").iana_name(),
            Some("Australia/Sydney")
        );
    }

    #[test]
    fn a_stored_zone_that_no_longer_resolves_reads_as_utc() {
        assert_eq!(stored_zone("Mars/Olympus_Mons"), TimeZone::UTC);
    }

    #[test]
    fn zone_parses_known_names_only() {
        assert_eq!(
            Zone::parse("Europe/London").unwrap().name(),
            "Europe/London"
        );
        assert_eq!(
            Zone::parse("Mars/Olympus").unwrap_err(),
            UnknownZone("Mars/Olympus".into())
        );
    }

    #[test]
    fn all_day_dates_round_trip_through_their_carrier() {
        let date = AllDayDate(jiff::civil::date(2024, 2, 15));
        let carrier = date.carrier().unwrap();
        assert_eq!(carrier.to_string(), "2024-02-15T00:00:00Z");
        assert_eq!(AllDayDate::from_carrier(carrier), date);
    }
}
