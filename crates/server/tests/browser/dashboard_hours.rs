//! Working hours in real Chromium: "Copy Monday to weekdays" fills Tuesday to Friday with
//! Monday's ranges (a split day included), leaves the weekend alone, saves nothing by itself,
//! and the saved rule the API reads back has the copied hours. Photographed at 1280 and 390
//! pixels wide.

use serde_json::{Value, json};

use super::dashboard::{OWNER_EMAIL, OWNER_PASSWORD, setup_with};

async fn copy_to_weekdays_at(width: u32, prefix: &'static str) {
    let Some((_guard, dash, browser)) = setup_with(prefix, width, false).await else {
        return;
    };
    browser.log_in(&dash, OWNER_EMAIL, OWNER_PASSWORD).await;
    browser.open(&dash, "/dashboard/hours").await;
    browser
        .until("!!document.querySelector('button[data-copy=monday]:not([hidden])')")
        .await;
    browser.type_into("#monday_start_1", "08:00").await;
    browser.type_into("#monday_end_1", "12:00").await;
    browser.type_into("#monday_start_2", "13:00").await;
    browser.type_into("#monday_end_2", "16:30").await;
    browser.type_into("#saturday_start_1", "10:00").await;
    browser.type_into("#saturday_end_1", "12:00").await;
    browser.click("button[data-copy=monday]").await;
    browser
        .until("!!document.querySelector('#hours .notice[role=status]:not([hidden])')")
        .await;
    let values = |day: &str| {
        format!(
            "return ['start_1', 'end_1', 'start_2', 'end_2'].map(f => document.getElementById('{day}_' + f).value)"
        )
    };
    for day in ["tuesday", "wednesday", "thursday", "friday"] {
        assert_eq!(
            browser.js(&values(day)).await,
            json!(["08:00", "12:00", "13:00", "16:30"]),
            "{day}"
        );
    }
    assert_eq!(
        browser.js(&values("saturday")).await,
        json!(["10:00", "12:00", "", ""]),
        "the weekend is left alone"
    );
    assert_eq!(
        browser.js(&values("sunday")).await,
        json!(["", "", "", ""]),
        "the weekend is left alone"
    );
    // Nothing is saved by copying.
    let rules = async || {
        let (status, body) = dash
            .call(
                reqwest::Method::GET,
                "/api/calendar/availability-rules",
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["rules"].as_array().cloned().unwrap_or_default()
    };
    assert!(rules().await.is_empty());
    browser.check_page().await;
    browser.shot("hours-copied").await;

    browser.click("#save").await;
    browser
        .until("document.querySelector('.notice')?.textContent === 'Working hours saved.'")
        .await;
    let saved = rules().await;
    assert_eq!(saved.len(), 1, "{saved:?}");
    let split = json!([{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "16:30"}]);
    let schedule: &Value = &saved[0]["schedule"];
    for day in ["monday", "tuesday", "wednesday", "thursday", "friday"] {
        assert_eq!(schedule[day], split, "{day}: {schedule}");
    }
    assert_eq!(
        schedule["saturday"],
        json!([{"start": "10:00", "end": "12:00"}])
    );
    assert!(
        schedule.get("sunday").is_none_or(|s| s == &json!([])),
        "{schedule}"
    );
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copying_monday_to_weekdays_fills_tuesday_to_friday_and_saves_when_asked_at_1280_pixels() {
    copy_to_weekdays_at(1280, "dashboard-1280").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copying_monday_to_weekdays_fills_tuesday_to_friday_and_saves_when_asked_at_390_pixels() {
    copy_to_weekdays_at(390, "dashboard-390").await;
}
