//! The dashboard's team calendar, calendars, analytics and team pages in real Chromium:
//! connecting Google end to end against the in-process fake (the demo's) and seeing the first
//! sync's events in the team calendar, a new booking appearing there, analytics figures equal
//! to the API's counts, and every one of these pages photographed at 1280 and 390 pixels wide
//! (`target/screenshots/dashboard-<width>-*.png`), each checked for labels and width.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::PATIENCE;
use super::dashboard::{Dash, OWNER_EMAIL, OWNER_PASSWORD, setup_with};

/// Tomorrow in New York, the owner's zone.
fn tomorrow() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .in_tz("America/New_York")
        .unwrap()
        .date()
        .tomorrow()
        .unwrap()
}

/// How many bookings the API lists for `query`.
async fn api_count(dash: &Dash, query: &str) -> usize {
    let (status, body) = dash
        .call(
            reqwest::Method::GET,
            &format!("/api/calendar/bookings?{query}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["bookings"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_google_end_to_end_brings_the_first_syncs_events_into_the_team_calendar() {
    let Some((_guard, dash, browser)) = setup_with("dashboard-1280", 1280, true).await else {
        return;
    };
    browser.log_in(&dash, OWNER_EMAIL, OWNER_PASSWORD).await;
    browser.open(&dash, "/dashboard/calendars").await;
    assert_eq!(browser.heading().await, "Calendars");
    assert!(
        browser
            .text("[data-testid=demo-google]")
            .await
            .contains("demo Google Calendar")
    );
    browser.check_page().await;
    browser.shot("calendars-none").await;

    browser
        .click(&format!("[data-connect='{}']", dash.owner.id))
        .await;
    // The fake's account chooser, as Google's would be.
    browser
        .until("location.pathname === '/o/oauth2/v2/auth' && document.readyState === 'complete'")
        .await;
    browser
        .js(&format!(
            "[...document.querySelectorAll('a')].find(a => a.textContent === 'Continue as {OWNER_EMAIL}').click()"
        ))
        .await;
    browser
        .until("location.pathname === '/dashboard/calendars' && !!document.querySelector('.notice[role=status]')")
        .await;
    assert!(
        browser
            .text(".notice[role=status]")
            .await
            .contains("Google Calendar is connected")
    );

    // The first sync runs in the background: its events show up in the team calendar's day
    // view, each block with its title (the week view sums them up per day).
    let path = format!("/dashboard/calendar?date={}&view=day", tomorrow());
    let started = Instant::now();
    loop {
        browser.open(&dash, &path).await;
        let found = browser
            .js("return document.body.innerText.includes('Dentist (personal)')")
            .await;
        if found == json!(true) {
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the synced event never appeared"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let entry = browser
        .text(&format!("tr[data-member='{}'] li.busy", dash.owner.id))
        .await;
    assert!(entry.contains("15:00–15:45 EST"), "{entry}");
    browser.check_page().await;
    browser.shot("team-calendar-synced").await;
    browser
        .open(&dash, &format!("/dashboard/calendar?date={}", tomorrow()))
        .await;
    let week = browser
        .text(&format!(
            "tr[data-member='{}'] td[data-date='{}'] a.taken",
            dash.owner.id,
            tomorrow()
        ))
        .await;
    assert!(week.starts_with("Busy "), "{week}");
    assert!(
        browser
            .count(&format!(
                "tr[data-member=\"{}\"] svg.strip path.t",
                dash.owner.id
            ))
            .await
            >= 1,
        "the busy time is drawn in the owner's strips"
    );

    browser.open(&dash, "/dashboard/calendars").await;
    let status = browser
        .js("return document.querySelector('[data-connection]').dataset.status")
        .await;
    assert_eq!(status, json!("ok"));
    assert_ne!(browser.text("[data-testid=last-sync]").await, "never");
    browser.check_page().await;
    browser.shot("calendars-connected").await;

    // Pausing and disconnecting from the page.
    browser.click("[data-action=pause]").await;
    browser
        .until("document.querySelector('[data-connection]')?.dataset.status === 'paused'")
        .await;
    browser.click("[data-action=disconnect]").await;
    browser
        .until("!document.querySelector('[data-connection]') && document.readyState === 'complete'")
        .await;
    assert!(
        dash.store
            .list_calendar_connections(dash.tenant, None)
            .await
            .unwrap()
            .is_empty()
    );
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_booking_appears_in_the_team_calendar_and_opens_from_it() {
    let Some((_guard, dash, browser)) = setup_with("dashboard-1280", 1280, false).await else {
        return;
    };
    dash.hours(&dash.owner).await;
    browser.log_in(&dash, OWNER_EMAIL, OWNER_PASSWORD).await;
    let path = format!("/dashboard/calendar?date={}", tomorrow());
    browser.open(&dash, &path).await;
    assert_eq!(browser.heading().await, "Team calendar");
    assert!(
        browser
            .text("[data-testid=zone]")
            .await
            .contains("America/New_York")
    );
    assert_eq!(browser.count("li.booking").await, 0);

    let booked: Value = dash.book("Walk-in Wendy", 10).await;
    browser.open(&dash, &path).await;
    let cell = format!(
        "tr[data-member='{}'] td[data-date='{}'] li.booking",
        dash.owner.id,
        tomorrow()
    );
    let entry = browser.text(&cell).await;
    assert!(entry.contains("Walk-in Wendy"), "{entry}");
    assert!(entry.contains("10:00–10:30 EST"), "{entry}");
    browser.click(&format!("{cell} a")).await;
    browser
        .until("location.pathname.startsWith('/dashboard/bookings/')")
        .await;
    assert_eq!(
        browser.path().await,
        format!("/dashboard/bookings/{}", booked["id"].as_str().unwrap())
    );
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analytics_figures_equal_the_counts_the_api_lists() {
    let Some((_guard, dash, browser)) = setup_with("dashboard-1280", 1280, false).await else {
        return;
    };
    dash.hours(&dash.owner).await;
    let mut ids = Vec::new();
    for (name, hour) in [("Ann", 9), ("Ben", 10), ("Cy", 11), ("Di", 14)] {
        ids.push(
            dash.book(name, hour).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let (status, body) = dash
        .call(
            reqwest::Method::POST,
            &format!("/api/calendar/bookings/{}/cancel", ids[1]),
            Some(json!({"reason": "Sick"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    browser.log_in(&dash, OWNER_EMAIL, OWNER_PASSWORD).await;
    let day = tomorrow();
    browser
        .open(&dash, &format!("/dashboard/analytics?from={day}&to={day}"))
        .await;
    let start = day.in_tz("America/New_York").unwrap().timestamp();
    let end = day
        .tomorrow()
        .unwrap()
        .in_tz("America/New_York")
        .unwrap()
        .timestamp();
    let range = format!("start={start}&end={end}");
    let figure = async |name: &str| browser.text(&format!("[data-figure={name}]")).await;
    assert_eq!(
        figure("total").await,
        api_count(&dash, &range).await.to_string()
    );
    assert_eq!(
        figure("confirmed").await,
        api_count(&dash, &format!("{range}&status=confirmed"))
            .await
            .to_string()
    );
    assert_eq!(
        figure("cancelled").await,
        api_count(&dash, &format!("{range}&status=cancelled"))
            .await
            .to_string()
    );
    assert_eq!(figure("cancellation-rate").await, "25.0%");
    let owner_row = browser
        .text(&format!(
            "tr[data-member='{}'] [data-figure=confirmed]",
            dash.owner.id
        ))
        .await;
    assert_eq!(owner_row, "3");
    browser.check_page().await;
    browser.shot("analytics").await;
    browser.finish().await;
}

/// Every page this file adds, at both widths, checked for labels and width, photographed.
async fn photograph_every_page(width: u32, prefix: &'static str) {
    let Some((_guard, dash, browser)) = setup_with(prefix, width, false).await else {
        return;
    };
    dash.hours(&dash.owner).await;
    dash.book("Photo Patient", 10).await;
    dash.book("Second Patient", 13).await;
    browser.log_in(&dash, OWNER_EMAIL, OWNER_PASSWORD).await;
    let day = tomorrow();
    let pages = [
        (
            format!("/dashboard/calendar?date={day}"),
            "team-calendar",
            "Team calendar",
        ),
        (
            format!("/dashboard/calendar?date={day}&view=day"),
            "team-calendar-day",
            "Team calendar",
        ),
        (
            format!("/dashboard/analytics?from={day}&to={day}"),
            "analytics",
            "Analytics",
        ),
        ("/dashboard/team".to_string(), "team", "Team"),
        (
            format!("/dashboard/team?invited={}", dash.member.id),
            "team-invitation",
            "Team",
        ),
        ("/dashboard/calendars".to_string(), "calendars", "Calendars"),
    ];
    let mut link = Value::Null;
    for (path, name, heading) in pages {
        browser.open(&dash, &path).await;
        assert_eq!(browser.heading().await, heading, "{path}");
        browser.check_page().await;
        browser.shot(name).await;
        if name == "team-invitation" {
            link = browser
                .js("return document.getElementById('invite-link').value")
                .await;
        }
    }
    // The invited person's page, signed out.
    browser.click("#logout").await;
    browser
        .until("location.pathname === '/dashboard/login'")
        .await;
    browser.c().goto(link.as_str().unwrap()).await.unwrap();
    browser.until("document.readyState === 'complete'").await;
    assert_eq!(browser.heading().await, "Set your password");
    browser.check_page().await;
    browser.shot("invitation").await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_new_page_is_photographed_at_1280_pixels() {
    photograph_every_page(1280, "dashboard-1280").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_new_page_is_photographed_at_390_pixels() {
    photograph_every_page(390, "dashboard-390").await;
}
