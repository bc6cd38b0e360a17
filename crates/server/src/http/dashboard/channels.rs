//! The channel a booking came through, as the bookings list, its CSV and analytics show and
//! filter it. Bookings made before channels were recorded have none: they show as "Not
//! recorded" and filter as `unknown`.

use pillow_store::BookingChannel;

use super::errors::{PageError, PageResult};

/// The filter value of bookings without a channel.
pub const UNKNOWN: &str = "unknown";

/// What a person reads for a channel.
pub fn label(channel: Option<BookingChannel>) -> &'static str {
    match channel {
        Some(BookingChannel::Retell) => "Retell",
        Some(BookingChannel::Vapi) => "Vapi",
        Some(BookingChannel::Mcp) => "MCP",
        Some(BookingChannel::Widget) => "In-call widget",
        Some(BookingChannel::Hosted) => "Hosted page",
        Some(BookingChannel::Api) => "API",
        Some(BookingChannel::Dashboard) => "Dashboard",
        None => "Not recorded",
    }
}

/// The machine name of a channel, as filters and the CSV carry it.
pub fn name(channel: Option<BookingChannel>) -> &'static str {
    channel.map_or(UNKNOWN, BookingChannel::as_str)
}

/// A channel filter as a form sends it: empty or `all` for any, `unknown` for bookings without
/// one, else a channel's name.
pub enum ChannelFilter {
    Any,
    Only(Option<BookingChannel>),
}

impl ChannelFilter {
    pub fn parse(raw: &str) -> PageResult<ChannelFilter> {
        match raw.trim() {
            "" | "all" => Ok(ChannelFilter::Any),
            UNKNOWN => Ok(ChannelFilter::Only(None)),
            raw => BookingChannel::parse(raw)
                .map(|c| ChannelFilter::Only(Some(c)))
                .ok_or_else(|| PageError::bad_request("Choose a channel from the list.")),
        }
    }

    /// What the store can filter on (bookings without a channel are picked out afterwards).
    pub fn stored(&self) -> Option<BookingChannel> {
        match self {
            ChannelFilter::Only(channel) => *channel,
            ChannelFilter::Any => None,
        }
    }

    pub fn admits(&self, channel: Option<BookingChannel>) -> bool {
        match self {
            ChannelFilter::Any => true,
            ChannelFilter::Only(wanted) => *wanted == channel,
        }
    }
}

/// Every choice of a channel filter: its value and label, "Any" first.
pub fn choices() -> impl Iterator<Item = (&'static str, &'static str)> {
    [("all", "Any")]
        .into_iter()
        .chain(
            BookingChannel::ALL
                .into_iter()
                .map(|c| (c.as_str(), label(Some(c)))),
        )
        .chain([(UNKNOWN, label(None))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_filter_choice_parses_back_to_what_it_admits() {
        for (value, _) in choices() {
            let filter = ChannelFilter::parse(value).unwrap();
            match value {
                "all" => assert!(filter.admits(None) && filter.admits(Some(BookingChannel::Api))),
                UNKNOWN => {
                    assert!(filter.admits(None));
                    assert!(!filter.admits(Some(BookingChannel::Api)));
                }
                name => {
                    let channel = BookingChannel::parse(name);
                    assert!(filter.admits(channel));
                    assert!(!filter.admits(None));
                    assert_eq!(filter.stored(), channel);
                }
            }
        }
        assert!(ChannelFilter::parse("fax").is_err());
    }
}
