//! Whether a member could take over an appointment that already exists, as when its member
//! leaves. Only the new host's working hours and busy time count: notice, the slot grid and
//! the durations a rule offers are about offering new times, and this time was agreed already.

use crate::slots::{SlotRejection, working_intervals};
use crate::{Interval, Rule};

/// Checks that `slot` lies inside one of `rule`'s working ranges and that `occupied` (the
/// slot with the appointment's own buffers) meets none of `busy`.
///
/// # Example
/// ```
/// use pillow_engine::{Interval, Rule, RuleDocument, SlotRejection, can_host};
/// let doc: RuleDocument = serde_json::from_str(
///     r#"{"schedule": {"monday": [{"start": "09:00", "end": "17:00"}]}, "timezone": "UTC"}"#,
/// ).unwrap();
/// let rule = Rule::parse(&doc).unwrap();
/// let at = |a: &str, b: &str| Interval::new(a.parse().unwrap(), b.parse().unwrap()).unwrap();
/// let slot = at("2024-01-08T10:00Z", "2024-01-08T10:30Z");
/// assert_eq!(can_host(&rule, &[], slot, slot), Ok(()));
/// let late = at("2024-01-08T16:45Z", "2024-01-08T17:15Z");
/// assert_eq!(can_host(&rule, &[], late, late), Err(SlotRejection::OutsideWorkingHours));
/// ```
///
/// # Errors
/// [`SlotRejection::OutsideWorkingHours`] or [`SlotRejection::Busy`].
pub fn can_host(
    rule: &Rule,
    busy: &[Interval],
    slot: Interval,
    occupied: Interval,
) -> Result<(), SlotRejection> {
    let inside = working_intervals(rule, slot)
        .iter()
        .any(|range| range.contains(&slot));
    if !inside {
        return Err(SlotRejection::OutsideWorkingHours);
    }
    if busy.iter().any(|b| b.overlaps(&occupied)) {
        return Err(SlotRejection::Busy);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{iv, rule};

    fn weekdays() -> Rule {
        rule(
            r#"{"schedule": {"monday": [{"start": "09:00", "end": "17:00"}]},
                "timezone": "America/New_York", "min_booking_notice": 100000}"#,
        )
    }

    #[test]
    fn a_time_inside_working_hours_can_be_hosted_whatever_the_notice() {
        // 10:00 in New York on Monday 2024-01-08 is 15:00 UTC; the rule's notice would refuse
        // it as a new booking, but a booking handed over is no new offer.
        let slot = iv("2024-01-08T15:00Z", "2024-01-08T15:30Z");
        assert_eq!(can_host(&weekdays(), &[], slot, slot), Ok(()));
    }

    #[test]
    fn a_time_off_the_slot_grid_can_be_hosted() {
        let slot = iv("2024-01-08T15:07Z", "2024-01-08T15:37Z");
        assert_eq!(can_host(&weekdays(), &[], slot, slot), Ok(()));
    }

    #[test]
    fn a_time_outside_working_hours_cannot_be_hosted() {
        // 08:30 in New York is before the day starts.
        let slot = iv("2024-01-08T13:30Z", "2024-01-08T14:00Z");
        assert_eq!(
            can_host(&weekdays(), &[], slot, slot),
            Err(SlotRejection::OutsideWorkingHours)
        );
    }

    #[test]
    fn busy_time_meeting_the_buffers_refuses_the_handover() {
        let slot = iv("2024-01-08T15:00Z", "2024-01-08T15:30Z");
        let occupied = iv("2024-01-08T14:50Z", "2024-01-08T15:40Z");
        let busy = [iv("2024-01-08T14:30Z", "2024-01-08T14:55Z")];
        assert_eq!(can_host(&weekdays(), &busy, slot, slot), Ok(()));
        assert_eq!(
            can_host(&weekdays(), &busy, slot, occupied),
            Err(SlotRejection::Busy)
        );
    }
}
