//! An appointment type's shape laid over a member's rule: its own length, buffers and notice,
//! on the member's working hours and slot grid.

use jiff::SignedDuration;

use super::Rule;

/// What an appointment type changes in the rules of the members who offer it; `None` keeps the
/// member's own value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppointmentShape {
    /// The appointment's length: the booking unit while booking this type.
    pub duration: Option<SignedDuration>,
    pub buffer_before: Option<SignedDuration>,
    pub buffer_after: Option<SignedDuration>,
    pub min_booking_notice: Option<SignedDuration>,
}

impl Rule {
    /// The rule as it applies to one appointment type: the same working hours, zone and
    /// overrides, and the same grid of slot starts (the rule's step), with the type's length as
    /// the booking unit and its buffers and notice where it sets them.
    ///
    /// # Example
    ///
    /// ```
    /// use jiff::SignedDuration;
    /// use pillow_engine::{AppointmentShape, Rule, RuleDocument, duration_allowed};
    ///
    /// let doc: RuleDocument = serde_json::from_str(r#"{"timezone": "UTC", "slot_duration": 30,
    ///     "schedule": {"monday": [{"start": "09:00", "end": "17:00"}]}}"#)?;
    /// let rule = Rule::parse(&doc)?;
    /// let cleaning = rule.shaped(&AppointmentShape {
    ///     duration: Some(SignedDuration::from_mins(45)),
    ///     ..AppointmentShape::default()
    /// });
    /// assert_eq!(cleaning.slot_step(), SignedDuration::from_mins(30));
    /// assert!(duration_allowed(&cleaning, SignedDuration::from_mins(45)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn shaped(&self, shape: &AppointmentShape) -> Rule {
        let mut rule = self.clone();
        if let Some(duration) = shape.duration {
            rule.slot_interval = Some(self.slot_step());
            rule.slot_duration = duration;
        }
        if let Some(before) = shape.buffer_before {
            rule.buffer_before = before;
        }
        if let Some(after) = shape.buffer_after {
            rule.buffer_after = after;
        }
        if let Some(notice) = shape.min_booking_notice {
            rule.min_booking_notice = notice;
        }
        rule
    }
}

impl Rule {
    /// The longest single working range the rule has on any weekday or overridden date, in
    /// wall-clock minutes (a slot never spans two ranges, so nothing longer can ever be booked).
    /// Zero for a rule with no working hours.
    ///
    /// # Example
    ///
    /// ```
    /// use jiff::SignedDuration;
    /// use pillow_engine::{Rule, RuleDocument};
    ///
    /// let doc: RuleDocument = serde_json::from_str(r#"{"timezone": "UTC", "slot_duration": 30,
    ///     "schedule": {"monday": [{"start": "09:00", "end": "09:45"}],
    ///                  "friday": [{"start": "13:00", "end": "14:00"}]}}"#)?;
    /// let rule = Rule::parse(&doc)?;
    /// assert_eq!(rule.longest_range(), SignedDuration::from_mins(60));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn longest_range(&self) -> SignedDuration {
        let minutes = self
            .weekly
            .iter()
            .chain(self.overrides.values())
            .flatten()
            .map(|range| range.end_minute() - range.start_minute())
            .max()
            .unwrap_or(0);
        SignedDuration::from_mins(i64::from(minutes))
    }
}
