//! Just enough RFC 5545 RRULE expansion for recurring events: FREQ=DAILY|WEEKLY|MONTHLY|YEARLY
//! with INTERVAL, COUNT, UNTIL and (weekly) BYDAY, in the event's own time zone.
//!
//! The `rrule` crate would bring chrono and a second time zone database into a workspace built
//! on jiff; this subset is what calendar UIs create and what our sync must survive.

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ToSpan};

/// A parsed RRULE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    freq: Freq,
    interval: i64,
    count: Option<usize>,
    until: Option<Timestamp>,
    by_day: Vec<Weekday>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// The first `RRULE:` line of an event's `recurrence`, parsed.
pub(crate) fn parse(recurrence: &[String]) -> Result<Option<Rule>, String> {
    let Some(line) = recurrence.iter().find_map(|l| l.strip_prefix("RRULE:")) else {
        return Ok(None);
    };
    let mut rule = Rule {
        freq: Freq::Daily,
        interval: 1,
        count: None,
        until: None,
        by_day: Vec::new(),
    };
    let mut freq = None;
    for part in line.split(';') {
        let (key, value) = part.split_once('=').ok_or("malformed RRULE")?;
        match key {
            "FREQ" => {
                freq = Some(match value {
                    "DAILY" => Freq::Daily,
                    "WEEKLY" => Freq::Weekly,
                    "MONTHLY" => Freq::Monthly,
                    "YEARLY" => Freq::Yearly,
                    other => return Err(format!("unsupported FREQ {other}")),
                })
            }
            "INTERVAL" => rule.interval = value.parse().map_err(|_| "bad INTERVAL")?,
            "COUNT" => rule.count = Some(value.parse().map_err(|_| "bad COUNT")?),
            "UNTIL" => rule.until = Some(parse_until(value)?),
            "BYDAY" => rule.by_day = value.split(',').map(weekday).collect::<Result<_, _>>()?,
            "WKST" => {}
            other => return Err(format!("unsupported RRULE part {other}")),
        }
    }
    rule.freq = freq.ok_or("RRULE without FREQ")?;
    if rule.interval < 1 {
        return Err("INTERVAL must be positive".into());
    }
    Ok(Some(rule))
}

fn parse_until(value: &str) -> Result<Timestamp, String> {
    let bad = || format!("bad UNTIL {value}");
    if let Some(basic) = value.strip_suffix('Z') {
        let dt = DateTime::strptime("%Y%m%dT%H%M%S", basic).map_err(|_| bad())?;
        return dt
            .to_zoned(TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|_| bad());
    }
    // A date-only UNTIL includes that whole day.
    let date = Date::strptime("%Y%m%d", value).map_err(|_| bad())?;
    date.tomorrow()
        .and_then(|d| d.to_zoned(TimeZone::UTC))
        .map(|z| z.timestamp())
        .map_err(|_| bad())
}

fn weekday(code: &str) -> Result<Weekday, String> {
    Ok(match code {
        "MO" => Weekday::Monday,
        "TU" => Weekday::Tuesday,
        "WE" => Weekday::Wednesday,
        "TH" => Weekday::Thursday,
        "FR" => Weekday::Friday,
        "SA" => Weekday::Saturday,
        "SU" => Weekday::Sunday,
        other => return Err(format!("unsupported BYDAY {other}")),
    })
}

/// Start wall times of the occurrences of `rule` from `start` (the first occurrence, local to
/// its zone), at most `limit` of them and none starting at or after `horizon`.
pub(crate) fn occurrences(
    rule: &Rule,
    start: DateTime,
    tz: &TimeZone,
    horizon: Timestamp,
    limit: usize,
) -> Vec<DateTime> {
    let mut out = Vec::new();
    let count = rule.count.unwrap_or(usize::MAX).min(limit);
    let mut period = 0i64;
    // Each period yields its candidate dates; stop when one is past the horizon or UNTIL.
    'periods: while out.len() < count {
        let step = period * rule.interval;
        let candidates: Vec<Date> = match rule.freq {
            Freq::Daily => vec![start.date().checked_add(step.days()).ok()]
                .into_iter()
                .flatten()
                .collect(),
            Freq::Weekly if !rule.by_day.is_empty() => {
                let monday = start
                    .date()
                    .checked_sub(
                        Span::new().days(i64::from(start.date().weekday().to_monday_zero_offset())),
                    )
                    .and_then(|d| d.checked_add(step.weeks()));
                let Ok(monday) = monday else { break };
                let mut days: Vec<Date> = rule
                    .by_day
                    .iter()
                    .filter_map(|w| {
                        monday
                            .checked_add(i64::from(w.to_monday_zero_offset()).days())
                            .ok()
                    })
                    .filter(|d| *d >= start.date())
                    .collect();
                days.sort();
                days
            }
            Freq::Weekly => vec![start.date().checked_add(step.weeks()).ok()]
                .into_iter()
                .flatten()
                .collect(),
            Freq::Monthly => start
                .date()
                .checked_add(step.months())
                .ok()
                .filter(|d| d.day() == start.date().day())
                .into_iter()
                .collect(),
            Freq::Yearly => start
                .date()
                .checked_add(step.years())
                .ok()
                .filter(|d| d.day() == start.date().day())
                .into_iter()
                .collect(),
        };
        for date in candidates {
            let local = date.to_datetime(start.time());
            let Ok(at) = tz.to_timestamp(local) else {
                break 'periods;
            };
            if at >= horizon || rule.until.is_some_and(|u| at > u) {
                break 'periods;
            }
            out.push(local);
            if out.len() >= count {
                break 'periods;
            }
        }
        period += 1;
        if period > 100_000 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn far() -> Timestamp {
        "2100-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn weekly_byday_with_count_in_order() {
        let rule = parse(&["RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4".into()])
            .unwrap()
            .unwrap();
        // 2024-03-06 is a Wednesday: the Monday of that week is before the start.
        let start = date(2024, 3, 6).at(9, 0, 0, 0);
        let got = occurrences(&rule, start, &TimeZone::UTC, far(), 100);
        let days: Vec<_> = got.iter().map(|d| d.date()).collect();
        assert_eq!(
            days,
            vec![
                date(2024, 3, 6),
                date(2024, 3, 11),
                date(2024, 3, 13),
                date(2024, 3, 18)
            ]
        );
    }

    #[test]
    fn daily_until_keeps_local_time_across_a_dst_change() {
        let rule = parse(&["RRULE:FREQ=DAILY;UNTIL=20240311T235959Z".into()])
            .unwrap()
            .unwrap();
        let tz = TimeZone::get("America/New_York").unwrap();
        let got = occurrences(&rule, date(2024, 3, 9).at(9, 0, 0, 0), &tz, far(), 100);
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|d| d.hour() == 9));
    }

    #[test]
    fn unsupported_rules_are_rejected() {
        assert!(parse(&["RRULE:FREQ=SECONDLY".into()]).is_err());
        assert_eq!(parse(&["EXDATE:20240101".into()]).unwrap(), None);
    }
}
