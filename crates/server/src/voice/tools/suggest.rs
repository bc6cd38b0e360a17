//! Smart suggestions for `check_availability`: what the caller asked for (earliest, a weekday,
//! "same time as last time") and who they are (their phone from the call, or the phone or
//! e-mail they gave) become [`Wishes`] for the pure ranking in `domain::ranking`; a returning
//! caller's upcoming appointment is found without asking for its code.

use super::*;
use crate::domain::ranking::{self, Candidate, Reason, Wishes};
use pillow_engine::TeamSlot;
use pillow_store::UserId;

/// How far back a caller's previous appointment is looked for.
const HISTORY_DAYS: i64 = 400;

/// What the caller asked to be offered first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Preference {
    /// The soonest times, in order.
    Earliest,
    /// The wall time of the caller's previous appointment, on different days.
    SameTimeAsLast,
}

/// Accepts a preference, or an empty string for none.
pub(crate) fn lenient_preference<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Preference>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Ok(None),
        Some(text) => Preference::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(
            text.trim()
                .to_ascii_lowercase()
                .replace([' ', '-'], "_")
                .as_str(),
        ))
        .map(Some),
    }
}

/// A weekday by its English name.
pub(crate) fn parse_weekday(raw: &str) -> Result<Weekday, ToolError> {
    let weekday = match raw.trim().to_ascii_lowercase().trim_end_matches('s') {
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => {
            return Err(ToolError::invalid(
                "weekday",
                ErrorCode::InvalidArguments,
                format!("{raw:?} is not a day of the week; say monday to sunday."),
            ));
        }
    };
    Ok(weekday)
}

/// The caller's appointments with this agent: the latest one before now and the next one.
#[derive(Default)]
pub(crate) struct History {
    pub(crate) previous: Option<Booking>,
    pub(crate) upcoming: Option<Booking>,
}

/// Looks the caller up by the phone the call came from (or the one they gave) and their
/// e-mail. Nobody to look for is no history, not an error.
pub(crate) async fn caller_history(
    ctx: &ToolContext<'_>,
    phone: &Option<String>,
    email: &Option<String>,
    now: Timestamp,
) -> Result<History, ToolError> {
    let lookup = FindBookingArgs {
        confirmation_code: None,
        phone: given(phone)
            .or(given(&ctx.caller_number))
            .map(str::to_string),
        email: given(email).map(str::to_string),
    };
    let Ok(caller) = CallerLookup::from_args(&lookup) else {
        return Ok(History::default());
    };
    let since = now
        .checked_sub(SignedDuration::from_hours(24 * HISTORY_DAYS))
        .unwrap_or(now);
    let mine = caller.bookings(ctx, since, None).await?;
    let mut history = History::default();
    for booking in mine {
        if booking.start < now {
            // Sorted by start: the last one before now wins.
            history.previous = Some(booking);
        } else if history.upcoming.is_none() {
            history.upcoming = Some(booking);
        }
    }
    Ok(history)
}

/// The wishes of this question, from its arguments and the caller's history.
pub(crate) fn wishes(
    args: &CheckAvailabilityArgs,
    history: &History,
    zone: &TimeZone,
) -> Result<Wishes, ToolError> {
    let weekday = given(&args.weekday).map(parse_weekday).transpose()?;
    let previous = history.previous.as_ref();
    Ok(Wishes {
        earliest: args.prefer == Some(Preference::Earliest),
        hours: None,
        weekday,
        same_time: (args.prefer == Some(Preference::SameTimeAsLast))
            .then(|| previous.map(|b| b.start.to_zoned(zone.clone()).time()))
            .flatten(),
        previous_host: previous.map(|b| b.user_id),
    })
}

/// The options to offer, in order: ranked by the wishes, else spread over the time asked.
/// Answers the chosen starts and the spoken reason for the first, if any.
pub(crate) fn choose(
    open: &[TeamSlot<UserId>],
    wishes: &Wishes,
    zone: &TimeZone,
    names: &std::collections::HashMap<UserId, String>,
) -> (Vec<Timestamp>, Option<String>) {
    let starts: Vec<Timestamp> = open.iter().map(|s| s.slot.start).collect();
    if wishes.is_empty() {
        let picked = speech::spread(&starts, MAX_OPTIONS)
            .into_iter()
            .map(|i| starts[i])
            .collect();
        return (picked, None);
    }
    let candidates: Vec<Candidate<'_>> = open
        .iter()
        .map(|s| Candidate {
            start: s.slot.start,
            free: &s.free,
        })
        .collect();
    let picks = ranking::rank(&candidates, wishes, zone, MAX_OPTIONS);
    let reason = picks.first().and_then(|first| {
        let mut phrases = Vec::new();
        if first.reasons.contains(&Reason::PreviousHost)
            && let Some(name) = wishes.previous_host.and_then(|h| names.get(&h))
        {
            phrases.push(format!("{name} is free, as last time"));
        }
        if first.reasons.contains(&Reason::SameTime) {
            phrases.push("that's the same time as last time".to_string());
        }
        (!phrases.is_empty()).then(|| {
            let mut text = phrases.join(", and ");
            if let Some(c) = text.get_mut(0..1) {
                c.make_ascii_uppercase();
            }
            format!("{text}.")
        })
    });
    (picks.iter().map(|p| starts[p.index]).collect(), reason)
}
