use super::*;
use serde_json::json;

/// A valid document to mutate in each test.
fn base() -> serde_json::Value {
    json!({
        "name": "Work Hours",
        "schedule": {
            "monday": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
            "friday": [{"start": "09:00", "end": "17:00"}]
        },
        "timezone": "America/Los_Angeles",
        "slot_duration": 30,
        "buffer_before": 5,
        "buffer_after": 5,
        "min_booking_notice": 60,
        "max_booking_notice": 43200,
        "date_overrides": [{"date": "2024-12-25", "available": false, "reason": "Holiday"}],
        "is_default": true
    })
}

fn parse_value(value: serde_json::Value) -> Result<Rule, RuleError> {
    let doc: RuleDocument = serde_json::from_value(value).expect("document has the right shape");
    Rule::parse(&doc)
}

/// Parses `base()` with `field` replaced by `value`; returns (field, code).
fn error_with(field: &str, value: serde_json::Value) -> (String, &'static str) {
    let mut doc = base();
    doc[field] = value;
    let err = parse_value(doc).expect_err("document should be refused");
    assert!(
        err.message.contains(&err.field),
        "message {:?} should name the field {:?}",
        err.message,
        err.field
    );
    (err.field, err.code)
}

fn monday(ranges: serde_json::Value) -> (String, &'static str) {
    error_with("schedule", json!({ "monday": ranges }))
}

fn range(start: &str, end: &str) -> serde_json::Value {
    json!([{"start": start, "end": end}])
}

#[test]
fn the_documented_configuration_example_is_valid() {
    let rule = parse_value(base()).unwrap();
    assert_eq!(rule.time_zone().iana_name(), Some("America/Los_Angeles"));
    assert_eq!(rule.slot_duration(), SignedDuration::from_mins(30));
    assert_eq!(rule.slot_step(), SignedDuration::from_mins(30));
    assert_eq!(rule.buffer_before(), SignedDuration::from_mins(5));
    assert_eq!(rule.buffer_after(), SignedDuration::from_mins(5));
    assert_eq!(rule.min_booking_notice(), SignedDuration::from_mins(60));
    assert_eq!(
        rule.max_booking_notice(),
        Some(SignedDuration::from_hours(30 * 24))
    );
    assert_eq!(rule.weekly_ranges(Weekday::Monday).len(), 2);
    assert!(rule.weekly_ranges(Weekday::Sunday).is_empty());
    assert!(rule.ranges_on(Date::constant(2024, 12, 25)).is_empty());
}

#[test]
fn the_documented_quick_start_example_is_valid_and_fills_in_defaults() {
    let doc: RuleDocument = serde_json::from_str(
        r#"{
            "name": "Work Hours",
            "schedule": {
                "monday": [{"start": "09:00", "end": "17:00"}],
                "tuesday": [{"start": "09:00", "end": "17:00"}],
                "wednesday": [{"start": "09:00", "end": "17:00"}],
                "thursday": [{"start": "09:00", "end": "17:00"}],
                "friday": [{"start": "09:00", "end": "17:00"}]
            },
            "timezone": "America/Los_Angeles",
            "slot_duration": 30,
            "is_default": true
        }"#,
    )
    .unwrap();
    assert_eq!(
        (doc.buffer_before, doc.buffer_after, doc.min_booking_notice),
        (0, 0, 0)
    );
    assert_eq!((doc.slot_interval, doc.max_booking_notice), (None, None));
    assert!(doc.date_overrides.is_empty());
    let rule = Rule::parse(&doc).unwrap();
    assert_eq!(rule.document(), &doc);
    assert_eq!(rule.max_booking_notice(), None);
}

