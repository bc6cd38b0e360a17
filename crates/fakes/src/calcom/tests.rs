use super::*;

#[test]
fn instants_are_written_like_luxon() {
    let instant: Timestamp = "2050-09-05T07:00:00Z".parse().unwrap();
    let rome = TimeZone::get("Europe/Rome").unwrap();
    assert_eq!(
        luxon_iso(instant, &rome, false),
        "2050-09-05T09:00:00.000+02:00"
    );
    assert_eq!(
        luxon_iso(instant, &TimeZone::UTC, true),
        "2050-09-05T07:00:00.000Z"
    );
}

#[test]
fn working_hours_follow_the_users_zone_across_a_dst_change() {
    // New York springs forward on 2030-03-10; 09:00 local is 14:00 UTC before, 13:00 after.
    let user = User {
        id: 1,
        spec: NewFakeUser::new("nyc", "cal_test_x", "America/New_York").hours(vec![
            WeeklyHours::new(
                &[Weekday::Friday, Weekday::Monday],
                Time::constant(9, 0, 0, 0),
                Time::constant(10, 0, 0, 0),
            ),
        ]),
        tz: TimeZone::get("America/New_York").unwrap(),
    };
    let ranges = working_ranges(
        &user,
        "2030-03-08T00:00:00Z".parse().unwrap(),
        "2030-03-11T23:00:00Z".parse().unwrap(),
    );
    let starts: Vec<String> = ranges.iter().map(|(s, _)| s.to_string()).collect();
    assert_eq!(starts, ["2030-03-08T14:00:00Z", "2030-03-11T13:00:00Z"]);
}

#[test]
fn uids_look_like_calcoms() {
    let uid = new_uid();
    assert_eq!(uid.len(), 22);
    assert!(uid.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_ne!(uid, new_uid());
}