#[test]
fn slot_duration_defaults_to_thirty_minutes() {
    let doc: RuleDocument = serde_json::from_str(r#"{"timezone": "UTC"}"#).unwrap();
    assert_eq!(doc.slot_duration, 30);
}

#[test]
fn a_stored_document_reserialises_to_the_same_json() {
    let mut value = base();
    value["slot_interval"] = json!(15);
    value["date_overrides"] = json!([
        {"date": "2024-12-25", "available": false, "reason": "Holiday"},
        {"date": "2024-12-24", "available": true, "ranges": [{"start": "09:00", "end": "12:00"}]}
    ]);
    let doc: RuleDocument = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(serde_json::to_value(&doc).unwrap(), value);
    let again: RuleDocument = serde_json::from_value(serde_json::to_value(&doc).unwrap()).unwrap();
    assert_eq!(again, doc);
}

#[test]
fn unknown_fields_are_refused_when_deserialising() {
    let mut value = base();
    value["buffer_befor"] = json!(5);
    assert!(serde_json::from_value::<RuleDocument>(value).is_err());
    let mut value = base();
    value["date_overrides"] = json!([{"date": "2024-12-25", "available": false, "why": "x"}]);
    assert!(serde_json::from_value::<RuleDocument>(value).is_err());
}

#[test]
fn an_unknown_time_zone_is_refused() {
    assert_eq!(
        error_with("timezone", json!("America/Springfield")),
        ("timezone".into(), "invalid_timezone")
    );
    assert_eq!(
        error_with("timezone", json!("")),
        ("timezone".into(), "invalid_timezone")
    );
    assert_eq!(
        error_with("timezone", json!("+05:00")),
        ("timezone".into(), "invalid_timezone")
    );
}

#[test]
fn times_must_be_two_digit_24_hour_hh_mm() {
    for bad in [
        "9am", "9:00", "25:00", "09:60", "0900", "09:00:00", " 9:00", "", "24:30", "-1:00",
        "０9:00",
    ] {
        assert_eq!(
            monday(range(bad, "17:00")),
            ("schedule.monday[0].start".into(), "invalid_time"),
            "start {bad:?}"
        );
    }
    assert_eq!(
        monday(json!([{"start": "08:00", "end": "09:00"}, {"start": "09:00", "end": "5pm"}])),
        ("schedule.monday[1].end".into(), "invalid_time")
    );
}

#[test]
fn twenty_four_hundred_is_valid_only_as_an_end() {
    assert_eq!(
        monday(range("24:00", "24:00")),
        ("schedule.monday[0].start".into(), "invalid_time")
    );
    let mut doc = base();
    doc["schedule"] = json!({"monday": range("22:00", "24:00")});
    let rule = parse_value(doc).unwrap();
    let r = rule.weekly_ranges(Weekday::Monday)[0];
    assert_eq!((r.start_minute(), r.end_minute()), (22 * 60, 1440));
}

#[test]
fn a_range_must_end_after_it_starts() {
    assert_eq!(
        monday(range("17:00", "09:00")),
        ("schedule.monday[0].end".into(), "invalid_range")
    );
    assert_eq!(
        monday(range("09:00", "09:00")),
        ("schedule.monday[0].end".into(), "invalid_range")
    );
}

#[test]
fn overlapping_ranges_within_a_day_are_refused() {
    assert_eq!(
        monday(json!([{"start": "09:00", "end": "12:00"}, {"start": "11:59", "end": "17:00"}])),
        ("schedule.monday[1]".into(), "overlapping_ranges")
    );
    // Nested, and given out of order.
    assert_eq!(
        monday(json!([
            {"start": "13:00", "end": "14:00"},
            {"start": "08:00", "end": "09:00"},
            {"start": "12:00", "end": "18:00"}
        ])),
        ("schedule.monday[2]".into(), "overlapping_ranges")
    );
}

#[test]
fn touching_ranges_are_fine_and_are_kept_sorted() {
    let mut doc = base();
    doc["schedule"] = json!({"monday": [
        {"start": "12:00", "end": "17:00"},
        {"start": "09:00", "end": "12:00"}
    ]});
    let rule = parse_value(doc).unwrap();
    let minutes: Vec<(u16, u16)> = rule
        .weekly_ranges(Weekday::Monday)
        .iter()
        .map(|r| (r.start_minute(), r.end_minute()))
        .collect();
    assert_eq!(minutes, [(540, 720), (720, 1020)]);
}

#[test]
fn weekday_names_must_be_lower_case_english() {
    for bad in ["Monday", "mon", "MONDAY", "lundi", "weekday"] {
        assert_eq!(
            error_with("schedule", json!({ bad: range("09:00", "17:00") })),
            (format!("schedule.{bad}"), "invalid_weekday")
        );
    }
}

#[test]
fn slot_duration_must_be_between_5_and_1440_minutes() {
    for bad in [4, 0, -30, 1441] {
        assert_eq!(
            error_with("slot_duration", json!(bad)),
            ("slot_duration".into(), "invalid_slot_duration")
        );
    }
    for good in [5, 1440] {
        let mut doc = base();
        doc["slot_duration"] = json!(good);
        assert!(parse_value(doc).is_ok());
    }
}

#[test]
fn slot_interval_if_given_must_be_between_5_and_1440_minutes() {
    for bad in [4, 0, 1441] {
        assert_eq!(
            error_with("slot_interval", json!(bad)),
            ("slot_interval".into(), "invalid_slot_interval")
        );
    }
    let mut doc = base();
    doc["slot_interval"] = json!(15);
    let rule = parse_value(doc).unwrap();
    assert_eq!(rule.slot_interval(), Some(SignedDuration::from_mins(15)));
    assert_eq!(rule.slot_step(), SignedDuration::from_mins(15));
}

#[test]
fn buffers_must_not_be_negative_or_longer_than_a_day() {
    assert_eq!(
        error_with("buffer_before", json!(-1)),
        ("buffer_before".into(), "invalid_buffer")
    );
    assert_eq!(
        error_with("buffer_after", json!(-5)),
        ("buffer_after".into(), "invalid_buffer")
    );
    assert_eq!(
        error_with("buffer_after", json!(1441)),
        ("buffer_after".into(), "invalid_buffer")
    );
}

#[test]
fn minimum_notice_must_not_be_negative() {
    assert_eq!(
        error_with("min_booking_notice", json!(-1)),
        ("min_booking_notice".into(), "invalid_notice")
    );
}

#[test]
fn maximum_notice_must_not_be_below_the_minimum() {
    assert_eq!(
        error_with("max_booking_notice", json!(59)),
        ("max_booking_notice".into(), "invalid_notice")
    );
    let mut doc = base();
    doc["max_booking_notice"] = json!(60);
    assert!(parse_value(doc).is_ok(), "equal to the minimum is allowed");
}

#[test]
fn absurdly_long_notices_are_refused_instead_of_overflowing() {
    assert_eq!(
        error_with("min_booking_notice", json!(i64::MAX)),
        ("min_booking_notice".into(), "invalid_notice")
    );
    assert_eq!(
        error_with("max_booking_notice", json!(i64::MAX)),
        ("max_booking_notice".into(), "invalid_notice")
    );
}

#[test]
fn override_dates_must_be_real_yyyy_mm_dd_dates() {
    for bad in [
        "2024-13-01",
        "2024-02-30",
        "24-12-25",
        "2024/12/25",
        "2024-1-05",
        "tomorrow",
        "2024-12-25T00:00",
    ] {
        assert_eq!(
            error_with("date_overrides", json!([{"date": bad, "available": false}])),
            ("date_overrides[0].date".into(), "invalid_date"),
            "date {bad:?}"
        );
    }
    let mut doc = base();
    doc["date_overrides"] = json!([{"date": "2024-02-29", "available": false}]);
    assert!(parse_value(doc).is_ok(), "leap day exists in 2024");
}

#[test]
fn an_available_override_needs_ranges() {
    assert_eq!(
        error_with(
            "date_overrides",
            json!([{"date": "2024-12-24", "available": true}])
        ),
        ("date_overrides[0].ranges".into(), "missing_ranges")
    );
    assert_eq!(
        error_with(
            "date_overrides",
            json!([{"date": "2024-12-24", "available": true, "ranges": []}])
        ),
        ("date_overrides[0].ranges".into(), "missing_ranges")
    );
}

#[test]
fn an_available_overrides_ranges_are_validated_like_the_schedule() {
    assert_eq!(
        error_with(
            "date_overrides",
            json!([
                {"date": "2024-12-23", "available": false},
                {"date": "2024-12-24", "available": true, "ranges": [
                    {"start": "09:00", "end": "12:00"},
                    {"start": "10:00", "end": "11:00"}
                ]}
            ])
        ),
        ("date_overrides[1].ranges[1]".into(), "overlapping_ranges")
    );
    assert_eq!(
        error_with(
            "date_overrides",
            json!([{"date": "2024-12-24", "available": true, "ranges": range("9:00", "12:00")}])
        ),
        ("date_overrides[0].ranges[0].start".into(), "invalid_time")
    );
}

#[test]
fn an_unavailable_override_cannot_carry_ranges() {
    assert_eq!(
        error_with(
            "date_overrides",
            json!([{"date": "2024-12-24", "available": false, "ranges": range("09:00", "12:00")}])
        ),
        ("date_overrides[0].ranges".into(), "unexpected_ranges")
    );
    let mut doc = base();
    doc["date_overrides"] = json!([{"date": "2024-12-24", "available": false, "ranges": []}]);
    assert!(parse_value(doc).is_ok(), "an empty list is harmless");
}

#[test]
fn the_same_date_cannot_be_overridden_twice() {
    assert_eq!(
        error_with(
            "date_overrides",
            json!([
                {"date": "2024-12-25", "available": false},
                {"date": "2024-12-26", "available": false},
                {"date": "2024-12-25", "available": true, "ranges": range("09:00", "12:00")}
            ])
        ),
        ("date_overrides[2].date".into(), "duplicate_override")
    );
}

#[test]
fn overrides_replace_or_remove_the_weekly_ranges_of_their_date() {
    let mut doc = base();
    doc["date_overrides"] = json!([
        {"date": "2024-12-23", "available": true, "ranges": range("10:00", "11:00")},
        {"date": "2024-12-27", "available": false}
    ]);
    let rule = parse_value(doc).unwrap();
    // 2024-12-23 is a Monday, normally two ranges.
    let r = rule.ranges_on(Date::constant(2024, 12, 23));
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].start_minute(), r[0].end_minute()), (600, 660));
    // 2024-12-27 is a Friday, normally 09:00-17:00.
    assert!(rule.ranges_on(Date::constant(2024, 12, 27)).is_empty());
    assert_eq!(rule.ranges_on(Date::constant(2024, 12, 30)).len(), 2);
}

#[test]
fn the_first_problem_in_field_order_is_reported() {
    let mut doc = base();
    doc["schedule"] = json!({"monday": range("9am", "17:00")});
    doc["timezone"] = json!("Nowhere/Land");
    doc["slot_duration"] = json!(0);
    assert_eq!(parse_value(doc.clone()).unwrap_err().code, "invalid_time");
    doc["schedule"] = json!({});
    assert_eq!(
        parse_value(doc.clone()).unwrap_err().code,
        "invalid_timezone"
    );
    doc["timezone"] = json!("UTC");
    assert_eq!(
        parse_value(doc.clone()).unwrap_err().code,
        "invalid_slot_duration"
    );
    // Unknown weekday keys come before any day's ranges; days go Monday first.
    let mut doc = base();
    doc["schedule"] = json!({
        "sunday": range("25:00", "26:00"),
        "monday": range("17:00", "09:00"),
        "Funday": range("09:00", "10:00")
    });
    assert_eq!(
        parse_value(doc.clone()).unwrap_err().code,
        "invalid_weekday"
    );
    doc["schedule"].as_object_mut().unwrap().remove("Funday");
    assert_eq!(
        parse_value(doc).unwrap_err().field,
        "schedule.monday[0].end"
    );
}

#[test]
fn an_error_displays_as_its_human_message() {
    let mut doc = base();
    doc["timezone"] = json!("Mars/Base");
    let err = parse_value(doc).unwrap_err();
    assert_eq!(err.to_string(), err.message);
    assert!(err.to_string().starts_with("timezone: \"Mars/Base\""));
}
